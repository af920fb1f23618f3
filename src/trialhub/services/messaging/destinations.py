"""Which addresses a webhook may reach: one predicate for the door and for the send (SSRF).

A host is read the way the resolver will read it: `socket.inet_aton` accepts `127.1`,
`2852039166`, `0xa9fea9fe` and octal parts, so a "host name" made of such numbers is an IPv4
address in disguise. IPv6 forms that carry an IPv4 address inside (IPv4-mapped,
IPv4-compatible `::127.0.0.1`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by the
IPv4 address they carry, because that is where the packets end up."""

from __future__ import annotations

import ipaddress
import re
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# WHATWG URL standard: a host whose last label is a number is an IPv4 address or invalid
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix


_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215 local-use prefix


_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated, but stacks still route it


class NotAnAddress(ValueError):
    """The host looks numeric but no resolver would read it as an IPv4 address."""


def literal_address(host: str) -> IPAddress | None:
    """The IP address a host names literally, in any notation a resolver accepts, or None
    for a name that DNS will resolve. Raises NotAnAddress for a numeric host that is not an
    address at all (`999.1.1.1`, `08`)."""
    bare = host.strip("[]").lower()
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    bare = bare.removesuffix(".")
    if not _NUMERIC_LABEL.fullmatch(bare.rsplit(".", 1)[-1]):
        return None
    if not re.fullmatch(r"[0-9a-fx.]+", bare):  # inet_aton would accept trailing junk
        raise NotAnAddress(host)
    try:
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        raise NotAnAddress(host) from None


def effective_address(ip: IPAddress) -> IPAddress:
    """The address packets really go to: the IPv4 address an IPv6 form carries, if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def address_refused(ip: IPAddress, *, allow_loopback: bool) -> bool:
    """True unless the address is public unicast (or loopback, where that is allowed)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip in _NAT64_LOCAL:
        return True  # translated by a local NAT64 to an address we cannot see
    target = effective_address(ip)
    if target.is_loopback:
        return not allow_loopback
    return (
        not target.is_global
        or target.is_multicast
        or target.is_reserved
        or target.is_unspecified
        or target.is_link_local
        or target.is_private
    )
