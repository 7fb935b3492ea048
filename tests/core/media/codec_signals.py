"""Test signals and measurements for the codec tests, in plain Python (no numpy here).

Signals are ``array('h')`` of mono samples. The measurements are the textbook ones: the delay a
codec adds is found by cross-correlation, SNR is signal energy over the energy of the difference
after that alignment, and the level of one tone is read with the Goertzel algorithm.
"""

from __future__ import annotations

import itertools
import math
import operator
import random
from array import array

#: Tones of the speech-like signal (Hz, amplitude): a low "voice" with formant-like partials,
#: none of them harmonics of another, all inside the 300-3400 Hz telephone band.
SPEECH_TONES = (
    (220.0, 2500.0),
    (470.0, 2000.0),
    (910.0, 1800.0),
    (1630.0, 1200.0),
    (2450.0, 800.0),
    (3100.0, 500.0),
)


def clip(value: float) -> int:
    return max(-32768, min(32767, round(value)))


def sine(rate: int, seconds: float, frequency: float = 1000.0, amplitude: float = 8000.0) -> array:
    step = 2 * math.pi * frequency / rate
    return array("h", [clip(amplitude * math.sin(step * i)) for i in range(int(rate * seconds))])


def speech_like(rate: int, seconds: float, seed: int = 7) -> array:
    """A sum of the SPEECH_TONES, amplitude-modulated at a syllable rate (4 Hz), plus white noise
    30 dB below the tones."""
    rng = random.Random(seed)
    phases = [rng.uniform(0.0, 2 * math.pi) for _ in SPEECH_TONES]
    out = array("h")
    for i in range(int(rate * seconds)):
        t = i / rate
        envelope = 0.6 + 0.4 * math.sin(2 * math.pi * 4.0 * t)
        tones = sum(
            a * math.sin(2 * math.pi * f * t + p) for (f, a), p in zip(SPEECH_TONES, phases, strict=True)
        )
        out.append(clip(envelope * tones + rng.gauss(0.0, 80.0)))
    return out


def codec_delay(source: array, decoded: array, max_lag: int, start: int, length: int = 2000) -> int:
    """The lag (in samples) at which ``decoded`` best matches ``source`` (cross-correlation over
    ``length`` samples from ``start``)."""
    window = source[start : start + length]
    best_lag, best = 0, -math.inf
    for lag in range(max_lag + 1):
        score = sum(map(operator.mul, window, decoded[start + lag : start + lag + length]))
        if score > best:
            best_lag, best = lag, score
    return best_lag


def snr_db(reference: array, signal: array, lag: int = 0, start: int = 0) -> float:
    """10 log10(energy of reference / energy of (reference - signal delayed by lag)), from start."""
    count = min(len(reference), len(signal) - lag) - start
    ref = reference[start : start + count]
    sig = signal[start + lag : start + lag + count]
    energy = sum(v * v for v in ref)
    error = sum((a - b) ** 2 for a, b in zip(ref, sig, strict=True))
    return math.inf if error == 0 else 10 * math.log10(energy / error)


def tone_level_db(samples: array, rate: int, frequency: float) -> float:
    """Power of one frequency in ``samples`` (Goertzel), in dB of an arbitrary reference."""
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for v in samples:
        s1, s2 = v + coefficient * s1 - s2, s1
    return 10 * math.log10(s1 * s1 + s2 * s2 - coefficient * s1 * s2 + 1e-9)


def rms(samples: array) -> float:
    return math.sqrt(sum(v * v for v in samples) / len(samples)) if samples else 0.0


def max_step(samples: array) -> int:
    """The largest difference between neighbouring samples."""
    return max(abs(b - a) for a, b in itertools.pairwise(samples))
