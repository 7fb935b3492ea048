"""The dialog state machine (RFC 3261 §12, §13.2.2, §15; RFC 6665 §4.1.2.4), written as data.

Rules:

* A dialog has three states: EARLY, CONFIRMED and TERMINATED. It is born EARLY (a tagged 1xx to
  the dialog-creating request, or a UAS that has not answered yet) or CONFIRMED (a 2xx, or the
  first NOTIFY of a subscription, RFC 6665 §4.1.2.4). TERMINATED is final: nothing leaves it.
* Responses to the dialog-creating request (UAC side): a tagged 1xx keeps an early dialog early
  and may refresh the remote target; the 2xx confirms it, recomputing the route set and the
  remote target from the 2xx (§13.2.2.4); a 3xx-6xx ends an early dialog (§12.3). Once
  confirmed, further responses to that request (2xx retransmissions, a 2xx or an error after a
  NOTIFY created the dialog) change nothing: the dialog usage decides what they mean.
* Responses to the dialog-creating request (UAS side), as we send them: a tagged 1xx keeps the
  dialog early, a 2xx confirms it, a 3xx-6xx ends it. A 1xx or a 3xx-6xx after the 2xx is a
  local error.
* Requests from the peer (§12.2.2): one whose CSeq is lower than the remote CSeq is rejected
  with 500 and changes nothing; any other is accepted, raises the remote CSeq to its own and,
  for a target-refresh method (INVITE, UPDATE, SUBSCRIBE, NOTIFY, REFER), takes the remote
  target from its Contact. ACK is accepted without a CSeq check (it repeats the INVITE's
  number). In a terminated dialog every request is answered 481 (an ACK is dropped).
* Responses to our in-dialog requests (§12.2.1.2): a 2xx to a target-refresh request takes the
  remote target from its Contact; a 481 or a 408 (or no response at all) ends the dialog;
  anything else changes nothing. For a request of one of several usages sharing the dialog
  (RFC 5057, ``_usages.py``) only the dialog-terminating codes (404, 410, 416, 482-485, 502,
  604) end it: a 481 or 408 ends that usage, which the caller handles. Responses reaching a
  terminated dialog are dropped.
* Local events: sending a request is allowed in early and confirmed dialogs, an ACK only in a
  confirmed one; nothing can be sent in a terminated dialog. ``terminate()`` ends any dialog.

``TABLE[(state, event)]`` gives the new state and the effects to apply; ``ERRORS[(state, event)]``
the text of the LocalProtocolError raised (state unchanged) when the local side does what it must
not. Every (state, event) pair is in exactly one of the two. The peer's mistakes never raise
here: they are answered (500, 481) or dropped, because a dialog cannot stop a peer from sending.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

from sipsimple.core.sip.transaction import LocalProtocolError

__all__ = [
    "ERRORS",
    "TABLE",
    "TARGET_REFRESH_METHODS",
    "DialogEvent",
    "DialogState",
    "Effect",
    "Transition",
    "Verdict",
    "transition",
]

#: Methods whose requests (and their 2xx responses) replace the remote target (RFC 3261 §12.2,
#: RFC 3311 §5, RFC 6665 §4.1.2.4/§4.1.2.1, RFC 3515 §2.4.1 via RFC 6665).
TARGET_REFRESH_METHODS = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})


class DialogState(enum.Enum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class DialogEvent(enum.Enum):
    """What happened to a dialog, once the message has been classified."""

    # responses to the dialog-creating request we sent
    EARLY_RESPONSE = "tagged 1xx to the dialog-creating request"
    UNTAGGED_PROVISIONAL = "1xx without a To tag to the dialog-creating request"
    CONFIRMING_RESPONSE = "2xx to the dialog-creating request"
    REJECTING_RESPONSE = "3xx-6xx to the dialog-creating request"
    # responses to our requests within the dialog
    REFRESH_ACCEPTED = "2xx to a target-refresh request"
    OTHER_RESPONSE = "other response to an in-dialog request"
    DIALOG_GONE = "a response (or none) to an in-dialog request that ends the dialog"
    # requests from the peer
    REQUEST = "in-order request"
    REFRESH_REQUEST = "in-order target-refresh request"
    OUT_OF_ORDER_REQUEST = "request with a CSeq lower than the remote CSeq"
    ACK = "ACK"
    # local events
    SEND_REQUEST = "local request"
    SEND_ACK = "local ACK"
    SENT_PROVISIONAL = "tagged 1xx sent for the dialog-creating request"
    SENT_SUCCESS = "2xx sent for the dialog-creating request"
    SENT_FAILURE = "3xx-6xx sent for the dialog-creating request"
    TERMINATE = "local termination"


class Effect(enum.Enum):
    """What applying a transition does besides changing the state."""

    TAKE_CSEQ = "the request's CSeq becomes the remote CSeq"
    REFRESH_TARGET = "the message's Contact (when present) becomes the remote target"
    RECOMPUTE_ROUTES = "the route set is recomputed from the response's Record-Route"
    REJECT_500 = "answer the request with 500 (out of order)"
    REJECT_481 = "answer the request with 481 (no such dialog any more)"
    DROP = "ignore the message"


class Transition(NamedTuple):
    target: DialogState
    effects: tuple[Effect, ...] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a received message did to the dialog, and what the caller must do about it.

    ``accepted``: requests: False means answer with ``status`` (or, when it is None, drop the
    message); responses: False means the dialog is over and the response was dropped.
    ``terminated`` is True when this very message ended the dialog (the caller tears down the
    dialog's usages and removes it from its table).
    """

    event: DialogEvent
    state: DialogState
    accepted: bool
    status: int | None = None
    reason: str = ""
    target_refreshed: bool = False
    terminated: bool = False


S = DialogState
E = DialogEvent
T = Transition
TAKE, REFRESH, ROUTES = Effect.TAKE_CSEQ, Effect.REFRESH_TARGET, Effect.RECOMPUTE_ROUTES
DROPPED = (Effect.DROP,)

_LIVE_COMMON: dict[DialogEvent, tuple[Effect, ...]] = {
    E.UNTAGGED_PROVISIONAL: (),
    E.REFRESH_ACCEPTED: (REFRESH,),
    E.OTHER_RESPONSE: (),
    E.REQUEST: (TAKE,),
    E.REFRESH_REQUEST: (TAKE, REFRESH),
    E.OUT_OF_ORDER_REQUEST: (Effect.REJECT_500,),
    E.SEND_REQUEST: (),
}


def _stay(state: DialogState) -> dict[tuple[DialogState, DialogEvent], Transition]:
    return {(state, event): T(state, effects) for event, effects in _LIVE_COMMON.items()}


TABLE: dict[tuple[DialogState, DialogEvent], Transition] = {
    **_stay(S.EARLY),
    (S.EARLY, E.EARLY_RESPONSE): T(S.EARLY, (REFRESH,)),
    (S.EARLY, E.CONFIRMING_RESPONSE): T(S.CONFIRMED, (ROUTES, REFRESH)),
    (S.EARLY, E.REJECTING_RESPONSE): T(S.TERMINATED),
    (S.EARLY, E.DIALOG_GONE): T(S.TERMINATED),
    (S.EARLY, E.ACK): T(S.EARLY, DROPPED),  # no 2xx was sent yet: not an ACK for this dialog
    (S.EARLY, E.SENT_PROVISIONAL): T(S.EARLY),
    (S.EARLY, E.SENT_SUCCESS): T(S.CONFIRMED),
    (S.EARLY, E.SENT_FAILURE): T(S.TERMINATED),
    (S.EARLY, E.TERMINATE): T(S.TERMINATED),
    **_stay(S.CONFIRMED),
    (S.CONFIRMED, E.EARLY_RESPONSE): T(S.CONFIRMED),  # a late 1xx
    (S.CONFIRMED, E.CONFIRMING_RESPONSE): T(S.CONFIRMED),  # a retransmission, or after the NOTIFY
    (S.CONFIRMED, E.REJECTING_RESPONSE): T(S.CONFIRMED),  # after the NOTIFY: the usage decides
    (S.CONFIRMED, E.DIALOG_GONE): T(S.TERMINATED),
    (S.CONFIRMED, E.ACK): T(S.CONFIRMED),
    (S.CONFIRMED, E.SEND_ACK): T(S.CONFIRMED),
    (S.CONFIRMED, E.SENT_SUCCESS): T(S.CONFIRMED),  # the TU repeats its 2xx
    (S.CONFIRMED, E.TERMINATE): T(S.TERMINATED),
    **{
        (S.TERMINATED, event): T(S.TERMINATED, DROPPED)
        for event in (
            E.EARLY_RESPONSE,
            E.UNTAGGED_PROVISIONAL,
            E.CONFIRMING_RESPONSE,
            E.REJECTING_RESPONSE,
            E.REFRESH_ACCEPTED,
            E.OTHER_RESPONSE,
            E.DIALOG_GONE,
            E.ACK,
        )
    },
    **{
        (S.TERMINATED, event): T(S.TERMINATED, (Effect.REJECT_481,))
        for event in (E.REQUEST, E.REFRESH_REQUEST, E.OUT_OF_ORDER_REQUEST)
    },
    (S.TERMINATED, E.SENT_FAILURE): T(S.TERMINATED),  # e.g. 487 after a CANCEL ended the dialog
    (S.TERMINATED, E.TERMINATE): T(S.TERMINATED),
}

ERRORS: dict[tuple[DialogState, DialogEvent], str] = {
    (S.EARLY, E.SEND_ACK): "an ACK can only be sent once a 2xx has confirmed the dialog",
    (S.CONFIRMED, E.SENT_PROVISIONAL): "a provisional response after the 2xx that confirmed the dialog",
    (S.CONFIRMED, E.SENT_FAILURE): "a final non-2xx response after the 2xx that confirmed the dialog",
    (S.TERMINATED, E.SEND_REQUEST): "no request can be sent in a terminated dialog",
    (S.TERMINATED, E.SEND_ACK): "no ACK can be sent in a terminated dialog",
    (S.TERMINATED, E.SENT_PROVISIONAL): "a provisional response in a terminated dialog",
    (S.TERMINATED, E.SENT_SUCCESS): "a 2xx response in a terminated dialog",
}


def transition(state: DialogState, event: DialogEvent) -> Transition:
    """The transition for ``event`` in ``state``; LocalProtocolError for a forbidden local move."""
    error = ERRORS.get((state, event))
    if error is not None:
        raise LocalProtocolError(f"dialog in state {state.name}: {event.value}: {error}")
    return TABLE[(state, event)]
