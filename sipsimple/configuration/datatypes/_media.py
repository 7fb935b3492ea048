"""Audio datatypes: codecs, sample rates, sound devices."""

from __future__ import annotations

from typing import ClassVar, Self

from ._base import BoundedInteger, Choice, List, invalid

__all__ = ["AudioCodec", "AudioCodecList", "AudioInputDevice", "AudioOutputDevice", "SampleRate"]


class AudioCodec(Choice):
    """An audio codec the engine supports: ``opus``, ``G722``, ``speex``, ``GSM``, ``PCMU``, ``PCMA``.

    Input is matched ignoring case; the canonical spelling is the one listed here.
    """

    __slots__ = ()
    label = "audio codec"
    values = ("opus", "G722", "speex", "GSM", "PCMU", "PCMA")


class AudioCodecList(List):
    """Audio codecs in order of preference, without duplicates (``"opus, G722, PCMU"``)."""

    __slots__ = ()
    type = AudioCodec
    label = "audio codec list"


class SampleRate(BoundedInteger):
    """A conference-bridge sample rate in Hz: 8000, 16000, 32000, 44100 or 48000."""

    __slots__ = ()
    label = "sample rate"
    allowed = (8000, 16000, 32000, 44100, 48000)


class _AudioDevice(str):
    """A sound device name as the audio backend reports it, stored exactly as given.

    ``"system_default"`` (:attr:`SYSTEM_DEFAULT`) means "whatever the operating system uses";
    "no device" is not a value of this type: the setting is declared nillable and holds None.
    Any other non-blank name without control characters is accepted, since device names are
    only known at run time.
    """

    __slots__ = ()
    SYSTEM_DEFAULT: ClassVar[str] = "system_default"
    label: ClassVar[str] = "audio device"

    def __new__(cls, value: object) -> Self:
        if type(value) is cls:
            return value
        if not isinstance(value, str):
            raise invalid(cls.label, value, "must be a device name or 'system_default'")
        if not value.strip():
            raise invalid(cls.label, value, "must not be empty (use None for no device)")
        if not value.isprintable():
            raise invalid(cls.label, value, "must not contain control characters")
        return super().__new__(cls, value)

    @property
    def is_system_default(self) -> bool:
        """True for the ``system_default`` device."""
        return self == self.SYSTEM_DEFAULT

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class AudioInputDevice(_AudioDevice):
    """The name of a sound input (capture) device, or ``system_default``."""

    __slots__ = ()
    label = "audio input device"


class AudioOutputDevice(_AudioDevice):
    """The name of a sound output (playback) device, or ``system_default``."""

    __slots__ = ()
    label = "audio output device"
