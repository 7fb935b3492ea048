"""The Invitation: one INVITE session (RFC 3261 §13-§15, RFC 3264 via SDPNegotiator, RFC 6026).

The state rules are the tables in ``_state.py``; the Invitation drives them with the engine: it
builds and sends the INVITE, responses, ACK, CANCEL, BYE and re-INVITEs, creates the dialogs
(one early dialog per To tag, so forks are kept apart), retransmits our 2xx until its ACK, and
posts the notifications. Everything runs on the reactor thread; timers are ``Timers`` on
``engine.reactor``, and the glare retry delay draws from an injected ``random.Random``.

The class is composed here from one mixin per concern, each over ``InvitationBase``
(``_base.py``: attributes, notifications, dialog registration, teardown):

* ``_outgoing.py``: the caller side of the initial INVITE (early dialogs, PRACK as UAC, ACK,
  CANCEL, 422 retry);
* ``_incoming.py``: the callee side (``receive``, ``send_response``, 2xx until its ACK);
* ``_reliable.py``: reliable 18x and PRACK as UAS (RFC 3262);
* ``_forks.py``: ACKs sent outside transactions, stray 2xx, forks we do not keep;
* ``_in_dialog.py``: the in-dialog dispatcher, BYE, MESSAGE and INFO;
* ``_proposals.py``: re-INVITE and UPDATE both ways, glare;
* ``_refresh.py``: the session-timer driver (RFC 4028);
* ``_transfer.py``: REFER and its NOTIFYs in the dialog, both roles (RFC 3515, RFC 5057).
"""

from __future__ import annotations

from ._base import ALLOW, InvitationBase, SDPView
from ._forks import ForkMixin
from ._in_dialog import InDialogMixin
from ._incoming import IncomingMixin
from ._outgoing import OutgoingMixin
from ._proposals import ProposalMixin
from ._refresh import SessionRefreshMixin
from ._reliable import ReliableMixin
from ._transfer import TransferMixin

__all__ = ["ALLOW", "Invitation", "SDPView"]


class Invitation(
    OutgoingMixin,
    IncomingMixin,
    ReliableMixin,
    ForkMixin,
    InDialogMixin,
    ProposalMixin,
    SessionRefreshMixin,
    TransferMixin,
    InvitationBase,
):
    """An INVITE session; outgoing with :meth:`send_invite`, incoming from the engine hook
    (``install_invitation_handler``). See docs/sip-invitation.md."""
