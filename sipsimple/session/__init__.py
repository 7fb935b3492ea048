"""SIP sessions: `Session` (one call with its media streams) and `SessionManager` (incoming
sessions, the list of live ones). See docs/session.md.

* ``_state.py``: the Session's states as a table;
* ``_session.py``: connect/accept/reject/end over a core Invitation;
* ``_proposals.py``: re-INVITEs (hold/unhold, adding and removing streams, the peer's proposals);
* ``_sdp.py``: our SDP from the session's media slots;
* ``_waiter.py``: bounded waits for the streams' life cycle notifications;
* ``_manager.py``: the SessionManager;
* ``_transfer.py``: call transfer (TransferHandler, TransferInfo);
* ``_conference.py``: the ConferenceHandler (RFC 4579/4575).
"""

from __future__ import annotations

from ._conference import ConferenceHandler
from ._manager import SessionManager, SessionManagerBase, streams_for_late_offer, streams_from_offer
from ._session import Session
from ._state import SessionStateError
from ._transfer import TransferHandler, TransferInfo

__all__ = [
    "ConferenceHandler",
    "Session",
    "SessionManager",
    "SessionManagerBase",
    "SessionStateError",
    "TransferHandler",
    "TransferInfo",
    "streams_for_late_offer",
    "streams_from_offer",
]
