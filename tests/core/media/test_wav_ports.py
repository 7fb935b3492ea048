"""WaveFile (player) and RecordingWaveFile (recorder) in a mixer, ticked by the test, and the
events and notifications they produce once the event queue is dispatched."""

from __future__ import annotations

import os

import pytest

from sipsimple.core import SIPCoreError
from sipsimple.core.media._mixer import (
    AudioMixer,
    MemoryPort,
    RecordingWaveFile,
    WaveFile,
    WaveFileError,
    read_wave_file,
    write_wave_file,
)
from sipsimple.core.media.events import dispatch_pending
from tests.core.media.mixer_signals import (
    constant,
    goertzel,
    interleave,
    noise,
    pcm,
    samples,
    sine,
    strongest,
)

RATE = 8000
FRAME = 160  # 20 ms at 8 kHz


@pytest.fixture
def mixer() -> AudioMixer:
    return AudioMixer(None, None, RATE, 0)


@pytest.fixture
def clip(tmp_path):
    """700 samples of noise (4.375 frames, so the end falls inside a frame)."""
    values = noise(700, 5000.0, seed=11)
    path = tmp_path / "clip.wav"
    write_wave_file(path, RATE, 1, pcm(values))
    return path, values


def listen(mixer: AudioMixer, slot: int, seconds: float = 2.0) -> MemoryPort:
    out = MemoryPort(mixer, record_seconds=seconds)
    out.start()
    mixer.connect_slots(slot, out.slot)
    return out


# -- WaveFile ------------------------------------------------------------------------------------


def test_a_wave_file_plays_once_then_finishes_on_the_twisted_side(mixer, clip, recorder):
    path, values = clip
    player = WaveFile(mixer, path)
    player.start()
    assert player.is_active and player.slot == 1
    out = listen(mixer, player.slot)
    mixer.tick(6)
    assert samples(out.take()) == values + constant(0, 6 * FRAME - 700)
    assert recorder.named("WaveFileDidFinishPlaying") == []  # the event waits in the queue
    assert player.is_active
    dispatch_pending(mixer.event_queue)
    [finished] = recorder.named("WaveFileDidFinishPlaying")
    assert finished.sender is player and finished.data.__dict__ == {}
    assert not player.is_active and player.slot is None and mixer.used_slot_count == 1


def test_loops_are_joined_by_the_pause_without_any_other_gap(mixer, clip, recorder):
    path, values = clip
    player = WaveFile(mixer, path, loop_count=3, pause_time=0.04)
    player.start()
    out = listen(mixer, player.slot)
    mixer.tick(20)
    pause = constant(0, 320)
    expected = values + pause + values + pause + values
    heard = samples(out.take())
    assert heard[: len(expected)] == expected
    assert heard[len(expected) :] == constant(0, 20 * FRAME - len(expected))
    dispatch_pending(mixer.event_queue)
    assert len(recorder.named("WaveFileDidFinishPlaying")) == 1


def test_a_loop_count_of_zero_plays_until_stopped(mixer, clip, recorder):
    path, values = clip
    player = WaveFile(mixer, path, loop_count=0)
    player.start()
    out = listen(mixer, player.slot, seconds=10)
    mixer.tick(200)  # 4 s: about 46 loops
    dispatch_pending(mixer.event_queue)
    assert player.is_active and recorder.named("WaveFileDidFinishPlaying") == []
    assert samples(out.take())[7000:7700] == values
    player.stop()
    assert [n.sender for n in recorder.named("WaveFileDidFinishPlaying")] == [player]


def test_stop_notifies_once_even_when_the_end_event_is_still_queued(mixer, clip, recorder):
    path, _ = clip
    player = WaveFile(mixer, path)
    player.start()
    mixer.tick(10)
    player.stop()
    player.stop()
    dispatch_pending(mixer.event_queue)
    assert len(recorder.named("WaveFileDidFinishPlaying")) == 1


def test_an_end_event_of_a_previous_playback_does_not_stop_the_next(mixer, clip, recorder):
    path, values = clip
    player = WaveFile(mixer, path)
    player.start()
    mixer.tick(10)  # the first playback ended: its event is queued
    player.stop()
    player.start()
    out = listen(mixer, player.slot)
    dispatch_pending(mixer.event_queue)
    assert player.is_active
    mixer.tick(1)
    assert samples(out.take()) == values[:FRAME]


def test_a_wave_file_cannot_start_twice_or_play_a_broken_file(mixer, clip, tmp_path):
    path, _ = clip
    player = WaveFile(mixer, path)
    player.start()
    with pytest.raises(SIPCoreError, match="already playing"):
        player.start()
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0" + bytes(16))
    other = WaveFile(mixer, broken)
    with pytest.raises(WaveFileError, match="not linear PCM"):
        other.start()
    assert not other.is_active and other.slot is None and mixer.used_slot_count == 1


def test_a_file_whose_rate_does_not_fill_whole_frames_is_refused(mixer, tmp_path):
    path = tmp_path / "11k.wav"
    write_wave_file(path, 11025, 1, pcm(constant(1, 100)))
    with pytest.raises(WaveFileError, match="whole audio frames"):
        WaveFile(mixer, path).start()


def test_a_stereo_file_at_another_rate_keeps_its_tone(tmp_path):
    mixer = AudioMixer(None, None, 48000, 0)
    path = tmp_path / "stereo16k.wav"
    tone = sine(16000, 0.5, 1000.0, 6000.0)
    write_wave_file(path, 16000, 2, pcm(interleave(tone, tone)))
    player = WaveFile(mixer, path)
    player.start()
    out = MemoryPort(mixer, record_seconds=1)
    out.start()
    mixer.connect_slots(player.slot, out.slot)
    mixer.tick(20)
    heard = samples(out.take())[9600:19200]
    assert strongest(heard, 48000, [500, 1000, 1500, 2000, 3000])[0] == 1000
    assert 5000 < goertzel(heard, 48000, 1000.0) < 6500


def test_a_volume_set_before_start_applies_once_playing(mixer, tmp_path):
    path = tmp_path / "c.wav"
    write_wave_file(path, RATE, 1, pcm(constant(1000, 320)))
    player = WaveFile(mixer, path)
    player.volume = 30
    player.start()
    out = listen(mixer, player.slot)
    mixer.tick()
    assert samples(out.take()) == constant(300, FRAME)
    player.volume = 200
    mixer.tick()
    assert samples(out.take()) == constant(2000, FRAME)


# -- RecordingWaveFile ---------------------------------------------------------------------------


def test_a_recording_appears_complete_only_when_stopped(mixer, tmp_path):
    values = noise(5 * FRAME, 3000.0, seed=5)
    talker = MemoryPort(mixer, pcm(values))
    talker.start()
    target = tmp_path / "rec.wav"
    recording = RecordingWaveFile(mixer, target)
    recording.start()
    mixer.connect_slots(talker.slot, recording.slot)
    mixer.tick(5)
    assert not target.exists()
    [temporary] = os.listdir(tmp_path)
    assert temporary.startswith("rec.wav.tmp")
    recording.stop()
    assert os.listdir(tmp_path) == ["rec.wav"]
    assert read_wave_file(target) == (RATE, 1, pcm(values))
    assert not recording.is_active and recording.error is None
    with pytest.raises(SIPCoreError, match="already started once"):
        recording.start()


def test_a_recording_at_another_rate_and_in_stereo(tmp_path):
    mixer = AudioMixer(None, None, 48000, 0)
    talker = MemoryPort(mixer, pcm(sine(48000, 0.5, 1000.0, 8000.0)))
    talker.start()
    target = tmp_path / "rec.wav"
    recording = RecordingWaveFile(mixer, target, sample_rate=16000, channels=2)
    recording.start()
    mixer.connect_slots(talker.slot, recording.slot)
    mixer.tick(25)
    recording.stop()
    rate, channels, data = read_wave_file(target)
    assert (rate, channels, len(data)) == (16000, 2, 25 * 320 * 4)
    left, right = samples(data)[0::2], samples(data)[1::2]
    assert left == right
    assert 7000 < goertzel(left[2000:6000], 16000, 1000.0) < 8500


def test_recording_into_a_missing_directory_fails_at_start(mixer, tmp_path):
    recording = RecordingWaveFile(mixer, tmp_path / "missing" / "r.wav")
    with pytest.raises(WaveFileError, match="No such file"):
        recording.start()
    assert recording.slot is None and mixer.used_slot_count == 0
    recording.stop()  # nothing to finish


# -- file devices --------------------------------------------------------------------------------


def test_a_file_input_device_plays_its_file_once_then_reports_the_end(tmp_path):
    path = tmp_path / "in.wav"
    values = noise(400, 4000.0, seed=2)
    write_wave_file(path, RATE, 1, pcm(values))
    mixer = AudioMixer(f"file:{path}", None, RATE, 0)
    out = listen(mixer, 0)
    mixer.tick(4)
    assert samples(out.take()) == values + constant(0, 4 * FRAME - 400)
    assert not mixer.input_finished
    dispatch_pending(mixer.event_queue)
    assert mixer.input_finished


def test_the_end_of_a_replaced_input_file_is_not_reported_for_the_new_one(tmp_path):
    short, long = tmp_path / "short.wav", tmp_path / "long.wav"
    write_wave_file(short, RATE, 1, pcm(constant(1, FRAME)))
    write_wave_file(long, RATE, 1, pcm(constant(2, 100 * FRAME)))
    mixer = AudioMixer(f"file:{short}", None, RATE, 0)
    mixer.tick(3)  # the short file ended: its event waits in the queue
    mixer.set_sound_devices(f"file:{long}", None, 0)
    dispatch_pending(mixer.event_queue)
    assert not mixer.input_finished


def test_a_file_output_device_is_finished_when_the_device_changes(tmp_path):
    path = tmp_path / "out.wav"
    mixer = AudioMixer(None, f"file:{path}", RATE, 0)
    talker = MemoryPort(mixer, pcm(constant(99, 3 * FRAME)))
    talker.start()
    mixer.connect_slots(talker.slot, 0)
    mixer.tick(4)
    assert not path.exists()
    mixer.set_sound_devices(None, None, 0)
    assert read_wave_file(path) == (RATE, 1, pcm(constant(99, 3 * FRAME) + constant(0, FRAME)))
    assert mixer.output_device is None


def test_an_unreadable_input_device_leaves_the_devices_as_they_were(tmp_path):
    mixer = AudioMixer(None, None, RATE, 0)
    with pytest.raises(WaveFileError, match="No such file"):
        mixer.set_sound_devices(f"file:{tmp_path / 'absent.wav'}", None, 0)
    assert mixer.input_device is None
    with pytest.raises(ValueError, match="names no file"):
        mixer.set_sound_devices("file:", None, 0)
    with pytest.raises(TypeError):
        mixer.set_sound_devices(3, None, 0)
    mixer.set_sound_devices("system_default", "Some Device", 0)  # no sound-device layer yet
    assert (mixer.input_device, mixer.output_device) == (None, None)
