"""The transfer usage of an INVITE dialog (RFC 3515 REFER inside the dialog, RFC 5057), as data.

Rules:

* An Invitation has at most one transfer in each role at a time: the one it sent (``referrer``:
  our REFER and the NOTIFYs the peer sends about it) and the one it received (``referee``: the
  peer's REFER and the NOTIFYs we send about the call it asked for).
* Referrer: NULL --send_refer--> REFERRING --2xx (or a NOTIFY first)--> ACTIVE; each NOTIFY keeps
  ACTIVE; the NOTIFY whose Subscription-State is ``terminated`` ends it (TERMINATED); a refusal of
  the REFER, a missing or late NOTIFY, or the end of the dialog fails it (TERMINATED).
* Referee: NULL --REFER received--> OFFERED --accept--> ACTIVE (202, then ``100 Trying``);
  OFFERED --reject--> TERMINATED; ACTIVE stays ACTIVE while progress is reported and ends
  (TERMINATED) with the final NOTIFY (a final status, the expiry, or an unsubscribe), a failed
  NOTIFY or the end of the dialog.
* A pair not in ``TABLE`` is a misuse: the application's (``TransferStateError``, culprit LOCAL)
  or, for a remote event, the driver answers the request (481/489) and nothing changes.

Also the pure helpers the driver uses: the Refer-To of a (possibly attended) transfer, the match
of a NOTIFY's Event to our REFER, the sipfrag body and the Subscription-State of our NOTIFYs.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Final

from sipsimple.core._errors import SIPCoreInvalidStateError
from sipsimple.core.sip.headers import ReferToHeader, SubscriptionStateHeader
from sipsimple.core.sip.transaction import Culprit
from sipsimple.core.sip.uri import SIPURI

from ._extensions import replaces_for

__all__ = [
    "TABLE",
    "TransferEvent",
    "TransferState",
    "TransferStateError",
    "event_matches",
    "refer_to_for",
    "sipfrag",
    "subscription_state",
    "transfer_transition",
]


class TransferState(enum.StrEnum):
    NULL = "null"
    REFERRING = "referring"  # referrer: our REFER waits for its answer
    OFFERED = "offered"  # referee: the peer's REFER waits for the application
    ACTIVE = "active"
    TERMINATED = "terminated"


class TransferEvent(enum.StrEnum):
    SEND_REFER = "send a REFER"
    ACCEPTED = "receive a 2xx to the REFER"
    RECEIVE_REFER = "receive a REFER"
    ACCEPT = "accept the REFER"
    REJECT = "reject the REFER"
    NOTIFY = "send or receive a progress NOTIFY"
    FINAL = "send or receive the final NOTIFY"
    FAIL = "fail"


T, V = TransferState, TransferEvent

#: (state, event) -> new state.
TABLE: Final[Mapping[tuple[TransferState, TransferEvent], TransferState]] = {
    (T.NULL, V.SEND_REFER): T.REFERRING,
    (T.REFERRING, V.ACCEPTED): T.ACTIVE,
    (T.REFERRING, V.NOTIFY): T.ACTIVE,  # a NOTIFY may overtake the 202 (RFC 3515 §2.4.4)
    (T.REFERRING, V.FINAL): T.TERMINATED,
    (T.REFERRING, V.FAIL): T.TERMINATED,
    (T.NULL, V.RECEIVE_REFER): T.OFFERED,
    (T.OFFERED, V.ACCEPT): T.ACTIVE,
    (T.OFFERED, V.REJECT): T.TERMINATED,
    (T.OFFERED, V.FAIL): T.TERMINATED,
    (T.ACTIVE, V.ACCEPTED): T.ACTIVE,  # the 202 after an early NOTIFY
    (T.ACTIVE, V.NOTIFY): T.ACTIVE,
    (T.ACTIVE, V.FINAL): T.TERMINATED,
    (T.ACTIVE, V.FAIL): T.TERMINATED,
}


class TransferStateError(SIPCoreInvalidStateError):
    """A transfer move not in ``TABLE``; ``culprit`` says whose fault it is."""

    def __init__(self, message: str, culprit: Culprit) -> None:
        super().__init__(message)
        self.culprit = culprit


def transfer_transition(
    state: TransferState, event: TransferEvent, culprit: Culprit = Culprit.LOCAL
) -> TransferState:
    """The state ``event`` leads to from ``state``; TransferStateError when the table has no row."""
    try:
        return TABLE[(state, event)]
    except KeyError:
        raise TransferStateError(f"cannot {event.value} in transfer state {state.value}", culprit) from None


def refer_to_for(target_uri: Any, replaced: Any = None) -> ReferToHeader:
    """The Refer-To of a transfer to ``target_uri``; with ``replaced`` (a ``DialogID`` seen from
    the side that sends the REFER) the URI carries ``?Replaces=`` naming that dialog, so that the
    referee's INVITE takes its place (attended transfer, RFC 3891 §7)."""
    uri = SIPURI.new(target_uri)
    if replaced is not None:
        header = replaces_for(replaced.call_id, replaced.local_tag, replaced.remote_tag)
        headers = dict(uri.headers)
        headers["Replaces"] = header.body
        uri.headers = headers
    return ReferToHeader(uri)


def event_matches(event: Any, refer_cseq: int | None) -> bool:
    """Whether a NOTIFY's Event header is about our REFER: ``refer`` with our CSeq as ``id``, or
    without an id (RFC 3515 §2.4.6 allows it for the first REFER of a dialog)."""
    if event is None or str(event.event).lower() != "refer":
        return False
    return event.id is None or refer_cseq is None or event.id == str(refer_cseq)


def sipfrag(code: int, reason: str) -> bytes:
    """The message/sipfrag body of a progress NOTIFY: the referred request's status line."""
    return f"SIP/2.0 {code} {reason}\r\n".encode()


def subscription_state(final: str | None, expires: int) -> SubscriptionStateHeader:
    """``terminated;reason=<final>`` for the last NOTIFY, ``active;expires=<expires>`` before."""
    if final is not None:
        return SubscriptionStateHeader("terminated", {"reason": final})
    return SubscriptionStateHeader("active", {"expires": str(max(0, expires))})
