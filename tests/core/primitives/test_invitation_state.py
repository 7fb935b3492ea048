"""The Invitation state tables: every (state, event) pair is either a transition or a protocol
error naming the culprit, nothing leaves DISCONNECTED, and sub-states only move while CONNECTED."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sipsimple.core.primitives.invitation import (
    SUB_TABLE,
    TABLE,
    InvitationEvent,
    InvitationState,
    InvitationStateError,
    SubEvent,
    SubState,
)
from sipsimple.core.primitives.invitation._state import LOCAL_EVENTS, sub_transition, transition
from sipsimple.core.sip.transaction import Culprit


def test_every_state_and_event_pair_is_a_transition_or_an_error_with_the_right_culprit():
    for state in InvitationState:
        for event in InvitationEvent:
            if (state, event) in TABLE:
                assert transition(state, event) is TABLE[(state, event)]
                continue
            try:
                transition(state, event)
            except InvitationStateError as error:
                assert error.culprit is (Culprit.LOCAL if event in LOCAL_EVENTS else Culprit.REMOTE)
            else:  # pragma: no cover - the assertion below reports it
                raise AssertionError(f"{state}, {event} is neither allowed nor an error")


def test_nothing_leaves_disconnected_and_null_only_starts_a_call():
    assert not any(state is InvitationState.DISCONNECTED for state, _ in TABLE)
    assert {event for state, event in TABLE if state is InvitationState.NULL} == {
        InvitationEvent.SEND_INVITE,
        InvitationEvent.RECEIVE_INVITE,
    }


@given(st.lists(st.sampled_from(list(InvitationEvent)), max_size=30))
def test_any_event_sequence_only_takes_table_moves_and_errors_change_nothing(events):
    state = InvitationState.NULL
    for event in events:
        try:
            new = transition(state, event)
        except InvitationStateError:
            continue
        assert TABLE[(state, event)] is new
        state = new
    assert state in InvitationState


@given(
    st.sampled_from(list(InvitationState)), st.sampled_from(list(SubState)), st.sampled_from(list(SubEvent))
)
def test_sub_states_move_only_while_connected_and_only_by_the_sub_table(state, sub_state, event):
    try:
        target = sub_transition(state, sub_state, event)
    except InvitationStateError:
        assert state is not InvitationState.CONNECTED or (sub_state, event) not in SUB_TABLE
    else:
        assert state is InvitationState.CONNECTED and SUB_TABLE[(sub_state, event)] is target


def test_glare_is_the_peer_reinvite_while_ours_is_out_and_is_not_in_the_sub_table():
    assert (SubState.SENDING_PROPOSAL, SubEvent.RECEIVE_PROPOSAL) not in SUB_TABLE
    assert (SubState.RECEIVED_PROPOSAL, SubEvent.SEND_PROPOSAL) not in SUB_TABLE
