"""The Invitation state machine (RFC 3261 §13-§15, RFC 6026), written as data.

Rules:

* ``state`` follows one INVITE session: NULL, then CALLING (our INVITE is out) or INCOMING (the
  peer's INVITE waits for our answer); EARLY once a provisional response went either way;
  CONNECTING once a 2xx went either way (the UAC until its ACK is sent, the UAS until the ACK
  arrives); CONNECTED; DISCONNECTING while our CANCEL or BYE waits for its outcome; DISCONNECTED,
  which is final.
* ``sub_state`` describes re-INVITEs and only moves while CONNECTED: NORMAL, SENDING_PROPOSAL (our
  re-INVITE is out, or waits for its glare retry), RECEIVED_PROPOSAL (the peer's re-INVITE waits for
  our answer). Only one re-INVITE may be pending in each direction at a time, and never both: the
  peer's re-INVITE while ours is out is glare (answered 491 by the driver, RFC 3261 §14.2).
* A 2xx to the initial INVITE after our CANCEL (the CANCEL/200 race) keeps DISCONNECTING: the
  driver ACKs it and sends a BYE.
* A BYE, a CANCEL, a 481/408 or a transport failure ends the session from any live state.
* A move that keeps the state is silent, except the pairs in ``REPORTED_LOOPS``: every
  provisional response to our INVITE after the first one (a 180 after a 183, the 18x of a second
  fork) is still news for the application, so EARLY -> EARLY is posted with its ``code`` and
  ``reason``. The driver filters what is not news before that: a 100 Trying, and a reliable 18x
  whose RSeq was seen already (RFC 3262 §4). Likewise ``REPORTED_SUB_LOOPS``: a 101-199 to our
  re-INVITE keeps SENDING_PROPOSAL and is posted with its ``code`` and ``reason`` (the Session
  reports it as SIPSessionGotProvisionalResponse).

``TABLE[(state, event)]`` is the new state, ``SUB_TABLE[(sub_state, event)]`` the new sub-state.
Every pair not in a table is a protocol error: a local event raises
:class:`InvitationStateError` with culprit LOCAL (the application called a method out of turn,
nothing changes); a remote event is the peer's fault and the driver answers or drops the message.
"""

from __future__ import annotations

import enum

from sipsimple.core._errors import SIPCoreInvalidStateError
from sipsimple.core.sip.transaction import Culprit

__all__ = [
    "LOCAL_EVENTS",
    "REPORTED_LOOPS",
    "REPORTED_SUB_LOOPS",
    "SUB_TABLE",
    "TABLE",
    "InvitationEvent",
    "InvitationState",
    "InvitationStateError",
    "SubEvent",
    "SubState",
    "sub_transition",
    "transition",
]


class InvitationState(enum.StrEnum):
    NULL = "null"
    CALLING = "calling"
    INCOMING = "incoming"
    EARLY = "early"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTING = "disconnecting"
    DISCONNECTED = "disconnected"


class SubState(enum.StrEnum):
    NORMAL = "normal"
    SENDING_PROPOSAL = "sending_proposal"
    RECEIVED_PROPOSAL = "received_proposal"


class InvitationEvent(enum.Enum):
    # local
    SEND_INVITE = "send the INVITE"
    SEND_PROVISIONAL = "send a provisional response"
    SEND_ACCEPT = "send a 2xx"
    SEND_REJECT = "send a 3xx-6xx"
    SEND_ACK = "send the ACK for the 2xx"
    CANCEL = "end before a final response (CANCEL)"
    BYE = "end an established session (BYE)"
    # remote
    RECEIVE_INVITE = "an INVITE arrived"
    RECEIVE_PROVISIONAL = "a provisional response arrived"
    RECEIVE_ACCEPT = "a 2xx to the INVITE arrived"
    RECEIVE_REJECT = "a 3xx-6xx to the INVITE arrived (or it failed)"
    RECEIVE_ACK = "the ACK for our 2xx arrived"
    RECEIVE_CANCEL = "the peer cancelled its INVITE"
    RECEIVE_BYE = "the peer sent a BYE"
    # outcome of our own requests / timers
    ENDED = "our BYE or CANCEL was answered, or the dialog is gone"


LOCAL_EVENTS = frozenset(
    {
        InvitationEvent.SEND_INVITE,
        InvitationEvent.SEND_PROVISIONAL,
        InvitationEvent.SEND_ACCEPT,
        InvitationEvent.SEND_REJECT,
        InvitationEvent.SEND_ACK,
        InvitationEvent.CANCEL,
        InvitationEvent.BYE,
    }
)


class SubEvent(enum.Enum):
    SEND_PROPOSAL = "send a re-INVITE"
    ANSWER_PROPOSAL = "answer the peer's re-INVITE"
    RECEIVE_PROPOSAL = "a re-INVITE arrived"
    PROPOSAL_ANSWERED = "our re-INVITE got its final response"
    GLARE_RETRY = "the glare retry timer fired"
    RECEIVE_PROVISIONAL = "a provisional response to our re-INVITE arrived"


class InvitationStateError(SIPCoreInvalidStateError):
    """An event that is not allowed in the current state; ``culprit`` says whose fault it is."""

    def __init__(self, message: str, culprit: Culprit) -> None:
        super().__init__(message)
        self.culprit = culprit


S = InvitationState
E = InvitationEvent
_LIVE = (S.CALLING, S.INCOMING, S.EARLY, S.CONNECTING, S.CONNECTED, S.DISCONNECTING)

TABLE: dict[tuple[InvitationState, InvitationEvent], InvitationState] = {
    (S.NULL, E.SEND_INVITE): S.CALLING,
    (S.NULL, E.RECEIVE_INVITE): S.INCOMING,
    # UAC
    (S.CALLING, E.RECEIVE_PROVISIONAL): S.EARLY,
    (S.EARLY, E.RECEIVE_PROVISIONAL): S.EARLY,
    (S.CALLING, E.RECEIVE_ACCEPT): S.CONNECTING,
    (S.EARLY, E.RECEIVE_ACCEPT): S.CONNECTING,
    (S.CONNECTING, E.SEND_ACK): S.CONNECTED,
    (S.CALLING, E.RECEIVE_REJECT): S.DISCONNECTED,
    (S.EARLY, E.RECEIVE_REJECT): S.DISCONNECTED,
    (S.CALLING, E.CANCEL): S.DISCONNECTING,  # the CANCEL waits for a provisional (§9.1)
    (S.DISCONNECTING, E.RECEIVE_PROVISIONAL): S.DISCONNECTING,
    (S.DISCONNECTING, E.RECEIVE_ACCEPT): S.DISCONNECTING,  # CANCEL/200 race: ACK, then BYE
    (S.DISCONNECTING, E.RECEIVE_REJECT): S.DISCONNECTED,  # the 487
    (S.DISCONNECTING, E.SEND_ACK): S.DISCONNECTING,
    # UAS
    (S.INCOMING, E.SEND_PROVISIONAL): S.EARLY,
    (S.EARLY, E.SEND_PROVISIONAL): S.EARLY,
    (S.INCOMING, E.SEND_ACCEPT): S.CONNECTING,
    (S.EARLY, E.SEND_ACCEPT): S.CONNECTING,
    (S.INCOMING, E.SEND_REJECT): S.DISCONNECTED,
    (S.EARLY, E.SEND_REJECT): S.DISCONNECTED,
    (S.INCOMING, E.RECEIVE_CANCEL): S.DISCONNECTED,
    (S.EARLY, E.RECEIVE_CANCEL): S.DISCONNECTED,
    (S.CONNECTING, E.RECEIVE_ACK): S.CONNECTED,
    (S.CONNECTED, E.RECEIVE_ACK): S.CONNECTED,  # the ACK of a re-INVITE, or a repeated one
    (S.DISCONNECTING, E.RECEIVE_ACK): S.DISCONNECTING,
    # both
    (S.EARLY, E.CANCEL): S.DISCONNECTING,
    (S.CONNECTING, E.BYE): S.DISCONNECTING,
    (S.CONNECTED, E.BYE): S.DISCONNECTING,
    (S.CONNECTED, E.SEND_ACK): S.CONNECTED,  # the ACK of our re-INVITE's 2xx
    **{
        (state, E.RECEIVE_BYE): S.DISCONNECTED
        for state in (S.EARLY, S.CONNECTING, S.CONNECTED, S.DISCONNECTING)
    },
    **{(state, E.ENDED): S.DISCONNECTED for state in _LIVE},
}


#: Moves that keep the state and are nevertheless posted as SIPInvitationChangedState.
REPORTED_LOOPS = frozenset({(S.EARLY, E.RECEIVE_PROVISIONAL)})


def transition(state: InvitationState, event: InvitationEvent) -> InvitationState:
    """The state after ``event`` in ``state``, or InvitationStateError (nothing changes)."""
    target = TABLE.get((state, event))
    if target is None:
        culprit = Culprit.LOCAL if event in LOCAL_EVENTS else Culprit.REMOTE
        raise InvitationStateError(f"cannot {event.value} in state {state.value}", culprit)
    return target


SS = SubState
SE = SubEvent

SUB_TABLE: dict[tuple[SubState, SubEvent], SubState] = {
    (SS.NORMAL, SE.SEND_PROPOSAL): SS.SENDING_PROPOSAL,
    (SS.NORMAL, SE.RECEIVE_PROPOSAL): SS.RECEIVED_PROPOSAL,
    (SS.SENDING_PROPOSAL, SE.PROPOSAL_ANSWERED): SS.NORMAL,
    (SS.SENDING_PROPOSAL, SE.GLARE_RETRY): SS.SENDING_PROPOSAL,
    (SS.SENDING_PROPOSAL, SE.RECEIVE_PROVISIONAL): SS.SENDING_PROPOSAL,
    (SS.RECEIVED_PROPOSAL, SE.ANSWER_PROPOSAL): SS.NORMAL,
}

#: Sub-state moves that keep the sub-state and are nevertheless posted.
REPORTED_SUB_LOOPS = frozenset({(SS.SENDING_PROPOSAL, SE.RECEIVE_PROVISIONAL)})

_LOCAL_SUB_EVENTS = frozenset({SE.SEND_PROPOSAL, SE.ANSWER_PROPOSAL, SE.GLARE_RETRY})


def sub_transition(state: InvitationState, sub_state: SubState, event: SubEvent) -> SubState:
    """The sub-state after ``event``; re-INVITEs only move while CONNECTED."""
    culprit = Culprit.LOCAL if event in _LOCAL_SUB_EVENTS else Culprit.REMOTE
    if state is not S.CONNECTED:
        raise InvitationStateError(f"cannot {event.value} in state {state.value}", culprit)
    target = SUB_TABLE.get((sub_state, event))
    if target is None:
        raise InvitationStateError(f"cannot {event.value} in sub-state {sub_state.value}", culprit)
    return target
