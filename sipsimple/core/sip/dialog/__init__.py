"""SIP dialogs (RFC 3261 §12; the subscription and refer dialog rules of RFC 6665 and RFC 3515).

Sans-IO: a :class:`Dialog` computes state and builds messages; it sends nothing and reads no
clock. The request primitives (subscriptions, referrals, INVITE sessions) build on it, and the
Engine keeps the live dialogs in a :class:`DialogTable` to route received in-dialog requests.

* ``_state.py``: the state machine as a table, with its rules;
* ``_ids.py``: dialog identifiers, the table, NOTIFY-to-SUBSCRIBE matching;
* ``_routing.py``: route sets, loose and strict routing;
* ``_usages.py``: what a failed request ends when several usages share a dialog (RFC 5057);
* ``_dialog.py``: the Dialog.

See docs/sip-dialog.md.
"""

from __future__ import annotations

from sipsimple.core.sip.transaction import LocalProtocolError, ProtocolError, RemoteProtocolError

from ._dialog import MAX_CSEQ, Dialog, Role
from ._ids import DialogID, DialogTable, notify_matches, request_dialog_id, response_dialog_id
from ._routing import request_target
from ._state import (
    ERRORS,
    TABLE,
    TARGET_REFRESH_METHODS,
    DialogEvent,
    DialogState,
    Effect,
    Transition,
    Verdict,
)
from ._usages import DIALOG_TERMINATING, USAGE_TERMINATING, Scope, ends_dialog, failure_scope

__all__ = [
    "DIALOG_TERMINATING",
    "ERRORS",
    "MAX_CSEQ",
    "TABLE",
    "TARGET_REFRESH_METHODS",
    "Dialog",
    "DialogEvent",
    "DialogID",
    "DialogState",
    "DialogTable",
    "Effect",
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
    "Role",
    "Scope",
    "Transition",
    "USAGE_TERMINATING",
    "Verdict",
    "ends_dialog",
    "failure_scope",
    "notify_matches",
    "request_dialog_id",
    "request_target",
    "response_dialog_id",
]
