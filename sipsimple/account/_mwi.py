"""``AccountMWI``: the message-summary subscription of one account (RFC 3842 message waiting).

While the account is active and ``message_summary.enabled`` is set, the account is subscribed to
the ``message-summary`` event of ``message_summary.voicemail_uri`` (its own address when that is
None). The SUBSCRIBE takes the registration's route (``account_route``: the outbound proxy, else
the account's domain, resolved by ``runtime.resolver``), the account's credentials, and
``sip.subscribe_interval`` as its expiry; ``Accept: application/simple-message-summary`` comes from
the engine's event table (added here when the table lacks it). The core ``Subscription`` does the
rest of RFC 6665: refreshes, re-subscribing after ``deactivated``/``timeout``/``probation``.

Each NOTIFY with a body that parses as a ``MessageSummary`` posts ``SIPAccountMWIDidGetSummary``
(sender: the account; ``timestamp``, ``message_summary``); the latest one is ``message_summary``.
A body that does not parse, or of another content type, is logged and posts nothing; a NOTIFY
without a body (pending) is ignored. The final NOTIFY answering our own unsubscribe (``stop()``,
``restart()``) is not posted; the final NOTIFY of a server that ends the subscription is.

Failures. A subscription that fails (a final error, no NOTIFY after the 2xx, no route) or that the
server ends (``terminated`` with ``rejected``/``noresource``/``giveup``/no reason, a refresh lost)
is started again after ``runtime.backoff.delay(n)`` for the n-th failure in a row, on
``runtime.clock``: the registration's back-off. A summary received resets the count, so a server
that accepts and drops subscriptions without ever sending a summary backs off as for failures.
An answer of ``NOT_SUPPORTED`` (489 Bad Event, 405, 409, 501) means the server has no MWI: the
subscriber logs it, keeps the reason in ``unsupported`` and stops retrying until a setting that
re-subscribes changes or the account activates again.

Life cycle. ``start()`` subscribes; ``stop()`` unsubscribes (Expires: 0 and the final NOTIFY),
bounded by ``runtime.unregister_timeout`` plus one second, and returns a Deferred that fires then;
``restart()`` is stop-then-start with the current settings. ``settings_changed(modified)``, called
by the account after each save, does what a change means: ``message_summary.enabled`` starts or
stops, a change of ``RESUBSCRIBE_SETTINGS`` restarts. Everything runs on the reactor thread.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, succeed

from sipsimple.account._ending import BoundedEnding
from sipsimple.account._registrar import account_route
from sipsimple.core._errors import SIPCoreError
from sipsimple.core.primitives import Subscription
from sipsimple.core.sip.headers import ContactHeader, FromHeader, Header, RouteHeader, ToHeader
from sipsimple.core.sip.uri import SIPURI
from sipsimple.notification import Notification, NotificationCenter
from sipsimple.payloads import ParserError
from sipsimple.payloads.messagesummary import CONTENT_TYPE, MessageSummary

if TYPE_CHECKING:
    from sipsimple.account._registrar import AccountRuntime
    from sipsimple.util._time import DelayedCall

__all__ = ["EVENT", "NOT_SUPPORTED", "RESUBSCRIBE_SETTINGS", "AccountMWI"]

log = logging.getLogger(__name__)

EVENT = "message-summary"

#: Answers meaning that the server does not do MWI: retrying would not help.
NOT_SUPPORTED = frozenset({405, 409, 489, 501})

#: Settings whose change makes an active subscription start again.
RESUBSCRIBE_SETTINGS = frozenset(
    {
        "message_summary.voicemail_uri",
        "auth.username",
        "auth.password",
        "display_name",
        "sip.outbound_proxy",
        "sip.subscribe_interval",
    }
)


class AccountMWI:
    """The message-summary subscription of one account; see the module documentation."""

    def __init__(self, account: Any, runtime: AccountRuntime) -> None:
        self.account = account
        self.runtime = runtime
        self.subscription: Subscription | None = None
        self.route: SIPURI | None = None
        self.failures = 0  # failures in a row
        self.message_summary: MessageSummary | None = None  # the latest summary received
        self.unsupported: str | None = None  # the answer that said the server has no MWI
        self._wanted = False
        self._retry: DelayedCall | None = None
        self._ending = BoundedEnding()  # the unsubscription in progress, if any
        self._watch = _ChangeWatch(self)

    @property
    def active(self) -> bool:
        """True between start() and stop()."""
        return self._wanted

    @property
    def subscribed(self) -> bool:
        """True while the server has accepted the subscription (pending or active)."""
        return self.subscription is not None and self.subscription.state in ("PENDING", "ACTIVE")

    # -- control --------------------------------------------------------------------------------

    def start(self) -> None:
        if self._wanted:
            return
        self._wanted = True
        self.unsupported = None
        self._watch.start()
        if not self._ending.in_progress:
            self._begin()
        # else: the unsubscription in progress calls _begin() when it is over

    def stop(self) -> Deferred[None]:
        """Unsubscribe; the Deferred fires once the server confirmed, or after the bound."""
        self._wanted = False
        self._watch.stop()
        return self._end()

    def restart(self) -> None:
        """Unsubscribe, then subscribe again with the current settings."""
        if not self._wanted:
            return
        self.unsupported = None
        self.failures = 0
        self._end()

    def settings_changed(self, modified: Any) -> None:
        """Apply a save of the account's settings (``modified``: the changed dotted names)."""
        settings: Any = self.account
        if not settings.message_summary.enabled:
            if self._wanted:
                self.stop()
        elif not self._wanted:
            self.start()
        elif RESUBSCRIBE_SETTINGS.intersection(modified):
            self.restart()

    # -- subscribing ----------------------------------------------------------------------------

    def _target(self) -> SIPURI:
        voicemail: Any = self.account.message_summary.voicemail_uri
        if voicemail is None:
            return self.account.uri
        return SIPURI(voicemail.domain, user=voicemail.username)

    def _begin(self) -> None:
        self._retry = None
        if not self._wanted or self._ending.in_progress or self.subscription is not None:
            return
        engine = self.runtime.engine
        try:
            route = account_route(self.account, engine)
            contact = ContactHeader(self.account.contact[route])
        except (KeyError, ValueError) as error:
            self._failed(f"no route for the subscription: {error}")
            return
        target = self._target()
        events: dict[str, list[str]] = getattr(engine, "events", {})
        extra = [] if events.get(EVENT) else [Header("Accept", CONTENT_TYPE)]
        subscription = Subscription(
            target,
            FromHeader(self.account.uri, self.account.display_name),
            ToHeader(target),
            contact,
            EVENT,
            RouteHeader(route),
            credentials=self.account.credentials,
            refresh=max(1, int(self.account.sip.subscribe_interval)),
            extra_headers=extra,
            engine=engine,  # type: ignore[arg-type]
            resolver=self.runtime.resolver,
        )
        self.subscription, self.route = subscription, route
        NotificationCenter().add_observer(self, sender=subscription)
        try:
            subscription.subscribe(timeout=self.runtime.register_timeout)
        except SIPCoreError as error:
            self._drop()
            self._failed(f"cannot subscribe: {error}")

    def _failed(self, error: str) -> None:
        self.failures += 1
        delay = self.runtime.backoff.delay(self.failures, self.runtime.random)
        log.info(
            "%s: message summary subscription failed (%s); again in %.0f s", self.account.id, error, delay
        )
        if self._wanted and not self._ending.in_progress:
            self._cancel_retry()
            self._retry = self.runtime.clock.callLater(delay, self._begin)

    def _lost(self, code: int | None, reason: str | None) -> None:
        self._drop()
        if code in NOT_SUPPORTED:
            self.unsupported = f"{code} {reason}"
            log.warning(
                "%s: the server does not support message summaries (%s %s); not subscribing again",
                self.account.id,
                code,
                reason,
            )
            return
        self._failed(f"{code} {reason}" if code is not None else f"ended by the server ({reason})")

    def _cancel_retry(self) -> None:
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None

    # -- unsubscribing --------------------------------------------------------------------------

    def _end(self) -> Deferred[None]:
        self._cancel_retry()
        if self._ending.in_progress:
            return self._ending.wait()
        subscription = self.subscription
        if subscription is None:
            if self._wanted:
                self._begin()
            return succeed(None)
        return self._ending.start(
            self.runtime.engine.reactor,
            self.runtime.unregister_timeout,
            lambda bound: subscription.end(timeout=bound),
            self._ended,
            f"{self.account.id}: unsubscribe from message summaries",
        )

    def _ended(self) -> None:
        waiters = self._ending.finish()
        self._drop()
        self._ending.release(waiters)
        if self._wanted:
            self._begin()

    def _drop(self) -> None:
        if self.subscription is not None:
            NotificationCenter().discard_observer(self, sender=self.subscription)
        self.subscription = None

    # -- the Subscription's notifications --------------------------------------------------------

    def handle_notification(self, notification: Notification) -> None:
        if notification.sender is not self.subscription:
            return
        data: Any = notification.data
        name = notification.name
        if name == "SIPSubscriptionGotNotify":
            self._got_notify(data.body, data.content_type)
        elif name == "SIPSubscriptionDidFail":
            if self._ending.in_progress:
                self._ended()
            else:
                self._lost(data.code, data.reason)
        elif name == "SIPSubscriptionDidEnd":
            if self._ending.in_progress or data.originator == "local":
                self._ended()
            else:
                self._lost(data.code, data.reason)

    def _got_notify(self, body: bytes | None, content_type: str | None) -> None:
        if not body:
            return  # a pending subscription, or a server with nothing to say yet
        if content_type is not None and content_type.lower() != CONTENT_TYPE:
            log.warning("%s: ignored a message-summary NOTIFY of type %s", self.account.id, content_type)
            return
        try:
            summary = MessageSummary.parse(body)
        except ParserError as error:
            log.warning("%s: ignored a message summary that does not parse: %s", self.account.id, error)
            return
        self.message_summary = summary
        self.failures = 0
        if (
            self._wanted and not self._ending.in_progress
        ):  # the final NOTIFY of our own unsubscribe is no news
            self.account._post_("SIPAccountMWIDidGetSummary", message_summary=summary)


class _ChangeWatch:
    """Subscribes again (a new Contact) when the network conditions change or one of the engine's
    listeners moves: the server would otherwise keep sending NOTIFYs to the old address."""

    NAMES = ("NetworkConditionsDidChange", "SIPEngineTransportDidChange")

    def __init__(self, mwi: AccountMWI) -> None:
        self.mwi = mwi
        self._watching = False

    def start(self) -> None:
        if not self._watching:
            self._watching = True
            center = NotificationCenter()
            center.add_observer(self, name=self.NAMES[0])
            center.add_observer(self, name=self.NAMES[1], sender=self.mwi.runtime.engine)

    def stop(self) -> None:
        if self._watching:
            self._watching = False
            center = NotificationCenter()
            center.discard_observer(self, name=self.NAMES[0])
            center.discard_observer(self, name=self.NAMES[1], sender=self.mwi.runtime.engine)

    def handle_notification(self, notification: Notification) -> None:
        if self._watching and self.mwi.subscription is not None:
            log.info("%s: %s: subscribing to message summaries again", self.mwi.account.id, notification.name)
            self.mwi.restart()
