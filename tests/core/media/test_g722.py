"""Our G.722 (csrc/g722.c) against spandsp's, the implementation it replaced, called through ctypes.

Encoding must give the same bytes over long random, tone, speech-like and full-scale inputs;
decoding the same samples from those bytes and from random bytes. The one deliberate difference:
where the receive QMF's output leaves the 16-bit range (only random or full-scale codes get
there), spandsp wraps around (a plain int16 cast) and we saturate, as FFmpeg does; the tests check
that every differing sample is such a case and that the decoders' states never part (the next
samples agree). Cross-decoding with FFmpeg is in test_cross_decode.py.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import random
from array import array

import pytest

from sipsimple.core.media._codecs import Decoder, Encoder

FRAME = 320  # 20 ms at 16 kHz


def load_spandsp():
    name = ctypes.util.find_library("spandsp")
    if name is None:
        pytest.skip("libspandsp is not installed")
    lib = ctypes.CDLL(name)
    lib.g722_encode_init.restype = ctypes.c_void_p
    lib.g722_encode_init.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.g722_decode_init.restype = ctypes.c_void_p
    lib.g722_decode_init.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.g722_encode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
    lib.g722_decode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.g722_encode_free.argtypes = [ctypes.c_void_p]
    lib.g722_decode_free.argtypes = [ctypes.c_void_p]
    return lib


@pytest.fixture(scope="module")
def spandsp():
    return load_spandsp()


def spandsp_encode(lib, pcm: array) -> bytes:
    state = lib.g722_encode_init(None, 64000, 0)
    out = ctypes.create_string_buffer(len(pcm) // 2)
    try:
        written = lib.g722_encode(state, out, pcm.buffer_info()[0], len(pcm))
    finally:
        lib.g722_encode_free(state)
    assert written == len(pcm) // 2
    return out.raw


def spandsp_decode(lib, codes: bytes) -> array:
    state = lib.g722_decode_init(None, 64000, 0)
    out = array("h", bytes(4 * len(codes)))
    try:
        written = lib.g722_decode(state, out.buffer_info()[0], codes, len(codes))
    finally:
        lib.g722_decode_free(state)
    assert written == 2 * len(codes)
    return out


def our_encode(pcm: array) -> bytes:
    encoder = Encoder("G722")
    return b"".join(encoder.encode(pcm[i : i + FRAME].tobytes()) for i in range(0, len(pcm), FRAME))


def our_decode(codes: bytes) -> array:
    decoder, out = Decoder("G722"), array("h")
    for i in range(0, len(codes), FRAME // 2):
        out.frombytes(decoder.decode(codes[i : i + FRAME // 2]))
    return out


def clip(value: float) -> int:
    return max(-32768, min(32767, round(value)))


def signals() -> dict[str, array]:
    rng = random.Random(722)
    seconds = 16000 * 10
    tones = [(440.0, 9000.0), (1170.0, 7000.0), (3350.0, 5000.0), (6900.0, 4000.0)]
    return {
        "white noise, full scale": array("h", (rng.randint(-32768, 32767) for _ in range(seconds))),
        "four tones up to 6.9 kHz": array(
            "h",
            (clip(sum(a * math.sin(2 * math.pi * f * i / 16000) for f, a in tones)) for i in range(seconds)),
        ),
        "bursts of noise between near silence": array(
            "h", (clip(rng.gauss(0, 8000 if (i // 4000) % 2 else 20)) for i in range(seconds))
        ),
        "a sweep 50 Hz to 7.9 kHz": array(
            "h",
            (
                clip(12000 * math.sin(2 * math.pi * (50 * i + 7850 * i * i / (2 * seconds)) / 16000))
                for i in range(seconds)
            ),
        ),
        "a full-scale square wave": array("h", (32767 if (i // 40) % 2 else -32768 for i in range(seconds))),
    }


SIGNALS = signals()


def assert_same_but_for_wraps(theirs: array, ours: array) -> int:
    """Equal sample for sample, except where spandsp wrapped around and we saturated."""
    assert len(theirs) == len(ours)
    differences = [i for i, (t, o) in enumerate(zip(theirs, ours, strict=True)) if t != o]
    for i in differences:
        # we saturated: spandsp's value is the same sum taken modulo 2^16, of the other sign
        assert (ours[i] == 32767 and theirs[i] < 0) or (ours[i] == -32768 and theirs[i] >= 0), (
            i,
            theirs[i],
            ours[i],
        )
    return len(differences)


@pytest.mark.parametrize("name", list(SIGNALS))
def test_our_encoder_writes_the_bytes_spandsp_writes(spandsp, name):
    """Ten seconds of each signal, in 20 ms frames: byte for byte the same code stream."""
    pcm = SIGNALS[name]
    assert our_encode(pcm) == spandsp_encode(spandsp, pcm)


@pytest.mark.parametrize("name", list(SIGNALS))
def test_our_decoder_gives_spandsps_samples_for_encoded_audio(spandsp, name):
    """Decoding the encoded signals: the same samples (a full-scale signal may overshoot, see the
    module docstring); the tones, the sweep and the bursts never leave the 16-bit range."""
    codes = spandsp_encode(spandsp, SIGNALS[name])
    differences = assert_same_but_for_wraps(spandsp_decode(spandsp, codes), our_decode(codes))
    if "full" not in name:
        assert differences == 0


def test_random_code_bytes_decode_to_spandsps_samples_saturated_where_it_wraps(spandsp):
    """A minute of random bytes (every code, any sequence): the same samples but for the overshoots,
    which are a small share (and after each the decoders agree again)."""
    rng = random.Random(9)
    codes = bytes(rng.randrange(256) for _ in range(16000 * 30))
    differences = assert_same_but_for_wraps(spandsp_decode(spandsp, codes), our_decode(codes))
    assert 0 < differences < len(codes) // 50


def test_an_overshooting_output_saturates_instead_of_wrapping(spandsp):
    """The full-scale square wave's decoded overshoot is clipped to the rails: around the middle
    of each positive half period every sample is positive with us, while spandsp's wrapped
    samples there are negative."""
    pcm = SIGNALS["a full-scale square wave"][:16000]
    codes = spandsp_encode(spandsp, pcm)
    ours, theirs = our_decode(codes), spandsp_decode(spandsp, codes)
    delay = 22  # the two QMFs' delay, in samples
    # positive half periods are [80 k + 40, 80 k + 80): their middles, shifted by the delay
    middles = [ours[80 * k + 60 + delay + j] for k in range(2, 190) for j in range(-8, 8)]
    wrapped = [theirs[80 * k + 60 + delay + j] for k in range(2, 190) for j in range(-8, 8)]
    assert min(middles) > 0
    assert min(wrapped) < 0  # the overshoot that spandsp turns into a negative full-scale sample
    assert max(ours) == 32767


def test_frames_of_any_even_size_give_the_same_stream():
    """The encoder and decoder keep their state across calls: 10 ms, 20 ms, 60 ms frames and one
    odd-sized (but even) split all give the bytes and samples one call gives."""
    pcm = SIGNALS["four tones up to 6.9 kHz"][: 16000 * 2]
    whole = Encoder("G722").encode(pcm.tobytes())
    for size in (160, 320, 960, 1234):
        encoder = Encoder("G722")
        assert (
            b"".join(encoder.encode(pcm[i : i + size].tobytes()) for i in range(0, len(pcm), size)) == whole
        )
    decoded = Decoder("G722").decode(whole)
    decoder = Decoder("G722")
    assert b"".join(decoder.decode(whole[i : i + 617]) for i in range(0, len(whole), 617)) == decoded


def extreme_code_streams() -> dict[str, bytes]:
    """Code streams that push the predictors to their limits: for a code byte c, c repeated (the
    zero-section coefficients reach -32768 or 32767, the scale factors their ceilings or floors),
    then c alternating with its complement, then runs of seven of c and of c with its lower band's
    sign flipped (the pole coefficients swing between their bounds)."""
    streams = {}
    for c in (0x00, 0x04, 0x1F, 0x33, 0x66, 0x99, 0xCC, 0xFF):
        repeated = bytes([c]) * 2000
        alternating = bytes([c, 255 - c]) * 1000
        runs = bytes(c if (i // 7) % 2 else c ^ 0x20 for i in range(2000))
        streams[f"{c:#04x}: repeated, alternating, in runs"] = repeated + alternating + runs
    return streams


@pytest.mark.parametrize("name", list(extreme_code_streams()))
def test_codes_that_drive_the_predictors_to_their_limits_decode_to_spandsps_samples(spandsp, name):
    """Every saturation and limiter of the Recommendation is exercised at its bound (our decoder
    computes most of them as 16-bit vector lanes): the same samples as spandsp's wherever the
    output stays within 16 bits. These streams overshoot far (often by more than one wrap of
    spandsp's int16 cast), so a differing sample need only be one we saturated; the predictors'
    states must still agree, or the samples in range would differ too."""
    codes = extreme_code_streams()[name]
    theirs, ours = spandsp_decode(spandsp, codes), our_decode(codes)
    in_range = [i for i, o in enumerate(ours) if -32768 < o < 32767]
    assert len(in_range) > len(ours) // 4
    assert [ours[i] for i in in_range] == [theirs[i] for i in in_range]


def ffmpeg_g722_decode(codes: bytes) -> array:
    """FFmpeg's G.722 decoder (through PyAV), fed 20 ms packets."""
    av = pytest.importorskip(
        "av", reason="PyAV (package 'av', pinned in requirements/dev.txt) is not installed"
    )
    context = av.CodecContext.create("g722", "r")
    context.sample_rate, context.layout = 16000, "mono"
    out = array("h")
    for i in range(0, len(codes), FRAME // 2):
        for frame in context.decode(av.Packet(codes[i : i + FRAME // 2])):
            out.frombytes(bytes(frame.planes[0])[: 2 * frame.samples])
    return out


@pytest.mark.parametrize("name", list(extreme_code_streams()))
def test_codes_that_drive_the_predictors_to_their_limits_decode_to_ffmpegs_samples_exactly(name):
    """FFmpeg saturates the output as we do, so on these streams it must agree with us on every
    sample, the overshoots included: the limiters at their bounds leave their mark there (a
    pole-coefficient limit off by a few hundred changes only overshooting samples)."""
    codes = extreme_code_streams()[name]
    assert our_decode(codes) == ffmpeg_g722_decode(codes)


@pytest.mark.parametrize("period", [1, 2, 3, 5, 8, 13, 21, 34])
def test_full_scale_square_waves_of_any_period_encode_to_spandsps_bytes(spandsp, period):
    """The encoder's extremes: full-scale square waves from 8 kHz down to 235 Hz push the
    differences to the quantisers' outermost intervals and the scale factors to their ceilings."""
    pcm = array("h", (32767 if (i // period) % 2 else -32768 for i in range(16000 * 2)))
    assert our_encode(pcm) == spandsp_encode(spandsp, pcm)


def test_decoding_in_blocks_of_one_to_seventeen_bytes_gives_the_samples_of_one_call():
    """The receive QMF works eight code bytes at a time with a remainder loop: blocks of every size
    from 1 to 17 bytes (every remainder, and blocks smaller than one pass) give the same samples as
    decoding the whole stream at once."""
    codes = Encoder("G722").encode(SIGNALS["a sweep 50 Hz to 7.9 kHz"][:16000].tobytes())
    whole = Decoder("G722").decode(codes)
    for size in range(1, 18):
        decoder = Decoder("G722")
        assert b"".join(decoder.decode(codes[i : i + size]) for i in range(0, len(codes), size)) == whole, (
            size
        )


def test_encoding_in_blocks_of_two_to_thirty_four_samples_gives_the_bytes_of_one_call():
    """The same for the encoder's transmit QMF and ADPCM passes: blocks of every even size from 2
    to 34 samples give the bytes one call gives."""
    pcm = SIGNALS["bursts of noise between near silence"][:16000]
    whole = Encoder("G722").encode(pcm.tobytes())
    for size in range(2, 35, 2):
        encoder = Encoder("G722")
        assert (
            b"".join(encoder.encode(pcm[i : i + size].tobytes()) for i in range(0, len(pcm), size)) == whole
        ), size
