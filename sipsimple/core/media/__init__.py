"""The media engine: audio codecs, mixer, devices and RTP, in C on native threads.

Each concern is its own extension module (``_codecs``, ...); see docs/media-codecs.md.
``_rtp``: RTP/RTCP packets and statistics, the jitter buffer, RFC 4733 events (docs/media-rtp.md).
``_events`` + ``events``: the native-thread event queue and its Twisted reader; ``_mixer``: AudioMixer,
its clock thread, WaveFile/RecordingWaveFile/ToneGenerator/MixerPort, null and file devices
(docs/media-mixer.md).
``_srtp`` + ``sdes``: SRTP over libsrtp2 and SDES key exchange, RFC 4568 (docs/media-srtp.md).
``_stream``: the RTP I/O thread, RTPTransport and AudioStreamPort (docs/media-stream.md); those
names are importable from here, loaded on first use.
``audio_transport``: AudioTransport, the SDP face of an RTP audio stream (docs/media-audio-transport.md).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "IOThread": "sipsimple.core.media._stream",
    "RTPTransport": "sipsimple.core.media._stream",
    "RTPTransportError": "sipsimple.core.media._stream",
    "AudioStreamPort": "sipsimple.core.media._stream",
    "AudioTransport": "sipsimple.core.media.audio_transport",
    "AudioTransportError": "sipsimple.core.media.audio_transport",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
