"""WavePlayer: plays a WAV file into its mixer slot, a number of times, with pauses between plays.

States: stopped -> (start) -> waiting or playing; playing -> (file ended) -> waiting or stopped;
waiting -> (pause over) -> playing; any -> (stop) -> stopped; a file that cannot be played ->
stopped with ``WavePlayerDidFail``.

The core ``WaveFile`` does the playing. With ``pause_time == 0`` one WaveFile plays all the loops
itself, sample-exact and without gaps. With a pause, each play is its own WaveFile and the pause is
a timer on the reactor (injectable: ``reactor=``), so the player holds no slot while it pauses: its
producer slot changes at every play and every pause, with an ``AudioPortDidChangeSlots`` each time.
The end of a play reaches the player as the core's ``WaveFileDidFinishPlaying``, which the media
event reader posts on the Twisted thread.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from sipsimple.core._errors import SIPCoreError
from sipsimple.core.media._mixer import MAX_VOLUME, AudioMixer, WaveFile
from sipsimple.notification import (
    IObserver,
    Notification,
    NotificationCenter,
    NotificationData,
    ObserverWeakrefProxy,
)
from sipsimple.threading.green import Event, GreenThread, call_in_waitable_green_thread
from sipsimple.util import ISOTimestamp

from ._port import IAudioPort, post_slots_changed

__all__ = ["WavePlayer"]

log = logging.getLogger("sipsimple.audio")


def _default_reactor() -> Any:
    from sipsimple.threading import get_twisted_thread

    return get_twisted_thread().reactor


def _call_weak(method: weakref.WeakMethod[Callable[[], None]]) -> None:
    bound = method()
    if bound is not None:
        bound()


@implementer(IAudioPort, IObserver)
class WavePlayer:
    """Plays ``filename`` into the mixer, ``loop_count`` times (0: until stopped), ``pause_time`` s apart.

    ``initial_play=False`` waits ``pause_time`` before the first play. The object can be started and
    stopped any number of times; the parameters are plain attributes, read at each start (``volume``
    also applies at once to a play in progress). It belongs to the Twisted thread, like the mixer's
    notifications. A player nobody references stops (its WaveFile leaves the mixer with it).
    """

    consumer_slot = None  # it never consumes audio

    def __init__(
        self,
        mixer: AudioMixer,
        filename: str | os.PathLike[str],
        volume: int = 100,
        loop_count: int = 1,
        pause_time: float = 0,
        initial_play: bool = True,
        *,
        reactor: Any = None,
    ) -> None:
        if mixer is None:
            raise ValueError("mixer argument may not be None")
        if loop_count < 0:
            raise ValueError("loop_count argument cannot be negative")
        if not 0 <= pause_time <= 3600:
            raise ValueError("pause_time argument must be 0..3600 seconds")
        self.mixer = mixer
        self.filename = filename
        self._wave_file: WaveFile | None = None
        self.volume = volume
        self.loop_count = loop_count
        self.pause_time = pause_time
        self.initial_play = initial_play
        self._reactor = reactor
        self._active = False
        self._slot: int | None = None
        self._loops_in_file = 1
        self._loops_played = 0
        self._did_start = False
        self._timer: Any = None
        self._proxy = ObserverWeakrefProxy(self)

    # attributes

    @property
    def volume(self) -> int:
        return self._volume

    @volume.setter
    def volume(self, value: int) -> None:
        if not 0 <= value <= MAX_VOLUME:
            raise ValueError(f"volume must be 0..{MAX_VOLUME}")
        self._volume = value
        if self._wave_file is not None:
            self._wave_file.volume = value

    @property
    def producer_slot(self) -> int | None:
        return self._slot

    @property
    def is_active(self) -> bool:
        """True from start() until the player ends, fails or is stopped (pauses included)."""
        return self._active

    @property
    def reactor(self) -> Any:
        if self._reactor is None:
            self._reactor = _default_reactor()
        return self._reactor

    # control

    def start(self) -> None:
        """Starts playing (or waiting ``pause_time`` first, without ``initial_play``); no-op if active."""
        if self._active:
            return
        self._active = True
        self._loops_played = 0
        self._did_start = False
        NotificationCenter().add_observer(self._proxy, name="WaveFileDidFinishPlaying")
        if self.initial_play:
            self._play_file()
        else:
            self._pause()

    def stop(self) -> None:
        """Stops at once; ``WavePlayerDidEnd`` if it was active."""
        if self._active:
            self._finish("WavePlayerDidEnd")

    def play(self) -> GreenThread[None]:
        """Starts the player in a waitable green thread that ends when the playback ends.

        ``play().wait()`` returns after ``WavePlayerDidEnd`` (the loops played out, or ``stop()``)
        and raises the ``error`` of ``WavePlayerDidFail``. If the player is already
        active it waits for the current playback.
        """
        return call_in_waitable_green_thread(self._play_and_wait)

    def _play_and_wait(self) -> None:
        done: Event[None] = Event()
        waiter = _EndWaiter(done)
        center = NotificationCenter()
        center.add_observer(waiter, sender=self)
        try:
            self.start()
            done.wait()
        finally:
            center.remove_observer(waiter, sender=self)

    # the machine

    def _play_file(self) -> None:
        self._timer = None
        if not self._active:
            return
        looping_in_core = self.pause_time == 0
        self._loops_in_file = self.loop_count if looping_in_core else 1
        try:
            wave_file = WaveFile(self.mixer, self.filename, loop_count=self._loops_in_file)
            wave_file.volume = self._volume
            wave_file.start()
        except (SIPCoreError, OSError, ValueError) as error:
            self._finish("WavePlayerDidFail", error=error)
            return
        self._wave_file, self._slot = wave_file, wave_file.slot
        post_slots_changed(self, None, None, None, self._slot)
        if not self._did_start:
            self._did_start = True
            self._post("WavePlayerDidStart")

    def _pause(self) -> None:
        self._timer = self.reactor.callLater(self.pause_time, _call_weak, weakref.WeakMethod(self._play_file))

    def handle_notification(self, notification: Notification) -> None:
        if notification.name != "WaveFileDidFinishPlaying" or notification.sender is not self._wave_file:
            return  # another player's file, or one this player already let go
        error = getattr(notification.data, "error", None)
        self._release_file()
        if error is not None:
            self._finish("WavePlayerDidFail", error=error)
            return
        self._loops_played += self._loops_in_file
        if self.loop_count and self._loops_played >= self.loop_count:
            self._finish("WavePlayerDidEnd")
        else:
            self._pause()

    def _release_file(self) -> None:
        wave_file, old_slot = self._wave_file, self._slot
        self._wave_file = self._slot = None
        if wave_file is not None:
            wave_file.stop()  # its WaveFileDidFinishPlaying (if any) is no longer ours
            post_slots_changed(self, None, None, old_slot, None)

    def _finish(self, name: str, **attributes: Any) -> None:
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None
        self._release_file()
        self._active = False
        NotificationCenter().discard_observer(self._proxy, name="WaveFileDidFinishPlaying")
        if name == "WavePlayerDidFail":
            log.warning("%r could not play %s: %s", self, self.filename, attributes.get("error"))
        self._post(name, **attributes)

    def _post(self, name: str, **attributes: Any) -> None:
        data = NotificationData(timestamp=ISOTimestamp.now(), **attributes)
        NotificationCenter().post_notification(name, sender=self, data=data)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {os.fspath(self.filename)!r} active={self._active}>"


@implementer(IObserver)
class _EndWaiter:
    """Fires an Event when its player ends (value None) or fails (the failure's error)."""

    def __init__(self, done: Event[None]) -> None:
        self.done = done

    def handle_notification(self, notification: Notification) -> None:
        if self.done.ready():
            return
        if notification.name == "WavePlayerDidEnd":
            self.done.send(None)
        elif notification.name == "WavePlayerDidFail":
            self.done.send_exception(
                getattr(notification.data, "error", None) or RuntimeError("WavePlayer failed")
            )
