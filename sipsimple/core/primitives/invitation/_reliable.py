"""Reliable provisional responses as UAS (RFC 3262): our 18x resent until its PRACK, the
504 when none comes, and the PRACK that may carry the answer to an offer in the 18x.
"""

from __future__ import annotations

from typing import Any

from sipsimple.core.sdp import (
    NegotiationState,
    RemoteSDPNegotiationError,
    SDPNegotiationError,
    SDPParseError,
)
from sipsimple.core.sip.dialog import Dialog, ProtocolError
from sipsimple.core.sip.message import SIPRequest, SIPResponse

from ._base import (
    InvitationBase,
    S,
    _sdp_of,
    log,
)
from ._extensions import rack_of


class ReliableMixin(InvitationBase):
    """Reliable 18x and PRACK as UAS; a mixin of ``Invitation``."""

    def _start_reliable(self, response: SIPResponse) -> None:
        """Resend the reliable 18x at T1, 2*T1, 4*T1... until its PRACK; 504 at 64*T1 (§3)."""
        self._reliable = (response, self._rseq)
        interval = [self._t1()]

        def again() -> None:
            if self._reliable is None or self._reliable[0] is not response:
                return
            try:
                self._transaction.send_response(response)
            except (ProtocolError, ValueError) as error:
                log.info("%r: cannot resend the reliable provisional: %s", self, error)
                return
            interval[0] *= 2
            self._timers.set("100rel", interval[0], again)

        self._timers.set("100rel", interval[0], again)
        self._timers.set("100rel-give-up", 64 * self._t1(), self._no_prack)

    def _stop_reliable(self) -> None:
        self._reliable = None
        self._timers.cancel("100rel")
        self._timers.cancel("100rel-give-up")

    def _no_prack(self) -> None:
        if self._reliable is not None and self._state in (S.INCOMING, S.EARLY):
            self._stop_reliable()
            self.send_response(504, "No PRACK")

    def _on_prack(self, dialog: Dialog, transaction: Any, request: SIPRequest) -> None:
        reliable = self._reliable
        rack = rack_of(request)
        if (
            reliable is None
            or self._request is None
            or rack != (reliable[1], self._request.cseq.number, "INVITE")
        ):
            self._respond(dialog, transaction, 481, "No Matching Reliable Response")
            return
        self._stop_reliable()
        n = self._negotiator
        try:
            sdp = _sdp_of(request)
            if self._offer_in_reliable and n.state is NegotiationState.LOCAL_OFFER:
                if sdp is None:
                    raise RemoteSDPNegotiationError("the PRACK has no answer to our offer")
                n.set_remote_answer(sdp)
                self._offer_in_reliable = False
                self._answered_reliably = True
                self._respond(dialog, transaction, 200)
                self._negotiate()
                return
        except (SDPParseError, SDPNegotiationError) as error:
            self._offer_in_reliable = False
            self._cancel_offer()
            self._respond(dialog, transaction, 488, f"Not Acceptable Here - {error}"[:100])
            self._sdp_update(str(error))
            return
        self._respond(dialog, transaction, 200)
