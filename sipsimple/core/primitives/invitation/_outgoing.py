"""The caller side of the initial INVITE: ``send_invite``, provisional responses and early
dialogs (one per To tag), PRACK as UAC (RFC 3262), the 2xx and its ACK (``send_ack`` for a
late offer), 422 retry (RFC 4028 §7.1), CANCEL and the INVITE timeout.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sipsimple.core.sdp import (
    NegotiationState,
    RemoteSDPNegotiationError,
    SDPNegotiationError,
    SDPParseError,
)
from sipsimple.core.sip.dialog import Dialog, ProtocolError
from sipsimple.core.sip.headers import BaseHeader, frozen
from sipsimple.core.sip.ids import new_call_id
from sipsimple.core.sip.message import SIPRequest, SIPResponse
from sipsimple.core.sip.transaction import Culprit

from .._client import (
    Authenticator,
    RequestTemplate,
    Result,
    check_running,
    extra,
    headers_of,
    with_tag,
)
from .._dialog_client import DialogRequest
from ..route import Hop
from ._base import (
    ALLOW,
    SDP_TYPE,
    SUPPORTED,
    E,
    InvitationBase,
    S,
    _allow_of,
    _contact,
    _name_of,
    _sdp_of,
    log,
)
from ._extensions import (
    options,
    rseq_of,
)
from ._requests import InviteRequest, resend, send_cancel
from ._state import (
    InvitationStateError,
    transition,
)
from ._timer import (
    SessionTimerSettings,
    uac_outcome,
)


class OutgoingMixin(InvitationBase):
    """The outgoing INVITE; a mixin of ``Invitation``."""

    def send_invite(
        self,
        request_uri: Any,
        from_header: BaseHeader,
        to_header: BaseHeader,
        route_header: Any,
        contact_header: BaseHeader,
        sdp: Any = None,
        credentials: Any = None,
        extra_headers: Iterable[BaseHeader] | None = None,
        timeout: float | None = None,
        session_timer: SessionTimerSettings | Mapping[str, Any] | bool | None = None,
    ) -> None:
        """Send the INVITE (with ``sdp`` as the offer, or without one: a late offer).

        ``session_timer`` (RFC 4028): a ``SessionTimerSettings``, a mapping of its fields
        (``session_expires``, ``min_se``, ``refresher``, ``enabled``), False to disable, or None
        for the defaults (1800 s, Min-SE 90, the callee chooses the refresher)."""
        check_running(self.engine)
        transition(self._state, E.SEND_INVITE)
        self._session_timer.settings = SessionTimerSettings.of(session_timer)
        self.direction = "outgoing"
        self.request_uri = request_uri
        self.route_header = route_header
        self.call_id = new_call_id()
        self._local_identity = with_tag(from_header)
        self._remote_identity = frozen(to_header)
        self._auth = Authenticator(credentials)
        headers = self._invite_headers(contact_header, extra_headers)
        body = b""
        if sdp is not None:
            offer = self._negotiator.set_local_offer(sdp)
            body = str(offer).encode()
            headers.append(("Content-Type", SDP_TYPE))
        template = RequestTemplate("INVITE", request_uri, headers, body)
        self._invite = InviteRequest(
            self.engine,
            template,
            route_header,
            resolver=self._resolver,
            authenticator=self._auth,
            next_cseq=lambda: next(self._cseq),
            on_done=self._invite_failed,
            on_provisional=self._on_provisional,
            on_accept=self._on_accept,
            on_too_brief=self._on_422,
        )
        self._invite.on_trying = self._on_trying
        self._move(E.SEND_INVITE, "local", method="INVITE")
        self._listen_stray()
        if timeout is not None:
            self._timers.set("invite", timeout, self._invite_timeout)
        self._invite.start()

    def _invite_headers(
        self, contact_header: BaseHeader, extra_headers: Iterable[BaseHeader] | None
    ) -> list[Any]:
        """The headers of our INVITE; Supported and Session-Expires unless the caller gave them."""
        headers: list[tuple[str, Any]] = [
            ("From", self._local_identity),
            ("To", self._remote_identity),
            ("Call-ID", self.call_id),
            ("Contact", [frozen(contact_header)]),
            ("Allow", ALLOW),
            *extra(extra_headers),
        ]
        if not any(_name_of(header) == "supported" for header in headers):
            headers.append(("Supported", SUPPORTED))
        if not any(_name_of(header) == "session-expires" for header in headers):
            headers += self._session_timer.request_headers()
        return headers

    def _on_provisional(self, request: SIPRequest, response: SIPResponse) -> None:
        if self._state not in (S.CALLING, S.EARLY, S.DISCONNECTING):
            return
        tag = response.to_header.tag
        if tag:
            try:
                dialog = self._early.get(tag)
                if dialog is None:
                    dialog = Dialog.from_uac(request, response, secure_transport=self._is_tls())
                    self._early[tag] = dialog
                    self._register(dialog)
                else:
                    dialog.receive_response(request, response)
                self.remote_contact = _contact(response) or self.remote_contact
            except ProtocolError as error:
                log.info("%r: unusable provisional response: %s", self, error)
        reliable = tag and "100rel" in options(response, "Require")
        if reliable:
            rseq = rseq_of(response)
            last = self._rseq_seen.get(tag)
            if rseq is None or (last is not None and rseq != last + 1):
                return  # RFC 3262 §4: a retransmission (or out of order): not reported, not PRACKed
        if self._state is S.DISCONNECTING:
            if self._cancel_wanted:
                self._cancel_wanted = False
                self._send_cancel()
            return
        self._early_media(response)
        if reliable:
            assert rseq is not None
            self._rseq_seen[tag] = rseq  # its retransmissions are neither reported nor PRACKed
            if tag in self._early:
                self._send_prack(self._early[tag], rseq, response.cseq.number)
        self._move(
            E.RECEIVE_PROVISIONAL, "remote", code=response.code, reason=response.reason,
            headers=headers_of(response), body=response.body,
        )  # fmt: skip

    def _early_media(self, response: SIPResponse) -> None:
        """An SDP in a provisional response answers our offer (early media, RFC 3261 §13.2.1)."""
        if self._negotiator.state is not NegotiationState.LOCAL_OFFER:
            return
        try:
            sdp = _sdp_of(response)
            if sdp is None:
                return
            self._negotiator.set_remote_answer(sdp)
        except (SDPParseError, SDPNegotiationError) as error:
            log.info("%r: unusable SDP in a %d: %s", self, response.code, error)
            return
        self._negotiate()

    def _send_prack(self, dialog: Dialog, rseq: int, invite_cseq: int) -> None:
        """PRACK a reliable provisional response (RFC 3262 §4) in its early dialog."""
        DialogRequest(
            self.engine, dialog, "PRACK", resolver=self._resolver, authenticator=self._auth,
            on_done=lambda result: None, extra_headers=[("RAck", f"{rseq} {invite_cseq} INVITE")],
        ).start()  # fmt: skip

    def _on_accept(self, request: SIPRequest, response: SIPResponse, hop: Hop) -> None:
        tag = response.to_header.tag or ""
        number = response.cseq.number
        if self._dialog is not None and tag == self._dialog.remote_tag:
            sent = self._acks.get((tag, number))
            if sent is not None:
                resend(self.engine, *sent)  # a retransmitted 2xx: the same ACK again
            return
        if self._dialog is not None or self._state is S.DISCONNECTED:
            self._end_fork(request, response, tag)
            return
        try:
            dialog = self._early.pop(tag, None)
            if dialog is None:
                dialog = Dialog.from_uac(request, response, secure_transport=hop.address.transport == "tls")
            else:
                dialog.receive_response(request, response)
        except ProtocolError as error:
            log.warning("%r: a 2xx that makes no dialog: %s", self, error)
            return
        self._dialog = dialog
        self._register(dialog)
        for other in list(self._early.values()):
            self._forget(other)
        self._early.clear()
        self.transport = hop.address.transport
        self.peer_address = hop.address
        self.remote_contact = _contact(response) or self.remote_contact
        self._timers.cancel("invite")
        if self._state is S.DISCONNECTING:  # the CANCEL/200 race (RFC 3261 §15): ACK, then BYE
            self._timers.cancel("cancel")
            self._send_ack(dialog, number)
            self._send_bye(dialog, (), None)
            return
        self._move(
            E.RECEIVE_ACCEPT, "remote", code=response.code, reason=response.reason,
            headers=headers_of(response), body=response.body,
        )  # fmt: skip
        self._session_timer.peer_allows_update = "UPDATE" in _allow_of(response)
        self._session_timer.start(uac_outcome(response), we_are_uac=True)
        self._answer_2xx(dialog, response, number)

    def _on_422(self, response: SIPResponse) -> bool:
        """A 422 Session Interval Too Small: retry once with its Min-SE (RFC 4028 §7.1)."""
        if self._invite is None or self._state not in (S.CALLING, S.EARLY):
            return False
        if not self._session_timer.take_422(response):
            return False
        template = self._invite.template
        template.headers = [h for h in template.headers if _name_of(h) not in ("session-expires", "min-se")]
        template.headers += self._session_timer.request_headers()
        return True

    def _answer_2xx(self, dialog: Dialog, response: SIPResponse, number: int) -> None:
        """Take the SDP of the 2xx to the initial INVITE, then ACK (or wait for send_ack)."""
        n = self._negotiator
        try:
            sdp = _sdp_of(response)
            if n.state is NegotiationState.LOCAL_OFFER:
                if sdp is None:
                    raise RemoteSDPNegotiationError("the 2xx has no SDP answer to our offer")
                n.set_remote_answer(sdp)
                self._negotiate()
            elif n.state is NegotiationState.NO_OFFER and sdp is not None:
                n.set_remote_offer(sdp)  # a late offer: the answer goes in the ACK (send_ack)
                self._late_ack = (dialog, number)
                return
        except (SDPParseError, SDPNegotiationError) as error:
            self._cancel_offer()
            self._sdp_update(str(error))
            self._send_ack(dialog, number)
            self._move(E.SEND_ACK, "local")
            self._bye(reason=f"SDP negotiation failed: {error}")
            return
        self._send_ack(dialog, number)
        self._move(E.SEND_ACK, "local")

    def send_ack(self, sdp: Any) -> None:
        """Answer the offer a 2xx carried (our INVITE had none) in the ACK, and connect."""
        if self._late_ack is None:
            raise InvitationStateError("no 2xx offer waits for an answer in the ACK", Culprit.LOCAL)
        dialog, number = self._late_ack
        answer = self._negotiator.set_local_answer(sdp)
        self._late_ack = None
        self._send_ack(dialog, number, str(answer).encode())
        self._negotiate()
        self._move(E.SEND_ACK, "local")

    def _invite_failed(self, result: Result) -> None:
        for dialog in list(self._early.values()):
            self._forget(dialog)
        self._early.clear()
        if self._state not in (S.CALLING, S.EARLY, S.DISCONNECTING):
            return
        self._cancel_offer()
        data = {"code": result.code, "reason": result.reason, "headers": result.headers, "body": result.body}
        if self._state is S.DISCONNECTING:
            self._move(E.RECEIVE_REJECT, "local", disconnect_reason="user request", **data)
        else:
            reason = f"{result.code} {result.reason}"
            self._move(E.RECEIVE_REJECT, "remote", disconnect_reason=reason, **data)

    def _invite_timeout(self) -> None:
        if self._state in (S.CALLING, S.EARLY):
            self._end_unanswered(reason="timeout")

    def _on_trying(self) -> None:
        """A 100 Trying: the CANCEL that waited for a provisional response goes now (§9.1)."""
        if self._state is S.DISCONNECTING and self._cancel_wanted:
            self._cancel_wanted = False
            self._send_cancel()

    def _send_cancel(self) -> None:
        current = None if self._invite is None else self._invite.current()
        if current is not None:
            send_cancel(self.engine, *current)
        # RFC 3261 §9.1: without a final response 64*T1 after the CANCEL, give up
        self._timers.set("cancel", 64 * self._t1(), self._cancel_timeout)

    def _cancel_timeout(self) -> None:
        if self._state is S.DISCONNECTING and self._dialog is None:
            self._move(E.ENDED, "local", code=408, reason="No final response to the CANCEL")

    def _end_unanswered(self, reason: str = "user request") -> None:
        assert self._invite is not None
        self._move(E.CANCEL, "local", method="CANCEL", disconnect_reason=reason)
        if self._invite.provisional_seen:
            self._send_cancel()
        else:  # a CANCEL may only follow a provisional response (RFC 3261 §9.1)
            self._cancel_wanted = True
            self._timers.set("cancel", 64 * self._t1(), self._cancel_timeout)
