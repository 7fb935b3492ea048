"""Property tests (hypothesis) for the SDPNegotiator state machine.

Systematically: from every state, reached both as offerer and as answerer, every event. Randomly:
sequences of events, each with an SDP that is acceptable content-wise (answers match the pending
offer, offers keep every m= line), so that only the state decides the outcome.

Checked on every step: the new state is the one TABLE gives (REVERT: DONE after a completed
exchange, else NO_OFFER); an event not in TABLE raises the error ERRORS names, with its culprit,
and changes nothing; the negotiated view changes only on negotiate(); every SDP we send has the
o= line of the first one, with the version raised by one exactly when the content changed.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsimple.core.sdp import (
    Direction,
    FrozenSDPSession,
    SDPConnection,
    SDPMediaStream,
    SDPNegotiationError,
    SDPNegotiator,
    SDPSession,
    answer_direction,
)
from sipsimple.core.sdp.negotiator import ERRORS, REVERT, TABLE, NegotiationEvent, NegotiationState
from sipsimple.core.sdp.offer_answer import same_content

E = NegotiationEvent
S = NegotiationState


def session(address: str, streams: int, direction: Direction, port: int = 5004) -> SDPSession:
    media = []
    for index in range(streams):
        stream = SDPMediaStream("audio", port + 2 * index, "RTP/AVP", formats=["0", "8"])
        stream.direction = direction
        media.append(stream)
    return SDPSession(address, id=9, version=3, connection=SDPConnection(address), media=media)


def argument(
    negotiator: SDPNegotiator, event: NegotiationEvent, direction: Direction, extra: int
) -> SDPSession | None:
    """An SDP for ``event`` that no content check can refuse in the negotiator's situation."""
    if event in (E.NEGOTIATE, E.CANCEL):
        return None
    if event is E.LOCAL_OFFER:
        previous = len(negotiator.local_sdp.media) if negotiator.local_sdp else 0
        return session("192.0.2.1", previous + extra, direction)
    if event is E.REMOTE_OFFER:
        previous = len(negotiator.remote_sdp.media) if negotiator.remote_sdp else 0
        return session("192.0.2.2", previous + extra, direction, port=6000)
    pending = negotiator.remote_sdp if event is E.LOCAL_ANSWER else negotiator.local_sdp
    if pending is None:
        return session("192.0.2.9", 1, direction)
    answer = session("192.0.2.1" if event is E.LOCAL_ANSWER else "192.0.2.2", len(pending.media), direction)
    for index, stream in enumerate(answer.media):
        stream.direction = answer_direction(pending.direction_of(index), direction)
    return answer


METHODS: dict[NegotiationEvent, Callable[[SDPNegotiator, SDPSession | None], object]] = {
    E.LOCAL_OFFER: lambda n, sdp: n.set_local_offer(sdp),
    E.REMOTE_OFFER: lambda n, sdp: n.set_remote_offer(sdp),
    E.LOCAL_ANSWER: lambda n, sdp: n.set_local_answer(sdp),
    E.REMOTE_ANSWER: lambda n, sdp: n.set_remote_answer(sdp),
    E.NEGOTIATE: lambda n, sdp: n.negotiate(),
    E.CANCEL: lambda n, sdp: n.cancel_offer(),
}


class Checker:
    """Applies events to a negotiator and checks every step against the tables."""

    def __init__(self) -> None:
        self.negotiator = SDPNegotiator()
        self.sent: list[FrozenSDPSession] = []
        self.seen: set[tuple[NegotiationState, NegotiationEvent]] = set()
        self.agreed = False  # a negotiate() succeeded

    def apply(
        self, event: NegotiationEvent, direction: Direction = Direction.SENDRECV, extra: int = 0
    ) -> None:
        negotiator = self.negotiator
        state = negotiator.state
        self.seen.add((state, event))
        sdp = argument(negotiator, event, direction, extra)
        before = (
            negotiator.local_sdp,
            negotiator.remote_sdp,
            negotiator.active_local,
            negotiator.active_remote,
        )
        try:
            result = METHODS[event](negotiator, sdp)
        except SDPNegotiationError as error:
            assert (state, event) in ERRORS, (state, event, error)
            assert error.culprit is ERRORS[state, event][0]
            assert event.value in str(error) and state.value in str(error)
            after = (
                negotiator.local_sdp,
                negotiator.remote_sdp,
                negotiator.active_local,
                negotiator.active_remote,
            )
            assert negotiator.state is state and after == before
            return
        target = TABLE[state, event]
        if target is REVERT:
            target = S.DONE if negotiator.active_local is not None else S.NO_OFFER
        assert negotiator.state is target
        if event is not E.NEGOTIATE:
            assert (negotiator.active_local, negotiator.active_remote) == before[2:]
        else:
            self.agreed = True
            assert result == (negotiator.active_local, negotiator.active_remote)
            assert negotiator.active_local is not None and negotiator.active_remote is not None
            assert len(negotiator.active_local.media) == len(negotiator.active_remote.media)
        if event in (E.LOCAL_OFFER, E.LOCAL_ANSWER):
            assert isinstance(result, FrozenSDPSession) and negotiator.local_sdp is result
            self._check_version(result)

    def _check_version(self, sent: FrozenSDPSession) -> None:
        if self.sent:
            first, last = self.sent[0], self.sent[-1]
            assert (sent.user, sent.id, sent.address) == (first.user, first.id, first.address)
            assert sent.version == last.version + (0 if same_content(sent, last) else 1)
        self.sent.append(sent)


#: a path to each state, as offerer and as answerer
PATHS = {
    "fresh": [],
    "local offer": [E.LOCAL_OFFER],
    "remote offer": [E.REMOTE_OFFER],
    "answered as offerer": [E.LOCAL_OFFER, E.REMOTE_ANSWER],
    "answered as answerer": [E.REMOTE_OFFER, E.LOCAL_ANSWER],
    "done as offerer": [E.LOCAL_OFFER, E.REMOTE_ANSWER, E.NEGOTIATE],
    "done as answerer": [E.REMOTE_OFFER, E.LOCAL_ANSWER, E.NEGOTIATE],
    "re-offer": [E.LOCAL_OFFER, E.REMOTE_ANSWER, E.NEGOTIATE, E.LOCAL_OFFER],
    "remote re-offer": [E.REMOTE_OFFER, E.LOCAL_ANSWER, E.NEGOTIATE, E.REMOTE_OFFER],
}


def test_every_event_from_every_state_reached_either_way_follows_the_tables():
    seen: set[tuple[NegotiationState, NegotiationEvent]] = set()
    for path in PATHS.values():
        for event in NegotiationEvent:
            checker = Checker()
            for step in path:
                checker.apply(step)
            checker.apply(event)
            seen |= checker.seen
    assert seen == set(TABLE) | set(ERRORS)


steps = st.lists(
    st.tuples(
        st.sampled_from(list(NegotiationEvent) + [E.LOCAL_OFFER, E.REMOTE_OFFER, E.NEGOTIATE] * 2),
        st.sampled_from(list(Direction)),
        st.integers(0, 2),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_random_event_sequences_follow_the_tables_and_keep_the_version_rules(sequence):
    checker = Checker()
    for event, direction, extra in sequence:
        checker.apply(event, direction, extra)
    negotiator = checker.negotiator
    # NO_OFFER means nothing was ever agreed; DONE always has an agreement to show
    assert (negotiator.active_local is None) == (negotiator.state is S.NO_OFFER or not checker.agreed)
    if negotiator.state is S.DONE:
        assert negotiator.active_local is not None and negotiator.active_remote is not None
