"""AudioStream's ``silence_detection``: taken from the constructor, else from
SIPSimpleSettings.audio.silence_detection, and handed to its AudioTransport, whose offer then has
CN/8000 (payload type 13). The stream is set up on its own (no session): an injected mixer and a
stand-in engine (address and event queue), a PCMU-only codec list; what is asserted is the offer.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from sipsimple.configuration.settings import SIPSimpleSettings
from sipsimple.core.media._mixer import AudioMixer
from sipsimple.core.media._stream import default_io_thread
from sipsimple.streams.rtp import AudioStream


@pytest.fixture
def made():
    streams: list[AudioStream] = []
    yield streams
    for stream in streams:
        if stream._audio is not None:
            stream._audio.stop()
        if stream._rtp is not None:
            stream._rtp.close()


def offer_of(made: list[AudioStream], **kwargs) -> list[str]:
    queue = default_io_thread().event_queue
    mixer = AudioMixer(None, None, 16000, 0, event_queue=queue)
    engine = SimpleNamespace(ip_address="127.0.0.1", media_event_queue=queue)
    stream = AudioStream(
        mixer=mixer, engine=engine, codecs=["PCMU"], port_range=(40000, 40100), rtp_timeout=0, **kwargs
    )
    made.append(stream)
    stream._setup(None)
    return list(stream.get_local_media().attributes.getall("rtpmap"))


def test_an_audio_stream_given_silence_detection_offers_comfort_noise(made):
    assert "13 CN/8000" in offer_of(made, silence_detection=True)
    assert "13 CN/8000" not in offer_of(made, silence_detection=False)


def test_an_audio_stream_follows_the_audio_silence_detection_setting(made, memory_configuration):
    settings = SIPSimpleSettings()
    assert settings.audio.silence_detection is False
    assert "13 CN/8000" not in offer_of(made)
    settings.audio.silence_detection = True
    try:
        assert "13 CN/8000" in offer_of(made)
    finally:
        settings.audio.silence_detection = False
