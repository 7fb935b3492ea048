"""The media engine: audio codecs, mixer, devices and RTP, in C on native threads.

Each concern is its own extension module (``_codecs``, ...); see docs/media-codecs.md.
``_rtp``: RTP/RTCP packets and statistics, the jitter buffer, RFC 4733 events (docs/media-rtp.md).
``_events`` + ``events``: the native-thread event queue and its Twisted reader; ``_mixer``: AudioMixer,
its clock thread, WaveFile/RecordingWaveFile/ToneGenerator/MixerPort, null and file devices
(docs/media-mixer.md).
``_srtp`` + ``sdes``: SRTP over libsrtp2 and SDES key exchange, RFC 4568 (docs/media-srtp.md).
"""
