"""The attribute table: every typed attribute reads and writes its value, and malformed ones are refused."""

from __future__ import annotations

import pytest

from sipsimple.core.sdp import (
    ATTRIBUTES,
    Candidate,
    Crypto,
    Direction,
    FormatParameters,
    FrozenSDPAttribute,
    RTCPAddress,
    RTPMap,
    SDPAttribute,
    SDPAttributeList,
    SDPParseError,
    attribute,
)

#: (line, typed value): each must parse to the value and format back to the line
TYPED = [
    ("a=rtpmap:0 PCMU/8000", RTPMap(0, "PCMU", 8000)),
    ("a=rtpmap:111 opus/48000/2", RTPMap(111, "opus", 48000, "2")),
    ("a=fmtp:101 0-15", FormatParameters("101", "0-15")),
    ("a=fmtp:111 minptime=10;useinbandfec=1", FormatParameters("111", "minptime=10;useinbandfec=1")),
    ("a=fmtp:96", FormatParameters("96", "")),
    ("a=ptime:20", 20),
    ("a=ptime:0.125", 0.125),
    ("a=maxptime:60", 60),
    ("a=sendrecv", Direction.SENDRECV),
    ("a=sendonly", Direction.SENDONLY),
    ("a=recvonly", Direction.RECVONLY),
    ("a=inactive", Direction.INACTIVE),
    ("a=rtcp:53020", RTCPAddress(53020)),
    ("a=rtcp:55329 IN IP4 192.0.2.20", RTCPAddress(55329, "IN", "IP4", "192.0.2.20")),
    (
        "a=rtcp:53020 IN IP6 2001:2345:6789:ABCD:EF01:2345:6789:ABCD",
        RTCPAddress(53020, "IN", "IP6", "2001:2345:6789:ABCD:EF01:2345:6789:ABCD"),
    ),
    ("a=rtcp-mux", True),
    (
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32",
        Crypto(1, "AES_CM_128_HMAC_SHA1_80", "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32"),
    ),
    (
        "a=crypto:2 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20|1:4;"
        "inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4 FEC_ORDER=FEC_SRTP",
        Crypto(
            2,
            "F8_128_HMAC_SHA1_80",
            "inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20|1:4;inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4",
            ("FEC_ORDER=FEC_SRTP",),
        ),
    ),
    (
        "a=candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ host",
        Candidate("1", 1, "UDP", 2130706431, "10.0.1.1", 8998, "host"),
    ),
    (
        "a=candidate:2 1 UDP 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998",
        Candidate("2", 1, "UDP", 1694498815, "192.0.2.3", 45664, "srflx", "10.0.1.1", 8998),
    ),
    (
        "a=candidate:S 2 UDP 30 192.0.2.20 55329 typ srflx raddr 192.168.1.6 rport 55329 generation 0",
        Candidate(
            "S", 2, "UDP", 30, "192.0.2.20", 55329, "srflx", "192.168.1.6", 55329, (("generation", "0"),)
        ),
    ),
    (
        "a=candidate:3 1 TCP 2128609279 10.0.1.1 9 typ host tcptype active",
        Candidate("3", 1, "TCP", 2128609279, "10.0.1.1", 9, "host", None, None, (("tcptype", "active"),)),
    ),
]


@pytest.mark.parametrize(("line", "value"), TYPED, ids=[line for line, _ in TYPED])
def test_each_typed_attribute_parses_to_its_value_and_formats_back_to_the_same_line(line, value):
    parsed = SDPAttribute.parse(line)
    assert parsed.parsed == value
    assert type(parsed.parsed) is type(value)
    assert str(attribute(parsed.name, value)) == line
    assert str(parsed) == line


def test_the_table_has_one_row_per_attribute_the_brief_names():
    assert set(ATTRIBUTES) == {
        "rtpmap",
        "fmtp",
        "ptime",
        "maxptime",
        "sendrecv",
        "sendonly",
        "recvonly",
        "inactive",
        "rtcp",
        "rtcp-mux",
        "crypto",
        "candidate",
    }
    assert all(row.name == name for name, row in ATTRIBUTES.items())


MALFORMED = [
    ("a=rtpmap:0", "rtpmap needs"),
    ("a=rtpmap:x PCMU/8000", "payload type"),
    ("a=rtpmap:128 PCMU/8000", "larger than 127"),
    ("a=rtpmap:0 PCMU", "encoding"),
    ("a=rtpmap:0 PCMU/fast", "clock rate"),
    ("a=rtpmap:0 PCMU/8000/1/2", "encoding"),
    ("a=rtpmap:0 PCMU/8000/(1)", "parameters"),
    ("a=fmtp:(x) 1", "fmtp format"),
    ("a=ptime:0", "greater than zero"),
    ("a=ptime:twenty", "packet time"),
    ("a=maxptime:-5", "packet time"),
    ("a=sendrecv:yes", "takes no value"),
    ("a=rtcp-mux:1", "takes no value"),
    ("a=rtcp:", "rtcp needs"),
    ("a=rtcp:x", "rtcp port"),
    ("a=rtcp:70000", "larger than 65535"),
    ("a=rtcp:5 IN IP4", "rtcp needs"),
    ("a=rtcp:5 IN IP4 300.1.1.1", "IPv4"),
    ("a=rtcp:5 I(N IP4 192.0.2.1", "net type"),
    ("a=crypto:1 AES_CM_128_HMAC_SHA1_80", "crypto needs"),
    ("a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:abc", "tag"),
    ("a=crypto:1234567890 AES inline:abc", "tag"),
    ("a=crypto:1 AES-CM inline:abc", "suite"),
    ("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline", "key parameter"),
    ("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:", "key parameter"),
    ("a=candidate:1 1 UDP 1 10.0.1.1 8998 host", "candidate needs"),
    ("a=candidate:1 1 UDP 1 10.0.1.1 8998 type host", "candidate needs"),
    ("a=candidate:f-1 1 UDP 1 10.0.1.1 8998 typ host", "foundation"),
    ("a=candidate:1 1 U(DP 1 10.0.1.1 8998 typ host", "transport"),
    ("a=candidate:1 257 UDP 1 10.0.1.1 8998 typ host", "component"),
    ("a=candidate:1 1 UDP 4294967295 10.0.1.1 8998 typ host", "priority"),
    ("a=candidate:1 1 UDP 1 10.0.1.1 99999 typ host", "port"),
    ("a=candidate:1 1 UDP 1 10.0.1.1 8998 typ host raddr", "pairs"),
    ("a=candidate:1 1 UDP 1 10.0.1.1 8998 typ srflx raddr 10.0.0.1 generation 0", "rport"),
    ("a=candidate:1 1 UDP 1 10.0.1.1 8998 typ srflx raddr 10.0.0.1 rport x", "rport"),
    ("a=candidate:1 1 UDP 1 10.0.1.1 8998 typ host (x) 1", "extension name"),
    ("a=bad name:1", "not a token"),
    ("a=:value", "not a token"),
]


@pytest.mark.parametrize(("line", "reason"), MALFORMED, ids=[line for line, _ in MALFORMED])
def test_malformed_known_attributes_are_an_sdp_parse_error_saying_what_is_wrong(line, reason):
    with pytest.raises(SDPParseError, match=reason) as caught:
        SDPAttribute.parse(line)
    assert caught.value.text == line


def test_unknown_attributes_keep_their_text_and_parse_without_the_a_prefix():
    unknown = FrozenSDPAttribute.parse("ice-options:ice2 rtp+ecn")
    assert (unknown.name, unknown.value, unknown.parsed) == ("ice-options", "ice2 rtp+ecn", "ice2 rtp+ecn")
    assert type(unknown) is FrozenSDPAttribute
    assert SDPAttribute.parse("a=ice-lite").value == ""


def test_attribute_builder_checks_the_type_of_typed_values():
    assert str(attribute("sendonly")) == "a=sendonly"
    assert str(attribute("rtcp-mux", True)) == "a=rtcp-mux"
    assert str(attribute("x-custom", "anything")) == "a=x-custom:anything"
    assert str(attribute("ptime", 20.0)) == "a=ptime:20"
    with pytest.raises(TypeError):
        attribute("rtpmap", "0 PCMU/8000")
    with pytest.raises(TypeError):
        attribute("crypto", 1)


def test_fmtp_parameters_read_as_a_dict_when_they_are_key_value_pairs():
    assert FormatParameters("111", "minptime=10; useinbandfec=1").as_dict() == {
        "minptime": "10",
        "useinbandfec": "1",
    }
    assert FormatParameters("101", "0-15").as_dict() == {"0-15": None}
    assert FormatParameters("96", "").as_dict() == {}


def test_rtpmap_channels_default_to_one():
    assert RTPMap(0, "PCMU", 8000).channels == 1
    assert RTPMap(111, "opus", 48000, "2").channels == 2
    assert RTPMap(96, "x", 8000, "mode").channels == 1


def test_typed_look_ups_over_a_list_give_the_values_of_every_attribute_of_that_name():
    attributes = SDPAttributeList(
        [SDPAttribute.parse("a=rtpmap:0 PCMU/8000"), SDPAttribute.parse("a=rtpmap:8 PCMA/8000")]
    )
    assert attributes.parsed("rtpmap") == [RTPMap(0, "PCMU", 8000), RTPMap(8, "PCMA", 8000)]
    assert attributes.parsed("ptime") == []
    attributes += [SDPAttribute("ptime", "30")]
    assert attributes.parsed("ptime") == [30]
    with pytest.raises(TypeError):
        attributes += ["a=ptime:40"]
