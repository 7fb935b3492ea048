"""An in-test conference focus (RFC 4579) on its own SIPEngine.

* INVITEs: a SessionManager with the fake stream accepts every call (optionally answering with
  ``isfocus`` in its Contact, RFC 4579 §3).
* SUBSCRIBE (Event: conference): an IncomingSubscription, accepted with the focus's full
  conference-info document (or rejected with the next code of ``subscribe_answers``); a
  refreshing SUBSCRIBE is answered with a new full document, as RFC 4575 asks of a notifier.
  ``add_user``/``remove_user`` change the state and send a partial document; ``push`` sends any
  document or raw body (one NOTIFY each, in order); ``end_subscriptions`` ends them from the
  focus side.
* REFER: an IncomingReferral, answered by the script for its Refer-To URI in
  ``refer_scripts_by_target``, else the next one of ``refer_scripts``: ``("reject", 403)`` or
  ``("accept", [180, 200])`` (202, the 100 Trying NOTIFY, then one NOTIFY per code,
  each sent when the previous one was answered).
* ``requests``: (method, Event header or None) of every request the focus received, from the
  engine's SIP trace, so a test can see what did (not) reach the wire.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from sipsimple.core.engine import SIPEngine
from sipsimple.core.primitives import install_incoming_handlers
from sipsimple.notification import Notification, NotificationCenter
from sipsimple.payloads.conference import (
    CONTENT_TYPE,
    Conference,
    ConferenceState,
    Endpoint,
    User,
    Users,
)
from sipsimple.session import SessionManagerBase
from sipsimple.streams import MediaStreamRegistryBase
from tests.support.accounts import Accounts, StandInAccount

_METHOD = re.compile(rb"^([A-Z]+) ")
_EVENT = re.compile(rb"^(?:Event|o)[ \t]*:[ \t]*([A-Za-z0-9.\-]+)", re.IGNORECASE | re.MULTILINE)


class Focus:
    """See the module documentation. ``loop`` turns the shared reactor."""

    entity = "sip:conf@example.test"

    def __init__(
        self, engine: SIPEngine, registry: MediaStreamRegistryBase, *, contact_is_focus: bool = True
    ) -> None:
        self.engine = engine
        self.account = StandInAccount("conf", engine)
        self.manager = SessionManagerBase(
            engine=engine, account_manager=Accounts(self.account), registry=registry
        )
        self.manager.start()
        install_incoming_handlers(engine)
        self.contact_is_focus = contact_is_focus
        self.sessions: list[Any] = []
        self.subscriptions: list[Any] = []  # IncomingSubscriptions, newest last
        self.subscribe_data: list[Any] = []  # the GotSubscribe data (request_uri, headers...)
        self.subscribe_answers: list[int] = []  # codes to reject the next SUBSCRIBEs with
        self.refreshes = 0
        self._queue: list[bytes] = []
        self.unsubscribes = 0
        self.referrals: list[Any] = []
        self.refer_scripts: list[tuple[str, Any]] = []
        self.refer_scripts_by_target: dict[str, tuple[str, Any]] = {}  # str(Refer-To URI) -> script
        self._pending_codes: dict[Any, list[int]] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.version = 0
        self.state = Conference(
            self.entity, "full", None, conference_state=ConferenceState(user_count=0, active=True, locked=False),
            users=Users(()),
        )  # fmt: skip
        center = NotificationCenter()
        center.add_observer(self, name="SIPSessionNewIncoming")
        center.add_observer(self, name="SIPEngineSIPTrace", sender=engine)
        for name in ("GotSubscribe", "GotRefreshingSubscribe", "GotUnsubscribe"):
            center.add_observer(self, name="SIPIncomingSubscription" + name)
        center.add_observer(self, name="SIPIncomingReferralGotRefer")
        center.add_observer(self, name="SIPIncomingReferralNotifyDidSucceed")
        center.add_observer(self, name="SIPIncomingSubscriptionNotifyDidSucceed")

    # -- documents ---------------------------------------------------------------------------

    def next_version(self) -> int:
        self.version += 1
        return self.version

    def full_document(self) -> bytes:
        return replace(self.state, state="full", version=self.next_version()).to_xml()

    def _partial(self, users: Users, user_count: int) -> bytes:
        document = Conference(
            self.entity, "partial", self.next_version(), conference_state=replace(
                self.state.conference_state, user_count=user_count), users=users,
        )  # fmt: skip
        return document.to_xml()

    def add_user(self, entity: str, status: str = "connected") -> None:
        """A new participant: the focus's state changes and a partial document goes out."""
        user = User(entity, "full", endpoints=(Endpoint(entity, "full", status=status),))
        assert self.state.users is not None and self.state.conference_state is not None
        users = replace(self.state.users, entries=(*self.state.users.entries, user))
        count = len(users)
        self.state = replace(
            self.state, users=users, conference_state=replace(self.state.conference_state, user_count=count)
        )
        self.push(self._partial(Users((user,), "partial"), count))

    def remove_user(self, entity: str) -> None:
        assert self.state.users is not None and self.state.conference_state is not None
        users = replace(self.state.users, entries=tuple(u for u in self.state.users if u.entity != entity))
        count = len(users)
        self.state = replace(
            self.state, users=users, conference_state=replace(self.state.conference_state, user_count=count)
        )
        self.push(self._partial(Users((User(entity, "deleted"),), "partial"), count))

    def push(self, body: bytes) -> None:
        """Send ``body`` (any bytes) as the state of the newest subscription, once the NOTIFYs
        before it were answered (the core sends only the newest of states pushed meanwhile)."""
        self._queue.append(body)
        self._next_body()

    def _next_body(self) -> None:
        subscription = self.subscriptions[-1]
        if self._queue and subscription._notifying is None and subscription.state == "ACTIVE":
            subscription.push_content(CONTENT_TYPE, self._queue.pop(0))

    def end_subscriptions(self, reason: str = "noresource") -> None:
        for subscription in self.subscriptions:
            subscription.end(reason)

    # -- notifications -----------------------------------------------------------------------

    def handle_notification(self, notification: Notification) -> None:
        name, sender, data = notification.name, notification.sender, notification.data
        if name == "SIPEngineSIPTrace":
            self._trace(data)
        elif name == "SIPSessionNewIncoming" and sender in self.manager.sessions:
            self.sessions.append(sender)
            sender.accept(sender.proposed_streams, is_focus=self.contact_is_focus)
        elif getattr(sender, "engine", None) is not self.engine:
            return
        elif name == "SIPIncomingSubscriptionGotSubscribe":
            self.subscriptions.append(sender)
            self.subscribe_data.append(data)
            if self.subscribe_answers:
                sender.reject(self.subscribe_answers.pop(0))
            else:
                sender.accept(CONTENT_TYPE, self.full_document())
        elif name == "SIPIncomingSubscriptionGotRefreshingSubscribe":
            self.refreshes += 1
            sender.content = self.full_document()  # the NOTIFY that follows carries full state
        elif name == "SIPIncomingSubscriptionNotifyDidSucceed":
            if sender is self.subscriptions[-1]:
                self._next_body()
        elif name == "SIPIncomingSubscriptionGotUnsubscribe":
            self.unsubscribes += 1
        elif name == "SIPIncomingReferralGotRefer":
            self.referrals.append(sender)
            target = str(sender.refer_to_header.uri)
            if target in self.refer_scripts_by_target:
                action, argument = self.refer_scripts_by_target[target]
            else:
                action, argument = self.refer_scripts.pop(0) if self.refer_scripts else ("accept", [200])
            if action == "reject":
                sender.reject(argument)
            else:
                self._pending_codes[sender] = list(argument)
                sender.accept()
        elif name == "SIPIncomingReferralNotifyDidSucceed":
            codes = self._pending_codes.get(sender)
            if codes:
                sender.send_notify(codes.pop(0))

    def _trace(self, data: Any) -> None:
        if not data.received:
            return
        method = _METHOD.match(data.data)
        if method is None:  # a response
            return
        event = _EVENT.search(data.data.split(b"\r\n\r\n", 1)[0])
        self.requests.append((method.group(1).decode(), None if event is None else event.group(1).decode()))

    def received(self, method: str, event: str | None = None) -> int:
        """How many ``method`` requests (with this Event, when given) reached the focus."""
        return sum(1 for m, e in self.requests if m == method and (event is None or e == event))


def focus_engine(loop: Any) -> SIPEngine:
    """A started engine that accepts ``conference`` subscriptions and traces its messages."""
    engine = SIPEngine(reactor=loop.reactor)
    engine.start(
        ip_address="127.0.0.1", udp_port=0, tcp_port=0, incoming_events={"conference"}, trace_sip=True
    )
    return engine
