"""A cluster process waits for the lower processes on its host to listen before it joins, so the cluster
layer never sleeps its one-second retry (flows/cluster_join.py). Only loopback sockets are opened."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from lifeline.flows.cluster_join import listening_ports, wait_for_lower_processes

TABLE = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0835 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 1
   2: 0100007F:0836 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 1003 1
   3: 0100007F:0837 0100007F:0835 06 00000000:00000000 03:00000F2C 00000000     0        0 0 3
"""


def test_only_listening_sockets_count() -> None:
    # 0x0835 = 2101 and 0x1F90 = 8080 listen; 2102 is an established connection, 2103 is in TIME_WAIT
    assert listening_ports(TABLE) == {2101, 8080}


@contextmanager
def _listener(delay_s: float = 0.0) -> Iterator[int]:
    """A loopback port that starts listening after ``delay_s`` (bound at once, so the port is known)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    timer = threading.Timer(delay_s, sock.listen)
    timer.start()
    try:
        yield sock.getsockname()[1]
    finally:
        timer.cancel()
        sock.close()


def test_process_one_waits_until_process_zero_listens() -> None:
    with _listener(delay_s=0.3) as port:
        started = time.monotonic()
        assert wait_for_lower_processes(1, [f"127.0.0.1:{port}", "127.0.0.1:1"], timeout_s=5.0)
        waited = time.monotonic() - started
    assert 0.25 <= waited < 2.0, waited


def test_a_process_that_never_listens_ends_the_wait_at_the_timeout() -> None:
    with _listener(delay_s=60.0) as port:  # bound, never listening within the test
        started = time.monotonic()
        assert not wait_for_lower_processes(1, [f"127.0.0.1:{port}", "127.0.0.1:1"], timeout_s=0.3)
        assert 0.25 <= time.monotonic() - started < 2.0


def test_nothing_to_wait_for() -> None:
    never = lambda: set()  # noqa: E731 - the kernel table of a host where nothing listens
    # process 0 connects to nobody; other hosts' addresses cannot be seen from here
    assert wait_for_lower_processes(0, ["127.0.0.1:1", "127.0.0.1:2"], timeout_s=0.0, read_listening=never)
    assert wait_for_lower_processes(1, ["10.0.0.7:2101", "127.0.0.1:2"], timeout_s=0.0, read_listening=never)


def test_without_the_kernel_table_the_cluster_retry_takes_over_at_once() -> None:
    started = time.monotonic()
    assert not wait_for_lower_processes(2, ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"], timeout_s=5.0,
                                        read_listening=lambda: None)  # fmt: skip
    assert time.monotonic() - started < 0.5
