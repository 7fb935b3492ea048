"""The audio of a running SIPApplication: the voice and alert mixers, their devices and bridges.

``ApplicationAudio(engine, call)`` is created and started by the application on its reactor thread
once the Engine runs, and stopped before the Engine stops. ``call(function, *args)`` runs a
function on the reactor thread (the application's ``TwistedThread.call``): notifications may come
from any thread and are handled there.

At start, from ``SIPSimpleSettings.audio``:

* ``voice_audio_mixer``: ``AudioMixer(input_device, output_device, sample_rate, tail)`` where
  ``tail`` is ``echo_canceller.tail_length`` (at most 1000 ms) when the echo canceller is enabled,
  else 0; ``muted`` follows ``audio.muted``;
* ``alert_audio_mixer``: ``AudioMixer(None, alert_device, sample_rate, 0)``, output only. It exists
  whatever ``audio.silent`` says: that setting is for applications, which decide whether to play
  alerts;
* ``voice_audio_device``/``alert_audio_device``: the ``AudioDevice`` of each mixer, always a member
  of ``voice_audio_bridge``/``alert_audio_bridge`` (an ``AudioBridge`` of the same mixer).

Both mixers use the engine's ``media_event_queue`` (so their events and those of the players in
them reach the reactor thread) and are started: the sound device's callback drives a mixer when one
is open, the mixer's clock thread otherwise. A device is ``None`` (the null device),
``"system_default"`` (the operating system's default) or a name; a device that cannot be opened
leaves the mixer on the null device for that side, the mixer posts ``AudioMixerDeviceDidFail`` and
the application keeps running. ``SIPSimpleSettings.rtp.audio_codec_list`` becomes ``Engine.codecs``.

While running:

* ``audio.input_device``, ``audio.output_device``, ``audio.echo_canceller.*``: ``set_sound_devices``
  on the voice mixer; ``audio.alert_device``: on the alert mixer; ``audio.muted``: the voice mixer's
  ``muted``;
* ``audio.sample_rate``: new mixers, devices and bridges at the new rate. The members of the old
  bridges move to the new ones: a member already on the new mixer is added as it is, a
  ``WavePlayer`` is moved to the new mixer (a file that was playing starts again from its beginning
  there), any other port cannot change mixers: it is left behind, and a warning is logged. The old
  mixers are stopped;
* ``rtp.audio_codec_list``: ``Engine.codecs`` again (a name the engine does not have is logged and
  the codec list stays as it was);
* ``AudioDevicesDidChange``/``DefaultAudioDeviceDidChange`` from the engine: each mixer that uses a
  named device or ``"system_default"`` opens its devices again, so a default that moved, a device
  that came back or one that went away is followed.

``stop()`` stops both mixers (their threads are joined) and drops every object; it never raises.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

from zope.interface import implementer

from sipsimple.audio import AudioBridge, AudioDevice, WavePlayer
from sipsimple.core.media._mixer import AudioMixer
from sipsimple.notification import IObserver, Notification, NotificationCenter

__all__ = ["ApplicationAudio", "audio_attribute"]

log = logging.getLogger(__name__)

MAX_EC_TAIL = 1000  # ms: the most the mixer's echo canceller accepts
MixerFactory = Callable[..., AudioMixer]

_DEVICE_KEYS = {"audio.input_device", "audio.output_device", "audio.echo_canceller.enabled",
                "audio.echo_canceller.tail_length"}  # fmt: skip


def _settings() -> Any:
    from sipsimple.configuration.settings import SIPSimpleSettings

    return SIPSimpleSettings()


def _device(value: Any) -> str | None:
    return None if value is None else str(value)


class _Parts(NamedTuple):
    voice: AudioMixer
    alert: AudioMixer
    voice_device: AudioDevice
    alert_device: AudioDevice
    voice_bridge: AudioBridge
    alert_bridge: AudioBridge


#: The running ApplicationAudio of each engine: where a stream given no mixer finds its engine's.
_RUNNING: weakref.WeakKeyDictionary[Any, ApplicationAudio] = weakref.WeakKeyDictionary()


def running_audio(engine: Any) -> ApplicationAudio | None:
    """The started ApplicationAudio of the application running on ``engine``, or None."""
    return _RUNNING.get(engine)


@implementer(IObserver)
class ApplicationAudio:
    """The application's mixers, devices and bridges (see the module documentation)."""

    def __init__(
        self, engine: Any, call: Callable[..., Any], *, mixer_factory: MixerFactory = AudioMixer
    ) -> None:
        self.engine = engine
        self._call = call
        self._mixer_factory = mixer_factory
        self.voice_audio_mixer: AudioMixer | None = None
        self.voice_audio_device: AudioDevice | None = None
        self.voice_audio_bridge: AudioBridge | None = None
        self.alert_audio_mixer: AudioMixer | None = None
        self.alert_audio_device: AudioDevice | None = None
        self.alert_audio_bridge: AudioBridge | None = None
        self._observing = False

    # life cycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Build and start everything from the settings, then follow their changes (reactor thread)."""
        settings = _settings()
        self._apply_codecs(settings.rtp.audio_codec_list)
        self._build(settings.audio.sample_rate)
        self._observe(True)
        _RUNNING[self.engine] = self

    def stop(self) -> None:
        """Stop the mixers and drop every object (reactor thread); never raises."""
        if _RUNNING.get(self.engine) is self:
            del _RUNNING[self.engine]
        self._observe(False)
        for mixer in (self.voice_audio_mixer, self.alert_audio_mixer):
            self._stop_mixer(mixer)
        self.voice_audio_bridge = self.voice_audio_device = self.voice_audio_mixer = None
        self.alert_audio_bridge = self.alert_audio_device = self.alert_audio_mixer = None

    @staticmethod
    def _stop_mixer(mixer: AudioMixer | None) -> None:
        if mixer is None:
            return
        try:
            mixer.stop()
        except Exception:
            log.exception("%r did not stop", mixer)

    def _observe(self, observe: bool) -> None:
        if observe == self._observing:
            return
        center = NotificationCenter()
        subscriptions = [
            ("CFGSettingsObjectDidChange", _settings()),
            ("AudioDevicesDidChange", self.engine),
            ("DefaultAudioDeviceDidChange", self.engine),
        ]
        for name, sender in subscriptions:
            if observe:
                center.add_observer(self, name=name, sender=sender)
            else:
                center.discard_observer(self, name=name, sender=sender)
        self._observing = observe

    # building -----------------------------------------------------------------------------------

    def _voice_devices(self) -> tuple[str | None, str | None, int]:
        audio = _settings().audio
        tail = min(int(audio.echo_canceller.tail_length), MAX_EC_TAIL) if audio.echo_canceller.enabled else 0
        return _device(audio.input_device), _device(audio.output_device), tail

    def _new_mixer(
        self, input_device: str | None, output_device: str | None, rate: int, tail: int
    ) -> AudioMixer:
        queue = self.engine.media_event_queue
        try:
            mixer = self._mixer_factory(input_device, output_device, rate, tail, event_queue=queue)
        except Exception as error:  # never a failed start: the null device always works
            log.error(
                "audio devices %r/%r cannot be used, using none: %s", input_device, output_device, error
            )
            mixer = self._mixer_factory(None, None, rate, tail, event_queue=queue)
        mixer.start()
        return mixer

    def _build(self, sample_rate: int) -> None:
        self._publish(self._make(sample_rate))

    def _make(self, sample_rate: int) -> _Parts:
        """New running mixers at ``sample_rate``, their devices, and bridges holding the devices."""
        rate = int(sample_rate)
        audio = _settings().audio
        input_device, output_device, tail = self._voice_devices()
        voice = self._new_mixer(input_device, output_device, rate, tail)
        voice.muted = bool(audio.muted)
        alert = self._new_mixer(None, _device(audio.alert_device), rate, 0)
        voice_device, alert_device = AudioDevice(voice), AudioDevice(alert)
        voice_bridge, alert_bridge = AudioBridge(voice), AudioBridge(alert)
        voice_bridge.add(voice_device)  # bridges hold members weakly: the parts keep the devices
        alert_bridge.add(alert_device)
        return _Parts(voice, alert, voice_device, alert_device, voice_bridge, alert_bridge)

    def _publish(self, parts: _Parts) -> None:
        """Make the new objects the application's attributes."""
        self.voice_audio_device, self.alert_audio_device = parts.voice_device, parts.alert_device
        self.voice_audio_bridge, self.alert_audio_bridge = parts.voice_bridge, parts.alert_bridge
        self.voice_audio_mixer, self.alert_audio_mixer = parts.voice, parts.alert

    def _rebuild(self, sample_rate: int) -> None:
        """New mixers at ``sample_rate``; the members of the old bridges follow where they can. The
        attributes change once everything is in place; then the old mixers stop."""
        old_mixers = (self.voice_audio_mixer, self.alert_audio_mixer)
        old = [
            (self.voice_audio_bridge, self.voice_audio_device),
            (self.alert_audio_bridge, self.alert_audio_device),
        ]
        made = self._make(sample_rate)
        for (bridge, device), new_bridge in zip(old, (made.voice_bridge, made.alert_bridge), strict=True):
            if bridge is None:
                continue
            for port in [p for p in bridge.ports if p is not device]:
                bridge.remove(port)
                self._move(port, new_bridge)
        self._publish(made)
        for mixer in old_mixers:
            self._stop_mixer(mixer)

    @staticmethod
    def _move(port: Any, bridge: AudioBridge) -> None:
        mixer = bridge.mixer
        if port.mixer is not mixer and isinstance(port, WavePlayer):
            _move_player(port, mixer)
        if port.mixer is not mixer:
            log.warning("%r cannot move to the new %r and leaves its audio bridge", port, mixer)
            return
        try:
            bridge.add(port)
        except Exception as error:
            log.warning("%r cannot join the new audio bridge: %s", port, error)

    # changes ------------------------------------------------------------------------------------

    def handle_notification(self, notification: Notification) -> None:
        self._call(self._handle, notification)

    def _handle(self, notification: Notification) -> None:
        if self.voice_audio_mixer is None:
            return  # stopped meanwhile
        try:
            if notification.name == "CFGSettingsObjectDidChange":
                data: Any = notification.data
                self._apply_settings(set(data.modified))
            else:
                self._reopen_devices()
        except Exception:
            log.exception("the audio could not follow %s", notification.name)

    def _apply_settings(self, modified: set[str]) -> None:
        settings = _settings()
        if "rtp.audio_codec_list" in modified:
            self._apply_codecs(settings.rtp.audio_codec_list)
        if "audio.sample_rate" in modified:
            self._rebuild(settings.audio.sample_rate)
            return  # the new mixers have every other audio setting already
        voice, alert = self.voice_audio_mixer, self.alert_audio_mixer
        assert voice is not None and alert is not None
        if modified & _DEVICE_KEYS:
            voice.set_sound_devices(*self._voice_devices())
        if "audio.alert_device" in modified:
            alert.set_sound_devices(None, _device(settings.audio.alert_device), 0)
        if "audio.muted" in modified:
            voice.muted = bool(settings.audio.muted)

    def _reopen_devices(self) -> None:
        """The system's devices changed: mixers that use a sound device open it again."""
        input_device, output_device, tail = self._voice_devices()
        voice, alert = self.voice_audio_mixer, self.alert_audio_mixer
        assert voice is not None and alert is not None
        if input_device is not None or output_device is not None:
            voice.set_sound_devices(input_device, output_device, tail)
        alert_device = _device(_settings().audio.alert_device)
        if alert_device is not None:
            alert.set_sound_devices(None, alert_device, 0)

    def _apply_codecs(self, codec_list: Any) -> None:
        try:
            self.engine.codecs = [str(name) for name in codec_list]
        except ValueError as error:
            log.error("rtp.audio_codec_list cannot be used: %s", error)


def _move_player(player: WavePlayer, mixer: AudioMixer) -> None:
    """Put ``player`` on ``mixer``; a file that was playing starts again there from its beginning.

    A waiting player (between loops) just plays its next loop on the new mixer."""
    # WavePlayer has no public way to change mixers: its own steps are used (each posts
    # AudioPortDidChangeSlots, so the bridges follow).
    playing = player._wave_file is not None
    if playing:
        player._release_file()
    player.mixer = mixer
    if playing:
        player._play_file()


def audio_attribute(name: str) -> Any:
    """A read-only property of the application that reads ``name`` of its ApplicationAudio (None
    while the application's audio does not run)."""

    def read(application: Any) -> Any:
        audio = application._audio
        return None if audio is None else getattr(audio, name)

    return property(read, doc=f"The application's {name.replace('_', ' ')} (None while stopped).")
