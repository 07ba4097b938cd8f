"""Who is asking: the client's address, for login throttling and the per-client rate limit.

The socket's peer is the client unless the peer is one of `KUNSKAP_TRUSTED_PROXIES`; only then
is `KUNSKAP_CLIENT_IP_HEADER` (X-Forwarded-For by default) read, from the right, skipping our
own proxies: the first address that is not one of them is the client. A header sent by anyone
else is ignored, so rotating X-Forwarded-For does not escape a throttle.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from ..config import Settings

DEFAULT_CLIENT_IP_HEADER = "X-Forwarded-For"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _address(value: str) -> Address | None:
    """A bare IP, `1.2.3.4:port` or `[::1]:port`; None for anything else."""
    value = value.strip()
    if value.startswith("[") and "]" in value:
        value = value[1:value.index("]")]
    elif value.count(":") == 1:
        value = value.split(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:   # ::ffff:1.2.3.4 on a dual stack
        return address.ipv4_mapped
    return address


def _trusted(address: Address | None, networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in n for n in networks)


def client_address(scope, settings: Settings) -> str:
    """The client's address for an ASGI scope (a Request's `.scope` too)."""
    client = scope.get("client")
    peer = client[0] if client else ""
    networks = _networks(tuple(settings.trusted_proxies))
    if not networks or not _trusted(_address(peer), networks):
        return peer
    name = (settings.client_ip_header or DEFAULT_CLIENT_IP_HEADER).lower().encode("latin-1")
    hops = [hop for key, value in scope.get("headers", []) if key == name
            for hop in value.decode("latin-1").split(",") if hop.strip()]
    first = None
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return peer   # a garbled chain: count it against the proxy rather than guess
        if not _trusted(address, networks):
            return str(address)
        first = address
    return str(first) if first is not None else peer


def uvicorn_proxy_options(settings: Settings) -> dict:
    """uvicorn's own proxy handling, in step with client_address: by default uvicorn trusts
    X-Forwarded-For from any loopback peer and rewrites the client address before we see it.
    It is on only for trusted proxies that send X-Forwarded-For (the one header it reads),
    and then it also takes the scheme from X-Forwarded-Proto."""
    header = (settings.client_ip_header or DEFAULT_CLIENT_IP_HEADER).lower()
    enabled = bool(settings.trusted_proxies) and header == DEFAULT_CLIENT_IP_HEADER.lower()
    return {"proxy_headers": enabled, "forwarded_allow_ips": ",".join(settings.trusted_proxies) if enabled else ""}
