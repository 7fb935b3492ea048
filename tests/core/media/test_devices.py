"""Sound devices: the bridge between device buffers and mixer frames, the device lists and their
refresh (hot-plug), and PortAudio devices.

The bridge is driven synchronously (``AudioMixer._simulate_device``: the C code a PortAudio
callback runs, called by the test with buffer sizes of its choosing). Device-list changes are
checked with an injected enumerator. Real PortAudio devices are exercised in a child process
with an ALSA configuration that defines "null" PCMs (ALSA's userspace null plugin needs no sound
card or kernel module); they stand in for hardware, but run faster than real time.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
import textwrap
from array import array
from pathlib import Path

import pytest

from sipsimple.core import SIPCoreError
from sipsimple.core.media._mixer import (
    EMPTY_SCAN,
    AudioMixer,
    MemoryPort,
    SoundDevice,
    SoundDeviceManager,
    SoundDeviceScan,
    compare_sound_device_scans,
    sound_devices,
)
from sipsimple.core.media.events import dispatch_pending
from tests.core.media.mixer_signals import interleave, noise, pcm, samples

RATE, FRAME = 48000, 960
ROOT = Path(__file__).resolve().parents[3]


def ramp(count: int, start: int = 1) -> array:
    """Distinct consecutive values (modulo 65536): a lost or repeated sample cannot hide."""
    return array("h", [((start + i + 32768) % 65536) - 32768 for i in range(count)])


def echo_mixer(rate: int = RATE) -> AudioMixer:
    mixer = AudioMixer(None, None, rate, 0)
    mixer.connect_slots(0, 0)  # the device hears itself: playback = capture
    return mixer


# -- the bridge: device buffers <-> mixer frames ----------------------------------------------------


def test_256_sample_callbacks_drive_20_ms_frames_for_10_seconds_without_losing_or_repeating_a_sample():
    mixer = echo_mixer()
    captured = ramp(10 * RATE)
    played, stats = mixer._simulate_device([256] * (10 * RATE // 256), pcm(captured))
    # one frame of silence primes the capture side, then every sample comes back once, in order
    assert samples(played) == array("h", [0] * FRAME) + captured[: len(captured) - FRAME]
    assert stats["ticks"] == 10 * RATE // FRAME
    assert stats["capture_underruns"] == 0 and stats["capture_overflows"] == 0
    assert stats["captured"] == stats["played"] == 10 * RATE // 256 * 256


@pytest.mark.parametrize(
    "sizes",
    [
        [1] * 3000,
        [441] * 200,
        [960] * 50,
        [1024] * 60,
        [4096] * 20,
        [random.Random(seed).randint(1, 3000) for _ in range(300) for seed in [len("sizes")]],
    ],
    ids=["1", "441", "960", "1024", "4096", "random"],
)
def test_any_callback_size_gives_back_every_sample_exactly_one_frame_later(sizes):
    mixer = echo_mixer()
    captured = ramp(sum(sizes))
    played, stats = mixer._simulate_device(sizes, pcm(captured))
    assert samples(played) == array("h", [0] * FRAME) + captured[: len(captured) - FRAME]
    assert stats["capture_underruns"] == 0
    assert stats["ticks"] == -(-sum(sizes) // FRAME)  # ceiling: a tick whenever output ran dry


def test_random_callback_sizes_vary_from_one_call_to_the_next():
    rng = random.Random(11)
    sizes = [rng.randint(1, 2500) for _ in range(400)]
    mixer = echo_mixer(16000)
    captured = ramp(sum(sizes), start=-1000)
    played, _ = mixer._simulate_device(sizes, pcm(captured))
    assert samples(played) == array("h", [0] * 320) + captured[: len(captured) - 320]


def test_a_stereo_device_is_averaged_into_the_mixer_and_fed_on_both_channels():
    mixer = echo_mixer()
    left = ramp(20 * 256, start=100)
    right = array("h", [v - 100 for v in left])  # the average is left - 50
    played, _ = mixer._simulate_device([256] * 20, pcm(interleave(left, right)), channels=2)
    out = samples(played)
    expected = array("h", [0] * FRAME) + array("h", [v - 50 for v in left[: len(left) - FRAME]])
    assert out[0::2] == expected and out[1::2] == expected


def test_a_capture_only_device_ticks_once_per_whole_captured_frame():
    mixer = AudioMixer(None, None, RATE, 0)
    listener = MemoryPort(mixer, record_seconds=2.0)
    listener.start()
    mixer.connect_slots(0, listener.slot)
    captured = ramp(5000)
    played, stats = mixer._simulate_device([1000] * 5, pcm(captured), playback=False)
    assert played is None
    assert stats["ticks"] == 5000 // FRAME
    assert samples(listener.take()) == captured[: 5 * FRAME]  # the rest waits for the next frame


def test_a_playback_only_device_plays_what_the_mixer_sends_to_slot_0():
    mixer = AudioMixer(None, None, RATE, 0)
    music = noise(3 * FRAME, seed=4)
    source = MemoryPort(mixer, pcm(music), loop=True)
    source.start()
    mixer.connect_slots(source.slot, 0)
    played, stats = mixer._simulate_device([700] * 9)
    assert samples(played) == (music * 3)[: 9 * 700]
    assert stats["capture_underruns"] == 0  # the device has no capture side: nothing was missed


def test_a_callback_larger_than_the_capture_ring_loses_the_excess_and_counts_it():
    mixer = AudioMixer(None, None, RATE, 0)
    _, stats = mixer._simulate_device([20000], pcm(ramp(20000)), playback=False)
    assert stats["capture_overflows"] == 20000 - 16384  # the ring holds 16 frames, at least 16384 samples
    assert stats["ticks"] == 16384 // FRAME


def runs(values: array) -> list[tuple[int, int]]:
    """(first value, length) of each run of consecutive ramp values."""
    found: list[tuple[int, int]] = []
    for value in values:
        if found and (found[-1][0] + found[-1][1] - value) % 65536 == 0:
            found[-1] = (found[-1][0], found[-1][1] + 1)
        else:
            found.append((value, 1))
    return found


def test_capture_that_runs_ahead_of_the_output_is_trimmed_a_whole_frame_at_a_time():
    """An input device on a faster clock than the output (two streams): 300 samples in for 256 out."""
    mixer = echo_mixer()
    steps = 2000
    captured = ramp(300 * steps, start=1)
    played, stats = mixer._simulate_device([256] * steps, pcm(captured), capture_callbacks=[300] * steps)
    assert stats["capture_trimmed"] > 0 and stats["capture_overflows"] == 0
    assert stats["capture_underruns"] == 0
    # what is heard is the capture in order, with whole frames cut out, nothing repeated or torn
    pieces = runs(samples(played)[FRAME:])
    gaps = [(after[0] - before[0] - before[1]) % 65536 for before, after in itertools.pairwise(pieces)]
    assert gaps and all(gap > 0 and gap % FRAME == 0 for gap in gaps), pieces[:5]
    assert sum(gaps) == FRAME * stats["capture_trimmed"]


def test_capture_that_lags_behind_the_output_gives_counted_frames_of_silence():
    mixer = echo_mixer()
    steps = 1000
    played, stats = mixer._simulate_device(
        [256] * steps, pcm(ramp(200 * steps)), capture_callbacks=[200] * steps
    )
    assert stats["capture_underruns"] > 0
    heard = samples(played)
    silent_frames = sum(1 for i in range(0, len(heard) - FRAME + 1, FRAME) if not any(heard[i : i + FRAME]))
    assert silent_frames >= stats["capture_underruns"] - 1


def test_the_selected_devices_come_back_after_a_simulation(tmp_path):
    from sipsimple.core.media._mixer import write_wave_file

    path = tmp_path / "in.wav"
    write_wave_file(path, RATE, 1, pcm(ramp(3 * FRAME, start=5)))
    mixer = AudioMixer(f"file:{path}", None, RATE, 0)
    listener = MemoryPort(mixer, record_seconds=1.0)
    listener.start()
    mixer.connect_slots(0, listener.slot)
    mixer._simulate_device([FRAME], pcm(ramp(FRAME, start=-7)), playback=False)
    assert samples(listener.take()) == ramp(FRAME, start=-7)
    mixer.tick()
    assert samples(listener.take()) == ramp(FRAME, start=5)  # the file device is back, from its start


def test_a_simulation_is_refused_while_the_mixer_runs_and_checks_its_arguments():
    mixer = AudioMixer(None, None, RATE, 0)
    with pytest.raises(ValueError, match="channels"):
        mixer._simulate_device([10], pcm(ramp(10)), channels=3)
    with pytest.raises(ValueError, match="fewer"):
        mixer._simulate_device([10], pcm(ramp(5)))
    with pytest.raises(ValueError, match="capture or a playback"):
        mixer._simulate_device([10], None, playback=False)
    mixer.start()
    try:
        with pytest.raises(SIPCoreError, match="running"):
            mixer._simulate_device([10])
    finally:
        mixer.stop()


# -- device lists and hot-plug (sans-IO, injected enumerator) ---------------------------------------

HEADSET = SoundDevice("USB Headset", "ALSA", 1, 2, 48000.0)
SPEAKERS = SoundDevice("Speakers", "ALSA", 0, 2, 44100.0)
MICROPHONE = SoundDevice("Microphone", "ALSA", 2, 0, 44100.0)


def scan(*devices: SoundDevice, default_input: str | None = None, default_output: str | None = None):
    return SoundDeviceScan(tuple(devices), default_input, default_output)


class FakeEnumerator:
    """Returns ``current``; records whether each call asked for a rescan."""

    def __init__(self, current: SoundDeviceScan) -> None:
        self.current = current
        self.calls: list[bool] = []

    def __call__(self, rescan: bool) -> SoundDeviceScan:
        self.calls.append(rescan)
        return self.current


def test_scans_differ_when_a_device_comes_goes_or_changes_but_not_when_only_the_order_does():
    before = scan(SPEAKERS, MICROPHONE, default_input="Microphone", default_output="Speakers")
    assert compare_sound_device_scans(before, before) == (False, False, False)
    assert compare_sound_device_scans(
        before, scan(MICROPHONE, SPEAKERS, default_input="Microphone", default_output="Speakers")
    ) == (False, False, False)
    plugged = scan(SPEAKERS, MICROPHONE, HEADSET, default_input="Microphone", default_output="Speakers")
    assert compare_sound_device_scans(before, plugged) == (True, False, False)
    assert compare_sound_device_scans(plugged, before) == (True, False, False)
    stereo_mic = scan(
        SPEAKERS, MICROPHONE._replace(input_channels=1), default_input="Microphone", default_output="Speakers"
    )
    assert compare_sound_device_scans(before, stereo_mic).devices_changed
    new_default = scan(SPEAKERS, MICROPHONE, HEADSET, default_input="USB Headset", default_output="Speakers")
    assert compare_sound_device_scans(plugged, new_default) == (False, True, False)
    assert compare_sound_device_scans(EMPTY_SCAN, before) == (True, True, True)


def test_a_scan_lists_input_and_output_names_once_each():
    duplicated = scan(HEADSET, SPEAKERS, HEADSET._replace(host_api="JACK"), MICROPHONE)
    assert duplicated.input_devices == ["USB Headset", "Microphone"]
    assert duplicated.output_devices == ["USB Headset", "Speakers"]
    assert duplicated.names == ["USB Headset", "Speakers", "Microphone"]


def test_plugging_a_headset_posts_audio_devices_did_change_once_the_queue_is_dispatched(recorder):
    devices = FakeEnumerator(
        scan(SPEAKERS, MICROPHONE, default_input="Microphone", default_output="Speakers")
    )
    manager = SoundDeviceManager(enumerate=devices)
    assert manager.input_devices == ["Microphone"] and manager.default_output_device == "Speakers"
    devices.current = scan(
        SPEAKERS, MICROPHONE, HEADSET, default_input="Microphone", default_output="Speakers"
    )
    changes = manager.refresh()
    assert changes == (True, False, False)
    assert devices.calls == [False, True]  # the refresh asked for a real rescan
    assert recorder.named("AudioDevicesDidChange") == []  # posted through the event queue
    dispatch_pending(manager.event_queue)
    [notification] = recorder.named("AudioDevicesDidChange")
    assert notification.sender is manager
    assert notification.data.old_devices == ["Speakers", "Microphone"]
    assert notification.data.new_devices == ["Speakers", "Microphone", "USB Headset"]
    assert recorder.named("DefaultAudioDeviceDidChange") == []
    assert manager.input_devices == ["Microphone", "USB Headset"]


def test_a_new_default_device_posts_default_audio_device_did_change_with_what_changed(recorder):
    devices = FakeEnumerator(
        scan(SPEAKERS, MICROPHONE, HEADSET, default_input="Microphone", default_output="Speakers")
    )
    engine = object()
    manager = SoundDeviceManager(enumerate=devices, sender=engine)
    devices.current = scan(
        SPEAKERS, MICROPHONE, HEADSET, default_input="USB Headset", default_output="Speakers"
    )
    assert manager.refresh() == (False, True, False)
    dispatch_pending(manager.event_queue)
    [notification] = recorder.named("DefaultAudioDeviceDidChange")
    assert notification.sender is engine
    assert (notification.data.changed_input, notification.data.changed_output) == (True, False)
    assert recorder.named("AudioDevicesDidChange") == []


def test_unplugging_the_default_device_posts_both_notifications(recorder):
    devices = FakeEnumerator(
        scan(HEADSET, SPEAKERS, default_input="USB Headset", default_output="USB Headset")
    )
    manager = SoundDeviceManager(enumerate=devices)
    devices.current = scan(SPEAKERS, default_input=None, default_output="Speakers")
    manager.refresh()
    dispatch_pending(manager.event_queue)
    assert recorder.names() == ["AudioDevicesDidChange", "DefaultAudioDeviceDidChange"]
    changed = recorder.named("DefaultAudioDeviceDidChange")[0].data
    assert (changed.changed_input, changed.changed_output) == (True, True)
    assert recorder.named("AudioDevicesDidChange")[0].data.new_devices == ["Speakers"]


def test_a_refresh_that_finds_nothing_new_posts_nothing(recorder):
    devices = FakeEnumerator(scan(SPEAKERS, default_output="Speakers"))
    manager = SoundDeviceManager(enumerate=devices)
    assert manager.refresh() == (False, False, False)
    assert dispatch_pending(manager.event_queue) == 0
    assert recorder.notifications == []


# -- PortAudio on this machine --------------------------------------------------------------------------


def test_enumeration_returns_a_consistent_list_which_may_be_empty():
    found = sound_devices()
    assert isinstance(found, SoundDeviceScan)
    assert all(isinstance(device, SoundDevice) for device in found.devices)
    assert set(found.input_devices) | set(found.output_devices) <= set(found.names)
    assert found.default_input is None or found.default_input in found.input_devices
    assert found.default_output is None or found.default_output in found.output_devices


def test_system_default_without_any_device_falls_back_to_the_null_device_and_says_why(recorder):
    if sound_devices().devices:
        pytest.skip("this machine has sound devices")
    mixer = AudioMixer("system_default", "system_default", RATE, 0)
    # as in the reference SDK, with no sound device at all the names read back as None
    assert (mixer.input_device, mixer.output_device) == (None, None)
    assert (mixer.real_input_device, mixer.real_output_device) == (None, None)
    assert mixer.device_statistics is None
    dispatch_pending(mixer.event_queue)
    failures = recorder.named("AudioMixerDeviceDidFail")
    assert [(n.data.direction, n.data.device) for n in failures] == [
        ("input", "system_default"),
        ("output", "system_default"),
    ]
    assert all("no default" in n.data.error and n.sender is mixer for n in failures)
    mixer.tick(3)  # the null device works as before
    assert mixer.statistics["ticks"] == 3


def test_a_named_device_that_does_not_exist_falls_back_too(recorder):
    if sound_devices().devices:
        pytest.skip("this machine has sound devices")
    mixer = AudioMixer(None, "No Such Speaker", RATE, 0)
    dispatch_pending(mixer.event_queue)
    [failure] = recorder.named("AudioMixerDeviceDidFail")
    assert (failure.data.direction, failure.data.device) == ("output", "No Such Speaker")
    assert "No Such Speaker" in failure.data.error


# -- PortAudio with ALSA "null" devices, in a child process -----------------------------------------

CHILD = textwrap.dedent(
    """
    import gc, json, os, time
    from sipsimple.core.media._mixer import AudioMixer, MemoryPort, SoundDeviceManager, sound_devices
    from sipsimple.core.media.events import dispatch_pending
    from sipsimple.notification import NotificationCenter

    notes = []

    class Observer:
        def handle_notification(self, notification):
            if notification.name.startswith("Audio") or notification.name.startswith("Default"):
                notes.append([notification.name, dict(vars(notification.data))])

    def run_until(mixer, ticks):
        mixer.start()
        deadline = time.monotonic() + 10
        while mixer.device_statistics["ticks"] < ticks and time.monotonic() < deadline:
            time.sleep(0.005)
        mixer.stop()
        return mixer.device_statistics, mixer.statistics

    NotificationCenter().add_observer(Observer())
    result = {"scan": sound_devices()._asdict()}
    manager = SoundDeviceManager()
    mixer = AudioMixer("sipsimple_test", "sipsimple_test", 16000, 0, event_queue=manager.event_queue)
    result["duplex_real"] = [mixer.real_input_device, mixer.real_output_device]
    tone = MemoryPort(mixer, b"\\x10\\x00" * 320, loop=True)
    tone.start()
    mixer.connect_slots(tone.slot, 0)
    result["duplex"] = run_until(mixer, 200)

    mixer.start()
    mixer.set_sound_devices("default", "sipsimple_test", 0)  # while running
    deadline = time.monotonic() + 10
    while mixer.device_statistics["ticks"] < 50 and time.monotonic() < deadline:
        time.sleep(0.005)
    result["switched"] = [mixer.real_input_device, mixer.real_output_device, mixer.device_statistics["ticks"],
                          mixer.is_running]
    mixer.set_sound_devices(None, None, 0)  # while running: the clock thread takes over
    deadline = time.monotonic() + 10
    while mixer.statistics["clock_ticks"] < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    result["switched_to_null"] = [mixer.real_input_device, mixer.device_statistics, mixer.statistics["clock_ticks"],
                                  mixer.is_running]
    mixer.stop()
    mixer.set_sound_devices("sipsimple_test", "sipsimple_test", 0)

    with open(os.environ["ALSA_CONFIG_PATH"], "a") as config:
        config.write("pcm.sipsimple_plugged { type null }\\n")
    result["changes"] = list(manager.refresh())
    result["after_refresh"] = [mixer.real_input_device, mixer.real_output_device, manager.input_devices]
    result["reopened"] = run_until(mixer, 50)

    mixer._handle_media_event(0x0303, 3, mixer._device_tag)  # the device stopped by itself
    result["after_stop"] = [mixer.real_input_device, mixer.real_output_device, mixer.device_statistics,
                            mixer.input_device]
    mixer.start()
    deadline = time.monotonic() + 10
    while mixer.statistics["clock_ticks"] < 1 and time.monotonic() < deadline:
        time.sleep(0.005)  # polls the native clock thread, bounded
    result["clock_after_stop"] = mixer.statistics["clock_ticks"]
    mixer.stop()

    capture_only = AudioMixer("sipsimple_test", None, 8000, 0)
    result["capture_only"] = run_until(capture_only, 50)
    playback_only = AudioMixer(None, "system_default", 48000, 0)
    result["playback_only_real"] = playback_only.real_output_device
    result["playback_only"] = run_until(playback_only, 50)
    dispatch_pending(manager.event_queue)
    result["notifications"] = notes

    def counts():
        return len(os.listdir("/proc/self/fd")), len(os.listdir("/proc/self/task"))

    del capture_only, playback_only
    gc.collect()
    before = counts()
    for cycle in range(30):
        cycled = AudioMixer("sipsimple_test", "sipsimple_test", 8000, 0)
        cycled.start()
        cycled.stop()
        if cycle % 2:
            cycled.set_sound_devices(None, None, 0)
        del cycled
    gc.collect()
    result["cycles"] = [before, counts()]
    print("RESULT " + json.dumps(result))
    """
)

ALSA_CONFIG = """</usr/share/alsa/alsa.conf>
pcm.sipsimple_test { type null }
pcm.!default { type null }
"""


@pytest.fixture(scope="module")
def alsa_null_devices(tmp_path_factory):
    if not Path("/usr/share/alsa/alsa.conf").exists():
        pytest.skip("no ALSA configuration on this machine")
    config = tmp_path_factory.mktemp("alsa") / "asound.conf"
    config.write_text(ALSA_CONFIG)
    env = dict(os.environ, ALSA_CONFIG_PATH=str(config), JACK_NO_START_SERVER="1", PYTHONPATH=str(ROOT))
    child = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    lines = [line for line in child.stdout.splitlines() if line.startswith("RESULT ")]
    assert child.returncode == 0 and lines, child.stderr[-3000:]
    result = json.loads(lines[0][len("RESULT ") :])
    if "sipsimple_test" not in [device[0] for device in result["scan"]["devices"]]:
        pytest.skip("PortAudio does not list ALSA's null devices here")
    return result


def test_alsa_null_devices_are_enumerated_by_portaudio(alsa_null_devices):
    scan = alsa_null_devices["scan"]
    names = [device[0] for device in scan["devices"]]
    assert "sipsimple_test" in names and scan["default_input"] == "default"


def test_a_duplex_device_callback_drives_the_mixer_instead_of_the_clock_thread(alsa_null_devices):
    device, mixer = alsa_null_devices["duplex"]
    assert alsa_null_devices["duplex_real"] == ["sipsimple_test", "sipsimple_test"]
    assert device["duplex"] and device["input_channels"] == 1 and device["output_channels"] == 1
    assert device["ticks"] >= 200 and mixer["clock_ticks"] == 0
    assert mixer["ticks"] == device["ticks"]
    assert device["capture_underruns"] == 0
    # one full-duplex stream: the output took exactly what the input gave (plus the priming frame)
    assert abs(device["captured"] - device["played"]) < 16000


def test_devices_can_be_switched_while_the_mixer_runs(alsa_null_devices):
    real_input, real_output, ticks, running = alsa_null_devices["switched"]
    assert (real_input, real_output, running) == ("default", "sipsimple_test", True)
    assert ticks >= 50  # the new device's callback ticks the mixer
    real_input, statistics, clock_ticks, running = alsa_null_devices["switched_to_null"]
    assert (real_input, statistics, running) == (None, None, True)
    assert clock_ticks >= 2  # back on the clock thread


def test_a_refresh_reinitialises_portaudio_finds_the_new_device_and_reopens_the_mixers(alsa_null_devices):
    assert alsa_null_devices["changes"] == [True, False, False]
    real_input, real_output, inputs = alsa_null_devices["after_refresh"]
    assert (real_input, real_output) == ("sipsimple_test", "sipsimple_test")
    assert "sipsimple_plugged" in inputs
    device, _ = alsa_null_devices["reopened"]
    assert device["ticks"] >= 50
    [changed] = [data for name, data in alsa_null_devices["notifications"] if name == "AudioDevicesDidChange"]
    assert set(changed["new_devices"]) - set(changed["old_devices"]) == {"sipsimple_plugged"}


def test_a_device_that_stops_by_itself_is_replaced_by_the_null_device(alsa_null_devices):
    real_input, real_output, statistics, requested = alsa_null_devices["after_stop"]
    assert (real_input, real_output, statistics) == (None, None, None)
    assert requested == "sipsimple_test"  # still asked for: a refresh reopens it
    assert alsa_null_devices["clock_after_stop"] > 0  # the clock thread ticks again
    failures = [
        data for name, data in alsa_null_devices["notifications"] if name == "AudioMixerDeviceDidFail"
    ]
    assert sorted(data["direction"] for data in failures) == ["input", "output"]
    assert all("stopped" in data["error"] for data in failures)


def test_a_capture_only_or_playback_only_device_drives_the_mixer_alone(alsa_null_devices):
    device, mixer = alsa_null_devices["capture_only"]
    assert device["ticks"] >= 50 and mixer["clock_ticks"] == 0 and device["played"] == 0
    assert alsa_null_devices["playback_only_real"] == "default"
    device, mixer = alsa_null_devices["playback_only"]
    assert device["ticks"] >= 50 and mixer["clock_ticks"] == 0 and device["captured"] == 0


def test_opening_and_closing_a_device_30_times_leaves_no_descriptor_or_thread_behind(alsa_null_devices):
    before, after = alsa_null_devices["cycles"]
    assert after == before
