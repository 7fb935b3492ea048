"""What makes a registered account register again: a changed network, a changed transport, a lost
NAT binding or registrar.

``RegistrationWatch`` (one per ``AccountRegistrar``, observing while the registrar is started) calls
``registrar.reregister(reason)`` when

* ``NetworkConditionsDidChange`` is posted (by anyone: SIPApplication's ``NetworkMonitor`` when the
  host's IP address changed, or the application itself);
* the engine posts ``SIPEngineTransportDidChange`` for the transport the registration uses (its
  Contact names that listener), or the change makes the route pick another transport (one appeared
  before it in ``sip.transport_list`` or the one in use went away), or nothing could be routed yet;
* the engine posts ``SIPEngineTransportDidDisconnect`` for the TCP/TLS connection to the server
  that answered the registration (the flow failed, RFC 5626 §4.4: the registrar may have dropped the
  binding with the connection);
* its ``RegistrationKeepAlive`` lost the NAT binding or the registrar (below).

It runs the keep-alive while the account is registered over UDP and
``account.nat_traversal.keepalive_interval`` is not 0.

``RegistrationKeepAlive``: keeps the NAT binding of a UDP registration open and notices when it or
the registrar is lost.

While an account is registered over UDP, an OPTIONS goes to its registrar (the registration's route,
Request-URI the domain of the account) every ``interval`` seconds, without credentials. Each OPTIONS
refreshes the NAT mapping the REGISTER created, so requests for the account can still come in.

What the outcome means (``verdict``; any SIP response proves the registrar reachable, whatever its
code):

* a response whose top Via says the registrar saw us from the same public address as last time
  (``received``, else our sent-by host; ``rport``, else our sent-by port): nothing to do;
* a response showing another public address: the NAT mapped us anew, so the registrar's binding
  points to a mapping that is gone -> ``on_lost(reason)``;
* no response (the OPTIONS timed out after ``timeout`` seconds) or a transport failure: the NAT
  binding or the registrar was lost -> ``on_lost(reason)``.

The first answer only records the public address. The owner (``AccountRegistrar``) registers again
from ``on_lost`` and throws this object away; a new registration gets a new one. TCP and TLS need no
OPTIONS: the transport layer pings the registration's connection with CRLFCRLF (RFC 5626 §4.4.1).

The interval runs on ``clock`` (the account runtime's: a Twisted ``Clock`` in tests); the OPTIONS
itself is a core ``Request`` on ``engine``. The route is resolved once per keep-alive (so once per
registration, not at every OPTIONS: no DNS traffic every interval), or not at all when the owner
gives the hop the registration's answer came through (``use_hop``): the OPTIONS then go to the very
server holding the binding, not to a candidate the REGISTER failed over from. Everything runs on the
reactor thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, succeed

from sipsimple.core._errors import SIPCoreError
from sipsimple.core.primitives import Request
from sipsimple.core.primitives._client import default_resolver
from sipsimple.core.sip.headers import FromHeader, RouteHeader, ToHeader
from sipsimple.notification import Notification, NotificationCenter

if TYPE_CHECKING:
    from sipsimple.account._registrar import AccountRegistrar
    from sipsimple.core.primitives._client import EngineAPI
    from sipsimple.core.primitives.route import Hop, RouteResolver
    from sipsimple.core.sip.uri import SIPURI
    from sipsimple.util._time import DelayedCall, ReactorTime

__all__ = ["PublicAddress", "RegistrationKeepAlive", "RegistrationWatch", "public_address", "verdict"]

log = logging.getLogger(__name__)

PublicAddress = tuple[str, int]


def public_address(via: Any) -> PublicAddress | None:
    """Where the server saw the request come from, by the top Via of its response (RFC 3261 §18.2.1,
    RFC 3581): ``received`` or the sent-by host, ``rport`` or the sent-by port; None without a Via."""
    if via is None:
        return None
    rport = via.rport
    port = rport if isinstance(rport, int) and not isinstance(rport, bool) else via.port
    return (str(via.received or via.host), int(port or 5060))


def verdict(previous: PublicAddress | None, current: PublicAddress | None) -> str | None:
    """Why to register again after an answer (None: no reason)."""
    if previous is None or current is None or current == previous:
        return None
    return f"the public address changed from {_text(previous)} to {_text(current)}"


def _text(address: PublicAddress) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _ResolveOnce:
    """A resolver that asks ``resolver`` the first time and then gives the same hops again."""

    def __init__(self, resolver: RouteResolver) -> None:
        self.resolver = resolver
        self.hops: list[Hop] | None = None

    def resolve(self, uri: Any) -> Deferred[list[Hop]]:
        if self.hops is not None:
            return succeed(list(self.hops))

        def keep(hops: list[Hop]) -> list[Hop]:
            self.hops = list(hops)
            return hops

        return self.resolver.resolve(uri).addCallback(keep)


class RegistrationKeepAlive:
    """OPTIONS keep-alive of one UDP registration; see the module documentation."""

    def __init__(
        self,
        *,
        engine: EngineAPI,
        clock: ReactorTime,
        route: SIPURI,
        request_uri: SIPURI,
        from_header: FromHeader,
        interval: float,
        on_lost: Callable[[str], None],
        timeout: float = 10.0,
        resolver: RouteResolver | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"the keep-alive interval must be positive, not {interval!r}")
        self.engine = engine
        self.clock = clock
        self.route = route
        self.request_uri = request_uri
        self.from_header = from_header
        self.interval = interval
        self.timeout = min(timeout, interval)
        self.on_lost = on_lost
        self.resolver = resolver
        self._resolver: _ResolveOnce | None = None
        #: the public address the registrar last saw us from (None before the first answer)
        self.public_address: PublicAddress | None = None
        self.sent = 0  # OPTIONS sent so far
        self.answered = 0  # and answered (any response)
        self._timer: DelayedCall | None = None
        self._request: Request | None = None
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        """Send the first OPTIONS after one interval, and then every interval."""
        if not self._running:
            self._running = True
            self._timer = self.clock.callLater(self.interval, self._tick)

    def stop(self) -> None:
        """Send nothing more and forget an OPTIONS still in flight."""
        self._running = False
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self._release()

    # -- sending --------------------------------------------------------------------------------

    def _tick(self) -> None:
        self._timer = self.clock.callLater(self.interval, self._tick)
        if self._request is None:  # the previous one is still out when the timeout exceeds the interval
            self._send()

    def _send(self) -> None:
        request = Request(
            "OPTIONS",
            self.request_uri,
            self.from_header,
            ToHeader(self.request_uri),
            RouteHeader(self.route),
            engine=self.engine,
            resolver=self._resolve_once(),
        )
        self._request = request
        NotificationCenter().add_observer(self, sender=request)
        self.sent += 1
        try:
            request.send(timeout=self.timeout)
        except SIPCoreError as error:  # the engine stopped under us
            self._release()
            self._lost(f"the keep-alive OPTIONS cannot be sent: {error}")

    def use_hop(self, hop: Hop | None) -> None:
        """Send to ``hop`` (the server the registration went to) instead of resolving the route, so
        that the OPTIONS reach the registrar that holds the binding, not a failed-over-from one."""
        if hop is not None:
            self._resolve_once().hops = [hop]

    def _resolve_once(self) -> _ResolveOnce:
        if self._resolver is None:
            self._resolver = _ResolveOnce(default_resolver(self.engine, self.resolver))
        return self._resolver

    def _release(self) -> None:
        request, self._request = self._request, None
        if request is not None:
            NotificationCenter().discard_observer(self, sender=request)
            if request.state != "TERMINATED":
                request.end()

    # -- answers --------------------------------------------------------------------------------

    def handle_notification(self, notification: Notification) -> None:
        if notification.sender is not self._request or not self._running:
            return
        data: Any = notification.data
        if notification.name == "SIPRequestDidSucceed":
            self._answered(data.headers)
        elif notification.name == "SIPRequestDidFail":
            if getattr(data, "headers", None) is not None:  # a real response: the registrar is there
                self._answered(data.headers)
            else:
                self._release()
                self._lost(f"no answer to the keep-alive OPTIONS: {data.code} {data.reason}")

    def _answered(self, headers: dict[str, Any]) -> None:
        self._release()
        self.answered += 1
        vias = headers.get("Via") or []
        current = public_address(vias[0] if vias else None)
        reason = verdict(self.public_address, current)
        if current is not None:
            self.public_address = current
        if reason is not None:
            self._lost(reason)

    def _lost(self, reason: str) -> None:
        log.info("keep-alive to %s: %s", self.route, reason)
        self.stop()
        self.on_lost(reason)

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"<{type(self).__name__} {self.route} every {self.interval:g} s, {state}>"


class RegistrationWatch:
    """The re-registration triggers of one ``AccountRegistrar``; see the module documentation."""

    def __init__(self, registrar: AccountRegistrar) -> None:
        self.registrar = registrar
        self.keepalive: RegistrationKeepAlive | None = None
        self._hop: Hop | None = None  # where the registration's last answer came from
        self._watching = False

    def start(self) -> None:
        if not self._watching:
            self._watching = True
            center = NotificationCenter()
            center.add_observer(self, name="NetworkConditionsDidChange")
            center.add_observer(
                self, name="SIPEngineTransportDidChange", sender=self.registrar.runtime.engine
            )
            center.add_observer(
                self, name="SIPEngineTransportDidDisconnect", sender=self.registrar.runtime.engine
            )

    def stop(self) -> None:
        if self._watching:
            self._watching = False
            center = NotificationCenter()
            center.discard_observer(self, name="NetworkConditionsDidChange")
            center.discard_observer(
                self, name="SIPEngineTransportDidChange", sender=self.registrar.runtime.engine
            )
            center.discard_observer(
                self, name="SIPEngineTransportDidDisconnect", sender=self.registrar.runtime.engine
            )
        self.unregistered()

    # -- the registrar's hooks ------------------------------------------------------------------

    def registered(self, hop: Hop | None = None) -> None:
        """The registration succeeded (first time or refresh) through ``hop`` (the registrar's
        address, when known): keep it alive there if it goes over UDP."""
        if hop is not None:
            self._hop = hop
        if self.keepalive is not None and self.keepalive.running:
            self.keepalive.use_hop(self._hop)  # a refresh may have failed over to another server
            return
        registrar = self.registrar
        registration: Any = registrar.registration
        account: Any = registrar.account
        route = self._route_of(registration)
        interval = _keepalive_interval(account)
        if route is None or not interval:
            return
        if (route.transport if self._hop is None else self._hop.address.transport) != "udp":
            return
        runtime = registrar.runtime
        self.keepalive = RegistrationKeepAlive(
            engine=runtime.engine,
            clock=runtime.clock,
            route=route,
            request_uri=registration.registrar_uri,
            from_header=FromHeader(account.uri, account.display_name),
            interval=interval,
            on_lost=self._lost,
            timeout=runtime.keepalive_timeout,
            resolver=runtime.resolver,
        )
        self.keepalive.use_hop(self._hop)
        self.keepalive.start()

    def unregistered(self) -> None:
        """Not registered any more (failure, end, a new Registration): no keep-alive."""
        keepalive, self.keepalive = self.keepalive, None
        if keepalive is not None:
            keepalive.stop()
        if self.registrar.registration is None:
            self._hop = None  # a new Registration finds its own server

    def settings_changed(self) -> None:
        """``nat_traversal.keepalive_interval`` changed: start over with the new interval."""
        self.unregistered()
        if self.registrar.registered:
            self.registered()

    # -- triggers -------------------------------------------------------------------------------

    def handle_notification(self, notification: Notification) -> None:
        if not self._watching:
            return
        if notification.name == "NetworkConditionsDidChange":
            self.registrar.reregister("the network conditions changed")
        elif notification.name == "SIPEngineTransportDidChange":
            reason = self._transport_reason(notification.data)
            if reason is not None:
                self.registrar.reregister(reason)
        elif notification.name == "SIPEngineTransportDidDisconnect":
            reason = self._disconnect_reason(notification.data)
            if reason is not None:
                self.registrar.reregister(reason)

    def _disconnect_reason(self, data: Any) -> str | None:
        """The TCP/TLS connection the registration went over closed (RFC 5626 §4.4: the flow
        failed): the registrar may have dropped the binding with it, so register again."""
        hop = self._hop
        if hop is None or not self.registrar.registered or hop.address.transport == "udp":
            return None
        address = hop.address
        if data.transport != address.transport or data.remote_address != f"{address.host}:{address.port}":
            return None
        return f"the {address.transport} connection to the registrar {address.host}:{address.port} closed ({data.reason})"

    def _transport_reason(self, data: Any) -> str | None:
        registrar = self.registrar
        route = self._route_of(registrar.registration)
        if route is None:
            return "a transport changed and nothing was routed yet"
        if data.transport == route.transport:
            return f"the {data.transport} listener moved from {data.old_local_address} to {data.new_local_address}"
        try:
            now = registrar._route()
        except ValueError:
            return None  # nothing to move to; the registration keeps its transport
        if now.transport != route.transport:
            return f"the registrar is now reached over {now.transport} instead of {route.transport}"
        return None

    @staticmethod
    def _route_of(registration: Any) -> SIPURI | None:
        header = getattr(registration, "route_header", None)
        return None if header is None else getattr(header, "uri", header)

    def _lost(self, reason: str) -> None:
        self.keepalive = None
        self.registrar.reregister(reason)


def _keepalive_interval(account: Any) -> int:
    settings = getattr(account, "nat_traversal", None)
    return int(getattr(settings, "keepalive_interval", 0) or 0)
