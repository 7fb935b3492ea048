"""`LookupRun`: one lookup in progress, inside its green thread.

It makes the queries (each one posts ``DNSLookupTrace``), sends them to the domain's authoritative
nameservers first when the lookup is NS-first (see ``_authority.py``), turns the answers into records
while skipping nonsense, and keeps what it skipped and why, so that a lookup that ends with nothing
can say what a person should look at (`failure`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import dns.exception
import dns.resolver

from sipsimple.core.sip.uri import BaseSIPURI
from sipsimple.notification import NotificationCenter, NotificationData
from sipsimple.threading.green import block_on
from sipsimple.util import ISOTimestamp

from ._authority import MAX_NAMESERVERS, NEGATIVE_TTL, Authority, answer_ttl, zone_candidates
from ._problems import describe_query_error, is_definitive, is_truncated
from ._rfc3263 import NaptrRecord, SrvRecord, address_problem, is_ip_address, order_srv, srv_problem

if TYPE_CHECKING:
    from ._lookup import DNSLookup

__all__ = ["DNSLookupError", "LookupRun", "as_text"]


class DNSLookupError(Exception):
    """A lookup found nothing usable; the message says what was tried and what went wrong."""


def as_text(value: bytes | str) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value


def _name(value: Any) -> str:
    return str(value).rstrip(".")


class LookupRun:
    """One lookup: its context (method, uri, service), the errors seen and the records skipped.

    ``host`` is the domain whose authoritative servers are asked first (when the owner is NS-first);
    they are found at the first query that needs them.
    """

    def __init__(
        self,
        owner: DNSLookup,
        context: str,
        uri: BaseSIPURI,
        timeout: float,
        lifetime: float,
        **extra: Any,
    ) -> None:
        self.owner, self.context, self.uri, self.extra = owner, context, uri, extra
        self.host = uri.host
        self.timeout, self.lifetime = timeout, lifetime
        #: failed queries: (type, name, error, nameservers asked)
        self.errors: list[tuple[str, str, Exception, list[str]]] = []
        #: sentences about skipped records and missing addresses, for the failure message
        self.notes: list[str] = []
        self._explained: set[str] = set()  # names a note already speaks about
        self._authority: Authority | None = None if owner.authoritative_first else Authority(self.host)
        self._fallback: str | None = None  # why the authoritative servers were given up

    # -- queries --------------------------------------------------------------------------------

    def _ask(
        self, rdtype: str, name: str, nameservers: Sequence[str] | None = None
    ) -> tuple[Any, Exception | None]:
        """One query (to ``nameservers``, else the configured ones), traced."""
        resolver = self.owner.resolver
        used = list(nameservers) if nameservers else resolver.nameservers
        answer: Any = None
        error: Exception | None = None
        try:
            answer = block_on(resolver.query(name, rdtype, self.timeout, self.lifetime, nameservers or None))
        except dns.exception.DNSException as exc:
            error = exc
        data = NotificationData(
            timestamp=ISOTimestamp.now(),
            query_type=rdtype,
            query_name=name,
            nameservers=used,
            answer=answer,
            error=error,
            context=self.context,
            uri=self.uri,
            **self.extra,
        )
        NotificationCenter().post_notification("DNSLookupTrace", sender=self.owner, data=data)
        return answer, error

    def query(self, rdtype: str, name: str) -> list[Any]:
        """The rdata of ``name``/``rdtype`` (empty on any DNS error, which is recorded and traced).

        Asked of the authoritative servers when they cover ``name``; when they fail (anything but
        NXDOMAIN or an authoritative empty answer), asked again of the configured nameservers.
        """
        authority = self._authority_for(name)
        if authority is not None:
            answer, error = self._ask(rdtype, name, authority.nameservers)
            if error is None:
                return list(answer)
            if is_definitive(error):
                self.errors.append((rdtype, name, error, list(authority.nameservers)))
                return []
            self._give_up_authority(authority, rdtype, name, error)
        answer, error = self._ask(rdtype, name)
        if error is not None:
            self.errors.append((rdtype, name, error, self.owner.resolver.nameservers))
            return []
        return list(answer)

    # -- the authoritative servers ----------------------------------------------------------------

    def _authority_for(self, name: str) -> Authority | None:
        if self._authority is None:
            self._authority = self._discover()
        return self._authority if self._authority.covers(name) else None

    def _discover(self) -> Authority:
        """Walk up from ``host`` to the first NS records; their servers' addresses (or none)."""
        cache = self.owner.nameserver_cache
        for zone in zone_candidates(self.host):
            cached = cache.get(zone)
            if cached is not None:
                return cached
            answer, error = self._ask("NS", zone)
            if isinstance(error, dns.resolver.NXDOMAIN | dns.resolver.NoAnswer):
                continue  # no zone cut here: try the parent
            if error is not None:  # the configured servers failed: nothing worth caching
                problem = describe_query_error(
                    "NS", zone, error, self.owner.resolver.nameservers, self.lifetime
                )
                self._fallback = f"the authoritative nameservers could not be found ({problem})"
                return Authority(zone)
            names = [_name(rdata.target) for rdata in answer if hasattr(rdata, "target")]
            addresses, ttl = self._addresses_of_nameservers([n for n in names if n][:MAX_NAMESERVERS])
            if addresses and set(addresses) != set(self.owner.resolver.nameservers):
                authority, ttl = Authority(zone, tuple(addresses)), min(ttl, answer_ttl(answer))
            else:  # nothing to ask, or nothing different from the configured servers
                authority, ttl = Authority(zone), NEGATIVE_TTL
                if not addresses:
                    self._fallback = f"the nameservers of {zone} ({', '.join(names)}) have no usable address"
            for domain in {zone, self.host.lower()}:
                cache.put(domain, authority, ttl)
            return authority
        authority = Authority(self.host)
        cache.put(self.host, authority, NEGATIVE_TTL)
        return authority

    def _addresses_of_nameservers(self, names: list[str]) -> tuple[list[str], float]:
        """IPv4 addresses of each NS name (IPv6 only for a name without IPv4), and their lowest TTL."""
        addresses: list[str] = []
        ttl = float("inf")
        for name in names:
            for rdtype in ("A", "AAAA"):
                answer, error = self._ask(rdtype, name)
                if error is not None:
                    continue
                found = [
                    str(rdata.address)
                    for rdata in answer
                    if is_ip_address(str(getattr(rdata, "address", "")))
                    and address_problem(str(rdata.address)) is None
                ]
                if found:
                    ttl = min(ttl, answer_ttl(answer))
                    addresses.extend(address for address in found if address not in addresses)
                    break
        return addresses, ttl

    def _give_up_authority(self, authority: Authority, rdtype: str, name: str, error: Exception) -> None:
        problem = describe_query_error(rdtype, name, error, authority.nameservers, self.lifetime)
        self._fallback = (
            f"the authoritative nameservers of {authority.zone} failed ({problem}), "
            "so the local nameservers were asked"
        )
        self._authority = Authority(authority.zone)
        cache = self.owner.nameserver_cache
        for domain in {authority.zone, self.host.lower()}:
            cache.put(domain, self._authority, NEGATIVE_TTL)

    # -- records --------------------------------------------------------------------------------

    def note(self, text: str, about: str | None = None) -> None:
        if text not in self.notes:
            self.notes.append(text)
        if about is not None:
            self._explained.add(about.lower())

    def addresses(self, name: str, origin: str | None = None) -> list[str]:
        """Usable IPv4 then IPv6 addresses of ``name`` (``origin``: where the name came from)."""
        result: list[str] = []
        unusable: list[str] = []
        errors_before = len(self.errors)
        for rdtype in ("A", "AAAA"):
            for rdata in self.query(rdtype, name):
                address = str(getattr(rdata, "address", ""))
                if not is_ip_address(address):
                    continue
                problem = address_problem(address)
                if problem is not None:
                    unusable.append(f"{address} ({problem})")
                elif address not in result:
                    result.append(address)
        where = f"{name} ({origin})" if origin else name
        if unusable:
            self.note(f"{where} has unusable addresses: {', '.join(unusable)}", about=name)
        if not result and not unusable:
            new_errors = [error for _, _, error, _ in self.errors[errors_before:]]
            if any(isinstance(error, dns.resolver.NXDOMAIN) for error in new_errors):
                self.note(f"{where} does not exist", about=name)
            elif all(
                isinstance(error, dns.resolver.NoAnswer) and not is_truncated(error) for error in new_errors
            ):
                self.note(f"{where} has no A or AAAA record", about=name)
        return result

    def srv(self, name: str) -> tuple[list[SrvRecord], bool]:
        """The usable SRV records of ``name`` in the order to try them, and whether it had any."""
        records = []
        for rdata in self.query("SRV", name):
            try:
                records.append(
                    SrvRecord(int(rdata.priority), int(rdata.weight), int(rdata.port), _name(rdata.target))
                )
            except (AttributeError, TypeError, ValueError):
                continue  # not an SRV record: skipped
        for record in records:
            problem = srv_problem(record)
            if problem is not None:
                self.note(f"SRV {name}: {problem}", about=name)
        return order_srv(records, self.owner.random), bool(records)

    def naptr(self, name: str) -> list[NaptrRecord]:
        records = []
        for rdata in self.query("NAPTR", name):
            try:
                records.append(
                    NaptrRecord(
                        int(rdata.order),
                        int(rdata.preference),
                        as_text(rdata.flags),
                        as_text(rdata.service),
                        str(rdata.replacement),
                    )
                )
            except (AttributeError, TypeError, ValueError):
                continue
        return records

    def failure(self, what: str) -> DNSLookupError:
        """A `DNSLookupError` saying ``what`` was not found and why: the records skipped, then the
        queries that failed (those the notes do not already explain)."""
        reasons = list(self.notes)
        for rdtype, name, error, nameservers in self.errors:
            if name.lower() in self._explained and isinstance(error, dns.resolver.NXDOMAIN):
                continue
            reason = describe_query_error(rdtype, name, error, nameservers, self.lifetime)
            if reason is not None and reason not in reasons:
                reasons.append(reason)
        if self._fallback is not None:
            reasons.append(self._fallback)
        detail = f" ({'; '.join(reasons)})" if reasons else ""
        return DNSLookupError(f"{what}{detail}")
