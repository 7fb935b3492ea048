"""``Referral``: a REFER (RFC 3515) and the implicit ``refer`` subscription it creates.

The REFER goes out of dialog to ``request_uri`` through ``route_header`` with Refer-To, Contact
and Accept (the engine's ``events["refer"]``, message/sipfrag); 401/407 are answered. The dialog
comes from the 2xx (202 Accepted) or from the first NOTIFY if it is faster. The referee's NOTIFYs
(Event: refer, with the REFER's CSeq as ``id`` or none) carry a message/sipfrag body whose status
line is the progress of the referred request: it is parsed into ``code`` and ``reason`` of
``SIPReferralGotNotify`` (None when the body is not a sipfrag status line).

The machine is the subscriber machine of ``subscription.py`` (``TRANSITIONS``), with
REFERRING for SUBSCRIBING and without refreshes or re-subscriptions: the notifier ends the
implicit subscription (normally with the final sipfrag and ``terminated;reason=noresource``).
Timer N applies after the 2xx. ``end()`` sends SUBSCRIBE (Event: refer;id=CSeq, Expires: 0) in the
dialog and waits for the terminating NOTIFY, at most ``timeout`` (default 64*T1).

Notifications (sender: the Referral; each has ``timestamp``): ``SIPReferralChangedState``
(``prev_state``, ``state``), ``SIPReferralGotNotify`` (``method``, ``request_uri``,
``from_header``, ``to_header``, ``headers``, ``body``, ``content_type``, ``event``, ``code``,
``reason``), ``SIPReferralDidFail`` (``code``, ``reason``, ``min_expires``),
``SIPReferralDidEnd`` (``originator``, ``code``, ``reason``). All methods run on the reactor
thread.
"""

from __future__ import annotations

import re
from typing import Any

from sipsimple.core._errors import SIPCoreInvalidStateError
from sipsimple.core.sip.credentials import BaseCredentials
from sipsimple.core.sip.headers import BaseHeader, EventHeader, ExpiresHeader, ReferToHeader, frozen
from sipsimple.core.sip.message import SIPRequest

from ._client import check_running
from ._dialog_client import DialogEngineAPI
from .route import RouteResolver
from .subscription import SubscriberEvent, SubscriberState, _Subscriber

__all__ = ["Referral", "parse_sipfrag_status"]

_STATUS_LINE = re.compile(rb"\s*SIP/2\.0[ \t]+([1-6][0-9][0-9])(?:[ \t]+([^\r\n]*))?")


def parse_sipfrag_status(body: bytes) -> tuple[int, str] | tuple[None, None]:
    """The status code and reason of a message/sipfrag whose start line is a status line
    (``SIP/2.0 200 OK`` -> (200, "OK")); (None, None) for anything else."""
    match = _STATUS_LINE.match(body)
    if match is None:
        return None, None
    return int(match.group(1)), (match.group(2) or b"").decode("utf-8", "replace").strip()


class Referral(_Subscriber):
    """``Referral(request_uri, from_header, to_header, refer_to_header, contact_header,
    route_header, credentials=None, engine=None, resolver=None)``; see the module documentation."""

    PREFIX = "SIPReferral"
    METHOD = "REFER"
    STATE_NAMES = {SubscriberState.NULL: "NULL", SubscriberState.SENT: "REFERRING",
                   SubscriberState.PENDING: "PENDING", SubscriberState.ACTIVE: "ACTIVE",
                   SubscriberState.TERMINATED: "TERMINATED"}  # fmt: skip

    def __init__(
        self,
        request_uri: Any,
        from_header: BaseHeader,
        to_header: BaseHeader,
        refer_to_header: BaseHeader | str,
        contact_header: BaseHeader,
        route_header: Any,
        credentials: BaseCredentials | None = None,
        engine: DialogEngineAPI | None = None,
        *,
        resolver: RouteResolver | None = None,
    ) -> None:
        super().__init__(
            request_uri, from_header, to_header, contact_header, route_header, credentials, None, engine,
            resolver,
        )  # fmt: skip
        self.refer_to_header = frozen(
            ReferToHeader.parse(refer_to_header) if isinstance(refer_to_header, str) else refer_to_header
        )

    def send_refer(self, timeout: float | None = None) -> None:
        """Send the REFER (once); ``timeout`` bounds it."""
        check_running(self.engine)
        if self._state is not SubscriberState.NULL:
            raise SIPCoreInvalidStateError(f"{self!r}: the REFER was already sent")
        self._timeout = timeout
        self._move(SubscriberEvent.SEND)
        self._start_dialog()

    def end(self, timeout: float | None = None) -> None:
        """End the implicit subscription (SUBSCRIBE with Expires: 0) and wait for the terminating
        NOTIFY, at most ``timeout`` seconds (64*T1 by default); DidEnd(originator="local") follows."""
        self._end(timeout)

    # -- the hooks ----------------------------------------------------------------------------

    def _accept(self) -> list[tuple[str, Any]]:
        accept = self.engine.events.get("refer") or ["message/sipfrag"]
        return [("Accept", ", ".join(accept))]

    def _initial_headers(self) -> tuple[list[tuple[str, Any]], bytes, Any]:
        return [("Refer-To", self.refer_to_header), *self._accept()], b"", None

    def _subscribe_headers(self, expires: int) -> tuple[list[tuple[str, Any]], bytes, Any]:
        refer = self._creating_request()  # the 202 may not have come yet (a NOTIFY came first)
        assert refer is not None
        event = EventHeader("refer", {"id": str(refer.cseq.number)})
        return [("Event", event), ("Expires", ExpiresHeader(expires)), *self._accept()], b"", None

    def _notify_data(self, request: SIPRequest) -> dict[str, Any]:
        code, reason = parse_sipfrag_status(request.body)
        return {"code": code, "reason": reason}

    def _refresh_due(self) -> None:  # REFRESHES is False: never scheduled
        pass
