"""The offer/answer state machine (RFC 3264 §4), written as data.

Rules:

* States: NO_OFFER (nothing agreed yet), LOCAL_OFFER (our offer is out), REMOTE_OFFER (the peer's
  offer waits for our answer), ANSWERED (the answer is known, ``negotiate()`` is next) and DONE
  (an exchange is complete; ``active_local``/``active_remote`` hold what it agreed).
* An offer may be made only when no offer is pending: from NO_OFFER or DONE, by either side. An
  answer answers the pending offer of the other side. ``negotiate()`` completes an answered
  exchange. ``cancel_offer()`` drops the pending offer (ours was rejected or withdrawn, or we
  reject theirs): the session goes back to what it was before the offer (RFC 3264 §4): DONE if
  an exchange had completed, else NO_OFFER.
* Anything else is a protocol error, raised with the state left as it was, naming who is at
  fault: the peer for an offer or answer it must not send now (an offer while ours is out is
  glare, which SIP answers with 491), our side for everything we call out of turn.
* Content is checked after the state (see :mod:`.offer_answer`): an unacceptable SDP raises the
  same way and changes nothing.

Versions (RFC 3264 §5, §8): the first SDP we send keeps its o= line. Every later one gets the o=
line of the previous SDP we sent, with the version raised by exactly one when anything else in
the SDP changed and unchanged when nothing did. ``set_local_offer`` and ``set_local_answer``
return the SDP to send, with that o= line. The peer's versions are not policed: an SDP is
compared by content.

``TABLE[(state, event)]`` is the new state (:data:`REVERT` for "the state before the offer");
``ERRORS[(state, event)]`` is (culprit, text). Every pair is in exactly one of them.
"""

from __future__ import annotations

import enum
from typing import Any, Final

from ._errors import Culprit, LocalSDPNegotiationError, RemoteSDPNegotiationError, SDPNegotiationError
from .model import FrozenSDPSession
from .offer_answer import check_answer, check_new_sdp, negotiated, same_content

__all__ = [
    "ERRORS",
    "REVERT",
    "TABLE",
    "NegotiationEvent",
    "NegotiationState",
    "SDPNegotiator",
    "transition",
]


class NegotiationState(enum.Enum):
    NO_OFFER = "no offer"
    LOCAL_OFFER = "local offer sent"
    REMOTE_OFFER = "remote offer received"
    ANSWERED = "answered, to negotiate"
    DONE = "done"


class NegotiationEvent(enum.Enum):
    """The negotiator's inputs, named after the methods that make them."""

    LOCAL_OFFER = "set_local_offer"
    REMOTE_OFFER = "set_remote_offer"
    LOCAL_ANSWER = "set_local_answer"
    REMOTE_ANSWER = "set_remote_answer"
    NEGOTIATE = "negotiate"
    CANCEL = "cancel_offer"


class _Revert(enum.Enum):
    REVERT = "the state before the offer"


#: the target of cancel_offer(): DONE when an exchange completed before the offer, else NO_OFFER
REVERT: Final = _Revert.REVERT

S = NegotiationState
E = NegotiationEvent
LOCAL, REMOTE = Culprit.LOCAL, Culprit.REMOTE

TABLE: dict[tuple[NegotiationState, NegotiationEvent], NegotiationState | _Revert] = {
    (S.NO_OFFER, E.LOCAL_OFFER): S.LOCAL_OFFER,
    (S.NO_OFFER, E.REMOTE_OFFER): S.REMOTE_OFFER,
    (S.DONE, E.LOCAL_OFFER): S.LOCAL_OFFER,
    (S.DONE, E.REMOTE_OFFER): S.REMOTE_OFFER,
    (S.LOCAL_OFFER, E.REMOTE_ANSWER): S.ANSWERED,
    (S.REMOTE_OFFER, E.LOCAL_ANSWER): S.ANSWERED,
    (S.ANSWERED, E.NEGOTIATE): S.DONE,
    (S.LOCAL_OFFER, E.CANCEL): REVERT,
    (S.REMOTE_OFFER, E.CANCEL): REVERT,
}

_NO_OFFER_TO_ANSWER = "there is no offer to answer"
_NOT_ANSWERED = "the offer has not been answered yet"
_CALL_NEGOTIATE = "the exchange is answered: call negotiate() first"

ERRORS: dict[tuple[NegotiationState, NegotiationEvent], tuple[Culprit, str]] = {
    (S.NO_OFFER, E.LOCAL_ANSWER): (LOCAL, _NO_OFFER_TO_ANSWER),
    (S.NO_OFFER, E.REMOTE_ANSWER): (REMOTE, "an answer without an offer"),
    (S.NO_OFFER, E.NEGOTIATE): (LOCAL, "there is nothing to negotiate"),
    (S.NO_OFFER, E.CANCEL): (LOCAL, "there is no offer to cancel"),
    (S.LOCAL_OFFER, E.LOCAL_OFFER): (
        LOCAL,
        "a new offer before our previous offer was answered (RFC 3264 §4)",
    ),
    (S.LOCAL_OFFER, E.REMOTE_OFFER): (
        REMOTE,
        "an offer while ours waits for its answer: glare (RFC 3264 §4)",
    ),
    (S.LOCAL_OFFER, E.LOCAL_ANSWER): (LOCAL, "answering our own offer"),
    (S.LOCAL_OFFER, E.NEGOTIATE): (LOCAL, _NOT_ANSWERED),
    (S.REMOTE_OFFER, E.LOCAL_OFFER): (
        LOCAL,
        "an offer before answering or rejecting the peer's offer (RFC 3264 §4)",
    ),
    (S.REMOTE_OFFER, E.REMOTE_OFFER): (
        REMOTE,
        "a new offer before we answered the previous one (RFC 3264 §4)",
    ),
    (S.REMOTE_OFFER, E.REMOTE_ANSWER): (REMOTE, "an answer to its own offer"),
    (S.REMOTE_OFFER, E.NEGOTIATE): (LOCAL, _NOT_ANSWERED),
    (S.ANSWERED, E.LOCAL_OFFER): (LOCAL, _CALL_NEGOTIATE),
    (S.ANSWERED, E.REMOTE_OFFER): (LOCAL, _CALL_NEGOTIATE),
    (S.ANSWERED, E.LOCAL_ANSWER): (LOCAL, "the offer is answered already"),
    (S.ANSWERED, E.REMOTE_ANSWER): (REMOTE, "a second answer to one offer"),
    (S.ANSWERED, E.CANCEL): (LOCAL, "the offer is answered already"),
    (S.DONE, E.LOCAL_ANSWER): (LOCAL, _NO_OFFER_TO_ANSWER),
    (S.DONE, E.REMOTE_ANSWER): (REMOTE, "an answer without an offer"),
    (S.DONE, E.NEGOTIATE): (LOCAL, "the exchange is negotiated already"),
    (S.DONE, E.CANCEL): (LOCAL, "there is no offer to cancel"),
}


def transition(state: NegotiationState, event: NegotiationEvent) -> NegotiationState | _Revert:
    """The target of ``event`` in ``state``, or the protocol error (nothing is changed)."""
    target = TABLE.get((state, event))
    if target is not None:
        return target
    culprit, text = ERRORS[state, event]
    message = f"{event.value}() in state {state.value!r}: {text}"
    error: SDPNegotiationError
    error = LocalSDPNegotiationError(message) if culprit is LOCAL else RemoteSDPNegotiationError(message)
    raise error


def _frozen(sdp: Any) -> FrozenSDPSession:
    return sdp if type(sdp) is FrozenSDPSession else FrozenSDPSession.new(sdp)


class SDPNegotiator:
    """One offer/answer context (a SIP dialog's session), driven by the methods below.

    ``local_sdp``/``remote_sdp`` are the SDPs of the current (or last) exchange as sent and
    received; ``active_local``/``active_remote`` the negotiated view of the last completed one
    (see :func:`sipsimple.core.sdp.offer_answer.negotiated`), which is what media streams use.
    """

    def __init__(self) -> None:
        self.state = NegotiationState.NO_OFFER
        self.local_sdp: FrozenSDPSession | None = None
        self.remote_sdp: FrozenSDPSession | None = None
        self.active_local: FrozenSDPSession | None = None
        self.active_remote: FrozenSDPSession | None = None
        self.local_offerer: bool | None = None  # who made the pending or last offer
        self._last_sent: FrozenSDPSession | None = None  # for the o= version, even if later cancelled
        self._before_offer: tuple[Any, ...] = (None, None, None)

    @classmethod
    def create_with_local_offer(cls, sdp: Any) -> SDPNegotiator:
        negotiator = cls()
        negotiator.set_local_offer(sdp)
        return negotiator

    @classmethod
    def create_with_remote_offer(cls, sdp: Any) -> SDPNegotiator:
        negotiator = cls()
        negotiator.set_remote_offer(sdp)
        return negotiator

    def __repr__(self) -> str:
        return f"<SDPNegotiator {self.state.value}>"

    # the o= line

    def _stamped(self, sdp: Any) -> FrozenSDPSession:
        frozen = _frozen(sdp)
        last = self._last_sent
        if last is None:
            return frozen
        version = last.version if same_content(frozen, last) else last.version + 1
        return frozen.replace(
            user=last.user,
            id=last.id,
            version=version,
            net_type=last.net_type,
            address_type=last.address_type,
            address=last.address,
        )

    # events

    def set_local_offer(self, sdp: Any) -> FrozenSDPSession:
        """Our offer; returns it as it must be sent (o= line set as the module text says)."""
        target = transition(self.state, NegotiationEvent.LOCAL_OFFER)
        offer = self._stamped(sdp)
        check_new_sdp(self.local_sdp, offer, local=True)
        self._before_offer = (self.local_sdp, self.remote_sdp, self.local_offerer)
        self.local_sdp = self._last_sent = offer
        self.local_offerer = True
        self.state = target  # type: ignore[assignment]
        return offer

    def set_remote_answer(self, sdp: Any) -> None:
        """The peer's answer to our offer."""
        target = transition(self.state, NegotiationEvent.REMOTE_ANSWER)
        answer = _frozen(sdp)
        assert self.local_sdp is not None
        check_answer(self.local_sdp, answer, local=False)
        self.remote_sdp = answer
        self.state = target  # type: ignore[assignment]

    def set_remote_offer(self, sdp: Any) -> None:
        """The peer's offer."""
        target = transition(self.state, NegotiationEvent.REMOTE_OFFER)
        offer = _frozen(sdp)
        check_new_sdp(self.remote_sdp, offer, local=False)
        self._before_offer = (self.local_sdp, self.remote_sdp, self.local_offerer)
        self.remote_sdp = offer
        self.local_offerer = False
        self.state = target  # type: ignore[assignment]

    def set_local_answer(self, sdp: Any) -> FrozenSDPSession:
        """Our answer to the peer's offer; returns it as it must be sent."""
        target = transition(self.state, NegotiationEvent.LOCAL_ANSWER)
        answer = self._stamped(sdp)
        assert self.remote_sdp is not None
        check_answer(self.remote_sdp, answer, local=True)
        check_new_sdp(self.local_sdp, answer, local=True)
        self.local_sdp = self._last_sent = answer
        self.state = target  # type: ignore[assignment]
        return answer

    def negotiate(self) -> tuple[FrozenSDPSession, FrozenSDPSession]:
        """Complete the answered exchange; returns (active_local, active_remote)."""
        target = transition(self.state, NegotiationEvent.NEGOTIATE)
        assert self.local_sdp is not None and self.remote_sdp is not None
        if self.local_offerer:
            active_local, active_remote = negotiated(self.local_sdp, self.remote_sdp)
        else:
            active_remote, active_local = negotiated(self.remote_sdp, self.local_sdp)
        self.active_local, self.active_remote = active_local, active_remote
        self.state = target  # type: ignore[assignment]
        return active_local, active_remote

    def cancel_offer(self) -> None:
        """Drop the pending offer (ours rejected or withdrawn, or theirs rejected by us)."""
        transition(self.state, NegotiationEvent.CANCEL)
        self.local_sdp, self.remote_sdp, self.local_offerer = self._before_offer
        self.state = NegotiationState.DONE if self.active_local is not None else NegotiationState.NO_OFFER

    # what the session asks

    def get_active_local(self) -> FrozenSDPSession | None:
        return self.active_local

    def get_active_remote(self) -> FrozenSDPSession | None:
        return self.active_remote

    @property
    def has_pending_offer(self) -> bool:
        return self.state in (NegotiationState.LOCAL_OFFER, NegotiationState.REMOTE_OFFER)
