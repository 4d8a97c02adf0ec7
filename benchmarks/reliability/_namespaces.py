"""A small private network of Linux network namespaces for the multi-host reliability scenario.

``lan(hosts)`` builds, for the duration of a ``with`` block, a switch (a bridge in its own namespace)
with one cable (a veth pair) to the root namespace and one to each host namespace::

    root namespace  10.213.N.1 ──┐
    host a (netns)  10.213.N.2 ──┼── bridge (its own netns, no address)
    host b (netns)  10.213.N.3 ──┘

Every address lives on an interface made here; the root namespace gets one (where the servers
listen), each host one. ``Lan.cut(host)`` / ``Lan.restore(host)`` set the host's own end of its cable
down / up, as pulling and re-plugging its network cable would. On leaving the block every process
still running in a host namespace is killed and every namespace and cable is deleted, also on failure.
Needs root (CAP_NET_ADMIN) and the ``ip`` command (Debian/Ubuntu package ``iproute2``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from lifeline.exceptions import LifelineError

__all__ = ["Lan", "NamespacesUnavailable", "NetworkSetupError", "lan", "namespaces_refused"]

_SUBNETS = ipaddress.ip_network("10.213.0.0/16")


class NetworkSetupError(LifelineError):
    """An ``ip`` command that builds or tears down the test network failed."""


class NamespacesUnavailable(NetworkSetupError):
    """This machine cannot create network namespaces (no ``ip`` command, or the kernel refuses)."""


@dataclass(frozen=True, slots=True)
class Lan:
    """The built network: the servers' address in the root namespace and each host's namespace and address."""

    root_address: str
    namespaces: dict[str, str]
    addresses: dict[str, str]
    host_links: dict[str, str]

    def cut(self, host: str) -> None:
        """Take ``host``'s end of its cable down: nothing reaches it or leaves it until ``restore``."""
        _ip("-n", self.namespaces[host], "link", "set", "dev", self.host_links[host], "down")

    def restore(self, host: str) -> None:
        """Bring ``host``'s end of its cable up again (its address and route come back with it)."""
        _ip("-n", self.namespaces[host], "link", "set", "dev", self.host_links[host], "up")

    def exec_prefix(self, host: str) -> list[str]:
        """The argv prefix that runs a command inside ``host``'s namespace."""
        return [_ip_command(), "netns", "exec", self.namespaces[host]]


def namespaces_refused() -> str | None:
    """Why this machine cannot run the scenario (``None`` if it can): tried with a throw-away namespace.

    A missing ``ip`` command raises ``NamespacesUnavailable`` instead: that is a set-up fault, not a
    property of the kernel, and must not turn into a silent skip.
    """
    _ip_command()
    probe = f"llns-probe-{uuid.uuid4().hex[:8]}"
    done = subprocess.run([_ip_command(), "netns", "add", probe], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"the kernel refused a network namespace (`ip netns add`): {done.stderr.strip()}"
    subprocess.run([_ip_command(), "netns", "del", probe], capture_output=True, check=False)
    return None


@contextlib.contextmanager
def lan(hosts: Sequence[str]) -> Iterator[Lan]:
    """Build the namespaces, bridge and cables for ``hosts``; tear everything down on exit."""
    tag = f"{os.getpid() % 100_000}{uuid.uuid4().hex[:3]}"
    switch = f"llns-{tag}-sw"
    namespaces = {host: f"llns-{tag}-{host}" for host in hosts}
    subnet = _free_subnet()
    root_link = f"ll{tag}r"
    made: list[str] = []
    try:
        for name in [switch, *namespaces.values()]:
            _ip("netns", "add", name)
            made.append(name)
        _ip("-n", switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", switch, "link", "set", "br0", "up")
        root_address = _cable(switch, None, root_link, "root", subnet, 1)
        addresses = {
            host: _cable(switch, namespaces[host], "eth0", host, subnet, 2 + i) for i, host in enumerate(hosts)
        }
        yield Lan(root_address, namespaces, addresses, dict.fromkeys(hosts, "eth0"))
    finally:
        for name in namespaces.values():
            if name in made:
                _kill_processes_in(name)
        for name in reversed(made):
            subprocess.run([_ip_command(), "netns", "del", name], capture_output=True, check=False)
        subprocess.run([_ip_command(), "link", "del", root_link], capture_output=True, check=False)


def _cable(switch: str, namespace: str | None, link: str, label: str, subnet: ipaddress.IPv4Network, host: int) -> str:
    """A veth pair from ``namespace`` (``None``: the root namespace) to the switch; returns the address."""
    port = f"p-{label}"[:15]
    where = [] if namespace is None else ["-n", namespace]
    _ip(*where, "link", "add", link, "type", "veth", "peer", "name", port, "netns", switch)
    if namespace is not None:
        _ip(*where, "link", "set", "lo", "up")
    address = str(subnet.network_address + host)
    _ip(*where, "addr", "add", f"{address}/{subnet.prefixlen}", "dev", link)
    _ip(*where, "link", "set", link, "up")
    _ip("-n", switch, "link", "set", port, "master", "br0")
    _ip("-n", switch, "link", "set", port, "up")
    return address


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 of 10.213.0.0/16 that no interface of the root namespace uses (another run may hold one)."""
    shown = subprocess.run([_ip_command(), "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True)
    used = {ipaddress.ip_interface(word).network for line in shown.stdout.splitlines()
            for word in line.split() if "/" in word and word[0].isdigit()}  # fmt: skip
    start = os.getpid() % 250
    for offset in range(250):
        subnet = list(_SUBNETS.subnets(new_prefix=24))[1 + (start + offset) % 250]
        if not any(subnet.overlaps(other) for other in used):
            return subnet
    raise NetworkSetupError("every 10.213.x.0/24 subnet is in use on this machine")


def _kill_processes_in(namespace: str) -> None:
    """SIGKILL whatever still runs in ``namespace`` (processes this scenario started there)."""
    for _ in range(3):
        listed = subprocess.run(
            [_ip_command(), "netns", "pids", namespace], capture_output=True, text=True, check=False
        )
        pids = [int(p) for p in listed.stdout.split() if p.isdigit()]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def _ip(*args: str) -> None:
    done = subprocess.run([_ip_command(), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise NetworkSetupError(f"`ip {' '.join(args)}` failed: {done.stderr.strip()}")


def _ip_command() -> str:
    found = shutil.which("ip")
    if found is None:
        raise NamespacesUnavailable(
            "the `ip` command is missing: install the iproute2 package (Debian/Ubuntu: apt-get install iproute2)"
        )
    return found
