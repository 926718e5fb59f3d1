"""Where webhooks may post: public addresses only, checked at registration and again, with a
fresh DNS lookup, right before every delivery, so nobody can make the server call inside its own
network (blind SSRF).

A URL passes when it is http or https, carries no credentials, writes its host as a name or a
plain address (no decimal, octal or hex IPv4 spellings such as `2130706433` or `0x7f.1`), and
every address the host resolves to is publicly routable, unless the deployment allow-lists the
host name or the address's network (`DESHI_WEBHOOK_ALLOW_HOSTS`). The check returns a
`PinnedTarget`: the URL rewritten to the very address that was checked, with the original `Host`
header and TLS server name, so a name re-pointed between the check and the connection cannot
send the request anywhere else.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from deshi.settings import Settings

__all__ = [
    "IPAddress",
    "OutboundPolicy",
    "PinnedTarget",
    "RefusedDestinationError",
    "Resolver",
    "UnresolvedHostError",
    "blocked_reason",
    "check_destination",
    "check_url_form",
    "outbound_client",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], Sequence[str]]
"""A host name → the IP addresses it resolves to, as text; raises OSError when it cannot."""

SCHEMES = frozenset({"http", "https"})
TIMEOUT_SECONDS = 10.0
ALLOW_SETTING = "DESHI_WEBHOOK_ALLOW_HOSTS"

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")  # shared address space: not `is_private`
# IANA special-purpose blocks, listed as well because `ipaddress`'s flags differ between Python
# releases (3.11.7 calls 192.0.0.192, Oracle Cloud's metadata service, global)
_SPECIAL_PURPOSE = tuple(
    ipaddress.ip_network(block)
    for block in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
        "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/128", "::1/128", "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7",
        "fe80::/10", "fec0::/10", "ff00::/8",
    )
)  # fmt: skip
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
# WHATWG URL parsing reads a host whose last label is a number as IPv4 (`127.1`, `0x7f.0.0.1`)
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")


class RefusedDestinationError(ValueError):
    """A webhook URL deshi will not post to; the message says why (a ValueError, so pydantic
    validators report it as a 422 on the field)."""


class UnresolvedHostError(Exception):
    """The host name did not resolve (maybe for now: a delivery retries)."""


def system_resolver(host: str) -> list[str]:
    """The addresses the operating system resolves `host` to, in its order of preference."""
    answers = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in answers))


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """The allow-list of internal destinations and the resolver the checks use (tests inject
    one: no DNS in tests)."""

    allow_hosts: frozenset[str] = frozenset()
    allow_networks: tuple[IPNetwork, ...] = ()
    resolver: Resolver = system_resolver

    @classmethod
    def from_entries(
        cls, entries: Iterable[str], *, resolver: Resolver = system_resolver
    ) -> OutboundPolicy:
        """A policy allowing `entries`: host names (exact match) and IP addresses or networks."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                hosts.add(entry.strip().lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks), resolver)

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundPolicy:
        """The policy of `settings.webhook_allow_hosts`, resolving with the system's DNS."""
        return cls.from_entries(settings.webhook_allow_hosts)

    def allows_address(self, address: IPAddress) -> bool:
        """Whether the allow-list names a network holding `address`."""
        return any(address in network for network in self.allow_networks)


@dataclass(frozen=True, slots=True)
class PinnedTarget:
    """A checked URL: `url` connects to the checked address; `host_header` and `sni_hostname`
    keep the request addressed, and its TLS certificate verified, as the original URL."""

    url: httpx.URL
    host_header: str
    sni_hostname: str | None

    @property
    def extensions(self) -> dict[str, Any]:
        """httpx request extensions: the TLS server name (and certificate name) to use."""
        return {} if self.sni_hostname is None else {"sni_hostname": self.sni_hostname}


def check_url_form(url: str) -> httpx.URL:
    """The parsed URL if its form is acceptable (http/https, a host, no credentials, no odd
    numeric IPv4 spelling); RefusedDestinationError otherwise. Needs no DNS."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, UnicodeError) as exc:
        raise RefusedDestinationError(f"not a valid URL ({exc})") from None
    if parsed.scheme not in SCHEMES:
        raise RefusedDestinationError(f"scheme {parsed.scheme or '(none)'!r}: only http and https")
    if parsed.userinfo:
        raise RefusedDestinationError(
            "credentials in the URL (user:password@) are refused; receivers authenticate "
            "deliveries by their X-Deshi-Signature"
        )
    if not parsed.host:
        raise RefusedDestinationError("the URL names no host")
    if _odd_numeric_host(parsed.host):
        raise RefusedDestinationError(
            f"host {parsed.host!r} reads as an IPv4 address: write it as four decimal numbers "
            "(a.b.c.d) or use a host name"
        )
    return parsed


def check_destination(url: str, policy: OutboundPolicy) -> PinnedTarget:
    """Check `url`'s form and every address its host resolves to now; the target pinned to the
    first of them. RefusedDestinationError when deshi may not post there, UnresolvedHostError
    when the name does not resolve."""
    parsed = check_url_form(url)
    host = parsed.raw_host.decode("ascii")  # IDNA-encoded, as DNS and TLS see it
    literal = _ip_literal(host)
    addresses = [literal] if literal is not None else _resolve(host, policy.resolver)
    if host.rstrip(".") not in policy.allow_hosts:
        for address in addresses:
            reason = blocked_reason(address)
            if reason is not None and not policy.allows_address(address):
                shown = host if literal is not None else f"{host} resolves to {address}, which"
                raise RefusedDestinationError(
                    f"{shown} is a {reason} address; webhooks post only to public addresses "
                    f"(an internal receiver must be listed in {ALLOW_SETTING})"
                )
    return PinnedTarget(
        url=parsed.copy_with(host=str(addresses[0])),
        host_header=parsed.netloc.decode("ascii"),
        sni_hostname=None if literal is not None else host,
    )


def blocked_reason(address: IPAddress) -> str | None:
    """Why `address` is no public destination (loopback, private, …); None when it is one.

    IPv6 forms that carry an IPv4 address (mapped, 6to4, Teredo, NAT64) are judged by the IPv4
    address they lead to; IPv4-compatible ones (deprecated) are refused."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _IPV4_COMPATIBLE and int(address) > 1:
            return "IPv4-compatible IPv6"
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return blocked_reason(embedded)
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local (cloud metadata)"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "shared (CGNAT)"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (any(address in block for block in _SPECIAL_PURPOSE), "special-purpose"),
        (not address.is_global, "non-public"),
    )
    return next((reason for failed, reason in checks if failed), None)


def outbound_client(*, timeout: float = TIMEOUT_SECONDS) -> httpx.Client:
    """The HTTP client for deliveries: no redirects, no proxy from the environment (the
    connection must go to the pinned address), and no kept-alive connections (a TLS connection
    verified for one name must not carry a request for another name at the same address)."""
    return httpx.Client(
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def _odd_numeric_host(host: str) -> bool:
    """A host that URL parsers read as IPv4 but that is not plain dotted-quad decimal."""
    if ":" in host:
        return False  # IPv6: judged by its address
    last = host.rstrip(".").rsplit(".", 1)[-1].lower()
    if not _NUMERIC_LABEL.fullmatch(last):
        return False
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return True
    return False


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _resolve(host: str, resolver: Resolver) -> list[IPAddress]:
    try:
        answers = resolver(host)
    except (OSError, UnicodeError) as exc:
        raise UnresolvedHostError(f"{host} does not resolve ({exc})") from None
    try:
        addresses = [ipaddress.ip_address(answer) for answer in answers]
    except ValueError as exc:
        raise RefusedDestinationError(f"{host} resolves to something unusable ({exc})") from None
    if not addresses:
        raise UnresolvedHostError(f"{host} resolves to no address")
    return addresses


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, 6to4, Teredo or NAT64 address leads to."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
