"""The Engine's media face: the codec names and their SDP order, the sound device lists and their
refresh notifications (sender: the engine, delivered on the reactor), and the media event reader
that runs from Engine.start to Engine.stop. Sound devices come from an injected enumerator: this
machine has no sound card."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sipsimple.core.engine import SIPEngine
from sipsimple.core.media._codecs import available_codecs
from sipsimple.core.media._events import EVENT_TEST
from sipsimple.core.media._mixer import SoundDevice, SoundDeviceManager, SoundDeviceScan
from tests.support.reactor import Loop, fresh_reactor

SPEAKERS = SoundDevice("Speakers", "ALSA", 0, 2, 48000.0)
MICROPHONE = SoundDevice("Microphone", "ALSA", 1, 0, 48000.0)
HEADSET = SoundDevice("USB Headset", "ALSA", 1, 2, 48000.0)


class FakeDevices:
    """An enumerator whose scan the test changes (a plugged headset, a new default)."""

    def __init__(self, *devices: SoundDevice, default_input: str | None, default_output: str | None) -> None:
        self.current = SoundDeviceScan(devices, default_input, default_output)

    def __call__(self, rescan: bool) -> SoundDeviceScan:
        return self.current


@pytest.fixture
def loop() -> Iterator[Loop]:
    with fresh_reactor() as reactor:
        yield Loop(reactor)


@pytest.fixture
def engine(loop: Loop) -> Iterator[SIPEngine]:
    engine = SIPEngine(reactor=loop.reactor)
    yield engine
    if engine.is_running:
        loop.wait(engine.stop())


def start(engine: SIPEngine) -> None:
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=None)


def test_available_codecs_name_each_codec_of_the_media_engine_once_in_its_order():
    engine = SIPEngine()
    expected: list[str] = []
    for info in available_codecs():
        if info.name not in expected:
            expected.append(info.name)
    assert engine.available_codecs == expected
    assert {"opus", "G722", "speex", "GSM", "PCMU", "PCMA"} <= set(engine.available_codecs)
    assert engine.codecs == expected  # every codec, in the engine's order, until told otherwise


def test_codecs_keep_the_order_given_in_the_engine_spelling():
    engine = SIPEngine()
    engine.codecs = ["pcma", "G722", b"PCMU"]
    assert engine.codecs == ["PCMA", "G722", "PCMU"]
    engine.codecs = []
    assert engine.codecs == []


@pytest.mark.parametrize("bad", [["PCMU", "iLBC"], ["PCMU", "pcmu"]], ids=["unknown name", "listed twice"])
def test_a_bad_codec_list_is_a_value_error_and_changes_nothing(bad: list[str]):
    engine = SIPEngine()
    engine.codecs = ["G722", "PCMU"]
    with pytest.raises(ValueError):
        engine.codecs = bad
    assert engine.codecs == ["G722", "PCMU"]


def test_a_single_string_is_not_taken_for_a_list_of_letters():
    engine = SIPEngine()
    with pytest.raises(TypeError):
        engine.codecs = "PCMU"


def test_the_device_lists_and_defaults_come_from_the_sound_device_manager():
    engine = SIPEngine()
    devices = FakeDevices(
        SPEAKERS, MICROPHONE, HEADSET, default_input="Microphone", default_output="Speakers"
    )
    engine.sound_device_manager = SoundDeviceManager(
        engine.media_event_queue, enumerate=devices, sender=engine
    )
    assert engine.input_devices == ["Microphone", "USB Headset"]
    assert engine.output_devices == ["Speakers", "USB Headset"]
    assert (engine.default_input_device, engine.default_output_device) == ("Microphone", "Speakers")


def test_the_default_manager_posts_through_the_engine_queue_with_the_engine_as_sender():
    engine = SIPEngine()
    manager = engine.sound_device_manager  # PortAudio's real scan (empty on this machine)
    assert manager.event_queue is engine.media_event_queue
    assert isinstance(engine.input_devices, list) and isinstance(engine.output_devices, list)


def test_refresh_notifications_arrive_on_the_reactor_with_the_engine_as_sender(engine, loop, recorder):
    devices = FakeDevices(SPEAKERS, MICROPHONE, default_input="Microphone", default_output="Speakers")
    engine.sound_device_manager = SoundDeviceManager(
        engine.media_event_queue, enumerate=devices, sender=engine
    )
    start(engine)
    devices.current = SoundDeviceScan((SPEAKERS, MICROPHONE, HEADSET), "USB Headset", "Speakers")
    engine.refresh_sound_devices()
    assert engine.input_devices == ["Microphone", "USB Headset"]  # the scan is taken at once
    loop.run_until(lambda: recorder.named("DefaultAudioDeviceDidChange"), what="the reactor's dispatch")
    [changed] = recorder.named("AudioDevicesDidChange")
    assert changed.sender is engine
    assert changed.data.old_devices == ["Speakers", "Microphone"]
    assert changed.data.new_devices == ["Speakers", "Microphone", "USB Headset"]
    [default] = recorder.named("DefaultAudioDeviceDidChange")
    assert default.sender is engine
    assert (default.data.changed_input, default.data.changed_output) == (True, False)


class Target:
    def __init__(self) -> None:
        self.events: list[tuple[int, int, int]] = []

    def _handle_media_event(self, kind: int, a: int, b: int) -> None:
        self.events.append((kind, a, b))


def test_the_media_event_reader_runs_from_start_to_stop(engine, loop):
    target = Target()
    queue = engine.media_event_queue
    source = queue.register(target)
    assert not engine.media_events_watched
    start(engine)
    assert engine.media_events_watched
    queue.post(EVENT_TEST, source, 7, 8)
    loop.run_until(lambda: target.events, what="the event on the reactor")
    assert target.events == [(EVENT_TEST, 7, 8)]
    loop.wait(engine.stop())
    assert not engine.media_events_watched
    assert queue.fileno() not in [reader.fileno() for reader in loop.reactor.getReaders()]
    queue.post(EVENT_TEST, source, 9, 9)
    loop.turn()
    assert target.events == [(EVENT_TEST, 7, 8)]  # nobody watches the queue while stopped
    start(engine)
    loop.run_until(lambda: len(target.events) == 2, what="the waiting event after a new start")
    assert target.events[1] == (EVENT_TEST, 9, 9)
