"""The jitter buffer against a seeded random network (delay + jitter + loss + reordering).

A sender emits one packet per frame; each packet's arrival is its send time plus a base delay plus
a jitter draw (so packets overtake each other when the jitter exceeds the frame time), or never
(loss). The playout pulls a frame every frame time. Everything runs on simulated time, bounded to
at most a minute per run. What they prove:
  * with no jitter, every frame waits the minimum (default 10 ms) plus the phase of the playout
    clock to the packets, nothing is adapted; with a 0 minimum, 20 ms + the wait stays under 40 ms
    at the 95th percentile over playout phases;
  * with 30 ms of jitter (uniform +-30 ms as netem gives it, and the harsher Gaussian sigma 30 ms),
    fewer than 1 % resp. 3 % of packets come too late and the added delay stays bounded;
  * after a burst of jitter (30 ms, uniform or Gaussian, for 3 s; or 0-150 ms), the target delay
    and the playout delay return to the minimum within 5 s of clean network, over playout phases,
    and to the previous level when the network returns to moderate jitter;
  * the same holds at 48 kHz with 10 ms frames, across the sequence/timestamp wraps;
  * the playout order is the sending order whatever the arrival order.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from sipsimple.core.media._rtp import FRAME, PUT_LATE, JitterBuffer

MS = 1_000_000


@dataclass
class Run:
    sent: int = 0
    received: int = 0
    late: int = 0
    reordered: int = 0
    played: list[int] = field(default_factory=list)
    buffered_ms: list[float] = field(default_factory=list)
    timeline: list[tuple[float, float, float]] = field(default_factory=list)  # (s, target, play delay)
    stats: dict = field(default_factory=dict)

    @property
    def late_rate(self) -> float:
        return self.late / self.received

    def percentile(self, p: float) -> float:
        values = sorted(self.buffered_ms)
        return values[min(len(values) - 1, int(p * len(values)))]


def simulate(
    jitter: Callable[[random.Random, float], float],
    seconds: float = 60.0,
    seed: int = 1,
    loss: float = 0.01,
    clock_rate: int = 8000,
    frame_ms: int = 20,
    base_ms: float = 80.0,
    phase_ms: float = 7.0,
    seq0: int = 0,
    ts0: int = 0,
    **config,
) -> Run:
    """jitter(rng, t) gives the extra delay in ms of a packet sent at t seconds (may be negative)."""
    rng = random.Random(seed)
    samples = clock_rate * frame_ms // 1000
    jb = JitterBuffer(clock_rate, samples, **config)
    count = int(seconds * 1000 / frame_ms)
    assert count <= 6000  # bounded
    arrivals = []
    for k in range(count):
        if rng.random() < loss:
            continue
        arrivals.append(((k * frame_ms + max(0.0, base_ms + jitter(rng, k * frame_ms / 1000))) * MS, k))
    arrivals.sort()
    run = Run(sent=count, received=len(arrivals))
    run.reordered = sum(1 for a, b in itertools.pairwise(arrivals) if b[1] < a[1])
    i, now, end = 0, phase_ms * MS, (count * frame_ms + 1000) * MS
    while now < end:
        while i < len(arrivals) and arrivals[i][0] <= now:
            t, k = arrivals[i]
            status = jb.put(
                k.to_bytes(4, "big"), (seq0 + k) & 0xFFFF, (ts0 + k * samples) & 0xFFFFFFFF, int(t)
            )
            run.late += status == PUT_LATE
            i += 1
        frame = jb.get(int(now))
        if frame.kind == FRAME:
            run.played.append(int.from_bytes(frame.payload, "big"))
            run.buffered_ms.append(frame.buffered_ns / MS)
        run.timeline.append((now / 1e9, jb.target_delay_ms, jb.play_delay_ms))
        now += frame_ms * MS
    run.stats = jb.stats
    return run


def uniform(width_ms):
    return lambda rng, t: rng.uniform(-width_ms, width_ms)


def gaussian(sigma_ms):
    return lambda rng, t: rng.gauss(0, sigma_ms)


def test_with_no_jitter_the_delay_is_the_minimum_and_nothing_adapts():
    run = simulate(lambda rng, t: 0.0)  # packets arrive at 80 + 20 k ms, gets at 7 + 20 k ms
    assert run.late == 0
    assert run.played == sorted(run.played)
    assert set(run.buffered_ms) == {27.0}  # 7 ms of phase is below the 10 ms minimum: one more frame
    assert run.stats["target_delay_ms"] == 10
    assert run.stats["expanded"] == run.stats["shrunk"] == 0
    assert run.stats["played"] == run.received


def no_jitter_latencies(**config) -> list[float]:
    """20 ms of packetisation + the jitter buffer's wait, pooled over playout clocks spread
    evenly over a frame (as two unsynchronised clocks are), with 1 % loss; sorted."""
    latencies = []
    for k in range(16):
        run = simulate(lambda rng, t: 0.0, seconds=20, phase_ms=(k + 0.5) * 20 / 16, **config)
        assert run.late == 0 and run.stats["expanded"] == 0
        latencies += [20 + w for w in run.buffered_ms]
    return sorted(latencies)


def test_with_no_jitter_the_latency_is_the_frame_the_minimum_and_the_phase():
    latencies = no_jitter_latencies()
    assert latencies[0] >= 30 and latencies[-1] < 50  # 20 + 10 + [0, 20) ms of phase
    assert 39 <= sum(latencies) / len(latencies) <= 41


def test_with_a_0_minimum_and_no_jitter_the_latency_stays_under_40_ms_at_the_95th_percentile():
    """The low-latency setting (``min_delay_ms=0``): the phase is the only wait."""
    latencies = no_jitter_latencies(min_delay_ms=0)
    assert latencies[int(0.95 * len(latencies))] <= 40
    assert max(latencies) < 40
    assert 29 <= sum(latencies) / len(latencies) <= 31  # half a frame of phase on average


def test_a_configured_minimum_delay_is_still_the_floor_of_the_wait():
    run = simulate(lambda rng, t: 0.0, min_delay_ms=10)
    assert set(run.buffered_ms) == {27.0}  # 7 ms of phase is below 10: one more frame
    assert run.stats["target_delay_ms"] == 10


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_with_30_ms_of_uniform_jitter_under_1_percent_is_late_and_the_delay_is_bounded(seed):
    run = simulate(uniform(30), seed=seed)
    assert run.reordered > 100  # the model really reorders
    assert run.played == sorted(run.played)
    assert run.late_rate < 0.01
    assert run.percentile(0.95) < 100
    assert max(run.buffered_ms) < 140
    assert 40 <= run.stats["target_delay_ms"] <= 70  # the jitter spans 60 ms


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_with_gaussian_30_ms_jitter_under_3_percent_is_late(seed):
    run = simulate(gaussian(30), seed=seed)
    assert run.played == sorted(run.played)
    assert run.late_rate < 0.03
    assert run.percentile(0.95) < 160
    assert max(run.buffered_ms) <= 300 + 40  # max delay + grid and hysteresis
    assert run.stats["target_delay_ms"] <= 300


@pytest.mark.parametrize("jitter", [uniform(5), gaussian(5)], ids=["uniform", "gaussian"])
def test_with_5_ms_of_jitter_almost_nothing_is_late_and_the_delay_follows_the_jitter(jitter):
    """The target follows small jitter above the minimum."""
    run = simulate(jitter)
    assert run.played == sorted(run.played)
    assert run.late_rate < 0.002
    assert 5 <= run.stats["target_delay_ms"] <= 35
    assert run.percentile(0.95) < 50


def burst(before, during, start=20.0, length=3.0):
    return lambda rng, t: during(rng, t) if start <= t < start + length else before(rng, t)


def first_time_after(run, start, predicate):
    for t, target, play in run.timeline:
        if t >= start and predicate(target, play):
            return t
    return None


def test_after_a_jitter_burst_the_delay_returns_to_the_minimum_within_5_s():
    run = simulate(burst(lambda rng, t: 0.0, lambda rng, t: rng.uniform(0, 150)), seconds=40, loss=0.0)
    peak = max(target for t, target, play in run.timeline if 20 <= t < 23)
    assert peak > 100  # the burst did raise the target
    back = first_time_after(run, 23.0, lambda target, play: target == 10 and play < 10 + 25)
    assert back is not None
    assert back - 23.0 < 5.0
    # and it stays there
    assert all(target == 10 for t, target, play in run.timeline if back <= t < 40)


@pytest.mark.parametrize("shape", ["uniform", "gaussian"])
@pytest.mark.parametrize("phase_ms", [1.0, 7.0, 13.0, 19.0])
def test_after_a_30_ms_jitter_burst_the_target_is_back_at_the_minimum_within_5_s(shape, phase_ms):
    """Clean network, 3 s of 30 ms jitter from t = 20 s, clean again (simulated clock, 1 % loss):
    the target returns to the minimum (10 ms) and the play delay to within 1.25 frames of it in
    under 5 s, and they stay there."""
    during = uniform(30) if shape == "uniform" else gaussian(30)
    run = simulate(burst(lambda rng, t: 0.0, during), seconds=35, phase_ms=phase_ms)
    peak = max(target for t, target, play in run.timeline if 20 <= t < 23)
    assert peak >= 40  # the burst did raise the target
    back = first_time_after(run, 23.0, lambda target, play: target == 10 and play < 10 + 25)
    assert back is not None
    assert back - 23.0 < 5.0
    assert all(target == 10 and play < 10 + 25 for t, target, play in run.timeline if back <= t)


def test_after_a_jitter_burst_the_delay_returns_to_its_previous_level():
    run = simulate(burst(uniform(10), lambda rng, t: rng.uniform(0, 150)), seconds=40, loss=0.0)
    before = max(target for t, target, play in run.timeline if 10 <= t < 20)
    back = first_time_after(run, 23.0, lambda target, play: target <= before + 5)
    assert back is not None
    assert back - 23.0 < 5.0


@pytest.mark.parametrize(("clock_rate", "frame_ms"), [(48000, 10), (16000, 20), (8000, 10)])
def test_other_rates_and_frame_times_with_the_wraps(clock_rate, frame_ms):
    run = simulate(
        uniform(30),
        seconds=30,
        clock_rate=clock_rate,
        frame_ms=frame_ms,
        seq0=65000,
        ts0=2**32 - 50 * clock_rate,
    )
    assert run.played == sorted(run.played)
    assert run.stats["resyncs"] == 0
    assert run.late_rate < 0.01
    assert run.percentile(0.95) < 100
