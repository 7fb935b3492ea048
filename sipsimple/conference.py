"""Audio conferencing: AudioConference connects audio streams and the local sound device in a mesh.

The conference owns an :class:`~sipsimple.audio.AudioBridge` holding an
:class:`~sipsimple.audio.AudioDevice` (the local party) and the streams added to it, so that each
participant hears all the others and the local party. Putting the conference on hold takes the
device out of the bridge; the participants go on hearing each other. Streams are anything that
provides ``IAudioPort`` (the RTP AudioStream, a WavePlayer, ...). Used on the Twisted thread.

A stream that has ``join_bridge(bridge)`` and ``leave_bridge()`` (the AudioStream) is handed the
conference's bridge instead of being added to it: the stream then manages its membership itself
(out while on hold, either side's; out of its previous audio path while in the conference) and
gets its previous path back when it is removed or when the conference is garbage collected.
Other ports are simply added to and removed from the bridge.
"""

from __future__ import annotations

import weakref
from typing import Any

from sipsimple.audio import AudioBridge, AudioDevice, IAudioPort
from sipsimple.core.media._mixer import AudioMixer

__all__ = ["AudioConference"]


def _application_mixer(engine: Any = None) -> AudioMixer:
    """The voice mixer of the application running on ``engine`` (any SIPApplicationBase), else of
    the SIPApplication instance; RuntimeError when that application's audio is not running."""
    from sipsimple.application_audio import running_audio

    audio = None if engine is None else running_audio(engine)
    if audio is not None:
        mixer = audio.voice_audio_mixer
    else:
        from sipsimple.application import SIPApplication

        mixer = SIPApplication().voice_audio_mixer
    if not isinstance(mixer, AudioMixer):
        raise RuntimeError(
            "the SIPApplication is not running, so it has no voice_audio_mixer: start it or pass the "
            "mixer to AudioConference()"
        )
    return mixer


def _release_streams(streams: list[Any]) -> None:
    """The finalizer of a conference: its streams get their own audio paths back."""
    for stream in list(streams):
        leave = getattr(stream, "leave_bridge", None)
        if callable(leave):
            leave()


class AudioConference:
    """A full mesh of audio streams plus the local sound device.

    ``mixer`` defaults to the voice mixer of the application running on ``engine`` (when given),
    else of the running SIPApplication, as in the reference.

    Attributes: ``bridge`` (the AudioBridge; add a WavePlayer to it to play to everyone, or a
    WaveRecorder to record everyone), ``device`` (the AudioDevice of the local party), ``streams``
    (the members, in the order added; do not modify it) and ``on_hold``.
    """

    def __init__(self, mixer: AudioMixer | None = None, *, engine: Any = None) -> None:
        if mixer is None:
            mixer = _application_mixer(engine)
        self.bridge = AudioBridge(mixer)
        self.device = AudioDevice(mixer)
        self.bridge.add(self.device)
        self.streams: list[Any] = []
        self.on_hold = False
        finalizer = weakref.finalize(self, _release_streams, self.streams)
        finalizer.atexit = False

    def add(self, stream: Any) -> None:
        """Connects ``stream`` to every other member and to the local party (unless on hold).

        An AudioStream is heard and hears through the conference only, while started and not on
        hold. ValueError if it is already in this (or another) conference or uses another mixer;
        TypeError if it does not provide IAudioPort.
        """
        if any(member is stream for member in self.streams):
            raise ValueError(f"{stream!r} is already part of this conference")
        if not IAudioPort.providedBy(stream):
            raise TypeError(f"{stream!r} does not provide IAudioPort")
        join = getattr(stream, "join_bridge", None)
        if callable(join):
            join(self.bridge)
        else:
            self.bridge.add(stream)
        self.streams.append(stream)

    def remove(self, stream: Any) -> None:
        """Disconnects ``stream`` from the conference (ValueError if it is not part of it); an
        AudioStream gets back the audio path it had before it was added. A stream that ended
        while in the conference stays in ``streams`` (silent) until it is removed."""
        position = next((i for i, member in enumerate(self.streams) if member is stream), None)
        if position is None:
            raise ValueError(f"{stream!r} is not part of this conference")
        del self.streams[position]
        leave = getattr(stream, "leave_bridge", None)
        if callable(leave):
            leave()
        else:
            self.bridge.remove(stream)

    def hold(self) -> None:
        """Takes the local party out: the device neither hears nor is heard; the streams carry on."""
        if not self.on_hold:
            self.bridge.remove(self.device)
            self.on_hold = True

    def unhold(self) -> None:
        """Brings the local party back into the conference."""
        if self.on_hold:
            self.bridge.add(self.device)
            self.on_hold = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} streams={len(self.streams)} on_hold={self.on_hold}>"
