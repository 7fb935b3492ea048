"""INVITE sessions: the core ``Invitation`` (RFC 3261 §13-§15, RFC 3264, RFC 6026).

* ``_state.py``: the state and sub-state machines as tables, with their rules;
* ``_requests.py``: the INVITE/re-INVITE client requests, CANCEL, and the ACK sent outside any
  transaction;
* ``_timer.py``: session timers (RFC 4028): the negotiation rules and the refresh/expiry timers;
* ``_base.py``: the Invitation's shared state, notifications and dialog registration;
* ``_outgoing.py``, ``_incoming.py``, ``_reliable.py``, ``_forks.py``, ``_in_dialog.py``,
  ``_proposals.py``, ``_refresh.py``: one mixin per concern (caller side, callee side, RFC 3262
  as UAS, ACKs/stray 2xx/forks, in-dialog requests and BYE, re-INVITE/UPDATE, session-timer
  driver);
* ``_transfer_state.py`` (the transfer usage's table and helpers) and ``_transfer.py`` (its
  driver: REFER and NOTIFY in the dialog, RFC 3515/5057);
* ``_invitation.py``: the Invitation, those mixins composed (the engine-facing driver);
* ``install_invitation_handler`` (here): hands out-of-dialog INVITEs to new Invitations.

See docs/sip-invitation.md.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Mapping
from typing import Any

from ..route import RouteResolver
from ._invitation import ALLOW, Invitation, SDPView
from ._state import (
    SUB_TABLE,
    TABLE,
    InvitationEvent,
    InvitationState,
    InvitationStateError,
    SubEvent,
    SubState,
)
from ._timer import SessionTimerSettings

__all__ = [
    "ALLOW",
    "SUB_TABLE",
    "TABLE",
    "Invitation",
    "InvitationEvent",
    "InvitationState",
    "InvitationStateError",
    "SDPView",
    "SessionTimerSettings",
    "SubEvent",
    "SubState",
    "install_invitation_handler",
]


def install_invitation_handler(
    engine: Any,
    on_new: Callable[[Invitation], None] | None = None,
    *,
    resolver: RouteResolver | None = None,
    random: _random.Random | None = None,
    session_timer: SessionTimerSettings | Mapping[str, Any] | bool | None = None,
) -> None:
    """Hand every out-of-dialog INVITE to a new :class:`Invitation` (posted with state
    'incoming'); ``on_new(invitation)`` is called just before that notification. Call it after
    ``engine.start()``: ``stop()`` forgets every handler. ``session_timer``: our RFC 4028
    settings for incoming INVITEs (the Min-SE check, then the 2xx)."""
    engine.register_method_handler(
        "INVITE",
        lambda transaction: Invitation.receive(
            engine, transaction, resolver=resolver, random=random, on_new=on_new, session_timer=session_timer
        ),
    )
