"""Cost of the audio codecs (sipsimple.core.media._codecs) per 20 ms frame, on one core.

For every codec, on a speech-like signal (tones with a syllable envelope, plus noise):
  * C: µs to encode one 20 ms frame and to decode one packet, measured inside C with the GIL
    released and no Python in the loop (what the mixer and the RTP stream will pay), the best of
    five rounds, so that a busy machine inflates them less;
  * Python API: µs for ``Encoder.encode()`` + ``Decoder.decode()`` of one frame from Python;
  * the µs of codec CPU per call-second (50 frames each way) and the payload size; for G.722 also
    what both ends of a call cost together (the codec's share of media_cpu.py's G722 figure);
  * for codecs with a batch form (G.722: several streams in the lanes of one SIMD pass), the same
    C figures per stream-frame when BATCH streams are coded in one media_codec_encode_batch() /
    decode_batch() call (what the mixer does with the streams of a tick), beside the one-stream
    figures of the same run.
Baselines measured in the same run:
  * a trivial pass through the same Python call shape (``bytes(frame)``), the floor of any
    per-frame Python call;
  * Python's own G.711 mu-law formula loop over one 20 ms frame (what PCMU would cost without C,
    now that ``audioop`` is gone from Python 3.13);
  * spandsp's G.722 (the implementation ours replaced), encode and decode of the same 20 ms
    frames through ctypes (a ctypes call adds about 0.3 µs), when libspandsp is installed.

Run: .venv/bin/python benchmarks/media_codecs.py [seconds per figure, default 1]
Not a test: nothing here asserts on time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import random
import sys
import time
from array import array

from _common import pin_to_one_core, rate

from sipsimple.core.media import _codecs

ROUNDS = 5  # the C figures are the best of this many rounds (other processes only ever add time)
BATCH = 4  # streams per batch call for the batch figures (G722_MULTI: the lanes of one pass)
BATCH_CODECS = ("G722",)  # the codecs with a batch form (csrc/codec.h encode_batch)


def speech_like(sample_rate: int, seconds: float) -> bytes:
    rng = random.Random(7)
    tones = ((220.0, 2500.0), (470.0, 2000.0), (910.0, 1800.0), (1630.0, 1200.0), (2450.0, 800.0))
    out = array("h")
    for i in range(int(sample_rate * seconds)):
        t = i / sample_rate
        value = (0.6 + 0.4 * math.sin(8 * math.pi * t)) * sum(
            a * math.sin(2 * math.pi * f * t) for f, a in tones
        )
        out.append(max(-32768, min(32767, round(value + rng.gauss(0, 80)))))
    return out.tobytes()


def python_ulaw(frame: bytes) -> bytes:
    """G.711 mu-law from its formulas, in plain Python (the baseline)."""
    out = bytearray()
    for x in array("h", frame):
        magnitude = min(((x if x >= 0 else ~x) >> 2) + 33, 0x1FFF)
        segment = magnitude.bit_length() - 6
        code = (segment << 4 | (magnitude >> (segment + 1)) & 0xF) ^ 0x7F
        out.append(code | 0x80 if x >= 0 else code)
    return bytes(out)


def spandsp_g722(pcm: bytes, seconds: float) -> tuple[float, float] | None:
    """µs per 20 ms frame for spandsp's G.722 encode and decode (64 kbit/s), or None without it."""
    name = ctypes.util.find_library("spandsp")
    if name is None:
        return None
    lib = ctypes.CDLL(name)
    lib.g722_encode_init.restype = lib.g722_decode_init.restype = ctypes.c_void_p
    lib.g722_encode_init.argtypes = lib.g722_decode_init.argtypes = [
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_int,
    ]
    lib.g722_encode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
    lib.g722_decode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
    encoder, decoder = lib.g722_encode_init(None, 64000, 0), lib.g722_decode_init(None, 64000, 0)
    frames = [pcm[i : i + 640] for i in range(0, len(pcm) - 639, 640)]
    codes, out = ctypes.create_string_buffer(160), ctypes.create_string_buffer(640)
    encode, decode = lib.g722_encode, lib.g722_decode
    count = max(50, int(20000 * seconds))
    start = time.perf_counter()
    for i in range(count):
        encode(encoder, codes, frames[i % len(frames)], 320)
    middle = time.perf_counter()
    for _ in range(count):
        decode(decoder, out, codes, 160)
    end = time.perf_counter()
    return (middle - start) / count * 1e6, (end - middle) / count * 1e6


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    pin_to_one_core()
    print(f"codec libraries: {_codecs.library_versions()}")
    print(
        f"{'codec':<14}{'C encode':>10}{'C decode':>10}{'C µs/call-s':>13}{'Python enc+dec':>16}{'bytes':>7}"
    )
    pcm8k = speech_like(8000, 1.0)
    g722: tuple[float, float] | None = None
    batched: list[tuple[str, float, float, float, float]] = []
    for info in _codecs.available_codecs():
        pcm = speech_like(info.clock_rate, 1.0)
        frame = info.clock_rate // 50
        iterations = max(10, int(20000 * seconds) // ROUNDS)
        rounds = [
            _codecs._time_codec(info.name, info.clock_rate, pcm, frame, iterations) for _ in range(ROUNDS)
        ]
        encode_us = min(encode for encode, _ in rounds) / iterations / 1000
        decode_us = min(decode for _, decode in rounds) / iterations / 1000
        if info.name == "G722":
            g722 = (encode_us, decode_us)
        if info.name in BATCH_CODECS:
            batch_rounds = [
                _codecs._time_codec_batch(info.name, info.clock_rate, pcm, frame, iterations, BATCH)
                for _ in range(ROUNDS)
            ]
            per_frame = iterations * BATCH * 1000
            batched.append(
                (
                    f"{info.name}/{info.clock_rate}",
                    encode_us,
                    decode_us,
                    min(encode for encode, _ in batch_rounds) / per_frame,
                    min(decode for _, decode in batch_rounds) / per_frame,
                )
            )
        encoder, decoder = (
            _codecs.Encoder(info.name, info.clock_rate),
            _codecs.Decoder(info.name, info.clock_rate),
        )
        one = pcm[: 2 * frame]
        payload = encoder.encode(one)

        def both(data: bytes, encoder=encoder, decoder=decoder) -> None:
            decoder.decode(encoder.encode(data))

        python_us = 1e6 / rate(both, one, seconds)
        label = f"{info.name}/{info.clock_rate}"
        per_second = 50 * (encode_us + decode_us)
        print(
            f"{label:<14}{encode_us:>9.2f} {decode_us:>9.2f} {per_second:>12.1f} {python_us:>15.2f} {len(payload):>6}"
        )
    for label, one_encode, one_decode, many_encode, many_decode in batched:
        print(
            f"{label} in batches of {BATCH} streams, C µs per stream-frame: encode {many_encode:.2f} "
            f"(one stream {one_encode:.2f}), decode {many_decode:.2f} (one stream {one_decode:.2f}); "
            f"per call-second {50 * (many_encode + many_decode):.1f} (one stream "
            f"{50 * (one_encode + one_decode):.1f})"
        )
    frame8k = pcm8k[:320]
    print("baselines (20 ms at 8 kHz):")
    print(f"  bytes(frame) through one Python call:   {1e6 / rate(bytes, frame8k, seconds):8.2f} µs")
    print(
        f"  mu-law formula loop in Python:          {1e6 / rate(python_ulaw, frame8k, seconds / 4):8.2f} µs"
    )
    assert python_ulaw(frame8k) == _codecs.Encoder("PCMU").encode(frame8k), "baseline is not G.711"
    spandsp = spandsp_g722(speech_like(16000, 1.0), seconds)
    if spandsp is not None:
        print(f"  spandsp G.722 (ctypes), encode / decode: {spandsp[0]:8.2f} / {spandsp[1]:.2f} µs")
    if g722 is not None:
        print(
            f"G.722 codec per call-second with both ends in one process (benchmarks/media_cpu.py "
            f"--codec G722): {100 * (g722[0] + g722[1]):.0f} µs"
        )
    for label, _, _, many_encode, many_decode in batched:
        if label.startswith("G722"):
            print(
                f"  ... with the streams coded {BATCH} at a time: {100 * (many_encode + many_decode):.0f} µs"
            )


if __name__ == "__main__":
    main()
