"""Signals and measurements for the mixer, WAV and tone tests, in plain Python (no numpy here).

Signals are ``array('h')`` of samples; ``pcm()`` turns them into the native-endian bytes the
extension takes. The level of one frequency is measured with the Goertzel algorithm (one DFT bin,
normalised so that a full-length sine of amplitude A reads A).
"""

from __future__ import annotations

import math
import random
from array import array
from collections.abc import Iterable, Sequence

#: The eight DTMF frequencies (RFC 4733 / ITU-T Q.23 keypad).
DTMF_LOW = (697, 770, 852, 941)
DTMF_HIGH = (1209, 1336, 1477, 1633)


def clip(value: float) -> int:
    return max(-32768, min(32767, round(value)))


def pcm(samples: Iterable[int]) -> bytes:
    return array("h", samples).tobytes()


def samples(data: bytes) -> array:
    out = array("h")
    out.frombytes(data)
    return out


def constant(value: int, count: int) -> array:
    return array("h", [value]) * count


def sine(rate: int, seconds: float, frequency: float, amplitude: float = 8000.0, phase: float = 0.0) -> array:
    step = 2 * math.pi * frequency / rate
    return array("h", [clip(amplitude * math.sin(phase + step * i)) for i in range(round(rate * seconds))])


def noise(count: int, amplitude: float = 6000.0, seed: int = 1) -> array:
    rng = random.Random(seed)
    return array("h", [clip(rng.gauss(0.0, amplitude)) for _ in range(count)])


def interleave(left: Sequence[int], right: Sequence[int]) -> array:
    out = array("h", bytes(4 * len(left)))
    out[0::2] = array("h", left)
    out[1::2] = array("h", right)
    return out


def rms(values: Sequence[int]) -> float:
    return math.sqrt(sum(v * v for v in values) / len(values)) if values else 0.0


def goertzel(values: Sequence[int], rate: int, frequency: float) -> float:
    """Amplitude of ``frequency`` in ``values`` (a sine of amplitude A over the window reads ~A)."""
    n = len(values)
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for v in values:
        s1, s2 = v + coefficient * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
    return 2 * math.sqrt(max(power, 0.0)) / n


def strongest(values: Sequence[int], rate: int, candidates: Iterable[float]) -> list[float]:
    """The candidate frequencies sorted by their level in ``values``, strongest first."""
    return sorted(candidates, key=lambda f: goertzel(values, rate, f), reverse=True)
