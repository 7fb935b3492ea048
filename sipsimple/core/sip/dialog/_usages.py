"""What a failed request ends when several usages share one dialog (RFC 5057 §5.1), as data.

Rules:

* A dialog may carry more than one usage: an INVITE session, the implicit subscription of a
  REFER sent in it (RFC 3515), a SUBSCRIBE dialog's subscriptions. The usages share the dialog's
  Call-ID, tags, CSeq spaces, route set and remote target, and nothing else.
* A final response (or none at all) to a request sent in such a dialog ends one of three things,
  its ``Scope``: only the transaction, the usage the request belongs to, or the dialog with every
  usage in it.
* DIALOG: the peer says that the dialog's remote target or route set is unusable, which every
  usage depends on: 404, 410, 416, 482, 483, 484, 485, 502 and 604.
* USAGE: the peer does not have, or will not have, the usage: 481 (it knows no such usage),
  489 (no such event package), 405 and 501 (the method the usage is made of is not allowed or
  not implemented there).
* A 408, or no response at all (Timer F, a transport failure), is counted as USAGE: the usage
  that waited is given up, and the other usages learn whether the peer is gone through their own
  requests (the INVITE session through its BYE, re-INVITE, UPDATE or session refresh).
* Every other final response is TRANSACTION: only that request failed, and the usage decides what
  to do about it (retry, give up, report).
* A dialog with a single usage keeps the rule of RFC 3261 §12.2.1.2: a 481 or a 408 (or no
  response) ends it; the usage acts on the other codes itself.
"""

from __future__ import annotations

import enum

__all__ = ["DIALOG_TERMINATING", "USAGE_TERMINATING", "Scope", "ends_dialog", "failure_scope"]


class Scope(enum.Enum):
    """What a failed request in a shared dialog ends."""

    TRANSACTION = "transaction"
    USAGE = "usage"
    DIALOG = "dialog"


#: Responses that end the dialog and every usage in it (the target or the route set is wrong).
DIALOG_TERMINATING = frozenset({404, 410, 416, 482, 483, 484, 485, 502, 604})
#: Responses that end only the usage the request belongs to (408 stands for "no response" too).
USAGE_TERMINATING = frozenset({405, 408, 481, 489, 501})
#: RFC 3261 §12.2.1.2: the responses that end a dialog with a single usage.
_SINGLE_USAGE_ENDING = frozenset({408, 481})


def failure_scope(code: int | None) -> Scope:
    """The scope of the final response ``code`` to a request in a shared dialog; None means no
    response came at all (a timeout or a transport failure). A 1xx or 2xx ends nothing."""
    if code is None:
        return Scope.USAGE
    if code in DIALOG_TERMINATING:
        return Scope.DIALOG
    if code in USAGE_TERMINATING:
        return Scope.USAGE
    return Scope.TRANSACTION


def ends_dialog(code: int | None, *, shared_usage: bool) -> bool:
    """Whether the final response ``code`` (None: no response) to a request of ours ends the
    dialog: for a request of one of several usages (``shared_usage``), only a DIALOG scope does;
    in a dialog with one usage, a 481 or a 408 or no response."""
    if shared_usage:
        return failure_scope(code) is Scope.DIALOG
    return code is None or code in _SINGLE_USAGE_ENDING
