"""Cost of the audio mixer's tick (sipsimple.core.media._mixer) per active slot, on one core.

The mixer runs at 48 kHz with 20 ms frames (960 samples). Each active slot holds a MemoryPort
that plays a looping noise frame (a source) and discards what it hears (a sink), so a tick reads
and writes every slot. Topologies:
  * pairs  - slot 2k and 2k+1 hear each other (N/2 two-party calls through one mixer);
  * star   - every slot hears the device (slot 0) and the device hears every slot (a conference
             around the local user);
  * pairs@8k - as pairs, but the ports run at 8 kHz (PCMU-like streams): every slot is resampled
             8k -> 48k on the way in and 48k -> 8k on the way out, by our polyphase converter;
  * pairs@8k/speexdsp - the same with speexdsp's resampler (quality 3) for every port: the baseline.
Baselines measured in the same run: the cost of a tick of an empty mixer (device only), a plain
C memcpy of the frames a tick moves (2 x N frames of 960 samples), and speexdsp for the converters.

Prints µs of CPU per tick and per tick per slot, and what fraction of one core the mixer would use
in real time (a tick is due every 20 ms). Then each converter alone: µs per 20 ms frame for the
rate pairs the mixer meets, polyphase against speexdsp, with the polyphase filter's size and delay.

Run: .venv/bin/python benchmarks/media_mixer.py [seconds per figure, default 1]
Not a test: nothing here asserts on time.
"""

from __future__ import annotations

import random
import sys
import time
from array import array

from _common import pin_to_one_core

from sipsimple.core.media._mixer import AudioMixer, MemoryPort, Resampler, _benchmark_copy

RATE, FRAME_MS = 48000, 20
SAMPLES = RATE * FRAME_MS // 1000
SLOTS = (2, 16, 64, 254)
TOPOLOGIES = ("pairs", "star", "pairs@8k", "pairs@8k/speexdsp")
CONVERSIONS = [(8000, 48000), (16000, 48000), (32000, 48000), (8000, 16000), (8000, 32000), (16000, 32000)]


def noise_frame(rate: int) -> bytes:
    rng = random.Random(1)
    return array("h", (int(rng.gauss(0, 3000)) for _ in range(rate * FRAME_MS // 1000))).tobytes()


def build(slots: int, topology: str) -> tuple[AudioMixer, list[MemoryPort]]:
    resampler = "speexdsp" if topology.endswith("/speexdsp") else "auto"
    mixer = AudioMixer(None, None, RATE, 0, 254, frame_time=FRAME_MS, resampler=resampler)
    port_rate = 8000 if topology.startswith("pairs@8k") else RATE
    frame = noise_frame(port_rate)
    ports = [
        MemoryPort(mixer, frame, sample_rate=port_rate, loop=True, record_seconds=0) for _ in range(slots)
    ]
    for port in ports:
        port.start()
    if topology == "star":
        for port in ports:
            mixer.connect_slots(port.slot, 0)
            mixer.connect_slots(0, port.slot)
    else:
        for a, b in zip(ports[0::2], ports[1::2], strict=True):
            mixer.connect_slots(a.slot, b.slot)
            mixer.connect_slots(b.slot, a.slot)
    return mixer, ports


def cpu_per_tick(mixer: AudioMixer, seconds: float) -> float:
    """Best of three runs: CPU seconds per tick."""
    mixer.tick(50)  # warm up (resamplers, caches)
    best = float("inf")
    for _ in range(3):
        ticks, start = 0, time.process_time()
        while True:
            mixer.tick(200)
            ticks += 200
            spent = time.process_time() - start
            if spent >= seconds / 3:
                break
        best = min(best, spent / ticks)
    return best


def converter_cost(in_rate: int, out_rate: int, engine: str, seconds: float) -> float:
    """Best of three runs: CPU µs per 20 ms frame of one converter."""
    frame = in_rate * FRAME_MS // 1000
    resampler = Resampler(in_rate, out_rate, frame, engine=engine)
    block = noise_frame(in_rate) * 50  # one second
    resampler.process(block)  # warm up
    best = float("inf")
    for _ in range(3):
        frames, start = 0, time.process_time()
        while True:
            resampler.process(block)
            frames += 50
            spent = time.process_time() - start
            if spent >= seconds / 6:
                break
        best = min(best, spent / frames)
    return best * 1e6


def converters(seconds: float) -> None:
    print()
    print("converters alone (µs of CPU per 20 ms frame; group delay in ms)")
    print(
        f"{'conversion':<11} {'polyphase':>10} {'speexdsp':>9} {'ratio':>6} {'stages':>8} {'MACs':>6}"
        f" {'delay':>6} {'speex delay':>12}"
    )
    for low, high in CONVERSIONS:
        for in_rate, out_rate in ((low, high), (high, low)):
            frame = in_rate * FRAME_MS // 1000
            ours = converter_cost(in_rate, out_rate, "polyphase", seconds)
            theirs = converter_cost(in_rate, out_rate, "speexdsp", seconds)
            polyphase = Resampler(in_rate, out_rate, frame, engine="polyphase")
            speex = Resampler(in_rate, out_rate, frame, engine="speexdsp")
            design = polyphase.design or []
            stages = "+".join(f"{stage['up']}/{stage['down']}" for stage in design)
            label = f"{in_rate // 1000}k->{out_rate // 1000}k"
            print(
                f"{label:<11} {ours:>10.2f} {theirs:>9.2f} {theirs / ours:>5.1f}x {stages:>8}"
                f" {design[0]['macs_per_frame']:>6} {polyphase.delay / in_rate * 1000:>6.2f}"
                f" {speex.delay / in_rate * 1000:>12.2f}"
            )


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    pin_to_one_core()
    empty, _ = build(0, "pairs")
    empty_tick = cpu_per_tick(empty, seconds) * 1e6
    print(f"mixer {RATE} Hz, {FRAME_MS} ms frames ({SAMPLES} samples); one tick is due every {FRAME_MS} ms")
    print(f"baseline: empty tick (device slot only) {empty_tick:.2f} µs")
    print()
    header = f"{'topology':<18} {'slots':>5} {'µs/tick':>9} {'µs/tick/slot':>13} {'memcpy µs/tick':>15} {'core %':>7}"
    print(header)
    for topology in TOPOLOGIES:
        for slots in SLOTS:
            mixer, _ports = build(slots, topology)
            per_tick = cpu_per_tick(mixer, seconds) * 1e6
            copies = _benchmark_copy(SAMPLES, 2 * slots, 2000) / 2000 / 1000
            core = per_tick / (FRAME_MS * 1000) * 100
            print(
                f"{topology:<18} {slots:>5} {per_tick:>9.1f} {per_tick / slots:>13.2f} {copies:>15.1f} {core:>6.2f}%"
            )
            del mixer, _ports
    converters(seconds)


if __name__ == "__main__":
    main()
