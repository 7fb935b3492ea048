"""The demo's test signal and the comparison of a recording with it (pure Python, 16 kHz mono).

The source is LEAD_IN s of silence then the sum of three tones inside the telephone band with a
common 100 ms period. A recording is aligned with the source by its onset (first sample above a
threshold) refined by a cross-correlation search, then compared over a window: least-squares
gain, signal-to-noise ratio of ``gain * source`` against the rest, normalised correlation.
"""

from __future__ import annotations

import math
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path

RATE = 16000
LEAD_IN = 0.3  # seconds of silence before the tones
TONES = ((440.0, 3000.0), (1130.0, 3000.0), (2370.0, 3000.0))  # (Hz, amplitude)


def multitone(seconds: float, rate: int = RATE) -> array:
    """LEAD_IN s of silence then ``seconds`` s of the three tones, as 16-bit samples."""
    out = array("h", bytes(2 * round(LEAD_IN * rate)))
    steps = [(2 * math.pi * frequency / rate, amplitude) for frequency, amplitude in TONES]
    for i in range(round(seconds * rate)):
        value = sum(amplitude * math.sin(step * i) for step, amplitude in steps)
        out.append(max(-32768, min(32767, round(value))))
    return out


def write_wav(path: Path, values: array, rate: int = RATE) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(values.tobytes())


def read_wav(path: Path) -> tuple[array, int]:
    """The samples of a 16-bit WAV file (the first channel) and its sample rate."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path}: not 16-bit PCM")
        channels, rate = wav.getnchannels(), wav.getframerate()
        values = array("h", wav.readframes(wav.getnframes()))
    return (values[::channels] if channels > 1 else values), rate


def _dot(x: array | list[int], y: array | list[int]) -> float:
    return float(sum(a * b for a, b in zip(x, y, strict=True)))


def onset(values: array, threshold: int = 1500) -> int | None:
    return next((i for i, v in enumerate(values) if abs(v) > threshold), None)


@dataclass(frozen=True)
class Match:
    lag: int  # samples the recording is behind the source
    gain: float
    snr: float  # dB
    correlation: float  # normalised cross-correlation, -1..1


def compare(
    source: array, heard: array, start: float, length: float, rate: int = RATE, search: int = 80
) -> Match | None:
    """Aligns ``heard`` with ``source`` and measures ``length`` s from ``start`` s into the source;
    None when the recording has no onset or is too short for the window."""
    heard_onset, source_onset = onset(heard), onset(source)
    if heard_onset is None or source_onset is None:
        return None
    coarse = heard_onset - source_onset
    s0, n = round(start * rate), round(length * rate)
    reference = source[s0 : s0 + n]
    probe = reference[: rate // 8]

    def at(lag: int, count: int) -> array:
        return heard[max(0, s0 + lag) : max(0, s0 + lag) + count]

    candidates = [k for k in range(coarse - search, coarse + search + 1) if len(at(k, n)) == n]
    if not candidates or len(reference) != n:
        return None
    lag = max(candidates, key=lambda k: _dot(probe, at(k, len(probe))))
    window = at(lag, n)
    energy_ref, energy_heard, cross = (
        _dot(reference, reference),
        _dot(window, window),
        _dot(reference, window),
    )
    if not energy_ref or not energy_heard:
        return None
    gain = cross / energy_ref
    noise = energy_heard - 2 * gain * cross + gain * gain * energy_ref
    snr = 10 * math.log10(max(gain * gain * energy_ref, 1e-9) / max(noise, 1e-9))
    return Match(lag, gain, snr, cross / math.sqrt(energy_ref * energy_heard))
