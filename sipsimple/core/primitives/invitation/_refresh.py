"""The session-timer driver (RFC 4028; the rules are in ``_timer.py``): the refresh we send
(UPDATE when the peer allows it, else a re-INVITE with the same SDP), its outcome, the
expiry BYE, and the Session-Expires of our answers to in-dialog refreshes.
"""

from __future__ import annotations

from typing import Any

from sipsimple.core.sip.message import SIPRequest

from .._dialog_client import DialogRequest, DialogResult
from ._base import (
    SDP_TYPE,
    SS,
    SUPPORTED,
    E,
    InvitationBase,
    S,
)
from ._extensions import session_expires_of
from ._requests import ReinviteRequest
from ._timer import (
    Negotiated,
    uac_outcome,
    uas_negotiate,
)


class SessionRefreshMixin(InvitationBase):
    """The session-timer driver; a mixin of ``Invitation``."""

    def _refresh_headers(self) -> list[Any]:
        """Session-Expires/Min-SE (and Supported) for our re-INVITE or UPDATE while a session
        timer runs: each such request refreshes the session (RFC 4028 §7.4)."""
        if not self._session_timer.running:
            return []
        return [("Supported", SUPPORTED), *self._session_timer.request_headers()]

    def _session_refresh(self) -> None:
        """Our refresh is due: an UPDATE without SDP when the peer allows UPDATE, else a re-INVITE
        with our current SDP unchanged (same version); no state change is posted for it."""
        if self._state is not S.CONNECTED or self._dialog is None:
            return
        busy = self._sub_state is not SS.NORMAL or self._received is not None or self._update is not None
        if busy or self._pending_2xx is not None or self._proposal is not None:
            self._session_timer.retry_later(min(2.0, self._session_timer.interval or 2.0))
            return  # the exchange in progress carries Session-Expires and refreshes on its 2xx
        if self._session_timer.peer_allows_update:
            DialogRequest(
                self.engine, self._dialog, "UPDATE", resolver=self._resolver, authenticator=self._auth,
                on_done=self._refresh_done, extra_headers=self._refresh_headers(),
            ).start()  # fmt: skip
            return
        local = self._negotiator.active_local
        body = b"" if local is None else str(local).encode()
        request = ReinviteRequest(
            self.engine, self._dialog, "INVITE", resolver=self._resolver, authenticator=self._auth,
            on_done=lambda result: self._refresh_reinvite_done(request, result),
            extra_headers=self._refresh_headers(), body=body, content_type=SDP_TYPE if body else None,
        )  # fmt: skip
        self._refresh = request
        request.start()

    def _refresh_reinvite_done(self, request: ReinviteRequest, result: DialogResult) -> None:
        if request is not self._refresh:
            return
        self._refresh = None
        if result.is_success and result.response is not None and self._dialog is not None:
            assert request.last_request is not None
            self._send_ack(self._dialog, request.last_request.cseq.number)
        self._refresh_done(result)

    def _refresh_done(self, result: DialogResult) -> None:
        """The outcome of our refresh: a 2xx renegotiates; 408/481 (or a timeout) ends the
        session (RFC 4028 §10); another failure is retried while the interval lasts."""
        if self._state is not S.CONNECTED:
            return
        if result.is_success:
            self._on_refresh_answered(result)
            return
        reason = f"session refresh failed: {result.code} {result.reason}"
        data = {"code": result.code, "reason": result.reason, "headers": result.headers, "body": result.body}
        if result.dialog_gone and (self._dialog is None or self._dialog.terminated):
            self._move(E.ENDED, "remote", disconnect_reason=reason, **data)
        elif result.dialog_gone or result.code in (408, 481):
            self._bye(reason=reason)
        else:
            self._session_timer.retry_later(min(32.0, (self._session_timer.interval or 90) / 4))

    def _session_expired(self) -> None:
        """No refresh came in time (RFC 4028 §10): BYE."""
        if self._state is S.CONNECTED:
            self._bye(reason="session timer expired")

    def _in_dialog_negotiation(self, request: SIPRequest) -> Any:
        """What our 2xx to the peer's re-INVITE or UPDATE says: the request's own negotiation,
        or, without Session-Expires while a timer runs, the current interval and refresher."""
        timer = self._session_timer
        if session_expires_of(request) is None and timer.interval is not None:
            return Negotiated(timer.interval, "uas" if timer.we_refresh else "uac")
        return uas_negotiate(request, timer.settings)

    def _on_refresh_answered(self, result: DialogResult) -> None:
        """A 2xx to our re-INVITE or UPDATE: take its Session-Expires (none: no expiration)."""
        if result.is_success and result.response is not None and self._state is S.CONNECTED:
            self._session_timer.start(uac_outcome(result.response), we_are_uac=True)

    def _on_refresh_received(self, request: SIPRequest) -> None:
        pass

    def _refresh_response_headers(self, request: SIPRequest) -> list[Any]:
        """The Session-Expires of our 200 to the peer's UPDATE without SDP; restarts the timer."""
        if self._state is not S.CONNECTED:
            return []
        negotiated = self._in_dialog_negotiation(request)
        self._session_timer.start(negotiated, we_are_uac=False)
        return self._session_timer.response_headers(request, negotiated)
