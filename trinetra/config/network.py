"""Which hosts a camera source may point at (SSRF protection).

Camera URLs come from configuration that an operator (or an attacker with access to the
config) controls, and the orchestrator connects to them from inside the store network.
Without a check, `http://169.254.169.254/...` (cloud metadata) or an internal admin
service would be fetched by the MJPEG reader. So every network source's host must resolve
only to addresses inside an allowlist of networks: by default loopback and the private
ranges cameras live on.

Rules, in order, for every address a host resolves to (all must pass):
- unspecified (0.0.0.0, ::) and multicast addresses are never a camera: refused;
- link-local (169.254/16, fe80::/10, where cloud metadata services live) is refused unless
  the allowlist names a link-local network explicitly: a broad entry such as 0.0.0.0/0
  does not count;
- otherwise the address must be inside one of the allowed networks.

The check runs when a config is validated. DNS can change afterwards (rebinding), so this
narrows the attack surface rather than closing it; production should also restrict the
orchestrator's egress at the network level.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_ALLOWED_NETWORKS",
    "DEFAULT_POLICY",
    "IPAddress",
    "IPNetwork",
    "NetworkPolicy",
    "SourceNotAllowedError",
    "parse_networks",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int | None], list[str]]

DEFAULT_ALLOWED_NETWORKS: tuple[str, ...] = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",  # IPv6 unique-local, the IPv6 counterpart of the private ranges
)

_LINK_LOCAL: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
)


class SourceNotAllowedError(ValueError):
    """A source host is outside the allowlist, or could not be resolved."""


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse CIDR strings; host bits must be zero (10.0.0.1/8 is almost always a typo)."""
    networks: list[IPNetwork] = []
    for text in cidrs:
        try:
            networks.append(ipaddress.ip_network(text.strip(), strict=True))
        except ValueError as exc:
            raise ValueError(f"invalid network {text!r} in the source allowlist: {exc}") from exc
    return tuple(networks)


def _system_resolver(host: str, port: int | None) -> list[str]:
    # Looked up through the module at call time so tests can monkeypatch
    # socket.getaddrinfo to simulate DNS answers.
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _normalize(address: IPAddress) -> IPAddress:
    # ::ffff:169.254.169.254 must be judged as the IPv4 address it carries.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class NetworkPolicy:
    """An allowlist of networks for camera source hosts (module docs for the rules)."""

    allowed: tuple[IPNetwork, ...]
    resolver: Resolver = field(default=_system_resolver, compare=False, repr=False)

    @classmethod
    def from_cidrs(
        cls, cidrs: Iterable[str] = DEFAULT_ALLOWED_NETWORKS, resolver: Resolver | None = None
    ) -> NetworkPolicy:
        return cls(parse_networks(cidrs), resolver if resolver is not None else _system_resolver)

    def _explicit_link_local(self, address: IPAddress) -> bool:
        return any(
            net.version == address.version
            and any(
                ll.version == net.version and net.subnet_of(ll)  # type: ignore[arg-type]
                for ll in _LINK_LOCAL
            )
            and address in net
            for net in self.allowed
        )

    def check_address(self, address: IPAddress | str, *, host: str | None = None) -> None:
        """Raise SourceNotAllowedError unless `address` may be connected to."""
        ip = _normalize(ipaddress.ip_address(address) if isinstance(address, str) else address)
        shown = f"{host!r} ({ip})" if host is not None and host != str(ip) else str(ip)
        if ip.is_unspecified or ip.is_multicast:
            raise SourceNotAllowedError(f"source host {shown} is not a unicast address")
        if ip.is_link_local:
            if self._explicit_link_local(ip):
                return
            raise SourceNotAllowedError(
                f"source host {shown} is link-local (e.g. a cloud metadata service); "
                "refused unless a link-local network is listed in the source allowlist"
            )
        if not any(ip.version == net.version and ip in net for net in self.allowed):
            allowed = ", ".join(str(net) for net in self.allowed) or "nothing"
            raise SourceNotAllowedError(
                f"source host {shown} is outside the source allowlist ({allowed}); "
                "set TRINETRA_SOURCE_ALLOWLIST to allow it"
            )

    def resolve(self, host: str, port: int | None = None) -> tuple[IPAddress, ...]:
        """All addresses `host` resolves to (an IP literal resolves to itself)."""
        literal = host.strip("[]").split("%", 1)[0]
        try:
            return (ipaddress.ip_address(literal),)
        except ValueError:
            pass
        try:
            answers = self.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise SourceNotAllowedError(f"source host {host!r} does not resolve: {exc}") from exc
        addresses = {ipaddress.ip_address(answer.split("%", 1)[0]) for answer in answers}
        if not addresses:
            raise SourceNotAllowedError(f"source host {host!r} resolved to no address")
        return tuple(sorted(addresses, key=lambda a: (a.version, int(a))))

    def check_host(self, host: str, port: int | None = None) -> tuple[IPAddress, ...]:
        """Resolve `host` and check every address; returns the addresses on success."""
        addresses = self.resolve(host, port)
        for address in addresses:
            self.check_address(address, host=host)
        return addresses


DEFAULT_POLICY = NetworkPolicy.from_cidrs()
