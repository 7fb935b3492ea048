"""Changing the session once connected: our re-INVITE (with its glare retry, RFC 3261
§14.1, and its CANCEL), the peer's re-INVITE (491/500 when one is already in progress),
UPDATE both ways (RFC 3311) and our answer to the peer's proposal.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sipsimple.core.sdp import (
    NegotiationState,
    RemoteSDPNegotiationError,
    SDPNegotiationError,
    SDPParseError,
)
from sipsimple.core.sip.dialog import Dialog
from sipsimple.core.sip.headers import BaseHeader
from sipsimple.core.sip.message import SIPRequest
from sipsimple.core.sip.transaction import Culprit

from .._client import (
    check_running,
    headers_of,
)
from .._dialog_client import DialogRequest, DialogResult
from ._base import (
    ALLOW,
    SDP_TYPE,
    SE,
    SS,
    E,
    InvitationBase,
    S,
    _sdp_of,
)
from ._requests import ReinviteRequest, send_cancel
from ._state import (
    InvitationStateError,
    sub_transition,
)


class ProposalMixin(InvitationBase):
    """Re-INVITE and UPDATE proposals; a mixin of ``Invitation``."""

    def send_reinvite(self, sdp: Any = None, extra_headers: Iterable[BaseHeader] | None = None) -> None:
        """Send a re-INVITE (``sdp`` is the new offer; without one the peer offers in its 2xx)."""
        target = sub_transition(self._state, self._sub_state, SE.SEND_PROPOSAL)
        del target
        check_running(self.engine)
        self._proposal_sdp = sdp
        self._proposal_headers = list(extra_headers or ())
        self._proposal_cancel_wanted = False
        self._move_sub(SE.SEND_PROPOSAL, "local", method="INVITE")
        if self._pending_2xx is not None:
            # RFC 3261 §14.1: no new INVITE while the peer's is in progress (our 2xx awaits its
            # ACK, which must not be taken for the answer to this offer): sent with the ACK
            self._proposal_after_ack = True
            return
        self._send_proposal()

    def _send_proposal_after_ack(self) -> None:
        if self._proposal_after_ack:
            self._proposal_after_ack = False
            if self._state is S.CONNECTED and self._sub_state is SS.SENDING_PROPOSAL:
                self._send_proposal()

    def _send_proposal(self) -> None:
        assert self._dialog is not None
        body = b""
        if self._proposal_sdp is not None:
            body = str(self._negotiator.set_local_offer(self._proposal_sdp)).encode()
        request = ReinviteRequest(
            self.engine, self._dialog, "INVITE", resolver=self._resolver, authenticator=self._auth,
            on_done=lambda result: self._proposal_done(request, result),
            extra_headers=[*self._proposal_headers, *self._refresh_headers()], body=body,
            content_type=SDP_TYPE if body else None,
        )  # fmt: skip
        request.on_provisional = self._proposal_provisional
        request.on_progress = self._proposal_progress
        self._proposal = request
        request.start()

    def _proposal_progress(self, request: ReinviteRequest, response: Any) -> None:
        """A 101-199 to our re-INVITE: posted as a reported sub-state loop (REPORTED_SUB_LOOPS)."""
        if (
            request is self._proposal
            and self._state is S.CONNECTED
            and self._sub_state is SS.SENDING_PROPOSAL
        ):
            self._move_sub(
                SE.RECEIVE_PROVISIONAL, "remote", method="INVITE", code=response.code,
                reason=response.reason, headers=headers_of(response), body=response.body,
            )  # fmt: skip

    def _proposal_provisional(self, request: ReinviteRequest) -> None:
        if request is self._proposal and self._proposal_cancel_wanted:
            self._proposal_cancel_wanted = False
            current = request.current()
            if current is not None:
                send_cancel(self.engine, *current)

    def _proposal_done(self, request: ReinviteRequest, result: DialogResult) -> None:
        if request is not self._proposal:
            return
        self._proposal = None
        data = {"code": result.code, "reason": result.reason, "headers": result.headers, "body": result.body}
        if result.is_success and result.response is not None:
            assert self._dialog is not None and request.last_request is not None
            number = request.last_request.cseq.number
            error = None
            try:
                if self._negotiator.state is NegotiationState.LOCAL_OFFER:
                    sdp = _sdp_of(result.response)
                    if sdp is None:
                        raise RemoteSDPNegotiationError("the 2xx has no SDP answer to our offer")
                    self._negotiator.set_remote_answer(sdp)
            except (SDPParseError, SDPNegotiationError) as failure:
                error = str(failure)
            self._send_ack(self._dialog, number)
            if self._state is not S.CONNECTED:
                return  # answered after our BYE: the 2xx only needs its ACK
            self._on_refresh_answered(result)
            if error is None and self._negotiator.state is NegotiationState.ANSWERED:
                self._negotiate()
            elif error is not None:
                self._cancel_offer()
                self._sdp_update(error)
            self._move_sub(SE.PROPOSAL_ANSWERED, "remote", **data)
            return
        self._cancel_offer()
        if result.dialog_gone:
            self._move(E.ENDED, "remote", disconnect_reason=f"{result.code} {result.reason}", **data)
            return
        if result.code == 491 and self._state is S.CONNECTED:
            # RFC 3261 §14.1: the owner of the Call-ID retries after 2.1-4 s, the other side 0-2 s
            low, high = (2.1, 4.0) if self.direction == "outgoing" else (0.0, 2.0)
            self._timers.set("glare", self._random.uniform(low, high), self._glare_retry)
            return
        if self._state is not S.CONNECTED:
            return  # refused after our BYE: nothing left to report
        if self._proposal_sdp is not None:
            self._sdp_update(f"{result.code} {result.reason}")
        self._move_sub(SE.PROPOSAL_ANSWERED, "remote", **data)

    def _glare_retry(self) -> None:
        if self._state is S.CONNECTED and self._sub_state is SS.SENDING_PROPOSAL and self._proposal is None:
            self._send_proposal()

    def cancel_reinvite(self) -> None:
        """Withdraw our pending re-INVITE (CANCEL once a provisional arrived; the 487 ends it)."""
        if self._state is not S.CONNECTED or self._sub_state is not SS.SENDING_PROPOSAL:
            raise InvitationStateError("there is no re-INVITE of ours to cancel", Culprit.LOCAL)
        if "glare" in self._timers or self._proposal_after_ack:
            self._timers.cancel("glare")
            self._proposal_after_ack = False
            self._move_sub(SE.PROPOSAL_ANSWERED, "local", code=487, reason="Request Terminated")
            return
        proposal = self._proposal
        if proposal is None:
            return
        current = proposal.current()
        if proposal.provisional_seen and current is not None:
            send_cancel(self.engine, *current)
        else:
            self._proposal_cancel_wanted = True

    def _on_reinvite(self, dialog: Dialog, transaction: Any, request: SIPRequest) -> None:
        if dialog is not self._dialog or self._state is not S.CONNECTED:
            self._respond(dialog, transaction, 491 if self._state is S.CONNECTING else 500)
            return
        if self._refresh is not None or (
            self._sub_state is SS.SENDING_PROPOSAL and "glare" not in self._timers
        ):
            self._respond(dialog, transaction, 491)  # glare (RFC 3261 §14.2)
            return
        if self._sub_state is SS.RECEIVED_PROPOSAL or self._pending_2xx is not None:
            retry = str(int(self._random.uniform(0, 10)))
            self._respond(dialog, transaction, 500, headers=[("Retry-After", retry)])
            return
        try:
            sdp = _sdp_of(request)
            if sdp is not None and self._negotiator.state is not NegotiationState.DONE:
                raise RemoteSDPNegotiationError("an offer while another exchange is incomplete")
        except (SDPParseError, SDPNegotiationError) as error:
            self._respond(dialog, transaction, 488, f"Not Acceptable Here - {error}"[:100])
            return
        if self._is_unchanged_refresh(sdp):
            self._answer_refresh(dialog, transaction, request)
            return
        if "glare" in self._timers:  # our retry waits: the peer's re-INVITE goes first
            self._timers.cancel("glare")
            self._move_sub(SE.PROPOSAL_ANSWERED, "remote", code=491, reason="Request Pending")
        if sdp is not None:
            try:
                self._negotiator.set_remote_offer(sdp)
            except SDPNegotiationError as error:
                self._respond(dialog, transaction, 488, f"Not Acceptable Here - {error}"[:100])
                return
        self._received = (transaction, request)
        if hasattr(self.engine, "on_cancel"):
            self.engine.on_cancel(transaction, self._on_cancel)
        self._move_sub(
            SE.RECEIVE_PROPOSAL, "remote", method="INVITE", headers=headers_of(request), body=request.body
        )

    def _is_unchanged_refresh(self, sdp: Any) -> bool:
        """A re-INVITE that only refreshes the session: a timer runs and its SDP is the one we
        have, same version (RFC 3264 §8: no change), so it is not a proposal for the user."""
        active = self._negotiator.active_remote
        if not self._session_timer.running or sdp is None or active is None:
            return False
        return (sdp.id, sdp.version) == (active.id, active.version) and self._sub_state is SS.NORMAL

    def _answer_refresh(self, dialog: Dialog, transaction: Any, request: SIPRequest) -> None:
        negotiated = self._in_dialog_negotiation(request)
        headers: list[Any] = [("Allow", ALLOW), *self._session_timer.response_headers(request, negotiated)]
        local = self._negotiator.active_local
        body = b"" if local is None else str(local).encode()
        response = dialog.create_response(
            request, 200, extra_headers=headers, body=body, content_type=SDP_TYPE if body else None
        )
        transaction.send_response(response)
        self._start_2xx(transaction, response)
        self._session_timer.start(negotiated, we_are_uac=False)

    def send_update(self, sdp: Any = None, extra_headers: Iterable[BaseHeader] | None = None) -> None:
        """Send an UPDATE: with ``sdp`` a new offer (while connected, like a re-INVITE: sub-state
        'sending_proposal' until its answer), without one a plain refresh (early or connected)."""
        check_running(self.engine)
        if sdp is not None:
            sub_transition(self._state, self._sub_state, SE.SEND_PROPOSAL)
        elif self._state not in (S.EARLY, S.CONNECTING, S.CONNECTED):
            raise InvitationStateError(f"cannot send an UPDATE in state {self._state.value}", Culprit.LOCAL)
        dialog = self._dialog if self._dialog is not None else next(iter(self._early.values()), None)
        if dialog is None:
            raise InvitationStateError("no dialog to send the UPDATE in", Culprit.LOCAL)
        body = b""
        if sdp is not None:
            body = str(self._negotiator.set_local_offer(sdp)).encode()
            self._move_sub(SE.SEND_PROPOSAL, "local", method="UPDATE")
        request = DialogRequest(
            self.engine, dialog, "UPDATE", resolver=self._resolver, authenticator=self._auth,
            on_done=lambda result: self._update_done(request, result, with_offer=bool(body)),
            extra_headers=[*(extra_headers or ()), *self._refresh_headers()], body=body,
            content_type=SDP_TYPE if body else None,
        )  # fmt: skip
        if body:
            self._update = request
        request.start()

    def _update_done(self, request: DialogRequest, result: DialogResult, with_offer: bool) -> None:
        data = {"code": result.code, "reason": result.reason, "headers": result.headers, "body": result.body}
        if result.dialog_gone and self._state not in (S.DISCONNECTED,):
            self._update = None
            self._cancel_offer()
            self._move(E.ENDED, "remote", disconnect_reason=f"{result.code} {result.reason}", **data)
            return
        self._on_refresh_answered(result)
        if not with_offer or request is not self._update:
            return
        self._update = None
        if result.is_success and result.response is not None:
            try:
                sdp = _sdp_of(result.response)
                if sdp is None:
                    raise RemoteSDPNegotiationError("the 2xx to our UPDATE has no SDP answer")
                self._negotiator.set_remote_answer(sdp)
                self._negotiate()
            except (SDPParseError, SDPNegotiationError) as error:
                self._cancel_offer()
                self._sdp_update(str(error))
        else:
            self._cancel_offer()
            self._sdp_update(f"{result.code} {result.reason}")
        if self._state is S.CONNECTED and self._sub_state is SS.SENDING_PROPOSAL:
            self._move_sub(SE.PROPOSAL_ANSWERED, "remote", **data)

    def _on_update(self, dialog: Dialog, transaction: Any, request: SIPRequest) -> None:
        try:
            sdp = _sdp_of(request)
        except SDPParseError as error:
            self._respond(dialog, transaction, 400, f"Bad Request - {error}"[:100])
            return
        self._on_refresh_received(request)
        if sdp is None:  # a refresh (session timers) or a target refresh: nothing to negotiate
            self._respond(dialog, transaction, 200, headers=self._refresh_response_headers(request))
            return
        n = self._negotiator
        if n.state is NegotiationState.LOCAL_OFFER and self._update is not None:
            self._respond(dialog, transaction, 491)  # both UPDATEs carry offers (RFC 3311 §5.2)
            return
        if n.state is not NegotiationState.DONE or self._received is not None:
            retry = str(int(self._random.uniform(0, 10)))
            self._respond(dialog, transaction, 500, headers=[("Retry-After", retry)])
            return
        if self._state is not S.CONNECTED or dialog is not self._dialog:
            self._respond(
                dialog, transaction, 488, "Not Acceptable Here - offers in early UPDATEs are not taken"
            )
            return
        if self._sub_state is SS.SENDING_PROPOSAL:  # our re-INVITE waits for its glare retry
            self._respond(dialog, transaction, 491)
            return
        try:
            n.set_remote_offer(sdp)
        except SDPNegotiationError as error:
            self._respond(dialog, transaction, 488, f"Not Acceptable Here - {error}"[:100])
            return
        self._received = (transaction, request)
        self._move_sub(
            SE.RECEIVE_PROPOSAL, "remote", method="UPDATE", headers=headers_of(request), body=request.body
        )

    def _answer_proposal(self, code: int, reason: str | None, sdp: Any, headers: list[Any]) -> None:
        assert self._received is not None and self._dialog is not None
        transaction, request = self._received
        n = self._negotiator
        if code < 200:
            if request.method == "UPDATE":
                raise ValueError("an UPDATE is answered with a final response (RFC 3311 §5.2)")
            self._respond(self._dialog, transaction, code, reason, headers)
            return
        sub_transition(self._state, self._sub_state, SE.ANSWER_PROPOSAL)
        body = b""
        if code < 300:
            if n.state is NegotiationState.REMOTE_OFFER:
                if sdp is None:
                    raise InvitationStateError(
                        "the re-INVITE has an offer: the 2xx needs an answer", Culprit.LOCAL
                    )
                body = str(n.set_local_answer(sdp)).encode()
                self._negotiate()
            else:  # no offer in the re-INVITE: ours goes in the 2xx, the answer in the ACK
                offer = sdp if sdp is not None else n.active_local
                if offer is not None:
                    body = str(n.set_local_offer(offer)).encode()
            headers.append(("Allow", ALLOW))
            negotiated = self._in_dialog_negotiation(request)
            headers += self._session_timer.response_headers(request, negotiated)
            self._session_timer.start(negotiated, we_are_uac=False)
        else:
            self._cancel_offer()
        response = self._dialog.create_response(
            request, code, reason, extra_headers=headers, body=body, content_type=SDP_TYPE if body else None
        )
        transaction.send_response(response)
        self._received = None
        if code < 300 and request.method == "INVITE":
            self._start_2xx(transaction, response)
        self._move_sub(SE.ANSWER_PROPOSAL, "local", code=code, reason=response.reason)
