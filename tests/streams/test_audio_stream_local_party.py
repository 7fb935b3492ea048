"""An AudioStream given no mixer and no bridge takes the voice mixer of the application running on
its engine, and is wired to that application's voice bridge as an outside party: each call hears
the local party (whatever plays in the voice bridge) and is heard by it, but calls do not hear
each other (as in the reference; a bridge holding every call would also cost N² connections).

Alice runs an ``ApplicationAudio`` on her engine (null devices) with a 1000 Hz tone in its voice
bridge and calls Bob twice; Bob's two calls each have their own mixer and tone (600 Hz, 1400 Hz).
Levels are measured with Goertzel on WAV recordings, as in test_audio_stream.py.
"""

from __future__ import annotations

import wave
from typing import Any

from sipsimple.application_audio import ApplicationAudio, running_audio
from sipsimple.audio import WavePlayer, WaveRecorder
from sipsimple.streams.rtp import AudioStream
from tests.core.media.mixer_signals import goertzel, pcm, samples, sine
from tests.streams import test_audio_stream as base
from tests.streams.test_audio_stream import MEDIA_WAIT, Side, call

# the two-engine fixtures of test_audio_stream.py
loop, alice_engine, bob_engine = base.loop, base.alice_engine, base.bob_engine
alice, bob, bob_manager = base.alice, base.bob, base.bob_manager

LOCAL, FIRST, SECOND = 1000.0, 600.0, 1400.0


def levels(path: Any, tones: tuple[float, ...], seconds: float = 0.5) -> list[float]:
    with wave.open(str(path), "rb") as wav:
        rate = wav.getframerate()
        heard = samples(wav.readframes(wav.getnframes()))
    tail = heard[-round(seconds * rate) :]
    assert len(tail) == round(seconds * rate), "the recording is shorter than the measured window"
    return [goertzel(tail, rate, tone) for tone in tones]


def ticks(mixer: Any) -> int:
    return int(mixer.statistics["clock_ticks"])


def call_bob_on_a_new_side(
    loop: Any, alice: Any, bob_engine: Any, bob_manager: Any, tmp_path: Any, tone: float, sides: list[Side]
) -> tuple[Any, Any, AudioStream, AudioStream, Side]:
    """Alice calls Bob with a PCMU AudioStream given no mixer and no bridge (the application's are
    used); Bob accepts with the stream his manager made, on a new Side (appended to ``sides``, which
    the caller closes) playing ``tone``. Returns (caller, callee, stream, theirs, side) without
    waiting for the call to connect."""
    known = list(bob_manager.sessions)
    stream = AudioStream(codecs=["PCMU"])
    caller = call(alice, bob_engine, stream)
    loop.run_until(
        lambda: any(s.state == "incoming" and s not in known for s in bob_manager.sessions),
        what="the incoming call",
    )
    callee = next(s for s in bob_manager.sessions if s not in known)
    side = Side(bob_engine, tone, tmp_path, f"bob-{int(tone)}")
    sides.append(side)
    (theirs,) = callee.proposed_streams
    theirs.mixer, theirs.bridge = side.mixer, side.bridge
    # Bob keeps every engine codec: a re-offer of his (his hold) must keep the payload type numbers
    # of his first answer (RFC 3264 §8.3.2)
    callee.accept([theirs])
    return caller, callee, stream, theirs, side


def test_calls_without_a_bridge_hear_the_local_party_and_not_each_other(
    loop, alice, alice_engine, bob_engine, bob_manager, tmp_path
):
    audio = ApplicationAudio(alice_engine, lambda function, *args: function(*args))
    audio.start()
    sides: list[Side] = []
    try:
        assert running_audio(alice_engine) is audio
        mixer = audio.voice_audio_mixer
        rate = int(mixer.sample_rate)
        path = tmp_path / "local.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(pcm(sine(rate, 1.0, LOCAL, 8000)))
        player = WavePlayer(mixer, str(path), loop_count=0)
        player.start()
        audio.voice_audio_bridge.add(player)

        calls = []
        for tone in (FIRST, SECOND):
            caller, callee, stream, theirs, _ = call_bob_on_a_new_side(
                loop, alice, bob_engine, bob_manager, tmp_path, tone, sides
            )
            loop.run_until(lambda c=caller, d=callee: c.state == d.state == "connected", what="connected")
            assert stream.mixer is mixer and stream.bridge is None and stream not in audio.voice_audio_bridge
            calls.append((caller, callee, stream, theirs))

        local = WaveRecorder(mixer, tmp_path / "alice-hears.wav")
        local.start()
        audio.voice_audio_bridge.add(local)
        files = [tmp_path / "bob-first.wav", tmp_path / "bob-second.wav"]
        for (_, _, _, theirs), file in zip(calls, files, strict=True):
            theirs.start_recording(file)
        target = ticks(mixer) + 75  # 1.5 s of mixer time
        loop.run_until(lambda: ticks(mixer) >= target, MEDIA_WAIT, what="mixer time")
        for _, _, _, theirs in calls:
            theirs.stop_recording()
        local.stop()

        heard_local, heard_first, heard_second = levels(tmp_path / "alice-hears.wav", (LOCAL, FIRST, SECOND))
        assert heard_first > 1000 and heard_second > 1000, "the local party hears both calls"
        assert heard_local > 1000, "the local party's own tone is in its bridge"
        for file, own, other in zip(files, (FIRST, SECOND), (SECOND, FIRST), strict=True):
            local_level, own_level, other_level = levels(file, (LOCAL, own, other))
            assert local_level > 1000, f"{file.name}: the call does not hear the local party"
            assert own_level > 1000, f"{file.name}: its own tone is missing"
            assert other_level < local_level / 20, (
                f"{file.name}: one call hears the other ({other_level:.0f})"
            )

        for caller, callee, stream, _ in calls:
            caller.end()
            loop.run_until(lambda c=caller, d=callee: c.state == d.state == "terminated", what="ended")
            assert stream not in audio.voice_audio_bridge
    finally:
        for side in sides:
            side.close()
        audio.stop()
    assert running_audio(alice_engine) is None
