"""Creating and destroying mixers, ports and event queues in a loop returns file descriptors,
native threads and memory to where they started (bounded loops)."""

from __future__ import annotations

import gc
import os
import resource

from sipsimple.core.media._events import EventQueue
from sipsimple.core.media._mixer import (
    AudioMixer,
    MemoryPort,
    MixerPort,
    RecordingWaveFile,
    ToneGenerator,
    WaveFile,
    write_wave_file,
)
from tests.core.media.mixer_signals import constant, pcm


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def native_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def resident_kib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() // 1024


def one_life(tmp_path, index: int, clip) -> None:
    queue = EventQueue()
    with_files = index % 10 == 0
    output = f"file:{tmp_path / 'device.wav'}" if with_files else None
    resampler = "speexdsp" if index % 3 == 0 else "auto"  # both converters are created and freed
    mixer = AudioMixer(None, output, 16000, 50, 16, event_queue=queue, resampler=resampler)
    talker = MemoryPort(mixer, pcm(constant(100, 320)), sample_rate=8000, record_seconds=0.1)
    tones = ToneGenerator(mixer)
    loopback = MixerPort(mixer)
    for port in (talker, tones, loopback):
        port.start()
    tones.play_dtmf("5")
    mixer.connect_slots(talker.slot, loopback.slot)
    mixer.connect_slots(tones.slot, 0)
    mixer.connect_slots(0, talker.slot)
    if with_files:
        player = WaveFile(mixer, clip, loop_count=0)
        player.start()
        recording = RecordingWaveFile(mixer, tmp_path / "r.wav")
        recording.start()
        mixer.connect_slots(player.slot, recording.slot)
        mixer.start()
        mixer.stop()
    mixer.tick(3)
    queue.drain()
    if with_files:
        recording.stop()
        player.stop()


def test_a_thousand_lives_leak_no_descriptor_thread_or_memory(tmp_path):
    clip = tmp_path / "clip.wav"
    write_wave_file(clip, 8000, 1, pcm(constant(5, 800)))
    for index in range(50):  # warm-up: allocator pools, lazy imports
        one_life(tmp_path, index, clip)
    gc.collect()
    descriptors, threads, memory = open_descriptors(), native_threads(), resident_kib()
    for index in range(1000):
        one_life(tmp_path, index, clip)
    gc.collect()
    assert open_descriptors() == descriptors
    assert native_threads() == threads
    growth = resident_kib() - memory
    assert growth < 1024, f"resident memory grew by {growth} KiB over 1000 lives"
    assert sorted(os.listdir(tmp_path)) == ["clip.wav", "device.wav", "r.wav"]  # no temporary files
