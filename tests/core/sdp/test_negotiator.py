"""SDPNegotiator: the RFC 3264 §10 example flows from both ends, hold and unhold, stream rejection,
adding and removing streams, the o= version rules, cancelled offers and out-of-turn calls."""

from __future__ import annotations

import pytest

from sipsimple.core.sdp import (
    Culprit,
    FrozenSDPSession,
    LocalSDPNegotiationError,
    NegotiationState,
    RemoteSDPNegotiationError,
    SDPConnection,
    SDPMediaStream,
    SDPNegotiator,
    SDPSession,
    rejected_media,
)
from sipsimple.core.sdp.negotiator import ERRORS, REVERT, TABLE, NegotiationEvent

S = NegotiationState


def lines(*text: str) -> FrozenSDPSession:
    return FrozenSDPSession.parse("".join(line + "\r\n" for line in text))


# RFC 3264 §10.1 "Basic Exchange"
ALICE_OFFER_1 = lines(
    "v=0",
    "o=alice 2890844526 2890844526 IN IP4 host.anywhere.com",
    "s=",
    "c=IN IP4 host.anywhere.com",
    "t=0 0",
    "m=audio 49170 RTP/AVP 0",
    "a=rtpmap:0 PCMU/8000",
    "m=video 51372 RTP/AVP 31",
    "a=rtpmap:31 H261/90000",
    "m=video 53000 RTP/AVP 32",
    "a=rtpmap:32 MPV/90000",
)
BOB_ANSWER_1 = lines(
    "v=0",
    "o=bob 2890844730 2890844730 IN IP4 host.example.com",
    "s=",
    "c=IN IP4 host.example.com",
    "t=0 0",
    "m=audio 49920 RTP/AVP 0",
    "a=rtpmap:0 PCMU/8000",
    "m=video 0 RTP/AVP 31",
    "m=video 53000 RTP/AVP 32",
    "a=rtpmap:32 MPV/90000",
)
BOB_OFFER_2 = lines(
    "v=0",
    "o=bob 2890844730 2890844731 IN IP4 host.example.com",
    "s=",
    "c=IN IP4 host.example.com",
    "t=0 0",
    "m=audio 65422 RTP/AVP 0",
    "a=rtpmap:0 PCMU/8000",
    "m=video 0 RTP/AVP 31",
    "m=video 53000 RTP/AVP 32",
    "a=rtpmap:32 MPV/90000",
    "m=audio 51434 RTP/AVP 110",
    "a=rtpmap:110 telephone-events/8000",
    "a=recvonly",
)
ALICE_ANSWER_2 = lines(
    "v=0",
    "o=alice 2890844526 2890844527 IN IP4 host.anywhere.com",
    "s=",
    "c=IN IP4 host.anywhere.com",
    "t=0 0",
    "m=audio 49170 RTP/AVP 0",
    "a=rtpmap:0 PCMU/8000",
    "m=video 0 RTP/AVP 31",
    "a=rtpmap:31 H261/90000",
    "m=video 53000 RTP/AVP 32",
    "a=rtpmap:32 MPV/90000",
    "m=audio 53122 RTP/AVP 110",
    "a=rtpmap:110 telephone-events/8000",
    "a=sendonly",
)

# RFC 3264 §10.2 "One of N Codec Selection"
ALICE_OFFER_N = lines(
    "v=0",
    "o=alice 2890844526 2890844526 IN IP4 host.anywhere.com",
    "s=",
    "c=IN IP4 host.anywhere.com",
    "t=0 0",
    "m=audio 62986 RTP/AVP 0 4 18",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:4 G723/8000",
    "a=rtpmap:18 G729/8000",
    "a=inactive",
)
BOB_ANSWER_N = lines(
    "v=0",
    "o=bob 2890844730 2890844731 IN IP4 host.example.com",
    "s=",
    "c=IN IP4 host.example.com",
    "t=0 0",
    "m=audio 54344 RTP/AVP 0 4",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:4 G723/8000",
    "a=inactive",
)
ALICE_OFFER_N2 = lines(
    "v=0",
    "o=alice 2890844526 2890844527 IN IP4 host.anywhere.com",
    "s=",
    "c=IN IP4 host.anywhere.com",
    "t=0 0",
    "m=audio 62986 RTP/AVP 4",
    "a=rtpmap:4 G723/8000",
    "a=sendrecv",
)
BOB_ANSWER_N2 = lines(
    "v=0",
    "o=bob 2890844730 2890844732 IN IP4 host.example.com",
    "s=",
    "c=IN IP4 host.example.com",
    "t=0 0",
    "m=audio 54344 RTP/AVP 4",
    "a=rtpmap:4 G723/8000",
    "a=sendrecv",
)


def unversioned(sdp: FrozenSDPSession) -> FrozenSDPSession:
    """What the application hands over: the version is the negotiator's business."""
    return sdp.replace(version=1)


def test_every_state_event_pair_is_in_exactly_one_of_the_table_and_the_errors():
    pairs = {(state, event) for state in NegotiationState for event in NegotiationEvent}
    assert set(TABLE) | set(ERRORS) == pairs
    assert not set(TABLE) & set(ERRORS)


def test_rfc_3264_basic_exchange_from_alices_side_reproduces_her_sdps():
    alice = SDPNegotiator()
    assert alice.state is S.NO_OFFER
    assert alice.set_local_offer(ALICE_OFFER_1) == ALICE_OFFER_1
    assert alice.state is S.LOCAL_OFFER and alice.has_pending_offer
    alice.set_remote_answer(BOB_ANSWER_1)
    assert alice.state is S.ANSWERED
    active_local, active_remote = alice.negotiate()
    assert alice.state is S.DONE and not alice.has_pending_offer
    assert [media.port for media in active_local.media] == [49170, 0, 53000]
    assert [media.port for media in active_remote.media] == [49920, 0, 53000]
    assert active_local.media[2].direction == "sendrecv"
    alice.set_remote_offer(BOB_OFFER_2)
    answer = alice.set_local_answer(unversioned(ALICE_ANSWER_2))
    assert answer.version == 2890844527
    assert bytes(answer) == bytes(ALICE_ANSWER_2)
    active_local, active_remote = alice.negotiate()
    assert [media.port for media in active_local.media] == [49170, 0, 53000, 53122]
    assert (active_local.media[3].direction, active_remote.media[3].direction) == ("sendonly", "recvonly")
    assert active_local.media[3].formats == ("110",)


def test_rfc_3264_basic_exchange_from_bobs_side_reproduces_his_sdps():
    bob = SDPNegotiator.create_with_remote_offer(ALICE_OFFER_1)
    assert bob.state is S.REMOTE_OFFER
    # Bob builds his answer, rejecting the first video stream
    media = [BOB_ANSWER_1.media[0], rejected_media(ALICE_OFFER_1.media[1]), BOB_ANSWER_1.media[2]]
    answer = bob.set_local_answer(BOB_ANSWER_1.replace(media=media))
    assert answer == BOB_ANSWER_1
    bob.negotiate()
    offer = bob.set_local_offer(unversioned(BOB_OFFER_2))
    assert bytes(offer) == bytes(BOB_OFFER_2)
    bob.set_remote_answer(ALICE_ANSWER_2)
    active_local, active_remote = bob.negotiate()
    assert bob.get_active_local() is active_local and bob.get_active_remote() is active_remote
    assert active_local.media[0].port == 65422 and active_remote.media[3].port == 53122
    assert (active_local.media[3].direction, active_remote.media[3].direction) == ("recvonly", "sendonly")


def test_rfc_3264_one_of_n_codec_selection_from_both_sides():
    alice = SDPNegotiator.create_with_local_offer(ALICE_OFFER_N)
    bob = SDPNegotiator.create_with_remote_offer(ALICE_OFFER_N)
    assert bob.set_local_answer(BOB_ANSWER_N) == BOB_ANSWER_N
    alice.set_remote_answer(BOB_ANSWER_N)
    for side in (alice, bob):
        local, remote = side.negotiate()
        assert local.media[0].formats == remote.media[0].formats == ("0", "4")
        assert local.media[0].direction == remote.media[0].direction == "inactive"
    offer = alice.set_local_offer(unversioned(ALICE_OFFER_N2))
    assert bytes(offer) == bytes(ALICE_OFFER_N2)
    bob.set_remote_offer(offer)
    answer = bob.set_local_answer(unversioned(BOB_ANSWER_N2))
    assert bytes(answer) == bytes(BOB_ANSWER_N2)
    alice.set_remote_answer(answer)
    for side in (alice, bob):
        local, remote = side.negotiate()
        assert local.media[0].formats == remote.media[0].formats == ("4",)
        assert local.media[0].direction == remote.media[0].direction == "sendrecv"


def call(
    direction: str = "sendrecv", address: str = "192.0.2.1", port: int = 5004, version: int = 1
) -> SDPSession:
    media = SDPMediaStream("audio", port, "RTP/AVP", formats=["0"])
    media.direction = direction
    return SDPSession(address, id=42, version=version, connection=SDPConnection(address), media=[media])


def established(local_offerer: bool = True) -> SDPNegotiator:
    negotiator = SDPNegotiator()
    if local_offerer:
        negotiator.set_local_offer(call())
        negotiator.set_remote_answer(call(address="192.0.2.2", port=6000))
    else:
        negotiator.set_remote_offer(call(address="192.0.2.2", port=6000))
        negotiator.set_local_answer(call())
    negotiator.negotiate()
    return negotiator


def test_hold_and_unhold_by_us_are_re_offers_that_raise_the_version_by_one_each():
    negotiator = established()
    hold = negotiator.set_local_offer(call("sendonly"))
    assert hold.version == 2
    negotiator.set_remote_answer(call("recvonly", address="192.0.2.2", port=6000))
    local, remote = negotiator.negotiate()
    assert (local.media[0].direction, remote.media[0].direction) == ("sendonly", "recvonly")
    unhold = negotiator.set_local_offer(call("sendrecv"))
    assert unhold.version == 3
    negotiator.set_remote_answer(call(address="192.0.2.2", port=6000))
    local, remote = negotiator.negotiate()
    assert local.media[0].direction == remote.media[0].direction == "sendrecv"


def test_hold_by_the_peer_with_sendonly_or_legacy_0_0_0_0_is_seen_in_the_negotiated_view():
    negotiator = established()
    negotiator.set_remote_offer(call("sendonly", address="192.0.2.2", port=6000, version=2))
    answer = negotiator.set_local_answer(call("recvonly"))
    assert answer.version == 2  # our SDP changed (recvonly): one up
    local, remote = negotiator.negotiate()
    assert (local.media[0].direction, remote.media[0].direction) == ("recvonly", "sendonly")
    negotiator.set_remote_offer(call(address="0.0.0.0", port=6000, version=3))
    answer = negotiator.set_local_answer(call())
    assert answer.version == 3
    local, remote = negotiator.negotiate()
    assert (local.media[0].direction, remote.media[0].direction) == ("recvonly", "sendonly")


def test_a_rejected_stream_has_port_zero_on_both_sides_of_the_negotiated_view():
    offer = call()
    offer.media.append(SDPMediaStream("video", 5006, "RTP/AVP", formats=["31"]))
    negotiator = SDPNegotiator.create_with_local_offer(offer)
    answer = call(address="192.0.2.2", port=6000)
    answer.media.append(rejected_media(offer.media[1]))
    negotiator.set_remote_answer(answer)
    local, remote = negotiator.negotiate()
    assert (local.media[1].port, remote.media[1].port) == (0, 0)
    assert (local.media[1].media, local.media[1].formats) == ("video", ("31",))


def test_streams_are_added_below_removed_with_port_zero_and_their_slot_reused():
    negotiator = established()
    added = call()
    added.media.append(SDPMediaStream("audio", 5008, "RTP/AVP", formats=["8"]))
    assert negotiator.set_local_offer(added).version == 2
    answer = call(address="192.0.2.2", port=6000)
    answer.media.append(SDPMediaStream("audio", 6002, "RTP/AVP", formats=["8"]))
    negotiator.set_remote_answer(answer)
    assert [media.port for media in negotiator.negotiate()[1].media] == [6000, 6002]
    # removing the first stream keeps its slot
    removed = SDPSession.new(added)
    removed.media[0].port = 0
    negotiator.set_local_offer(removed)
    answer.media[0] = rejected_media(removed.media[0])
    negotiator.set_remote_answer(answer)
    local, _ = negotiator.negotiate()
    assert [media.port for media in local.media] == [0, 5008]
    # dropping the slot instead is refused, and changes nothing
    with pytest.raises(LocalSDPNegotiationError, match="keeps its slot"):
        negotiator.set_local_offer(call())
    assert negotiator.state is S.DONE
    # the slot can be reused by a new stream
    reused = SDPSession.new(removed)
    reused.media[0] = SDPMediaStream("message", 2855, "TCP/MSRP", formats=["*"])
    negotiator.set_local_offer(reused)
    answer.media[0] = SDPMediaStream("message", 2856, "TCP/MSRP", formats=["*"])
    negotiator.set_remote_answer(answer)
    assert negotiator.negotiate()[0].media[0].media == "message"


def test_the_peer_may_not_drop_m_lines_in_a_re_offer():
    negotiator = established(local_offerer=False)
    with pytest.raises(RemoteSDPNegotiationError, match="keeps its slot"):
        negotiator.set_remote_offer(SDPSession("192.0.2.2", id=1, version=2))
    assert negotiator.state is S.DONE


def test_the_version_stays_when_nothing_changed_and_the_origin_line_is_kept_whatever_we_pass():
    negotiator = established()
    first = negotiator.local_sdp
    assert first is not None
    same = negotiator.set_local_offer(call(version=77))
    assert same.version == first.version == 1
    negotiator.set_remote_answer(call(address="192.0.2.2", port=6000))
    negotiator.negotiate()
    moved = call(version=5).replace(address="192.0.2.99", user="someone", id=1)
    sent = negotiator.set_local_offer(moved)
    assert (sent.user, sent.id, sent.address, sent.version) == ("-", 42, "192.0.2.1", 1)  # only o= differed
    negotiator.cancel_offer()
    changed = negotiator.set_local_offer(call("sendonly"))
    assert changed.version == 2


def test_an_offer_that_was_cancelled_still_counts_for_the_next_version():
    negotiator = established()
    assert negotiator.set_local_offer(call("sendonly")).version == 2
    negotiator.cancel_offer()
    assert negotiator.state is S.DONE
    assert negotiator.set_local_offer(call()).version == 3


def test_cancelling_an_offer_restores_the_previous_exchange():
    negotiator = established()
    active = (negotiator.active_local, negotiator.active_remote, negotiator.local_sdp, negotiator.remote_sdp)
    negotiator.set_local_offer(call("inactive"))
    negotiator.cancel_offer()
    assert (
        negotiator.active_local,
        negotiator.active_remote,
        negotiator.local_sdp,
        negotiator.remote_sdp,
    ) == active
    assert negotiator.local_offerer is True
    negotiator.set_remote_offer(call("inactive", address="192.0.2.2", port=6000, version=2))
    negotiator.cancel_offer()
    assert negotiator.remote_sdp == active[3] and negotiator.state is S.DONE
    assert negotiator.local_offerer is True  # the last completed exchange was our offer
    initial = SDPNegotiator.create_with_remote_offer(call())
    initial.cancel_offer()
    assert initial.state is S.NO_OFFER and initial.remote_sdp is None and initial.active_local is None


def test_glare_is_the_peers_fault_and_changes_nothing():
    negotiator = established()
    offer = negotiator.set_local_offer(call("sendonly"))
    with pytest.raises(RemoteSDPNegotiationError, match="glare") as caught:
        negotiator.set_remote_offer(call(address="192.0.2.2", port=6000, version=2))
    assert caught.value.culprit is Culprit.REMOTE
    assert negotiator.state is S.LOCAL_OFFER and negotiator.local_sdp == offer


@pytest.mark.parametrize(
    ("setup", "action", "error", "words"),
    [
        (
            lambda n: None,
            lambda n: n.set_local_answer(call()),
            LocalSDPNegotiationError,
            "no offer to answer",
        ),
        (
            lambda n: None,
            lambda n: n.set_remote_answer(call()),
            RemoteSDPNegotiationError,
            "answer without an offer",
        ),
        (lambda n: None, lambda n: n.negotiate(), LocalSDPNegotiationError, "nothing to negotiate"),
        (lambda n: None, lambda n: n.cancel_offer(), LocalSDPNegotiationError, "no offer to cancel"),
        (
            lambda n: n.set_local_offer(call()),
            lambda n: n.set_local_offer(call()),
            LocalSDPNegotiationError,
            "before our previous offer",
        ),
        (
            lambda n: n.set_remote_offer(call()),
            lambda n: n.set_local_offer(call()),
            LocalSDPNegotiationError,
            "answering or rejecting",
        ),
        (
            lambda n: n.set_remote_offer(call()),
            lambda n: n.set_remote_offer(call()),
            RemoteSDPNegotiationError,
            "before we answered",
        ),
        (
            lambda n: n.set_remote_offer(call()),
            lambda n: n.negotiate(),
            LocalSDPNegotiationError,
            "not been answered",
        ),
    ],
)
def test_calls_out_of_turn_raise_naming_the_side_at_fault_and_change_nothing(setup, action, error, words):
    negotiator = SDPNegotiator()
    setup(negotiator)
    before = (negotiator.state, negotiator.local_sdp, negotiator.remote_sdp)
    with pytest.raises(error, match=words):
        action(negotiator)
    assert (negotiator.state, negotiator.local_sdp, negotiator.remote_sdp) == before


def test_an_unacceptable_answer_changes_nothing_and_a_good_one_is_then_accepted():
    negotiator = SDPNegotiator.create_with_local_offer(call())
    bad = call(address="192.0.2.2", port=6000)
    bad.media[0].formats = ["8"]
    with pytest.raises(RemoteSDPNegotiationError, match="without any offered format"):
        negotiator.set_remote_answer(bad)
    assert negotiator.state is S.LOCAL_OFFER and negotiator.remote_sdp is None
    negotiator.set_remote_answer(call(address="192.0.2.2", port=6000))
    assert negotiator.state is S.ANSWERED
    remote = SDPNegotiator.create_with_remote_offer(call("sendonly"))
    with pytest.raises(LocalSDPNegotiationError, match="use recvonly"):
        remote.set_local_answer(call("sendrecv"))
    assert remote.state is S.REMOTE_OFFER and remote.local_sdp is None


def test_the_negotiator_accepts_mutable_and_frozen_sessions_and_returns_frozen_ones():
    negotiator = SDPNegotiator()
    sent = negotiator.set_local_offer(call())
    assert type(sent) is FrozenSDPSession
    negotiator.set_remote_answer(FrozenSDPSession.new(call(address="192.0.2.2", port=6000)))
    assert type(negotiator.remote_sdp) is FrozenSDPSession
    assert repr(negotiator) == "<SDPNegotiator answered, to negotiate>"


def test_the_revert_target_is_only_used_by_cancel():
    assert {event for (_, event), target in TABLE.items() if target is REVERT} == {NegotiationEvent.CANCEL}
