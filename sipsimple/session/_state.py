"""The Session's states as a table.

Rules: a session starts in None; ``connect()`` moves it to 'connecting', an incoming INVITE to
'incoming'; ``accept()`` to 'accepting'; both reach 'connected' once every stream started. While
connected, a proposal of ours is 'sending_proposal', one of the peer's 'received_proposal'; both go
back to 'connected'. Ending goes through 'terminating' to 'terminated' (from any live state). A
move not in TABLE raises SessionStateError: the application called a method out of turn."""

from __future__ import annotations

from typing import Final

__all__ = ["STATES", "TABLE", "SessionStateError", "check"]

STATES: Final = (
    None, "connecting", "incoming", "accepting", "connected", "sending_proposal",
    "received_proposal", "terminating", "terminated",
)  # fmt: skip

_LIVE = ("connecting", "incoming", "accepting", "connected", "sending_proposal", "received_proposal")

TABLE: Final[dict[tuple[str | None, str], str]] = {
    (None, "connect"): "connecting",
    (None, "incoming"): "incoming",
    ("incoming", "accept"): "accepting",
    ("connecting", "started"): "connected",
    ("accepting", "started"): "connected",
    ("connected", "propose"): "sending_proposal",
    ("connected", "proposal_received"): "received_proposal",
    ("sending_proposal", "proposal_done"): "connected",
    ("received_proposal", "proposal_done"): "connected",
    **{(state, "end"): "terminating" for state in _LIVE},
    **{(state, "ended"): "terminated" for state in (*_LIVE, "terminating")},
}


class SessionStateError(Exception):
    """A Session method was called in a state that does not allow it."""


def check(state: str | None, event: str) -> str:
    """The state ``event`` leads to from ``state``; SessionStateError when the table has no row."""
    try:
        return TABLE[(state, event)]
    except KeyError:
        raise SessionStateError(f"cannot {event} a session in state {state!r}") from None
