"""`ConferenceHandler`: a session with a conference focus (RFC 4579), its ``conference`` event
subscription (RFC 4575) and the participants added or removed through it.

The Session creates the handler when the peer is a focus: its Contact (in the INVITE or in the
answer) carries the ``isfocus`` parameter (RFC 4579 §3). ``connect(..., is_focus=True)`` and
``accept(..., is_focus=True)`` say the opposite: that *we* are the focus (``isfocus`` in our own
Contact). The conference URI is the focus's Contact URI (the remote identity's URI if a caller
makes a handler without one). Requests go there
through the session's route (the INVITE's outbound route; for an incoming session the focus's
Contact itself), from the account's identity, with its credentials.

Rules (the handler follows the Session's notifications; every reaction is on the reactor thread):

* SIPSessionDidStart -> SUBSCRIBE (Event: conference, Accept: application/conference-info+xml).
  The core ``Subscription`` refreshes it and starts again after ``deactivated``/``timeout``.
* Each NOTIFY with a conference-info body goes through a ``ConferenceTracker``: an applied
  document posts SIPSessionGotConferenceInfo (``conference_info``: the merged ``Conference``); an
  old or repeated version is ignored; a skipped version refreshes the subscription once (the
  focus answers with full state). A body that does not parse is logged and ignored. A NOTIFY from
  a new subscription dialog (another Call-ID) starts the state afresh.
* The subscription failed, or was lost (a refresh answered with an error, a ``giveup``) while the
  session runs -> subscribe again after ``retry_delay(n)`` seconds (the n-th failure in a row:
  ``retry_minimum * 2**(n-1)``, at most ``retry_maximum``) on ``clock``. The focus ending it with
  another reason (``noresource``, ``rejected``...) is final: no new SUBSCRIBE.
* SIPSessionWillEnd (or DidEnd/DidFail) -> no more retries, the subscription is ended (Expires: 0).
* ``add_participant(uri)`` / ``remove_participant(uri)``: a REFER to the conference URI whose
  Refer-To is the participant (with ``method=BYE`` to remove, RFC 4579 §5.5/§5.8). The sipfrag
  NOTIFYs give SIPConferenceGotAdd/RemoveParticipantProgress for 1xx, then one final
  SIPConferenceDidAdd/RemoveParticipant for a 2xx or SIPConferenceDidNotAdd/RemoveParticipant
  (``code``, ``reason``) for a failure, a refused REFER, or an end without a final status
  (``code`` 0 then, unless the core gave one).

All notifications have the Session as sender and a ``timestamp``.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import Any

from sipsimple.core.primitives.referral import Referral
from sipsimple.core.primitives.subscription import Subscription
from sipsimple.core.sip.headers import ContactHeader, FromHeader, Header, ReferToHeader, RouteHeader, ToHeader
from sipsimple.core.sip.uri import SIPURI, BaseSIPURI
from sipsimple.notification import Notification, NotificationCenter
from sipsimple.payloads import ParserError
from sipsimple.payloads.conference import CONTENT_TYPE, Conference, ConferenceTracker, Verdict

from ._state import SessionStateError

__all__ = ["ConferenceHandler", "is_focus_contact"]

log = logging.getLogger(__name__)

EVENT = "conference"
SESSION_EVENTS = ("SIPSessionDidStart", "SIPSessionWillEnd", "SIPSessionDidEnd", "SIPSessionDidFail")
SUBSCRIPTION_EVENTS = ("SIPSubscriptionGotNotify", "SIPSubscriptionDidFail", "SIPSubscriptionDidEnd")
REFERRAL_EVENTS = ("SIPReferralGotNotify", "SIPReferralDidFail", "SIPReferralDidEnd")
#: Subscription-State reasons after which the focus may be asked again (RFC 6665 §4.1.3).
RETRY_REASONS = frozenset({"giveup", "probation", "deactivated", "timeout"})
#: Notification names of the two REFER operations: (progress, success, failure).
OPERATIONS = {
    "add": ("SIPConferenceGotAddParticipantProgress", "SIPConferenceDidAddParticipant",
            "SIPConferenceDidNotAddParticipant"),
    "remove": ("SIPConferenceGotRemoveParticipantProgress", "SIPConferenceDidRemoveParticipant",
               "SIPConferenceDidNotRemoveParticipant"),
}  # fmt: skip


def is_focus_contact(contact: Any) -> bool:
    """Whether a Contact header carries the RFC 4579 ``isfocus`` parameter."""
    parameters = getattr(contact, "parameters", None) or {}
    return any(name.lower() == "isfocus" for name in parameters)


@dataclass
class _Operation:
    """A REFER in progress: what it does and to whom."""

    action: str  # 'add' or 'remove'
    participant: Any


class ConferenceHandler:
    """Internal to the Session (``session.conference``); see the module documentation."""

    refresh = 600  # seconds asked for in the SUBSCRIBE
    retry_minimum = 5.0
    retry_maximum = 300.0

    def __init__(self, session: Any, *, clock: Any = None) -> None:
        self._session = weakref.ref(session)
        self._holding: Any = session  # see ``session`` and ``_release_when_idle``
        self._session_over = False  # the session ended or failed
        self.clock = clock if clock is not None else session.engine.reactor
        self.tracker = ConferenceTracker()
        self.subscription: Subscription | None = None
        self.failures = 0  # subscription failures in a row
        self._call_id: str | None = None  # the dialog the tracked state came from
        self._awaiting_full = False
        self._running = False  # the session started and is not ending
        self._retry: Any = None
        self._referrals: dict[Any, _Operation] = {}
        center = NotificationCenter()
        for name in SESSION_EVENTS:
            center.add_observer(self, name=name, sender=session)

    def __repr__(self) -> str:
        return f"<ConferenceHandler {self.session!r} subscription={self.subscription!r}>"

    @property
    def session(self) -> Any:
        """The session this handler serves (it owns the handler as ``session.conference``).
        Held strongly while the handler may still post for it, weakly once it is idle."""
        return self._session()

    def _release_when_idle(self) -> None:
        """After the session ended, once no subscription or REFER of ours is left, nothing will
        be posted for the session any more: the strong reference goes. Kept, it would make the
        session and its handler a reference cycle that only the cyclic collector frees."""
        subscription = self.subscription
        idle = subscription is None or subscription.state in ("NULL", "TERMINATED")
        if self._session_over and idle and not self._referrals:
            self._holding = None

    @property
    def conference_info(self) -> Conference | None:
        """The latest merged conference state (None before the first full NOTIFY)."""
        return self.tracker.conference

    # -- the public API ----------------------------------------------------------------------

    def add_participant(self, participant_uri: Any) -> None:
        """Ask the focus (REFER) to invite ``participant_uri`` into the conference."""
        self._refer("add", participant_uri)

    def remove_participant(self, participant_uri: Any) -> None:
        """Ask the focus (REFER, Refer-To with ``method=BYE``) to remove ``participant_uri``."""
        self._refer("remove", participant_uri)

    # -- where requests go -------------------------------------------------------------------

    def _conference_uri(self) -> Any:
        contact = self.session._invitation.remote_contact
        if is_focus_contact(contact):
            return contact.uri
        return self.session.remote_identity.uri

    def _route(self) -> Any:
        route = getattr(self.session._invitation, "route_header", None)
        if route is not None:
            return route
        return RouteHeader(self.session._invitation.remote_contact.uri)

    def _identity(self) -> tuple[Any, Any, Any]:
        """From, Contact and credentials of our requests."""
        account = self.session.account
        contact = ContactHeader(account.contact[self.session.transport or "udp"])
        sender = FromHeader(account.uri, getattr(account, "display_name", None))
        return sender, contact, getattr(account, "credentials", None)

    # -- the session's notifications ---------------------------------------------------------

    def handle_notification(self, notification: Notification) -> None:
        handler = getattr(self, "_NH_" + notification.name, None)
        if handler is not None:
            handler(notification)
            self._release_when_idle()  # after the handler: it may have posted for the session

    def _NH_SIPSessionDidStart(self, notification: Notification) -> None:
        if notification.sender is not self.session:
            return
        self._running = True
        self._subscribe()

    def _NH_SIPSessionWillEnd(self, notification: Notification) -> None:
        if notification.sender is self.session:
            self._stop()

    def _NH_SIPSessionDidEnd(self, notification: Notification) -> None:
        if notification.sender is self.session:
            self._stop()
            self._forget_session()

    _NH_SIPSessionDidFail = _NH_SIPSessionDidEnd

    def _stop(self) -> None:
        self._running = False
        self._cancel_retry()
        subscription = self.subscription
        if subscription is not None and subscription.state not in ("NULL", "TERMINATED"):
            subscription.end()

    def _forget_session(self) -> None:
        center = NotificationCenter()
        for name in SESSION_EVENTS:
            center.discard_observer(self, name=name, sender=self.session)
        self._session_over = True

    # -- the subscription --------------------------------------------------------------------

    def _subscribe(self) -> None:
        self._retry = None
        if not self._running or self.subscription is not None:
            return
        engine = self.session.engine
        try:
            target = self._conference_uri()
            sender, contact, credentials = self._identity()
            route = self._route()
        except (AttributeError, KeyError, ValueError) as error:
            log.warning("%r: cannot subscribe to the conference: %s", self, error)
            return
        events: dict[str, list[str]] = getattr(engine, "events", {})
        extra = [] if events.get(EVENT) else [Header("Accept", CONTENT_TYPE)]
        subscription = Subscription(
            target, sender, ToHeader(target), contact, EVENT, route, credentials=credentials,
            refresh=self.refresh, extra_headers=extra, engine=engine,
        )  # fmt: skip
        self.subscription = subscription
        self._awaiting_full = False
        center = NotificationCenter()
        for name in SUBSCRIPTION_EVENTS:
            center.add_observer(self, name=name, sender=subscription)
        try:
            subscription.subscribe()
        except Exception as error:  # the engine stopped, a bad header: retried later
            log.warning("%r: SUBSCRIBE failed: %s", self, error)
            self._drop_subscription()
            self._failed()

    def _drop_subscription(self) -> None:
        if self.subscription is not None:
            center = NotificationCenter()
            for name in SUBSCRIPTION_EVENTS:
                center.discard_observer(self, name=name, sender=self.subscription)
        self.subscription = None

    def retry_delay(self, failures: int) -> float:
        """Seconds before subscribing again after ``failures`` failures in a row."""
        return float(min(self.retry_maximum, self.retry_minimum * 2 ** max(0, failures - 1)))

    def _failed(self) -> None:
        if not self._running:
            return
        self.failures += 1
        delay = self.retry_delay(self.failures)
        log.info("%r: conference subscription lost; again in %g s", self, delay)
        self._cancel_retry()
        self._retry = self.clock.callLater(delay, self._subscribe)

    def _cancel_retry(self) -> None:
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None

    def _NH_SIPSubscriptionGotNotify(self, notification: Notification) -> None:
        if notification.sender is not self.subscription:
            return
        data: Any = notification.data
        content_type = (data.content_type or "").lower()
        if not data.body or content_type != CONTENT_TYPE:
            return  # a pending or final NOTIFY without state, or something we did not ask for
        self.failures = 0
        try:
            document = Conference.parse(data.body)
        except ParserError as error:
            log.warning("%r: ignored a NOTIFY with a bad conference-info body: %s", self, error)
            return
        call_id = getattr(notification.sender, "call_id", None)
        if call_id != self._call_id:
            self._call_id = call_id
            self.tracker.reset()
        verdict = self.tracker.receive(document)
        if verdict is Verdict.APPLIED:
            self._awaiting_full = False
            self.session._post("SIPSessionGotConferenceInfo", conference_info=self.tracker.conference)
        elif verdict is Verdict.NEEDS_FULL_STATE:
            log.info(
                "%r: conference-info version %s skips one: asking for full state", self, document.version
            )
            self._ask_full_state()
        else:
            log.debug("%r: ignored conference-info version %s", self, document.version)

    def _ask_full_state(self) -> None:
        subscription = self.subscription
        if self._awaiting_full or subscription is None or not self._running:
            return
        self._awaiting_full = True
        try:
            subscription.subscribe()  # a refresh: the focus answers it with a full NOTIFY
        except Exception as error:
            log.warning("%r: could not refresh the conference subscription: %s", self, error)

    def _NH_SIPSubscriptionDidFail(self, notification: Notification) -> None:
        if notification.sender is not self.subscription:
            return
        data: Any = notification.data
        log.info("%r: conference subscription failed: %s %s", self, data.code, data.reason)
        self._drop_subscription()
        self._failed()

    def _NH_SIPSubscriptionDidEnd(self, notification: Notification) -> None:
        if notification.sender is not self.subscription:
            return
        data: Any = notification.data
        self._drop_subscription()
        if data.originator == "remote" and (data.code is not None or data.reason in RETRY_REASONS):
            self._failed()
        elif data.originator == "remote":
            log.info("%r: the focus ended the conference subscription (%s)", self, data.reason)

    # -- REFERs ------------------------------------------------------------------------------

    def _refer(self, action: str, participant_uri: Any) -> None:
        session = self.session
        if session is None or session.state not in ("connected", "sending_proposal", "received_proposal"):
            state = "freed" if session is None else session.state
            raise SessionStateError(f"cannot {action} a participant in session state {state!r}")
        target = _as_uri(participant_uri)
        refer_to = SIPURI.new(target) if isinstance(target, BaseSIPURI) else target
        if action == "remove":
            refer_to.parameters["method"] = "BYE"
        uri = self._conference_uri()
        sender, contact, credentials = self._identity()
        referral = Referral(
            uri, sender, ToHeader(uri), ReferToHeader(refer_to), contact, self._route(),
            credentials=credentials, engine=self.session.engine,
        )  # fmt: skip
        self._referrals[referral] = _Operation(action, participant_uri)
        center = NotificationCenter()
        for name in REFERRAL_EVENTS:
            center.add_observer(self, name=name, sender=referral)
        try:
            referral.send_refer()
        except Exception:
            self._forget_referral(referral)
            raise

    def _forget_referral(self, referral: Any) -> _Operation | None:
        center = NotificationCenter()
        for name in REFERRAL_EVENTS:
            center.discard_observer(self, name=name, sender=referral)
        return self._referrals.pop(referral, None)

    def _NH_SIPReferralGotNotify(self, notification: Notification) -> None:
        operation = self._referrals.get(notification.sender)
        data: Any = notification.data
        if operation is None or data.code is None:
            return
        progress, success, failure = OPERATIONS[operation.action]
        if data.code < 200:
            self.session._post(
                progress, participant=operation.participant, code=data.code, reason=data.reason
            )
            return
        self._forget_referral(notification.sender)
        if data.code < 300:
            self.session._post(success, participant=operation.participant)
        else:
            self.session._post(failure, participant=operation.participant, code=data.code, reason=data.reason)

    def _NH_SIPReferralDidFail(self, notification: Notification) -> None:
        operation = self._forget_referral(notification.sender)
        if operation is not None:
            data: Any = notification.data
            failure = OPERATIONS[operation.action][2]
            self.session._post(failure, participant=operation.participant, code=data.code, reason=data.reason)

    def _NH_SIPReferralDidEnd(self, notification: Notification) -> None:
        operation = self._forget_referral(notification.sender)
        if operation is not None:
            data: Any = notification.data
            failure = OPERATIONS[operation.action][2]
            reason = data.reason or "the focus ended the REFER without a final status"
            self.session._post(failure, participant=operation.participant, code=data.code or 0, reason=reason)


def _as_uri(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("<") and text.endswith(">"):
            text = text[1:-1]
        return SIPURI.parse(text if ":" in text else f"sip:{text}")
    return getattr(value, "uri", value)
