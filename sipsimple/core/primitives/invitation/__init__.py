"""INVITE sessions: the core ``Invitation`` (RFC 3261 §13-§15, RFC 3264, RFC 6026).

* ``_state.py``: the state and sub-state machines as tables, with their rules;
* ``_requests.py``: the INVITE/re-INVITE client requests, CANCEL, and the ACK sent outside any
  transaction;
* ``_invitation.py``: the Invitation, the engine-facing driver;
* ``install_invitation_handler`` (here): hands out-of-dialog INVITEs to new Invitations.

See docs/sip-invitation.md.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable
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

__all__ = [
    "ALLOW",
    "SUB_TABLE",
    "TABLE",
    "Invitation",
    "InvitationEvent",
    "InvitationState",
    "InvitationStateError",
    "SDPView",
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
) -> None:
    """Hand every out-of-dialog INVITE to a new :class:`Invitation` (posted with state
    'incoming'); ``on_new(invitation)`` is called just before that notification. Call it after
    ``engine.start()``: ``stop()`` forgets every handler."""
    engine.register_method_handler(
        "INVITE",
        lambda transaction: Invitation.receive(
            engine, transaction, resolver=resolver, random=random, on_new=on_new
        ),
    )
