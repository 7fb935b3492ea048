"""Latency the media engine adds to a call, measured end to end and simulated, and how the jitter
buffer recovers after a burst of jitter (issue 5: ≤ 40 ms with a clean network, frame + jitter
buffer; back to the minimum within 5 s after a burst).

1. Real loopback call. Two AudioMixers at 8 kHz with no sound devices, each driven by its own clock
   thread (started at a chosen phase to each other, as two machines' clocks are), two
   AudioStreamPorts (PCMU, 20 ms) on RTPTransports bound to 127.0.0.1 and sending to each other. A
   MemoryPort plays a click train into A's stream; a MemoryPort records what B's stream plays. Each
   mixer's clock calls its n-th tick at origin + n x 20 ms (CLOCK_MONOTONIC, the same clock in both);
   the origins are found by polling the tick counters. A sample s of A's input stands for the sound
   captured at origin_A + s / rate (a frame is captured during the 20 ms before the tick that takes
   it), a sample s of B's output for the sound played at origin_B + 20 ms + s / rate (a frame pulled
   at a tick is played during the 20 ms after it). The added latency of a click is the difference:
   one frame (packetisation / capture) + UDP over loopback + the jitter buffer's wait, the terms the
   simulation below counts. Printed per phase and pooled over phases spread evenly over a frame.
   Baselines in the same run: the simulation of the same phases, and the one-way time of a UDP
   datagram over loopback between two Python threads.
2. Simulated network (seeded, 60 s, 1 % loss) at 0, 5 and 30 ms of jitter, uniform and Gaussian:
   mean / p95 / max of 20 ms + the time a packet waits in the jitter buffer, late %, concealed frames
   inserted to grow the delay (per minute), and the target at the end.
3. Recovery: clean network, then 3 s of 30 ms jitter (uniform ±30 and Gaussian sigma 30 ms), then clean
   again: seconds until the target is back at its minimum and the play delay within a frame of it.

Run: .venv/bin/python benchmarks/media_latency.py [--seconds S per phase, default 4] [--phases N,
default 8] [--no-real] [--no-sim]
Not a test: nothing here asserts on time. Real-time figures are distorted by other load on the
machine (the clock threads wake late): the tick counters' overruns are printed with them.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import socket
import statistics
import threading
import time
from array import array
from collections.abc import Callable

import _common  # noqa: F401  (puts the source tree on sys.path)

from sipsimple.core.media import _rtp
from sipsimple.core.media._mixer import AudioMixer, MemoryPort
from sipsimple.core.media._stream import AudioStreamPort, IOThread, RTPTransport

MS = 1_000_000
FRAME_MS = 20
RATE = 8000
FRAME = RATE * FRAME_MS // 1000
CLICK_EVERY = 10  # frames between clicks (200 ms: far more than the latency, so no ambiguity)
CLICKS = 7  # clicks in the looped buffer, at different offsets inside their frames
CLICK = 16000
LOCALHOST = "127.0.0.1"

Jitter = Callable[[random.Random], float]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


# ---- 2. simulation --------------------------------------------------------------------------------


def simulate(
    jitter: Jitter, phase_ms: float, *, seconds: float = 60, loss: float = 0.01, seed: int = 1, **config
) -> dict:
    """One 20 ms PCMU-shaped stream over a network that delays each packet by 80 ms + jitter(rng)
    (not below 0, so packets reorder) and loses ``loss`` of them; a get every 20 ms at ``phase_ms``
    to the sender's clock. Returns the waits of the played packets (ms) and the buffer's counters."""
    rng = random.Random(seed)
    jb = _rtp.JitterBuffer(RATE, FRAME, **config)
    count = int(seconds * 1000 / FRAME_MS)
    arrivals = sorted(
        (int((k * FRAME_MS + max(0.0, 80 + jitter(rng))) * MS), k)
        for k in range(count)
        if rng.random() >= loss
    )
    waits, late, i, now = [], 0, 0, int(phase_ms * MS)
    timeline = []
    while now < (count * FRAME_MS + 1000) * MS:
        while i < len(arrivals) and arrivals[i][0] <= now:
            t, k = arrivals[i]
            late += jb.put(b"\xd5" * FRAME, k & 0xFFFF, k * FRAME, t) == _rtp.PUT_LATE
            i += 1
        frame = jb.get(now)
        if frame.kind == _rtp.FRAME:
            waits.append(frame.buffered_ns / MS)
        timeline.append((now / 1e9, jb.target_delay_ms, jb.play_delay_ms))
        now += FRAME_MS * MS
    return {"waits": waits, "late": late, "received": len(arrivals), "stats": jb.stats, "timeline": timeline}


def phases(count: int) -> list[float]:
    """Playout clocks spread evenly over a frame (the middle of each of ``count`` equal parts)."""
    return [(k + 0.5) * FRAME_MS / count for k in range(count)]


def simulated_table(phase_count: int) -> None:
    print("simulated network, 60 s, 1 % loss, 20 ms packets; latency = 20 ms + jitter-buffer wait (ms),")
    print(f"pooled over {phase_count} playout phases; 'grown' = frames inserted to grow the delay per minute")
    print(f"{'network':<40} {'mean':>6} {'p95':>6} {'max':>6} {'late %':>7} {'grown':>6} {'target':>7}")
    cases: list[tuple[str, Jitter, dict]] = [
        ("no jitter", lambda rng: 0.0, {}),
        ("no jitter, min_delay_ms=0 (low latency)", lambda rng: 0.0, {"min_delay_ms": 0}),
        ("5 ms jitter (uniform +-5)", lambda rng: rng.uniform(-5, 5), {}),
        ("5 ms jitter (Gaussian sigma 5)", lambda rng: rng.gauss(0, 5), {}),
        ("30 ms jitter (uniform +-30)", lambda rng: rng.uniform(-30, 30), {}),
        ("30 ms jitter (Gaussian sigma 30)", lambda rng: rng.gauss(0, 30), {}),
    ]
    for label, jitter, config in cases:
        runs = [simulate(jitter, phase, **config) for phase in phases(phase_count)]
        waits = [w + FRAME_MS for r in runs for w in r["waits"]]
        late = 100.0 * sum(r["late"] for r in runs) / sum(r["received"] for r in runs)
        grown = sum(r["stats"]["expanded"] for r in runs) / len(runs)
        target = max(r["stats"]["target_delay_ms"] for r in runs)
        print(
            f"{label:<40} {statistics.fmean(waits):>6.1f} {pct(waits, 0.95):>6.1f} {max(waits):>6.1f} "
            f"{late:>7.2f} {grown:>6.1f} {target:>7.1f}"
        )


def recovery_table(phase_count: int) -> None:
    print()
    print("recovery: clean network, 3 s of 30 ms jitter from t = 20 s, clean again; seconds after the burst")
    print(
        "until the target is at its minimum and the play delay within 1.25 frames of it (worst of the phases)"
    )
    print(f"{'burst':<34} {'peak target':>12} {'recovered after s':>18}")
    for label, burst in (
        ("uniform +-30 ms", lambda rng: rng.uniform(-30, 30)),
        ("Gaussian sigma 30 ms", lambda rng: rng.gauss(0, 30)),
        ("uniform 0..150 ms", lambda rng: rng.uniform(0, 150)),
    ):
        worst, peak = 0.0, 0.0
        for phase in phases(phase_count):
            state = {"t": 0}

            def jitter(rng: random.Random, burst=burst, state=state) -> float:
                # called once per packet in sending order: packet k is sent at k x 20 ms
                t = state["t"] * FRAME_MS / 1000
                state["t"] += 1
                return burst(rng) if 20.0 <= t < 23.0 else 0.0

            run = simulate(jitter, phase, seconds=40, loss=0.0)
            minimum = run["timeline"][0][1]
            peak = max(peak, max(target for t, target, _ in run["timeline"] if 20 <= t < 23))
            back = next(
                (
                    t
                    for t, target, play in run["timeline"]
                    if t >= 23.0 and target <= minimum and play < minimum + 1.25 * FRAME_MS
                ),
                None,
            )
            worst = max(worst, float("inf") if back is None else back - 23.0)
        print(f"{label:<40} {peak:>12.1f} {worst:>18.2f}")


# ---- 1. real loopback call ----------------------------------------------------------------------


def click_train() -> tuple[bytes, list[int]]:
    """CLICKS single-sample clicks, one every CLICK_EVERY frames, each at another offset in its frame."""
    length = CLICKS * CLICK_EVERY * FRAME
    signal = array("h", bytes(2 * length))
    positions = [k * CLICK_EVERY * FRAME + (37 * k + 11) % FRAME for k in range(CLICKS)]
    for p in positions:
        signal[p] = CLICK
    return signal.tobytes(), positions


def detect(recorded: array, threshold: int = CLICK // 2) -> list[int]:
    """Sample indices of clicks: the first sample above ``threshold`` after 80 quiet samples."""
    out, last = [], -(10**9)
    for i, v in enumerate(recorded):
        if abs(v) > threshold:
            if i - last > 80:
                out.append(i)
            last = i
    return out


def tick_origin(mixer: AudioMixer, ticks: int = 8, limit: float = 3.0) -> int:
    """origin such that tick n is due at origin + n x 20 ms: the least of (time a new count n was seen
    - n frames) over ``ticks`` ticks, polling the counter (each sighting is after its deadline)."""
    best, seen, last = None, 0, mixer.statistics["clock_ticks"]
    deadline = time.monotonic() + limit
    while seen < ticks and time.monotonic() < deadline:
        os.sched_yield()  # let the media threads run first: this loop must not delay them
        n = mixer.statistics["clock_ticks"]
        t = time.monotonic_ns()
        if n != last:
            estimate = t - n * FRAME_MS * MS
            best = estimate if best is None else min(best, estimate)
            seen, last = seen + 1, n
    if best is None:
        raise RuntimeError("the mixer clock does not tick")
    return best


class LoopbackCall:
    """A's mixer plays the click train into its stream; B's mixer records its stream."""

    def __init__(self, io: IOThread, seconds: float, **stream_options) -> None:
        self.seconds = seconds
        self.mixers = [AudioMixer(None, None, RATE, 0, event_queue=io.event_queue) for _ in range(2)]
        self.transports = [RTPTransport(LOCALHOST, io_thread=io) for _ in range(2)]
        a, b = self.transports
        a.set_remote(LOCALHOST, b.local_rtp_port, b.local_rtcp_port)
        b.set_remote(LOCALHOST, a.local_rtp_port, a.local_rtcp_port)
        self.streams = [AudioStreamPort(t, "PCMU", 8000, **stream_options) for t in self.transports]
        self.slots = [m.add_port(s.port_capsule(), s) for m, s in zip(self.mixers, self.streams, strict=True)]
        train, self.positions = click_train()
        self.player = MemoryPort(self.mixers[0], train, loop=True)
        self.recorder = MemoryPort(self.mixers[1], None, record_seconds=seconds + 3)
        self.player.start()
        self.recorder.start()
        self.mixers[0].connect_slots(self.player.slot, self.slots[0])
        self.mixers[1].connect_slots(self.slots[1], self.recorder.slot)
        for stream in self.streams:
            stream.start()

    def start(self, phase_ms: float, lead_ns: int) -> tuple[float, int]:
        """Starts B, then A so that A's ticks come ``phase_ms`` after B's (``lead_ns``: how long a
        clock thread takes to start, as measured before). Returns the phase obtained and the lead."""
        ma, mb = self.mixers
        mb.start()
        self.origin_b = tick_origin(mb)
        period = FRAME_MS * MS
        start_at = (
            self.origin_b
            + period * ((time.monotonic_ns() - self.origin_b) // period + 3)
            + int(phase_ms * MS)
            - lead_ns
        )
        while time.monotonic_ns() < start_at - 2 * MS:
            time.sleep(0.001)
        while time.monotonic_ns() < start_at:
            pass
        called = time.monotonic_ns()
        ma.start()
        self.origin_a = tick_origin(ma)
        return ((self.origin_a - self.origin_b) % period) / MS, self.origin_a - called

    def run(self) -> dict:
        """Runs ``seconds`` after start(); returns the clicks' latencies and the counters."""
        ma, mb = self.mixers
        origin_a, origin_b = self.origin_a, self.origin_b
        period = FRAME_MS * MS
        time.sleep(self.seconds)
        ma.stop()
        mb.stop()
        heard = array("h")
        heard.frombytes(self.recorder.take())
        ticks_b = mb.statistics["clock_ticks"]
        overruns = sum(m.statistics["overruns"] + m.statistics["underruns"] for m in self.mixers)
        # latencies: match each click heard with the last click played before it
        period_samples = CLICKS * CLICK_EVERY * FRAME
        first: dict[int, float] = {}
        for s_out in detect(heard):
            t_out = origin_b + FRAME_MS * MS + s_out * 1_000_000_000 // RATE
            s_rel = (t_out - origin_a) * RATE // 1_000_000_000  # A's sample index at that time
            candidates = [
                loop * period_samples + p
                for loop in range(s_rel // period_samples - 1, s_rel // period_samples + 1)
                for p in self.positions
                if 0 <= loop * period_samples + p <= s_rel
            ]
            if not candidates:
                continue
            s_in = max(candidates)
            # the first time a click is heard (concealment may repeat it a frame later)
            first.setdefault(s_in, (t_out - (origin_a + s_in * 1_000_000_000 // RATE)) / MS)
        latencies = list(first.values())
        played = ((origin_b + ticks_b * period) - origin_a) * RATE // 1_000_000_000
        expected = sum(
            1
            for loop in range(played // period_samples + 1)
            for p in self.positions
            if loop * period_samples + p < played
        )
        stats = self.streams[1].statistics
        return {
            "phase": ((origin_a - origin_b) % period) / MS,
            "latencies": latencies,
            "expected": expected,
            "recorded_frames": len(heard) // FRAME,
            "ticks_b": ticks_b,
            "overruns": overruns,
            "jb": stats["jitter_buffer"],
            "rx": stats["rx"],
        }

    def close(self) -> None:
        for mixer in self.mixers:
            mixer.stop()
        self.player.stop()
        self.recorder.stop()
        for stream, mixer, slot in zip(self.streams, self.mixers, self.slots, strict=True):
            stream.stop()
            mixer.remove_port(slot)
        for transport in self.transports:
            transport.close()


def udp_one_way(count: int = 200) -> list[float]:
    """One-way time (ms) of a datagram between two Python threads over loopback (bounded: count
    datagrams, 2 ms apart, 1 s receive timeout)."""
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind((LOCALHOST, 0))
    rx.settimeout(1.0)
    times: list[float] = []

    def receive() -> None:
        for _ in range(count):
            try:
                data = rx.recv(64)
            except TimeoutError:
                return
            times.append((time.monotonic_ns() - int.from_bytes(data, "big")) / MS)

    thread = threading.Thread(target=receive)
    thread.start()
    for _ in range(count):
        tx.sendto(time.monotonic_ns().to_bytes(8, "big"), rx.getsockname())
        time.sleep(0.002)
    thread.join()
    rx.close()
    tx.close()
    return times


def real_table(seconds: float, phase_count: int, **stream_options) -> None:
    print()
    label = ", ".join(f"{k}={v}" for k, v in stream_options.items()) or "default settings"
    print(f"real loopback call (PCMU, 8 kHz mixers, {label}), {seconds:g} s per phase; latency in ms =")
    print("one frame (20 ms) + UDP over loopback + jitter-buffer wait; 'beyond frame' = latency - 20")
    print(
        f"{'phase B-A':>9} {'clicks':>7} {'mean':>6} {'p95':>6} {'max':>6} {'late':>5} {'concealed':>9} "
        f"{'grown':>5} {'target':>7} {'play':>6} {'A.8 jitter':>10} {'overruns':>8}"
    )
    io = IOThread()
    pooled: list[float] = []
    sim_pooled: list[float] = []
    try:
        lead = 100_000
        for phase in phases(phase_count):
            for attempt in range(10):  # until the clocks are within 0.5 ms of the phase wanted
                call = LoopbackCall(io, seconds, **stream_options)
                got, lead_seen = call.start(phase, lead)
                lead = (lead + lead_seen) // 2
                error = (got - phase + FRAME_MS / 2) % FRAME_MS - FRAME_MS / 2
                if abs(error) <= 0.5 or attempt == 9:
                    break
                call.close()
                gc.collect()
            try:
                r = call.run()
            finally:
                call.close()
            gc.collect()
            lat, jb = r["latencies"], r["jb"]
            pooled += lat
            sim = simulate(
                lambda rng: 0.0,
                (-r["phase"]) % FRAME_MS,
                seconds=seconds,
                loss=0.0,
                min_delay_ms=call_min_delay(stream_options),
            )
            sim_pooled += [w + FRAME_MS for w in sim["waits"]]
            if r["recorded_frames"] != r["ticks_b"]:
                print(
                    f"{r['phase']:>9.2f}  B recorded {r['recorded_frames']} frames in {r['ticks_b']} ticks: not timed"
                )
                continue
            if not lat:
                print(f"{r['phase']:>9.2f}  no click heard (expected {r['expected']})")
                continue
            print(
                f"{r['phase']:>9.2f} {len(lat):>3}/{r['expected']:<3} {statistics.fmean(lat):>6.1f} "
                f"{pct(lat, 0.95):>6.1f} {max(lat):>6.1f} {jb['late']:>5} {r['rx']['concealed']:>9} "
                f"{r['rx']['expanded']:>5} {jb['target_delay']:>7.2f} {jb['play_delay']:>6.2f} {r['rx']['jitter']:>10.3f} {r['overruns']:>8}"
            )
    finally:
        gc.collect()
        io.stop()
    if pooled:
        print(
            f"{'pooled':>9} {len(pooled):>7} {statistics.fmean(pooled):>6.1f} {pct(pooled, 0.95):>6.1f} "
            f"{max(pooled):>6.1f}   beyond frame: mean {statistics.fmean(pooled) - FRAME_MS:.1f}, "
            f"p95 {pct(pooled, 0.95) - FRAME_MS:.1f}"
        )
    print(
        f"{'baseline':>9} simulation of the same phases, no jitter: mean {statistics.fmean(sim_pooled):.1f}, "
        f"p95 {pct(sim_pooled, 0.95):.1f}, max {max(sim_pooled):.1f}"
    )
    one_way = udp_one_way()
    if one_way:
        print(
            f"{'baseline':>9} UDP one-way over loopback between two Python threads: median "
            f"{statistics.median(one_way):.3f}, p95 {pct(one_way, 0.95):.3f}, max {max(one_way):.3f}"
        )


def call_min_delay(options: dict) -> int:
    if options.get("jitter_min_delay") is not None:
        return int(options["jitter_min_delay"])
    return int(_rtp.JitterBuffer(RATE, FRAME).config["min_delay_ms"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per phase of the real call")
    parser.add_argument("--phases", type=int, default=8, help="playout phases (real call and simulation)")
    parser.add_argument("--min-delay", type=int, default=None, help="jitter_min_delay of the real call (ms)")
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="run the real call's threads with SCHED_FIFO priority 10 (root; as audio threads often run): "
        "separates the engine's latency from the wake-ups a loaded machine delays",
    )
    parser.add_argument("--no-real", action="store_true", help="skip the real loopback call")
    parser.add_argument("--no-sim", action="store_true", help="skip the simulations")
    args = parser.parse_args()
    if not args.no_sim:
        simulated_table(args.phases)
        recovery_table(args.phases)
    if not args.no_real:
        options = {} if args.min_delay is None else {"jitter_min_delay": args.min_delay}
        if args.realtime:
            # threads created from now on (the I/O thread, the mixers' clocks) inherit the policy
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
            print("\n(SCHED_FIFO priority 10)", end="")
        real_table(min(args.seconds, 30.0), min(args.phases, 16), **options)


if __name__ == "__main__":
    main()
