"""The callee side of the initial INVITE: ``Invitation.receive`` (checks before the
Invitation is announced: Require, Replaces RFC 3891, Min-SE RFC 4028 §9, the SDP offer),
``send_response``, CANCEL as UAS, and our 2xx resent until its ACK (RFC 3261 §13.3.1.4).
Also answers the peer's re-INVITE through ``send_response`` (see ``_proposals.py``).
"""

from __future__ import annotations

import functools
import random as _random
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from sipsimple.core.sdp import (
    NegotiationState,
    RemoteSDPNegotiationError,
    SDPNegotiationError,
    SDPParseError,
)
from sipsimple.core.sip.dialog import Dialog, ProtocolError
from sipsimple.core.sip.headers import BaseHeader, ContactHeader
from sipsimple.core.sip.ids import new_tag
from sipsimple.core.sip.message import SIPRequest, SIPResponse
from sipsimple.core.sip.transaction import Culprit
from sipsimple.core.sip.uri import BaseSIPURI

from .._client import (
    check_running,
    headers_of,
)
from .._dialog_client import local_contact_for
from ..route import RouteResolver
from ._base import (
    _DIALOGS,
    ALLOW,
    SDP_TYPE,
    SE,
    SS,
    SUPPORTED,
    E,
    InvitationBase,
    S,
    _allow_of,
    _contact,
    _refuse,
    _sdp_of,
    log,
)
from ._extensions import (
    KNOWN_OPTIONS,
    options,
    replaces_for,
    replaces_of,
)
from ._state import (
    InvitationEvent,
    InvitationStateError,
    transition,
)
from ._timer import (
    SessionTimerSettings,
    uas_negotiate,
    uas_too_brief,
)

if TYPE_CHECKING:
    from ._invitation import Invitation


class IncomingMixin(InvitationBase):
    """The incoming INVITE; a mixin of ``Invitation``."""

    @classmethod
    def receive(
        cls,
        engine: Any,
        transaction: Any,
        *,
        resolver: RouteResolver | None = None,
        random: _random.Random | None = None,
        on_new: Callable[[Invitation], None] | None = None,
        session_timer: SessionTimerSettings | Mapping[str, Any] | bool | None = None,
    ) -> Invitation | None:
        """Take an out-of-dialog INVITE: answer what cannot be served, else post 'incoming'.

        ``session_timer`` (as for ``send_invite``) is used for the Min-SE check (422) and, unless
        ``send_response`` is given others, for the 2xx."""
        request: SIPRequest = transaction.request
        invitation = cast("Invitation", cls(engine, resolver=resolver, random=random))
        invitation._session_timer.settings = SessionTimerSettings.of(session_timer)
        dialog = _uas_dialog(transaction)
        if dialog is None or not invitation._admit(dialog, transaction):
            return None
        invitation.direction = "incoming"
        invitation._dialog = dialog
        invitation._transaction = transaction
        invitation._request = request
        invitation.call_id = request.call_id
        invitation.request_uri = request.uri
        invitation.remote_contact = _contact(request)
        invitation.transport = transaction.source.transport
        invitation.peer_address = transaction.source
        invitation._register(dialog)
        if hasattr(engine, "on_cancel"):
            engine.on_cancel(transaction, invitation._on_cancel)
        if on_new is not None:
            on_new(invitation)
        invitation._move(
            E.RECEIVE_INVITE, "remote", method="INVITE", headers=headers_of(request), body=request.body
        )
        return invitation

    def _admit(self, dialog: Dialog, transaction: Any) -> bool:
        """The checks of a new INVITE before it is announced, in order: Require (420), Replaces
        (400, then 481/486/603), Min-SE (422, RFC 4028 §9), the SDP offer (488). False once the
        refusal is sent."""
        request: SIPRequest = transaction.request
        required = options(request, "Require")
        unknown = required - KNOWN_OPTIONS
        if unknown:  # RFC 3261 §8.2.2.3
            transaction.send_response(
                dialog.create_response(
                    request, 420, extra_headers=[("Unsupported", ", ".join(sorted(unknown)))]
                )
            )
            return False
        try:
            replaces = replaces_of(request)
        except ValueError as error:
            transaction.send_response(dialog.create_response(request, 400, f"Bad Request - {error}"[:100]))
            return False
        too_brief = uas_too_brief(request, self._session_timer.settings)
        if too_brief is not None:  # RFC 4028 §9
            transaction.send_response(
                dialog.create_response(request, 422, extra_headers=[("Min-SE", str(too_brief))])
            )
            return False
        if replaces is not None:
            refusal = self._match_replaces(replaces)
            if refusal is not None:
                transaction.send_response(dialog.create_response(request, refusal))
                return False
        self._peer_requires_100rel = "100rel" in required
        self._peer_100rel = "100rel" in required | options(request, "Supported")
        try:
            sdp = _sdp_of(request)
            if sdp is not None:
                self._negotiator.set_remote_offer(sdp)
        except (SDPParseError, SDPNegotiationError) as error:
            transaction.send_response(
                dialog.create_response(request, 488, f"Not Acceptable Here - {error}"[:100])
            )
            return False
        return True

    def _match_replaces(self, replaces: Any) -> int | None:
        """Find the dialog a Replaces header names (RFC 3891 §3); the refusal code if none fits."""
        key = (id(self.engine), replaces.call_id, replaces.to_tag, replaces.from_tag)
        other = _DIALOGS.get(key)
        if other is None or other._state in (S.DISCONNECTING, S.DISCONNECTED):
            return 481 if other is None else 603
        confirmed = other._dialog is not None and other._dialog.remote_tag == replaces.from_tag
        confirmed = confirmed and other._state in (S.CONNECTING, S.CONNECTED)
        if replaces.early_only and confirmed:
            return 486
        if not confirmed and other.direction == "incoming":
            return 481  # an early dialog the peer started cannot be replaced
        self.replaced_invitation = other
        return None

    def replaces_header(self, early_only: bool = False) -> Any:
        """A Replaces header naming this invitation's dialog, for an attended transfer (REFER
        with ``Replaces`` in the Refer-To URI, RFC 3891 §7)."""
        dialog = self._dialog
        if dialog is None or not dialog.remote_tag:
            raise InvitationStateError("the invitation has no dialog to replace", Culprit.LOCAL)
        return replaces_for(dialog.call_id, dialog.local_tag, dialog.remote_tag, early_only)

    def mark_local_contact_focus(self) -> None:
        """Put the ``isfocus`` parameter (RFC 4579 §3) in our Contact for the rest of this dialog:
        we answer as a conference focus. Call it before the 2xx."""
        dialog = self._dialog
        if dialog is None or dialog.local_contact is None:
            raise InvitationStateError("there is no dialog to mark", Culprit.LOCAL)
        contact = dialog.local_contact
        dialog.local_contact = ContactHeader(
            contact.uri, contact.display_name, parameters={**contact.parameters, "isfocus": None}
        )

    def send_response(
        self,
        code: int,
        reason: str | None = None,
        sdp: Any = None,
        extra_headers: Iterable[BaseHeader] | None = None,
        reliable: bool | None = None,
        session_timer: SessionTimerSettings | Mapping[str, Any] | bool | None = None,
    ) -> None:
        """Answer the INVITE (or the peer's pending re-INVITE): 18x, 2xx (accept) or 3xx-6xx.

        ``reliable`` sends a 18x reliably (RFC 3262: RSeq, resent until its PRACK); None means
        reliably when the INVITE has ``Require: 100rel``. ``session_timer`` (RFC 4028, as for
        ``send_invite``) replaces the settings given to ``install_invitation_handler`` for a 2xx
        to the INVITE; when the INVITE's Session-Expires is below their ``min_se``, a 422 with
        that Min-SE goes instead of the 2xx (RFC 4028 §9)."""
        if not 101 <= code <= 699:
            raise ValueError(f"cannot send a {code} response")
        if session_timer is not None:
            self._session_timer.settings = SessionTimerSettings.of(session_timer)
        if self._state is S.CONNECTED and self._sub_state is SS.RECEIVED_PROPOSAL:
            self._answer_proposal(code, reason, sdp, list(extra_headers or ()))
            return
        event = E.SEND_PROVISIONAL if code < 200 else E.SEND_ACCEPT if code < 300 else E.SEND_REJECT
        transition(self._state, event)
        if self.direction != "incoming":
            raise InvitationStateError("only an incoming invitation is answered", Culprit.LOCAL)
        check_running(self.engine)
        assert self._dialog is not None and self._request is not None
        reliable = self._reliability(code, reliable)
        headers: list[Any] = list(extra_headers or ())
        negotiated = None
        if 200 <= code < 300:
            too_brief = uas_too_brief(self._request, self._session_timer.settings)
            if too_brief is not None:
                code, reason, event, headers = 422, None, E.SEND_REJECT, [("Min-SE", str(too_brief))]
            else:
                negotiated = uas_negotiate(self._request, self._session_timer.settings)
                headers += self._session_timer.response_headers(self._request, negotiated)
        body = self._response_sdp(code, sdp, reliable=reliable)
        if reliable:
            self._rseq = self._rseq + 1 if self._rseq else self._random.randint(1, 2**31 - 1)
            headers += [("Require", "100rel"), ("RSeq", str(self._rseq))]
        if 200 <= code < 300:
            headers.append(("Allow", ALLOW))
            headers.append(("Supported", SUPPORTED))
        if code >= 200:
            self._stop_reliable()
        response = self._dialog.create_response(
            self._request, code, reason, extra_headers=headers, body=body,
            content_type=SDP_TYPE if body else None,
        )  # fmt: skip
        self._transaction.send_response(response)
        self._announce_response(event, response, reliable, negotiated)

    def _reliability(self, code: int, reliable: bool | None) -> bool:
        """Whether our response goes reliably (RFC 3262): only a 18x, by default when the INVITE
        requires 100rel; one reliable 18x at a time."""
        if code >= 200:
            return False
        reliable = self._peer_requires_100rel if reliable is None else reliable
        if reliable and not self._peer_100rel:
            raise InvitationStateError("the INVITE does not support 100rel", Culprit.LOCAL)
        if reliable and self._reliable is not None:
            raise InvitationStateError(
                "a reliable provisional response still waits for its PRACK", Culprit.LOCAL
            )
        return reliable

    def _announce_response(
        self, event: InvitationEvent, response: SIPResponse, reliable: bool, negotiated: Any
    ) -> None:
        """After our response to the INVITE went: its timers, then the state change."""
        assert self._request is not None
        code = response.code
        if code < 200:
            if reliable:
                self._start_reliable(response)
            self._move(event, "local", code=code, reason=response.reason)
        elif code < 300:
            self._start_2xx(self._transaction, response)
            self._session_timer.peer_allows_update = "UPDATE" in _allow_of(self._request)
            self._session_timer.start(negotiated, we_are_uac=False)
            self._move(event, "local", code=code, reason=response.reason)
        else:
            self._cancel_offer()
            self._move(
                event,
                "local",
                code=code,
                reason=response.reason,
                disconnect_reason=f"{code} {response.reason}",
            )

    def _response_sdp(self, code: int, sdp: Any, reliable: bool = False) -> bytes:
        """The SDP body of our response to the initial INVITE, through the negotiator."""
        n = self._negotiator
        if code >= 300:
            return b""
        if n.state is NegotiationState.REMOTE_OFFER:
            if sdp is None:
                if code < 200:
                    return b""
                raise InvitationStateError(
                    "the INVITE has an offer: the 2xx needs an SDP answer", Culprit.LOCAL
                )
            answer = n.set_local_answer(sdp)
            self._negotiate()
            self._answered_reliably = reliable
            return str(answer).encode()
        if n.state is NegotiationState.DONE:  # answered in a provisional: repeat it (unreliable)
            if n.local_sdp is None or code < 200 or self._answered_reliably:
                return b""
            return str(n.local_sdp).encode()
        if n.state is NegotiationState.NO_OFFER and code < 200 and reliable and sdp is not None:
            self._offer_in_reliable = True  # RFC 3262 §5: the answer comes in the PRACK
            return str(n.set_local_offer(sdp)).encode()
        if n.state is NegotiationState.LOCAL_OFFER and self._offer_in_reliable:
            if code >= 200:
                raise InvitationStateError(
                    "our offer in a reliable provisional is not answered yet (no PRACK)", Culprit.LOCAL
                )
            return b""
        if n.state is NegotiationState.NO_OFFER and code >= 200:
            if sdp is None:
                raise InvitationStateError("the INVITE has no offer: the 2xx needs one", Culprit.LOCAL)
            return str(n.set_local_offer(sdp)).encode()  # the answer comes in the ACK
        if n.state is NegotiationState.LOCAL_OFFER:
            return str(n.local_sdp).encode()
        return b""

    def _start_2xx(self, transaction: Any, response: SIPResponse) -> None:
        """Send our 2xx again at T1, 2*T1, ... up to T2 until its ACK; BYE at 64*T1 (§13.3.1.4)."""
        self._pending_2xx = (transaction, response, response.cseq.number)
        self._timers.set("2xx", self._t1(), functools.partial(self._resend_2xx, response, self._t1()))
        self._timers.set("no-ack", 64 * self._t1(), self._no_ack)

    def _resend_2xx(self, response: SIPResponse, interval: float) -> None:
        """The 2xx timer fired ``interval`` after the last send: send ``response`` again (while it
        is still the one waiting for its ACK) and double the interval, up to T2. A partial of a
        method rather than a closure calling itself, so no reference cycle outlives the call."""
        pending = self._pending_2xx
        if pending is None or pending[1] is not response:
            return
        if not getattr(self.engine, "is_running", True):  # stopped meanwhile: nothing can go out
            self._pending_2xx = None
            self._timers.cancel("no-ack")
            return
        try:
            pending[0].send_response(response)
        except (ProtocolError, ValueError) as error:
            log.info("%r: cannot resend the 2xx: %s", self, error)
        interval = min(2 * interval, self._t2())
        self._timers.set("2xx", interval, functools.partial(self._resend_2xx, response, interval))

    def _no_ack(self) -> None:
        self._pending_2xx = None
        self._timers.cancel("2xx")
        if self._state in (S.CONNECTING, S.CONNECTED):
            self._bye(reason="no ACK for the 2xx")

    def _on_cancel(self, transaction: Any) -> None:
        if transaction is self._transaction and self._state in (S.INCOMING, S.EARLY):
            assert self._dialog is not None and self._request is not None
            self._transaction.send_response(self._dialog.create_response(self._request, 487))
            self._cancel_offer()
            self._move(E.RECEIVE_CANCEL, "remote", method="CANCEL", code=487, reason="Request Terminated")
        elif self._received is not None and transaction is self._received[0] and not transaction.answered:
            assert self._dialog is not None
            transaction.send_response(self._dialog.create_response(self._received[1], 487))
            self._received = None
            self._cancel_offer()
            self._move_sub(
                SE.ANSWER_PROPOSAL, "remote", method="CANCEL", code=487, reason="Request Terminated"
            )

    def _on_ack(self, dialog: Dialog, request: SIPRequest) -> None:
        pending = self._pending_2xx
        if pending is None or request.cseq.number != pending[2]:
            return  # a repeated ACK
        self._pending_2xx = None
        self._timers.cancel("2xx")
        self._timers.cancel("no-ack")
        n = self._negotiator
        if n.state is NegotiationState.LOCAL_OFFER:  # our offer was in the 2xx: the answer is here
            try:
                sdp = _sdp_of(request)
                if sdp is None:
                    raise RemoteSDPNegotiationError("the ACK has no SDP answer to the offer in our 2xx")
                n.set_remote_answer(sdp)
                self._negotiate()
            except (SDPParseError, SDPNegotiationError) as error:
                self._cancel_offer()
                self._sdp_update(str(error))
                if self._state is S.CONNECTING:
                    self._move(E.RECEIVE_ACK, "remote", method="ACK")
                self._bye(reason=f"SDP negotiation failed: {error}")
                return
        if self._state is S.CONNECTING:
            self._move(E.RECEIVE_ACK, "remote", method="ACK", headers=headers_of(request), body=request.body)
        if self._bye_after_ack:
            self._bye_after_ack = False
            self._send_bye(dialog, (), None)
        self._send_proposal_after_ack()


def _uas_dialog(transaction: Any) -> Dialog | None:
    """Our dialog for a new INVITE (RFC 3261 §12.1.1); None once a 400 refuses a bad one."""
    request: SIPRequest = transaction.request
    local = transaction.local
    uri = request.uri
    user = uri.user if isinstance(uri, BaseSIPURI) else None
    secure = isinstance(uri, BaseSIPURI) and uri.secure and local.transport == "tls"
    try:
        return Dialog.from_uas(
            request,
            new_tag(),
            local_contact=local_contact_for(local, user, secure=secure),
            secure_transport=transaction.source.transport == "tls",
        )
    except ProtocolError as error:
        _refuse(transaction, 400, f"Bad Request - {error}"[:100])
        return None
