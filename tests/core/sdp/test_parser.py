"""Reading and writing SDP text: round trips, line order, kept lines, and errors with line numbers.

Parsers are tested three ways (CONVENTIONS §12). SDP has no framing of its own (it arrives as a
whole message body), so "one byte at a time" becomes: every prefix of a valid SDP either parses or
raises SDPParseError; "with trailing garbage": garbage after a valid SDP is an SDPParseError naming
the first garbage line. The fuzz and generated-session tests are in test_parser_fuzz.py.
"""

from __future__ import annotations

import pytest

from sipsimple.core.sdp import FrozenSDPSession, SDPParseError, SDPSession

AUDIO_CALL = (
    "v=0\r\n"
    "o=- 3712546821 3712546822 IN IP4 192.168.10.4\r\n"
    "s=sipsimple\r\n"
    "c=IN IP4 198.51.100.7\r\n"
    "t=0 0\r\n"
    "a=ice-ufrag:Qx7p\r\n"
    "a=ice-pwd:Zk3vB8mNq2Lr5Ty9Wd0Fh4\r\n"
    "m=audio 50010 RTP/SAVP 111 9 0 8 101\r\n"
    "a=rtcp:50011 IN IP4 198.51.100.7\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=fmtp:111 useinbandfec=1\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=ptime:20\r\n"
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:Vm9jZXMgaW4gdGhlIHdpcmVzIGFyZSBzaW5naW5n\r\n"
    "a=candidate:H1 1 UDP 2130706431 192.168.10.4 50010 typ host\r\n"
    "a=candidate:S1 1 UDP 1694498815 198.51.100.7 50010 typ srflx raddr 192.168.10.4 rport 50010\r\n"
    "a=rtcp-mux\r\n"
    "a=sendrecv\r\n"
)

CHAT = (
    "v=0\r\n"
    "o=- 3712546900 3712546900 IN IP4 192.168.10.4\r\n"
    "s=-\r\n"
    "c=IN IP4 192.168.10.4\r\n"
    "t=0 0\r\n"
    "m=message 2855 TCP/TLS/MSRP *\r\n"
    "a=path:msrps://192.168.10.4:2855/9a8b7c6d5e;tcp\r\n"
    "a=accept-types:message/cpim text/* application/im-iscomposing+xml\r\n"
    "a=accept-wrapped-types:*\r\n"
)

EVERY_LINE = (
    "v=0\r\n"
    "o=carol 28908764872 28908764873 IN IP4 media.example.org\r\n"
    "s=Weekly review\r\n"
    "i=All the session-level lines there are\r\n"
    "u=https://www.example.org/review\r\n"
    "e=carol@example.org (Carol)\r\n"
    "e=dave@example.org\r\n"
    "p=+1 555 0100\r\n"
    "c=IN IP4 233.252.0.1/127/2\r\n"
    "b=CT:256\r\n"
    "t=3034423619 3042462419\r\n"
    "r=7d 1h 0 25h\r\n"
    "t=3045000000 3046000000\r\n"
    "r=604800 3600 0 90000\r\n"
    "z=2882844526 -1h 2898848070 0\r\n"
    "k=prompt\r\n"
    "a=recvonly\r\n"
    "a=tool:none\r\n"
    "m=audio 49170/2 RTP/AVP 0\r\n"
    "i=voice\r\n"
    "c=IN IP4 233.252.0.2/127\r\n"
    "b=AS:64\r\n"
    "b=TIAS:64000\r\n"
    "k=prompt\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "m=video 51372 RTP/AVP 99\r\n"
    "a=rtpmap:99 h263-1998/90000\r\n"
    "m=application 32416 udp wb\r\n"
    "a=orient:portrait\r\n"
)

IPV6 = (
    "v=0\r\n"
    "o=bob 2808844564 2808844564 IN IP6 2001:db8::2\r\n"
    "s= \r\n"
    "c=IN IP6 2001:db8::2\r\n"
    "t=0 0\r\n"
    "m=audio 49172 RTP/AVP 0\r\n"
    "c=IN IP6 ff15::101/3\r\n"
    "a=rtcp:49173 IN IP6 2001:db8::2\r\n"
)

UNKNOWN_LINES = (
    "v=0\r\n"
    "o=- 1 1 IN IP4 192.0.2.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "x=session-level extension\r\n"
    "y=another one\r\n"
    "a=x-unknown-attribute:with a value\r\n"
    "a=x-unknown-flag\r\n"
    "m=audio 5004 RTP/AVP 0\r\n"
    "x=media-level extension\r\n"
    "a=x-media:1\r\n"
)

CANONICAL = {
    "audio call": AUDIO_CALL,
    "chat": CHAT,
    "every line": EVERY_LINE,
    "ipv6": IPV6,
    "unknown": UNKNOWN_LINES,
}


@pytest.mark.parametrize("text", list(CANONICAL.values()), ids=list(CANONICAL))
def test_canonical_input_round_trips_byte_for_byte_from_bytes_and_from_text(text):
    for cls in (SDPSession, FrozenSDPSession):
        from_bytes = cls.parse(text.encode())
        from_text = cls.parse(text)
        assert str(from_bytes) == text and bytes(from_text) == text.encode()
        assert from_bytes == from_text
        assert type(from_bytes) is cls


@pytest.mark.parametrize("text", list(CANONICAL.values()), ids=list(CANONICAL))
def test_lf_line_ends_are_read_and_written_back_as_crlf(text):
    assert str(FrozenSDPSession.parse(text.replace("\r\n", "\n"))) == text


def test_the_fields_hold_what_the_lines_say():
    parsed = FrozenSDPSession.parse(EVERY_LINE)
    assert (parsed.user, parsed.id, parsed.version) == ("carol", 28908764872, 28908764873)
    assert (parsed.net_type, parsed.address_type, parsed.address) == ("IN", "IP4", "media.example.org")
    assert (parsed.name, parsed.info) == ("Weekly review", "All the session-level lines there are")
    assert parsed.connection.address == "233.252.0.1/127/2" and parsed.connection.host == "233.252.0.1"
    assert [(b.modifier, b.value) for b in parsed.bandwidth_info] == [("CT", 256)]
    assert (parsed.start_time, parsed.stop_time) == (3034423619, 3042462419)
    assert [line[0] for line in parsed.other_lines] == ["u", "e", "e", "p", "r", "t", "r", "z", "k"]
    assert parsed.attributes.getall("tool") == ["none"] and parsed.direction_of(0) == "recvonly"
    audio, video, application = parsed.media
    assert (audio.media, audio.port, audio.port_count, audio.transport, audio.formats) == (
        "audio",
        49170,
        2,
        "RTP/AVP",
        ("0",),
    )
    assert audio.info == "voice" and audio.connection.address == "233.252.0.2/127"
    assert [(b.modifier, b.value) for b in audio.bandwidth_info] == [("AS", 64), ("TIAS", 64000)]
    assert audio.other_lines == (("k", "prompt"),)
    assert video.connection is None and parsed.connection_of(1) is parsed.connection
    assert (application.transport, application.formats) == ("udp", ("wb",))
    assert application.attributes.getfirst("orient") == "portrait"


def test_lines_of_unknown_type_are_kept_and_written_just_before_the_attributes_of_their_level():
    parsed = SDPSession.parse(UNKNOWN_LINES)
    assert parsed.other_lines == [("x", "session-level extension"), ("y", "another one")]
    assert parsed.media[0].other_lines == [("x", "media-level extension")]
    assert parsed.attributes.getfirst("x-unknown-attribute") == "with a value"
    # an unknown line met anywhere in its level goes back to its canonical place
    moved = UNKNOWN_LINES.replace("x=session-level extension\r\n", "")
    moved = moved.replace("s=-\r\n", "s=-\r\nx=session-level extension\r\n")
    assert moved != UNKNOWN_LINES
    assert str(SDPSession.parse(moved)) == UNKNOWN_LINES


def test_lines_out_of_order_within_a_level_are_accepted_and_written_in_rfc_4566_order():
    shuffled = (
        "v=0\r\n"
        "o=- 5 5 IN IP4 192.0.2.1\r\n"
        "t=0 0\r\n"
        "a=sendrecv\r\n"
        "s=-\r\n"
        "c=IN IP4 192.0.2.1\r\n"
        "m=audio 5004 RTP/AVP 0\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "c=IN IP4 192.0.2.2\r\n"
    )
    assert str(SDPSession.parse(shuffled)) == (
        "v=0\r\n"
        "o=- 5 5 IN IP4 192.0.2.1\r\n"
        "s=-\r\n"
        "c=IN IP4 192.0.2.1\r\n"
        "t=0 0\r\n"
        "a=sendrecv\r\n"
        "m=audio 5004 RTP/AVP 0\r\n"
        "c=IN IP4 192.0.2.2\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
    )


def test_blank_lines_at_the_end_and_a_missing_final_line_end_are_accepted():
    assert str(FrozenSDPSession.parse(CHAT + "\r\n\r\n")) == CHAT
    assert str(FrozenSDPSession.parse(CHAT.rstrip("\r\n"))) == CHAT
    assert str(FrozenSDPSession.parse(CHAT.replace("\r\n", "\n") + "\n\n")) == CHAT


def test_an_empty_session_name_and_session_without_media_are_accepted():
    text = "v=0\r\no=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\ns=\r\nt=0 0\r\n"
    parsed = FrozenSDPSession.parse(text)
    assert parsed.name == "" and parsed.media == () and str(parsed) == text


def test_non_ascii_text_is_read_as_utf_8_and_written_back_the_same():
    text = CHAT.replace("s=-", "s=Café ☕")
    parsed = FrozenSDPSession.parse(text.encode())
    assert parsed.name == "Café ☕" and bytes(parsed) == text.encode()


def test_an_attribute_with_an_empty_value_after_the_colon_reads_as_a_property_attribute():
    parsed = FrozenSDPSession.parse(CHAT + "a=x-empty:\r\n")
    assert parsed.media[0].attributes[-1].value == "" and str(parsed).endswith("a=x-empty\r\n")


def test_parse_takes_only_bytes_or_text():
    with pytest.raises(TypeError):
        SDPSession.parse(42)  # type: ignore[arg-type]
    assert SDPSession.parse(bytearray(CHAT.encode())) == SDPSession.parse(memoryview(CHAT.encode()))


HEAD = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"

#: (input, line number or None, words of the reason)
MALFORMED = [
    ("", None, "empty"),
    ("\r\n\r\n", None, "empty"),
    ("o=- 1 1 IN IP4 192.0.2.1\r\nv=0\r\n", 1, "begins with v=0"),
    ("v=1\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n", 1, "not 0"),
    ("v=0\r\ns=-\r\nt=0 0\r\n", None, "origin"),
    ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nt=0 0\r\n", None, "session name"),
    ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n", None, "timing"),
    (HEAD + "v=0\r\n", 5, "second v="),
    (HEAD + "o=- 1 1 IN IP4 192.0.2.1\r\n", 5, "second o="),
    (HEAD + "s=again\r\n", 5, "second s="),
    (HEAD + "i=a\r\ni=b\r\n", 6, "second i="),
    ("v=0\r\no=- 1 1 IN IP4\r\ns=-\r\nt=0 0\r\n", 2, "o= needs"),
    ("v=0\r\no=- one 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n", 2, "session id"),
    ("v=0\r\no=- 1 -1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n", 2, "session version"),
    ("v=0\r\no=- 1 1 IN IP4 2001:db8::1\r\ns=-\r\nt=0 0\r\n", 2, "IPv4"),
    ("v=0\r\no=- 1 1 I(N IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n", 2, "net type"),
    ("v=0\r\no=- 1 1 IN IP4 192.0.2.1/127\r\ns=-\r\nt=0 0\r\n", 2, "IPv4"),
    ("v=0\r\no=- 123456789012345678901 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n", 2, "session id"),
    ("v=0\r\no=- 18446744073709551616 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n", 2, "larger than"),
    (HEAD + "c=IN IP4\r\n", 5, "c= needs"),
    (HEAD + "c=IN IP4 $ADDRESS\r\n", 5, "IPv4"),
    (HEAD + "c=IN IP6 192.0.2.1\r\n", 5, "IPv6"),
    (HEAD + "c=IN IP4 224.2.1.1/ttl\r\n", 5, "multicast"),
    (HEAD + "c=IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.2\r\n", 6, "second c="),
    (HEAD + "b=AS\r\n", 5, "b= needs"),
    (HEAD + "b=AS:fast\r\n", 5, "bandwidth"),
    (HEAD + "b=A S:1\r\n", 5, "bandwidth modifier"),
    (HEAD + "t=0\r\n", 5, "t= needs"),
    (HEAD + "t=0 now\r\n", 5, "time"),
    ("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nr=7d 1h 0 25h\r\nt=0 0\r\n", 4, "follow a t="),
    (HEAD + "a=rtpmap:zero PCMU/8000\r\n", 5, "payload type"),
    (HEAD + "a=bad name\r\n", 5, "not a token"),
    (HEAD + "a=sendrecv:yes\r\n", 5, "no value"),
    (HEAD + "m=audio\r\n", 5, "m= needs"),
    (HEAD + "m=audio 5004 RTP/AVP\r\n", 5, "m= needs"),
    (HEAD + "m=audio 70000 RTP/AVP 0\r\n", 5, "larger than 65535"),
    (HEAD + "m=audio five RTP/AVP 0\r\n", 5, "port"),
    (HEAD + "m=audio 5004/0 RTP/AVP 0\r\n", 5, "port count"),
    (HEAD + "m=audio 5004/x RTP/AVP 0\r\n", 5, "port count"),
    (HEAD + "m=audio 5004 RTP/AVP PCMU\r\n", 5, "RTP payload type"),
    (HEAD + "m=audio 5004 RTP/AVP 128\r\n", 5, "larger than 127"),
    (HEAD + "m=au(dio 5004 RTP/AVP 0\r\n", 5, "media type"),
    (HEAD + "m=audio 5004 RTP//AVP 0\r\n", 5, "transport"),
    (HEAD + "m=message 5004 TCP/MSRP (x)\r\n", 5, "format"),
    (HEAD + "m=audio 5004 RTP/AVP 0\r\no=- 1 1 IN IP4 192.0.2.1\r\n", 6, "inside a media description"),
    (HEAD + "m=audio 5004 RTP/AVP 0\r\nt=0 0\r\n", 6, "inside a media description"),
    (HEAD + "m=audio 5004 RTP/AVP 0\r\nv=0\r\n", 6, "inside a media description"),
    (HEAD + "m=audio 5004 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\nc=IN IP4 192.0.2.2\r\n", 7, "second c="),
    (HEAD + "m=audio 5004 RTP/AVP 0\r\ni=x\r\ni=y\r\n", 7, "second i="),
    (HEAD + "m=audio 5004 RTP/AVP 0\r\na=ptime:0\r\n", 6, "greater than zero"),
    (HEAD + "\r\nm=audio 5004 RTP/AVP 0\r\n", 5, "empty line"),
    (HEAD + "just words\r\n", 5, "not a '<type>=<value>' line"),
    (HEAD + "A=upper\r\n", 5, "not a '<type>=<value>' line"),
    (HEAD + "=x\r\n", 5, "not a '<type>=<value>' line"),
    (HEAD + "ab=c\r\n", 5, "not a '<type>=<value>' line"),
    (HEAD + "a=x\rb\r\n", 5, "CR or NUL"),
    (HEAD + "a=x\x00\r\n", 5, "CR or NUL"),
]


@pytest.mark.parametrize(
    ("text", "line", "reason"), MALFORMED, ids=[repr(case[0][-30:]) for case in MALFORMED]
)
def test_malformed_input_is_an_sdp_parse_error_with_the_line_number_and_the_reason(text, line, reason):
    for data in (text, text.encode()):
        with pytest.raises(SDPParseError, match=reason) as caught:
            FrozenSDPSession.parse(data)
        assert caught.value.line == line
        assert isinstance(caught.value, ValueError)
        if line is not None:
            assert str(caught.value).startswith(f"line {line}: ")


def test_bytes_that_are_not_utf_8_are_an_error_on_the_line_that_holds_them():
    with pytest.raises(SDPParseError, match="UTF-8") as caught:
        FrozenSDPSession.parse(CHAT.encode().replace(b"s=-", b"s=caf\xe9"))
    assert caught.value.line == 3


def test_every_prefix_of_a_valid_sdp_parses_or_raises_only_sdp_parse_error():
    data = AUDIO_CALL.encode()
    parsed = 0
    for end in range(len(data) + 1):
        try:
            FrozenSDPSession.parse(data[:end])
        except SDPParseError:
            continue
        parsed += 1
    # cut just after (or inside) a line end past t=, or inside the value of a line whose prefix is valid
    assert 0 < parsed < len(data)


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        (b"garbage", "not a '<type>=<value>' line"),
        (b"\x00\x01\x02", "not a '<type>=<value>' line"),
        (b"\xff\xfe", "UTF-8"),
        (b"s=again\r\n", "inside a media description"),
        (b"m=", "m= needs"),
        (b"\r\nx=y", "empty line"),
    ],
)
def test_garbage_after_a_valid_sdp_is_an_error_naming_the_first_garbage_line(garbage, reason):
    data = AUDIO_CALL.encode()
    with pytest.raises(SDPParseError, match=reason) as caught:
        FrozenSDPSession.parse(data + garbage)
    assert caught.value.line == AUDIO_CALL.count("\r\n") + 1


def test_the_parse_error_shows_the_offending_line_shortened_when_long():
    long_line = "a=rtpmap:" + "9" * 200
    with pytest.raises(SDPParseError) as caught:
        FrozenSDPSession.parse(HEAD + long_line + "\r\n")
    assert caught.value.text == long_line
    assert "..." in str(caught.value) and len(str(caught.value)) < 200
