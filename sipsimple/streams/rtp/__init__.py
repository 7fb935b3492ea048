"""RTP media streams: ``AudioStream``, an IMediaStream (and IAudioPort) over the core
``AudioTransport``. Importing this package registers the stream type. See docs/streams.md."""

from __future__ import annotations

from ._audio import AudioStream

__all__ = ["AudioStream"]
