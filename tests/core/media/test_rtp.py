"""RTP packets and the sending side (sipsimple.core.media._rtp over csrc/rtp.c).

What they prove:
  * a packet built by hand from RFC 3550 §5.1's layout parses to its fields, and every packet
    (CSRCs, header extension, padding, marker) round-trips: serialize(parse(x)) == x;
  * each malformed header is refused with RTPError and the C status that says why;
  * the sender starts from random SSRC/sequence/timestamp, advances the timestamp by the samples
    sent or skipped, wraps the sequence at 65535, sets the marker on talk-spurt starts only,
    keeps an event's timestamp for telephone-events, and counts what the SR needs;
  * rtcp-mux demultiplexing (RFC 5761 §4), the capsules (object and C table) for other extensions.
"""

from __future__ import annotations

import ctypes
import gc
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsimple.core import SIPCoreError
from sipsimple.core.media import _rtp
from sipsimple.core.media._rtp import RTPError, RTPPacket, RTPSender

# C status codes (csrc/rtp.h)
RTP_E_SHORT, RTP_E_VERSION, RTP_E_CSRC, RTP_E_EXTENSION, RTP_E_PADDING, RTP_E_SPACE, RTP_E_ARGUMENT = range(
    -1, -8, -1
)


def handmade(pt=0, seq=1, ts=2, ssrc=3, marker=0, csrcs=(), ext=None, payload=b"", pad=0) -> bytes:
    """An RTP packet laid out field by field as in RFC 3550 §5.1, independently of the C code."""
    first = 0x80 | (0x20 if pad else 0) | (0x10 if ext is not None else 0) | len(csrcs)
    data = struct.pack("!BBHII", first, (marker << 7) | pt, seq, ts, ssrc)
    data += b"".join(struct.pack("!I", c) for c in csrcs)
    if ext is not None:
        profile, words = ext
        data += struct.pack("!HH", profile, len(words) // 4) + words
    data += payload
    if pad:
        data += bytes(pad - 1) + bytes([pad])
    return data


def test_a_handmade_packet_parses_to_its_fields():
    data = handmade(
        pt=8, seq=0xBEEF, ts=0xDEADBEEF, ssrc=0x01020304, marker=1, csrcs=(7, 9), payload=b"\x55" * 160
    )
    p = RTPPacket.parse(data)
    assert (p.payload_type, p.sequence, p.timestamp, p.ssrc, p.marker) == (
        8,
        0xBEEF,
        0xDEADBEEF,
        0x01020304,
        True,
    )
    assert p.csrcs == (7, 9)
    assert p.extension is None
    assert p.payload == b"\x55" * 160
    assert p.padding == 0


def test_the_header_extension_is_skipped_and_kept_whole():
    data = handmade(ext=(0xBEDE, b"\x10\xaa\x00\x00\x21\xbb\xcc\x00"), payload=b"audio")
    p = RTPPacket.parse(data)
    assert p.extension == (0xBEDE, b"\x10\xaa\x00\x00\x21\xbb\xcc\x00")
    assert p.payload == b"audio"
    assert p.serialize() == data


def test_padding_is_removed_from_the_payload_and_counted():
    data = handmade(payload=b"abc", pad=5)
    p = RTPPacket.parse(data)
    assert p.payload == b"abc"
    assert p.padding == 5
    assert p.serialize() == data


@pytest.mark.parametrize(
    "packet",
    [
        handmade(),
        handmade(pt=127, seq=65535, ts=0xFFFFFFFF, ssrc=0xFFFFFFFF, marker=1, payload=b"x" * 1200),
        handmade(csrcs=tuple(range(1, 16)), payload=b"y"),
        handmade(ext=(1, b""), payload=b"z"),
        handmade(csrcs=(5,), ext=(0x1000, b"\x01\x02\x03\x04" * 3), payload=b"w" * 20, pad=4),
        handmade(pad=1),
    ],
)
def test_packets_round_trip_byte_for_byte(packet):
    assert RTPPacket.parse(packet).serialize() == packet


@given(
    pt=st.integers(0, 127),
    seq=st.integers(0, 65535),
    ts=st.integers(0, 2**32 - 1),
    ssrc=st.integers(0, 2**32 - 1),
    marker=st.booleans(),
    csrcs=st.lists(st.integers(0, 2**32 - 1), max_size=15),
    ext=st.none()
    | st.tuples(st.integers(0, 65535), st.binary(max_size=40).map(lambda b: b[: len(b) // 4 * 4])),
    payload=st.binary(max_size=300),
    padding=st.integers(0, 255),
)
@settings(max_examples=300, deadline=None)
def test_any_valid_packet_survives_serialize_then_parse(
    pt, seq, ts, ssrc, marker, csrcs, ext, payload, padding
):
    p = RTPPacket(pt, seq, ts, ssrc, payload, marker=marker, csrcs=csrcs, extension=ext, padding=padding)
    data = p.serialize()
    assert data == handmade(pt, seq, ts, ssrc, int(marker), tuple(csrcs), ext, payload, padding)
    assert RTPPacket.parse(data) == p


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"", RTP_E_SHORT),
        (handmade()[:11], RTP_E_SHORT),
        (b"\x40" + handmade()[1:], RTP_E_VERSION),  # version 1
        (b"\x00" + handmade()[1:], RTP_E_VERSION),  # version 0
        (b"\x83" + handmade()[1:] + b"\x00" * 8, RTP_E_CSRC),  # CC=3, 2 CSRCs present
        (b"\x90" + handmade()[1:] + b"\xbe\xde", RTP_E_EXTENSION),  # extension header cut
        (b"\x90" + handmade()[1:] + b"\xbe\xde\x00\x02" + b"\x00" * 4, RTP_E_EXTENSION),  # data cut
        (b"\xa0" + handmade()[1:], RTP_E_PADDING),  # P set, nothing after the header
        (b"\xa0" + handmade()[1:] + b"ab\x00", RTP_E_PADDING),  # count 0
        (b"\xa0" + handmade()[1:] + b"ab\x04", RTP_E_PADDING),  # count beyond the payload
    ],
)
def test_malformed_headers_are_refused_with_the_reason(data, status):
    with pytest.raises(RTPError) as info:
        RTPPacket.parse(data)
    assert info.value.status == status
    assert info.value.reason
    assert isinstance(info.value, SIPCoreError)


@pytest.mark.parametrize(
    "packet",
    [
        RTPPacket(payload_type=128),
        RTPPacket(payload_type=-1),
        RTPPacket(csrcs=tuple(range(16))),
        RTPPacket(extension=(1, b"abc")),
        RTPPacket(extension=(70000, b"")),
        RTPPacket(padding=256),
    ],
)
def test_fields_out_of_range_are_refused_on_serialize(packet):
    with pytest.raises(RTPError) as info:
        packet.serialize()
    assert info.value.status == RTP_E_ARGUMENT


def test_parse_accepts_any_bytes_like_object():
    data = handmade(payload=b"pcm")
    assert RTPPacket.parse(bytearray(data)) == RTPPacket.parse(memoryview(data)) == RTPPacket.parse(data)
    with pytest.raises(TypeError):
        RTPPacket.parse("not bytes")


# ---- sender ----


def test_two_senders_start_from_different_random_values():
    a, b = RTPSender(0, 8000), RTPSender(0, 8000)
    assert (a.ssrc, a.sequence, a.timestamp) != (b.ssrc, b.sequence, b.timestamp)


def test_the_sender_advances_sequence_by_one_and_timestamp_by_the_samples():
    s = RTPSender(0, 8000, ssrc=0x1234, sequence=100, timestamp=5000)
    packets = [RTPPacket.parse(s.packet(b"\xff" * 160, 160)) for _ in range(3)]
    assert [p.sequence for p in packets] == [100, 101, 102]
    assert [p.timestamp for p in packets] == [5000, 5160, 5320]
    assert {p.ssrc for p in packets} == {0x1234}
    assert {p.payload_type for p in packets} == {0}
    assert (s.sequence, s.timestamp, s.packets_sent, s.octets_sent) == (103, 5480, 3, 480)


def test_sequence_and_timestamp_wrap():
    s = RTPSender(96, 48000, ssrc=1, sequence=65534, timestamp=2**32 - 960)
    packets = [RTPPacket.parse(s.packet(b"o", 960)) for _ in range(3)]
    assert [p.sequence for p in packets] == [65534, 65535, 0]
    assert [p.timestamp for p in packets] == [2**32 - 960, 0, 960]


def test_marker_only_on_the_first_packet_and_after_silence():
    s = RTPSender(0, 8000, ssrc=1, sequence=0, timestamp=0)
    markers = [RTPPacket.parse(s.packet(b"a", 160)).marker for _ in range(3)]
    s.skip(1600)  # 200 ms of DTX: a new talk spurt follows
    after = RTPPacket.parse(s.packet(b"a", 160))
    s.skip(160, talkspurt=False)
    quiet = RTPPacket.parse(s.packet(b"a", 160))
    assert markers == [True, False, False]
    assert after.marker
    assert after.timestamp == 480 + 1600
    assert not quiet.marker
    assert quiet.timestamp == after.timestamp + 160 + 160


def test_event_packets_keep_their_timestamp_and_use_the_sequence():
    s = RTPSender(0, 8000, ssrc=1, sequence=10, timestamp=800)
    s.packet(b"a", 160)
    first = RTPPacket.parse(s.event_packet(b"\x01\x0a\x00\xa0", 101, True, 960))
    s.skip(160, talkspurt=False)
    second = RTPPacket.parse(s.event_packet(b"\x01\x0a\x01\x40", 101, False, 960))
    assert (first.payload_type, first.marker, first.timestamp, first.sequence) == (101, True, 960, 11)
    assert (second.marker, second.timestamp, second.sequence) == (False, 960, 12)
    assert s.timestamp == 800 + 160 + 160  # media time moved only by what was sent or skipped


def test_a_payload_type_override_is_used_for_one_packet():
    s = RTPSender(0, 8000, ssrc=1, sequence=0, timestamp=0)
    assert RTPPacket.parse(s.packet(b"cn", 160, payload_type=13)).payload_type == 13
    assert RTPPacket.parse(s.packet(b"a", 160)).payload_type == 0


def test_the_sr_timestamp_is_extrapolated_from_the_last_media_packet():
    s = RTPSender(0, 8000, ssrc=1, sequence=0, timestamp=1000)
    assert s.timestamp_at(5_000_000_000) == 1000  # nothing sent yet: the next timestamp
    s.packet(b"a", 160, now_ns=1_000_000_000)
    assert s.timestamp_at(1_000_000_000) == 1000
    assert s.timestamp_at(1_250_000_000) == 1000 + 2000  # 250 ms at 8 kHz


def test_bad_sender_arguments_are_refused():
    with pytest.raises(RTPError):
        RTPSender(128, 8000)
    with pytest.raises(RTPError):
        RTPSender(0, 0)
    s = RTPSender(0, 8000)
    with pytest.raises(RTPError):
        s.event_packet(b"", 200, False, 0)


# ---- rtcp-mux and capsules ----


def test_rtcp_is_told_apart_from_rtp_on_a_muxed_port():
    assert _rtp.is_rtcp(b"\x80\xc8\x00\x06" + bytes(24))  # SR
    assert _rtp.is_rtcp(b"\x81\xc9\x00\x07" + bytes(28))  # RR
    assert not _rtp.is_rtcp(handmade(pt=0))
    assert not _rtp.is_rtcp(handmade(pt=127, marker=1))  # second byte 255
    assert not _rtp.is_rtcp(handmade(pt=96, marker=1))  # 224: above the RTCP range
    assert not _rtp.is_rtcp(b"\x80")


def capsule_pointer(capsule, name: bytes) -> int:
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return get(capsule, name)


def test_the_c_function_table_is_exported_with_its_version():
    assert _rtp.API_CAPSULE_NAME == "sipsimple.core.media._rtp._C_API"
    address = capsule_pointer(_rtp._C_API, _rtp.API_CAPSULE_NAME.encode())
    assert ctypes.c_uint.from_address(address).value == 1  # MEDIA_RTP_API_VERSION


def test_an_object_capsule_holds_the_c_struct_and_keeps_its_owner_alive():
    s = RTPSender(0, 8000, ssrc=0xCAFEBABE, sequence=7, timestamp=9)
    capsule = s.capsule()
    address = capsule_pointer(capsule, b"sipsimple.core.media.rtp_sender_t")
    del s
    gc.collect()
    assert ctypes.c_uint32.from_address(address).value == 0xCAFEBABE  # first field: ssrc
    assert ctypes.c_uint16.from_address(address + 4).value == 7  # then the sequence
