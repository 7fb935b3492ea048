"""The offer/answer rules: which answers are acceptable (ours strictly, the peer's leniently),
what an exchange agrees on, and what a new SDP must keep of the previous one."""

from __future__ import annotations

import pytest

from sipsimple.core.sdp import (
    Culprit,
    Direction,
    FrozenSDPSession,
    LocalSDPNegotiationError,
    RemoteSDPNegotiationError,
    SDPNegotiationError,
    allowed_answer_directions,
    answer_direction,
    rejected_media,
)
from sipsimple.core.sdp.offer_answer import (
    check_answer,
    check_new_sdp,
    common_formats,
    negotiated,
    same_content,
)


def sdp(
    *media: str, version: int = 1, address: str = "192.0.2.1", extra: str = "", times: str = "0 0"
) -> FrozenSDPSession:
    """A session from media sections written as text (``"audio 5004 RTP/AVP 0"`` + attribute lines)."""
    text = f"v=0\r\no=- 7 {version} IN IP4 {address}\r\ns=-\r\nc=IN IP4 {address}\r\nt={times}\r\n{extra}"
    for section in media:
        first, *attributes = section.split("|")
        text += f"m={first}\r\n" + "".join(f"a={line}\r\n" for line in attributes)
    return FrozenSDPSession.parse(text)


OFFER = sdp(
    "audio 5004 RTP/AVP 0 8 96 101|rtpmap:96 opus/48000/2|rtpmap:101 telephone-event/8000",
    "video 5006 RTP/AVP 31",
)


def test_the_answer_directions_mirror_the_offer_rfc_3264_section_6_1():
    assert allowed_answer_directions("sendonly") == {Direction.RECVONLY, Direction.INACTIVE}
    assert allowed_answer_directions("recvonly") == {Direction.SENDONLY, Direction.INACTIVE}
    assert allowed_answer_directions("inactive") == {Direction.INACTIVE}
    assert allowed_answer_directions(Direction.SENDRECV) == set(Direction)
    assert answer_direction("sendonly") is Direction.RECVONLY
    assert answer_direction("recvonly", "sendrecv") is Direction.SENDONLY
    assert answer_direction("sendrecv", "sendonly") is Direction.SENDONLY
    assert answer_direction("sendonly", "sendonly") is Direction.INACTIVE
    assert answer_direction("inactive", "sendrecv") is Direction.INACTIVE


def test_a_rejected_stream_keeps_its_media_type_transport_and_formats_with_port_zero():
    rejected = rejected_media(OFFER.media[1])
    assert (rejected.media, rejected.port, rejected.transport, rejected.formats) == (
        "video",
        0,
        "RTP/AVP",
        ["31"],
    )
    assert list(rejected.attributes) == []


GOOD_ANSWER = sdp("audio 6000 RTP/AVP 0 101|rtpmap:101 telephone-event/8000", "video 0 RTP/AVP 31")


def test_a_well_formed_answer_passes_both_as_ours_and_as_the_peers():
    check_answer(OFFER, GOOD_ANSWER, local=True)
    check_answer(OFFER, GOOD_ANSWER, local=False)


#: (answer, reason) broken for both sides
BROKEN = [
    (sdp("audio 6000 RTP/AVP 0"), "1 m= lines and the offer 2"),
    (sdp("audio 6000 RTP/AVP 0", "video 6002 RTP/AVP 31", "audio 1 RTP/AVP 0"), "3 m= lines"),
    (sdp("video 6000 RTP/AVP 31", "video 0 RTP/AVP 31"), "media type 'video' for an offered 'audio'"),
    (sdp("audio 6000 RTP/AVP 9", "video 0 RTP/AVP 31"), "without any offered format"),
    (sdp("audio 6000 RTP/AVP 97|rtpmap:97 opus/48000", "video 0 RTP/AVP 31"), "without any offered format"),
]


@pytest.mark.parametrize(("answer", "reason"), BROKEN)
@pytest.mark.parametrize("local", [True, False])
def test_answers_that_break_rfc_3264_section_6_are_refused_naming_whose_answer_it_is(answer, reason, local):
    with pytest.raises(SDPNegotiationError, match=reason) as caught:
        check_answer(OFFER, answer, local=local)
    assert caught.value.culprit is (Culprit.LOCAL if local else Culprit.REMOTE)
    assert isinstance(caught.value, LocalSDPNegotiationError if local else RemoteSDPNegotiationError)


#: (answer, reason) that only our own answers must avoid
OURS_ONLY = [
    (sdp("audio 6000 RTP/AVP 0 9", "video 0 RTP/AVP 31"), "formats the offer does not have: 9"),
    (sdp("audio 6000 RTP/AVP 100|rtpmap:100 opus/48000/2", "video 0 RTP/AVP 31"), "payload types 100"),
    (sdp("audio 6000 RTP/AVP 0", "video 0 RTP/AVP 31", times="1 2"), "t= line"),
    (sdp("audio 6000 RTP/AVP 0", "video 7000 RTP/AVP 31", extra=""), None),
    (sdp("audio 6000 RTP/AVP 0|inactive", "video 0 RTP/AVP 31"), None),
]


@pytest.mark.parametrize(("answer", "reason"), [case for case in OURS_ONLY if case[1]])
def test_our_own_answers_also_keep_the_offers_formats_numbers_and_timing(answer, reason):
    with pytest.raises(LocalSDPNegotiationError, match=reason):
        check_answer(OFFER, answer, local=True)
    check_answer(OFFER, answer, local=False)


@pytest.mark.parametrize(("answer", "_"), [case for case in OURS_ONLY if not case[1]])
def test_other_answers_are_fine_for_both(answer, _):
    check_answer(OFFER, answer, local=True)
    check_answer(OFFER, answer, local=False)


@pytest.mark.parametrize(
    ("offered", "answered", "allowed"),
    [
        ("sendonly", "sendrecv", False),
        ("sendonly", "sendonly", False),
        ("sendonly", "recvonly", True),
        ("recvonly", "recvonly", False),
        ("recvonly", "sendonly", True),
        ("inactive", "sendrecv", False),
        ("inactive", "inactive", True),
        ("sendrecv", "sendonly", True),
    ],
)
def test_our_answer_must_take_a_direction_the_offer_allows_and_the_peers_is_tolerated(
    offered, answered, allowed
):
    offer = sdp(f"audio 5004 RTP/AVP 0|{offered}")
    answer = sdp(f"audio 6000 RTP/AVP 0|{answered}")
    check_answer(offer, answer, local=False)
    if allowed:
        check_answer(offer, answer, local=True)
    else:
        with pytest.raises(LocalSDPNegotiationError, match=f"use {answer_direction(offered, answered)}"):
            check_answer(offer, answer, local=True)


def test_a_stream_offered_with_port_zero_must_be_answered_with_port_zero_by_us_and_counts_as_rejected_from_the_peer():
    offer = sdp("audio 5004 RTP/AVP 0", "video 0 RTP/AVP 31")
    answer = sdp("audio 6000 RTP/AVP 0", "video 6002 RTP/AVP 31")
    with pytest.raises(LocalSDPNegotiationError, match="port 0"):
        check_answer(offer, answer, local=True)
    check_answer(offer, answer, local=False)
    negotiated_offer, negotiated_answer = negotiated(offer, answer)
    assert negotiated_offer.media[1].port == negotiated_answer.media[1].port == 0


def test_the_negotiated_view_keeps_common_formats_in_the_answers_order_each_side_with_its_numbers():
    offer = sdp(
        "audio 5004 RTP/AVP 0 8 96 101|rtpmap:96 opus/48000/2|fmtp:96 useinbandfec=1"
        "|rtpmap:101 telephone-event/8000|fmtp:101 0-15|ptime:20"
    )
    answer = sdp("audio 6000 RTP/AVP 100 0 102|rtpmap:100 opus/48000/2|rtpmap:102 telephone-event/8000")
    active_offer, active_answer = negotiated(offer, answer)
    assert active_offer.media[0].formats == ("96", "0", "101")
    assert active_answer.media[0].formats == ("100", "0", "102")
    assert active_offer.media[0].attributes.getall("rtpmap") == [
        "96 opus/48000/2",
        "101 telephone-event/8000",
    ]
    assert active_offer.media[0].attributes.getall("fmtp") == ["96 useinbandfec=1", "101 0-15"]
    assert active_offer.media[0].attributes.getfirst("ptime") == "20"
    assert common_formats(offer.media[0], answer.media[0]) == [("100", "96"), ("0", "0"), ("102", "101")]


def test_formats_of_other_transports_match_by_text_and_a_star_matches_anything():
    msrp = sdp("message 2855 TCP/MSRP *")
    assert common_formats(msrp.media[0], msrp.media[0]) == [("*", "*")]
    wb = sdp("application 32416 udp wb")
    other = sdp("application 32416 udp wb ppt")
    assert common_formats(wb.media[0], other.media[0]) == [("wb", "wb")]
    assert common_formats(other.media[0], sdp("application 1 udp *").media[0]) == [("*", "*")]


@pytest.mark.parametrize(
    ("offered", "answered", "offer_sees", "answer_sees"),
    [
        ("sendrecv", "sendrecv", "sendrecv", "sendrecv"),
        ("sendonly", "recvonly", "sendonly", "recvonly"),
        ("sendonly", "sendrecv", "sendonly", "recvonly"),  # a sloppy peer: normalised
        ("recvonly", "sendrecv", "recvonly", "sendonly"),
        ("inactive", "sendrecv", "inactive", "inactive"),
        ("sendrecv", "inactive", "inactive", "inactive"),
        ("sendrecv", "recvonly", "sendonly", "recvonly"),
    ],
)
def test_the_negotiated_directions_are_explicit_and_mirror_each_other(
    offered, answered, offer_sees, answer_sees
):
    active_offer, active_answer = negotiated(
        sdp(f"audio 1 RTP/AVP 0|{offered}"), sdp(f"audio 2 RTP/AVP 0|{answered}")
    )
    assert (active_offer.media[0].direction, active_answer.media[0].direction) == (offer_sees, answer_sees)


def test_legacy_hold_with_address_0_0_0_0_means_do_not_send_to_that_side():
    offer = sdp("audio 5004 RTP/AVP 0", address="0.0.0.0")
    answer = sdp("audio 6000 RTP/AVP 0")
    active_offer, active_answer = negotiated(offer, answer)
    assert (active_offer.media[0].direction, active_answer.media[0].direction) == ("sendonly", "recvonly")
    assert active_offer.connection.is_null
    # and in an answer (RFC 4317 §5.3 style)
    active_offer, active_answer = negotiated(answer, offer)
    assert (active_offer.media[0].direction, active_answer.media[0].direction) == ("recvonly", "sendonly")


def test_session_level_directions_are_folded_into_the_streams_of_the_negotiated_view():
    offer = sdp("audio 5004 RTP/AVP 0", "audio 5006 RTP/AVP 0|sendrecv", extra="a=sendonly\r\n")
    answer = sdp("audio 6000 RTP/AVP 0", "audio 6002 RTP/AVP 0")
    active_offer, active_answer = negotiated(offer, answer)
    assert "sendonly" not in active_offer.attributes
    assert [media.direction for media in active_offer.media] == ["sendonly", "sendrecv"]
    assert [media.direction for media in active_answer.media] == ["recvonly", "sendrecv"]


def test_same_content_ignores_only_the_origin_line():
    one = sdp("audio 5004 RTP/AVP 0", version=1)
    assert same_content(one, sdp("audio 5004 RTP/AVP 0", version=9))
    assert same_content(one, one.replace(user="alice", id=99, address="192.0.2.200"))
    assert not same_content(one, sdp("audio 5004 RTP/AVP 0|sendonly"))
    assert not same_content(one, one.replace(name="x"))


def test_a_new_sdp_keeps_every_m_line_of_the_previous_one_from_the_same_side():
    previous = sdp("audio 5004 RTP/AVP 0", "video 5006 RTP/AVP 31")
    check_new_sdp(None, sdp(), local=True)
    check_new_sdp(previous, sdp("audio 5004 RTP/AVP 0", "video 0 RTP/AVP 31"), local=True)
    check_new_sdp(
        previous, sdp("audio 5004 RTP/AVP 0", "video 5006 RTP/AVP 31", "audio 1 RTP/AVP 0"), local=True
    )
    for local, error in ((True, LocalSDPNegotiationError), (False, RemoteSDPNegotiationError)):
        with pytest.raises(error, match="keeps its slot with port 0"):
            check_new_sdp(previous, sdp("audio 5004 RTP/AVP 0"), local=local)


def test_our_dynamic_payload_types_keep_their_codec_for_the_stream_rfc_3264_section_8_3_2():
    previous = sdp("audio 5004 RTP/AVP 96 0|rtpmap:96 opus/48000/2")
    with pytest.raises(
        LocalSDPNegotiationError, match="payload type 96 was opus/48000/2 and is now speex/16000"
    ):
        check_new_sdp(previous, sdp("audio 5004 RTP/AVP 96|rtpmap:96 speex/16000"), local=True)
    # a new number for the same codec, another codec on a new number, a reused slot: all fine
    check_new_sdp(
        previous, sdp("audio 5004 RTP/AVP 97 96|rtpmap:97 opus/48000/2|rtpmap:96 opus/48000/2"), local=True
    )
    check_new_sdp(previous, sdp("audio 5004 RTP/AVP 98|rtpmap:98 speex/16000"), local=True)
    check_new_sdp(
        sdp("audio 0 RTP/AVP 96|rtpmap:96 opus/48000/2"),
        sdp("audio 5 RTP/AVP 96|rtpmap:96 G7221/16000"),
        local=True,
    )
    check_new_sdp(previous, sdp("video 5004 RTP/AVP 96|rtpmap:96 H264/90000"), local=True)
    # the peer is not policed on this
    check_new_sdp(previous, sdp("audio 5004 RTP/AVP 96|rtpmap:96 speex/16000"), local=False)
