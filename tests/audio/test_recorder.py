"""WaveRecorder: records what the bridge gives it, sample-exact; directories, reuse, pause/resume."""

from __future__ import annotations

import pytest
from twisted.internet.task import Clock

from sipsimple.audio import AudioBridge, WavePlayer, WaveRecorder
from sipsimple.core.media._mixer import AudioMixer, WaveFileError, read_wave_file, write_wave_file
from sipsimple.core.media.events import dispatch_pending
from tests.audio.ports import FRAME, RATE, MemoryAudioPort, ramp, samples, silence


@pytest.fixture
def mixer() -> AudioMixer:
    return AudioMixer(None, None, RATE, 0)


def recorded(path) -> list[int]:
    rate, channels, data = read_wave_file(path)
    assert (rate, channels) == (RATE, 1)
    return list(samples(data))


def test_a_wav_played_through_a_bridge_is_recorded_back_sample_for_sample(mixer, tmp_path):
    source = tmp_path / "source.wav"
    audio = ramp(7 * FRAME + 33, start=5, step=7)
    write_wave_file(source, RATE, 1, audio.tobytes())
    bridge = AudioBridge(mixer)
    player = WavePlayer(mixer, source, reactor=Clock())
    recorder = WaveRecorder(mixer, tmp_path / "copy.wav")
    bridge.add(player)
    bridge.add(recorder)
    recorder.start()
    player.start()
    mixer.tick(9)
    dispatch_pending(mixer.event_queue)
    recorder.stop()
    assert recorded(tmp_path / "copy.wav") == list(audio) + [0] * (2 * FRAME - 33)


def test_start_creates_the_directories_and_the_file_is_complete_when_stop_returns(mixer, tmp_path):
    target = tmp_path / "a" / "b" / "rec.wav"
    recorder = WaveRecorder(mixer, target)
    assert not recorder.is_active and recorder.consumer_slot is None
    recorder.start()
    assert recorder.is_active and recorder.consumer_slot is not None and recorder.producer_slot is None
    assert not target.exists()  # written under a temporary name until stop()
    mixer.tick(3)
    recorder.stop()
    assert not recorder.is_active and recorder.consumer_slot is None
    assert recorded(target) == [0] * (3 * FRAME)


def test_start_and_stop_post_the_consumer_slot_changes(mixer, tmp_path, recorder):
    wave_recorder = WaveRecorder(mixer, tmp_path / "rec.wav")
    wave_recorder.start()
    slot = wave_recorder.consumer_slot
    wave_recorder.stop()
    started, stopped = (n.data for n in recorder.named("AudioPortDidChangeSlots"))
    assert (started.consumer_slot_changed, started.old_consumer_slot, started.new_consumer_slot) == (
        True,
        None,
        slot,
    )
    assert (stopped.consumer_slot_changed, stopped.old_consumer_slot, stopped.new_consumer_slot) == (
        True,
        slot,
        None,
    )
    assert not started.producer_slot_changed


def test_a_recorder_can_be_started_again_and_writes_its_current_filename(mixer, tmp_path):
    bridge = AudioBridge(mixer)
    talker = MemoryAudioPort(mixer, ramp(4 * FRAME))
    wave_recorder = WaveRecorder(mixer, tmp_path / "one.wav")
    bridge.add(talker)
    bridge.add(wave_recorder)
    wave_recorder.start()
    mixer.tick(1)
    wave_recorder.stop()
    wave_recorder.filename = tmp_path / "two.wav"
    wave_recorder.start()
    mixer.tick(1)
    wave_recorder.stop()
    assert recorded(tmp_path / "one.wav") == list(ramp(FRAME))
    assert recorded(tmp_path / "two.wav") == list(ramp(2 * FRAME)[FRAME:])


def test_starting_twice_and_stopping_twice_are_harmless(mixer, tmp_path, recorder):
    wave_recorder = WaveRecorder(mixer, tmp_path / "rec.wav")
    wave_recorder.start()
    wave_recorder.start()
    wave_recorder.stop()
    wave_recorder.stop()
    assert len(recorder.named("AudioPortDidChangeSlots")) == 2 and mixer.used_slot_count == 0


def test_pause_records_silence_and_resume_hears_the_bridge_again(mixer, tmp_path, recorder):
    bridge = AudioBridge(mixer)
    talker = MemoryAudioPort(mixer, ramp(6 * FRAME))
    wave_recorder = WaveRecorder(mixer, tmp_path / "rec.wav")
    bridge.add(talker)
    bridge.add(wave_recorder)
    wave_recorder.start()
    mixer.tick(2)
    wave_recorder.pause()
    assert wave_recorder.is_paused and wave_recorder.is_active and wave_recorder.consumer_slot is None
    mixer.tick(2)
    wave_recorder.resume()
    assert not wave_recorder.is_paused and wave_recorder.consumer_slot is not None
    mixer.tick(2)
    wave_recorder.stop()
    audio = ramp(6 * FRAME)
    assert recorded(tmp_path / "rec.wav") == list(
        audio[: 2 * FRAME] + silence(2 * FRAME) + audio[4 * FRAME :]
    )
    assert len(recorder.named("AudioPortDidChangeSlots")) == 4


def test_pause_and_resume_do_nothing_when_not_recording(mixer, tmp_path, recorder):
    wave_recorder = WaveRecorder(mixer, tmp_path / "rec.wav")
    wave_recorder.pause()
    wave_recorder.resume()
    assert not wave_recorder.is_paused and recorder.names() == []


def test_a_directory_that_cannot_be_created_is_an_os_error(mixer, tmp_path):
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(OSError):
        WaveRecorder(mixer, tmp_path / "file" / "sub" / "rec.wav").start()


def test_a_file_that_cannot_be_put_in_place_fails_stop_which_still_stops_the_recorder(
    mixer, tmp_path, recorder
):
    """The target is a directory: the temporary file cannot be renamed onto it when stop() completes it."""
    (tmp_path / "taken").mkdir()
    wave_recorder = WaveRecorder(mixer, tmp_path / "taken")
    wave_recorder.start()
    mixer.tick(1)
    with pytest.raises(WaveFileError):
        wave_recorder.stop()
    assert not wave_recorder.is_active and mixer.used_slot_count == 0
    assert recorder.named("AudioPortDidChangeSlots")[-1].data.new_consumer_slot is None
    assert [path.name for path in tmp_path.iterdir()] == ["taken"]  # no temporary file left behind
