"""The mixer's sample-rate converters (csrc/resample.c through ``Resampler``, and inside the mixer).

The polyphase converter is held to its design: tones up to 0.9 x the lower Nyquist frequency keep
their amplitude within 0.5 dB; tones above the lower Nyquist frequency are attenuated by at least
55 dB when going down (nothing aliases back), and the images of passband tones by at least 55 dB
when going up. Levels are measured with a Goertzel filter over a window holding whole cycles of
every frequency involved, after the filter's delay has passed. The minimum-phase engine (the
mixer's "low-delay" converter) is held to the same magnitude limits, and its group delay is
measured through the passband.
"""

from __future__ import annotations

import cmath
import math
import random
from array import array

import pytest

from sipsimple.core.media._mixer import AudioMixer, MemoryPort, Resampler
from tests.core.media.mixer_signals import clip, constant, goertzel, noise, pcm, rms, samples, sine

#: Rate pairs the mixer meets (8/16/32/48 kHz mixers, 8-48 kHz ports) and 24 <-> 48 kHz.
PAIRS = [
    (8000, 16000),
    (8000, 32000),
    (8000, 48000),
    (16000, 32000),
    (16000, 48000),
    (24000, 48000),
    (32000, 48000),
]
BOTH_WAYS = PAIRS + [(b, a) for a, b in PAIRS]
AMPLITUDE = 16000.0
ENGINES = ("polyphase", "minimum-phase")


def convert(resampler: Resampler, values) -> array:
    frames = len(values) // resampler.in_frame
    return samples(resampler.process(pcm(values[: frames * resampler.in_frame])))


def steady_window(resampler: Resampler, output: array, seconds: float = 0.1) -> array:
    """The last ``seconds`` of the output, well after the filter's delay."""
    count = round(resampler.out_rate * seconds)
    skip = math.ceil(resampler.delay * resampler.out_rate / resampler.in_rate) + 16
    assert len(output) >= skip + count, "the test signal is too short for the filter's delay"
    return output[-count:]


def tone_through(
    in_rate: int, out_rate: int, frequency: float, seconds: float = 0.3, engine: str = "polyphase"
) -> tuple[Resampler, array]:
    resampler = Resampler(in_rate, out_rate, in_rate // 50, engine=engine)
    return resampler, convert(resampler, sine(in_rate, seconds, frequency, AMPLITUDE))


def decibels(level: float, reference: float = AMPLITUDE) -> float:
    return 20 * math.log10(max(level, 1e-9) / reference)


def passband_tones(in_rate: int, out_rate: int) -> list[int]:
    nyquist = min(in_rate, out_rate) / 2
    return [round(nyquist * fraction / 10) * 10 for fraction in (0.05, 0.3, 0.6, 0.8, 0.9)]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("in_rate", "out_rate"), BOTH_WAYS)
def test_tones_up_to_nine_tenths_of_the_lower_nyquist_keep_their_amplitude_within_half_a_db(
    in_rate, out_rate, engine
):
    for frequency in passband_tones(in_rate, out_rate):
        resampler, output = tone_through(in_rate, out_rate, frequency, engine=engine)
        level = goertzel(steady_window(resampler, output), out_rate, frequency)
        assert abs(decibels(level)) <= 0.5, (frequency, decibels(level))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("in_rate", "out_rate"), [(b, a) for a, b in PAIRS])
def test_tones_above_the_lower_nyquist_are_attenuated_by_55_db_when_going_down(in_rate, out_rate, engine):
    nyquist = out_rate / 2
    tones = [nyquist + 50, nyquist * 1.1, nyquist * 1.5, nyquist * 2.2, in_rate / 2 * 0.95]
    for frequency in [round(f / 10) * 10 for f in tones if f < in_rate / 2]:
        resampler, output = tone_through(in_rate, out_rate, frequency, engine=engine)
        # whatever comes out (at any aliased frequency) is leakage
        leaked = rms(steady_window(resampler, output)) * math.sqrt(2)
        assert decibels(leaked) <= -55, (frequency, decibels(leaked))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("in_rate", "out_rate"), PAIRS)
def test_the_images_of_passband_tones_are_attenuated_by_55_db_when_going_up(in_rate, out_rate, engine):
    for frequency in passband_tones(in_rate, out_rate):
        resampler, output = tone_through(in_rate, out_rate, frequency, engine=engine)
        window = steady_window(resampler, output)
        images = [
            k * in_rate + sign * frequency for k in range(1, out_rate // in_rate + 1) for sign in (-1, 1)
        ]
        for image in [f for f in images if in_rate / 2 < f < out_rate / 2]:
            assert decibels(goertzel(window, out_rate, image)) <= -55, (frequency, image)


@pytest.mark.parametrize(
    ("in_rate", "out_rate"), [(8000, 48000), (48000, 8000), (32000, 48000), (48000, 32000)]
)
def test_frame_boundaries_leave_no_trace_the_output_does_not_depend_on_the_frame_size(in_rate, out_rate):
    signal = noise(in_rate // 5, 8000.0, seed=7)
    period = in_rate // math.gcd(in_rate, out_rate)  # input samples of one ratio period
    outputs = {
        frame: convert(Resampler(in_rate, out_rate, frame, engine="polyphase"), signal)
        for frame in (period, 2 * period, in_rate // 100, in_rate // 50)
    }
    reference = outputs[in_rate // 50]
    for frame, output in outputs.items():
        assert output[: len(reference)] == reference[: len(output)], frame


def test_a_constant_signal_comes_out_exactly_constant_once_the_filter_is_filled():
    for in_rate, out_rate in BOTH_WAYS:
        resampler = Resampler(in_rate, out_rate, in_rate // 50, engine="polyphase")
        output = convert(resampler, constant(12345, in_rate // 5))
        assert set(steady_window(resampler, output, 0.05)) == {12345}, (in_rate, out_rate)


def reference_stage(stage: dict, values) -> list[int]:
    """One stage computed in Python integers (no overflow possible), then saturated."""
    up, down, shift = stage["up"], stage["down"], stage["shift"]
    out = []
    for k in range(len(values) * up // down):
        t = k * down
        n, taps = t // up, stage["phases"][t % up]
        total = sum(c * values[n - j] for j, c in enumerate(taps) if n - j >= 0)
        out.append(max(-32768, min(32767, (total + (1 << (shift - 1))) >> shift)))
    return out


@pytest.mark.parametrize(
    ("in_rate", "out_rate"), [(16000, 8000), (8000, 16000), (48000, 32000), (32000, 48000)]
)
def test_full_scale_noise_gives_the_exact_saturated_sums_never_a_wrapped_one(in_rate, out_rate):
    """Random full-scale samples push many sums past 16 bits (up to about twice full scale): the
    output must be the exact sum, rounded and clipped, as computed with Python's unbounded ints."""
    rng = random.Random(3)
    signal = array("h", [rng.choice((-32768, 32767)) for _ in range(in_rate // 25)])
    resampler = Resampler(in_rate, out_rate, in_rate // 50, engine="polyphase")
    (stage,) = resampler.design
    expected = reference_stage(stage, signal)
    assert list(convert(resampler, signal)) == expected
    assert sum(1 for v in expected if v in (-32768, 32767)) > 10  # the test reached the clipping region


def test_the_engine_follows_the_ratio_and_can_be_forced():
    assert Resampler(8000, 48000, 160).engine == "polyphase"
    assert Resampler(44100, 48000, 441).engine == "speexdsp"
    assert Resampler(8000, 48000, 160, engine="speexdsp").engine == "speexdsp"
    with pytest.raises(ValueError, match="does not convert"):
        Resampler(44100, 48000, 441, engine="polyphase")
    with pytest.raises(ValueError, match="engine"):
        Resampler(8000, 48000, 160, engine="sinc")
    with pytest.raises(ValueError, match="nothing to convert"):
        Resampler(8000, 8000, 160)
    with pytest.raises(ValueError, match="whole samples"):
        Resampler(48000, 8000, 7)
    with pytest.raises(ValueError, match="whole frames"):
        Resampler(8000, 48000, 160).process(b"\0" * 100)


def test_large_ratios_run_in_two_stages_and_the_design_is_reported():
    up = Resampler(8000, 48000, 160).design
    assert [(stage["up"], stage["down"]) for stage in up] == [(2, 1), (3, 1)]
    assert up[0]["taps"] % 16 == 0 and up[0]["macs_per_frame"] > 0
    assert [(stage["up"], stage["down"]) for stage in Resampler(48000, 8000, 960).design] == [(1, 3), (1, 2)]
    assert [(s["up"], s["down"]) for s in Resampler(32000, 48000, 640).design] == [(3, 2)]
    assert Resampler(44100, 48000, 441).design is None
    # about 5 ms of delay at 8 kHz for the sharp filter: a few tens of input samples
    assert 20 < Resampler(8000, 48000, 160).delay < 60
    # minimum phase: about 0.3 ms at low frequencies (2 input samples at 8 kHz)
    assert 0 < Resampler(8000, 48000, 160, engine="minimum-phase").delay < 8


def group_delay_ms(in_rate: int, out_rate: int, frequency: float, engine: str, step: float = 5.0) -> float:
    """-d(phase)/d(omega) of the converter at `frequency`, from the phases of two close tones in
    the steady state (one DFT bin each), in milliseconds."""

    def phase(f: float) -> float:
        _, output = tone_through(in_rate, out_rate, f, seconds=0.25, engine=engine)
        window = output[len(output) // 2 :]
        start = len(output) - len(window)
        total = sum(v * cmath.exp(-2j * math.pi * f * (start + i) / out_rate) for i, v in enumerate(window))
        return cmath.phase(total)

    difference = (phase(frequency) - phase(frequency + step) + math.pi) % (2 * math.pi) - math.pi
    return 1000 * difference / (2 * math.pi * step)


@pytest.mark.parametrize(
    ("in_rate", "out_rate"), [(8000, 48000), (48000, 8000), (16000, 48000), (48000, 16000), (8000, 16000)]
)
def test_the_minimum_phase_engine_delays_the_passband_by_a_fraction_of_the_linear_phase_delay(
    in_rate, out_rate
):
    """Linear phase: every frequency waits (taps - 1) / 2 samples (5.3 ms at 8 kHz, 2.6 at 16 kHz).
    Minimum phase: under 0.7 ms through most of the passband, under 1.5 ms at its edge."""
    nyquist = min(in_rate, out_rate) / 2
    linear = group_delay_ms(in_rate, out_rate, nyquist * 0.4, "polyphase")
    assert linear > 2.4  # the same at every frequency
    assert abs(group_delay_ms(in_rate, out_rate, nyquist * 0.8, "polyphase") - linear) < 0.05
    delays = {
        f: group_delay_ms(in_rate, out_rate, nyquist * f, "minimum-phase") for f in (0.1, 0.4, 0.7, 0.89)
    }
    assert all(d > 0 for d in delays.values()), delays
    assert max(delays[0.1], delays[0.4], delays[0.7]) < 0.7, delays
    assert delays[0.89] < 1.5, delays


def test_both_engines_agree_on_a_passband_tone():
    for engine in ("polyphase", "speexdsp"):
        resampler = Resampler(8000, 48000, 160, engine=engine)
        output = convert(resampler, sine(8000, 0.3, 1000, AMPLITUDE))
        assert abs(decibels(goertzel(steady_window(resampler, output), 48000, 1000))) < 0.5, engine


def test_reset_forgets_the_history():
    resampler = Resampler(8000, 48000, 160, engine="polyphase")
    first = convert(resampler, noise(800, seed=5))
    resampler.reset()
    assert convert(resampler, noise(800, seed=5)) == first


# -- inside the mixer ------------------------------------------------------------------------------


@pytest.mark.parametrize("resampler", ["auto", "speexdsp"])
def test_an_8_khz_port_is_heard_in_a_48_khz_mixer_and_back_at_its_own_rate(resampler):
    mixer = AudioMixer(None, None, 48000, 0, resampler=resampler)
    assert mixer.resampler == resampler
    talker = MemoryPort(mixer, pcm(sine(8000, 0.5, 700, 10000.0)), sample_rate=8000)
    wide = MemoryPort(mixer, record_seconds=1.0)
    narrow = MemoryPort(mixer, record_seconds=1.0, sample_rate=8000)
    for port in (talker, wide, narrow):
        port.start()
    mixer.connect_slots(talker.slot, wide.slot)
    mixer.connect_slots(talker.slot, narrow.slot)
    mixer.tick(25)
    heard_wide = samples(wide.take())[-4800:]
    heard_narrow = samples(narrow.take())[-800:]
    assert abs(decibels(goertzel(heard_wide, 48000, 700), 10000.0)) < 0.5
    assert abs(decibels(goertzel(heard_narrow, 8000, 700), 10000.0)) < 0.5
    assert mixer.statistics["resample_short"] == 0


def test_the_mixer_rejects_an_unknown_resampler():
    with pytest.raises(ValueError, match="resampler"):
        AudioMixer(None, None, 48000, 0, resampler="fast")


def test_a_stereo_8_khz_port_is_averaged_then_converted():
    mixer = AudioMixer(None, None, 16000, 0)
    left = sine(8000, 0.4, 500, 8000.0)
    stereo = array("h", bytes(4 * len(left)))
    stereo[0::2] = left
    stereo[1::2] = array("h", [clip(-v) for v in left])  # cancels out: only silence remains
    talker = MemoryPort(mixer, pcm(stereo), sample_rate=8000, channels=2)
    listener = MemoryPort(mixer, record_seconds=1.0)
    talker.start()
    listener.start()
    mixer.connect_slots(talker.slot, listener.slot)
    mixer.tick(15)
    assert max(abs(v) for v in samples(listener.take())) <= 1


def test_a_44_1_khz_port_is_still_converted_by_speexdsp():
    mixer = AudioMixer(None, None, 48000, 0)
    talker = MemoryPort(mixer, pcm(sine(44100, 0.4, 1000, 10000.0)), sample_rate=44100)
    listener = MemoryPort(mixer, record_seconds=1.0)
    talker.start()
    listener.start()
    mixer.connect_slots(talker.slot, listener.slot)
    mixer.tick(15)
    heard = samples(listener.take())[-4800:]
    assert abs(decibels(goertzel(heard, 48000, 1000), 10000.0)) < 0.5
