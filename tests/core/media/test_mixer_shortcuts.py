"""The mixer's shortcuts give the samples its general path gives (csrc/mixer.c, "Shortcuts").

Each scenario runs twice, on a mixer with its shortcuts on (the default) and on one with them off
(``AudioMixer._shortcuts = False``: every source converted to the mixer's rate every tick, every
sink converted by its own converter), driving both with the same ports, connections and ticks, and
every sink's recording must be identical byte for byte; the mixer's counters show the shortcut was
taken. The converter-level building blocks (skipping a frame, see ``Resampler.skip``) are checked
on their own first.
"""

from __future__ import annotations

import pytest

from sipsimple.core.media._mixer import AudioMixer, MemoryPort, Resampler
from tests.core.media.mixer_signals import interleave, noise, pcm, rms, samples, sine

PAIRS = [
    (8000, 48000),
    (48000, 8000),
    (16000, 48000),
    (48000, 16000),
    (8000, 16000),
    (32000, 48000),
    (48000, 32000),
]


@pytest.mark.parametrize("in_rate, out_rate", PAIRS)
def test_a_skipped_frame_leaves_the_history_a_converted_one_would(in_rate, out_rate):
    """Frames taken with skip() and then converted come out exactly as when every frame was converted."""
    frame = in_rate // 50
    signal = pcm(noise(8 * frame, amplitude=9000.0, seed=in_rate + out_rate))
    general = Resampler(in_rate, out_rate, frame, engine="polyphase")
    shortcut = Resampler(in_rate, out_rate, frame, engine="polyphase")
    converted = general.process(signal)
    shortcut.skip(signal[: 2 * 5 * frame])
    assert shortcut.process(signal[2 * 5 * frame :]) == converted[2 * 5 * general.out_frame :]


def test_only_our_converter_can_skip():
    """speexdsp has no way to take history without converting: skip() says so."""
    resampler = Resampler(44100, 48000, 882, engine="speexdsp")
    with pytest.raises(ValueError, match="polyphase"):
        resampler.skip(bytes(2 * 882))


class Pair:
    """The same scenario on two mixers: shortcuts on (``fast``) and off (``slow``)."""

    def __init__(self, rate: int = 48000, frame_time: int = 20, resampler: str = "auto") -> None:
        self.fast = AudioMixer(None, None, rate, 0, 32, frame_time=frame_time, resampler=resampler)
        self.slow = AudioMixer(None, None, rate, 0, 32, frame_time=frame_time, resampler=resampler)
        self.slow._shortcuts = False
        self.ports: dict[str, tuple[MemoryPort, MemoryPort]] = {}

    def source(self, name: str, signal, **options) -> None:
        self.ports[name] = tuple(self._start(m, pcm(signal), **options) for m in (self.fast, self.slow))

    def sink(self, name: str, **options) -> None:
        self.ports[name] = tuple(
            self._start(m, None, record_seconds=5.0, **options) for m in (self.fast, self.slow)
        )

    @staticmethod
    def _start(mixer: AudioMixer, play, **options) -> MemoryPort:
        port = MemoryPort(mixer, play, **options)
        port.start()
        return port

    def connect(self, src: str, dst: str) -> None:
        for i, mixer in enumerate((self.fast, self.slow)):
            mixer.connect_slots(self.ports[src][i].slot, self.ports[dst][i].slot)

    def disconnect(self, src: str, dst: str) -> None:
        for i, mixer in enumerate((self.fast, self.slow)):
            mixer.disconnect_slots(self.ports[src][i].slot, self.ports[dst][i].slot)

    def stop(self, name: str) -> None:
        for port in self.ports[name]:
            port.stop()

    def volume(self, name: str, value: int) -> None:
        for port in self.ports[name]:
            port.volume = value

    def tick(self, count: int = 1) -> None:
        self.fast.tick(count)
        self.slow.tick(count)

    def recordings(self, name: str) -> tuple[bytes, bytes]:
        fast, slow = self.ports[name]
        return fast.take(), slow.take()


@pytest.mark.parametrize("resampler", ["auto", "low-delay"])
def test_sinks_hearing_one_source_share_its_conversion_and_get_the_same_samples(resampler):
    """Three 8 kHz sinks and a 16 kHz one hear one 48 kHz source: one conversion per rate per tick
    serves them all, and each records what its own converter would have given (with linear- and
    with minimum-phase converters)."""
    pair = Pair(resampler=resampler)
    pair.source("voice", noise(48000 * 2, amplitude=7000.0, seed=3))
    for name, rate in (("a", 8000), ("b", 8000), ("c", 8000), ("wide", 16000)):
        pair.sink(name, sample_rate=rate)
        pair.connect("voice", name)
    pair.tick(50)
    for name in ("a", "b", "c", "wide"):
        fast, slow = pair.recordings(name)
        assert len(fast) == 2 * 50 * (160 if name != "wide" else 320)
        assert rms(samples(fast)) > 1000
        assert fast == slow, name
    # per tick: a, b, c share one conversion (two served by another's), wide has its own
    assert pair.fast.statistics["shared_frames"] >= 2 * 48
    assert pair.slow.statistics["shared_frames"] == 0


def test_sinks_moving_between_one_source_and_a_mix_get_the_same_samples():
    """A sink joins and leaves the shared conversion as sources come and go, volumes change, the
    source falls silent and comes back, another sink is removed: the output never differs."""
    pair = Pair()
    pair.source("voice", noise(48000 * 3, amplitude=7000.0, seed=4), loop=True)
    pair.source("tone", sine(48000, 1.0, 440.0, amplitude=5000.0))  # ends after 1 s: silence
    pair.sink("a", sample_rate=8000)
    pair.sink("b", sample_rate=8000)
    pair.sink("stereo", sample_rate=8000, channels=2)
    pair.sink("wide", sample_rate=16000)
    for name in ("a", "b", "stereo", "wide"):
        pair.connect("voice", name)
    pair.tick(5)
    pair.connect("tone", "a")  # a mixes two sources: its own converter again
    pair.tick(4)
    pair.disconnect("tone", "a")  # one source again: a rejoins
    pair.tick(4)
    pair.volume("voice", 60)  # the source's gain is before the conversion: still shared
    pair.tick(3)
    pair.connect("tone", "b")
    pair.tick(45)  # the tone ends while b hears it
    pair.disconnect("voice", "stereo")  # stereo hears nothing: silence through its own converter
    pair.tick(3)
    pair.connect("voice", "stereo")
    pair.stop("wide")  # a sink removed while sharing
    pair.tick(6)
    pair.stop("voice")  # the shared source removed: every sink back to its own converter
    pair.tick(3)
    for name in ("a", "b", "stereo"):
        fast, slow = pair.recordings(name)
        assert len(fast) > 0
        assert fast == slow, name
    assert pair.fast.statistics["shared_frames"] > 0


def test_a_source_nobody_hears_is_pulled_but_converted_only_when_heard():
    """An 8 kHz source at a 48 kHz mixer, unheard for a while, then heard: it advanced meanwhile
    (its frames were taken), the listener hears exactly what the general path gives."""
    pair = Pair()
    pair.source("caller", noise(8000 * 2, amplitude=8000.0, seed=5), sample_rate=8000)
    pair.sink("recorder")
    pair.tick(7)
    assert all(port.played_frames == 7 * 160 for port in pair.ports["caller"])
    pair.connect("caller", "recorder")
    pair.tick(10)
    pair.disconnect("caller", "recorder")
    pair.tick(3)
    pair.connect("caller", "recorder")
    pair.tick(5)
    fast, slow = pair.recordings("recorder")
    assert len(fast) == 2 * 25 * 960  # a sink records every tick, silence included
    assert rms(samples(fast)) > 1000
    assert fast == slow
    assert pair.fast.statistics["unheard_frames"] == 7 + 3
    assert pair.slow.statistics["unheard_frames"] == 0


@pytest.mark.parametrize("resampler", ["auto", "low-delay"])
@pytest.mark.parametrize(
    "port_rate, mixer_rate, frame_time, channels",
    [
        (8000, 48000, 20, 1),
        (16000, 48000, 10, 2),
        (8000, 16000, 10, 1),
        (48000, 8000, 20, 1),
        (32000, 48000, 10, 1),
    ],
)
def test_frames_held_back_while_unheard_reach_the_converter_before_it_is_heard_again(
    resampler, port_rate, mixer_rate, frame_time, channels
):
    """An unheard source's converter takes only the last few frames of a long silence-free spell,
    when it is heard again (the mixer's backlog): short and long unheard spells, at another volume,
    at 10 and 20 ms, mono and stereo, linear- and minimum-phase designs, the listener records
    exactly what the general path gives."""
    frame = port_rate * frame_time // 1000
    signal = noise(frame * 200, amplitude=8000.0, seed=port_rate + channels)
    if channels == 2:
        signal = interleave(signal, noise(frame * 200, amplitude=6000.0, seed=9))
    pair = Pair(rate=mixer_rate, frame_time=frame_time, resampler=resampler)
    pair.source("caller", signal, sample_rate=port_rate, channels=channels, loop=True)
    pair.sink("recorder")
    for unheard, heard in ((1, 2), (2, 1), (3, 4), (40, 3), (7, 1)):
        pair.tick(unheard)
        pair.connect("caller", "recorder")
        pair.tick(heard)
        pair.disconnect("caller", "recorder")
        if unheard == 3:
            pair.volume("caller", 70)
    fast, slow = pair.recordings("recorder")
    assert rms(samples(fast)) > 500
    assert fast == slow
    assert pair.fast.statistics["unheard_frames"] == 1 + 2 + 3 + 40 + 7


def test_an_unheard_source_still_reports_its_level():
    """The level of a source nobody hears is measured on its own frame: within a few percent of
    the level the general path measures after conversion, and it follows the source's volume."""
    tone = sine(16000, 1.0, 1000.0, amplitude=10000.0)
    stereo = interleave(tone, tone)
    pair = Pair()
    pair.source("mono", tone, sample_rate=16000)
    pair.source("stereo", stereo, sample_rate=16000, channels=2)
    pair.volume("stereo", 50)
    pair.tick(10)
    for name, expected in (("mono", 7071), ("stereo", 3536)):
        fast, slow = (
            m.slot_levels(p.slot)[0] for m, p in zip((pair.fast, pair.slow), pair.ports[name], strict=True)
        )
        assert slow == pytest.approx(expected, rel=0.03)
        assert fast == pytest.approx(slow, rel=0.03), name


def test_turning_the_shortcuts_off_mid_call_changes_nothing_audible():
    """Sinks sharing a conversion go back to their own converters with its history."""
    pair = Pair()
    pair.source("voice", noise(48000, amplitude=7000.0, seed=6))
    pair.sink("a", sample_rate=8000)
    pair.sink("b", sample_rate=8000)
    pair.connect("voice", "a")
    pair.connect("voice", "b")
    pair.tick(6)
    assert pair.fast._shortcuts
    pair.fast._shortcuts = False
    pair.tick(6)
    for name in ("a", "b"):
        fast, slow = pair.recordings(name)
        assert fast == slow, name


def test_a_low_delay_mixer_passes_an_8_khz_call_about_9_ms_sooner():
    """A click from an 8 kHz port to another through a 48 kHz mixer: up and down again. The linear-
    phase converters delay it by about 5.3 ms each way; the low-delay mixer's minimum-phase ones
    by well under a millisecond each."""
    click = [0] * 400 + [20000] + [0] * 1199

    def arrival(resampler: str) -> int:
        mixer = AudioMixer(None, None, 48000, 0, 8, resampler=resampler)
        source = MemoryPort(mixer, pcm(click), sample_rate=8000)
        sink = MemoryPort(mixer, record_seconds=1.0, sample_rate=8000)
        source.start()
        sink.start()
        mixer.connect_slots(source.slot, sink.slot)
        mixer.tick(10)
        heard = samples(sink.take())
        return max(range(len(heard)), key=lambda i: abs(heard[i]))

    linear, low_delay = arrival("auto"), arrival("low-delay")
    assert 400 + 80 <= linear <= 400 + 90  # 2 x 5.3 ms at 8 kHz
    assert 400 <= low_delay <= 400 + 12
