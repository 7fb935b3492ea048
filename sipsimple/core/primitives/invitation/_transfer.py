"""Call transfer inside the INVITE dialog: REFER (RFC 3515) and its implicit ``refer``
subscription sharing the session's dialog (RFC 5057), both roles; a mixin of ``Invitation``.

The rules are the table of ``_transfer_state.py``; this driver sends and answers the requests.

Referrer (``transfer``): a REFER in the dialog with Refer-To (carrying ``?Replaces=`` for an
attended transfer) and Referred-By (our identity, RFC 3892). A 2xx starts the transfer; the peer's
NOTIFYs (``Event: refer;id=<the REFER's CSeq>``, message/sipfrag) are answered 200 and reported;
the one with ``Subscription-State: terminated`` ends it with the last status seen. A refusal of the
REFER, no NOTIFY within 64*T1 of the 2xx, a subscription that expires without a final NOTIFY, or
the end of the dialog fails it. NOTIFYs about anything else get 481 (489 without an Event).

Referee: a REFER in the confirmed dialog with exactly one Refer-To naming a SIP URI is offered to
the owner (400 otherwise, 491 while another received transfer is running); the owner answers with
``accept_transfer`` (202, then a NOTIFY ``SIP/2.0 100 Trying``) or ``reject_transfer`` (a
3xx-6xx); no answer within 32*T1 is a 408 (before the referrer's transaction gives up).
``notify_transfer_progress(code, reason)`` reports the referred call: a final code sends the final
NOTIFY (``terminated;reason=noresource``). One NOTIFY is in flight at a time; newer progress
waits and only the latest is sent. The implicit subscription lasts ``REFER_EXPIRES`` seconds unless
refreshed by a SUBSCRIBE in the dialog (Expires: 0 ends it); at its end the final NOTIFY says
``terminated;reason=timeout``. A NOTIFY refused or unanswered fails the transfer.

RFC 5057: the REFER and the NOTIFYs are requests of the transfer usage, not of the INVITE usage,
so they go as ``shared_usage`` requests of the dialog. A failure that ends only the transfer usage
(481, 489, 405, 501, 408 or no response at all, or any other error) fails the transfer and leaves
the call alone: no BYE, no teardown. Only a dialog-terminating code (404, 410, 416, 482-485, 502,
604: the dialog's target or route set is unusable) ends the dialog and with it the call.

A BYE (either way) ends the dialog and with it any transfer still running: it fails with 481.
Retransmitted requests are absorbed by the server transactions before they reach the dialog.

Notifications (sender: the Invitation): ``SIPInvitationTransferNewOutgoing`` (``refer_to``),
``SIPInvitationTransferNewIncoming`` (``refer_to``, ``referred_by``, ``headers``),
``SIPInvitationTransferDidStart`` (``role``), ``SIPInvitationTransferGotNotify`` (``code``,
``reason``, ``final``, ``headers``, ``body``), ``SIPInvitationTransferDidEnd`` (``role``,
``originator``, ``code``, ``reason``: the last status of the referred call),
``SIPInvitationTransferDidFail`` (``role``, ``originator``, ``code``, ``reason``). ``role`` is
'referrer' (the transfer we asked for) or 'referee' (the one the peer asked for).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sipsimple.core.sip._grammar import SIPParseError
from sipsimple.core.sip.dialog import Dialog
from sipsimple.core.sip.headers import BaseHeader, EventHeader, ExpiresHeader, Header, canonical_name, frozen
from sipsimple.core.sip.message import SIPRequest
from sipsimple.core.sip.status import reason_phrase
from sipsimple.core.sip.transaction import Culprit
from sipsimple.core.sip.uri import BaseSIPURI

from .._client import check_running, headers_of
from .._dialog_client import DialogRequest, DialogResult, Timers
from ..incoming_referral import REFER_EXPIRES, SIPFRAG
from ..referral import parse_sipfrag_status
from ._base import E, InvitationBase, S, log
from ._extensions import header_text
from ._state import InvitationStateError
from ._transfer_state import (
    TransferEvent,
    TransferState,
    event_matches,
    refer_to_for,
    sipfrag,
    subscription_state,
    transfer_transition,
)

__all__ = ["TRANSFER_METHODS", "TransferMixin"]

T, V = TransferState, TransferEvent

#: The in-dialog methods this mixin serves.
TRANSFER_METHODS = frozenset({"REFER", "NOTIFY", "SUBSCRIBE"})


class _Transfer:
    """One transfer usage of the dialog, in either role (see the module documentation)."""

    def __init__(self, role: str, reactor: Any) -> None:
        self.role = role  # 'referrer' or 'referee'
        self.state = T.NULL
        self.timers = Timers(reactor)
        self.refer_to: Any = None
        self.cseq: int | None = None  # the REFER's CSeq: the Event id of the NOTIFYs
        self.transaction: Any = None  # referee: the REFER until it is answered
        self.status: tuple[int, str] = (100, reason_phrase(100))  # the referred call, last known
        self.final: str | None = None  # referee: the reason of the final NOTIFY once decided
        self.final_sent = False
        self.notifying: DialogRequest | None = None
        self.queued = False
        self.done = False  # DidEnd or DidFail was posted

    def move(self, event: TransferEvent, culprit: Culprit = Culprit.LOCAL) -> None:
        self.state = transfer_transition(self.state, event, culprit)

    @property
    def running(self) -> bool:
        return not self.done


class TransferMixin(InvitationBase):
    """REFER and its NOTIFYs in the INVITE dialog; a mixin of ``Invitation``."""

    _transfer_out: _Transfer | None = None  # the transfer we asked for (referrer)
    _transfer_in: _Transfer | None = None  # the transfer the peer asked for (referee)

    @property
    def transfer_state(self) -> str | None:
        """The state of the transfer we sent ('referring', 'active', 'terminated'), None before."""
        return None if self._transfer_out is None else self._transfer_out.state.value

    @property
    def incoming_transfer_state(self) -> str | None:
        """The state of the transfer the peer sent ('offered', 'active', 'terminated'), None before."""
        return None if self._transfer_in is None else self._transfer_in.state.value

    # -- referrer --------------------------------------------------------------------------------

    def transfer(
        self,
        target_uri: Any,
        replaced_dialog_id: Any = None,
        extra_headers: Iterable[BaseHeader] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Ask the peer to call ``target_uri`` (blind transfer) or, with ``replaced_dialog_id``
        (the ``DialogID`` of another of our sessions, with the target), to replace that dialog
        (attended transfer). ``timeout`` bounds the REFER transaction."""
        check_running(self.engine)
        if self._state is not S.CONNECTED or self._dialog is None:
            raise InvitationStateError(f"cannot transfer in state {self._state.value}", Culprit.LOCAL)
        if self._transfer_out is not None and self._transfer_out.running:
            raise InvitationStateError("a transfer is already in progress", Culprit.LOCAL)
        transfer = _Transfer("referrer", self.engine.reactor)
        transfer.move(V.SEND_REFER)
        transfer.refer_to = refer_to_for(target_uri, replaced_dialog_id)
        headers: list[Any] = [("Refer-To", transfer.refer_to)]
        identity = self.local_identity
        if identity is not None:
            headers.append(Header("Referred-By", f"<{identity.uri}>"))
        headers.extend(extra_headers or ())
        self._transfer_out = transfer
        self._post("SIPInvitationTransferNewOutgoing", refer_to=transfer.refer_to)
        DialogRequest(
            self.engine, self._dialog, "REFER", resolver=self._resolver, authenticator=self._auth,
            on_done=lambda result: self._refer_answered(transfer, result), extra_headers=headers,
            timeout=timeout, shared_usage=True,
        ).start()  # fmt: skip

    def _refer_answered(self, transfer: _Transfer, result: DialogResult) -> None:
        if transfer is not self._transfer_out or not transfer.running:
            return
        if not result.is_success:
            self._transfer_failed(transfer, result.code, result.reason, "remote")
            self._dialog_gone(result)
            return
        if result.response is not None:
            transfer.cseq = result.response.cseq.number
        started = transfer.state is T.REFERRING
        transfer.move(V.ACCEPTED, Culprit.REMOTE)
        if started:
            self._post("SIPInvitationTransferDidStart", role=transfer.role)
            transfer.timers.set("notify", 64 * self._t1(), lambda: self._no_notify(transfer))

    def _no_notify(self, transfer: _Transfer) -> None:
        if transfer.running:
            self._transfer_failed(transfer, 408, "No NOTIFY about the transfer", "remote")

    def _on_transfer_notify(self, dialog: Dialog, transaction: Any, request: SIPRequest) -> None:
        transfer = self._transfer_out
        try:
            event = request.get("Event")
            state = request.get("Subscription-State")
        except SIPParseError as error:
            self._respond(dialog, transaction, 400, f"Bad Request - {error}"[:100])
            return
        if event is None:
            self._respond(dialog, transaction, 489, "Bad Event")
            return
        if transfer is None or not transfer.running or not event_matches(event, transfer.cseq):
            self._respond(dialog, transaction, 481, "Subscription does not exist")
            return
        if state is None:
            self._respond(dialog, transaction, 400, "Bad Request - no Subscription-State")
            return
        self._respond(dialog, transaction, 200)
        code, reason = parse_sipfrag_status(request.body)
        if code is not None and reason is not None:
            transfer.status = (code, reason)
        final = str(state.state).lower() == "terminated"
        if transfer.state is T.REFERRING:
            transfer.move(V.NOTIFY, Culprit.REMOTE)
            self._post("SIPInvitationTransferDidStart", role=transfer.role)
        transfer.timers.cancel("notify")
        self._post("SIPInvitationTransferGotNotify", code=code, reason=reason, final=final,
                   headers=headers_of(request), body=request.body)  # fmt: skip
        if final:
            transfer.move(V.FINAL, Culprit.REMOTE)
            transfer.done = True
            transfer.timers.cancel_all()
            code, reason = transfer.status
            self._post(
                "SIPInvitationTransferDidEnd",
                role=transfer.role,
                originator="remote",
                code=code,
                reason=reason,
            )
            return
        transfer.move(V.NOTIFY, Culprit.REMOTE)
        expires = state.expires if state.expires is not None else REFER_EXPIRES
        transfer.timers.set(
            "expire",
            expires + 32 * self._t1(),
            lambda: self._transfer_failed(transfer, 408, "The transfer subscription expired", "remote"),
        )

    def _transfer_failed(self, transfer: _Transfer, code: int, reason: str, originator: str) -> None:
        if transfer.done:
            return
        if transfer.state is not T.TERMINATED:
            transfer.move(V.FAIL)
        transfer.done = True
        self._stop_transfer(transfer)
        self._post(
            "SIPInvitationTransferDidFail",
            role=transfer.role,
            originator=originator,
            code=code,
            reason=reason,
        )

    # -- referee ---------------------------------------------------------------------------------

    def _on_transfer_request(self, dialog: Dialog, transaction: Any, request: SIPRequest) -> None:
        """The dispatcher's entry for REFER, NOTIFY and SUBSCRIBE (the CSeq was checked)."""
        method = request.method
        if method == "NOTIFY":
            self._on_transfer_notify(dialog, transaction, request)
        elif dialog is not self._dialog or self._state not in (S.CONNECTING, S.CONNECTED):
            self._respond(dialog, transaction, 481)
        elif method == "REFER":
            self._on_refer(dialog, transaction, request)
        else:
            self._on_transfer_subscribe(dialog, transaction, request)

    def _on_refer(self, dialog: Dialog, transaction: Any, request: SIPRequest) -> None:
        count = sum(1 for name, _ in request.headers if canonical_name(name) == "Refer-To")
        try:
            refer_to = request.get("Refer-To") if count == 1 else None
        except SIPParseError as error:
            self._respond(dialog, transaction, 400, f"Bad Request - {error}"[:100])
            return
        if refer_to is None or not isinstance(refer_to.uri, BaseSIPURI):
            self._respond(dialog, transaction, 400, "Bad Request - one Refer-To with a SIP URI is needed")
            return
        if self._transfer_in is not None and self._transfer_in.running:
            self._respond(dialog, transaction, 491, "A transfer is already in progress")
            return
        transfer = _Transfer("referee", self.engine.reactor)
        transfer.move(V.RECEIVE_REFER, Culprit.REMOTE)
        transfer.transaction = transaction
        transfer.cseq = request.cseq.number
        transfer.refer_to = frozen(refer_to)
        self._transfer_in = transfer
        transfer.timers.set("answer", 32 * self._t1(), lambda: self._refer_unanswered(transfer))
        referred_by = header_text(request, "Referred-By")
        self._post("SIPInvitationTransferNewIncoming", refer_to=transfer.refer_to,
                   referred_by=referred_by[0] if referred_by else None, headers=headers_of(request))  # fmt: skip

    def _referee(self, *states: TransferState) -> _Transfer:
        transfer = self._transfer_in
        if transfer is None or transfer.state not in states or self._dialog is None:
            raise InvitationStateError("there is no received transfer in that state", Culprit.LOCAL)
        return transfer

    def accept_transfer(self, extra_headers: Iterable[BaseHeader] | None = None) -> None:
        """Accept the peer's REFER: 202, then a NOTIFY with ``SIP/2.0 100 Trying``."""
        check_running(self.engine)
        transfer = self._referee(T.OFFERED)
        transfer.move(V.ACCEPT)
        assert self._dialog is not None
        self._respond(self._dialog, transfer.transaction, 202, headers=list(extra_headers or ()))
        transfer.transaction = None
        transfer.timers.cancel("answer")
        transfer.timers.set("expire", REFER_EXPIRES, lambda: self._transfer_expired(transfer))
        self._post("SIPInvitationTransferDidStart", role=transfer.role)
        self._queue_transfer_notify(transfer)

    def reject_transfer(
        self, code: int, reason: str | None = None, extra_headers: Iterable[BaseHeader] | None = None
    ) -> None:
        """Refuse the peer's REFER with ``code`` (3xx-6xx)."""
        if not 300 <= code <= 699:
            raise ValueError(f"a rejection needs a 3xx-6xx code, not {code}")
        check_running(self.engine)
        transfer = self._referee(T.OFFERED)
        transfer.move(V.REJECT)
        assert self._dialog is not None
        self._respond(self._dialog, transfer.transaction, code, reason, headers=list(extra_headers or ()))
        transfer.transaction = None
        transfer.done = True  # the peer may send another REFER now
        self._stop_transfer(transfer)
        self._post("SIPInvitationTransferDidFail", role=transfer.role, originator="local", code=code,
                   reason=reason or reason_phrase(code))  # fmt: skip

    def notify_transfer_progress(self, code: int, reason: str | None = None) -> None:
        """Report the referred call's progress to the referrer; a final ``code`` (>= 200) sends the
        last NOTIFY, and SIPInvitationTransferDidEnd follows its outcome."""
        if not 100 <= code <= 699:
            raise ValueError(f"{code} is not a SIP status code")
        check_running(self.engine)
        transfer = self._referee(T.ACTIVE)
        if transfer.final is not None:
            raise InvitationStateError("the transfer's final status was already sent", Culprit.LOCAL)
        transfer.status = (code, reason_phrase(code) if reason is None else reason)
        if code >= 200:
            transfer.final = "noresource"
            transfer.move(V.FINAL)
        self._queue_transfer_notify(transfer)

    def _on_transfer_subscribe(self, dialog: Dialog, transaction: Any, request: SIPRequest) -> None:
        transfer = self._transfer_in
        try:
            event = request.get("Event")
            expires_header = request.get("Expires")
            expires = REFER_EXPIRES if expires_header is None else int(expires_header)
        except (SIPParseError, ValueError) as error:
            self._respond(dialog, transaction, 400, f"Bad Request - {error}"[:100])
            return
        if event is None or str(event.event).lower() != "refer":
            self._respond(dialog, transaction, 489, "Bad Event")
            return
        if transfer is None or transfer.state is not T.ACTIVE or transfer.final is not None:
            self._respond(dialog, transaction, 481, "Subscription does not exist")
            return
        if not event_matches(event, transfer.cseq):
            self._respond(dialog, transaction, 481, "Subscription does not exist")
            return
        expires = min(expires, REFER_EXPIRES)
        self._respond(dialog, transaction, 200, headers=[("Expires", ExpiresHeader(expires))])
        if expires == 0:
            self._transfer_expired(transfer)
            return
        transfer.timers.set("expire", expires, lambda: self._transfer_expired(transfer))
        self._queue_transfer_notify(transfer)

    def _refer_unanswered(self, transfer: _Transfer) -> None:
        if transfer.state is T.OFFERED and self._dialog is not None:
            self._respond(self._dialog, transfer.transaction, 408)
            transfer.transaction = None
            self._transfer_failed(transfer, 408, "The transfer was not answered", "local")

    def _transfer_expired(self, transfer: _Transfer) -> None:
        if transfer.state is T.ACTIVE and transfer.final is None:
            transfer.final = "timeout"
            transfer.move(V.FINAL)
            self._queue_transfer_notify(transfer)

    def _queue_transfer_notify(self, transfer: _Transfer) -> None:
        if transfer.final_sent:
            return
        if transfer.notifying is not None:
            transfer.queued = True
            return
        self._send_transfer_notify(transfer)

    def _send_transfer_notify(self, transfer: _Transfer) -> None:
        final = transfer.final is not None
        assert self._dialog is not None
        headers: list[Any] = [
            ("Event", EventHeader("refer", {"id": str(transfer.cseq)})),
            (
                "Subscription-State",
                subscription_state(transfer.final, transfer.timers.remaining("expire") or 0),
            ),
        ]
        request = DialogRequest(
            self.engine, self._dialog, "NOTIFY", resolver=self._resolver, authenticator=self._auth,
            on_done=lambda result: self._transfer_notify_done(transfer, request, result, final),
            extra_headers=headers, body=sipfrag(*transfer.status), content_type=SIPFRAG,
            shared_usage=True,
        )  # fmt: skip
        transfer.notifying = request
        transfer.queued = False
        transfer.final_sent = final
        request.start()

    def _transfer_notify_done(
        self, transfer: _Transfer, request: DialogRequest, result: DialogResult, final: bool
    ) -> None:
        if transfer.notifying is not request:
            return
        transfer.notifying = None
        if final:
            transfer.done = True
            self._stop_transfer(transfer)
            code, reason = transfer.status
            self._post(
                "SIPInvitationTransferDidEnd",
                role=transfer.role,
                originator="local",
                code=code,
                reason=reason,
            )
        elif not result.is_success:
            self._transfer_failed(transfer, result.code, result.reason, "remote")
        elif transfer.final is not None or transfer.queued:
            self._send_transfer_notify(transfer)
        self._dialog_gone(result)

    # -- both ------------------------------------------------------------------------------------

    def _stop_transfer(self, transfer: _Transfer) -> None:
        transfer.timers.cancel_all()
        if transfer.notifying is not None:
            transfer.notifying.cancel()
            transfer.notifying = None

    def _dialog_gone(self, result: DialogResult) -> None:
        """A dialog-terminating answer to a transfer request (RFC 5057: 404, 410, 416, 482-485,
        502, 604) ended the shared dialog: the session ends too, without a BYE."""
        if result.dialog_gone and self._state in (S.CONNECTING, S.CONNECTED):
            self._move(E.ENDED, "remote", code=result.code, reason=result.reason,
                       disconnect_reason=f"{result.code} {result.reason}")  # fmt: skip

    def _teardown(self) -> None:
        super()._teardown()
        for transfer in (self._transfer_out, self._transfer_in):
            if transfer is None or not transfer.running:
                continue
            if transfer.transaction is not None:
                self._refuse_refer(transfer)
            if transfer.final_sent and transfer.notifying is not None:
                continue  # the final NOTIFY is out: its outcome ends the transfer
            self._transfer_failed(transfer, 481, "The session ended", "remote")

    def _refuse_refer(self, transfer: _Transfer) -> None:
        from ._base import _refuse

        try:
            _refuse(transfer.transaction, 481)
        except Exception as error:  # the transaction may be answered or gone already
            log.info("%r: REFER left unanswered at teardown: %s", self, error)
        transfer.transaction = None
