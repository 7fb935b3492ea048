"""The selection rules of RFC 3263 §4 (with RFC 3403 NAPTR and RFC 2782 SRV ordering), without I/O.

Everything here works on records already fetched: the I/O layer (`_lookup.py`) asks `plan_sip_lookup`
what to query, feeds the answers back through `select_naptr` / `order_srv`, and builds `Route`
objects. The random source of the RFC 2782 weighted choice is a parameter, so tests can seed it.

Rules kept:

* A URI whose host is an IP literal needs no DNS; one with an explicit port needs only A/AAAA.
* The transport is the URI's ``transport`` parameter if present, else UDP (TLS for ``sips:``).
  ``sips:`` allows TLS only; ``sips:...;transport=tcp`` means TLS over TCP; ``sips:...;transport=udp``
  is a contradiction and fails.
* NAPTR records count only with flag ``S`` and a service we know (SIP+D2U, SIP+D2T, SIPS+D2T) whose
  transport is allowed; they are sorted by (order, preference).
* SRV records are sorted by priority; inside one priority a target is drawn at random with
  probability proportional to its weight (zero-weight records get a small chance, RFC 2782).
  A lone SRV record with target ``.`` says the service is not offered.
* Nonsense is skipped, and ``naptr_problem`` / ``srv_problem`` / ``address_problem`` say why in words
  (for the error a failed lookup reports): NAPTR with an unknown service, a flag other than ``S`` or
  replacement ``.``; SRV with target ``.`` or port 0; addresses nobody can send to (unspecified,
  broadcast, multicast, IPv4 class E).
* Routes are ordered by the application's transport preference; within one transport by NAPTR and
  then SRV order.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sipsimple.core.sip.uri import BaseSIPURI

__all__ = [
    "DEFAULT_PORTS",
    "NAPTR_SERVICES",
    "SRV_SERVICES",
    "LookupPlan",
    "NaptrRecord",
    "RandomSource",
    "SelectionError",
    "SrvRecord",
    "address_problem",
    "is_ip_address",
    "naptr_problem",
    "order_srv",
    "plan_sip_lookup",
    "select_naptr",
    "sort_by_transport",
    "srv_problem",
]

DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061}
NAPTR_SERVICES = {"SIP+D2U": "udp", "SIP+D2T": "tcp", "SIPS+D2T": "tls"}
SRV_SERVICES = {"udp": "_sip._udp", "tcp": "_sip._tcp", "tls": "_sips._tcp"}


class SelectionError(Exception):
    """The URI and the supported transports leave nothing to look up (a message for a person)."""


class RandomSource(Protocol):
    """What the weighted SRV choice needs from ``random.Random``."""

    def randint(self, a: int, b: int) -> int: ...


@dataclass(frozen=True, slots=True)
class NaptrRecord:
    order: int
    preference: int
    flags: str
    service: str
    replacement: str


@dataclass(frozen=True, slots=True)
class SrvRecord:
    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True, slots=True)
class LookupPlan:
    """What to do for a SIP URI: ``host`` and the ``transports`` allowed, in preference order.

    ``is_ip``: use the host as it is; ``port`` (not None): A/AAAA of the host on that port only;
    otherwise NAPTR, SRV, then A/AAAA on the default ports. ``tls_name`` is the name a TLS server
    must prove it is (None for an IP literal).
    """

    host: str
    transports: tuple[str, ...]
    port: int | None
    is_ip: bool

    @property
    def tls_name(self) -> str | None:
        return None if self.is_ip else self.host

    @property
    def needs_dns_records(self) -> bool:
        """True when NAPTR/SRV apply (a domain name without an explicit port)."""
        return not self.is_ip and self.port is None


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def address_problem(address: str) -> str | None:
    """Why nobody can send SIP to ``address`` (an IP literal), or None when it is usable."""
    ip = ipaddress.ip_address(address.strip("[]"))
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.version == 4 and ip == ipaddress.IPv4Address("255.255.255.255"):
        return "the broadcast address"
    if ip.version == 4 and ip.is_reserved:
        return "a reserved address (240.0.0.0/4)"
    return None


def _normalised(transports: Iterable[str]) -> tuple[str, ...]:
    result: list[str] = []
    for transport in transports:
        value = transport.lower()
        if value not in DEFAULT_PORTS:
            raise SelectionError(f"unknown transport {transport!r}: use 'udp', 'tcp' or 'tls'")
        if value not in result:
            result.append(value)
    return tuple(result)


def plan_sip_lookup(uri: BaseSIPURI, supported_transports: Iterable[str]) -> LookupPlan:
    """Decide what RFC 3263 §4.1 allows for ``uri`` given the application's transports."""
    supported = _normalised(supported_transports)
    if not supported:
        raise SelectionError("no transport is supported: enable at least one of udp, tcp, tls")
    host, explicit = uri.host, any(name.lower() == "transport" for name in uri.parameters)
    is_ip = is_ip_address(host)
    if uri.secure and explicit and uri.transport not in ("tls",):
        raise SelectionError(f"{uri} is a sips: URI but asks for transport {uri.transport!r}; sips needs TLS")
    if uri.secure or explicit:
        wanted = uri.transport
        if wanted not in supported:
            raise SelectionError(
                f"{uri} needs transport {wanted!r}, which is not among the supported ones "
                f"({', '.join(supported)})"
            )
        transports: tuple[str, ...] = (wanted,)
    elif is_ip or uri.port is not None:
        # RFC 3263 §4.1: no NAPTR for a numeric host or an explicit port; UDP is the default.
        transports = ("udp",) if "udp" in supported else supported[:1]
    else:
        transports = supported
    return LookupPlan(host=host, transports=transports, port=uri.port, is_ip=is_ip)


def naptr_problem(record: NaptrRecord, transports: Sequence[str]) -> str | None:
    """Why ``record`` gives no SRV name for ``transports``, or None when it does."""
    transport = NAPTR_SERVICES.get(record.service.upper())
    if transport is None:
        return f"unknown service {record.service!r}"
    if record.flags.upper() != "S":
        return f"flags {record.flags!r} instead of 'S'"
    if not record.replacement.rstrip("."):
        return "replacement '.' names no SRV record"
    if transport not in transports:
        return f"{transport} is not among the transports in use ({', '.join(transports)})"
    return None


def select_naptr(records: Iterable[NaptrRecord], transports: Sequence[str]) -> list[tuple[str, str]]:
    """``(transport, SRV name)`` pairs from usable NAPTR records, by (order, preference).

    Records with a `naptr_problem` (no ``S`` flag, a service we do not know, a transport not in
    ``transports``, an empty replacement) are skipped; each SRV name is kept once.
    """
    usable: list[tuple[int, int, str, str]] = []
    for record in records:
        if naptr_problem(record, transports) is not None:
            continue
        transport = NAPTR_SERVICES[record.service.upper()]
        usable.append((record.order, record.preference, transport, record.replacement.rstrip(".")))
    usable.sort(key=lambda item: (item[0], item[1]))
    result: list[tuple[str, str]] = []
    for _, _, transport, name in usable:
        if (transport, name) not in result:
            result.append((transport, name))
    return result


def _weighted_order(records: list[SrvRecord], rng: RandomSource) -> list[SrvRecord]:
    """RFC 2782: zero weights first, running sums, pick the first whose sum >= a random number."""
    remaining = sorted(records, key=lambda record: record.weight != 0)
    ordered: list[SrvRecord] = []
    while remaining:
        total = sum(record.weight for record in remaining)
        pick = rng.randint(0, total)
        running = 0
        for index, record in enumerate(remaining):
            running += record.weight
            if running >= pick:
                ordered.append(remaining.pop(index))
                break
    return ordered


def srv_problem(record: SrvRecord) -> str | None:
    """Why ``record`` names no server, or None when it does."""
    if not record.target.rstrip("."):
        return "target '.' says the service is not offered there"
    if record.port == 0:
        return f"port 0 for {record.target.rstrip('.')}"
    return None


def order_srv(records: Iterable[SrvRecord], rng: RandomSource) -> list[SrvRecord]:
    """Usable SRV records in the order to try them: by priority, weighted-random within one priority.

    Records with an `srv_problem` (target ``.``: service not offered; port 0) are skipped.
    """
    by_priority: dict[int, list[SrvRecord]] = {}
    for record in records:
        if srv_problem(record) is not None:
            continue
        by_priority.setdefault(record.priority, []).append(record)
    ordered: list[SrvRecord] = []
    for priority in sorted(by_priority):
        ordered.extend(_weighted_order(by_priority[priority], rng))
    return ordered


def sort_by_transport(items: list[tuple[str, str]], transports: Sequence[str]) -> list[tuple[str, str]]:
    """Stable sort of ``(transport, name)`` pairs by the application's transport preference."""
    return sorted(items, key=lambda item: transports.index(item[0]))
