"""G.722 for several streams at once (csrc/g722_multi.c, through media_codec_encode_batch() /
media_codec_decode_batch() and the codec's batch entries).

The batch path codes up to four streams in the lanes of one SIMD pass (where the CPU has AVX2).
Whatever the grouping, every stream must get exactly the bytes / samples one Encoder / Decoder per
stream gives, its state must be left where the single calls leave it (so a stream can move between
the two paths at any frame), and a bad job must get the error encode() / decode() gives without
disturbing its neighbours. The reference in every test is the one-stream path, itself checked
against spandsp and FFmpeg in test_g722.py.
"""

from __future__ import annotations

import math
import platform
import random
import sys
import sysconfig
from array import array
from pathlib import Path

import pytest

from sipsimple.core.media._codecs import (
    ECORRUPT,
    EFRAME,
    ENOSPACE,
    Decoder,
    Encoder,
    MediaCodecError,
    _g722_multi_active,
    decode_together,
    encode_together,
)
from tests.core.media.test_g722 import extreme_code_streams

FRAME = 320  # 20 ms at 16 kHz


def clip(value: float) -> int:
    return max(-32768, min(32767, round(value)))


def stream_signal(index: int, samples: int) -> bytes:
    """A different signal per stream: tones, noise of several levels, full-scale squares."""
    rng = random.Random(1000 + index)
    kind = index % 4
    if kind == 0:
        f1, f2 = 300 + 170 * index, 2100 + 230 * index
        values = (
            clip(
                9000 * math.sin(2 * math.pi * f1 * i / 16000) + 6000 * math.sin(2 * math.pi * f2 * i / 16000)
            )
            for i in range(samples)
        )
    elif kind == 1:
        values = (clip(rng.gauss(0, 20 if (i // 1600) % 2 else 9000)) for i in range(samples))
    elif kind == 2:
        values = (rng.randint(-32768, 32767) for _ in range(samples))
    else:
        period = 1 + index
        values = (32767 if (i // period) % 2 else -32768 for i in range(samples))
    return array("h", values).tobytes()


def warmed_pairs(count: int) -> tuple[list[Encoder], list[Encoder]]:
    """`count` encoders for the batch path and as many references, each pair having already coded
    its own stretch of audio (different lengths), so that the lanes start from different states."""
    batch, single = [], []
    for s in range(count):
        history = stream_signal(s + 50, FRAME * (1 + s % 3))
        a, b = Encoder("G722"), Encoder("G722")
        assert a.encode(history) == b.encode(history)
        batch.append(a)
        single.append(b)
    return batch, single


@pytest.mark.parametrize("count", range(1, 10))
def test_streams_in_batches_encode_to_the_bytes_of_one_encoder_each(count):
    """One to nine streams (groups of four and every remainder), different signals and different
    starting states: six frames in a row through the batch path give, stream by stream, the bytes
    of an Encoder of its own."""
    batch, single = warmed_pairs(count)
    signals = [stream_signal(s, 6 * FRAME) for s in range(count)]
    for f in range(6):
        frames = [signal[2 * FRAME * f : 2 * FRAME * (f + 1)] for signal in signals]
        expected = [encoder.encode(frame) for encoder, frame in zip(single, frames, strict=True)]
        assert encode_together(batch, frames) == expected, f


@pytest.mark.parametrize("count", range(1, 10))
def test_streams_in_batches_decode_to_the_samples_of_one_decoder_each(count):
    """The same for decoding: encoded audio and random bytes, different starting states (each
    decoder pair has decoded its own stretch first)."""
    rng = random.Random(count)
    batch, single = [], []
    for s in range(count):
        history = bytes(rng.randrange(256) for _ in range(80 * (1 + s % 3)))
        a, b = Decoder("G722"), Decoder("G722")
        assert a.decode(history) == b.decode(history)
        batch.append(a)
        single.append(b)
    streams = [
        Encoder("G722").encode(stream_signal(s, 4 * FRAME))
        if s % 2
        else bytes(rng.randrange(256) for _ in range(2 * FRAME))
        for s in range(count)
    ]
    for f in range(4):
        payloads = [stream[FRAME // 2 * f : FRAME // 2 * (f + 1)] for stream in streams]
        expected = [decoder.decode(payload) for decoder, payload in zip(single, payloads, strict=True)]
        assert decode_together(batch, payloads) == expected, f


@pytest.mark.parametrize("samples", [2, 6, 8, 10, 322, 960, 962])
def test_frames_of_any_even_length_give_the_single_path_bytes_and_samples(samples):
    """Lengths that leave remainders everywhere: one pair, fewer than the four pairs the lanes are
    transposed by, 161 pairs (one more than a pass), 60 ms (three passes) and 481 pairs."""
    batch, single = warmed_pairs(4)
    frames = [stream_signal(s + 10, samples) for s in range(4)]
    expected = [encoder.encode(frame) for encoder, frame in zip(single, frames, strict=True)]
    assert encode_together(batch, frames) == expected
    decoders, references = [Decoder("G722") for _ in range(4)], [Decoder("G722") for _ in range(4)]
    assert decode_together(decoders, expected) == [
        d.decode(p) for d, p in zip(references, expected, strict=True)
    ]


def test_codes_that_drive_the_predictors_to_their_limits_decode_alike_in_batches():
    """test_g722.py's extreme code streams (every limiter and saturation at its bound), eight
    streams side by side in 20 ms packets, decode to the samples of one Decoder per stream."""
    streams = list(extreme_code_streams().values())
    batch, single = [Decoder("G722") for _ in streams], [Decoder("G722") for _ in streams]
    length = min(len(stream) for stream in streams)
    for offset in range(0, length, FRAME // 2):
        payloads = [stream[offset : offset + FRAME // 2] for stream in streams]
        expected = [decoder.decode(payload) for decoder, payload in zip(single, payloads, strict=True)]
        assert decode_together(batch, payloads) == expected, offset


def test_full_scale_square_waves_encode_alike_in_batches():
    """The encoder's extremes (differences in the quantisers' outermost intervals, scale factors at
    their ceilings), eight periods side by side: the bytes of one Encoder per stream."""
    periods = [1, 2, 3, 5, 8, 13, 21, 34]
    signals = [
        array("h", (32767 if (i // period) % 2 else -32768 for i in range(16000))).tobytes()
        for period in periods
    ]
    batch, single = [Encoder("G722") for _ in periods], [Encoder("G722") for _ in periods]
    for offset in range(0, 2 * 16000, 2 * FRAME):
        frames = [signal[offset : offset + 2 * FRAME] for signal in signals]
        expected = [encoder.encode(frame) for encoder, frame in zip(single, frames, strict=True)]
        assert encode_together(batch, frames) == expected, offset


def test_streams_continue_with_single_calls_exactly_where_the_batch_left_them():
    """The batch path writes every state back: after two batches, single encode(), decode() and
    conceal() calls give what streams that never left the single path give (conceal() proves the
    decoders' loss-concealment history was fed too)."""
    batch, single = warmed_pairs(3)
    signals = [stream_signal(s + 20, 4 * FRAME) for s in range(3)]
    for f in range(2):
        frames = [signal[2 * FRAME * f : 2 * FRAME * (f + 1)] for signal in signals]
        assert encode_together(batch, frames) == [e.encode(x) for e, x in zip(single, frames, strict=True)]
    for a, b, signal in zip(batch, single, signals, strict=True):
        assert a.encode(signal[4 * FRAME :]) == b.encode(signal[4 * FRAME :])

    codes = [Encoder("G722").encode(signal) for signal in signals]
    decoders, references = [Decoder("G722") for _ in range(3)], [Decoder("G722") for _ in range(3)]
    for f in range(2):
        payloads = [c[FRAME // 2 * f : FRAME // 2 * (f + 1)] for c in codes]
        assert decode_together(decoders, payloads) == [
            d.decode(p) for d, p in zip(references, payloads, strict=True)
        ]
    for a, b, c in zip(decoders, references, codes, strict=True):
        assert a.conceal(FRAME) == b.conceal(FRAME)
        assert a.decode(c[FRAME:]) == b.decode(c[FRAME:])


def test_a_batch_may_mix_codecs_and_each_job_gets_what_its_own_codec_gives():
    """PCMU, G.722 and PCMA jobs interleaved in one call: the G.722 ones are gathered for the
    codec's batch entry, the others go one by one; every result lands at its own job."""
    names = ["PCMU", "G722", "G722", "PCMA", "G722", "PCMU", "G722", "G722"]
    rates = {"PCMU": 8000, "PCMA": 8000, "G722": 16000}
    batch = [Encoder(name) for name in names]
    single = [Encoder(name) for name in names]
    frames = [stream_signal(s, rates[name] // 50) for s, name in enumerate(names)]
    expected = [encoder.encode(frame) for encoder, frame in zip(single, frames, strict=True)]
    assert encode_together(batch, frames) == expected
    decoders = [Decoder(name) for name in names]
    references = [Decoder(name) for name in names]
    assert decode_together(decoders, expected) == [
        d.decode(p) for d, p in zip(references, expected, strict=True)
    ]


def test_bad_jobs_get_the_errors_encode_gives_and_leave_the_others_alone():
    """An odd sample count (EFRAME) and an output buffer one byte short (ENOSPACE) among good jobs:
    each bad job gets encode()'s status, its state is untouched (its next frame codes as if the
    bad call never happened), and the good jobs around it give their usual bytes."""
    batch, single = warmed_pairs(6)
    frames = [stream_signal(s + 30, FRAME) for s in range(6)]
    frames[1] = frames[1][:-2]  # 319 samples
    caps = [FRAME // 2] * 6
    caps[4] = FRAME // 2 - 1
    results = encode_together(batch, frames, caps)
    assert results[1] == EFRAME
    assert results[4] == ENOSPACE
    with pytest.raises(MediaCodecError) as odd:
        single[1].encode(frames[1])
    assert odd.value.status == EFRAME
    for s in (0, 2, 3, 5):
        assert results[s] == single[s].encode(frames[s])
    follow = [stream_signal(s + 40, FRAME) for s in range(6)]
    assert encode_together(batch, follow) == [e.encode(x) for e, x in zip(single, follow, strict=True)]


def test_bad_decode_jobs_get_the_errors_decode_gives_and_leave_the_others_alone():
    """An empty payload (ECORRUPT) and too little PCM room (ENOSPACE) among good jobs."""
    codes = [Encoder("G722").encode(stream_signal(s, 2 * FRAME)) for s in range(5)]
    batch, single = [Decoder("G722") for _ in range(5)], [Decoder("G722") for _ in range(5)]
    payloads = [c[: FRAME // 2] for c in codes]
    payloads[2] = b""
    caps = [FRAME] * 5
    caps[3] = FRAME - 1
    results = decode_together(batch, payloads, caps)
    assert results[2] == ECORRUPT
    assert results[3] == ENOSPACE
    for s in (0, 1, 4):
        assert results[s] == single[s].decode(payloads[s])
    follow = [c[FRAME // 2 :] for c in codes]
    assert decode_together(batch, follow) == [
        d.decode(p) if s not in (2, 3) else Decoder("G722").decode(p)
        for s, (d, p) in enumerate(zip(single, follow, strict=True))
    ]


def test_jobs_of_different_lengths_are_grouped_by_length():
    """20 ms and 40 ms frames interleaved in one batch: the codec groups equal lengths (a length
    no other job shares goes alone); every stream still gets its own bytes."""
    lengths = [FRAME, 2 * FRAME, FRAME, FRAME, 2 * FRAME, FRAME, 3 * FRAME]
    batch, single = warmed_pairs(len(lengths))
    frames = [stream_signal(s, n) for s, n in enumerate(lengths)]
    expected = [encoder.encode(frame) for encoder, frame in zip(single, frames, strict=True)]
    assert encode_together(batch, frames) == expected


def test_decode_jobs_of_different_lengths_are_grouped_by_length():
    """Payloads of 20, 40 and 60 ms interleaved in one decode batch: every stream still gets the
    samples of a decoder of its own, and its state where that decoder left it."""
    lengths = [FRAME // 2, FRAME, FRAME // 2, FRAME // 2, FRAME, FRAME // 2, 3 * FRAME // 2]
    rng = random.Random(99)
    batch = [Decoder("G722") for _ in lengths]
    single = [Decoder("G722") for _ in lengths]
    for _ in range(2):
        payloads = [bytes(rng.randrange(256) for _ in range(n)) for n in lengths]
        expected = [decoder.decode(payload) for decoder, payload in zip(single, payloads, strict=True)]
        assert decode_together(batch, payloads) == expected
    follow = bytes(rng.randrange(256) for _ in range(FRAME // 2))
    assert [d.decode(follow) for d in batch] == [d.decode(follow) for d in single]


def test_the_simd_passes_run_where_the_build_and_cpu_allow():
    """On x86-64 Linux built by GCC (what CI builds) with a CPU that has AVX2, batches really run
    several streams per pass: the equality tests above then check the AVX2 kernel, not only the
    one-stream fallback."""
    if (
        sys.platform != "linux"
        or platform.machine() != "x86_64"
        or "clang" in str(sysconfig.get_config_var("CC"))
    ):
        pytest.skip("the AVX2 kernel is built by GCC for x86-64 only")
    if "avx2" not in Path("/proc/cpuinfo").read_text().split():
        pytest.skip("no AVX2 here: batches run one stream after the other")
    assert _g722_multi_active()


def test_one_state_may_not_be_two_jobs_of_a_batch():
    """The lanes of a pass must be distinct states: the hook refuses a repeated one."""
    encoder = Encoder("G722")
    with pytest.raises(ValueError):
        encode_together([encoder, encoder], [bytes(2 * FRAME)] * 2)
