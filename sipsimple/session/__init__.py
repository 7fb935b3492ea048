"""SIP sessions: `Session` (one call with its media streams) and `SessionManager` (incoming
sessions, the list of live ones). See docs/session.md.

* ``_state.py``: the Session's states as a table;
* ``_session.py``: connect/accept/reject/end over a core Invitation;
* ``_proposals.py``: re-INVITEs (hold/unhold, adding and removing streams, the peer's proposals);
* ``_sdp.py``: our SDP from the session's media slots;
* ``_waiter.py``: bounded waits for the streams' life cycle notifications;
* ``_manager.py``: the SessionManager.
"""

from __future__ import annotations

from ._manager import SessionManager, SessionManagerBase, streams_from_offer
from ._session import Session
from ._state import SessionStateError

__all__ = ["Session", "SessionManager", "SessionManagerBase", "SessionStateError", "streams_from_offer"]
