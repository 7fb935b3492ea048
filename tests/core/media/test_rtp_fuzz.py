"""Fuzzing the RTP/RTCP parsers, the jitter buffer and the DTMF receiver with seeded random input.

Inputs are random bytes and mutations of valid packets (bytes flipped, inserted, deleted,
duplicated, truncated, header bits and counts rewritten, trailing garbage). The only failure
allowed is the library's own RTPError; what parses must serialise and parse back to the same
packet. The jitter buffer gets random sequence numbers, timestamps, SSRCs and (non-monotonic)
times and must only ever hand out packets it was given, unchanged. The seed changes daily and is
in every failure message, so a run is reproducible.
"""

from __future__ import annotations

import datetime
import random
import struct

from sipsimple.core.media._rtp import (
    FRAME,
    DTMFReceiver,
    JitterBuffer,
    ReportBlock,
    RTCPPacket,
    RTPError,
    RTPPacket,
    SenderInfo,
)

SEED = int(datetime.date.today().strftime("%Y%m%d"))
INPUTS = 40_000


def rtp_seeds() -> list[bytes]:
    return [
        RTPPacket(0, 1, 2, 3, b"\xff" * 160, marker=True).serialize(),
        RTPPacket(96, 65535, 2**32 - 1, 7, b"opus", csrcs=(1, 2, 3)).serialize(),
        RTPPacket(
            101, 9, 9, 9, b"\x01\x0a\x00\xa0", extension=(0xBEDE, b"\x10\x01\x00\x00"), padding=4
        ).serialize(),
    ]


def rtcp_seeds() -> list[bytes]:
    return [
        RTCPPacket(
            sender_info=SenderInfo(1, 0x83AA7E80_00000000, 160, 10, 1600),
            report_blocks=[ReportBlock(2, 12, -5, 70000, 33, 0x7E800000, 6000)],
            cnames={1: "a@b"},
        ).serialize(),
        RTCPPacket(
            reporter_ssrc=5, report_blocks=[ReportBlock(ssrc=i) for i in range(3)], bye=(5,), bye_reason="bye"
        ).serialize(),
        struct.pack("!BBHI", 0x81, 204, 2, 9) + b"NAME",  # APP alone
    ]


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        pos = rng.randrange(len(b) + 1) if b else 0
        if op == 0 and b:
            b[min(pos, len(b) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[pos:pos] = bytes([rng.randrange(256)])
        elif op == 2 and b:
            del b[pos : pos + rng.randint(1, 8)]
        elif op == 3:
            b[pos:pos] = b[pos : pos + rng.randint(1, 16)]
        elif op == 4:
            del b[rng.randrange(len(b) + 1) :]
        elif op == 5 and b:
            b[0] = (b[0] & 0xC0) | rng.randrange(64)  # P, X, CC / RC bits
        elif op == 6 and len(b) > 3:
            b[2:4] = rng.randrange(65536).to_bytes(2, "big")  # RTCP length / RTP sequence
        else:
            b += bytes(rng.randrange(256) for _ in range(rng.randint(1, 12)))
    return bytes(b)


def test_rtp_parse_fails_only_with_rtperror_and_accepted_packets_round_trip():
    rng = random.Random(SEED)
    seeds = rtp_seeds()
    accepted = 0
    for i in range(INPUTS):
        data = (
            bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
            if i % 4 == 0
            else mutate(rng, rng.choice(seeds))
        )
        try:
            p = RTPPacket.parse(data)
        except RTPError:
            continue
        except Exception as e:  # pragma: no cover - the failure message is the point
            raise AssertionError(f"seed {SEED}, input {data.hex()}: {e!r}") from e
        accepted += 1
        again = RTPPacket.parse(p.serialize())
        assert again == p, f"seed {SEED}, input {data.hex()}"
    assert accepted > INPUTS // 10  # the mutations do keep some packets valid


def test_rtcp_parse_fails_only_with_rtperror_and_accepted_packets_round_trip():
    rng = random.Random(SEED + 1)
    seeds = rtcp_seeds()
    accepted = 0
    for i in range(INPUTS):
        if i % 4 == 0:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
        else:
            data = mutate(rng, b"".join(rng.sample(seeds, rng.randint(1, 3))))
        try:
            p = RTCPPacket.parse(data)
        except RTPError:
            continue
        except Exception as e:  # pragma: no cover
            raise AssertionError(f"seed {SEED}, input {data.hex()}: {e!r}") from e
        accepted += 1
        canonical = p.serialize()
        if canonical:  # empty when the compound held only skipped packets
            assert RTCPPacket.parse(canonical) == p, f"seed {SEED}, input {data.hex()}"
        else:
            assert p.sender_info is p.reporter_ssrc is p.bye is None and not p.cnames
    assert accepted > INPUTS // 50


def test_the_jitter_buffer_only_hands_out_what_it_was_given():
    rng = random.Random(SEED + 2)
    for run in range(20):
        jb = JitterBuffer(8000, 160, capacity=32, max_payload=64)
        now = rng.randrange(10**12)
        ssrc, seq, ts = rng.randrange(2**32), rng.randrange(65536), rng.randrange(2**32)
        for _ in range(2000):
            op = rng.random()
            if op < 0.55:
                if rng.random() < 0.01:
                    ssrc = rng.randrange(2**32)
                if rng.random() < 0.02:
                    seq = rng.randrange(65536)
                if rng.random() < 0.02:
                    ts = rng.randrange(2**32)
                step = rng.choice((1, 1, 1, 2, -1, 0, 5))
                seq = (seq + step) & 0xFFFF
                ts = (ts + 160 * step) & 0xFFFFFFFF
                data = struct.pack("!IHI", ssrc, seq, ts) + bytes(rng.randrange(60))
                arrival = max(0, now + rng.randint(-50, 200) * 1_000_000)
                jb.put(
                    data,
                    seq,
                    ts,
                    arrival,
                    ssrc=ssrc,
                    samples=rng.choice((0, 160, 320)),
                    marker=rng.random() < 0.1,
                    cng=rng.random() < 0.05,
                )
            else:
                now += rng.choice((20, 20, 20, 10, 0, 500, -5)) * 1_000_000
                now = max(now, 0)
                f = jb.get(now)
                if f.kind == FRAME:
                    got = struct.unpack("!IHI", f.payload[:10])
                    assert got == (f.ssrc, f.sequence, f.timestamp), f"seed {SEED}, run {run}"
        stats = jb.stats
        assert stats["buffered"] <= 32
        assert stats["played"] <= stats["received"]


def test_the_dtmf_receiver_takes_any_payload():
    rng = random.Random(SEED + 3)
    r = DTMFReceiver(8000)
    reported = 0
    for _ in range(INPUTS):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(8)))
        try:
            events = r.put(data, rng.randrange(2**32), rng.randrange(2**40))
        except RTPError:
            assert len(data) < 4
            continue
        assert len(events) <= 2
        events += r.tick(rng.randrange(2**40))
        reported += len(events)
        assert all(e.digit is None or e.digit in "0123456789*#ABCD" for e in events)
        assert all(0 <= e.duration <= 0xFFFF and 0 <= e.volume <= 63 for e in events)
    assert reported == r.reported > 0
