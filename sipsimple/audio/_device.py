"""AudioDevice: slot 0 of a mixer (its sound device) as an IAudioPort, with input and output mutes."""

from __future__ import annotations

from zope.interface import implementer

from sipsimple.core.media._mixer import AudioMixer

from ._port import IAudioPort, post_slots_changed

__all__ = ["AudioDevice"]

DEVICE_SLOT = 0  # the mixer's sound device: capture is its source, playback its sink


@implementer(IAudioPort)
class AudioDevice:
    """The sound device of ``mixer`` (slot 0) as a member of audio bridges.

    ``input_muted`` takes the capture side out of every bridge the device is in (the producer slot
    becomes None); ``output_muted`` does the same for the playback side (the consumer slot). Each
    change posts ``AudioPortDidChangeSlots``. This mutes the device only where bridges connect it:
    the mixer's own ``muted``/volume controls are left alone.
    """

    def __init__(self, mixer: AudioMixer, input_muted: bool = False, output_muted: bool = False) -> None:
        if mixer is None:
            raise ValueError("mixer argument may not be None")
        self.mixer = mixer
        self._input_muted = bool(input_muted)
        self._output_muted = bool(output_muted)

    @property
    def consumer_slot(self) -> int | None:
        return None if self._output_muted else DEVICE_SLOT

    @property
    def producer_slot(self) -> int | None:
        return None if self._input_muted else DEVICE_SLOT

    @property
    def input_muted(self) -> bool:
        return self._input_muted

    @input_muted.setter
    def input_muted(self, value: bool) -> None:
        old = self.producer_slot
        self._input_muted = bool(value)
        post_slots_changed(self, self.consumer_slot, self.consumer_slot, old, self.producer_slot)

    @property
    def output_muted(self) -> bool:
        return self._output_muted

    @output_muted.setter
    def output_muted(self, value: bool) -> None:
        old = self.consumer_slot
        self._output_muted = bool(value)
        post_slots_changed(self, old, self.consumer_slot, self.producer_slot, self.producer_slot)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} of {self.mixer!r} input_muted={self._input_muted}"
            f" output_muted={self._output_muted}>"
        )
