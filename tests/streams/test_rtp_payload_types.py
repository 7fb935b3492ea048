"""Payload type numbers per direction (RFC 3264 §5.1 and §6.1): an answer may number a codec
differently from the offer; the offerer then sends with the answer's numbers and receives with
its own.

A is an AudioTransport that offers speex (three rates) and telephone-event; the answer is written
by the test and gives speex/16000 the number 110 and telephone-event/16000 the number 120, where
our offer said 98 and 102. The peer B is an AudioStreamPort set up by hand the way such an answerer
works: it sends with our numbers (98, 102) and receives with its own (110, 120). Both run on
loopback RTPTransports with mixers on their own clock threads; waits poll the mixers' tick
counters with a bound. What is asserted is the negotiated numbers, the audio both ways, DTMF both
ways and that no packet was dropped as an unknown payload type.
"""

from __future__ import annotations

import gc

import pytest

from sipsimple.core.media._mixer import AudioMixer, MemoryPort
from sipsimple.core.media._stream import AudioStreamPort, IOThread, RTPTransport
from sipsimple.core.media.audio_transport import AudioTransport
from sipsimple.core.media.events import dispatch_pending
from sipsimple.core.sdp import SDPAttribute, SDPConnection, SDPMediaStream, SDPSession
from tests.core.media.mixer_signals import goertzel, pcm, samples, sine
from tests.support.wait import wait_mixer_seconds

LOCALHOST = "127.0.0.1"
RATE = 16000
OUR_SPEEX, OUR_EVENTS = 98, 102  # what our offer numbers speex/16000 and telephone-event/16000
THEIR_SPEEX, THEIR_EVENTS = 110, 120  # what the answer numbers them


@pytest.fixture(scope="module")
def io_thread():
    thread = IOThread()
    yield thread
    gc.collect()
    thread.stop()


class Side:
    """A mixer with a tone source and a recorder, around one stream slot."""

    def __init__(self, io_thread: IOThread, tone: float) -> None:
        self.mixer = AudioMixer(None, None, RATE, 0, event_queue=io_thread.event_queue)
        self.rtp = RTPTransport(LOCALHOST, io_thread=io_thread)
        self.source = MemoryPort(self.mixer, pcm(sine(RATE, 1.0, tone, 8000)), loop=True)
        self.record = MemoryPort(self.mixer, None, record_seconds=10)
        self.source.start()
        self.record.start()
        self.heard = samples(b"")

    def wire(self, slot: int) -> None:
        self.mixer.connect_slots(self.source.slot, slot)
        self.mixer.connect_slots(slot, self.record.slot)

    def level(self, frequency: float) -> float:
        self.heard.extend(samples(self.record.take()))
        return goertzel(self.heard[-round(0.4 * RATE) :], RATE, frequency)


@pytest.fixture
def call(io_thread):
    a, b = Side(io_thread, 1000.0), Side(io_thread, 600.0)
    a.audio = AudioTransport(a.mixer, a.rtp, codecs=["speex"])
    b.port = None
    yield a, b
    for side in (a, b):
        side.mixer.stop()
    a.audio.stop()
    if b.port is not None:
        b.port.stop()
    for side in (a, b):
        side.source.stop()
        side.record.stop()
        side.rtp.close()
    dispatch_pending(io_thread.event_queue)


def answer_for(b: Side) -> SDPSession:
    media = SDPMediaStream(
        "audio",
        b.rtp.local_rtp_port,
        "RTP/AVP",
        formats=[str(THEIR_SPEEX), str(THEIR_EVENTS)],
        connection=SDPConnection(LOCALHOST),
        attributes=[
            SDPAttribute("rtpmap", f"{THEIR_SPEEX} speex/16000"),
            SDPAttribute("rtpmap", f"{THEIR_EVENTS} telephone-event/16000"),
            SDPAttribute("fmtp", f"{THEIR_EVENTS} 0-16"),
            SDPAttribute("ptime", "20"),
        ],
    )
    return SDPSession(LOCALHOST, connection=SDPConnection(LOCALHOST), media=[media])


def test_our_offer_numbers_speex_16000_and_its_telephone_event_as_this_test_expects(call):
    a, _b = call
    rtpmaps = a.audio.get_local_media().attributes.getall("rtpmap")
    assert f"{OUR_SPEEX} speex/16000" in rtpmaps and f"{OUR_EVENTS} telephone-event/16000" in rtpmaps


def test_the_offerer_sends_with_the_answer_s_numbers_and_receives_with_its_own(call, recorder):
    a, b = call
    offer = SDPSession(LOCALHOST, connection=SDPConnection(LOCALHOST), media=[a.audio.get_local_media()])
    answer = answer_for(b)
    a.audio.start(offer, answer, 0)
    port = a.audio.port
    assert (port.payload_type, port.receive_payload_type) == (THEIR_SPEEX, OUR_SPEEX)
    assert (port.dtmf_payload_type, port.receive_dtmf_payload_type) == (THEIR_EVENTS, OUR_EVENTS)
    assert port.statistics["payload_type"] == THEIR_SPEEX
    assert port.statistics["receive_payload_type"] == OUR_SPEEX

    # the answerer, as a peer that honours both SDPs would run it
    b.port = AudioStreamPort(
        b.rtp,
        "speex",
        16000,
        payload_type=OUR_SPEEX,
        receive_payload_type=THEIR_SPEEX,
        dtmf_payload_type=OUR_EVENTS,
        receive_dtmf_payload_type=THEIR_EVENTS,
    )
    b.rtp.set_remote(LOCALHOST, a.rtp.local_rtp_port, a.rtp.local_rtcp_port)
    a.wire(a.audio.slot)
    b.wire(b.mixer.add_port(b.port.port_capsule(), b.port))
    b.port.start()
    a.mixer.start()
    b.mixer.start()
    wait_mixer_seconds(a.mixer, 1.0)
    wait_mixer_seconds(b.mixer, 0.1)
    assert a.level(600.0) > 3000 and a.level(1000.0) < 500
    assert b.level(1000.0) > 3000 and b.level(600.0) < 500

    a.audio.send_dtmf("7")
    b.port.send_dtmf("#")
    wait_mixer_seconds(a.mixer, 0.6)
    wait_mixer_seconds(b.mixer, 0.1)
    dispatch_pending(a.mixer.event_queue)
    got = {(n.sender, n.data.digit) for n in recorder.named("AudioStreamPortGotDTMF")}
    assert got == {(b.port, "7"), (a.audio.port, "#")}
    for stream in (a.audio.port, b.port):
        rx = stream.statistics["rx"]
        assert rx["unknown_payload_type"] == 0 and rx["packets"] > 40 and rx["dtmf_packets"] > 0


def test_a_port_refuses_receiving_numbers_that_clash_with_each_other(io_thread):
    a, _b = RTPTransport.memory_pair(io_thread=io_thread)
    with pytest.raises(ValueError, match="different payload types"):
        AudioStreamPort(
            a, "PCMU", receive_payload_type=101, dtmf_payload_type=100, receive_dtmf_payload_type=101
        )
    with pytest.raises(ValueError, match="receive_payload_type"):
        AudioStreamPort(a, "PCMU", receive_payload_type=200)


def test_without_receiving_numbers_a_port_receives_with_the_sending_ones(io_thread):
    a, _b = RTPTransport.memory_pair(io_thread=io_thread)
    port = AudioStreamPort(a, "speex", 16000, payload_type=97, dtmf_payload_type=100, cn_payload_type=None)
    assert (port.receive_payload_type, port.receive_dtmf_payload_type, port.receive_cn_payload_type) == (
        97,
        100,
        None,
    )
