"""The mixer's clock thread: it ticks once per frame on absolute deadlines, without the GIL.

Waits poll the mixer's counters with a bound; the assertions are on tick counts and on the audio
the ticks produced, with generous bounds on time (the machine is shared).
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from sipsimple.core import SIPCoreInvalidStateError
from sipsimple.core.media._mixer import AudioMixer, MemoryPort, read_wave_file
from tests.core.media.mixer_signals import noise, pcm, samples
from tests.support.wait import wait_for


def native_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def wait_for_ticks(mixer: AudioMixer, count: int, timeout: float = 10.0) -> None:
    wait_for(
        lambda: mixer.statistics["clock_ticks"] >= count,
        lambda: f"{count} ticks (the clock made {mixer.statistics['clock_ticks']})",
        timeout,
    )


def test_the_clock_ticks_about_once_per_frame_until_stopped():
    mixer = AudioMixer(None, None, 8000, 0, frame_time=10)
    threads = native_threads()
    started = time.monotonic()
    mixer.start()
    mixer.start()  # no-op while running
    assert mixer.is_running
    with pytest.raises(SIPCoreInvalidStateError):
        mixer.tick()
    wait_for_ticks(mixer, 30)
    elapsed = time.monotonic() - started
    mixer.stop()
    assert not mixer.is_running and native_threads() == threads  # the thread was joined
    ticks = mixer.statistics["clock_ticks"]
    assert elapsed >= 0.29 * 0.9  # deadlines are absolute: 30 ticks cannot come before ~29 periods
    assert ticks <= elapsed / 0.010 + 2 + mixer.statistics["overruns"]
    assert mixer.statistics["ticks"] == ticks  # every tick of the mixer came from the clock
    mixer.tick(3)
    assert mixer.statistics["ticks"] == ticks + 3


def test_audio_driven_by_the_clock_has_no_gap_and_one_frame_per_tick(tmp_path):
    """A looping source played to a file output device by the clock thread comes out sample-exact."""
    out = tmp_path / "out.wav"
    mixer = AudioMixer(None, f"file:{out}", 16000, 0)
    loop = noise(320 * 7, 4000.0, seed=9)
    talker = MemoryPort(mixer, pcm(loop), loop=True)
    talker.start()
    mixer.connect_slots(talker.slot, 0)
    mixer.start()
    wait_for_ticks(mixer, 25)
    mixer.stop()
    ticks = mixer.statistics["clock_ticks"]
    mixer.set_sound_devices(None, None, 0)
    rate, channels, data = read_wave_file(out)
    heard = samples(data)
    assert (rate, channels, len(heard)) == (16000, 1, ticks * 320)
    expected = (loop * (ticks // 7 + 1))[: len(heard)]
    assert heard == expected


def test_the_clock_thread_keeps_ticking_while_python_holds_the_gil(tmp_path):
    """Busy Python on this thread (it holds the GIL throughout) does not stop or gap the audio."""
    out = tmp_path / "out.wav"
    mixer = AudioMixer(None, f"file:{out}", 8000, 0, frame_time=10)
    loop = noise(80 * 3, 4000.0, seed=4)
    talker = MemoryPort(mixer, pcm(loop), loop=True)
    talker.start()
    mixer.connect_slots(talker.slot, 0)
    mixer.start()
    try:
        wait_for_ticks(mixer, 1)
        before = mixer.statistics["clock_ticks"]
        started = time.monotonic()
        total = 0
        while time.monotonic() - started < 0.3:  # never sleeps, never calls into C that releases the GIL
            total += sum(range(1000))
        after = mixer.statistics["clock_ticks"]
    finally:
        mixer.stop()
    assert after - before >= 15  # 0.3 s is 30 periods: the clock thread needs no Python to tick
    ticks = mixer.statistics["clock_ticks"]
    mixer.set_sound_devices(None, None, 0)
    heard = samples(read_wave_file(out)[2])
    assert len(heard) == ticks * 80
    assert heard == (loop * (ticks // 3 + 1))[: len(heard)]  # continuous: no frame lost or repeated
    assert total > 0


def test_stopping_from_another_thread_than_the_starter_is_clean():
    mixer = AudioMixer(None, None, 8000, 0)
    mixer.start()
    wait_for_ticks(mixer, 2)
    stopper = threading.Thread(target=mixer.stop)
    stopper.start()
    stopper.join(5.0)
    assert not stopper.is_alive() and not mixer.is_running
