"""RFC 4733 telephone-events (csrc/dtmf.c through DTMFSender and DTMFReceiver).

What they prove:
  * one digit becomes the packet train RFC 4733 §2.5 describes: marker on the first packet, the
    start timestamp on all, the duration growing by one frame per packet, then the end bit on three
    packets with the final duration; digits are separated by a pause of audio;
  * "0123456789*#ABCD" sent through an RTP session (RTPSender -> bytes -> RTPPacket.parse ->
    DTMFReceiver) arrives in order, each digit once with its duration, with no loss, with one or
    two of the three end packets lost, with all three lost (reported at the next digit or after a
    timeout, marked as not ended), and under seeded random loss;
  * retransmitted end packets and stale packets are ignored; bad input raises RTPError.
"""

from __future__ import annotations

import random

import pytest

from sipsimple.core.media._rtp import DTMFReceiver, DTMFSender, RTPError, RTPPacket, RTPSender

MS = 1_000_000
DIGITS = "0123456789*#ABCD"
TE = 101  # telephone-event payload type


def decode(payload: bytes):
    return payload[0], bool(payload[1] & 0x80), payload[1] & 0x3F, int.from_bytes(payload[2:4], "big")


def test_one_digit_is_a_train_of_updates_then_three_end_packets():
    s = DTMFSender(8000, pause_ms=50)
    s.send("5", duration_ms=100, volume=12)
    packets = []
    for frame in range(12):
        p = s.tick(10_000 + 160 * frame, 160)
        packets.append(p)
    train = packets[:7]
    assert all(p is not None for p in train)
    assert [p.marker for p in train] == [True] + [False] * 6
    assert {p.timestamp for p in train} == {10_000}
    fields = [decode(p.payload) for p in train]
    assert [f[3] for f in fields] == [160, 320, 480, 640, 800, 800, 800]
    assert [f[1] for f in fields] == [False] * 4 + [True] * 3
    assert {(f[0], f[2]) for f in fields} == {(5, 12)}
    assert [p.end for p in train] == [False] * 4 + [True] * 3
    assert packets[7:] == [None] * 5  # nothing queued: audio again
    assert not s.busy
    assert (s.packets, s.events) == (7, 1)


def test_digits_are_separated_by_a_pause_of_audio():
    s = DTMFSender(8000, pause_ms=50)
    s.send("12", duration_ms=40)
    pattern = "".join("." if s.tick(160 * k, 160) is None else "E" for k in range(16))
    # 1 update (20 ms) + 3 ends (40 ms reached), 3 audio frames (50 ms rounded up), the next digit
    assert pattern == "EEEE...EEEE....."


def transmit(digits, lose=lambda k, packet: False, duration_ms=100, clock_rate=8000, tail_frames=40):
    """Send digits through an RTP session; return what the receiver reported and the receiver."""
    frame = clock_rate // 50
    sender = DTMFSender(clock_rate, pause_ms=60)
    sender.send(digits, duration_ms=duration_ms)
    rtp = RTPSender(0, clock_rate, ssrc=0x5EED, sequence=65500, timestamp=2**32 - 20 * frame)
    receiver = DTMFReceiver(clock_rate, timeout_ms=300)
    events, k, now = [], 0, 0
    while sender.busy or tail_frames > 0:
        if not sender.busy:
            tail_frames -= 1
        now += 20 * MS
        pkt = sender.tick(rtp.timestamp, frame)
        if pkt is None:
            data = rtp.packet(b"\xff" * frame, frame, now)
        else:
            data = rtp.event_packet(pkt.payload, TE, pkt.marker, pkt.timestamp, now)
            rtp.skip(frame, talkspurt=pkt.end)
        k += 1
        parsed = RTPPacket.parse(data)
        if parsed.payload_type == TE and not lose(k, decode(parsed.payload)):
            events += receiver.put(parsed.payload, parsed.timestamp, now)
        events += receiver.tick(now)
    return events, receiver


def test_all_sixteen_digits_arrive_in_order_once_each_with_their_duration():
    events, receiver = transmit(DIGITS)
    assert "".join(e.digit for e in events) == DIGITS
    assert [e.event for e in events] == list(range(16))
    assert {e.duration for e in events} == {800}
    assert {e.duration_ms for e in events} == {100.0}
    assert all(e.ended for e in events)
    assert receiver.ignored == 2 * 16  # the two retransmissions of each end packet
    timestamps = [e.timestamp for e in events]
    assert len(set(timestamps)) == 16


@pytest.mark.parametrize("keep", [0, 1, 2])
def test_losing_some_end_packets_still_reports_each_digit_once_as_ended(keep):
    seen_ends: dict[int, int] = {}

    def lose(k, fields):
        event, end, _, _ = fields
        if not end:
            return False
        seen_ends[event] = seen_ends.get(event, 0) + 1
        return seen_ends[event] - 1 != keep  # keep only the keep-th of the three

    events, _ = transmit(DIGITS, lose)
    assert "".join(e.digit for e in events) == DIGITS
    assert all(e.ended for e in events)
    assert {e.duration for e in events} == {800}


def test_losing_every_end_packet_reports_at_the_next_digit_or_after_the_timeout():
    events, _ = transmit(DIGITS, lambda k, fields: fields[1])
    assert "".join(e.digit for e in events) == DIGITS
    assert not any(e.ended for e in events)
    assert {e.duration for e in events} == {640}  # the last update that arrived


@pytest.mark.parametrize("seed", range(10))
def test_random_loss_never_duplicates_or_reorders_digits(seed):
    rng = random.Random(seed)
    events, _ = transmit(DIGITS, lambda k, fields: rng.random() < 0.25)
    reported = "".join(e.digit for e in events)
    # a digit can only vanish when every one of its packets is lost (here 7 at 25 %: 0.006 %)
    assert reported == DIGITS
    assert all(e.duration <= 800 for e in events)
    assert sum(e.ended for e in events) >= 14


def test_at_48_khz_the_duration_is_in_48_khz_units():
    events, _ = transmit("#", clock_rate=48000, duration_ms=200)
    assert [(e.digit, e.duration, e.duration_ms) for e in events] == [("#", 9600, 200.0)]


def test_a_late_packet_of_an_earlier_digit_is_ignored():
    r = DTMFReceiver(8000)
    assert r.put(bytes([1, 0x8A, 0x03, 0x20]), 1000, 0)[0].digit == "1"
    assert [e.digit for e in r.put(bytes([2, 0x0A, 0x00, 0xA0]), 3000, 1)] == []
    assert r.put(bytes([1, 0x0A, 0x01, 0x40]), 1000, 2) == []  # stale update of "1"
    assert r.put(bytes([9, 0x0A, 0x00, 0xA0]), 500, 3) == []  # older than anything reported
    assert [e.digit for e in r.put(bytes([2, 0x8A, 0x03, 0x20]), 3000, 4)] == ["2"]
    assert r.ignored == 2


def test_a_new_event_at_the_same_timestamp_with_another_code_is_a_new_digit():
    r = DTMFReceiver(8000)
    assert [e.digit for e in r.put(bytes([3, 0x8A, 0x01, 0x40]), 7000, 0)] == ["3"]
    assert [e.digit for e in r.put(bytes([4, 0x8A, 0x01, 0x40]), 7000, 1)] == ["4"]


def test_events_beyond_the_digits_have_no_character():
    r = DTMFReceiver(8000)
    events = r.put(bytes([16, 0x80, 0x00, 0xA0]), 0, 0)  # flash
    assert [(e.digit, e.event) for e in events] == [(None, 16)]


def test_bad_input_raises_rtperror():
    r = DTMFReceiver(8000)
    with pytest.raises(RTPError):
        r.put(b"\x01\x02\x03", 0, 0)
    assert r.malformed == 1
    s = DTMFSender(8000)
    with pytest.raises(RTPError):
        s.send("12x")
    with pytest.raises(RTPError):
        s.send("1", volume=64)
    with pytest.raises(RTPError):
        s.send_event(256)
    with pytest.raises(RTPError):
        s.send("1" * 65)
    assert s.queued == 0  # nothing of a refused string was queued


def test_clear_drops_the_queue_but_ends_the_current_digit_properly():
    s = DTMFSender(8000)
    s.send("123")
    first = s.tick(0, 160)
    assert first is not None and first.marker
    s.clear()
    rest = []
    while s.busy:
        rest.append(s.tick(0, 160))
    ends = [p for p in rest if p is not None and p.end]
    assert len(ends) == 3
    assert {decode(p.payload)[0] for p in ends} == {1}
