"""AudioStreams of real calls in an AudioConference: while in the conference a stream hears and is
heard through the conference's bridge only (not also through the voice bridge), follows either
side's hold, and gets its own path back when it is removed or the conference is dropped.

Alice runs an ``ApplicationAudio`` on her engine whose voice mixer uses WAV files as its sound
devices: the microphone plays a 1000 Hz tone (the local party's voice) and the speaker is written to
a file, one file per phase (``set_sound_devices`` finishes the previous one). She calls Bob twice
with AudioStreams given no mixer and no bridge; Bob's two calls each have their own mixer and tone
(600 Hz, 1400 Hz, see test_audio_stream.py's ``Side``), and Bob's stream recordings are what each
Bob hears. Levels are measured with Goertzel over the last half second of each recording.
"""

from __future__ import annotations

import gc
import wave
from collections.abc import Iterator
from typing import Any

import pytest

from sipsimple.application_audio import ApplicationAudio
from sipsimple.conference import AudioConference
from sipsimple.core.media._mixer import AudioMixer
from sipsimple.streams.rtp import AudioStream
from tests.core.media.mixer_signals import pcm, sine
from tests.streams import test_audio_stream as base
from tests.streams.test_audio_stream import MEDIA_WAIT, Side
from tests.streams.test_audio_stream_local_party import call_bob_on_a_new_side, levels, ticks

# the two-engine fixtures of test_audio_stream.py
loop, alice_engine, bob_engine = base.loop, base.alice_engine, base.bob_engine
alice, bob, bob_manager = base.alice, base.bob, base.bob_manager

LOCAL, FIRST, SECOND = 1000.0, 600.0, 1400.0
TONES = (LOCAL, FIRST, SECOND)
HEARD = 1000.0  # a tone of amplitude 8000 that crossed a PCMU call reads far above this
PHASE = 75  # mixer ticks a phase lasts (1.5 s of audio; levels are taken over its last 0.5 s)


class Alice:
    """Alice's application audio, with a microphone playing LOCAL and a speaker written per phase."""

    def __init__(self, engine: Any, tmp_path: Any) -> None:
        self.audio = ApplicationAudio(engine, lambda function, *args: function(*args))
        self.audio.start()
        self.mixer = self.audio.voice_audio_mixer
        self.tmp_path = tmp_path
        rate = int(self.mixer.sample_rate)
        self.microphone = tmp_path / "alice-microphone.wav"
        with wave.open(str(self.microphone), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(pcm(sine(rate, 1.0, LOCAL, 8000) * 60))  # whole cycles: seamless
        self.speaker: Any = None
        self.speak_into("setup")

    def speak_into(self, phase: str) -> Any:
        """Starts a new speaker file (the microphone starts again too); returns the finished one."""
        finished, self.speaker = self.speaker, self.tmp_path / f"alice-speaker-{phase}.wav"
        self.mixer.set_sound_devices(f"file:{self.microphone}", f"file:{self.speaker}", 0)
        return finished

    def stop(self) -> None:
        self.audio.stop()


@pytest.fixture
def alice_audio(alice_engine: Any, memory_configuration: Any, tmp_path: Any) -> Iterator[Alice]:
    audio = Alice(alice_engine, tmp_path)
    yield audio
    audio.stop()


class Call:
    """One of Alice's calls: her session and stream, Bob's session and stream, and Bob's Side."""

    def __init__(self, caller: Any, callee: Any, stream: AudioStream, theirs: AudioStream, side: Side):
        self.caller, self.callee, self.stream, self.theirs, self.side = caller, callee, stream, theirs, side


@pytest.fixture
def calls(loop, alice, alice_audio, bob_engine, bob_manager, tmp_path) -> Iterator[list[Call]]:
    """Alice's two connected calls to Bob (600 Hz and 1400 Hz), with streams given no mixer or bridge."""
    made: list[Call] = []
    sides: list[Side] = []
    try:
        for tone in (FIRST, SECOND):
            each = Call(*call_bob_on_a_new_side(loop, alice, bob_engine, bob_manager, tmp_path, tone, sides))
            made.append(each)
            loop.run_until(lambda c=each: c.caller.state == c.callee.state == "connected", what="connected")
            assert each.stream.mixer is alice_audio.mixer and each.stream.bridge is None
        yield made
    finally:
        for each in made:
            if each.caller.state != "terminated":
                each.caller.end()
                loop.run_until(lambda c=each: c.caller.state == "terminated", what="ended")
        for side in sides:
            side.close()


def run_phase(loop: Any, alice: Alice, calls: list[Call], name: str) -> tuple[list[list[float]], list[float]]:
    """PHASE ticks of audio; returns what each Bob heard and what Alice's speaker played, as the
    levels of (LOCAL, FIRST, SECOND)."""
    files = [alice.tmp_path / f"bob-{index}-{name}.wav" for index in range(len(calls))]
    for each, file in zip(calls, files, strict=True):
        each.theirs.start_recording(file)
    target = ticks(alice.mixer) + PHASE
    loop.run_until(lambda: ticks(alice.mixer) >= target, MEDIA_WAIT, what="mixer time")
    for each in calls:
        each.theirs.stop_recording()
    speaker = alice.speak_into(f"after-{name}")
    return [levels(file, TONES) for file in files], levels(speaker, TONES)


def connected_to_voice_bridge(alice: Alice, stream: AudioStream) -> bool:
    """Whether the stream is wired to the application's voice bridge (the outside-party path)."""
    voice = alice.audio.voice_audio_bridge
    slot = stream.producer_slot
    pairs = set(alice.mixer.connected_slots)
    return (slot, voice.consumer_slot) in pairs or (voice.producer_slot, slot) in pairs


def test_calls_in_a_conference_hear_each_other_and_the_local_party_once_and_hold_takes_the_party_out(
    loop, alice_audio, calls
):
    first, second = calls
    alice = alice_audio

    # before: each call hears the local party only, and the speaker hears both calls (one path each)
    alice.speak_into("alone")
    (bob1, bob2), speaker = run_phase(loop, alice, calls, "alone")
    assert bob1[0] > HEARD and bob2[0] > HEARD, "each call hears the local party"
    assert bob1[2] < bob1[0] / 20 and bob2[1] < bob2[0] / 20, "the calls do not hear each other yet"
    single_path = speaker[1], speaker[2]
    assert min(single_path) > HEARD, "Alice's speaker plays both calls"

    conference = AudioConference(engine=alice.audio.engine)  # the running application's mixer
    assert conference.bridge.mixer is alice.mixer
    conference.add(first.stream)
    conference.add(second.stream)
    assert conference.streams == [first.stream, second.stream]
    for stream in (first.stream, second.stream):
        assert stream in conference.bridge and not connected_to_voice_bridge(alice, stream)

    first.stream.start_recording(alice.tmp_path / "conference.wav")
    (bob1, bob2), speaker = run_phase(loop, alice, calls, "conference")
    first.stream.stop_recording()
    assert bob1[0] > HEARD and bob1[2] > HEARD, "Bob's first call hears the local party and the second"
    assert bob2[0] > HEARD and bob2[1] > HEARD, "Bob's second call hears the local party and the first"
    for before, now in zip(single_path, (speaker[1], speaker[2]), strict=True):
        assert 0.7 < now / before < 1.3, f"the speaker plays a call at {now:.0f}, once it was {before:.0f}"
    recorded = levels(alice.tmp_path / "conference.wav", TONES)
    assert min(recorded) > HEARD, "a recording in the conference records the whole conference"

    conference.hold()
    (bob1, bob2), speaker = run_phase(loop, alice, calls, "held")
    assert bob1[2] > HEARD and bob2[1] > HEARD, "on hold, the calls still hear each other"
    assert bob1[0] < bob1[2] / 20 and bob2[0] < bob2[1] / 20, "on hold, the local party is not heard"
    assert max(speaker[1], speaker[2]) < min(single_path) / 20, "on hold, the speaker plays no call"
    conference.unhold()

    conference.remove(first.stream)
    assert conference.streams == [second.stream] and first.stream not in conference.bridge
    assert connected_to_voice_bridge(alice, first.stream), "the removed stream has its own path back"
    (bob1, bob2), speaker = run_phase(loop, alice, calls, "removed")
    assert bob1[0] > HEARD and bob1[2] < bob1[0] / 20, "the removed call hears the local party only"
    assert bob2[0] > HEARD and bob2[1] < bob2[0] / 20, "the remaining member no longer hears it"
    for before, now in zip(single_path, (speaker[1], speaker[2]), strict=True):
        assert 0.7 < now / before < 1.3, "the speaker plays each call once, by either path"


def test_a_call_held_by_the_remote_is_out_of_the_conference_until_it_is_taken_off_hold(
    loop, alice_audio, calls
):
    first, second = calls
    alice = alice_audio
    conference = AudioConference(alice.mixer)
    conference.add(first.stream)
    conference.add(second.stream)
    second.callee.hold()
    loop.run_until(lambda: second.stream.on_hold_by_remote, what="the remote hold")
    assert second.stream not in conference.bridge and not connected_to_voice_bridge(alice, second.stream)
    alice.speak_into("remote-hold")
    (bob1, _), speaker = run_phase(loop, alice, calls, "remote-hold")
    assert speaker[1] > HEARD and speaker[2] < speaker[1] / 20, "the held call is not heard"
    assert bob1[0] > HEARD and bob1[2] < bob1[0] / 20, "the other member does not hear the held call"

    second.callee.unhold()
    loop.run_until(lambda: not second.stream.on_hold_by_remote, what="the remote unhold")
    assert second.stream in conference.bridge and not connected_to_voice_bridge(alice, second.stream)


def test_a_call_that_ends_in_the_conference_leaves_no_connection_behind(loop, alice_audio, calls):
    first, second = calls
    alice = alice_audio
    conference = AudioConference(alice.mixer)
    conference.add(first.stream)
    conference.add(second.stream)
    slot = second.stream.producer_slot
    assert any(slot in pair for pair in alice.mixer.connected_slots)

    second.caller.end()
    loop.run_until(lambda: second.caller.state == "terminated", what="the call ended")
    assert second.stream not in conference.bridge
    assert conference.bridge.ports == [conference.device, first.stream]
    assert not any(slot in pair for pair in alice.mixer.connected_slots), "a connection of the ended call"
    assert conference.streams == [first.stream, second.stream], "kept, as in the reference, until removed"
    conference.remove(second.stream)
    assert conference.streams == [first.stream]
    assert not any(slot in pair for pair in alice.mixer.connected_slots)


def test_a_dropped_conference_gives_its_streams_their_own_paths_back(loop, alice_audio, calls):
    first, second = calls
    alice = alice_audio
    conference = AudioConference(alice.mixer)
    conference.add(first.stream)
    conference.add(second.stream)
    bridge = conference.bridge
    del conference
    gc.collect()
    for stream in (first.stream, second.stream):
        assert stream not in bridge and connected_to_voice_bridge(alice, stream)
    pairs = set(alice.mixer.connected_slots)
    assert (first.stream.producer_slot, second.stream.consumer_slot) not in pairs


def test_a_stream_is_in_one_conference_at_a_time_and_a_recording_follows_it_out(loop, alice_audio, calls):
    first, _ = calls
    alice = alice_audio
    conference, other = AudioConference(alice.mixer), AudioConference(alice.mixer)
    conference.add(first.stream)
    with pytest.raises(ValueError, match="already part of an audio conference"):
        other.add(first.stream)
    assert other.streams == [] and first.stream not in other.bridge

    first.stream.start_recording(alice.tmp_path / "moving.wav")
    assert first.stream.bridge is None, "in a conference the recording needs no bridge of the stream's own"
    conference.remove(first.stream)
    own = first.stream.bridge
    assert own is not None and first.stream in own and alice.audio.voice_audio_bridge in own
    assert connected_to_voice_bridge(alice, first.stream), "it hears the local party again"
    assert len(own) == 3, "the stream, the voice bridge and the recorder"
    first.stream.stop_recording()
    assert len(own) == 2


def test_a_stream_cannot_join_a_conference_on_another_mixer(loop, alice_audio, calls):
    first, _ = calls
    elsewhere = AudioConference(AudioMixer(None, None, 16000, 0))
    with pytest.raises(ValueError, match="another mixer"):
        elsewhere.add(first.stream)
    assert elsewhere.streams == [] and connected_to_voice_bridge(alice_audio, first.stream)


def test_the_default_mixer_is_the_running_application_s_and_none_running_is_a_runtime_error(
    alice_engine, memory_configuration
):
    with pytest.raises(RuntimeError, match="not running"):
        AudioConference(engine=alice_engine)
    audio = ApplicationAudio(alice_engine, lambda function, *args: function(*args))
    audio.start()
    try:
        assert AudioConference(engine=alice_engine).bridge.mixer is audio.voice_audio_mixer
    finally:
        audio.stop()
