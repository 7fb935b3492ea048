"""WaveRecorder: records what its slot hears into a WAV file; reusable, with pause and resume.

Each start() opens a new core ``RecordingWaveFile`` (a core recorder is started only once); the
file is written under a temporary name and appears complete under ``filename`` when stop()
returns. While paused the recorder stays in the mixer but leaves its bridges (its consumer slot
reads None), so the file keeps its timeline and records silence for the paused time.
"""

from __future__ import annotations

import os
from typing import Any

from zope.interface import implementer

from sipsimple.core.media._mixer import AudioMixer, RecordingWaveFile

from ._port import IAudioPort, post_slots_changed

__all__ = ["WaveRecorder"]


@implementer(IAudioPort)
class WaveRecorder:
    """Records into ``filename`` (16-bit PCM, the mixer's rate, mono) between start() and stop().

    ``filename`` is a plain attribute: change it between recordings, or the next start() overwrites
    the previous file. Directories up to the file are created by start(). Use it on the Twisted
    thread.
    """

    producer_slot = None  # it never produces audio

    def __init__(self, mixer: AudioMixer, filename: str | os.PathLike[str]) -> None:
        if mixer is None:
            raise ValueError("mixer argument may not be None")
        self.mixer = mixer
        self.filename = filename
        self._file: RecordingWaveFile | None = None
        self._paused = False

    @property
    def consumer_slot(self) -> int | None:
        if self._file is None or self._paused:
            return None
        return self._file.slot

    @property
    def is_active(self) -> bool:
        """True between start() and stop(), paused or not."""
        return self._file is not None

    @property
    def is_paused(self) -> bool:
        return self._paused

    def start(self) -> None:
        """Creates the directories and the file and starts recording; no-op if already recording.

        Raises OSError when a directory cannot be created and WaveFileError when the file cannot.
        """
        if self._file is not None:
            return
        directory = os.path.dirname(os.fspath(self.filename))
        if directory:
            os.makedirs(directory, exist_ok=True)
        recording = RecordingWaveFile(self.mixer, self.filename)
        recording.start()
        self._file, self._paused = recording, False
        post_slots_changed(self, None, recording.slot, None, None)

    def stop(self) -> None:
        """Stops recording and completes the file (WaveFileError if it cannot be completed)."""
        recording = self._file
        if recording is None:
            return
        old_slot = self.consumer_slot
        self._file, self._paused = None, False
        try:
            recording.stop()
        finally:
            post_slots_changed(self, old_slot, None, None, None)

    def pause(self) -> None:
        """Stops hearing the bridges (the file records silence meanwhile); no-op unless recording."""
        if self._file is not None and not self._paused:
            old_slot = self.consumer_slot
            self._paused = True
            post_slots_changed(self, old_slot, None, None, None)

    def resume(self) -> None:
        """Hears the bridges again after pause()."""
        if self._file is not None and self._paused:
            self._paused = False
            post_slots_changed(self, None, self.consumer_slot, None, None)

    def __repr__(self) -> str:
        state = "paused" if self._paused else "recording" if self._file is not None else "stopped"
        filename: Any = self.filename
        return f"<{type(self).__name__} {os.fspath(filename)!r} {state}>"
