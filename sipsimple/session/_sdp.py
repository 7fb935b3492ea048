"""Building our SDP from the session's media slots.

A slot is one m= line for the life of the session (RFC 3264 §8): a stream while it is used, the
port-0 media line once it was removed or refused."""

from __future__ import annotations

from typing import Any

from sipsimple.core.sdp import FrozenSDPSession, SDPConnection, SDPSession, rejected_media

__all__ = ["answer_sdp", "offer_sdp", "stream_is_rejected"]


def _session(address: str, media: list[Any]) -> SDPSession:
    return SDPSession(address, connection=SDPConnection(address), media=media)


def offer_sdp(address: str, slots: list[Any], previous: FrozenSDPSession | None = None) -> SDPSession:
    """An offer: each stream's offer media line, the port-0 line for a freed slot (None: the
    refusal of that line of ``previous``, our last SDP)."""
    media = []
    for index, slot in enumerate(slots):
        if slot is None:
            assert previous is not None
            media.append(rejected_media(previous.media[index]))
        elif _is_media(slot):
            media.append(slot)
        else:
            media.append(slot.get_local_media(None, index))
    return _session(address, media)


def answer_sdp(address: str, remote_sdp: FrozenSDPSession, slots: list[Any]) -> FrozenSDPSession:
    """An answer to ``remote_sdp``: a stream answers its slot, every other line is refused. It is
    built frozen, the form the negotiator keeps (no mutable copy converted again there)."""
    media = []
    for index, offered in enumerate(remote_sdp.media):
        slot = slots[index] if index < len(slots) else None
        if slot is None or _is_media(slot) or offered.port == 0:
            media.append(rejected_media(offered))
        else:
            media.append(slot.get_local_media(remote_sdp, index))
    return FrozenSDPSession(address, connection=SDPConnection(address), media=media)


def stream_is_rejected(sdp: FrozenSDPSession | None, index: int) -> bool:
    """True when media line ``index`` of a negotiated SDP is absent or has port 0."""
    return sdp is None or index >= len(sdp.media) or sdp.media[index].port == 0


def _is_media(slot: Any) -> bool:
    return not hasattr(slot, "get_local_media")
