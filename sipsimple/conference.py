"""Audio conferencing: AudioConference connects audio streams and the local sound device in a mesh.

The conference owns an :class:`~sipsimple.audio.AudioBridge` holding an
:class:`~sipsimple.audio.AudioDevice` (the local party) and the streams added to it, so that each
participant hears all the others and the local party. Putting the conference on hold takes the
device out of the bridge; the participants go on hearing each other. Streams are anything that
provides ``IAudioPort`` (the RTP AudioStream, a WavePlayer, ...). Used on the Twisted thread.
"""

from __future__ import annotations

from typing import Any

from sipsimple.audio import AudioBridge, AudioDevice, IAudioPort
from sipsimple.core.media._mixer import AudioMixer

__all__ = ["AudioConference"]


def _application_mixer() -> AudioMixer:
    from sipsimple.application import SIPApplication

    mixer = getattr(SIPApplication, "voice_audio_mixer", None)
    if not isinstance(mixer, AudioMixer):
        raise RuntimeError("SIPApplication has no voice_audio_mixer: pass the mixer to AudioConference()")
    return mixer


class AudioConference:
    """A full mesh of audio streams plus the local sound device.

    ``mixer`` defaults to ``SIPApplication.voice_audio_mixer``, as in the reference.

    Attributes: ``bridge`` (the AudioBridge; add a WavePlayer to it to play to everyone, or a
    WaveRecorder to record everyone), ``device`` (the AudioDevice of the local party), ``streams``
    (the members, in the order added; do not modify it) and ``on_hold``.
    """

    def __init__(self, mixer: AudioMixer | None = None) -> None:
        if mixer is None:
            mixer = _application_mixer()
        self.bridge = AudioBridge(mixer)
        self.device = AudioDevice(mixer)
        self.bridge.add(self.device)
        self.streams: list[Any] = []
        self.on_hold = False

    def add(self, stream: Any) -> None:
        """Connects ``stream`` to every other member and to the local party (unless on hold).

        ValueError if it is already in the conference or uses another mixer; TypeError if it does
        not provide IAudioPort.
        """
        if any(member is stream for member in self.streams):
            raise ValueError(f"{stream!r} is already part of this conference")
        if not IAudioPort.providedBy(stream):
            raise TypeError(f"{stream!r} does not provide IAudioPort")
        self.bridge.add(stream)
        self.streams.append(stream)

    def remove(self, stream: Any) -> None:
        """Disconnects ``stream`` from the conference (ValueError if it is not part of it)."""
        position = next((i for i, member in enumerate(self.streams) if member is stream), None)
        if position is None:
            raise ValueError(f"{stream!r} is not part of this conference")
        del self.streams[position]
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
