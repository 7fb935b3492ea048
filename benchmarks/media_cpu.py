"""CPU cost of RTP audio calls through the media engine, both ends of every call in this process.

Each call is two AudioStreamPorts on two RTPTransports bound to 127.0.0.1, both in one AudioMixer
driven by its clock thread in real time. A looping speech-like source in the mixer feeds every
stream, so every stream encodes, packetises and sends one packet per ptime (from the mixer's
thread), and the mixer pulls every stream's decoded audio (jitter buffer, decoder, concealment) on
every tick, resampling where the codec's rate differs from the mixer's (with the mixer's shortcuts:
the source is converted once per tick for all streams at a rate, the streams' own audio, which
nobody hears, is not converted, and G.722 streams are coded four per pass through the tick's codec
batch; --no-shortcuts converts every stream both ways and codes one stream at a time). The I/O
thread receives the datagrams (epoll + recvmmsg), parses RTP and fills the jitter buffers; RTCP
runs on its A.7 schedule. With --srtp every transport protects and unprotects with an SRTPSession
(AES_CM_128_HMAC_SHA1_80, SDES-style keys).

--no-network measures the engine's processing alone: two memory transports per call hand packets
over without sockets, the clock is a ManualClock, and the mixer is ticked on this thread as fast
as it goes (encoder -> packetiser -> [SRTP] -> depacketiser -> jitter buffer -> decoder -> mixer,
both directions, RTCP included); the CPU is this thread's.

Prints, after a warm-up: packets sent/received/lost per stream (sum, min, max), the mixer clock's
overruns/underruns, CPU time per call-second (the figure the targets in issue 5 use) and, in real
time, its split between the mixer's clock thread, the I/O thread and the rest; beside a baseline
measured in the same run: the CPU a plain C loop spends sending and receiving the same number of
datagrams of the same size over loopback (the kernel's own cost).

Run: .venv/bin/python benchmarks/media_cpu.py --streams 100 --codec PCMU --seconds 10 [--rate 8000]
     [--no-network] [--ptime 20] [--frame-time 20] [--complexity N] [--srtp] [--no-shortcuts]
Not a test: nothing asserts on time.
"""

from __future__ import annotations

import argparse
import heapq
import math
import os
import random
import resource
import sys
import time
from array import array
from pathlib import Path

from _common import pin_to_one_core

from sipsimple.configuration.settings import AudioSettings
from sipsimple.core.media._events import EventQueue
from sipsimple.core.media._mixer import AudioMixer, MemoryPort
from sipsimple.core.media._srtp import SRTPSession
from sipsimple.core.media._stream import (
    AudioStreamPort,
    IOThread,
    ManualClock,
    RTPTransport,
    _benchmark_loopback,
)
from sipsimple.core.media.events import dispatch_pending

OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
RTP_HEADER = 12
SRTP_SUITE = "AES_CM_128_HMAC_SHA1_80"


def default_rate() -> int:
    return int(AudioSettings.__dict__["sample_rate"].default)


def source_signal(rate: int, seconds: float = 1.0) -> bytes:
    """Speech-like: a few tones with a slow envelope plus noise (codecs do real work on it)."""
    rng = random.Random(7)
    out = array("h")
    for i in range(int(rate * seconds)):
        t = i / rate
        envelope = 0.5 + 0.5 * math.sin(2 * math.pi * 4 * t)
        value = (
            sum(math.sin(2 * math.pi * f * t) for f in (220, 440, 700, 1100, 1800, 2600)) * 1500 * envelope
        )
        out.append(max(-32768, min(32767, int(value + rng.gauss(0, 500)))))
    return out.tobytes()


def thread_cpu_ns() -> dict[str, int]:
    """CPU ns per native thread of this process, by thread name (from /proc schedstat)."""
    result: dict[str, int] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            ns = int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        result[name] = result.get(name, 0) + ns
    return result


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Calls:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.queue = EventQueue(capacity=65536)
        self.io = IOThread(self.queue)
        self.clock = ManualClock() if args.no_network else None
        slots = max(254, 2 * args.streams + 2)
        self.mixer = AudioMixer(
            None, None, args.rate, 0, slots, frame_time=args.frame_time, event_queue=self.queue
        )
        self.mixer._shortcuts = not args.no_shortcuts
        self.source = MemoryPort(self.mixer, source_signal(args.rate), loop=True)
        self.source.start()
        self.streams: list[AudioStreamPort] = []
        self.transports: list[RTPTransport] = []
        self.slots: list[int] = []
        for _ in range(args.streams):
            self.add_call()

    def add_call(self) -> None:
        args = self.args
        if args.no_network:
            a, b = RTPTransport.memory_pair(io_thread=self.io, clock=self.clock)
        else:
            a = RTPTransport("127.0.0.1", io_thread=self.io)
            b = RTPTransport("127.0.0.1", io_thread=self.io)
            a.set_remote("127.0.0.1", b.local_rtp_port)
            b.set_remote("127.0.0.1", a.local_rtp_port)
        if args.srtp:
            key_a, key_b = os.urandom(30), os.urandom(30)
            for transport, ours, theirs in ((a, key_a, key_b), (b, key_b, key_a)):
                session = SRTPSession()
                session.set_outbound_key(SRTP_SUITE, ours)
                session.set_inbound_key(SRTP_SUITE, theirs)
                transport.set_srtp(session)
        sample_rate = None
        if args.codec.lower() == "opus":
            sample_rate = args.rate if args.rate in OPUS_RATES else 48000
        for transport in (a, b):
            stream = AudioStreamPort(
                transport,
                args.codec,
                ptime=args.ptime,
                frame_time=args.frame_time,
                sample_rate=sample_rate,
                complexity=args.complexity,
            )
            slot = self.mixer.add_port(stream.port_capsule(), stream)
            self.mixer.connect_slots(self.source.slot, slot)
            stream.start()
            self.streams.append(stream)
            self.transports.append(transport)
            self.slots.append(slot)

    def close(self) -> None:
        for stream, slot in zip(self.streams, self.slots, strict=True):
            stream.stop()
            self.mixer.remove_port(slot)
        for transport in self.transports:
            transport.close()
        dispatch_pending(self.queue)
        self.streams.clear()
        self.transports.clear()
        self.io.stop()


def summary(values: list[int]) -> str:
    return f"{sum(values):>9} (per stream {min(values)}..{max(values)})"


class Measurement:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.counts = [
            (st["tx"]["packets"], st["rx"]["packets"], st["rx"]["lost"], st["rx"]["concealed"])
            for st in (s.statistics for s in calls.streams)
        ]
        self.clock = calls.mixer.statistics
        self.io = calls.io.statistics
        self.threads = thread_cpu_ns()
        self.process = process_cpu()
        self.thread = time.thread_time()
        self.wall = time.monotonic()


def run_real_time(calls: Calls, args: argparse.Namespace) -> tuple[Measurement, Measurement]:
    calls.mixer.start()
    time.sleep(args.warmup)
    before = Measurement(calls)
    time.sleep(args.seconds)
    after = Measurement(calls)
    calls.mixer.stop()
    return before, after


def run_ticks(calls: Calls, args: argparse.Namespace) -> tuple[Measurement, Measurement, float]:
    """Ticks the mixer on this thread with a manual clock; RTCP/timeouts serviced when due."""
    frame = args.frame_time / 1000
    due = [(s._service() or math.inf, i) for i, s in enumerate(calls.streams)]
    heapq.heapify(due)

    def tick(count: int) -> None:
        for _ in range(count):
            calls.clock.advance(frame)
            calls.mixer.tick()
            now = calls.clock.now
            while due[0][0] <= now:
                _, i = heapq.heappop(due)
                heapq.heappush(due, (calls.streams[i]._service() or math.inf, i))

    tick(round(args.warmup / frame))
    before = Measurement(calls)
    tick(round(args.seconds / frame))
    after = Measurement(calls)
    return before, after, round(args.seconds / frame) * frame


def run(args: argparse.Namespace) -> None:
    calls = Calls(args)
    if args.no_network:
        before, after, simulated = run_ticks(calls, args)
        cpu = after.thread - before.thread
        measured = simulated
    else:
        before, after = run_real_time(calls, args)
        cpu = after.process - before.process
        measured = after.wall - before.wall
    stats = [s.statistics for s in calls.streams]
    calls.close()

    call_seconds = args.streams * measured
    sent = [st["tx"]["packets"] - b[0] for st, b in zip(stats, before.counts, strict=True)]
    received = [st["rx"]["packets"] - b[1] for st, b in zip(stats, before.counts, strict=True)]
    lost = [st["rx"]["lost"] - b[2] for st, b in zip(stats, before.counts, strict=True)]
    concealed = [st["rx"]["concealed"] - b[3] for st, b in zip(stats, before.counts, strict=True)]
    per_call_second = cpu / call_seconds * 1e6

    mode = (
        "memory transports, manual clock, ticks on one thread (--no-network)"
        if args.no_network
        else "UDP over 127.0.0.1"
    )
    srtp = f" + SRTP {SRTP_SUITE}" if args.srtp else ""
    print(
        f"{args.streams} calls ({2 * args.streams} streams), {args.codec}{srtp}, ptime {args.ptime} ms, "
        f"mixer {args.rate} Hz / {args.frame_time} ms, {mode}, {measured:.1f} s of audio measured after "
        f"{args.warmup:g} s"
    )
    print(f"  packets sent     {summary(sent)}")
    print(f"  packets received {summary(received)}")
    print(f"  packets lost     {summary(lost)}   concealed frames {sum(concealed)}")
    if args.no_network:
        print(f"  ran {measured / max(after.wall - before.wall, 1e-9):.1f} x faster than real time")
    else:
        print(
            f"  mixer clock: {after.clock['clock_ticks'] - before.clock['clock_ticks']} ticks, "
            f"{after.clock['overruns'] - before.clock['overruns']} overruns, "
            f"{after.clock['underruns'] - before.clock['underruns']} underruns; "
            f"I/O thread {(after.io['wakeups'] - before.io['wakeups']) / measured:,.0f} wake-ups and "
            f"{(after.io['reads'] - before.io['reads']) / measured:,.0f} socket reads per second"
        )
    print(
        f"  CPU: {cpu:.3f} s = {per_call_second:,.0f} µs per call-second ({cpu / measured * 100:.1f} % of a core)"
    )
    if not args.no_network:
        split = {
            name: (after.threads.get(name, 0) - before.threads.get(name, 0)) / 1e3 / call_seconds
            for name in set(after.threads) | set(before.threads)
        }
        mixer_us = split.pop("media-clock", 0.0)
        io_us = split.pop("sipsimple-rtp", 0.0)
        other_us = sum(split.values())
        print(
            f"    mixer clock thread {mixer_us:,.0f} µs, I/O thread {io_us:,.0f} µs, "
            f"other threads {other_us:,.0f} µs per call-second"
        )

    # baseline: the kernel moving the same datagrams, by the plainest C loop
    packets = max(1, sum(st["tx"]["packets"] for st in stats))
    payload = RTP_HEADER + sum(st["tx"]["bytes"] for st in stats) // packets + (10 if args.srtp else 0)
    rounds = int(measured * 1000 / args.ptime)
    kernel_ns, moved = _benchmark_loopback(args.streams, rounds, payload)
    print(
        f"  baseline: a C loop sending and receiving the same {moved:,} datagrams of {payload} bytes over "
        f"loopback: {kernel_ns / 1e3 / call_seconds:,.0f} µs per call-second"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=10, help="calls (each is two streams)")
    parser.add_argument("--codec", default="PCMU")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rate", type=int, default=default_rate(), help="mixer sample rate")
    parser.add_argument("--ptime", type=int, default=20)
    parser.add_argument("--frame-time", type=int, default=20, choices=(10, 20))
    parser.add_argument("--complexity", type=int, default=None, help="encoder complexity (Opus)")
    parser.add_argument("--no-network", action="store_true", help="memory transports instead of sockets")
    parser.add_argument("--srtp", action="store_true", help=f"protect every stream with SRTP ({SRTP_SUITE})")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the process to one core")
    parser.add_argument(
        "--no-shortcuts",
        action="store_true",
        help="the mixer's general path only (AudioMixer._shortcuts off)",
    )
    args = parser.parse_args()
    if not 1 <= args.streams <= 500 or not 0 < args.seconds <= 600:
        sys.exit("--streams must be 1..500 and --seconds 0..600")
    if not args.no_pin:
        pin_to_one_core()
    print(f"pid {os.getpid()}, {'pinned to one core' if not args.no_pin else 'not pinned'}")
    run(args)


if __name__ == "__main__":
    main()
