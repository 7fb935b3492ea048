"""Which of the Invitation's state changes closes a SIP transaction of the session, for
SIPSessionDidProcessTransaction (``originator``, ``method``, ``code``, ``reason``, and
``ack_received`` for an INVITE the peer sent).

Sans-IO: ``TransactionTracker.feed(data)`` takes the data of each SIPInvitationChangedState of the
session's Invitation, in order, and returns the notification's data when a transaction completed
(else None). Rules, one row each in ``_RULES`` (first match wins):

* our initial INVITE: its final response; a 2xx is reported once our ACK went out, with the code
  and reason of the 2xx; a 487 after our CANCEL is reported as the INVITE's outcome;
* the peer's initial INVITE: our final response; a 2xx once its ACK arrived (``ack_received``
  True) or the call ended without one (False); a 3xx-6xx has ``ack_received`` ``"unknown"``
  (the transaction layer absorbs that ACK);
* BYE either way, once it was answered (the stack answers the peer's BYE with 200 at once);
* a re-INVITE or UPDATE either way, once it was answered; for the peer's re-INVITE
  ``ack_received`` is ``"unknown"`` (the Invitation does not report that ACK).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["TransactionTracker"]

_EARLY = ("calling", "incoming", "early")


class TransactionTracker:
    """Remembers the pieces a transaction's outcome is made of until it completes."""

    def __init__(self) -> None:
        self.final: tuple[int | None, str | None] = (None, None)  # the 2xx of the initial INVITE
        self.ending: str | None = None  # BYE or CANCEL of ours, waiting for its answer
        self.proposal: str = "INVITE"  # method of the pending re-INVITE/UPDATE

    def feed(self, data: Any, direction: str | None) -> dict[str, Any] | None:
        """The DidProcessTransaction data ``data`` completes (``direction``: the session's)."""
        for matches, outcome in _RULES:
            if matches(data, direction):
                return outcome(self, data)
        return None


Rule = Callable[[Any, "str | None"], bool]


def _moved(prev: tuple[str, ...], state: tuple[str, ...], direction: str | None = None) -> Rule:
    def rule(d: Any, session_direction: str | None) -> bool:
        if direction is not None and session_direction != direction:
            return False
        return d.prev_state in prev and d.state in state and d.prev_state != d.state

    return rule


def _sub(prev: str, sub: str) -> Rule:
    return lambda d, _: (
        d.state == d.prev_state == "connected" and d.prev_sub_state == prev and d.sub_state == sub
    )


def _remember_final(t: TransactionTracker, d: Any) -> None:
    t.final = (d.code, d.reason)
    return None


def _invite_ours(t: TransactionTracker, d: Any) -> dict[str, Any] | None:
    if d.state == "disconnecting":  # end() while the INVITE is out: the outcome comes later
        _remember_ending(t, d)
        return None
    code, reason = t.final if d.prev_state == "connecting" else (d.code, d.reason)
    if code is None:
        return None
    return {"originator": "local", "method": "INVITE", "code": code, "reason": reason}


def _invite_theirs(t: TransactionTracker, d: Any) -> dict[str, Any] | None:
    if d.prev_state == "connecting":
        code, reason = t.final
        ack: bool | str = d.state == "connected"
        if d.state == "disconnecting":
            t.ending = d.method
    else:
        code, reason, ack = d.code, d.reason, "unknown"
    if code is None:
        return None
    return {"originator": "remote", "method": "INVITE", "code": code, "reason": reason, "ack_received": ack}


def _remember_ending(t: TransactionTracker, d: Any) -> None:
    t.ending = d.method
    return None


def _ours_answered(t: TransactionTracker, d: Any) -> dict[str, Any] | None:
    method, t.ending = t.ending, None
    if method == "BYE":
        return {"originator": "local", "method": "BYE", "code": d.code, "reason": d.reason}
    if method == "CANCEL" and d.code is not None and d.code >= 300:
        return {"originator": "local", "method": "INVITE", "code": d.code, "reason": d.reason}
    return None


def _their_bye(t: TransactionTracker, d: Any) -> dict[str, Any]:
    return {"originator": "remote", "method": "BYE", "code": 200, "reason": "OK"}


def _remember_proposal(t: TransactionTracker, d: Any) -> None:
    t.proposal = d.method or "INVITE"
    return None


def _proposal_ours(t: TransactionTracker, d: Any) -> dict[str, Any]:
    return {"originator": "local", "method": t.proposal, "code": d.code, "reason": d.reason}


def _proposal_theirs(t: TransactionTracker, d: Any) -> dict[str, Any]:
    data = {"originator": "remote", "method": t.proposal, "code": d.code, "reason": d.reason}
    if t.proposal == "INVITE":
        data["ack_received"] = "unknown"
    return data


def _their_bye_rule(d: Any, _: str | None) -> bool:
    return d.state == "disconnected" and d.method == "BYE" and d.originator == "remote"


def _ending_rule(d: Any, _: str | None) -> bool:
    return d.state == "disconnecting" and d.method in ("BYE", "CANCEL")


_OUT, _IN = "outgoing", "incoming"

#: (matches(data, direction), outcome(tracker, data)): the first row that matches decides
_RULES: tuple[tuple[Rule, Callable[[TransactionTracker, Any], Any]], ...] = (
    (_moved(_EARLY, ("connecting",)), _remember_final),
    (_moved(("calling", "early"), ("disconnected", "disconnecting"), _OUT), _invite_ours),
    (_moved(("connecting",), ("connected",), _OUT), _invite_ours),
    (_moved(("incoming", "early"), ("disconnected",), _IN), _invite_theirs),
    (_moved(("connecting",), ("connected", "disconnecting", "disconnected"), _IN), _invite_theirs),
    (_ending_rule, _remember_ending),
    (_moved(("disconnecting",), ("disconnected",)), _ours_answered),
    (_their_bye_rule, _their_bye),
    (_sub("normal", "sending_proposal"), _remember_proposal),
    (_sub("normal", "received_proposal"), _remember_proposal),
    (_sub("sending_proposal", "normal"), _proposal_ours),
    (_sub("received_proposal", "normal"), _proposal_theirs),
)
