"""Which addresses a URL may be fetched from: the server-side request forgery guard.

Feeds and pasted URLs are third-party content, so before connecting (and again for every redirect hop) the
host is resolved once and every address it resolves to is checked; the fetch then connects to that checked
address, so a name cannot resolve somewhere else the second time. Loopback, private, link-local (the cloud
metadata address 169.254.169.254), multicast, reserved and unspecified addresses are refused, and so is any
scheme other than http(s), unless ``ingest.allow_private_hosts`` is on (or the exact ``host:port`` is in
``ingest.allowed_hosts``).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from newsbot.settings import IngestSettings

SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
_RULES = (  # the most specific name first: Python counts link-local, reserved and 0.0.0.0 as private too
    ("is_loopback", "loopback"),
    ("is_link_local", "link-local"),
    ("is_multicast", "multicast"),
    ("is_unspecified", "unspecified"),
    ("is_reserved", "reserved"),
    ("is_private", "private"),
)


class RefusedURL(Exception):
    """A URL newsbot must not fetch; the message names the URL and the rule."""


class UnresolvedHost(Exception):
    """A URL's host has no address."""


@dataclass(frozen=True)
class Target:
    """A checked URL: its scheme, host and port, and the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str

    @property
    def host_header(self) -> str:
        return self.host if self.port == DEFAULT_PORTS[self.scheme] else f"{self.host}:{self.port}"


def check_url(url: str, config: IngestSettings) -> Target:
    """Resolve ``url``'s host and check the scheme and every address; raises RefusedURL naming the rule."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise RefusedURL(f"refused {url}: scheme {scheme or '(none)'!r} is not http or https")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise RefusedURL(f"refused {url}: no host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise RefusedURL(f"refused {url}: malformed port") from None
    addresses = _resolve(url, host, port)
    if not config.allow_private_hosts and f"{host}:{port}" not in config.allowed_hosts:
        for address in addresses:
            rule = forbidden_rule(address)
            if rule is not None:
                named = host if host == address else f"{host} ({address})"
                raise RefusedURL(
                    f"refused {url}: {named} is a {rule} address (set ingest.allow_private_hosts to fetch from "
                    "a private network)"
                )
    return Target(url=url, scheme=scheme, host=host, port=port, address=addresses[0])


def forbidden_rule(address: str) -> str | None:
    """The rule an IP address breaks (``loopback``, ``private``, ``link-local`` ...), or None when public."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for attribute, rule in _RULES:
        if getattr(ip, attribute):
            return rule
    return None if ip.is_global else "non-global"


def _resolve(url: str, host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvedHost(f"unreachable: cannot resolve {host} ({exc})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnresolvedHost(f"unreachable: {host} resolves to no address")
    return addresses
