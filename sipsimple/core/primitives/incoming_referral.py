"""``IncomingReferral``: a received out-of-dialog REFER (RFC 3515) and its implicit subscription.

The REFER handler (``install_incoming_handlers``) answers 400 to a REFER without exactly one valid
Refer-To or without a Contact, and otherwise creates an IncomingReferral and posts
``SIPIncomingReferralGotRefer``. The application then:

* ``accept()``: 202 Accepted, then at once a NOTIFY with ``SIP/2.0 100 Trying`` (ACTIVE);
* ``reject(code)``: a 3xx-6xx, and the referral ends (TERMINATED);
* ``send_notify(code, reason=None)``: a NOTIFY whose message/sipfrag body is the status line of
  the referred request (``SIP/2.0 180 Ringing``); a final code (>= 200) ends the implicit
  subscription (``terminated;reason=noresource``);
* ``end()``: the final NOTIFY with the last status sent, ``terminated;reason=noresource``.

Every NOTIFY carries ``Event: refer;id=<the REFER's CSeq>``. The implicit subscription lasts
``REFER_EXPIRES`` seconds unless the referrer refreshes it with a SUBSCRIBE in the dialog; at the
expiry, and after an unsubscribe, the final NOTIFY says ``terminated;reason=timeout``. The NOTIFY
queue, in-dialog SUBSCRIBEs and the failure rules are those of ``IncomingSubscription``.

States: NULL, ACTIVE, TERMINATED (the notifier machine of ``incoming_subscription.py``).
Notifications (sender: the IncomingReferral; each has ``timestamp``):
``SIPIncomingReferralGotRefer`` (``request_uri``, ``from_header``, ``to_header``,
``refer_to_header``, ``headers``), ``SIPIncomingReferralChangedState`` (``prev_state``,
``state``), ``SIPIncomingReferralGotRefreshingSubscribe`` (``expires``, ``headers``),
``SIPIncomingReferralGotUnsubscribe`` (``headers``), ``SIPIncomingReferralNotifyDidSucceed`` /
``NotifyDidFail`` (``code``, ``reason``), ``SIPIncomingReferralDidEnd`` (``originator``).
"""

from __future__ import annotations

from typing import Any

from sipsimple.core._errors import SIPCoreInvalidStateError
from sipsimple.core.sip._grammar import SIPParseError
from sipsimple.core.sip.dialog import ProtocolError
from sipsimple.core.sip.headers import EventHeader, canonical_name, frozen
from sipsimple.core.sip.message import SIPRequest
from sipsimple.core.sip.status import reason_phrase

from ._client import check_running, headers_of
from ._dialog_client import DialogEngineAPI
from .incoming_subscription import NotifierEvent, NotifierState, _Notifier, _refuse
from .route import RouteResolver

__all__ = ["REFER_EXPIRES", "SIPFRAG", "IncomingReferral", "receive_refer"]

#: How long the implicit subscription of an accepted REFER lasts without a refresh (seconds).
REFER_EXPIRES = 600

SIPFRAG = "message/sipfrag;version=2.0"


class IncomingReferral(_Notifier):
    """A received REFER (created by the handler that ``install_incoming_handlers`` installs);
    see the module documentation."""

    PREFIX = "SIPIncomingReferral"

    def __init__(
        self, engine: DialogEngineAPI, transaction: Any, *, resolver: RouteResolver | None = None
    ) -> None:
        super().__init__(engine, transaction, resolver=resolver)
        self.refer_to_header = frozen(self._request.get("Refer-To"))
        self._event = EventHeader("refer", {"id": str(self._request.cseq.number)})
        self._status = (100, reason_phrase(100))

    def _announce(self) -> None:
        request = self._request
        self._post(
            "GotRefer",
            request_uri=request.uri,
            from_header=request.from_header,
            to_header=request.to_header,
            refer_to_header=self.refer_to_header,
            headers=headers_of(request),
        )

    def accept(self) -> None:
        """202 Accepted, then a NOTIFY with ``SIP/2.0 100 Trying``."""
        if self._state is not NotifierState.NULL:
            raise SIPCoreInvalidStateError(f"{self!r} was already answered")
        self._respond(202)
        self._move(NotifierEvent.ACCEPT)
        self._accepted(REFER_EXPIRES)

    def reject(self, code: int) -> None:
        """Refuse the REFER with ``code`` (3xx-6xx)."""
        self._reject(code)

    def send_notify(self, code: int, reason: str | None = None) -> None:
        """Report the referred request's progress (``code``, ``reason`` or the usual phrase); a
        final code ends the implicit subscription."""
        if not 100 <= code <= 699:
            raise ValueError(f"{code} is not a SIP status code")
        if self._state is not NotifierState.ACTIVE or self._final is not None:
            raise SIPCoreInvalidStateError(f"{self!r} is not active")
        check_running(self.engine)
        self._status = (code, reason_phrase(code) if reason is None else reason)
        if code >= 200:
            self._terminate("noresource", "local")
        else:
            self._notify()

    def end(self) -> None:
        """End the implicit subscription (the last status, ``terminated;reason=noresource``).
        Before an answer this rejects with 480; after the end it does nothing."""
        if self._state is NotifierState.NULL:
            self._reject(480)
        elif self._state is not NotifierState.TERMINATED:
            check_running(self.engine)
            self._terminate("noresource", "local")

    def _event_header(self) -> Any:
        return self._event

    def _notify_body(self, final: bool) -> tuple[bytes, Any]:
        code, reason = self._status
        return f"SIP/2.0 {code} {reason}\r\n".encode(), SIPFRAG


def receive_refer(engine: DialogEngineAPI, transaction: Any, resolver: RouteResolver | None = None) -> None:
    """The handler of out-of-dialog REFERs: an IncomingReferral, or 400 for a REFER without
    exactly one valid Refer-To or without a Contact."""
    request: SIPRequest = transaction.request
    count = sum(1 for name, _ in request.headers if canonical_name(name) == "Refer-To")
    if count != 1:
        _refuse(transaction, 400, "Bad Request - a REFER needs exactly one Refer-To")
        return
    try:
        request.get("Refer-To")
        referral = IncomingReferral(engine, transaction, resolver=resolver)
    except (SIPParseError, ProtocolError) as error:
        _refuse(transaction, 400, f"Bad Request - {error}"[:100])
        return
    referral._announce()
