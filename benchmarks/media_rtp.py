"""Cost of the RTP machinery (sipsimple.core.media._rtp) on one core.

Throughput, on PCMU-shaped packets (12-byte header + 160 bytes, one every 20 ms):
  * receive path in C (what the RTP stream will pay, no Python in the loop): RTP parse +
    reception statistics + jitter-buffer insert, and a jitter-buffer get every 20 ms;
    as packets/s and as µs per call-second (50 packets);
  * the same through the Python API (``RTPPacket.parse`` + ``ReceptionStats.update`` +
    ``JitterBuffer.put``/``get``);
  * RTCP reception statistics: parse + ``update`` per packet and a report block every 250, in C
    and through Python; ``RTCPPacket.parse`` of an SR+SDES compound;
  * baseline in the same run: a pure-Python ``struct.unpack`` of the same 12-byte header.
The latency the engine adds is measured by benchmarks/media_latency.py.

Run: .venv/bin/python benchmarks/media_rtp.py [seconds per figure, default 1]
Not a test: nothing here asserts on time.
"""

from __future__ import annotations

import random
import struct
import sys
import time

from _common import pin_to_one_core, rate

from sipsimple.core.media import _rtp

MS = 1_000_000
FRAME_NS = 20 * MS
PACKETS = 20_000


def stream(count: int = PACKETS, jitter_ms: float = 0.0) -> tuple[list[bytes], list[int]]:
    """One PCMU call's packets and their arrival times (a little jitter, in order)."""
    rng = random.Random(1)
    sender = _rtp.RTPSender(0, 8000, ssrc=0x1234, sequence=1000, timestamp=0)
    payload = b"\xd5" * 160
    packets, arrivals, last = [], [], 0
    for k in range(count):
        packets.append(sender.packet(payload, 160, k * FRAME_NS))
        last = max(last, k * FRAME_NS + 40 * MS + int(rng.uniform(0, jitter_ms) * MS))
        arrivals.append(last)
    return packets, arrivals


def struct_parse(data: bytes) -> tuple:
    first, second, seq, ts, ssrc = struct.unpack_from("!BBHII", data)
    return first >> 6, second & 0x7F, seq, ts, ssrc, data[12:]


def python_receive(packets: list[bytes], arrivals: list[int]) -> int:
    jb = _rtp.JitterBuffer(8000, 160)
    stats = _rtp.ReceptionStats(0x1234, 8000)
    next_get, frames = arrivals[0], 0
    for data, t in zip(packets, arrivals, strict=True):
        while next_get <= t:
            frames += jb.get(next_get).kind == _rtp.FRAME
            next_get += FRAME_NS
        p = _rtp.RTPPacket.parse(data)
        stats.update(p.sequence, p.timestamp, t, len(p.payload))
        jb.put(p.payload, p.sequence, p.timestamp, t, p.ssrc, 0, p.marker)
    return frames


def python_stats(packets: list[bytes], arrivals: list[int]) -> None:
    stats = _rtp.ReceptionStats(0x1234, 8000)
    for i, (data, t) in enumerate(zip(packets, arrivals, strict=True)):
        p = _rtp.RTPPacket.parse(data)
        stats.update(p.sequence, p.timestamp, t, len(p.payload))
        if i % 250 == 249:
            stats.report(t)


def per_packet(func, packets, arrivals, seconds: float) -> float:
    """Packets/s of func over the whole stream, best of a few runs within `seconds`."""
    best, deadline = 0.0, time.perf_counter() + seconds
    while True:
        start = time.perf_counter()
        func(packets, arrivals)
        best = max(best, len(packets) / (time.perf_counter() - start))
        if time.perf_counter() >= deadline:
            return best


def native_per_packet(func, packets, arrivals, seconds: float) -> float:
    best, deadline = 0.0, time.perf_counter() + seconds
    while True:
        result = func(packets, arrivals)
        elapsed = result[0] if isinstance(result, tuple) else result
        best = max(best, len(packets) / (elapsed / 1e9))
        if time.perf_counter() >= deadline:
            return best


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    pin_to_one_core()
    packets, arrivals = stream()
    jittery = stream(jitter_ms=30)
    sr = _rtp.RTCPPacket(
        sender_info=_rtp.SenderInfo(0x1234, _rtp.ntp_from_unix_ns(time.time_ns()), 160, 50, 8000),
        report_blocks=[_rtp.ReportBlock(0x5678, 3, 10, 70000, 24, 0x12345678, 6553)],
        cnames={0x1234: "alice@192.0.2.1"},
    ).serialize()

    print(f"{'case':<58} {'packets/s':>12} {'µs/call-s':>10}")

    def line(label: str, pps: float) -> None:
        print(f"{label:<58} {pps:>12,.0f} {50e6 / pps:>10.2f}")

    line("baseline: struct.unpack of the 12-byte header (Python)", rate(struct_parse, packets[0], seconds))
    line("RTPPacket.parse (Python API)", rate(_rtp.RTPPacket.parse, packets[0], seconds))
    line(
        "receive in C: parse + stats + jbuf put/get",
        native_per_packet(_rtp._native_receive, packets, arrivals, seconds),
    )
    line(
        "receive in C, 30 ms jitter: parse + stats + jbuf put/get",
        native_per_packet(_rtp._native_receive, *jittery, seconds),
    )
    line(
        "receive via Python API: parse + stats + jbuf put/get",
        per_packet(python_receive, packets, arrivals, seconds),
    )
    line(
        "RTCP stats in C: parse + update (+ report / 250)",
        native_per_packet(_rtp._native_rtcp_stats, packets, arrivals, seconds),
    )
    line(
        "RTCP stats via Python API: parse + update (+ report / 250)",
        per_packet(python_stats, packets, arrivals, seconds),
    )
    print(
        f"{'RTCPPacket.parse of SR + SDES (' + str(len(sr)) + ' B), compounds/s':<58} {rate(_rtp.RTCPPacket.parse, sr, seconds):>12,.0f}"
    )


if __name__ == "__main__":
    main()
