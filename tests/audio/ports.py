"""Test members for bridges: IAudioPorts built on the core MemoryPort, and signal helpers."""

from __future__ import annotations

from array import array

from zope.interface import implementer

from sipsimple.audio import IAudioPort, post_slots_changed
from sipsimple.core.media._mixer import AudioMixer, MemoryPort

RATE = 8000
FRAME = 160  # samples in 20 ms at 8 kHz


def pcm(values: array) -> bytes:
    return values.tobytes()


def samples(data: bytes) -> array:
    out = array("h")
    out.frombytes(data)
    return out


def ramp(count: int, start: int = 1, step: int = 3) -> array:
    """Distinct, non-zero samples, so that any shift, loss or repetition shows."""
    return array("h", [(start + step * i) % 20000 + 1 for i in range(count)])


def silence(count: int) -> array:
    return array("h", bytes(2 * count))


@implementer(IAudioPort)
class MemoryAudioPort:
    """A MemoryPort as a bridge member: plays ``play`` (looped when ``loop``) and/or records."""

    def __init__(
        self, mixer: AudioMixer, play: array | None = None, *, record: bool = False, loop: bool = False
    ) -> None:
        self.mixer = mixer
        self._play = None if play is None else pcm(play)
        self._record = record
        self._loop = loop
        self.memory = self._new_port()

    def _new_port(self) -> MemoryPort:
        port = MemoryPort(
            self.mixer, self._play, loop=self._loop, record_seconds=10.0 if self._record else None
        )
        port.start()
        return port

    @property
    def consumer_slot(self) -> int | None:
        return self.memory.slot if self._record else None

    @property
    def producer_slot(self) -> int | None:
        return self.memory.slot if self._play is not None else None

    def heard(self) -> array:
        return samples(self.memory.take())

    def move(self) -> None:
        """Takes a new slot (the old one is freed first) and says so."""
        old_consumer, old_producer = self.consumer_slot, self.producer_slot
        self.memory.stop()
        keep_busy = MemoryPort(
            self.mixer, record_seconds=0.1
        )  # holds the freed slot so that the new port gets another one
        keep_busy.start()
        self.memory = self._new_port()
        keep_busy.stop()
        post_slots_changed(self, old_consumer, self.consumer_slot, old_producer, self.producer_slot)

    def leave(self) -> None:
        """Gives up its slot (posting the change) without taking another."""
        old_consumer, old_producer = self.consumer_slot, self.producer_slot
        self.memory.stop()
        self._play, self._record = None, False
        post_slots_changed(self, old_consumer, None, old_producer, None)
