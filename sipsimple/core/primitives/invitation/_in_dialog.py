"""Requests inside the dialog: the dispatcher the engine calls, BYE both ways (``end``), and
MESSAGE/INFO (RFC 6086) both ways.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sipsimple.core.sip._grammar import SIPParseError
from sipsimple.core.sip.dialog import Dialog, ProtocolError
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
    E,
    InvitationBase,
    S,
    _contact,
    _refuse,
)
from ._state import InvitationStateError


class InDialogMixin(InvitationBase):
    """In-dialog requests and ending; a mixin of ``Invitation``."""

    def _on_request(self, transaction: Any) -> None:
        request: SIPRequest = transaction.request
        dialog = self._dialog_for(request)
        if dialog is None:
            if request.method != "ACK":
                _refuse(transaction, 481)
            return
        try:
            verdict = dialog.receive_request(request)
        except ProtocolError as error:
            if request.method != "ACK":
                self._respond(dialog, transaction, 400, f"Bad Request - {error}"[:100])
            return
        if not verdict.accepted:
            if verdict.status is not None:
                self._respond(dialog, transaction, verdict.status, verdict.reason[:100] or None)
            return
        if verdict.target_refreshed or request.method == "INVITE":
            self.remote_contact = _contact(request) or self.remote_contact
        method = request.method
        if method == "ACK":
            self._on_ack(dialog, request)
        elif method == "BYE":
            self._respond(dialog, transaction, 200)
            self._on_bye(request)
        elif method == "INVITE":
            self._on_reinvite(dialog, transaction, request)
        elif method == "OPTIONS":
            self._respond(dialog, transaction, 200, headers=[("Allow", ALLOW)])
        elif method == "PRACK":
            self._on_prack(dialog, transaction, request)
        elif method == "UPDATE":
            self._on_update(dialog, transaction, request)
        elif method in ("MESSAGE", "INFO"):
            self._on_message_or_info(dialog, transaction, request)
        elif method in ("REFER", "NOTIFY", "SUBSCRIBE"):  # the transfer usage (_transfer.py)
            self._on_transfer_request(dialog, transaction, request)
        else:  # PRACK, UPDATE, INFO, MESSAGE...: not served yet (see docs/sip-invitation.md)
            self._respond(dialog, transaction, 501)

    def _on_bye(self, request: SIPRequest) -> None:
        if self._state in (S.INCOMING, S.EARLY) and self._transaction is not None:
            # RFC 3261 §15.1.2: the INVITE still waiting for an answer gets a 487
            assert self._dialog is not None and self._request is not None
            try:
                self._transaction.send_response(self._dialog.create_response(self._request, 487))
            except ProtocolError:
                pass
            self._move(
                E.RECEIVE_CANCEL, "remote", method="BYE", headers=headers_of(request), body=request.body
            )
            return
        if self._state in (S.NULL, S.CALLING, S.DISCONNECTED):
            return
        if self._received is not None and not self._received[0].answered:
            transaction, pending = self._received  # the peer's re-INVITE/UPDATE still unanswered
            self._received = None
            self._cancel_offer()
            if self._dialog is not None:
                try:  # §15.1.2 again: pending requests are answered, 487 recommended
                    transaction.send_response(self._dialog.create_response(pending, 487))
                except ProtocolError:
                    pass
        self._move(E.RECEIVE_BYE, "remote", method="BYE", headers=headers_of(request), body=request.body)

    def send_message(
        self, content_type: str, body: bytes, extra_headers: Iterable[BaseHeader] | None = None
    ) -> None:
        """Send a MESSAGE in the dialog; SIPInvitationRequestDidEnd reports its outcome."""
        self._send_in_dialog("MESSAGE", content_type, body, extra_headers)

    def send_info(
        self,
        content_type: str | None = None,
        body: bytes = b"",
        extra_headers: Iterable[BaseHeader] | None = None,
    ) -> None:
        """Send an INFO in the dialog (RFC 6086); SIPInvitationRequestDidEnd reports its outcome."""
        self._send_in_dialog("INFO", content_type, body, extra_headers)

    def _send_in_dialog(
        self, method: str, content_type: str | None, body: bytes, extra_headers: Iterable[BaseHeader] | None
    ) -> None:
        check_running(self.engine)
        if self._state not in (S.CONNECTING, S.CONNECTED) or self._dialog is None:
            raise InvitationStateError(f"cannot send a {method} in state {self._state.value}", Culprit.LOCAL)

        def done(result: DialogResult) -> None:
            self._post(
                "SIPInvitationRequestDidEnd", method=method, succeeded=result.is_success,
                code=result.code, reason=result.reason, headers=result.headers, body=result.body,
            )  # fmt: skip
            if result.dialog_gone and self._state in (S.CONNECTING, S.CONNECTED):
                self._move(E.ENDED, "remote", code=result.code, reason=result.reason,
                           disconnect_reason=f"{result.code} {result.reason}")  # fmt: skip

        DialogRequest(
            self.engine, self._dialog, method, resolver=self._resolver, authenticator=self._auth,
            on_done=done, extra_headers=list(extra_headers or ()), body=body,
            content_type=content_type if body else None,
        ).start()  # fmt: skip

    def _on_message_or_info(self, dialog: Dialog, transaction: Any, request: SIPRequest) -> None:
        if dialog is not self._dialog or self._state not in (S.CONNECTING, S.CONNECTED):
            self._respond(dialog, transaction, 481)
            return
        try:
            content_type = request.content_type
        except SIPParseError:
            self._respond(dialog, transaction, 400, "Bad Request - malformed Content-Type")
            return
        self._respond(dialog, transaction, 200)
        name = "SIPInvitationGotMessage" if request.method == "MESSAGE" else "SIPInvitationGotInfo"
        self._post(
            name,
            content_type=None if content_type is None else content_type.content_type,
            body=request.body,
            headers=headers_of(request),
        )

    def end(self, extra_headers: Iterable[BaseHeader] | None = None, timeout: float | None = None) -> None:
        """End the session: CANCEL before a final response, 603 to an unanswered incoming INVITE,
        BYE once connected. Ending an invitation that is already ending does nothing."""
        state = self._state
        if state is S.DISCONNECTING:
            return
        if state in (S.NULL, S.DISCONNECTED):
            raise InvitationStateError(f"cannot end an invitation in state {state.value}", Culprit.LOCAL)
        if self.direction == "incoming" and state in (S.INCOMING, S.EARLY):
            self.send_response(603, extra_headers=extra_headers)
            return
        if state in (S.CALLING, S.EARLY):
            self._end_unanswered()
            return
        self._bye(list(extra_headers or ()), timeout)

    def _bye(self, headers: Any = (), timeout: float | None = None, reason: str = "user request") -> None:
        """Move to DISCONNECTING and send the BYE (after the ACK when we still wait for it)."""
        if self._state not in (S.CONNECTING, S.CONNECTED):
            return
        self._move(E.BYE, "local", method="BYE", disconnect_reason=reason)
        self._disconnect_reason = reason
        assert self._dialog is not None
        if self.direction == "incoming" and self._pending_2xx is not None:
            self._bye_after_ack = True  # RFC 3261 §15: the callee waits for the ACK (or its timeout)
            self._timers.set("no-ack", 64 * self._t1(), self._bye_without_ack)
            return
        self._send_bye(self._dialog, headers, timeout)

    def _bye_without_ack(self) -> None:
        self._pending_2xx = None
        self._timers.cancel("2xx")
        if self._bye_after_ack and self._dialog is not None:
            self._bye_after_ack = False
            self._send_bye(self._dialog, (), None)

    def _send_bye(self, dialog: Dialog, headers: Any, timeout: float | None) -> None:
        main = dialog is self._dialog

        def done(result: DialogResult) -> None:
            self._forget(dialog)
            if main and self._state is S.DISCONNECTING:
                reason = getattr(self, "_disconnect_reason", "user request")
                self._move(E.ENDED, "local", code=result.code, reason=result.reason, disconnect_reason=reason)

        DialogRequest(
            self.engine, dialog, "BYE", resolver=self._resolver, authenticator=self._auth,
            on_done=done, extra_headers=headers, timeout=timeout,
        ).start()  # fmt: skip
