"""The local NAT type of the application (``SIPApplication.local_nat_type``), found in the background.

:class:`LocalNATTypeDetection` takes the STUN servers of an account: its
``nat_traversal.stun_server_list`` when set (host names are resolved through the reactor), else
what ``lookup(domain)`` finds for its domain (the application passes an SRV lookup of
``_stun._udp``, ``DNSLookup.lookup_service(uri, "stun")``). It then runs the RFC 5780 discovery
(:func:`~sipsimple.core.nat.runner.detect_nat_behaviour`) against each server in turn, at most
``max_servers``, until one gives an answer other than "Blocked", and calls ``on_detected`` with the
:class:`~sipsimple.core.nat.behaviour.NATBehaviour`. Everything runs on the reactor without
blocking it and is bounded by ``timeout`` seconds; ``cancel()`` stops it. Without an account, a
STUN server or a result, ``on_detected`` is not called and the reason is logged.

The account and the lookup are passed in (duck-typed), so this core module does not import the
account or DNS layers above it.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import DNSLookupError

from .behaviour import NATBehaviour
from .runner import StunFailure, detect_nat_behaviour

__all__ = ["STUN_PORT", "LocalNATTypeDetection", "NoSTUNServer"]

log = logging.getLogger(__name__)

STUN_PORT = 3478


class NoSTUNServer(Exception):
    """There is nothing to detect against (no account, no configured or discoverable server)."""


class LocalNATTypeDetection:
    """One detection run; see the module documentation."""

    def __init__(
        self,
        reactor: Any,
        account: Any,
        lookup: Callable[[str], Deferred[list[tuple[str, int]]]] | None,
        on_detected: Callable[[NATBehaviour], None],
        *,
        clock: Any = None,
        timeout: float = 60.0,
        max_servers: int = 3,
        detect: Callable[..., Deferred[NATBehaviour]] = detect_nat_behaviour,
    ) -> None:
        self.reactor = reactor
        self.clock = reactor if clock is None else clock
        self.account = account
        self.lookup = lookup
        self.on_detected = on_detected
        self.timeout = timeout
        self.max_servers = max_servers
        self.detect = detect
        self.result: NATBehaviour | None = None
        #: why there is no result (a sentence), once finished without one
        self.reason: str | None = None
        self._running: Deferred[NATBehaviour | None] | None = None

    def start(self) -> Deferred[NATBehaviour | None]:
        """Start; the Deferred fires with the behaviour found or None (it never fails)."""
        if self._running is not None:
            raise RuntimeError("the detection has already started")
        running = Deferred.fromCoroutine(self._detect())
        limit = self.clock.callLater(self.timeout, running.cancel)
        running.addBoth(self._finished, limit)
        self._running = running
        return running

    def cancel(self) -> None:
        if self._running is not None and not self._running.called:
            self.reason = "cancelled"
            self._running.cancel()

    # -- steps ------------------------------------------------------------------------------------
    async def _detect(self) -> NATBehaviour | None:
        servers = await self._servers()
        result: NATBehaviour | None = None
        errors = []
        for server in servers[: self.max_servers]:
            try:
                result = await self.detect(server, reactor=self.reactor, clock=self.clock)
            except StunFailure as error:
                errors.append(f"{server[0]}:{server[1]}: {error}")
                continue
            if not result.blocked:
                break
        if result is None:
            raise StunFailure("; ".join(errors) or "no STUN server answered")
        return result

    async def _servers(self) -> list[tuple[str, int]]:
        account = self.account
        if account is None:
            raise NoSTUNServer("there is no default account")
        nat_traversal = getattr(account, "nat_traversal", None)
        if nat_traversal is None:
            raise NoSTUNServer(f"the default account {account.id} has no STUN settings")
        configured = list(nat_traversal.stun_server_list or ())
        if configured:
            return [await self._resolve(str(server.host), server.port or STUN_PORT) for server in configured]
        domain = str(account.id.domain)
        if self.lookup is None:
            raise NoSTUNServer(f"no STUN server is configured for {account.id} and there is no DNS lookup")
        try:
            found = await self.lookup(domain)
        except CancelledError:
            raise
        except Exception as error:
            raise NoSTUNServer(f"no STUN server found for {domain}: {error}") from error
        if not found:
            raise NoSTUNServer(f"no STUN server found for {domain}")
        return [(str(host), int(port)) for host, port in found]

    async def _resolve(self, host: str, port: int) -> tuple[str, int]:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            resolving: Awaitable[str] = self.reactor.resolve(host)
            host = await resolving
        return host, port

    def _finished(self, outcome: Any, limit: Any) -> NATBehaviour | None:
        if limit.active():
            limit.cancel()
        if isinstance(outcome, NATBehaviour):
            self.result = outcome
            log.info("local NAT type: %s (STUN server %s)", outcome.nat_type, outcome.server)
            try:
                self.on_detected(outcome)
            except Exception:
                log.exception("the NAT type observer failed")
            return outcome
        error = getattr(outcome, "value", outcome)
        if isinstance(error, CancelledError):
            self.reason = self.reason or f"no result within {self.timeout:g} s"
        else:
            self.reason = str(error) or type(error).__name__
        if isinstance(error, NoSTUNServer):
            log.info("the local NAT type is not detected: %s", self.reason)
        elif isinstance(error, StunFailure | CancelledError | DNSLookupError):
            log.warning("the local NAT type is not detected: %s", self.reason)
        else:
            log.error("the local NAT type is not detected: %s", self.reason, exc_info=error)
        return None
