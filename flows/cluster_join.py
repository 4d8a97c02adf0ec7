"""Join a Bytewax cluster without its one-second retry.

Bytewax's cluster layer (timely dataflow) connects process ``i`` to every process ``j < i``. When ``j`` is not
listening yet, it prints ``worker i: error connecting to worker j … retrying`` and sleeps a whole second
before it tries again. The processes of ``lifeline run -p N`` start together. So the higher ones often
finish loading first and lose that second, at every start and at every supervised restart: an empty
``-p 2`` run took 2.4–2.5 s instead of 1.5 s in 5 of 6 tries.

:func:`wait_for_lower_processes` waits, just before the cluster starts, until each lower process on this host
is listening. It reads the kernel's table of listening TCP sockets (``/proc/net/tcp`` and ``tcp6``), so
it never opens a connection that the cluster layer would take for a peer. Addresses on other hosts, or a
system without that table, are not waited for: the cluster layer's own retry still covers them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["listening_ports", "wait_for_lower_processes"]

_TCP_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
_LISTEN = "0A"  # the kernel's state code of a listening socket
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "0.0.0.0", "::1"})


def listening_ports(table_text: str) -> set[int]:
    """The local ports of the listening sockets in one kernel TCP table (the text of ``/proc/net/tcp``).

    >>> listening_ports(
    ...     "  sl  local_address rem_address   st tx_queue rx_queue\\n"
    ...     "   0: 0100007F:0835 00000000:0000 0A 00000000:00000000\\n"
    ...     "   1: 0100007F:0836 0100007F:9C40 01 00000000:00000000\\n"
    ... )
    {2101}
    """
    ports: set[int] = set()
    for line in table_text.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == _LISTEN:
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _read_listening() -> set[int] | None:
    """Listening ports on this host; ``None`` where the kernel tables cannot be read."""
    ports: set[int] = set()
    readable = False
    for table in _TCP_TABLES:
        try:
            ports |= listening_ports(table.read_text())
            readable = True
        except OSError:
            continue
    return ports if readable else None


def _local_port(address: str) -> int | None:
    host, _, port = address.rpartition(":")
    if host.strip("[]") not in _LOCAL_HOSTS or not port.isdigit():
        return None
    return int(port)


def wait_for_lower_processes(
    process_id: int,
    addresses: Iterable[str],
    *,
    timeout_s: float = 30.0,
    poll_s: float = 0.01,
    read_listening: Callable[[], set[int] | None] = _read_listening,
) -> bool:
    """Wait until every process with a lower index than ``process_id`` whose address is on this host
    listens, polling every ``poll_s`` for at most ``timeout_s``. Returns whether they all listen (``True``
    at once when there is nothing to wait for); after a timeout the cluster layer's own retry takes over."""
    ports = {port for address in list(addresses)[:process_id] if (port := _local_port(address)) is not None}
    if not ports:
        return True
    deadline = time.monotonic() + timeout_s
    while True:
        listening = read_listening()
        if listening is None:
            return False
        if ports <= listening:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll_s)
