"""ToneGenerator: frequencies (Goertzel), durations, amplitude, DTMF pairs and the end event."""

from __future__ import annotations

import pytest

from sipsimple.core import SIPCoreError
from sipsimple.core.media._mixer import (
    DEFAULT_TONE_AMPLITUDE,
    AudioMixer,
    MemoryPort,
    ToneGenerator,
    dtmf_frequencies,
)
from sipsimple.core.media.events import dispatch_pending
from tests.core.media.mixer_signals import DTMF_HIGH, DTMF_LOW, goertzel, samples, strongest


def tone_setup(rate: int = 16000) -> tuple[AudioMixer, ToneGenerator, MemoryPort]:
    mixer = AudioMixer(None, None, rate, 0)
    tones = ToneGenerator(mixer)
    tones.start()
    out = MemoryPort(mixer, record_seconds=5)
    out.start()
    mixer.connect_slots(tones.slot, out.slot)
    return mixer, tones, out


def sounding(values) -> range:
    """The span of indexes from the first to the last non-zero sample."""
    nonzero = [i for i, v in enumerate(values) if v]
    return range(nonzero[0], nonzero[-1] + 1) if nonzero else range(0)


@pytest.mark.parametrize("rate", [8000, 16000, 48000])
@pytest.mark.parametrize("frequency", [350, 440, 1000, 2600])
def test_a_single_tone_has_its_frequency_and_amplitude(rate, frequency):
    mixer, tones, out = tone_setup(rate)
    tones.play_tones([(frequency, 0, 300)], amplitude=10000)
    mixer.tick(20)
    heard = samples(out.take())
    middle = heard[rate // 20 : rate // 4]  # 50..250 ms: away from the ramps
    candidates = [350, 440, 700, 1000, 1300, 2600, 3100]
    assert strongest(middle, rate, candidates)[0] == frequency
    assert 9800 < goertzel(middle, rate, frequency) < 10200
    assert max(abs(v) for v in heard) <= 10000


def test_a_tone_lasts_its_duration_and_starts_and_ends_softly():
    mixer, tones, out = tone_setup(8000)
    tones.play_tones([(1000, 0, 100)])
    mixer.tick(10)
    heard = samples(out.take())
    span = sounding(heard)
    assert 790 <= len(span) <= 800  # 100 ms at 8 kHz; the ramps' end points are zero
    edge = DEFAULT_TONE_AMPLITUDE / 10
    assert abs(heard[span.start]) <= edge and abs(heard[span.stop - 1]) <= edge
    assert max(abs(v) for v in heard[span.start : span.start + 8]) < DEFAULT_TONE_AMPLITUDE / 2
    assert max(abs(v) for v in heard) > DEFAULT_TONE_AMPLITUDE * 0.95


def test_zero_frequency_entries_lengthen_the_pause_after_the_previous_tone():
    mixer, tones, out = tone_setup(8000)
    tones.play_tones([(600, 0, 100), (0, 0, 200), (900, 0, 100)])
    mixer.tick(25)
    heard = samples(out.take())
    assert len(sounding(heard)) in range(3180, 3201)  # 100 on + 200 off + 100 on, in samples
    assert strongest(heard[200:600], 8000, [600, 900])[0] == 600
    assert all(v == 0 for v in heard[900:2300])
    assert strongest(heard[2500:3000], 8000, [600, 900])[0] == 900


@pytest.mark.parametrize("digit", list("0123456789*#ABCD"))
def test_each_dtmf_digit_is_its_row_and_column_frequencies(digit):
    low, high = dtmf_frequencies(digit)
    assert low in DTMF_LOW and high in DTMF_HIGH
    mixer, tones, out = tone_setup(8000)
    tones.play_dtmf(digit)
    mixer.tick(15)
    heard = samples(out.take())
    assert len(sounding(heard)) in range(1580, 1601)  # 200 ms on, then 50 ms silent
    window = heard[100:1500]
    assert set(strongest(window, 8000, DTMF_LOW + DTMF_HIGH)[:2]) == {low, high}
    assert goertzel(window, 8000, low) > 10 * max(goertzel(window, 8000, f) for f in DTMF_LOW if f != low)


def test_dtmf_digits_are_case_insensitive_and_others_refused():
    assert dtmf_frequencies("a") == dtmf_frequencies("A") == (697, 1633)
    assert dtmf_frequencies("5") == (770, 1336)
    for wrong in ("E", "", "12", "é", " "):
        with pytest.raises(ValueError, match="DTMF"):
            dtmf_frequencies(wrong)


def test_the_end_of_the_queue_posts_tone_generator_did_finish_playing(recorder):
    mixer, tones, _ = tone_setup(8000)
    tones.play_dtmf("1")
    tones.play_dtmf("2")
    assert tones.is_busy
    mixer.tick(26)  # 520 ms: both digits (2 x 250 ms)
    dispatch_pending(mixer.event_queue)
    assert [n.sender for n in recorder.named("ToneGeneratorDidFinishPlaying")] == [tones]
    assert not tones.is_busy
    mixer.tick(5)
    dispatch_pending(mixer.event_queue)
    assert len(recorder.named("ToneGeneratorDidFinishPlaying")) == 1  # once per run of tones


def test_stopping_drops_the_queue_without_a_notification(recorder):
    mixer, tones, out = tone_setup(8000)
    tones.play_tones([(440, 0, 1000)])
    mixer.tick(2)
    tones.stop()
    assert not tones.is_busy and tones.slot is None
    mixer.tick(60)
    dispatch_pending(mixer.event_queue)
    assert recorder.named("ToneGeneratorDidFinishPlaying") == []
    tones.start()
    mixer.connect_slots(tones.slot, out.slot)
    out.take()
    mixer.tick(2)
    assert not any(samples(out.take()))  # nothing left over from before the stop


def test_playing_needs_a_started_generator_and_sane_tones():
    mixer = AudioMixer(None, None, 8000, 0)
    tones = ToneGenerator(mixer)
    with pytest.raises(SIPCoreError, match="not yet been started"):
        tones.play_dtmf("1")
    tones.start()
    with pytest.raises(ValueError, match="below 4000 Hz"):
        tones.play_tones([(4500, 0, 100)])
    with pytest.raises(ValueError, match="amplitude"):
        tones.play_tones([(440, 0, 100)], amplitude=40000)
    with pytest.raises(ValueError, match="negative"):
        tones.play_tones([(440, 0, -1)])
    with pytest.raises(SIPCoreError, match="Too many tones"):
        tones.play_tones([(440, 0, 10)] * 65)
    tones.play_tones([(440, 0, 10)] * 60)
    with pytest.raises(SIPCoreError, match="Too many tones"):
        tones.play_tones([(440, 0, 10)] * 5)


def test_volume_scales_the_generator_slot():
    mixer, tones, out = tone_setup(8000)
    tones.volume = 50
    tones.play_tones([(1000, 0, 200)], amplitude=8000)
    mixer.tick(10)
    middle = samples(out.take())[400:1200]
    assert 3900 < goertzel(middle, 8000, 1000) < 4100
