"""`DNSLookup`: SIP proxies (RFC 3263), STUN servers and MSRP relays (SRV), XCAP roots (TXT).

Each lookup method runs in a green thread and returns its `GreenThread` handle at once: a green
thread (or a plain thread) calls ``.wait()`` for the result or the `DNSLookupError`; code that
prefers notifications observes ``DNSLookupDidSucceed`` / ``DNSLookupDidFail`` from the lookup.
Every DNS query posts a ``DNSLookupTrace``. Queries go through an injectable resolver (by default
a `DNSResolver` over the `DNSManager`'s nameservers, running dnspython in the reactor's thread pool),
so the reactor never blocks on DNS.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlparse

import dns.exception
import dns.resolver

from sipsimple.core.sip.uri import BaseSIPURI
from sipsimple.notification import NotificationCenter, NotificationData
from sipsimple.threading.green import GreenHub, GreenThread, block_on, get_hub
from sipsimple.util import ISOTimestamp

from ._manager import DNSManager
from ._resolver import DNSResolver, IQueryResolver
from ._rfc3263 import (
    DEFAULT_PORTS,
    SRV_SERVICES,
    NaptrRecord,
    RandomSource,
    SelectionError,
    SrvRecord,
    is_ip_address,
    order_srv,
    plan_sip_lookup,
    select_naptr,
    sort_by_transport,
)
from ._route import Route

__all__ = ["DNSLookup", "DNSLookupError", "SERVICES"]

T = TypeVar("T")

# service name -> (SRV prefix, default port)
SERVICES = {"stun": ("_stun._udp", 3478), "msrprelay": ("_msrps._tcp", 2855)}


class DNSLookupError(Exception):
    """A lookup found nothing usable; the message says what was tried and what went wrong."""


def _text(value: bytes | str) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value


class _Run:
    """One lookup in progress: its context (method, uri, service) and the query errors seen."""

    def __init__(
        self, owner: DNSLookup, context: str, uri: BaseSIPURI, timeout: float, lifetime: float, **extra: Any
    ) -> None:
        self.owner, self.context, self.uri, self.extra = owner, context, uri, extra
        self.timeout, self.lifetime = timeout, lifetime
        self.errors: list[tuple[str, str, Exception]] = []

    def query(self, rdtype: str, name: str) -> list[Any]:
        """The rdata of ``name``/``rdtype`` (empty on any DNS error, which is recorded and traced)."""
        resolver = self.owner.resolver
        nameservers = resolver.nameservers
        answer: Any = None
        error: Exception | None = None
        try:
            answer = block_on(resolver.query(name, rdtype, self.timeout, self.lifetime))
        except dns.exception.DNSException as exc:
            error = exc
            self.errors.append((rdtype, name, exc))
        data = NotificationData(
            timestamp=ISOTimestamp.now(),
            query_type=rdtype,
            query_name=name,
            nameservers=nameservers,
            answer=answer,
            error=error,
            context=self.context,
            uri=self.uri,
            **self.extra,
        )
        NotificationCenter().post_notification("DNSLookupTrace", sender=self.owner, data=data)
        return [] if answer is None else list(answer)

    def addresses(self, name: str) -> list[str]:
        """IPv4 then IPv6 addresses of ``name``."""
        result: list[str] = []
        for rdtype in ("A", "AAAA"):
            for rdata in self.query(rdtype, name):
                address = str(getattr(rdata, "address", ""))
                if is_ip_address(address) and address not in result:
                    result.append(address)
        return result

    def srv(self, name: str) -> list[SrvRecord]:
        records = []
        for rdata in self.query("SRV", name):
            try:
                records.append(
                    SrvRecord(int(rdata.priority), int(rdata.weight), int(rdata.port), str(rdata.target))
                )
            except (AttributeError, TypeError, ValueError):
                continue  # not an SRV record: skipped
        return order_srv(records, self.owner.random)

    def naptr(self, name: str) -> list[NaptrRecord]:
        records = []
        for rdata in self.query("NAPTR", name):
            try:
                records.append(
                    NaptrRecord(
                        int(rdata.order),
                        int(rdata.preference),
                        _text(rdata.flags),
                        _text(rdata.service),
                        str(rdata.replacement),
                    )
                )
            except (AttributeError, TypeError, ValueError):
                continue
        return records

    def failure(self, what: str) -> DNSLookupError:
        """A `DNSLookupError` saying ``what`` was not found and why the queries came back empty."""
        reasons: list[str] = []
        for rdtype, name, error in self.errors:
            if isinstance(error, dns.resolver.NXDOMAIN):
                reason = f"{name} does not exist"
            elif isinstance(error, dns.exception.Timeout):
                reason = f"no answer from {', '.join(self.owner.resolver.nameservers)} for {rdtype} {name}"
            elif isinstance(error, dns.resolver.NoNameservers):
                reason = f"every nameserver failed for {rdtype} {name}"
            else:
                continue  # NoAnswer: the name exists without such records; not worth reporting
            if reason not in reasons:
                reasons.append(reason)
        detail = f" ({'; '.join(reasons)})" if reasons else ""
        return DNSLookupError(f"{what}{detail}")


class DNSLookup:
    """DNS lookups for SIP proxies, STUN servers, MSRP relays and XCAP servers.

    ``resolver`` does the queries (default: a `DNSResolver` over the `DNSManager` on the hub's
    reactor); ``hub`` runs the lookups' green threads (default: the process-wide hub); ``rng``
    draws the RFC 2782 weighted choice (default: ``random.Random()``).
    """

    def __init__(
        self,
        resolver: IQueryResolver | None = None,
        *,
        hub: GreenHub | None = None,
        rng: RandomSource | None = None,
    ) -> None:
        self._hub = hub
        self._resolver = resolver
        self.random: RandomSource = rng if rng is not None else random.Random()

    @property
    def hub(self) -> GreenHub:
        return self._hub if self._hub is not None else get_hub()

    @property
    def resolver(self) -> IQueryResolver:
        if self._resolver is None:
            self._resolver = DNSResolver(DNSManager(), self.hub.reactor)
        return self._resolver

    # -- public API -----------------------------------------------------------------------------
    def lookup_sip_proxy(
        self,
        uri: BaseSIPURI,
        supported_transports: Sequence[str],
        tls_name: str | None = None,
        timeout: float = 3.0,
        lifetime: float = 15.0,
    ) -> GreenThread[list[Route]]:
        """RFC 3263 §4: the ordered `Route` list for ``uri`` (see the module docs of `_rfc3263`).

        ``tls_name`` overrides the name TLS routes must be valid for (default: the URI's domain).
        """
        run = _Run(self, "lookup_sip_proxy", uri, timeout, lifetime)
        return self._spawn(run, lambda: self._sip_proxy(run, uri, supported_transports, tls_name))

    def lookup_service(
        self, uri: BaseSIPURI, service: str, timeout: float = 3.0, lifetime: float = 15.0
    ) -> GreenThread[list[tuple[str, int]]]:
        """``(address, port)`` pairs of a 'stun' or 'msrprelay' server of ``uri.host`` (SRV, then A)."""
        run = _Run(self, "lookup_service", uri, timeout, lifetime, service=service)
        return self._spawn(run, lambda: self._service(run, uri.host, service))

    def lookup_xcap_server(
        self, uri: BaseSIPURI, timeout: float = 3.0, lifetime: float = 15.0
    ) -> GreenThread[list[str]]:
        """The http/https URLs in the TXT records of ``xcap.<uri.host>``."""
        run = _Run(self, "lookup_xcap_server", uri, timeout, lifetime)
        return self._spawn(run, lambda: self._xcap(run, uri.host))

    # -- the green part -------------------------------------------------------------------------
    def _spawn(self, run: _Run, body: Callable[[], T]) -> GreenThread[T]:
        return self.hub.call_in_waitable_green_thread(self._run, run, body)

    def _run(self, run: _Run, body: Callable[[], T]) -> T:
        center = NotificationCenter()
        try:
            result = body()
        except (DNSLookupError, SelectionError) as error:
            center.post_notification(
                "DNSLookupDidFail",
                sender=self,
                data=NotificationData(timestamp=ISOTimestamp.now(), error=str(error)),
            )
            if isinstance(error, DNSLookupError):
                raise
            raise DNSLookupError(str(error)) from error
        center.post_notification(
            "DNSLookupDidSucceed",
            sender=self,
            data=NotificationData(timestamp=ISOTimestamp.now(), result=result),
        )
        return result

    def _sip_proxy(
        self, run: _Run, uri: BaseSIPURI, supported_transports: Sequence[str], tls_name: str | None
    ) -> list[Route]:
        plan = plan_sip_lookup(uri, supported_transports)
        host = plan.host
        name_for_tls = tls_name if tls_name is not None else plan.tls_name
        routes: list[Route] = []

        def add(address: str, port: int, transport: str) -> None:
            route = Route(address, port, transport, name_for_tls if transport == "tls" else None)
            if route not in routes:
                routes.append(route)

        if plan.is_ip:
            for transport in plan.transports:
                add(host.strip("[]"), plan.port or DEFAULT_PORTS[transport], transport)
            return routes
        if plan.port is not None:
            addresses = run.addresses(host)
            for transport in plan.transports:
                for address in addresses:
                    add(address, plan.port, transport)
            if not routes:
                raise run.failure(f"no IP address found for {host}")
            return routes

        # NAPTR -> SRV -> A/AAAA, falling back to plain SRV names, then to the domain's addresses.
        candidates = select_naptr(run.naptr(host), plan.transports)
        tried: set[str] = set()
        for round_ in (candidates, [(t, f"{SRV_SERVICES[t]}.{host}") for t in plan.transports]):
            for transport, srv_name in sort_by_transport(round_, plan.transports):
                if srv_name.lower() in tried:
                    continue
                tried.add(srv_name.lower())
                for record in run.srv(srv_name):
                    for address in run.addresses(record.target):
                        add(address, record.port, transport)
            if routes:
                return routes
        addresses = run.addresses(host)
        for transport in plan.transports:
            for address in addresses:
                add(address, DEFAULT_PORTS[transport], transport)
        if not routes:
            raise run.failure(
                f"no SIP server found for {host} over {', '.join(plan.transports)}: "
                "no usable NAPTR, SRV or A/AAAA records"
            )
        return routes

    def _service(self, run: _Run, host: str, service: str) -> list[tuple[str, int]]:
        if service not in SERVICES:
            raise DNSLookupError(f"unknown service {service!r}: use one of {', '.join(SERVICES)}")
        prefix, default_port = SERVICES[service]
        if is_ip_address(host):
            return [(host.strip("[]"), default_port)]
        result: list[tuple[str, int]] = []
        for record in run.srv(f"{prefix}.{host}"):
            for address in run.addresses(record.target):
                if (address, record.port) not in result:
                    result.append((address, record.port))
        if not result:
            result = [(address, default_port) for address in run.addresses(host)]
        if not result:
            raise run.failure(
                f"no {service} server found for {host}: no usable SRV {prefix} or A/AAAA records"
            )
        return result

    def _xcap(self, run: _Run, host: str) -> list[str]:
        name = f"xcap.{host}"
        urls: list[str] = []
        for rdata in run.query("TXT", name):
            text = "".join(_text(part) for part in getattr(rdata, "strings", ()))
            parsed = urlparse(text)
            if parsed.scheme in ("http", "https") and parsed.netloc and text not in urls:
                urls.append(text)
        if not urls:
            raise run.failure(
                f"no XCAP server found for {host}: no TXT record of {name} holds an http(s) URL"
            )
        return urls
