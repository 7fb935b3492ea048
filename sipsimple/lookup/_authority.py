"""NS-first lookups: which nameservers are authoritative for a domain, and how long that is known.

A lookup for ``sip.example.com`` first asks the configured nameservers for the NS records of
``sip.example.com``, then of ``example.com`` (walking up, never to a top-level domain or the root),
resolves the first NS names it finds to addresses, and sends its NAPTR/SRV/A/AAAA/TXT queries for
names inside that zone to those servers. Names outside the zone (an SRV target at a provider's other
domain) are asked of the configured nameservers. The point is to get past home routers that
answer A queries but mangle NAPTR and SRV.

Whatever goes wrong on the way (no NS records, NS names without addresses, the authoritative servers
time out, refuse, answer SERVFAIL or send a referral) sends the query to the configured nameservers
instead; a lookup then no longer tries the authoritative servers, and the `NameserverCache`
remembers the failure for `NEGATIVE_TTL` seconds so the next lookups do not wait for it again.

This module is pure: the walk itself is done by the lookup run (``_run.py``), which posts a
``DNSLookupTrace`` for every NS and address query it makes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["NEGATIVE_TTL", "Authority", "NameserverCache", "answer_ttl", "in_zone", "zone_candidates"]

#: seconds a domain without usable authoritative servers is remembered as such
NEGATIVE_TTL = 60.0
#: NS names resolved to addresses per zone (each costs one or two address queries)
MAX_NAMESERVERS = 3


@dataclass(frozen=True, slots=True)
class Authority:
    """The authoritative ``nameservers`` (IP addresses) of ``zone``; empty: use the configured ones."""

    zone: str
    nameservers: tuple[str, ...] = ()

    def covers(self, name: str) -> bool:
        """True when ``name`` is inside the zone and there are servers to ask."""
        return bool(self.nameservers) and in_zone(name, self.zone)


def _normal(name: str) -> str:
    return name.rstrip(".").lower()


def zone_candidates(domain: str) -> list[str]:
    """``domain`` and its parents that may hold its NS records, most specific first; a top-level
    domain and the root are left out (their servers only answer with referrals)."""
    labels = _normal(domain).split(".")
    return [".".join(labels[index:]) for index in range(len(labels) - 1)]


def in_zone(name: str, zone: str) -> bool:
    name, zone = _normal(name), _normal(zone)
    return name == zone or name.endswith("." + zone)


def answer_ttl(answer: Any) -> float:
    """The TTL of a dnspython answer (0 when it has none, e.g. a test's plain list)."""
    ttl = getattr(getattr(answer, "rrset", None), "ttl", None)
    return float(ttl) if ttl is not None else 0.0


class NameserverCache:
    """Domain -> `Authority`, each entry kept for the TTL it was stored with.

    ``seconds`` is the clock (default ``time.monotonic``; tests give a ``Clock().seconds``). An entry
    with no nameservers records that the domain has none usable (for `NEGATIVE_TTL`).
    """

    def __init__(self, seconds: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._entries: dict[str, tuple[Authority, float]] = {}

    def get(self, domain: str) -> Authority | None:
        """The authority stored for ``domain`` and not expired yet, else None."""
        key = _normal(domain)
        entry = self._entries.get(key)
        if entry is None:
            return None
        authority, expires = entry
        if self.seconds() >= expires:
            del self._entries[key]
            return None
        return authority

    def put(self, domain: str, authority: Authority, ttl: float) -> None:
        """Keep ``authority`` for ``domain`` during ``ttl`` seconds (nothing is kept for ttl <= 0)."""
        if ttl > 0:
            self._entries[_normal(domain)] = (authority, self.seconds() + ttl)
        else:
            self._entries.pop(_normal(domain), None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
