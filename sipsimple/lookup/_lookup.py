"""`DNSLookup`: SIP proxies (RFC 3263), STUN servers and MSRP relays (SRV), XCAP roots (TXT).

Each lookup method runs in a green thread and returns its `GreenThread` handle at once: a green
thread (or a plain thread) calls ``.wait()`` for the result or the `DNSLookupError`; code that
prefers notifications observes ``DNSLookupDidSucceed`` / ``DNSLookupDidFail`` from the lookup.
Every DNS query (NS ones included) posts a ``DNSLookupTrace``. Queries go through an injectable
resolver (by default a `DNSResolver` over the `DNSManager`'s nameservers, running dnspython in the
reactor's thread pool), so the reactor never blocks on DNS.

NS-first (``authoritative_first``, on by default as in the reference): the queries for names in the
looked-up domain go to that domain's authoritative nameservers, found through NS records, and fall
back to the configured ones when that fails (see ``_authority.py``).

Nonsense in the answers is skipped (``_rfc3263``: SRV target ``.``, port 0, NAPTR with unknown
services or flags, unusable addresses); when nothing usable is left the failure lists what was
skipped and which queries failed, in words (``_run.py``, ``_problems.py``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TypeVar
from urllib.parse import urlparse

from sipsimple.core.sip.uri import BaseSIPURI
from sipsimple.notification import NotificationCenter, NotificationData
from sipsimple.threading.green import GreenHub, GreenThread, get_hub
from sipsimple.util import ISOTimestamp

from ._authority import NameserverCache
from ._manager import DNSManager
from ._resolver import DNSResolver, IQueryResolver
from ._rfc3263 import (
    DEFAULT_PORTS,
    SRV_SERVICES,
    RandomSource,
    SelectionError,
    is_ip_address,
    naptr_problem,
    plan_sip_lookup,
    select_naptr,
    sort_by_transport,
)
from ._route import Route
from ._run import DNSLookupError, LookupRun, as_text

__all__ = ["DNSLookup", "DNSLookupError", "SERVICES"]

T = TypeVar("T")

# service name -> (SRV prefix, default port)
SERVICES = {"stun": ("_stun._udp", 3478), "msrprelay": ("_msrps._tcp", 2855)}


class DNSLookup:
    """DNS lookups for SIP proxies, STUN servers, MSRP relays and XCAP servers.

    ``resolver`` does the queries (default: a `DNSResolver` over the `DNSManager` on the hub's
    reactor); ``hub`` runs the lookups' green threads (default: the process-wide hub); ``rng``
    draws the RFC 2782 weighted choice (default: ``random.Random()``). ``authoritative_first``
    switches the NS-first lookups on or off (default: the `DNSManager`'s setting, on unless changed);
    ``nameserver_cache`` keeps the authoritative servers found (default: the `DNSManager`'s, shared
    by every lookup of the process).
    """

    def __init__(
        self,
        resolver: IQueryResolver | None = None,
        *,
        hub: GreenHub | None = None,
        rng: RandomSource | None = None,
        authoritative_first: bool | None = None,
        nameserver_cache: NameserverCache | None = None,
    ) -> None:
        self._hub = hub
        self._resolver = resolver
        self.random: RandomSource = rng if rng is not None else random.Random()
        self._authoritative_first = authoritative_first
        self._nameserver_cache = nameserver_cache

    @property
    def hub(self) -> GreenHub:
        return self._hub if self._hub is not None else get_hub()

    @property
    def resolver(self) -> IQueryResolver:
        if self._resolver is None:
            self._resolver = DNSResolver(DNSManager(), self.hub.reactor)
        return self._resolver

    @property
    def authoritative_first(self) -> bool:
        """Whether queries go to the domain's authoritative nameservers first."""
        if self._authoritative_first is None:
            return DNSManager().authoritative_first
        return self._authoritative_first

    @authoritative_first.setter
    def authoritative_first(self, value: bool | None) -> None:
        self._authoritative_first = value

    @property
    def nameserver_cache(self) -> NameserverCache:
        if self._nameserver_cache is None:
            return DNSManager().nameserver_cache
        return self._nameserver_cache

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
        run = LookupRun(self, "lookup_sip_proxy", uri, timeout, lifetime)
        return self._spawn(run, lambda: self._sip_proxy(run, uri, supported_transports, tls_name))

    def lookup_service(
        self, uri: BaseSIPURI, service: str, timeout: float = 3.0, lifetime: float = 15.0
    ) -> GreenThread[list[tuple[str, int]]]:
        """``(address, port)`` pairs of a 'stun' or 'msrprelay' server of ``uri.host`` (SRV, then A)."""
        run = LookupRun(self, "lookup_service", uri, timeout, lifetime, service=service)
        return self._spawn(run, lambda: self._service(run, uri.host, service))

    def lookup_xcap_server(
        self, uri: BaseSIPURI, timeout: float = 3.0, lifetime: float = 15.0
    ) -> GreenThread[list[str]]:
        """The http/https URLs in the TXT records of ``xcap.<uri.host>``."""
        run = LookupRun(self, "lookup_xcap_server", uri, timeout, lifetime)
        return self._spawn(run, lambda: self._xcap(run, uri.host))

    # -- the green part -------------------------------------------------------------------------
    def _spawn(self, run: LookupRun, body: Callable[[], T]) -> GreenThread[T]:
        return self.hub.call_in_waitable_green_thread(self._run, run, body)

    def _run(self, run: LookupRun, body: Callable[[], T]) -> T:
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
        self, run: LookupRun, uri: BaseSIPURI, supported_transports: Sequence[str], tls_name: str | None
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

        # NAPTR -> SRV -> A/AAAA, falling back to plain SRV names, then to the domain's addresses
        # for the transports that have no SRV records at all (RFC 3263 §4.2: a target '.' or
        # targets without addresses mean the transport is not offered, not "use the A records").
        naptr = run.naptr(host)
        for naptr_record in naptr:
            problem = naptr_problem(naptr_record, plan.transports)
            if problem is not None:
                target = naptr_record.replacement.rstrip(".") or "."
                run.note(f"NAPTR {host} {naptr_record.service} -> {target}: {problem}")
        candidates = select_naptr(naptr, plan.transports)
        tried: set[str] = set()
        with_srv: set[str] = set()  # transports for which some SRV record exists
        for round_ in (candidates, [(t, f"{SRV_SERVICES[t]}.{host}") for t in plan.transports]):
            for transport, srv_name in sort_by_transport(round_, plan.transports):
                if srv_name.lower() in tried:
                    continue
                tried.add(srv_name.lower())
                records, existed = run.srv(srv_name)
                if existed:
                    with_srv.add(transport)
                for record in records:
                    for address in run.addresses(record.target, origin=f"target of SRV {srv_name}"):
                        add(address, record.port, transport)
            if routes:
                return routes
        fallback = [transport for transport in plan.transports if transport not in with_srv]
        if fallback:
            addresses = run.addresses(host)
            for transport in fallback:
                for address in addresses:
                    add(address, DEFAULT_PORTS[transport], transport)
        if not routes:
            raise run.failure(
                f"no SIP server found for {host} over {', '.join(plan.transports)}: "
                "no usable NAPTR, SRV or A/AAAA records"
            )
        return routes

    def _service(self, run: LookupRun, host: str, service: str) -> list[tuple[str, int]]:
        if service not in SERVICES:
            raise DNSLookupError(f"unknown service {service!r}: use one of {', '.join(SERVICES)}")
        prefix, default_port = SERVICES[service]
        if is_ip_address(host):
            return [(host.strip("[]"), default_port)]
        srv_name = f"{prefix}.{host}"
        result: list[tuple[str, int]] = []
        records, existed = run.srv(srv_name)
        for record in records:
            for address in run.addresses(record.target, origin=f"target of SRV {srv_name}"):
                if (address, record.port) not in result:
                    result.append((address, record.port))
        if not existed:  # only without any SRV record: the host itself on the default port
            result = [(address, default_port) for address in run.addresses(host)]
        if not result:
            raise run.failure(
                f"no {service} server found for {host}: no usable SRV {prefix} or A/AAAA records"
            )
        return result

    def _xcap(self, run: LookupRun, host: str) -> list[str]:
        name = f"xcap.{host}"
        urls: list[str] = []
        for rdata in run.query("TXT", name):
            text = "".join(as_text(part) for part in getattr(rdata, "strings", ()))
            parsed = urlparse(text)
            if parsed.scheme in ("http", "https") and parsed.netloc and text not in urls:
                urls.append(text)
        if not urls:
            raise run.failure(
                f"no XCAP server found for {host}: no TXT record of {name} holds an http(s) URL"
            )
        return urls
