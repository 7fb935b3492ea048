"""AudioConference: members in a full mesh with the local device; hold and unhold take the device
out and back, checked through the mixer's connections and through audio (file-backed devices)."""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from sipsimple.audio import AudioBridge, AudioDevice, WavePlayer, WaveRecorder
from sipsimple.conference import AudioConference
from sipsimple.core.media._mixer import AudioMixer, read_wave_file, write_wave_file
from sipsimple.core.media.events import dispatch_pending
from tests.audio.ports import FRAME, RATE, MemoryAudioPort, ramp, samples, silence


@pytest.fixture
def mixer() -> AudioMixer:
    return AudioMixer(None, None, RATE, 0)


def device_pairs(member: MemoryAudioPort) -> set[tuple[int, int]]:
    pairs = set()
    if member.producer_slot is not None:
        pairs.add((member.producer_slot, 0))
    if member.consumer_slot is not None:
        pairs.add((0, member.consumer_slot))
    return pairs


def test_a_new_conference_has_a_bridge_with_the_local_device_and_no_streams(mixer):
    conference = AudioConference(mixer)
    assert isinstance(conference.bridge, AudioBridge) and conference.bridge.mixer is mixer
    assert isinstance(conference.device, AudioDevice) and conference.bridge.ports == [conference.device]
    assert conference.streams == [] and conference.on_hold is False


def test_members_hear_each_other_and_the_device_in_a_full_mesh(mixer):
    conference = AudioConference(mixer)
    a, b = MemoryAudioPort(mixer, ramp(FRAME), record=True), MemoryAudioPort(mixer, ramp(FRAME), record=True)
    conference.add(a)
    conference.add(b)
    connected = set(mixer.connected_slots)
    assert {(a.producer_slot, b.consumer_slot), (b.producer_slot, a.consumer_slot)} <= connected
    assert device_pairs(a) | device_pairs(b) <= connected
    assert conference.streams == [a, b]


def test_hold_disconnects_only_the_device_and_unhold_reconnects_it(mixer):
    conference = AudioConference(mixer)
    a, b = MemoryAudioPort(mixer, ramp(FRAME), record=True), MemoryAudioPort(mixer, ramp(FRAME), record=True)
    conference.add(a)
    conference.add(b)
    conference.hold()
    assert conference.on_hold
    connected = set(mixer.connected_slots)
    assert not any(0 in pair for pair in connected)
    assert {(a.producer_slot, b.consumer_slot), (b.producer_slot, a.consumer_slot)} <= connected
    conference.unhold()
    assert not conference.on_hold
    assert device_pairs(a) | device_pairs(b) <= set(mixer.connected_slots)


def test_hold_and_unhold_twice_are_harmless(mixer):
    conference = AudioConference(mixer)
    conference.hold()
    conference.hold()
    assert conference.device not in conference.bridge
    conference.unhold()
    conference.unhold()
    assert conference.device in conference.bridge and not conference.on_hold


def test_a_stream_added_while_on_hold_is_not_connected_to_the_device(mixer):
    conference = AudioConference(mixer)
    conference.hold()
    member = MemoryAudioPort(mixer, ramp(FRAME), record=True)
    conference.add(member)
    assert not any(0 in pair for pair in mixer.connected_slots)
    conference.unhold()
    assert device_pairs(member) <= set(mixer.connected_slots)


def test_removing_a_stream_disconnects_it_and_removing_it_again_is_a_value_error(mixer):
    conference = AudioConference(mixer)
    a, b = MemoryAudioPort(mixer, ramp(FRAME), record=True), MemoryAudioPort(mixer, ramp(FRAME), record=True)
    conference.add(a)
    conference.add(b)
    conference.remove(a)
    assert conference.streams == [b]
    assert not any(a.memory.slot in pair for pair in mixer.connected_slots)
    with pytest.raises(ValueError):
        conference.remove(a)


def test_adding_a_stream_twice_is_a_value_error_and_a_non_port_a_type_error(mixer):
    conference = AudioConference(mixer)
    member = MemoryAudioPort(mixer, ramp(FRAME))
    conference.add(member)
    with pytest.raises(ValueError):
        conference.add(member)
    with pytest.raises(TypeError):
        conference.add(object())
    assert conference.streams == [member]


def test_the_conference_keeps_its_streams_alive(mixer):
    """The bridge holds members weakly; the conference's ``streams`` list is what keeps them."""
    conference = AudioConference(mixer)
    conference.add(MemoryAudioPort(mixer, ramp(FRAME), record=True))
    assert len(conference.bridge) == 2


def test_without_a_mixer_it_needs_the_applications_voice_mixer():
    with pytest.raises(RuntimeError, match="voice_audio_mixer"):
        AudioConference()


def test_hold_and_unhold_are_heard_by_the_participants_and_the_device(tmp_path):
    """The device captures a WAV and plays into a WAV; a participant talks, another listens."""
    local_voice = ramp(12 * FRAME, start=9000, step=1)
    capture, playback = tmp_path / "capture.wav", tmp_path / "playback.wav"
    write_wave_file(capture, RATE, 1, local_voice.tobytes())
    mixer = AudioMixer(f"file:{capture}", f"file:{playback}", RATE, 0)
    conference = AudioConference(mixer)
    talker = MemoryAudioPort(mixer, ramp(12 * FRAME, start=1, step=1))
    listener = MemoryAudioPort(mixer, record=True)
    conference.add(talker)
    conference.add(listener)
    mixer.tick(4)
    conference.hold()
    mixer.tick(4)
    conference.unhold()
    mixer.tick(4)
    mixer.set_sound_devices(None, None, 0)  # completes the playback file
    talk = ramp(12 * FRAME, start=1, step=1)
    both = [x + y for x, y in zip(talk, local_voice, strict=True)]
    heard = list(listener.heard())
    assert heard[: 4 * FRAME] == both[: 4 * FRAME]
    assert heard[4 * FRAME : 8 * FRAME] == list(talk[4 * FRAME : 8 * FRAME])  # the local party is out
    assert heard[8 * FRAME :] == both[8 * FRAME :]
    rate, channels, played = read_wave_file(playback)
    assert (rate, channels) == (RATE, 1)
    played_samples = samples(played)
    assert played_samples[: 4 * FRAME] == talk[: 4 * FRAME]
    assert played_samples[4 * FRAME : 8 * FRAME] == silence(4 * FRAME)  # the local party hears nothing
    assert played_samples[8 * FRAME :] == talk[8 * FRAME :]


def test_a_player_on_the_bridge_is_heard_by_everyone_and_a_recorder_records_everyone(mixer, tmp_path):
    clip = tmp_path / "announcement.wav"
    write_wave_file(clip, RATE, 1, ramp(2 * FRAME, start=3).tobytes())
    conference = AudioConference(mixer)
    member = MemoryAudioPort(mixer, ramp(2 * FRAME, start=500), record=True)
    conference.add(member)
    player = WavePlayer(mixer, clip, reactor=Clock())
    wave_recorder = WaveRecorder(mixer, tmp_path / "minutes.wav")
    conference.bridge.add(player)
    conference.bridge.add(wave_recorder)
    wave_recorder.start()
    player.start()
    mixer.tick(2)
    dispatch_pending(mixer.event_queue)
    wave_recorder.stop()
    assert member.heard() == ramp(2 * FRAME, start=3)
    _, _, minutes = read_wave_file(tmp_path / "minutes.wav")
    expected = [x + y for x, y in zip(ramp(2 * FRAME, start=3), ramp(2 * FRAME, start=500), strict=True)]
    assert list(samples(minutes)) == expected
