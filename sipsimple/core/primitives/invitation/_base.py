"""The shared part of ``Invitation``: its attributes, notifications, dialog registration and
teardown, the constants and SDP helpers, and ``SDPView``. The mixins (``_outgoing.py``,
``_incoming.py``, ``_reliable.py``, ``_forks.py``, ``_in_dialog.py``, ``_proposals.py``,
``_refresh.py``) build on ``InvitationBase``; ``_invitation.py`` composes them.
"""

from __future__ import annotations

import itertools
import logging
import random as _random
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from sipsimple.core._errors import SIPCoreError
from sipsimple.core.sdp import (
    FrozenSDPSession,
    NegotiationState,
    SDPNegotiator,
    SDPParseError,
)
from sipsimple.core.sip._grammar import SIPParseError
from sipsimple.core.sip.dialog import Dialog, DialogID, ProtocolError
from sipsimple.core.sip.headers import BaseHeader
from sipsimple.core.sip.ids import new_tag
from sipsimple.core.sip.message import SIPRequest, SIPResponse

from .._client import (
    Authenticator,
    default_engine,
    default_resolver,
)
from .._dialog_client import DialogRequest, DialogResult, Timers, timer_t1
from ..route import RouteResolver
from ._extensions import header_text
from ._requests import InviteRequest, ReinviteRequest
from ._state import (
    REPORTED_LOOPS,
    REPORTED_SUB_LOOPS,
    InvitationEvent,
    InvitationState,
    SubEvent,
    SubState,
    sub_transition,
    transition,
)
from ._timer import (
    SessionTimer,
    SessionTimerSettings,
)

if TYPE_CHECKING:
    from ._invitation import Invitation

log = logging.getLogger(__package__)

E = InvitationEvent
S = InvitationState
SE = SubEvent
SS = SubState

#: The methods we accept in an INVITE dialog (the Allow header of our INVITE and 2xx).
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, MESSAGE, INFO, REFER, NOTIFY"
#: The option tags of the Supported header of our INVITE and 2xx.
SUPPORTED = "100rel, replaces, timer"
SDP_TYPE = "application/sdp"


def _sdp_of(message: SIPMessageLike) -> FrozenSDPSession | None:
    """The SDP body of ``message`` (None without one); SDPParseError when it is malformed."""
    if not message.body:
        return None
    try:
        content_type = message.content_type
    except SIPParseError as error:
        raise SDPParseError(f"malformed Content-Type: {error}") from None
    if content_type is None or content_type.content_type.lower() != SDP_TYPE:
        return None
    return FrozenSDPSession.parse(message.body)


SIPMessageLike = Any

#: Every live dialog of every Invitation, for Replaces (RFC 3891): (engine id, Call-ID, local tag,
#: remote tag) -> the Invitation that owns it.
_DIALOGS: dict[tuple[int, str, str, str], Invitation] = {}


class SDPView:
    """The SDP of an Invitation as its negotiator sees it (read only)."""

    def __init__(self, negotiator: SDPNegotiator) -> None:
        self._negotiator = negotiator

    @property
    def proposed_local(self) -> FrozenSDPSession | None:
        """Our SDP in the pending exchange (offer or answer), None when nothing is pending."""
        n = self._negotiator
        return n.local_sdp if n.state is not NegotiationState.DONE else None

    @property
    def proposed_remote(self) -> FrozenSDPSession | None:
        n = self._negotiator
        return n.remote_sdp if n.state is not NegotiationState.DONE else None

    @property
    def active_local(self) -> FrozenSDPSession | None:
        return self._negotiator.active_local

    @property
    def active_remote(self) -> FrozenSDPSession | None:
        return self._negotiator.active_remote

    @property
    def negotiator(self) -> SDPNegotiator:
        return self._negotiator


class InvitationBase:
    """The state and helpers every part of ``Invitation`` uses."""

    def __init__(
        self,
        engine: Any = None,
        *,
        resolver: RouteResolver | None = None,
        random: _random.Random | None = None,
    ) -> None:
        self.engine: Any = default_engine(engine)
        self._resolver_given = resolver
        self._random = random if random is not None else _random.Random()
        self._state = S.NULL
        self._sub_state = SS.NORMAL
        self._negotiator = SDPNegotiator()
        self.sdp = SDPView(self._negotiator)
        self._timers = Timers(self.engine.reactor)
        self._auth = Authenticator(None)
        self.direction: str | None = None
        self.call_id: str | None = None
        self.request_uri: Any = None
        self.route_header: Any = None
        self._local_identity: Any = None
        self._remote_identity: Any = None
        self.remote_contact: Any = None
        self.transport: str | None = None
        self.peer_address: Any = None
        self._dialog: Dialog | None = None  # the confirmed dialog (UAC), or our dialog (UAS)
        self._early: dict[str, Dialog] = {}  # UAC early dialogs by remote tag
        self._registered: set[tuple[str, str, str | None]] = set()
        self._acks: dict[tuple[str, int], tuple[SIPRequest, Any, str | None]] = {}
        # UAC
        self._invite: InviteRequest | None = None
        self._cancel_wanted = False
        self._cseq = itertools.count(1)
        # UAS
        self._transaction: Any = None
        self._request: SIPRequest | None = None
        self._pending_2xx: tuple[Any, SIPResponse, int] | None = None
        self._bye_after_ack = False
        self._late_ack: tuple[Dialog, int] | None = None
        # re-INVITEs
        self._proposal: ReinviteRequest | None = None
        self._proposal_sdp: Any = None
        self._proposal_headers: list[Any] = []
        self._proposal_cancel_wanted = False
        self._proposal_after_ack = False  # our re-INVITE waits for the ACK of our last 2xx
        self._received: tuple[Any, SIPRequest] | None = None
        self._stray_registered = False
        self._init_reliable()
        self._update: DialogRequest | None = None  # our UPDATE with an offer, until its answer
        #: The Invitation an incoming INVITE's Replaces header names (RFC 3891), for the session
        #: layer to end once this one is accepted; None without Replaces.
        self.replaced_invitation: Invitation | None = None
        # session timers (RFC 4028)
        self._session_timer = SessionTimer(
            self._timers, SessionTimerSettings(), self._session_refresh, self._session_expired
        )
        self._refresh: ReinviteRequest | None = None  # our quiet refresh re-INVITE, until answered

    def _init_reliable(self) -> None:
        """The reliable provisional state (RFC 3262), both sides."""
        self._peer_100rel = False  # UAS: the INVITE had 100rel in Supported or Require
        self._peer_requires_100rel = False
        self._rseq = 0  # UAS: the RSeq of our last reliable provisional
        self._reliable: tuple[SIPResponse, int] | None = None  # UAS: (response, RSeq) awaiting PRACK
        self._offer_in_reliable = False  # UAS: our offer went in a reliable 18x (answer in PRACK)
        self._answered_reliably = False  # UAS: the offer/answer completed in a reliable 18x
        self._rseq_seen: dict[str, int] = {}  # UAC: the last RSeq PRACKed, per early dialog tag

    @property
    def state(self) -> str:
        return self._state.value

    @property
    def sub_state(self) -> str | None:
        return self._sub_state.value if self._state is S.CONNECTED else None

    @property
    def local_identity(self) -> Any:
        return self._dialog.local_identity if self._dialog is not None else self._local_identity

    @property
    def remote_identity(self) -> Any:
        return self._dialog.remote_identity if self._dialog is not None else self._remote_identity

    @property
    def dialog_id(self) -> DialogID | None:
        return None if self._dialog is None else self._dialog.id

    @property
    def dialog(self) -> Dialog | None:
        return self._dialog

    @property
    def session_expires(self) -> int | None:
        """The negotiated session interval (RFC 4028) in seconds; None without a session timer."""
        return self._session_timer.interval

    @property
    def session_refresher(self) -> str | None:
        """Who refreshes the session: 'local', 'remote', or None without a session timer."""
        return self._session_timer.refresher

    @property
    def _resolver(self) -> RouteResolver:
        return default_resolver(self.engine, self._resolver_given)

    def __repr__(self) -> str:
        return f"<Invitation {self.direction or ''} {self._state.value} {self.call_id}>"

    def _post(self, name: str, **attributes: Any) -> None:
        self.engine.post(name, sender=self, **attributes)

    def _move(self, event: InvitationEvent, originator: str, **data: Any) -> None:
        target = transition(self._state, event)
        if target is self._state and (target, event) not in REPORTED_LOOPS:
            return
        previous, previous_sub = self._state, self.sub_state
        self._state = target
        self._sub_state = SS.NORMAL
        attributes: dict[str, Any] = {"prev_state": previous.value, "state": target.value, "prev_sub_state": previous_sub,
                      "sub_state": self.sub_state, "originator": originator}  # fmt: skip
        for name in ("code", "reason", "method", "headers", "body"):
            attributes[name] = data.get(name)
        if target is S.DISCONNECTED:
            attributes["disconnect_reason"] = data.get("disconnect_reason") or "user request"
            self._teardown()
        self._post("SIPInvitationChangedState", **attributes)

    def _move_sub(self, event: SubEvent, originator: str, **data: Any) -> None:
        target = sub_transition(self._state, self._sub_state, event)
        if target is self._sub_state and (target, event) not in REPORTED_SUB_LOOPS:
            return
        previous = self._sub_state
        self._sub_state = target
        attributes: dict[str, Any] = {"prev_state": S.CONNECTED.value, "state": S.CONNECTED.value,
                      "prev_sub_state": previous.value, "sub_state": target.value, "originator": originator}  # fmt: skip
        for name in ("code", "reason", "method", "headers", "body"):
            attributes[name] = data.get(name)
        self._post("SIPInvitationChangedState", **attributes)

    def _sdp_update(self, error: str | None = None) -> None:
        n = self._negotiator
        self._post(
            "SIPInvitationGotSDPUpdate",
            succeeded=error is None,
            error=error,
            local_sdp=n.active_local if error is None else None,
            remote_sdp=n.active_remote if error is None else None,
        )

    def _negotiate(self) -> None:
        self._negotiator.negotiate()
        self._sdp_update()

    def _cancel_offer(self) -> None:
        if self._negotiator.has_pending_offer:
            self._negotiator.cancel_offer()

    def _register(self, dialog: Dialog) -> None:
        key = (dialog.call_id, dialog.local_tag, dialog.remote_tag or None)
        if key not in self._registered:
            self._registered.add(key)
            self.engine.register_dialog(*key, self._on_request)
            if dialog.remote_tag:
                _DIALOGS[(id(self.engine), dialog.call_id, dialog.local_tag, dialog.remote_tag)] = cast(
                    "Invitation", self
                )

    def _forget(self, dialog: Dialog) -> None:
        dialog.terminate()
        key = (dialog.call_id, dialog.local_tag, dialog.remote_tag or None)
        if key in self._registered:
            self._registered.discard(key)
            self.engine.unregister_dialog(*key)
        if dialog.remote_tag:
            _DIALOGS.pop((id(self.engine), dialog.call_id, dialog.local_tag, dialog.remote_tag), None)

    def _teardown(self) -> None:
        # stray 2xx of other forks may still come for 64*T1 (RFC 6026 Timer M); after that our
        # INVITE is over for good and is let go (``_after_teardown``)
        if getattr(self, "_stray_registered", False) or self._invite is not None:
            self.engine.reactor.callLater(64 * self._t1(), self._after_teardown)
        self._timers.cancel_all()
        self._session_timer.close()
        if self._refresh is not None:
            self._refresh.cancel()
            self._refresh = None
        self._pending_2xx = None
        if self._proposal is not None:
            self._proposal.cancel()
            self._proposal = None
        self._update = None
        for dialog in list(self._early.values()):
            self._forget(dialog)
        self._early.clear()
        if self._dialog is not None:
            self._forget(self._dialog)

    def _t1(self) -> float:
        return timer_t1(self.engine)

    def _t2(self) -> float:
        try:
            return float(self.engine.stack.timers.t2)
        except (AttributeError, SIPCoreError):
            return 4.0

    def _is_tls(self) -> bool:
        return self.transport == "tls"

    def _dialog_for(self, request: SIPRequest) -> Dialog | None:
        tag = request.from_header.tag or ""
        if self._dialog is not None and self._dialog.remote_tag == tag:
            return self._dialog
        return self._early.get(tag)

    def _respond(
        self, dialog: Dialog, transaction: Any, code: int, reason: str | None = None, headers: Any = ()
    ) -> None:
        try:
            transaction.send_response(
                dialog.create_response(transaction.request, code, reason, extra_headers=headers)
            )
        except ProtocolError as error:
            log.info("%r: cannot answer %s: %s", self, transaction.request.method, error)

    if TYPE_CHECKING:  # defined by the mixins; declared here so that each part type-checks

        def _listen_stray(self) -> None: ...

        def _unlisten_stray(self) -> None: ...

        def _after_teardown(self) -> None: ...

        def _send_ack(self, dialog: Dialog, number: int, body: bytes = b"") -> None: ...

        def _end_fork(self, request: SIPRequest, response: SIPResponse, tag: str) -> None: ...

        def _end_unanswered(self, reason: str = "user request") -> None: ...

        def send_response(
            self,
            code: int,
            reason: str | None = None,
            sdp: Any = None,
            extra_headers: Iterable[BaseHeader] | None = None,
            reliable: bool | None = None,
            session_timer: SessionTimerSettings | Mapping[str, Any] | bool | None = None,
        ) -> None: ...

        def _start_reliable(self, response: SIPResponse) -> None: ...

        def _stop_reliable(self) -> None: ...

        def _on_prack(self, dialog: Dialog, transaction: Any, request: SIPRequest) -> None: ...

        def _start_2xx(self, transaction: Any, response: SIPResponse) -> None: ...

        def _on_cancel(self, transaction: Any) -> None: ...

        def _on_request(self, transaction: Any) -> None: ...

        def _on_ack(self, dialog: Dialog, request: SIPRequest) -> None: ...

        def _send_proposal_after_ack(self) -> None: ...

        def _bye(
            self, headers: Any = (), timeout: float | None = None, reason: str = "user request"
        ) -> None: ...

        def _send_bye(self, dialog: Dialog, headers: Any, timeout: float | None) -> None: ...

        def _on_reinvite(self, dialog: Dialog, transaction: Any, request: SIPRequest) -> None: ...

        def _refresh_headers(self) -> list[Any]: ...

        def _session_refresh(self) -> None: ...

        def _session_expired(self) -> None: ...

        def _in_dialog_negotiation(self, request: SIPRequest) -> Any: ...

        def _on_refresh_answered(self, result: DialogResult) -> None: ...

        def _on_update(self, dialog: Dialog, transaction: Any, request: SIPRequest) -> None: ...

        def _on_transfer_request(self, dialog: Dialog, transaction: Any, request: SIPRequest) -> None: ...

        def _on_refresh_received(self, request: SIPRequest) -> None: ...

        def _refresh_response_headers(self, request: SIPRequest) -> list[Any]: ...

        def _answer_proposal(self, code: int, reason: str | None, sdp: Any, headers: list[Any]) -> None: ...


def _name_of(header: Any) -> str:
    return str(header[0] if isinstance(header, tuple) else header.name).lower()


def _allow_of(message: SIPMessageLike) -> set[str]:
    """The methods of the Allow headers of ``message``, upper case."""
    return {method.strip().upper() for text in header_text(message, "Allow") for method in text.split(",")}


def _contact(message: SIPMessageLike) -> Any:
    try:
        contacts = message.get_all("Contact")
    except SIPParseError:
        return None
    return contacts[0] if contacts else None


def _refuse(transaction: Any, code: int, reason: str | None = None) -> None:
    from sipsimple.core.sip.message import make_response

    transaction.send_response(make_response(transaction.request, code, reason, to_tag=new_tag()))
