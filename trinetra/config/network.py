"""Which hosts a camera source or an alert webhook may point at (SSRF protection).

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

Cloud metadata and platform services (`METADATA_NETWORKS`: 169.254.169.254, the ECS
credentials endpoint, AWS's IPv6 fd00:ec2::254, Alibaba's 100.100.100.200, Azure's
WireServer, ...) are refused by every policy whatever its allowlist says, even an
explicit link-local entry: credentials live behind them. An IPv6 address that embeds an
IPv4 one (NAT64 64:ff9b::/96, 6to4 2002::/16) is also judged by the address it embeds,
so a refused IPv4 cannot be reached through a translator.

Webhooks (`WEBHOOK_POLICY`, `webhook_policy`): alert receivers are often SaaS endpoints on
the internet as well as on-premise services, so their default allowlist is every
address (loopback and private ranges included); link-local, metadata and "this network"
(0.0.0.0/8) addresses are refused. Their hosts are checked twice: by name and literal
address when the configuration is validated (`check_url_host`; no DNS there, so a
resolver hiccup cannot invalidate a whole store configuration), and resolved and checked
before every connection, which then goes to the checked address (rebinding-safe; see
analytics/alerts/webhooks.py).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "DEFAULT_ALLOWED_NETWORKS",
    "DEFAULT_POLICY",
    "DEFAULT_WEBHOOK_ALLOWED_NETWORKS",
    "METADATA_HOSTNAMES",
    "METADATA_NETWORKS",
    "WEBHOOK_DENIED_NETWORKS",
    "WEBHOOK_POLICY",
    "AddressNotAllowedError",
    "IPAddress",
    "IPNetwork",
    "NetworkPolicy",
    "SourceNotAllowedError",
    "parse_networks",
    "webhook_policy",
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

# Instance-metadata and platform endpoints of the clouds a store node or gateway may run
# in. Most are link-local (refused anyway), but listing them keeps an explicit link-local
# allowlist entry from reaching them; the others sit in ranges an allowlist may contain.
METADATA_NETWORKS: tuple[str, ...] = (
    "169.254.169.254/32",  # AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack, Hetzner IMDS
    "169.254.170.2/32",  # AWS ECS task metadata and credentials
    "169.254.0.23/32",  # Tencent Cloud metadata
    "fd00:ec2::254/128",  # AWS IMDS over IPv6: inside fc00::/7, which the camera default allows
    "100.100.100.200/32",  # Alibaba Cloud metadata (inside 100.64.0.0/10, shared address space)
    "168.63.129.16/32",  # Azure WireServer (platform agent, DNS): a public address
    "192.0.0.192/32",  # Oracle Cloud Classic metadata
)

# Names of metadata services that resolve only inside their cloud: refused by name, so a
# configuration naming one is an error even where it does not resolve (a test bench).
METADATA_HOSTNAMES: frozenset[str] = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.com",
        "metadata.tencentyun.com",
        "instance-data",
        "instance-data.ec2.internal",
    }
)

DEFAULT_WEBHOOK_ALLOWED_NETWORKS: tuple[str, ...] = ("0.0.0.0/0", "::/0")
# "This network": Linux connects 0.0.0.0/8 to the local host, so it is loopback in disguise.
WEBHOOK_DENIED_NETWORKS: tuple[str, ...] = (*METADATA_NETWORKS, "0.0.0.0/8")

# Well-known IPv6 prefixes that carry an IPv4 address a translator will connect to.
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")


class SourceNotAllowedError(ValueError):
    """A host is outside the allowlist, refused, or could not be resolved."""


# The same error, under the name that reads right for webhooks.
AddressNotAllowedError = SourceNotAllowedError


def parse_networks(cidrs: Iterable[str], *, role: str = "source") -> tuple[IPNetwork, ...]:
    """Parse CIDR strings; host bits must be zero (10.0.0.1/8 is almost always a typo).
    `role` names the list in errors ("invalid network ... in the source allowlist")."""
    networks: list[IPNetwork] = []
    for text in cidrs:
        try:
            networks.append(ipaddress.ip_network(text.strip(), strict=True))
        except ValueError as exc:
            raise ValueError(f"invalid network {text!r} in the {role} allowlist: {exc}") from exc
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


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address a NAT64 or 6to4 address would reach, if it is one."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


@dataclass(frozen=True)
class NetworkPolicy:
    """An allowlist of networks for source or webhook hosts (module docs for the rules).

    `denied` is refused whatever `allowed` says; `role` and `setting` only word the
    errors ("source host ... outside the source allowlist; set TRINETRA_SOURCE_ALLOWLIST").
    """

    allowed: tuple[IPNetwork, ...]
    resolver: Resolver = field(default=_system_resolver, compare=False, repr=False)
    denied: tuple[IPNetwork, ...] = field(default_factory=lambda: parse_networks(METADATA_NETWORKS))
    role: str = "source"
    setting: str = "TRINETRA_SOURCE_ALLOWLIST"

    @classmethod
    def from_cidrs(
        cls,
        cidrs: Iterable[str] = DEFAULT_ALLOWED_NETWORKS,
        resolver: Resolver | None = None,
        *,
        denied: Iterable[str] = METADATA_NETWORKS,
        role: str = "source",
        setting: str = "TRINETRA_SOURCE_ALLOWLIST",
    ) -> NetworkPolicy:
        return cls(
            parse_networks(cidrs, role=role),
            resolver if resolver is not None else _system_resolver,
            parse_networks(denied, role=role),
            role,
            setting,
        )

    def _refused_by(self, address: IPAddress) -> IPNetwork | None:
        """The denied network `address` is in, if any."""
        for net in self.denied:
            if address.version == net.version and address in net:
                return net
        return None

    def _refused(self, address: IPAddress) -> bool:
        return self._refused_by(address) is not None

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
        role = self.role
        if ip.is_unspecified or ip.is_multicast:
            raise SourceNotAllowedError(f"{role} host {shown} is not a unicast address")
        embedded = _embedded_ipv4(ip)
        if embedded is not None and (embedded.is_link_local or self._refused(embedded)):
            raise SourceNotAllowedError(
                f"{role} host {shown} embeds {embedded}, a link-local or cloud metadata "
                "address; refused"
            )
        if ip.is_link_local and not self._refused(ip):
            if self._explicit_link_local(ip):
                return
            raise SourceNotAllowedError(
                f"{role} host {shown} is link-local (e.g. a cloud metadata service); "
                f"refused unless a link-local network is listed in the {role} allowlist"
            )
        refused_by = self._refused_by(ip)
        if refused_by is not None:
            where = "link-local, " if ip.is_link_local else ""
            raise SourceNotAllowedError(
                f"{role} host {shown} is {where}in the refused network {refused_by} (cloud "
                "metadata, platform services and 'this network' addresses are never "
                "allowed, whatever the allowlist says)"
            )
        if not any(ip.version == net.version and ip in net for net in self.allowed):
            allowed = ", ".join(str(net) for net in self.allowed) or "nothing"
            raise SourceNotAllowedError(
                f"{role} host {shown} is outside the {role} allowlist ({allowed}); "
                f"set {self.setting} to allow it"
            )

    def check_name(self, host: str) -> None:
        """Refuse a host *name* that is a known metadata service (no DNS involved); IP
        literals are checked as addresses. For checks that must not block or fail on
        DNS (configuration validation); connections still go through `check_host`."""
        literal = host.strip("[]").split("%", 1)[0]
        try:
            address = ipaddress.ip_address(literal)
        except ValueError:
            name = host.rstrip(".").lower()
            if name in METADATA_HOSTNAMES:
                raise SourceNotAllowedError(
                    f"{self.role} host {host!r} is a cloud metadata service; refused"
                ) from None
            return
        self.check_address(address, host=host)

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
            raise SourceNotAllowedError(
                f"{self.role} host {host!r} does not resolve: {exc}"
            ) from exc
        addresses = {ipaddress.ip_address(answer.split("%", 1)[0]) for answer in answers}
        if not addresses:
            raise SourceNotAllowedError(f"{self.role} host {host!r} resolved to no address")
        return tuple(sorted(addresses, key=lambda a: (a.version, int(a))))

    def check_host(self, host: str, port: int | None = None) -> tuple[IPAddress, ...]:
        """Resolve `host` and check every address; returns the addresses on success."""
        addresses = self.resolve(host, port)
        for address in addresses:
            self.check_address(address, host=host)
        return addresses


DEFAULT_POLICY = NetworkPolicy.from_cidrs()


def webhook_policy(
    cidrs: Iterable[str] = DEFAULT_WEBHOOK_ALLOWED_NETWORKS, resolver: Resolver | None = None
) -> NetworkPolicy:
    """The policy for alert webhook hosts: `cidrs` allowed (default: every address),
    link-local, metadata and 0.0.0.0/8 refused (module docs)."""
    return NetworkPolicy.from_cidrs(
        cidrs,
        resolver,
        denied=WEBHOOK_DENIED_NETWORKS,
        role="webhook",
        setting="TRINETRA_ALERTS__WEBHOOK_ALLOWLIST",
    )


WEBHOOK_POLICY = webhook_policy()
