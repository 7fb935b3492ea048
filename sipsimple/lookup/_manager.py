"""`DNSManager`: the process-wide list of nameservers that lookups use.

On `start` it reads the system nameservers (falling back to Google's public ones when the system has
none) unless it was given a fixed list, posts ``DNSResolverDidInitialize``, and then re-reads the
system configuration every ``probe_interval`` seconds on the reactor, posting
``DNSNameserversDidChange`` when the list changed. The reactor, the interval and the function that
reads the system list are parameters of `start`, so tests drive it with a ``Clock``.

It also holds the process-wide policy of NS-first lookups: ``authoritative_first`` (on by default)
and the `NameserverCache` of the authoritative servers found, emptied whenever the nameservers are
set or change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sipsimple.notification import NotificationCenter, NotificationData
from sipsimple.util import ISOTimestamp, Singleton

from ._authority import NameserverCache
from ._resolver import GOOGLE_NAMESERVERS, ResolverConfiguration, system_nameservers

__all__ = ["DNSManager"]


class DNSManager(metaclass=Singleton):
    """Holds the `ResolverConfiguration` used by default by every `DNSLookup` (a singleton)."""

    def __init__(self) -> None:
        self.configuration = ResolverConfiguration()
        #: whether lookups ask the domain's authoritative nameservers first (`DNSLookup` default)
        self.authoritative_first = True
        #: the authoritative nameservers found by lookups, per domain, for their TTL
        self.nameserver_cache = NameserverCache()
        self._reactor: Any = None
        self._read_system: Callable[[], Sequence[str]] = system_nameservers
        self._probe_interval = 60.0
        self._probe_call: Any = None
        self._fixed = False
        self._started = False

    @property
    def nameservers(self) -> list[str]:
        return list(self.configuration.nameservers)

    @property
    def started(self) -> bool:
        return self._started

    def start(
        self,
        reactor: Any = None,
        *,
        nameservers: Sequence[str] | None = None,
        port: int = 53,
        probe_interval: float = 60.0,
        read_system_nameservers: Callable[[], Sequence[str]] = system_nameservers,
        authoritative_first: bool | None = None,
    ) -> None:
        """Set the nameservers (``nameservers``, or the system's) and start probing for changes.

        With an explicit ``nameservers`` list nothing is probed; ``port`` is the port of every
        nameserver asked, the authoritative ones included. ``authoritative_first`` (None: leave as it
        is) switches the NS-first lookups. Starting again while started does nothing.
        """
        if self._started:
            return
        if authoritative_first is not None:
            self.authoritative_first = authoritative_first
        self.nameserver_cache.clear()
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self._reactor, self._probe_interval, self._read_system = (
            reactor,
            probe_interval,
            read_system_nameservers,
        )
        self._fixed = nameservers is not None
        servers = tuple(nameservers) if nameservers is not None else self._system_or_fallback()
        self.configuration = ResolverConfiguration(servers, port)
        self._started = True
        self._post("DNSResolverDidInitialize")
        self._schedule_probe()

    def stop(self) -> None:
        """Stop probing; the last nameservers stay in use."""
        self._started = False
        if self._probe_call is not None and self._probe_call.active():
            self._probe_call.cancel()
        self._probe_call = None

    def _system_or_fallback(self) -> tuple[str, ...]:
        return tuple(self._read_system()) or GOOGLE_NAMESERVERS

    def _schedule_probe(self) -> None:
        if not self._fixed and self._started:
            self._probe_call = self._reactor.callLater(self._probe_interval, self._probe)

    def _probe(self) -> None:
        self._probe_call = None
        servers = self._system_or_fallback()
        if servers != self.configuration.nameservers:
            self.configuration = ResolverConfiguration(servers, self.configuration.port)
            self.nameserver_cache.clear()
            self._post("DNSNameserversDidChange")
        self._schedule_probe()

    def _post(self, name: str) -> None:
        NotificationCenter().post_notification(
            name,
            sender=self,
            data=NotificationData(timestamp=ISOTimestamp.now(), nameservers=self.nameservers),
        )
