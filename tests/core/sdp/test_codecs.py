"""RTP payload formats: the static table, codec lists, and the choice of an answer's codecs."""

from __future__ import annotations

import pytest

from sipsimple.core.sdp import (
    STATIC_PAYLOAD_TYPES,
    FrozenSDPSession,
    RTPCodec,
    SDPMediaStream,
    answer_codecs,
    codec_info,
    codec_list,
)
from sipsimple.core.sdp.codecs import format_key, is_dynamic

OFFER = FrozenSDPSession.parse(
    "v=0\r\n"
    "o=- 1 1 IN IP4 192.0.2.1\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.1\r\n"
    "t=0 0\r\n"
    "m=audio 5004 RTP/AVP 96 9 0 8 3 97 101 18\r\n"
    "a=rtpmap:96 opus/48000/2\r\n"
    "a=fmtp:96 useinbandfec=1\r\n"
    "a=rtpmap:0 pcmu/8000\r\n"
    "a=rtpmap:97 telephone-event/48000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
)
AUDIO = OFFER.media[0]


def test_the_static_table_holds_the_rfc_3551_audio_and_video_types():
    assert STATIC_PAYLOAD_TYPES[0] == RTPCodec(0, "PCMU", 8000)
    assert STATIC_PAYLOAD_TYPES[9] == RTPCodec(9, "G722", 8000)
    assert STATIC_PAYLOAD_TYPES[10] == RTPCodec(10, "L16", 44100, 2)
    assert STATIC_PAYLOAD_TYPES[34] == RTPCodec(34, "H263", 90000)
    assert not is_dynamic(8) and is_dynamic(96) and is_dynamic(2)


def test_codec_list_gives_every_known_format_in_m_line_order_with_rtpmap_overriding_the_table():
    codecs = codec_list(AUDIO)
    assert [(codec.payload_type, str(codec)) for codec in codecs] == [
        (96, "opus/48000/2"),
        (9, "G722/8000"),
        (0, "pcmu/8000"),
        (8, "PCMA/8000"),
        (3, "GSM/8000"),
        (97, "telephone-event/48000"),
        (101, "telephone-event/8000"),
        (18, "G729/8000"),
    ]
    assert codecs[0].fmtp == "useinbandfec=1" and codecs[1].fmtp is None
    assert codec_list(SDPMediaStream("message", 1, "TCP/MSRP", formats=["*"])) == []


def test_a_dynamic_payload_type_without_rtpmap_and_a_format_that_is_no_number_are_left_out():
    media = SDPMediaStream("audio", 1, "RTP/AVP", formats=["0", "98", "x"])
    assert [codec.payload_type for codec in codec_list(media)] == [0]
    assert codec_info(media, "x") is None
    assert codec_info(media, 98) is None
    assert format_key(media, "98") == ("format", "98")


def test_codec_info_answers_only_for_formats_of_the_m_line():
    assert codec_info(AUDIO, "101") == RTPCodec(101, "telephone-event", 8000, 1, "0-16")
    assert codec_info(AUDIO, 4) is None
    assert format_key(AUDIO, "0") == ("pcmu", 8000, 1)


def test_the_answer_takes_our_order_and_the_offers_numbers_and_fmtp():
    chosen = answer_codecs(AUDIO, ["PCMA/8000", "opus/48000/2", "PCMU/8000", "speex/16000"])
    assert [(codec.payload_type, codec.name) for codec in chosen] == [
        (8, "PCMA"),
        (96, "opus"),
        (0, "pcmu"),
        (97, "telephone-event"),
        (101, "telephone-event"),
    ]
    assert chosen[1].fmtp == "useinbandfec=1"


def test_telephone_event_is_matched_by_the_clock_rate_of_the_chosen_codecs():
    narrow = answer_codecs(AUDIO, [RTPCodec(None, "G722", 8000)])
    assert [(codec.payload_type, codec.name) for codec in narrow] == [(9, "G722"), (101, "telephone-event")]
    wide = answer_codecs(AUDIO, ["opus/48000/2", "telephone-event/8000"])
    assert [codec.payload_type for codec in wide] == [96, 97]
    assert answer_codecs(AUDIO, ["PCMU/8000"], telephone_event=False) == [
        STATIC_PAYLOAD_TYPES[0]._replace(name="pcmu")
    ]


def test_nothing_in_common_gives_an_empty_answer_and_no_telephone_event():
    assert answer_codecs(AUDIO, ["speex/32000", "iLBC/8000"]) == []
    assert answer_codecs(AUDIO, []) == []


def test_a_codec_offered_twice_is_chosen_once_per_entry_of_ours():
    media = SDPMediaStream(
        "audio",
        1,
        "RTP/AVP",
        formats=["0", "100"],
        attributes=RTPCodec(100, "PCMU", 8000).attributes(),
    )
    chosen = answer_codecs(media, ["PCMU/8000", "PCMU/8000"])
    assert [codec.payload_type for codec in chosen] == [0, 100]


def test_codec_text_and_attributes():
    codec = RTPCodec.from_text("opus/48000/2", payload_type=111)
    assert codec == RTPCodec(111, "opus", 48000, 2)
    assert codec.matches(RTPCodec(None, "OPUS", 48000, 2)) and not codec.matches(
        RTPCodec(None, "opus", 48000)
    )
    assert [str(item) for item in codec._replace(fmtp="minptime=10").attributes()] == [
        "a=rtpmap:111 opus/48000/2",
        "a=fmtp:111 minptime=10",
    ]
    assert [str(item) for item in RTPCodec(0, "PCMU", 8000).attributes()] == ["a=rtpmap:0 PCMU/8000"]
    for text in ("PCMU", "PCMU/fast", "/8000", "opus/48000/two"):
        with pytest.raises(ValueError):
            RTPCodec.from_text(text)
    with pytest.raises(ValueError, match="no payload type"):
        RTPCodec(None, "PCMU", 8000).rtpmap()
