"""RTCP compound packets, NTP time and round-trip time (sipsimple.core.media._rtp over csrc/rtcp.c).

What they prove:
  * SR, RR, SDES (CNAME) and BYE packets laid out by hand from RFC 3550 §6.4-6.6 parse to their
    fields, including a negative 24-bit cumulative loss and several chunks in one SDES;
  * APP, XR, feedback and unknown packet types inside a compound are skipped and counted, other
    SDES items are ignored;
  * compound packets round-trip (SR/RR + SDES + BYE, more than 31 report blocks);
  * malformed compounds are refused with the C status: bad version, lengths past the end, padding
    on a packet that is not the last, counts that do not fit, unterminated SDES chunks;
  * NTP conversion and the RFC 3550 §6.4.1 round-trip example.
"""

from __future__ import annotations

import struct

import pytest

from sipsimple.core.media import _rtp
from sipsimple.core.media._rtp import ReportBlock, RTCPPacket, RTPError, SenderInfo

RTCP_E_SHORT, RTCP_E_VERSION, RTCP_E_PADDING, RTCP_E_FORMAT, RTCP_E_SPACE, RTCP_E_ARGUMENT = range(-1, -7, -1)


def header(count: int, ptype: int, body: bytes, padding: bool = False) -> bytes:
    assert len(body) % 4 == 0
    return struct.pack("!BBH", 0x80 | (0x20 if padding else 0) | count, ptype, len(body) // 4) + body


def block(ssrc=0x11111111, fraction=0, lost=0, highest=0, jitter=0, lsr=0, dlsr=0) -> bytes:
    return (
        struct.pack("!IB", ssrc, fraction)
        + (lost & 0xFFFFFF).to_bytes(3, "big")
        + struct.pack("!IIII", highest, jitter, lsr, dlsr)
    )


def sr(ssrc, ntp, rtp_ts, packets, octets, blocks=()) -> bytes:
    body = struct.pack("!IQIII", ssrc, ntp, rtp_ts, packets, octets) + b"".join(blocks)
    return header(len(blocks), 200, body)


def rr(ssrc, blocks=()) -> bytes:
    return header(len(blocks), 201, struct.pack("!I", ssrc) + b"".join(blocks))


def sdes(*chunks) -> bytes:
    body = b""
    for ssrc, items in chunks:
        chunk = struct.pack("!I", ssrc) + b"".join(bytes([t, len(v)]) + v for t, v in items) + b"\x00"
        chunk += bytes(-len(chunk) % 4)
        body += chunk
    return header(len(chunks), 202, body)


def bye(ssrcs, reason=b"") -> bytes:
    body = b"".join(struct.pack("!I", s) for s in ssrcs)
    if reason:
        text = bytes([len(reason)]) + reason
        body += text + bytes(-len(text) % 4)
    return header(len(ssrcs), 203, body)


def test_a_sender_report_with_blocks_parses_to_its_fields():
    data = sr(
        0xAABBCCDD,
        0x83AA7E80_80000000,
        123456,
        50,
        8000,
        [block(0x01020304, 64, -3, 0x0001_0005, 17, 0x7E808000, 98304)],
    ) + sdes((0xAABBCCDD, [(1, b"alice@example.test")]))
    p = RTCPPacket.parse(data)
    assert p.sender_info == SenderInfo(0xAABBCCDD, 0x83AA7E80_80000000, 123456, 50, 8000)
    assert p.reporter_ssrc == 0xAABBCCDD
    assert p.report_blocks == [ReportBlock(0x01020304, 64, -3, 0x0001_0005, 17, 0x7E808000, 98304)]
    assert p.cnames == {0xAABBCCDD: "alice@example.test"}
    assert p.bye is None
    assert (p.packets, p.skipped) == (2, 0)
    assert p.serialize() == data


def test_a_receiver_report_and_a_bye_with_reason():
    data = (
        rr(0x55, [block(7, lost=0x7FFFFF), block(8, lost=-0x800000)])
        + sdes((0x55, [(1, b"b")]))
        + bye([0x55, 0x66], b"call ended")
    )
    p = RTCPPacket.parse(data)
    assert p.sender_info is None
    assert p.reporter_ssrc == 0x55
    assert [b.cumulative_lost for b in p.report_blocks] == [0x7FFFFF, -0x800000]
    assert p.bye == (0x55, 0x66)
    assert p.bye_reason == "call ended"
    assert p.serialize() == data


def test_other_packet_types_and_sdes_items_are_skipped():
    app = header(1, 204, struct.pack("!I", 9) + b"NAME" + b"data")
    xr = header(0, 207, struct.pack("!I", 9) + bytes(8))
    fb = header(1, 205, struct.pack("!II", 9, 10))
    unknown = header(0, 199, bytes(4))
    items = [(2, b"Alice"), (1, b"a@h"), (6, b"tool/1.0"), (8, b"\x05priv!")]
    data = rr(9) + app + sdes((9, items), (10, [(1, b"other")])) + xr + fb + unknown + bye([9])
    p = RTCPPacket.parse(data)
    assert p.skipped == 4
    assert p.packets == 7
    assert p.cnames == {9: "a@h", 10: "other"}
    assert p.bye == (9,)


def test_padding_on_the_last_packet_is_accepted():
    last = header(1, 203, struct.pack("!I", 9) + b"\x00\x00\x00\x04", padding=True)
    p = RTCPPacket.parse(rr(9) + last)
    assert p.bye == (9,)


def test_more_than_31_blocks_continue_in_further_receiver_reports():
    blocks = [ReportBlock(ssrc=i, highest_sequence=i * 10) for i in range(70)]
    p = RTCPPacket(sender_info=SenderInfo(1, 2, 3, 4, 5), report_blocks=blocks, cnames={1: "x"})
    data = p.serialize()
    assert data[1] == 200 and data[0] & 0x1F == 31
    parsed = RTCPPacket.parse(data)
    assert parsed.packets == 4  # SR(31) + RR(31) + RR(8) + SDES
    assert parsed == p
    assert parsed.dropped_blocks == 0


def test_blocks_beyond_96_are_counted_not_kept():
    blocks = [ReportBlock(ssrc=i) for i in range(100)]
    parsed = RTCPPacket.parse(RTCPPacket(reporter_ssrc=1, report_blocks=blocks).serialize())
    assert parsed.report_blocks == blocks[:96]
    assert parsed.dropped_blocks == 4


def test_a_report_needs_a_reporter():
    with pytest.raises(RTPError) as info:
        RTCPPacket(report_blocks=[ReportBlock()]).serialize()
    assert info.value.status == RTCP_E_ARGUMENT


def test_text_that_is_not_utf8_round_trips():
    data = rr(1) + sdes((1, [(1, b"\xff\xfe cname")]))
    p = RTCPPacket.parse(data)
    assert p.serialize() == data


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"", RTCP_E_SHORT),
        (b"\x80\xc9\x00", RTCP_E_SHORT),
        (rr(1)[:-1], RTCP_E_SHORT),
        (rr(1) + b"\x80", RTCP_E_SHORT),  # trailing bytes that are not a packet
        (b"\x40" + rr(1)[1:], RTCP_E_VERSION),
        (rr(1) + b"\xc0" + bye([1])[1:], RTCP_E_VERSION),
        (header(1, 203, struct.pack("!I", 9) + b"\x00\x00\x00\x04", padding=True) + rr(1), RTCP_E_PADDING),
        (header(1, 203, struct.pack("!I", 9) + b"\x00\x00\x00\x00", padding=True), RTCP_E_PADDING),
        (header(1, 203, struct.pack("!I", 9) + b"\x00\x00\x00\x09", padding=True), RTCP_E_PADDING),
        (b"\x82" + rr(1, [block()])[1:], RTCP_E_FORMAT),  # count 2, one block
        (header(0, 200, bytes(20)), RTCP_E_FORMAT),  # SR too short for its sender info
        (header(0, 201, b""), RTCP_E_FORMAT),  # RR without SSRC
        (header(1, 202, struct.pack("!I", 1) + b"\x01\x06abcdef"), RTCP_E_FORMAT),  # no END item
        (header(1, 202, struct.pack("!I", 1) + b"\x01\x09abcdef"), RTCP_E_FORMAT),  # item past the end
        (header(2, 203, struct.pack("!I", 1)), RTCP_E_FORMAT),  # BYE count too large
        (header(1, 203, struct.pack("!I", 1) + b"\x09abc"), RTCP_E_FORMAT),  # reason past the end
    ],
)
def test_malformed_compounds_are_refused_with_the_reason(data, status):
    with pytest.raises(RTPError) as info:
        RTCPPacket.parse(data)
    assert info.value.status == status


def test_ntp_time_of_unix_times():
    assert _rtp.ntp_from_unix_ns(0) == 2208988800 << 32
    assert _rtp.ntp_from_unix_ns(1_500_000_000) == ((2208988800 + 1) << 32) | 0x80000000
    assert _rtp.ntp_middle(0x0001_0002_0003_0004) == 0x0002_0003


def test_round_trip_time_as_in_the_rfc_3550_example():
    # RFC 3550 §6.4.1, figure 2: A = 46864.500 s, LSR = 46853.125 s, DLSR = 5.250 s -> 6.125 s.
    rtt = _rtp.round_trip_time_ns(0xB7108000, 0xB7052000, 0x00054000)
    assert rtt == 6_125_000_000
    assert _rtp.round_trip_time_ns(0xB7108000, 0, 0) is None  # no SR received yet
    assert _rtp.round_trip_time_ns(0x1000, 0x1000, 0x10) == 0  # rounding below zero clamps
