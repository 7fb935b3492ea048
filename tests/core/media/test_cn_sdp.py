"""Comfort noise in offer/answer (AudioTransport with ``enable_silence_detection``).

CN/8000 (payload type 13) is offered and answered only with silence detection on and only beside
a codec with an 8000 Hz RTP clock; Opus uses its own DTX instead. The call tests run two
AudioTransports on loopback RTPTransports with mixers on their own clock threads (waits poll the
tick counters with a bound); A's microphone is silent (quiet noise), and what is asserted is what
A sends and what B receives.
"""

from __future__ import annotations

import pytest

from sipsimple.core.media._mixer import AudioMixer, MemoryPort
from sipsimple.core.media._stream import IOThread, RTPTransport
from sipsimple.core.media.audio_transport import AudioTransport
from sipsimple.core.media.events import dispatch_pending
from sipsimple.core.sdp import SDPConnection, SDPSession
from tests.core.media.mixer_signals import noise, pcm
from tests.support.wait import wait_mixer_seconds

LOCALHOST = "127.0.0.1"
RATE = 16000


def session(media) -> SDPSession:
    return SDPSession(LOCALHOST, connection=SDPConnection(LOCALHOST), media=[media])


class Peer:
    def __init__(self, io_thread: IOThread, **kwargs) -> None:
        self.mixer = AudioMixer(None, None, RATE, 0, event_queue=io_thread.event_queue)
        self.rtp = RTPTransport(LOCALHOST, io_thread=io_thread)
        self.audio = AudioTransport(self.mixer, self.rtp, **kwargs)
        self.source = MemoryPort(self.mixer, pcm(noise(RATE, 60.0)), loop=True)  # a quiet room
        self.source.start()

    def close(self) -> None:
        self.mixer.stop()
        self.audio.stop()
        self.source.stop()
        self.rtp.close()


@pytest.fixture
def peers(io_thread):
    made: list[Peer] = []

    def make(**kwargs) -> Peer:
        peer = Peer(io_thread, **kwargs)
        made.append(peer)
        return peer

    yield make
    for peer in made:
        peer.close()
    dispatch_pending(io_thread.event_queue)


def rtpmaps(media) -> list[str]:
    return media.attributes.getall("rtpmap")


def test_the_offer_has_cn_only_with_silence_detection(peers):
    on = peers(codecs=["PCMU", "PCMA"], enable_silence_detection=True)
    off = peers(codecs=["PCMU", "PCMA"])
    assert rtpmaps(on.audio.get_local_media()) == [
        "0 PCMU/8000",
        "8 PCMA/8000",
        "13 CN/8000",
        "101 telephone-event/8000",
    ]
    assert "13 CN/8000" not in rtpmaps(off.audio.get_local_media())


def test_cn_is_never_offered_with_opus_alone(peers):
    opus = peers(codecs=["opus"], enable_silence_detection=True)
    assert not any("CN/" in line for line in rtpmaps(opus.audio.get_local_media()))


def test_an_offered_cn_is_answered_only_with_silence_detection(peers):
    offerer = peers(codecs=["PCMU"], enable_silence_detection=True)
    offer = session(offerer.audio.get_local_media())
    on = peers(codecs=["PCMU"], enable_silence_detection=True)
    off = peers(codecs=["PCMU"])
    assert "13 CN/8000" in rtpmaps(on.audio.get_local_media(offer, 0))
    assert "13 CN/8000" not in rtpmaps(off.audio.get_local_media(offer, 0))


def test_an_answer_with_opus_carries_no_cn_even_when_offered(peers):
    offerer = peers(codecs=["opus", "PCMU"], enable_silence_detection=True)
    offer = session(offerer.audio.get_local_media())
    assert "13 CN/8000" in rtpmaps(offer.media[0])  # for PCMU
    answerer = peers(codecs=["opus"], enable_silence_detection=True)
    answer = session(answerer.audio.get_local_media(offer, 0))
    assert not any("CN/" in line for line in rtpmaps(answer.media[0]))
    answerer.audio.start(answer, offer, 0)
    port = answerer.audio.port
    assert port.codec == "opus" and port.cn_payload_type is None and not port.silence_detection


def run(*peers_: Peer, seconds: float) -> None:
    for peer in peers_:
        peer.mixer.start()
    for peer in peers_:
        wait_mixer_seconds(peer.mixer, seconds)


def connect(peer: Peer) -> None:
    peer.mixer.connect_slots(peer.source.slot, peer.audio.slot)


def test_both_sides_with_silence_detection_send_sids_in_a_quiet_room(peers):
    a = peers(codecs=["PCMU"], enable_silence_detection=True)
    b = peers(codecs=["PCMU"], enable_silence_detection=True)
    offer = session(a.audio.get_local_media())
    answer = session(b.audio.get_local_media(offer, 0))
    b.audio.start(answer, offer, 0)
    a.audio.start(offer, answer, 0)
    for peer in (a, b):
        assert peer.audio.port.cn_payload_type == peer.audio.port.receive_cn_payload_type == 13
        assert peer.audio.port.silence_detection
        connect(peer)
    run(a, b, seconds=1.5)
    tx, rx = a.audio.statistics["tx"], b.audio.statistics["rx"]
    assert tx["cn_packets"] > 0 and tx["packets"] < 20  # 75 packets of 20 ms, nearly all silent
    assert rx["cn_packets"] > 0 and rx["unknown_payload_type"] == 0


def test_a_peer_that_does_not_offer_cn_never_gets_cn(peers):
    """B offers PCMU without CN; A answers with silence detection on: A's quiet room still goes
    out as PCMU packets, and B receives no packet of a type it did not negotiate."""
    b = peers(codecs=["PCMU"])
    a = peers(codecs=["PCMU"], enable_silence_detection=True)
    offer = session(b.audio.get_local_media())
    answer = session(a.audio.get_local_media(offer, 0))
    assert "13 CN/8000" not in rtpmaps(answer.media[0])
    a.audio.start(answer, offer, 0)
    b.audio.start(offer, answer, 0)
    assert a.audio.port.cn_payload_type is None and not a.audio.port.silence_detection
    connect(a)
    run(a, b, seconds=1.0)
    tx, rx = a.audio.statistics["tx"], b.audio.statistics["rx"]
    assert tx["cn_packets"] == 0 and tx["packets"] >= 45
    assert rx["cn_packets"] == 0 and rx["unknown_payload_type"] == 0 and rx["packets"] >= 45
