"""WavePlayer: what it plays (sample-exact through a bridge), its loops and pauses on an injected
reactor clock, its notifications, play().wait() in a green thread, and failures.

The mixer is ticked by the test; the events of the native players are dispatched with
``dispatch_pending`` (what the Twisted reader does in an application)."""

from __future__ import annotations

import errno
import gc
import weakref
from collections.abc import Iterator

import pytest
from twisted.internet.task import Clock

from sipsimple.audio import AudioBridge, WavePlayer
from sipsimple.core.media._mixer import AudioMixer, WaveFileError, write_wave_file
from sipsimple.core.media.events import dispatch_pending
from sipsimple.threading.green import GreenHub, call_in_green_thread, set_hub
from sipsimple.util import ISOTimestamp
from tests.audio.ports import FRAME, RATE, MemoryAudioPort, ramp, silence

CLIP = 700  # samples: 4.375 frames, so the end of the file falls inside a frame


@pytest.fixture
def mixer() -> AudioMixer:
    return AudioMixer(None, None, RATE, 0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hub(clock: Clock) -> Iterator[GreenHub]:
    green_hub = GreenHub(clock)
    set_hub(green_hub)
    try:
        yield green_hub
    finally:
        set_hub(None)


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.wav"
    write_wave_file(path, RATE, 1, ramp(CLIP).tobytes())
    return path


class Rig:
    """A bridge with a listener in it; the test adds a player and runs ticks."""

    def __init__(self, mixer: AudioMixer) -> None:
        self.mixer = mixer
        self.bridge = AudioBridge(mixer)
        self.listener = MemoryAudioPort(mixer, record=True)
        self.bridge.add(self.listener)

    def run(self, ticks: int) -> None:
        """``ticks`` frames of audio, then the events they caused, as the reactor would see them."""
        self.mixer.tick(ticks)
        dispatch_pending(self.mixer.event_queue)


@pytest.fixture
def rig(mixer) -> Rig:
    return Rig(mixer)


def test_a_player_is_heard_through_a_bridge_sample_for_sample_and_then_ends(rig, clip, clock, recorder):
    player = WavePlayer(rig.mixer, clip, reactor=clock)
    rig.bridge.add(player)
    player.start()
    assert player.is_active and player.producer_slot is not None
    rig.run(6)
    assert rig.listener.heard() == ramp(CLIP) + silence(6 * FRAME - CLIP)
    assert [name for name in recorder.names() if not name.startswith("WaveFile")] == [
        "AudioPortDidChangeSlots",
        "WavePlayerDidStart",
        "AudioPortDidChangeSlots",
        "WavePlayerDidEnd",
    ]
    assert not player.is_active and player.producer_slot is None
    for name in ("WavePlayerDidStart", "WavePlayerDidEnd"):
        [notification] = recorder.named(name)
        assert notification.sender is player
        assert set(notification.data.__dict__) == {"timestamp"}
        assert isinstance(notification.data.timestamp, ISOTimestamp)


def test_the_slot_notifications_say_which_producer_slot_came_and_went(rig, clip, clock, recorder):
    player = WavePlayer(rig.mixer, clip, reactor=clock)
    player.start()
    slot = player.producer_slot
    rig.run(6)
    came, went = (n.data for n in recorder.named("AudioPortDidChangeSlots"))
    assert (came.producer_slot_changed, came.old_producer_slot, came.new_producer_slot) == (True, None, slot)
    assert (went.producer_slot_changed, went.old_producer_slot, went.new_producer_slot) == (True, slot, None)
    assert not came.consumer_slot_changed and came.old_consumer_slot is None is came.new_consumer_slot


def test_loops_without_a_pause_are_played_back_to_back_with_no_gap(rig, clip, clock, recorder):
    player = WavePlayer(rig.mixer, clip, loop_count=3, reactor=clock)
    rig.bridge.add(player)
    player.start()
    rig.run(15)
    heard = rig.listener.heard()
    assert heard[: 3 * CLIP] == ramp(CLIP) * 3
    assert heard[3 * CLIP :] == silence(15 * FRAME - 3 * CLIP)
    assert recorder.names().count("WavePlayerDidStart") == 1
    assert recorder.names().count("WavePlayerDidEnd") == 1
    assert len(recorder.named("AudioPortDidChangeSlots")) == 2  # one slot for all the loops


def test_loops_with_a_pause_wait_on_the_reactor_clock_and_the_player_holds_no_slot_meanwhile(
    rig, clip, clock, recorder
):
    player = WavePlayer(rig.mixer, clip, loop_count=2, pause_time=1.5, reactor=clock)
    rig.bridge.add(player)
    player.start()
    rig.run(5)  # the first play ends inside the fifth frame
    assert player.is_active and player.producer_slot is None
    assert [call.getTime() for call in clock.getDelayedCalls()] == [1.5]
    rig.run(20)  # the mixer goes on; the pause is reactor time, not mixer time
    clock.advance(1.49)
    assert player.producer_slot is None
    clock.advance(0.01)
    assert player.producer_slot is not None
    rig.run(5)
    heard = rig.listener.heard()
    assert heard[:CLIP] == ramp(CLIP)
    assert heard[CLIP : 25 * FRAME] == silence(25 * FRAME - CLIP)
    assert heard[25 * FRAME : 25 * FRAME + CLIP] == ramp(CLIP)
    assert recorder.names().count("WavePlayerDidStart") == 1
    assert recorder.names()[-1] == "WavePlayerDidEnd" and not player.is_active
    assert len(recorder.named("AudioPortDidChangeSlots")) == 4
    assert clock.getDelayedCalls() == []


def test_a_loop_count_of_zero_with_a_pause_plays_until_stopped(rig, clip, clock, recorder):
    player = WavePlayer(rig.mixer, clip, loop_count=0, pause_time=0.5, reactor=clock)
    rig.bridge.add(player)
    player.start()
    for _ in range(10):
        rig.run(5)
        clock.advance(0.5)
    assert player.is_active and recorder.named("WavePlayerDidEnd") == []
    assert rig.listener.heard().count(ramp(CLIP)[0]) >= 10
    player.stop()
    assert not player.is_active and len(recorder.named("WavePlayerDidEnd")) == 1
    assert clock.getDelayedCalls() == []


def test_without_initial_play_the_first_play_waits_for_the_pause(rig, clip, clock, recorder):
    player = WavePlayer(rig.mixer, clip, pause_time=2, initial_play=False, reactor=clock)
    rig.bridge.add(player)
    player.start()
    rig.run(3)
    assert player.is_active and player.producer_slot is None and recorder.names() == []
    clock.advance(2)
    assert recorder.names() == ["AudioPortDidChangeSlots", "WavePlayerDidStart"]
    rig.run(5)
    assert rig.listener.heard()[3 * FRAME : 3 * FRAME + CLIP] == ramp(CLIP)
    assert recorder.names()[-1] == "WavePlayerDidEnd"


def test_stop_during_a_pause_cancels_the_timer_and_ends(rig, clip, clock, recorder):
    player = WavePlayer(rig.mixer, clip, loop_count=2, pause_time=1, reactor=clock)
    player.start()
    rig.run(5)
    player.stop()
    assert clock.getDelayedCalls() == [] and not player.is_active
    assert recorder.names().count("WavePlayerDidEnd") == 1
    clock.advance(5)
    assert player.producer_slot is None and rig.mixer.used_slot_count == 3  # bridge (2) + listener


def test_stop_while_playing_silences_it_at_once_and_it_can_start_again(rig, clip, clock, recorder):
    player = WavePlayer(rig.mixer, clip, reactor=clock)
    rig.bridge.add(player)
    player.start()
    rig.run(2)
    player.stop()
    rig.run(2)
    assert rig.listener.heard() == ramp(CLIP)[: 2 * FRAME] + silence(2 * FRAME)
    assert recorder.names().count("WavePlayerDidEnd") == 1
    player.start()
    rig.run(5)
    assert rig.listener.heard()[:CLIP] == ramp(CLIP)
    assert recorder.names().count("WavePlayerDidStart") == 2
    assert recorder.names().count("WavePlayerDidEnd") == 2


def test_start_while_active_and_stop_while_stopped_do_nothing(rig, clip, clock, recorder):
    player = WavePlayer(rig.mixer, clip, reactor=clock)
    player.stop()
    player.start()
    slot = player.producer_slot
    player.start()
    assert player.producer_slot == slot
    assert recorder.names() == ["AudioPortDidChangeSlots", "WavePlayerDidStart"]


def test_the_volume_scales_the_samples(rig, clip, clock):
    player = WavePlayer(rig.mixer, clip, volume=50, reactor=clock)
    rig.bridge.add(player)
    player.start()
    rig.run(1)
    assert list(rig.listener.heard()) == [value >> 1 for value in ramp(FRAME)]


@pytest.mark.parametrize("arguments", [{"loop_count": -1}, {"pause_time": -1}, {"volume": 201}])
def test_out_of_range_parameters_are_value_errors(mixer, clip, arguments):
    with pytest.raises(ValueError):
        WavePlayer(mixer, clip, **arguments)


def test_a_missing_file_fails_with_the_wave_file_error(rig, tmp_path, clock, recorder):
    player = WavePlayer(rig.mixer, tmp_path / "nothing-here.wav", reactor=clock)
    player.start()
    assert recorder.names() == ["WavePlayerDidFail"]
    [failed] = recorder.named("WavePlayerDidFail")
    assert failed.sender is player and isinstance(failed.data.timestamp, ISOTimestamp)
    assert isinstance(failed.data.error, WaveFileError) and failed.data.error.errno == errno.ENOENT
    assert not player.is_active and player.producer_slot is None


def test_a_file_that_is_not_a_wav_fails_with_the_reason(rig, tmp_path, clock, recorder):
    path = tmp_path / "text.wav"
    path.write_bytes(b"RIFF....WAVEthis is not a wave file at all")
    player = WavePlayer(rig.mixer, path, reactor=clock)
    player.start()
    [failed] = recorder.named("WavePlayerDidFail")
    assert isinstance(failed.data.error, WaveFileError) and failed.data.error.reason
    assert recorder.named("WavePlayerDidStart") == [] and recorder.named("WavePlayerDidEnd") == []


def test_a_file_that_disappears_between_loops_fails_on_the_next_loop(rig, clip, clock, recorder):
    player = WavePlayer(rig.mixer, clip, loop_count=2, pause_time=1, reactor=clock)
    player.start()
    rig.run(5)
    clip.unlink()
    clock.advance(1)
    assert recorder.names()[-1] == "WavePlayerDidFail" and not player.is_active
    assert recorder.named("WavePlayerDidEnd") == []


def test_play_wait_returns_in_a_green_thread_when_the_playback_has_ended(rig, clip, clock, hub):
    player = WavePlayer(rig.mixer, clip, loop_count=2, pause_time=1, reactor=clock)
    outcome: list[object] = []

    def green() -> None:
        outcome.append(player.play().wait())

    call_in_green_thread(green)
    clock.advance(0)  # the hub starts the green threads
    assert player.is_active and outcome == []
    rig.run(5)
    clock.advance(1)
    rig.run(5)
    assert outcome == []  # the end reached the player; the waiter resumes on the hub's next turn
    clock.advance(0)
    assert outcome == [None] and not player.is_active


def test_play_wait_raises_the_error_of_a_failed_playback(mixer, tmp_path, clock, hub):
    player = WavePlayer(mixer, tmp_path / "missing.wav", reactor=clock)
    outcome: list[object] = []

    def green() -> None:
        try:
            player.play().wait()
        except WaveFileError as error:
            outcome.append(error)

    call_in_green_thread(green)
    clock.advance(0)
    clock.advance(0)
    [error] = outcome
    assert isinstance(error, WaveFileError) and error.errno == errno.ENOENT


def test_a_player_nobody_holds_stops_and_leaves_the_mixer(rig, clip, clock):
    player = WavePlayer(rig.mixer, clip, loop_count=0, reactor=clock)
    rig.bridge.add(player)
    player.start()
    assert rig.mixer.used_slot_count == 4
    reference = weakref.ref(player)
    del player
    gc.collect()
    assert reference() is None and rig.mixer.used_slot_count == 3
    rig.run(2)
    assert set(rig.listener.heard()) == {0}


def test_with_the_clock_thread_and_the_reactor_reader_a_player_loops_and_ends_in_real_time(clip, recorder):
    """Integration: native end-of-file events reach the player through MediaEventReader on a reactor,
    and the pause between the loops runs on that reactor (bounded wait, no sleeps for the timer)."""
    from sipsimple.core.media.events import MediaEventReader
    from tests.support.reactor import Loop, fresh_reactor

    with fresh_reactor() as reactor:
        mixer = AudioMixer(None, None, RATE, 0)
        reader = MediaEventReader(mixer.event_queue, reactor)
        player = WavePlayer(mixer, clip, loop_count=2, pause_time=0.05, reactor=reactor)
        reader.start()
        mixer.start()
        try:
            player.start()
            Loop(reactor).run_until(lambda: recorder.named("WavePlayerDidEnd"), timeout=5.0, what="the end")
        finally:
            mixer.stop()
            reader.stop()
    assert [n.sender for n in recorder.named("WavePlayerDidStart")] == [player]
    assert len(recorder.named("AudioPortDidChangeSlots")) == 4  # two plays, each took and gave back a slot
    assert not player.is_active and mixer.used_slot_count == 0
