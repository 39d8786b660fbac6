"""A store site of its own: a network namespace joined to this one by a veth pair, for
cutting the WAN link for real (`ip link set ... down`).

Addresses come from 198.18.0.0/15 (RFC 2544, reserved for benchmarking, never routed):
a random /30 not on this machine yet, the host end here, the store end in the namespace.
Nothing else is routed into the namespace, so its traffic reaches only the host end.
Names are unique per run; `close()` (also at exit) deletes the namespace, which takes the
veth pair with it. Needs root (CAP_NET_ADMIN): without it `create` fails with a message
saying so.
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import random
import secrets
import subprocess
from dataclasses import dataclass, field

__all__ = ["NetnsUnavailableError", "StoreSite"]

_BENCHMARK_NET = ipaddress.ip_network("198.18.0.0/15")


class NetnsUnavailableError(RuntimeError):
    """`ip netns` / veth creation was refused (not root, or no CAP_NET_ADMIN)."""


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")


def _addresses_in_use() -> set[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    output = subprocess.run(
        ["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True
    ).stdout
    nets = set()
    for line in output.splitlines():
        fields = line.split()
        if "inet" in fields:
            nets.add(ipaddress.ip_interface(fields[fields.index("inet") + 1]).network)
    return nets


@dataclass
class StoreSite:
    """One namespace and its link (module docs)."""

    name: str
    host_if: str
    store_if: str
    host_addr: str
    store_addr: str
    _closed: bool = field(default=False, repr=False)

    @classmethod
    def create(cls) -> StoreSite:
        tag = f"{os.getpid() % 0xFFFF:04x}{secrets.token_hex(2)}"
        in_use = _addresses_in_use()
        for _ in range(100):
            index = random.randrange(_BENCHMARK_NET.num_addresses // 4)
            net = ipaddress.ip_network(f"{_BENCHMARK_NET.network_address + 4 * index}/30")
            if not any(net.overlaps(other) for other in in_use):
                break
        else:
            raise RuntimeError("no free /30 in 198.18.0.0/15")
        host, store = (str(a) for a in net.hosts())
        site = cls(f"trinetra-store-{tag}", f"trh{tag}", f"trs{tag}", host, store)
        try:
            _ip("netns", "add", site.name)
        except RuntimeError as exc:
            raise NetnsUnavailableError(
                f"tests/cluster cuts a store's WAN link in a network namespace and needs root "
                f"(CAP_NET_ADMIN) for `ip netns add`: {exc}"
            ) from exc
        atexit.register(site.close)
        try:
            _ip("link", "add", site.host_if, "type", "veth", "peer", "name", site.store_if)
            _ip("link", "set", site.store_if, "netns", site.name)
            _ip("addr", "add", f"{host}/30", "dev", site.host_if)
            _ip("link", "set", site.host_if, "up")
            _ip("-n", site.name, "addr", "add", f"{store}/30", "dev", site.store_if)
            _ip("-n", site.name, "link", "set", site.store_if, "up")
            _ip("-n", site.name, "link", "set", "lo", "up")
        except BaseException:
            site.close()
            raise
        return site

    def cut(self) -> None:
        """Take the link down from the store's end: the store keeps its loopback, the
        host end keeps its address (other local clients still reach it)."""
        _ip("-n", self.name, "link", "set", self.store_if, "down")

    def restore(self) -> None:
        _ip("-n", self.name, "link", "set", self.store_if, "up")

    def exec_prefix(self) -> list[str]:
        """Run a command inside the namespace: `[*site.exec_prefix(), argv...]`."""
        return ["ip", "netns", "exec", self.name]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        # Deleting the namespace destroys the store end, and with it the host end.
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True, timeout=10)
        subprocess.run(["ip", "link", "delete", self.host_if], capture_output=True, timeout=10)
