"""`Session`: one SIP session with its media streams, over a core `Invitation`.

Threading: every method runs on the engine's reactor thread, and the session is an explicit state
machine (``_state.py``) driven by the Invitation's and the streams' notifications, which are
posted on that thread. Nothing blocks: where the reference waits in a green thread for the streams
(initialise, start), a `StreamBarrier` calls back once they answered, or after ``stream_timeout``.
See docs/session.md."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sipsimple.core.primitives.invitation import Invitation
from sipsimple.core.sip.headers import ContactHeader, FromHeader, Header, RouteHeader
from sipsimple.notification import Notification, NotificationCenter, NotificationData
from sipsimple.util import ISOTimestamp

from ._conference import ConferenceHandler, is_focus_contact
from ._proposals import ProposalMixin
from ._sdp import answer_sdp, offer_sdp, stream_is_rejected
from ._state import SessionStateError, check
from ._transactions import TransactionTracker
from ._transfer import TransferHandler
from ._waiter import StreamBarrier, StreamFailure

__all__ = ["Session", "SessionStateError"]

log = logging.getLogger(__name__)

FAILOVER_CODES = frozenset({408, 503})  # a route that did not answer: the next one is tried


class Session(ProposalMixin):
    """A SIP session (see docs/session.md). ``engine`` defaults to the account's engine."""

    stream_timeout = 15.0  # seconds a stream may take to initialise or start

    def __init__(self, account: Any, *, engine: Any = None) -> None:
        if engine is None:
            engine = getattr(getattr(account, "contact", None), "engine", None)
        if engine is None:
            from sipsimple.core.engine import Engine

            engine = Engine()
        self.engine = engine
        self.account = account
        self.state: str | None = None
        self.direction: str | None = None
        self.transport: str | None = None
        self.start_time: Any = None
        self.stop_time: Any = None
        self.remote_user_agent: str | None = None
        self.streams: list[Any] = []
        self.proposed_streams: list[Any] | None = None
        self.conference: Any = None  # a ConferenceHandler when the session is with a focus
        self.subject: str | None = None
        self.replaced_session: Any = None
        self.transfer_handler: Any = None  # a TransferHandler once the session started
        self.transfer_info: Any = None
        self.greenlet: Any = None
        self._invitation: Any = None
        self._slots: list[Any] = []  # one per m= line: a stream or a port-0 media line
        self._initialized: list[Any] = []  # every stream initialize() was called on
        self._barrier: StreamBarrier | None = None
        self._routes: list[Any] = []
        self._connect_args: dict[str, Any] = {}
        self._ending_originator = "local"
        self._hold_wanted: bool | None = None
        self._transactions = TransactionTracker()
        self._sdp_error: str | None = None  # the last failed offer/answer exchange's reason
        self._late_offer = False  # the peer's INVITE had no SDP: we offer in the 2xx (RFC 3264)
        self._init_proposals()

    def __repr__(self) -> str:
        return f"<Session {self.direction} state={self.state}>"

    # -- attributes ------------------------------------------------------------------------------

    @property
    def local_identity(self) -> Any:
        return None if self._invitation is None else self._invitation.local_identity

    @property
    def remote_identity(self) -> Any:
        return None if self._invitation is None else self._invitation.remote_identity

    @property
    def on_hold(self) -> bool:
        return any(getattr(stream, "on_hold", False) for stream in self.streams)

    @property
    def reactor(self) -> Any:
        return self.engine.reactor

    def _post(self, name: str, **attributes: Any) -> None:
        data = NotificationData(timestamp=ISOTimestamp.now(), **attributes)
        NotificationCenter().post_notification(name, sender=self, data=data)

    def _move(self, event: str) -> None:
        self.state = check(self.state, event)

    def _index(self, stream: Any) -> int:
        return self._slots.index(stream)

    def _address(self) -> str:
        address = self.engine.local_address(self.transport or "udp")
        return str(address.host)

    # -- outgoing --------------------------------------------------------------------------------

    def connect(
        self,
        to_header: Any,
        routes: Iterable[Any],
        streams: Iterable[Any],
        is_focus: bool = False,
        subject: str | None = None,
        extra_headers: Iterable[Any] | None = None,
    ) -> None:
        """Offer ``streams`` to ``to_header``, trying ``routes`` in order (docs/session.md)."""
        streams = list(streams)
        routes = list(routes)
        if not streams:
            raise ValueError("a session needs at least one stream")
        if not routes:
            raise ValueError("connect() needs at least one route")
        self._move("connect")
        self.direction = "outgoing"
        self.subject = subject
        self._routes = routes
        self._connect_args = {
            "to_header": to_header,
            "is_focus": is_focus,
            "extra": list(extra_headers or ()),
        }
        self.proposed_streams = streams
        self._slots = list(streams)
        self._manager_add()
        self._post("SIPSessionNewOutgoing", streams=list(streams))
        self._initialize(streams, "outgoing", self._connect_initialized)

    def _barrier_for(self, streams: list[Any], then: Any) -> StreamBarrier:
        return StreamBarrier(self.reactor, streams, "MediaStreamDidStart", self.stream_timeout, then)

    def _initialize(self, streams: list[Any], direction: str, then: Any) -> None:
        self._initialized.extend(s for s in streams if s not in self._initialized)
        self._barrier = StreamBarrier(
            self.reactor, streams, "MediaStreamDidInitialize", self.stream_timeout, then
        )
        self._barrier.run(lambda stream: stream.initialize(self, direction))

    def _connect_initialized(self, failure: StreamFailure | None) -> None:
        if self.state != "connecting":
            return
        if failure is not None:
            self._fail(code=0, reason=None, failure_reason=f"media stream failed: {failure.reason}")
            return
        self._send_invite()

    def _send_invite(self) -> None:
        route = self._routes.pop(0)
        self.transport = route.transport
        args = self._connect_args
        account = self.account
        contact_parameters = {"isfocus": None} if args["is_focus"] else None
        contact = ContactHeader(account.contact[route], parameters=contact_parameters)
        display_name = getattr(account, "display_name", None)
        headers = list(args["extra"])
        if self.subject is not None:
            headers.append(Header("Subject", self.subject))
        invitation = Invitation(engine=self.engine)
        self._watch(invitation)
        invitation.send_invite(
            args["to_header"].uri,
            FromHeader(account.uri, display_name),
            args["to_header"],
            RouteHeader(route.get_uri()),
            contact,
            sdp=offer_sdp(self._address(), self._slots),
            credentials=getattr(account, "credentials", None),
            extra_headers=headers,
        )

    # -- incoming --------------------------------------------------------------------------------

    def _init_incoming(
        self, invitation: Any, streams: list[Any], slots: list[Any], headers: dict[str, Any]
    ) -> None:
        """Called by the SessionManager for an INVITE it could build streams for."""
        self._move("incoming")
        self.direction = "incoming"
        self.transport = invitation.transport
        self.proposed_streams = list(streams)
        self._slots = slots
        self._late_offer = invitation.sdp.proposed_remote is None
        self._watch(invitation)
        self.remote_user_agent = _text(headers.get("User-Agent"))
        self.subject = _text(headers.get("Subject"))
        self._manager_add()
        self._post("SIPSessionNewIncoming", streams=list(streams))

    def send_ring_indication(self) -> None:
        """Send 180 Ringing for an incoming session (ignored in other states)."""
        if self.state == "incoming" and self._invitation.state in ("incoming", "early"):
            self._invitation.send_response(180)

    def accept(
        self, streams: Iterable[Any], is_focus: bool = False, extra_headers: Iterable[Any] | None = None
    ) -> None:
        """Accept the incoming session with ``streams`` (a subset of ``proposed_streams``; for an
        INVITE without SDP, any streams: they are our offer, sent in the 200)."""
        streams = list(streams)
        proposed = self.proposed_streams or []
        if self._late_offer and streams and len(set(map(id, streams))) == len(streams):
            self._move("accept")
            self._slots = list(streams)  # our offer: one m= line per stream, in this order
        elif not streams or any(stream not in proposed for stream in streams):
            raise ValueError("accept() takes a non-empty subset of the proposed streams")
        else:
            self._move("accept")
            self._slots = [slot if slot not in proposed or slot in streams else None for slot in self._slots]
        self.proposed_streams = streams
        self._accept_headers = list(extra_headers or ())
        if is_focus:  # RFC 4579 §3: our Contact says we are the conference focus
            self._invitation.mark_local_contact_focus()
        direction = "outgoing" if self._late_offer else "incoming"  # the streams make the offer
        self._initialize(streams, direction, self._accept_initialized)

    def _accept_initialized(self, failure: StreamFailure | None) -> None:
        if self.state != "accepting":
            return
        if failure is not None:
            self._refuse_accepted(500, "Media Stream Failure", failure.reason)
            return
        if self._late_offer:
            self._send_late_offer()
            return
        remote = self._invitation.sdp.proposed_remote
        try:
            answer = answer_sdp(self._address(), remote, self._slots)
        except Exception as error:  # a stream that cannot answer the offer (e.g. its SRTP keys)
            self._refuse_accepted(488, "Not Acceptable Here", _error_reason(error))
            return
        self._post("SIPSessionWillStart")
        self._invitation.send_response(200, sdp=answer, extra_headers=self._accept_headers)

    def _send_late_offer(self) -> None:
        """The INVITE had no SDP: our offer goes in the 200 and the answer comes in the ACK
        (RFC 3261 §13.2.1); the streams start when the ACK arrived (``_connected``)."""
        try:
            offer = offer_sdp(self._address(), self._slots)
        except Exception as error:  # a stream that cannot write its offer
            self._refuse_accepted(500, "Media Stream Failure", _error_reason(error))
            return
        self._post("SIPSessionWillStart")
        self._invitation.send_response(200, sdp=offer, extra_headers=self._accept_headers)

    def _refuse_accepted(self, code: int, reason: str, detail: str) -> None:
        """A stream could not go on while we accepted: answer the INVITE with ``code`` and fail."""
        self._invitation.send_response(code, reason)
        self._fail(code=code, reason=reason, failure_reason=f"media stream failed: {detail}")

    def reject(self, code: int = 603, reason: str | None = None) -> None:
        """Refuse the incoming session (SIPSessionDidFail follows)."""
        if self.state != "incoming":
            raise SessionStateError(f"cannot reject a session in state {self.state!r}")
        self._reject_reason = "user request"
        self._invitation.send_response(code, reason)

    # -- the invitation's notifications ----------------------------------------------------------

    def _watch(self, invitation: Any) -> None:
        center = NotificationCenter()
        if self._invitation is not None:
            center.discard_observer(self, sender=self._invitation)
        self._invitation = invitation
        center.add_observer(self, name="SIPInvitationChangedState", sender=invitation)
        center.add_observer(self, name="SIPInvitationGotSDPUpdate", sender=invitation)
        center.add_observer(self, name="MediaStreamDidFail")  # ours are picked out by _stream_failed

    def handle_notification(self, notification: Notification) -> None:
        if notification.name == "MediaStreamDidFail":
            self._stream_failed(notification.sender, notification.data)
            return
        if notification.sender is not self._invitation:
            return
        data: Any = notification.data
        if notification.name == "SIPInvitationGotSDPUpdate":
            self._sdp_error = None if data.succeeded else data.error
            self._offer_answered(data)  # the answer to our offer in a 2xx to the peer's re-INVITE
            return
        completed = self._transactions.feed(data, self.direction)
        if completed is not None:
            self._post("SIPSessionDidProcessTransaction", **completed)
        if data.state == "connected" and data.prev_state == "connected":
            self._sub_state_changed(data)
        elif data.state == "early" and self.direction == "outgoing":
            self._provisional(data)
        elif data.state == "connecting" and self.direction == "outgoing":
            self._remember_user_agent(data, "Server")
            self._post("SIPSessionWillStart")
        elif data.state == "connected":
            self._connected()
        elif data.state == "disconnected":
            self._disconnected(data)

    def _remember_user_agent(self, data: Any, name: str) -> None:
        value = _text((data.headers or {}).get(name))
        if value is not None:
            self.remote_user_agent = value

    def _provisional(self, data: Any) -> None:
        self._remember_user_agent(data, "Server")
        if data.code == 180:
            self._post("SIPSessionGotRingIndication")
        self._post("SIPSessionGotProvisionalResponse", code=data.code, reason=data.reason)

    def _connected(self) -> None:
        if self.state not in ("connecting", "accepting"):
            return
        local, remote = self._invitation.sdp.active_local, self._invitation.sdp.active_remote
        if remote is None and self._sdp_error is not None:  # the core ACKs, then BYEs (RFC 3261 §13.2.2.4)
            self._fail(code=0, reason=None, failure_reason=f"SDP negotiation failed: {self._sdp_error}")
            return
        wanted = [s for s in self.proposed_streams or () if not stream_is_rejected(remote, self._index(s))]
        if self.conference is None and is_focus_contact(self._invitation.remote_contact):
            self.conference = ConferenceHandler(self)  # RFC 4579 §3: the peer is a focus
        for stream in self.proposed_streams or ():
            if stream not in wanted:
                index = self._index(stream)
                self._slots[index] = (
                    local.media[index] if local is not None and index < len(local.media) else None
                )
                self._end_streams([stream])
        if not wanted:
            self._ending_originator = "remote"
            self._invitation.end()
            if self._late_offer:  # the ACK's answer refused every line of our offer
                failure = "SDP negotiation failed: the answer in the ACK refused every stream"
                self._fail(code=0, reason=None, failure_reason=failure)
                return
            self._fail(code=488, reason="Not Acceptable Here", failure_reason="no stream was accepted")
            return

        def started(failure: StreamFailure | None) -> None:
            if failure is not None:
                self._invitation.end()
                self._fail(code=0, reason=None, failure_reason=f"media stream failed: {failure.reason}")
                return
            self._move("started")
            self.streams = wanted
            self.proposed_streams = None
            self.start_time = ISOTimestamp.now()
            self.transfer_handler = TransferHandler(self)
            self._post("SIPSessionDidStart", streams=list(wanted))
            if self.replaced_session is not None:  # RFC 3891: the new session takes its place
                self.replaced_session.end()
            self._apply_pending_hold()

        self._barrier = StreamBarrier(
            self.reactor, wanted, "MediaStreamDidStart", self.stream_timeout, started
        )
        self._barrier.run(lambda stream: stream.start(local, remote, self._index(stream)))

    def _disconnected(self, data: Any) -> None:
        if self.state in ("terminated", None):
            return
        if self.state == "connecting" and self._may_fail_over(data):
            log.info("%r: route failed (%s %s), trying the next one", self, data.code, data.reason)
            self._send_invite()
            return
        answered = data.method == "BYE" and data.prev_state in ("connecting", "connected")
        if self.start_time is None and self.state != "terminating" and answered:
            # the peer hung up a call that was answered before its streams started (a BYE
            # before the ACK, RFC 3261 §15): an end, not a failure, as in the reference
            self._move("end")
            self._post("SIPSessionWillEnd")
            self._finish_end(data.originator, data.disconnect_reason or "user request")
            return
        if self.state in ("connecting", "incoming", "accepting") or self.start_time is None:
            self._fail_from_invitation(data)
            return
        originator = data.originator if self.state != "terminating" else self._ending_originator
        if self.state != "terminating":
            self._move("end")
            self._post("SIPSessionWillEnd")
        self._finish_end(originator, data.disconnect_reason or "user request")

    def _may_fail_over(self, data: Any) -> bool:
        return bool(self._routes) and data.prev_state == "calling" and data.code in FAILOVER_CODES

    def _fail_from_invitation(self, data: Any) -> None:
        code = data.code or 0
        reason = data.reason
        failure_reason = data.disconnect_reason or f"{code} {reason}"
        if (
            data.method == "CANCEL"
            or getattr(self, "_reject_reason", None)
            or self._ending_originator == "cancel"
        ):
            failure_reason = "user request"
        if self._ending_originator == "cancel":
            code, reason = 487, "Session Cancelled"
        redirect = None
        if 300 <= code < 400:
            redirect = list((data.headers or {}).get("Contact") or [])
        self._fail(code=code, reason=reason, failure_reason=failure_reason, redirect_identities=redirect)

    def _fail(
        self, code: int, reason: str | None, failure_reason: str, redirect_identities: Any = None
    ) -> None:
        if self.state == "terminated":
            return
        self._cancel_barrier()
        self._end_streams(self._initialized)
        self.state = "terminated"
        self.stop_time = ISOTimestamp.now()
        self._unwatch()
        originator = "local" if self.direction == "outgoing" else "remote"
        self._post("SIPSessionDidFail", originator=originator, code=code, reason=reason,
                   failure_reason=failure_reason, redirect_identities=redirect_identities)  # fmt: skip

    # -- ending ----------------------------------------------------------------------------------

    def end(self) -> None:
        """End the session: CANCEL/BYE (or 603 for an unanswered incoming one)."""
        if self.state in (None, "terminating", "terminated"):
            return
        if self.state == "incoming":
            self.reject(603)
            return
        if self.start_time is None:  # not started yet: the result is SIPSessionDidFail
            self._ending_originator = "cancel"
            if self.state == "connecting" and (self._invitation is None or self._invitation.state == "null"):
                self._fail(code=487, reason="Session Cancelled", failure_reason="user request")
                return
            self._invitation.end()
            return
        self._ending_originator = "local"
        self._move("end")
        self._post("SIPSessionWillEnd")
        for stream in self.streams:
            stream.deactivate()
        if self._invitation.state in ("disconnecting", "disconnected"):
            return
        self._invitation.end()

    def _finish_end(self, originator: str, end_reason: str) -> None:
        self._cancel_barrier()
        self._end_streams(self._initialized)
        self._move("ended")
        self.stop_time = ISOTimestamp.now()
        self._unwatch()
        self._post("SIPSessionDidEnd", originator=originator, end_reason=end_reason)

    def _end_streams(self, streams: Iterable[Any]) -> None:
        for stream in list(streams):
            if stream in self._initialized:
                self._initialized.remove(stream)
                try:
                    stream.end()
                except Exception:
                    log.exception("%r: %r.end() failed", self, stream)

    def _cancel_barrier(self) -> None:
        if self._barrier is not None:
            self._barrier.cancel()
            self._barrier = None

    def _stream_failed(self, stream: Any, data: Any) -> None:
        """A stream of the running session failed (its RTP socket, its peer...): the session cannot
        go on with it. The last stream ends the session; another one is removed by a re-INVITE, or
        the session ends when an exchange is running (as the reference does). Failures while the
        streams start or during a proposal are the StreamBarrier's business (those streams are
        not in ``streams`` yet)."""
        if stream not in self.streams or self.state not in (
            "connected",
            "sending_proposal",
            "received_proposal",
        ):
            return
        log.warning("%r: %r failed (%s)", self, stream, getattr(data, "reason", None))
        if self.state == "connected" and len(self.streams) > 1:
            self.remove_stream(stream)
        else:
            self.end()

    def _unwatch(self) -> None:
        NotificationCenter().discard_observer(self, name="SIPInvitationChangedState", sender=self._invitation)
        NotificationCenter().discard_observer(self, name="SIPInvitationGotSDPUpdate", sender=self._invitation)
        NotificationCenter().discard_observer(self, name="MediaStreamDidFail")
        if self.transfer_handler is not None:
            self.transfer_handler.stop()
        self._manager_remove()

    # -- the SessionManager's list ---------------------------------------------------------------

    manager: Any = None  # set by the SessionManager that owns the session

    def _manager_add(self) -> None:
        if self.manager is not None:
            self.manager._add(self)

    def _manager_remove(self) -> None:
        if self.manager is not None:
            self.manager._remove(self)

    # -- transfer (_transfer.py) ----------------------------------------------------------------

    def transfer(self, target_uri: Any, replaced_session: Any = None) -> None:
        """Ask the peer to call ``target_uri`` (blind transfer) or, with ``replaced_session``
        (our session with the target), to take that session's place (attended transfer)."""
        self._transfer_handler().transfer(target_uri, replaced_session)

    def accept_transfer(self) -> None:
        """Accept the peer's transfer request: a new outgoing session to the target is made."""
        self._transfer_handler().accept_transfer()

    def reject_transfer(self, code: int = 486, reason: str | None = None) -> None:
        """Refuse the peer's transfer request with ``code``."""
        self._transfer_handler().reject_transfer(code, reason)

    def _transfer_handler(self) -> TransferHandler:
        if self.transfer_handler is None or self.state in ("terminating", "terminated"):
            raise SessionStateError(f"no transfer in state {self.state!r}: the session has not started")
        handler: TransferHandler = self.transfer_handler
        return handler


def _error_reason(error: Exception) -> str:
    """What went wrong, for a failure_reason: the error's ``reason``, its text or its type."""
    return getattr(error, "reason", None) or str(error) or type(error).__name__


def _text(value: Any) -> str | None:
    if value is None:
        return None
    body = getattr(value, "body", None)
    return str(body if body is not None else value)
