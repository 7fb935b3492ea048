"""``AccountRegistrar``: keeps one account registered, and says so with ``SIPAccount...`` notifications.

Where REGISTER goes (the route):

* ``account.sip.outbound_proxy`` when it is set (its host, port and transport);
* otherwise the domain of the account id, with the first transport of
  ``SIPSimpleSettings().sip.transport_list`` that the engine listens on.

The route is handed to the core ``Registration`` together with ``runtime.resolver``: the
resolution seam. None means the core's ``HostResolver`` (IP literals, A/AAAA); an RFC 3263 resolver
(``sipsimple.lookup``) plugs in there without any change here.

Life cycle. ``start()`` creates a ``Registration`` (credentials and ``register_interval`` read from
the settings at that moment) and registers. The core refreshes it. A failure (a final negative
answer, a timeout, no route) is retried on the same Registration after a back-off:
``RegistrationBackoff.delay(n)`` for the n-th failure in a row, doubling from ``minimum`` up to
``maximum``, stretched by up to ``jitter`` so that clients that lost the same registrar do not come
back in step. A success resets the count. When the registrar comes back, the pending retry
re-registers. ``stop()`` unregisters (bounded by ``runtime.unregister_timeout`` plus one second)
and ``restart()`` is stop-then-start, used when the password, the proxy or the interval change.
``reregister(reason)`` is the same, at once whatever the back-off: ``RegistrationWatch``
(``_keepalive``) calls it when the network or the registration's transport changed, or when the UDP
keep-alive lost the NAT binding or the registrar.

Notifications (sender: the account; each has ``timestamp``): ``SIPAccountWillRegister`` (each new
Registration, before its first REGISTER), ``SIPAccountRegistrationWillRefresh``,
``SIPAccountRegistrationGotAnswer`` (``code``, ``reason``, ``registration``, ``registrar``),
``SIPAccountRegistrationDidSucceed`` (``contact_header``, ``contact_header_list``, ``expires``,
``registrar``), ``SIPAccountRegistrationDidFail`` (``error``, ``timeout``: seconds until the retry),
``SIPAccountRegistrationDidEnd`` (``registration``), ``SIPAccountRegistrationDidNotEnd`` (``code``,
``reason``, ``registration``). ``registrar`` is a ``sipsimple.util.Route``: the hop the answer
came through (address, port, transport and, for TLS, the name the certificate was checked against),
which after an RFC 3263 failover is the second server, not the first; None when no server was tried
(the route did not resolve, or the whole REGISTER timed out). ``account.contact[registrar]`` works.
"""

from __future__ import annotations

import logging
import random as _random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, succeed

from sipsimple.account._ending import BoundedEnding
from sipsimple.account._keepalive import RegistrationWatch
from sipsimple.core.primitives import Registration
from sipsimple.core.primitives.route import RouteResolver
from sipsimple.core.sip.headers import ContactHeader, FromHeader, RouteHeader
from sipsimple.core.sip.uri import SIPURI
from sipsimple.notification import Notification, NotificationCenter
from sipsimple.util import Route

if TYPE_CHECKING:
    from sipsimple.core.primitives._client import EngineAPI
    from sipsimple.util._time import DelayedCall, ReactorTime

__all__ = ["AccountRegistrar", "AccountRuntime", "RegistrationBackoff"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegistrationBackoff:
    """Retry delays after failed registrations: ``minimum * 2**(n-1)`` capped at ``maximum``, times
    a random factor in ``[1, 1 + jitter]`` (and never above ``maximum``)."""

    minimum: float = 30.0
    maximum: float = 1800.0
    jitter: float = 0.25

    def __post_init__(self) -> None:
        if not 0 < self.minimum <= self.maximum:
            raise ValueError("the back-off needs 0 < minimum <= maximum")
        if self.jitter < 0:
            raise ValueError("the jitter cannot be negative")

    def delay(self, failures: int, random: Callable[[], float] = _random.random) -> float:
        raw = min(self.maximum, self.minimum * 2 ** max(0, failures - 1))
        return min(self.maximum, raw * (1.0 + self.jitter * random()))


@dataclass
class AccountRuntime:
    """What the accounts of one AccountManager work with (all injectable for tests)."""

    engine: EngineAPI
    clock: ReactorTime  # for the back-off timers; the engine's reactor unless a test gives a Clock
    resolver: RouteResolver | None = None  # None: the core's HostResolver (RFC 3263 plugs in here)
    backoff: RegistrationBackoff = field(default_factory=RegistrationBackoff)
    random: Callable[[], float] = _random.random
    register_timeout: float | None = 30.0  # bounds one REGISTER, retransmissions and challenges included
    unregister_timeout: float = 5.0  # bounds the REGISTER with expires 0 when an account stops
    keepalive_timeout: float = 10.0  # bounds one keep-alive OPTIONS (UDP registrations)
    bonjour_interfaces: list[str] | None = None  # where the BonjourAccount uses mDNS (None: all)


def account_route(account: Any, engine: EngineAPI) -> SIPURI:
    """Where the requests of ``account`` go first (REGISTER, and SUBSCRIBE for MWI): its outbound
    proxy, else its domain over the first transport of ``SIPSimpleSettings().sip.transport_list``
    that ``engine`` listens on. ValueError when there is none, and when the configuration file
    holds an outbound proxy that could not be loaded: the user asked for a proxy, so the requests
    must not silently go to the domain instead."""
    proxy = account.sip.outbound_proxy
    if proxy is None and (stored_error := account.stored_value_error("sip.outbound_proxy")):
        raise ValueError(f"sip.outbound_proxy: {stored_error}")
    if proxy is not None:
        return SIPURI(proxy.host, port=proxy.port, parameters={"transport": proxy.transport})
    from sipsimple.configuration.settings import SIPSimpleSettings

    settings: Any = SIPSimpleSettings()
    transports = [str(name) for name in settings.sip.transport_list]
    usable = [name for name in transports if engine.local_address(name) is not None]
    if not usable:
        raise ValueError(f"the engine listens on none of the transports {transports}")
    return SIPURI(account.id.domain, parameters={"transport": usable[0]})


def route_of_hop(hop: Any) -> Route | None:
    """The ``Route`` of a core ``Hop`` (None for None)."""
    if hop is None:
        return None
    address = hop.address
    return Route(address.host, address.port, address.transport, hop.tls_name)


class _AccountRegistration(Registration):
    """A Registration that tells its account just before it refreshes itself."""

    def __init__(self, *args: Any, on_refresh: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_refresh = on_refresh

    def _refresh_due(self) -> None:
        if self.is_registered:
            self._on_refresh()
        super()._refresh_due()


class AccountRegistrar:
    """Registration of one account; see the module documentation."""

    def __init__(self, account: Any, runtime: AccountRuntime) -> None:
        self.account = account
        self.runtime = runtime
        self.registration: Registration | None = None
        self.registrar: Route | None = None  # the hop of the last answer
        self.failures = 0  # failures in a row
        self._wanted = False  # the owner wants a registration (start called, stop not)
        self._pending = False  # a REGISTER of ours waits for its answer
        self._registered = False
        self._retry: DelayedCall | None = None
        self._ending = BoundedEnding()  # the unregistration in progress, if any
        self.watch = RegistrationWatch(self)  # network/transport changes, UDP keep-alive

    @property
    def active(self) -> bool:
        return self._wanted

    @property
    def registered(self) -> bool:
        return self._registered

    # -- control --------------------------------------------------------------------------------

    def start(self) -> None:
        if self._wanted:
            return
        self._wanted = True
        self.watch.start()
        if not self._ending.in_progress:
            self._begin()
        # else: the unregistration in progress calls _begin() when it is over

    def stop(self) -> Deferred[None]:
        """Unregister; the Deferred fires when the registrar answered, or after the bound."""
        self._wanted = False
        self.watch.stop()
        return self._end()

    def restart(self) -> None:
        """Unregister, then register again with the current settings."""
        if not self._wanted:
            return
        self._end()

    def reregister(self, reason: str) -> None:
        """Register again now with a fresh Contact, skipping any back-off; the old binding is removed
        first, best effort and bounded as in ``stop()``."""
        if self._wanted:
            log.info("%s registers again: %s", self.account, reason)
            self._end()

    # -- registering ----------------------------------------------------------------------------

    def _begin(self) -> None:
        self.failures = 0
        self.registration = _AccountRegistration(
            FromHeader(self.account.uri, self.account.display_name),
            credentials=self.account.credentials,
            duration=max(1, int(self.account.sip.register_interval)),
            engine=self.runtime.engine,
            resolver=self.runtime.resolver,
            on_refresh=lambda: self._post("SIPAccountRegistrationWillRefresh"),
        )
        NotificationCenter().add_observer(self, sender=self.registration)
        self._post("SIPAccountWillRegister")
        self._register()

    def _register(self) -> None:
        self._retry = None
        if not self._wanted or self.registration is None:
            return
        try:
            route = self._route()
            contact = ContactHeader(self.account.contact[route])
        except (KeyError, ValueError) as error:
            self._failed(f"no route to the registrar: {error}")
            return
        self._pending = True
        self.registration.register(contact, RouteHeader(route), timeout=self.runtime.register_timeout)

    def _route(self) -> SIPURI:
        return account_route(self.account, self.runtime.engine)

    def _failed(self, error: str) -> None:
        self.failures += 1
        delay = self.runtime.backoff.delay(self.failures, self.runtime.random)
        self._post("SIPAccountRegistrationDidFail", error=error, timeout=delay)
        if self._wanted and not self._ending.in_progress:
            self._cancel_retry()
            self._retry = self.runtime.clock.callLater(delay, self._register)

    def _cancel_retry(self) -> None:
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None

    # -- unregistering --------------------------------------------------------------------------

    def _end(self) -> Deferred[None]:
        self._cancel_retry()
        if self._ending.in_progress:
            return self._ending.wait()
        registration = self.registration
        if registration is None:
            return succeed(None)
        if not (self._registered or self._pending):
            self._drop()
            if self._wanted:
                self._begin()
            return succeed(None)
        return self._ending.start(
            self.runtime.engine.reactor,
            self.runtime.unregister_timeout,
            lambda bound: registration.end(timeout=bound),
            self._ended,
            f"{self.account}: unregister",
        )

    def _ended(self) -> None:
        waiters = self._ending.finish()
        self._drop()
        self._ending.release(waiters)
        if self._wanted:
            self._begin()

    def _drop(self) -> None:
        if self.registration is not None:
            NotificationCenter().discard_observer(self, sender=self.registration)
        self.watch.unregistered()
        self.registration = None
        self._pending = self._registered = False

    # -- the Registration's notifications --------------------------------------------------------

    def handle_notification(self, notification: Notification) -> None:
        if notification.sender is not self.registration:
            return
        data: Any = notification.data
        name = notification.name
        if name in ("SIPRegistrationDidSucceed", "SIPRegistrationDidFail"):
            self.registrar = route_of_hop(getattr(data, "hop", None))
        if name == "SIPRegistrationDidSucceed":
            self._pending, self._registered, self.failures = False, True, 0
            self.watch.registered(getattr(data, "hop", None))
            self._answer(data.code, data.reason)
            self._post(
                "SIPAccountRegistrationDidSucceed",
                contact_header=data.contact_header,
                contact_header_list=data.contact_header_list,
                expires=data.expires,
                registrar=self.registrar,
            )
        elif name == "SIPRegistrationDidFail":
            self._pending = False
            self._registered = bool(self.registration and self.registration.is_registered)
            self.watch.unregistered()
            self._answer(data.code, data.reason)
            self._failed(f"{data.code} {data.reason}")
        elif name == "SIPRegistrationDidEnd":
            self._pending = self._registered = False
            self.watch.unregistered()
            if self._ending.in_progress:
                self._post("SIPAccountRegistrationDidEnd", registration=notification.sender)
                self._ended()
            # else: the binding expired after failed refreshes; the pending retry registers again
        elif name == "SIPRegistrationDidNotEnd" and self._ending.in_progress:
            self._post(
                "SIPAccountRegistrationDidNotEnd",
                code=data.code,
                reason=data.reason,
                registration=notification.sender,
            )
            self._ended()

    def _answer(self, code: int, reason: str) -> None:
        self._post(
            "SIPAccountRegistrationGotAnswer",
            code=code,
            reason=reason,
            registration=self.registration,
            registrar=self.registrar,
        )

    def _post(self, name: str, **attributes: Any) -> None:
        self.account._post_(name, **attributes)
