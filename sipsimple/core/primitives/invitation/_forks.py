"""The ACK for a 2xx (sent outside any transaction, kept to answer retransmissions),
stray 2xx after the INVITE transaction ended, and the 2xx of forks we do not keep
(RFC 3261 §13.2.2.4, RFC 6026).
"""

from __future__ import annotations

from typing import Any

from sipsimple.core.sip.dialog import Dialog, ProtocolError
from sipsimple.core.sip.message import SIPRequest, SIPResponse

from ._base import (
    SDP_TYPE,
    InvitationBase,
    log,
)
from ._requests import resend, send_outside


class ForkMixin(InvitationBase):
    """The ACKs of our INVITEs and the forks we end; a mixin of ``Invitation``."""

    def _send_ack(self, dialog: Dialog, number: int, body: bytes = b"") -> None:
        try:
            ack, next_hop = dialog.create_ack(number, body=body, content_type=SDP_TYPE if body else None)
        except ProtocolError as error:
            log.warning("%r: cannot build the ACK: %s", self, error)
            return
        key = (dialog.remote_tag, number)

        def sent(request: SIPRequest, destination: Any, tls_name: str | None) -> None:
            self._acks[key] = (request, destination, tls_name)

        send_outside(self.engine, self._resolver, ack, next_hop, sent)

    def _listen_stray(self) -> None:
        """Hear the 2xx that arrive after the INVITE client transaction ended (stray responses)."""
        register = getattr(self.engine, "register_stray_handler", None)
        if register is not None and self.call_id is not None and self._local_identity is not None:
            register(self.call_id, self._local_identity.tag, self._on_stray_response)
            self._stray_registered = True

    def _unlisten_stray(self) -> None:
        if getattr(self, "_stray_registered", False):
            self._stray_registered = False
            self.engine.register_stray_handler(self.call_id, self._local_identity.tag, None)

    def _after_teardown(self) -> None:
        """64*T1 after the end no 2xx of our INVITE can come any more (RFC 6026): stop hearing
        stray responses and let the INVITE request go. Its callbacks are our bound methods and
        it refers to its transaction's listener, which refers back to it: dropping it here lets
        reference counting free the Invitation, without the cyclic garbage collector."""
        self._unlisten_stray()
        if self._invite is not None:
            self._invite.cancel()
            self._invite = None

    def _on_stray_response(self, response: SIPResponse) -> None:
        """A response no client transaction took: a 2xx to one of our INVITEs must still be ACKed
        (again, for a retransmission) and, for a fork we did not keep, BYEd (RFC 3261 §13.2.2.4)."""
        cseq = response.cseq
        if cseq is None or cseq.method != "INVITE" or not 200 <= response.code < 300:
            return
        tag = response.to_header.tag or ""
        sent = self._acks.get((tag, cseq.number))
        if sent is not None:
            resend(self.engine, *sent)
            return
        if self._dialog is not None and tag == self._dialog.remote_tag:
            return  # a 2xx we did not ACK yet (the late-offer ACK waits for send_ack)
        request = None if self._invite is None else self._invite.last_request
        if request is None or request.cseq.number != cseq.number:
            return
        self._end_fork(request, response, tag)

    def _end_fork(self, request: SIPRequest, response: SIPResponse, tag: str) -> None:
        """A 2xx from another fork (or after the end): ACK it, then BYE it (RFC 3261 §13.2.2.4)."""
        if any(key[0] == tag for key in self._acks):
            sent = next(value for key, value in self._acks.items() if key[0] == tag)
            resend(self.engine, *sent)
            return
        try:
            dialog = Dialog.from_uac(request, response, secure_transport=self._is_tls())
        except ProtocolError as error:
            log.info("%r: unusable 2xx from another fork: %s", self, error)
            return
        self._send_ack(dialog, response.cseq.number)
        self._send_bye(dialog, (), None)
