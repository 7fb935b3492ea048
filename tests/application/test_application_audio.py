"""SIPApplication's audio (its own reactor thread, a fresh reactor per test): the voice and alert
mixers, devices and bridges made from SIPSimpleSettings.audio, running on the null device (this
machine has no sound card) or on WAV file devices; the settings followed at run time (devices, echo
canceller, mute, sample rate with a WavePlayer that stays connected, codec list), the system's
device changes, devices that cannot be used, and the teardown on stop."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sipsimple.account import AccountManagerBase
from sipsimple.application import SIPApplicationBase
from sipsimple.audio import AudioBridge, AudioDevice, WavePlayer
from sipsimple.configuration import ConfigurationManager
from sipsimple.configuration.settings import SIPSimpleSettings
from sipsimple.core.engine import SIPEngine
from sipsimple.core.media._mixer import (
    AudioMixer,
    SoundDevice,
    SoundDeviceManager,
    SoundDeviceScan,
    write_wave_file,
)
from sipsimple.storage import MemoryStorage
from sipsimple.threading import TwistedThread
from tests.support.reactor import fresh_reactor
from tests.support.wait import wait_for

from .test_application import WAIT

os.environ.setdefault("JACK_NO_START_SERVER", "1")


class Calls:
    """The ``set_sound_devices`` calls of the mixers a recording factory made (the constructor's too)."""

    def __init__(self) -> None:
        self.calls: list[tuple[AudioMixer, str | None, str | None, int]] = []
        calls = self.calls

        class RecordingMixer(AudioMixer):
            def set_sound_devices(self, input_device: Any, output_device: Any, ec_tail_length: int) -> None:
                calls.append((self, input_device, output_device, ec_tail_length))
                super().set_sound_devices(input_device, output_device, ec_tail_length)

        self.factory = RecordingMixer

    def of(self, mixer: AudioMixer | None) -> list[tuple[str | None, str | None, int]]:
        return [(i, o, t) for m, i, o, t in list(self.calls) if m is mixer]


@pytest.fixture
def make_app() -> Iterator[Callable[..., SIPApplicationBase]]:
    """``make_app(audio={...}, rtp={...}, mixer_factory=..., engine=...)`` -> a started application
    (UDP on 127.0.0.1); stopped (bounded) afterwards."""
    ConfigurationManager().stop()
    with fresh_reactor() as reactor:
        started: list[SIPApplicationBase] = []

        def make(
            *,
            audio: dict[str, Any] | None = None,
            rtp: dict[str, Any] | None = None,
            mixer_factory: Any = None,
            engine: SIPEngine | None = None,
        ) -> SIPApplicationBase:
            twisted_thread = TwistedThread(reactor)
            engine = engine or SIPEngine(reactor=reactor)
            manager = AccountManagerBase(engine=engine, twisted_thread=twisted_thread, unregister_timeout=0.3)
            application = SIPApplicationBase(
                twisted_thread=twisted_thread,
                engine=engine,
                account_manager=manager,
                engine_options={"ip_address": "127.0.0.1"},
                stop_timeout=2.0,
                audio_mixer_factory=mixer_factory,
            )
            storage = MemoryStorage()
            settings: dict[str, Any] = {"sip": {"transport_list": ["udp"]}}
            if audio:
                settings["audio"] = {key: stored(value) for key, value in audio.items()}
            if rtp:
                settings["rtp"] = {key: stored(value) for key, value in rtp.items()}
            storage.configuration_backend.save({"SIPSimpleSettings": settings, "Accounts": {}})
            application.start(storage)
            started.append(application)
            wait_for(lambda: application._state == "running", "the start", WAIT)
            return application

        try:
            yield make
        finally:
            for application in started:
                application.stop()
                if application.twisted_thread.thread is not None:
                    application.twisted_thread.thread.join(WAIT)
                    assert not application.twisted_thread.thread.is_alive()
            ConfigurationManager().stop()


def stored(value: Any) -> Any:
    """A setting as the storage keeps it (strings, lists of strings, None)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if value is None or isinstance(value, (str, list)) else str(value)


def run(app: SIPApplicationBase, function: Callable[[], Any]) -> Any:
    return app.twisted_thread.call_and_wait(function, timeout=WAIT)


def save(**changes: Any) -> None:
    """Change SIPSimpleSettings (``audio__echo_canceller__enabled=False``) and save it."""
    settings: Any = SIPSimpleSettings()
    for dotted, value in changes.items():
        *groups, name = dotted.split("__")
        target = settings
        for group in groups:
            target = getattr(target, group)
        setattr(target, name, value)
    settings.save()


def ticks(mixer: AudioMixer) -> int:
    return int(mixer.statistics["ticks"])


def test_start_makes_running_voice_and_alert_mixers_with_their_devices_in_their_bridges(make_app):
    app = make_app(audio={"silent": True})
    voice, alert = app.voice_audio_mixer, app.alert_audio_mixer
    assert isinstance(voice, AudioMixer) and isinstance(alert, AudioMixer) and voice is not alert
    assert voice.sample_rate == alert.sample_rate == 48000  # the default sample_rate
    assert voice.ec_tail_length == 200 and alert.ec_tail_length == 0  # echo canceller on by default
    assert voice.event_queue is alert.event_queue is app.engine.media_event_queue
    for mixer, device, bridge in (
        (voice, app.voice_audio_device, app.voice_audio_bridge),
        (alert, app.alert_audio_device, app.alert_audio_bridge),
    ):
        assert isinstance(device, AudioDevice) and isinstance(bridge, AudioBridge)
        assert device.mixer is mixer and bridge.mixer is mixer and bridge.ports == [device]
        assert mixer.is_running
        # no sound card here: the null device, ticked by the mixer's clock thread
        assert mixer.real_input_device is None and mixer.real_output_device is None
        first = ticks(mixer)
        wait_for(lambda m=mixer, f=first: ticks(m) > f + 2, "the mixer's clock", WAIT)  # type: ignore[misc]
    assert not voice.muted


def test_devices_come_from_the_settings_and_a_device_setting_change_reaches_set_sound_devices(
    make_app, tmp_path: Path
):
    calls = Calls()
    first, second, alert_file = (f"file:{tmp_path / name}" for name in ("one.wav", "two.wav", "alert.wav"))
    app = make_app(
        audio={
            "input_device": None,
            "output_device": first,
            "alert_device": alert_file,
            "sample_rate": 16000,
        },
        mixer_factory=calls.factory,
    )
    voice, alert = app.voice_audio_mixer, app.alert_audio_mixer
    assert (voice.input_device, voice.output_device, voice.sample_rate) == (None, first, 16000)
    assert (alert.input_device, alert.output_device) == (None, alert_file)  # the alert mixer plays only
    before = len(calls.of(voice))
    save(audio__output_device=second)
    wait_for(lambda: voice.output_device == second, "the new output device", WAIT)
    assert calls.of(voice)[before:] == [(None, second, 200)]
    save(audio__echo_canceller__enabled=False)
    wait_for(lambda: voice.ec_tail_length == 0, "the echo canceller to go", WAIT)
    assert calls.of(voice)[-1] == (None, second, 0)
    save(audio__alert_device=None)
    wait_for(lambda: calls.of(alert)[-1] == (None, None, 0), "the alert device change", WAIT)
    assert app.voice_audio_mixer is voice and app.alert_audio_mixer is alert  # reconfigured, not replaced
    wait_for(lambda: (tmp_path / "one.wav").exists(), "the first output file to be completed", WAIT)


def test_the_muted_setting_mutes_the_voice_mixer(make_app):
    app = make_app()
    assert not app.voice_audio_mixer.muted
    save(audio__muted=True)
    wait_for(lambda: app.voice_audio_mixer.muted, "the mute", WAIT)
    save(audio__muted=False)
    wait_for(lambda: not app.voice_audio_mixer.muted, "the unmute", WAIT)


def test_a_sample_rate_change_makes_new_mixers_and_a_playing_wave_player_stays_connected(
    make_app, tmp_path: Path
):
    wave = tmp_path / "tone.wav"
    write_wave_file(str(wave), 8000, 1, b"\x10\x00" * 8000)  # one second
    app = make_app(audio={"sample_rate": 16000})
    old_voice, old_alert, old_bridge = app.voice_audio_mixer, app.alert_audio_mixer, app.voice_audio_bridge

    def play() -> WavePlayer:
        player = WavePlayer(old_voice, wave, loop_count=0, reactor=app.engine.reactor)
        app.voice_audio_bridge.add(player)
        player.start()
        return player

    player = run(app, play)
    assert (player.producer_slot, 0) in old_voice.connected_slots
    save(audio__sample_rate=32000)
    # the last step of the change: the old mixers stop once the new ones are in place
    wait_for(lambda: not old_voice.is_running and not old_alert.is_running, "the old mixers to stop", WAIT)
    voice = app.voice_audio_mixer
    assert voice is not old_voice and voice.sample_rate == app.alert_audio_mixer.sample_rate == 32000
    assert app.alert_audio_mixer is not old_alert and app.voice_audio_bridge is not old_bridge
    assert voice.is_running and voice.muted is False
    assert app.voice_audio_device.mixer is voice and app.voice_audio_bridge.ports == [
        app.voice_audio_device,
        player,
    ]
    assert player.mixer is voice and player.is_active
    assert (player.producer_slot, 0) in voice.connected_slots  # the device hears the player
    run(app, player.stop)


def test_the_codec_list_setting_orders_the_engine_codecs_at_start_and_on_change(make_app):
    app = make_app(rtp={"audio_codec_list": ["PCMU", "opus"]})
    assert app.engine.codecs == ["PCMU", "opus"]
    save(rtp__audio_codec_list=["G722", "PCMA", "PCMU"])
    wait_for(lambda: app.engine.codecs == ["G722", "PCMA", "PCMU"], "the new codec order", WAIT)
    with pytest.raises(ValueError):
        save(rtp__audio_codec_list=["PCMU", "iLBC"])  # the setting refuses what the engine lacks
    assert app.engine.codecs == ["G722", "PCMA", "PCMU"]


def test_a_system_device_change_reopens_the_devices_of_mixers_that_use_one(make_app):
    devices = {"scan": SoundDeviceScan((SoundDevice("Speakers", "ALSA", 0, 2, 48000.0),), None, "Speakers")}
    calls = Calls()
    app = make_app(
        audio={"input_device": None, "output_device": "system_default"}, mixer_factory=calls.factory
    )
    engine = app.engine
    run(
        app,
        lambda: setattr(
            engine,
            "sound_device_manager",
            SoundDeviceManager(
                engine.media_event_queue, enumerate=lambda rescan: devices["scan"], sender=engine
            ),
        ),
    )
    voice, alert = app.voice_audio_mixer, app.alert_audio_mixer
    voice_before, alert_before = len(calls.of(voice)), len(calls.of(alert))
    devices["scan"] = SoundDeviceScan(
        (SoundDevice("Speakers", "ALSA", 0, 2, 48000.0), SoundDevice("Headset", "ALSA", 1, 2, 48000.0)),
        "Headset",
        "Headset",
    )
    run(app, engine.refresh_sound_devices)
    wait_for(lambda: len(calls.of(voice)) > voice_before, "the voice devices to reopen", WAIT)
    wait_for(lambda: len(calls.of(alert)) > alert_before, "the alert device to reopen", WAIT)
    assert calls.of(voice)[voice_before] == (None, "system_default", 200)
    assert calls.of(alert)[alert_before] == (None, "system_default", 0)


def test_devices_that_cannot_be_used_leave_the_null_device_and_the_application_runs(make_app, recorder):
    def refuses_devices(input_device: Any, output_device: Any, *args: Any, **kwargs: Any) -> AudioMixer:
        if input_device is not None or output_device is not None:
            raise RuntimeError("the device is busy")
        return AudioMixer(input_device, output_device, *args, **kwargs)

    app = make_app(audio={"input_device": "No Such Microphone"}, mixer_factory=refuses_devices)
    assert app.running and "SIPApplicationDidStart" in recorder.names("SIPApplication")
    assert "SIPApplicationGotFatalError" not in recorder.names("SIPApplication")
    for mixer in (app.voice_audio_mixer, app.alert_audio_mixer):
        assert mixer.input_device is None and mixer.output_device is None and mixer.is_running


def test_a_named_device_that_does_not_exist_falls_back_without_failing_the_start(make_app, recorder):
    app = make_app(audio={"input_device": "No Such Microphone", "output_device": "No Such Speakers"})
    assert "SIPApplicationDidStart" in recorder.names("SIPApplication")
    assert (
        app.voice_audio_mixer.real_input_device is None and app.voice_audio_mixer.real_output_device is None
    )
    assert app.voice_audio_mixer.is_running


def test_stop_tears_the_audio_down_and_settings_changes_are_no_longer_followed(make_app, recorder):
    app = make_app()
    voice, alert = app.voice_audio_mixer, app.alert_audio_mixer
    app.stop()
    wait_for(lambda: recorder.named("SIPApplicationDidEnd"), "the end", WAIT)
    assert not voice.is_running and not alert.is_running
    for name in ("mixer", "device", "bridge"):
        assert getattr(app, f"voice_audio_{name}") is None and getattr(app, f"alert_audio_{name}") is None
    before = ticks(voice)
    voice.tick(2)  # refused while a clock thread or a device drives the mixer
    assert ticks(voice) == before + 2
    assert not app.engine.media_events_watched
