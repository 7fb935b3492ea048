"""The Engine's media face: codecs, sound devices and the media event reader.

``MediaEngineMixin`` is a base of ``SIPEngine`` (sipsimple/core/engine.py); it adds the members the
reference core's Engine has for media:

* ``available_codecs``: the audio codec names the media engine has (``_codecs.available_codecs()``,
  one entry per name, in the engine's order: ``opus``, ``G722``, ``speex``, ``GSM``, ``PCMU``,
  ``PCMA``);
* ``codecs``: the names in the order SDP offers and answers use them (all of them at first).
  Assigning a list checks it: a name the engine does not have, or one given twice, is a
  ``ValueError`` and changes nothing; names match ignoring case and are stored in the engine's
  spelling;
* ``input_devices``, ``output_devices``, ``default_input_device``, ``default_output_device``: the
  last scan of the sound devices (names; None when there is no default); ``refresh_sound_devices()``
  scans again (PortAudio is re-initialised, the mixers' devices reopened) and, for what changed,
  ``AudioDevicesDidChange`` (``old_devices``, ``new_devices``) and ``DefaultAudioDeviceDidChange``
  (``changed_input``, ``changed_output``) follow on the reactor thread, with the engine as sender;
* ``media_event_queue``: the queue the engine's mixers and streams post their native events into;
  while the engine runs a ``MediaEventReader`` watches it from the engine's reactor, so those
  events become notifications on the reactor thread. It is started by ``Engine.start`` and stopped
  by ``Engine.stop`` (events that arrive while the engine is stopped wait in the queue).

``sound_device_manager`` may be replaced before first use (tests inject a ``SoundDeviceManager``
with their own ``enumerate``); it must post through ``media_event_queue`` with the engine as sender.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sipsimple.core.media._events import EventQueue
    from sipsimple.core.media._mixer import SoundDeviceManager
    from sipsimple.core.media.events import MediaEventReader

__all__ = ["MediaEngineMixin"]


def _codec_names() -> list[str]:
    from sipsimple.core.media._codecs import available_codecs

    names: list[str] = []
    for info in available_codecs():
        if info.name not in names:
            names.append(info.name)
    return names


class MediaEngineMixin:
    """Codecs, sound devices and media events of the engine (see the module documentation)."""

    _media_event_queue: EventQueue | None = None
    _media_event_reader: MediaEventReader | None = None
    _sound_device_manager: SoundDeviceManager | None = None
    _codecs: list[str] | None = None

    # codecs -------------------------------------------------------------------------------------

    @property
    def available_codecs(self) -> list[str]:
        """The audio codec names the media engine supports, in its own order."""
        return _codec_names()

    @property
    def codecs(self) -> list[str]:
        """The audio codecs offered and accepted in SDP, in order of preference."""
        return list(_codec_names() if self._codecs is None else self._codecs)

    @codecs.setter
    def codecs(self, value: Iterable[str]) -> None:
        if isinstance(value, (str, bytes)):
            raise TypeError("codecs must be a list of codec names, not one string")
        spelling = {name.lower(): name for name in _codec_names()}
        chosen: list[str] = []
        for item in value:
            name = item.decode() if isinstance(item, bytes) else str(item)
            canonical = spelling.get(name.lower())
            if canonical is None:
                raise ValueError(f"unknown codec {name!r} (available: {', '.join(spelling.values())})")
            if canonical in chosen:
                raise ValueError(f"codec {canonical!r} is listed twice")
            chosen.append(canonical)
        self._codecs = chosen

    # sound devices ------------------------------------------------------------------------------

    @property
    def media_event_queue(self) -> EventQueue:
        """The native event queue of the engine's media objects (see the module documentation)."""
        if self._media_event_queue is None:
            from sipsimple.core.media._events import EventQueue

            self._media_event_queue = EventQueue()
        return self._media_event_queue

    @property
    def sound_device_manager(self) -> SoundDeviceManager:
        if self._sound_device_manager is None:
            from sipsimple.core.media._mixer import SoundDeviceManager

            self._sound_device_manager = SoundDeviceManager(self.media_event_queue, sender=self)
        return self._sound_device_manager

    @sound_device_manager.setter
    def sound_device_manager(self, manager: SoundDeviceManager) -> None:
        self._sound_device_manager = manager

    @property
    def input_devices(self) -> list[str]:
        return list(self.sound_device_manager.input_devices)

    @property
    def output_devices(self) -> list[str]:
        return list(self.sound_device_manager.output_devices)

    @property
    def default_input_device(self) -> str | None:
        return self.sound_device_manager.default_input_device

    @property
    def default_output_device(self) -> str | None:
        return self.sound_device_manager.default_output_device

    def refresh_sound_devices(self) -> None:
        """Scan the sound devices again; changes are notified on the reactor thread."""
        self.sound_device_manager.refresh()

    # the event reader ---------------------------------------------------------------------------

    def _start_media(self) -> None:
        """Watch the media event queue from the engine's reactor (called by ``start``)."""
        from sipsimple.core.media.events import MediaEventReader

        if self._media_event_reader is None:
            reactor: Any = getattr(self, "reactor")  # noqa: B009 - SIPEngine's property
            self._media_event_reader = MediaEventReader(self.media_event_queue, reactor)
        self._media_event_reader.start()

    def _stop_media(self) -> None:
        """Stop watching the queue (called by ``stop``); pending events wait for the next start."""
        if self._media_event_reader is not None:
            self._media_event_reader.stop()

    @property
    def media_events_watched(self) -> bool:
        """True while a reader dispatches the media event queue on the reactor."""
        return self._media_event_reader is not None and self._media_event_reader.running
