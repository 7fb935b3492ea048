"""AudioTransport (sipsimple.core.media.audio_transport): SDP offer/answer turned into RTP audio.

Two AudioTransports in this process, each on its own RTPTransport bound to 127.0.0.1 and its own
mixer (null sound devices, driven by the mixers' clock threads). Peer A plays a 1000 Hz tone into
its stream, peer B a 600 Hz one; each records what its stream plays. The SDP is exchanged by the
test itself (A offers, B answers). Waits poll the mixers' tick counters with a bound; what is
asserted is the SDP, the negotiated parameters, the audio (Goertzel levels) and the packet counters.
"""

from __future__ import annotations

import pytest

from sipsimple.core import SIPCoreInvalidStateError
from sipsimple.core.engine import Engine
from sipsimple.core.media._mixer import AudioMixer, MemoryPort
from sipsimple.core.media._stream import RTPTransport
from sipsimple.core.media.audio_transport import AudioTransport, AudioTransportError, NoCommonCodecError
from sipsimple.core.media.events import dispatch_pending
from sipsimple.core.sdp import SDPConnection, SDPSession
from tests.core.media.mixer_signals import goertzel, pcm, samples, sine
from tests.support.wait import wait_mixer_seconds

LOCALHOST = "127.0.0.1"
RATE = 16000
TONE_A, TONE_B = 1000.0, 600.0


def session(media) -> SDPSession:
    return SDPSession(LOCALHOST, connection=SDPConnection(LOCALHOST), media=[media])


class Peer:
    def __init__(self, io_thread, tone: float, **kwargs) -> None:
        self.mixer = AudioMixer(None, None, RATE, 0, event_queue=io_thread.event_queue)
        self.rtp = RTPTransport(LOCALHOST, io_thread=io_thread)
        self.audio = AudioTransport(self.mixer, self.rtp, **kwargs)
        self.source = MemoryPort(self.mixer, pcm(sine(RATE, 1.0, tone, 8000)), loop=True)
        self.record = MemoryPort(self.mixer, None, record_seconds=10)
        self.source.start()
        self.record.start()
        self.heard = samples(b"")

    def connect(self) -> None:
        """Tone -> stream, stream -> recorder (done once the stream has a slot)."""
        self.mixer.connect_slots(self.source.slot, self.audio.slot)
        self.mixer.connect_slots(self.audio.slot, self.record.slot)

    def collect(self):
        self.heard.extend(samples(self.record.take()))
        return self.heard

    def level(self, frequency: float, seconds: float = 0.4) -> float:
        return goertzel(self.collect()[-round(seconds * RATE) :], RATE, frequency)

    def close(self) -> None:
        self.mixer.stop()
        self.audio.stop()
        self.source.stop()
        self.record.stop()
        self.rtp.close()


class Call:
    def __init__(self, io_thread, a: dict, b: dict) -> None:
        self.queue = io_thread.event_queue
        self.a = Peer(io_thread, TONE_A, **a)
        self.b = Peer(io_thread, TONE_B, **b)
        self.offer = self.answer = None

    def negotiate(self, **offer_kwargs):
        self.offer = session(self.a.audio.get_local_media(**offer_kwargs))
        self.answer = session(self.b.audio.get_local_media(self.offer, 0))
        return self.offer, self.answer

    def start(self) -> None:
        self.negotiate()
        self.b.audio.start(self.answer, self.offer, 0)
        self.a.audio.start(self.offer, self.answer, 0)
        self.a.connect()
        self.b.connect()
        self.a.mixer.start()
        self.b.mixer.start()

    def reinvite(self, **offer_kwargs) -> None:
        self.negotiate(**offer_kwargs)
        self.b.audio.update_sdp(self.answer, self.offer, 0)
        self.a.audio.update_sdp(self.offer, self.answer, 0)

    def run(self, seconds: float) -> None:
        for mixer in (self.a.mixer, self.b.mixer):
            wait_mixer_seconds(mixer, seconds)
        self.a.collect()
        self.b.collect()

    def close(self) -> None:
        self.a.close()
        self.b.close()
        dispatch_pending(self.queue)


@pytest.fixture
def make_call(io_thread):
    calls = []

    def make(a=None, b=None) -> Call:
        call = Call(io_thread, a or {}, b or {})
        calls.append(call)
        return call

    yield make
    for call in calls:
        call.close()


def formats_of(media) -> list[str]:
    return list(media.formats)


def rtpmaps(media) -> list[str]:
    return media.attributes.getall("rtpmap")


# -- the SDP we write ------------------------------------------------------------------------------


def test_the_offer_lists_our_codecs_in_order_with_one_telephone_event_per_clock_rate(make_call):
    call = make_call({"codecs": ["opus", "G722", "speex", "PCMU", "PCMA", "GSM"]})
    media = call.a.audio.get_local_media()
    assert (media.media, media.port, media.transport) == ("audio", call.a.rtp.local_rtp_port, "RTP/AVP")
    assert media.connection.address == LOCALHOST
    assert rtpmaps(media) == [
        "111 opus/48000/2",
        "9 G722/8000",
        "99 speex/32000",
        "98 speex/16000",
        "97 speex/8000",
        "0 PCMU/8000",
        "8 PCMA/8000",
        "3 GSM/8000",
        "101 telephone-event/48000",
        "102 telephone-event/8000",
        "103 telephone-event/32000",
        "104 telephone-event/16000",
    ]
    assert len(set(formats_of(media))) == len(formats_of(media)) == 12  # each number once
    assert "111 useinbandfec=1" in media.attributes.getall("fmtp")
    assert media.attributes.getfirst("ptime") == "20"
    assert media.direction == "sendrecv"
    assert "crypto" not in media.attributes


def test_the_offer_follows_engine_codecs_when_no_list_is_given(make_call):
    engine = Engine()
    saved = engine.codecs
    try:
        engine.codecs = ["PCMA", "opus", "G722"]
        media = make_call().a.audio.get_local_media()
    finally:
        engine.codecs = saved
    assert formats_of(media)[:3] == ["8", "111", "9"]
    assert [m for m in rtpmaps(media) if "telephone-event" in m] == [
        "101 telephone-event/8000",
        "102 telephone-event/48000",
    ]


def test_the_answer_takes_our_order_and_the_offer_s_payload_type_numbers(make_call):
    call = make_call({"codecs": ["PCMU", "G722"]}, {"codecs": ["G722", "PCMU"]})
    offer, answer = call.negotiate()
    assert rtpmaps(answer.media[0]) == ["9 G722/8000", "0 PCMU/8000", "101 telephone-event/8000"]
    call.b.audio.start(answer, offer, 0)
    call.a.audio.start(offer, answer, 0)
    assert call.a.audio.codec == call.b.audio.codec == "G722"
    assert call.a.audio.sample_rate == 16000


def test_an_offer_with_only_pcma_is_answered_with_pcma_and_its_ptime_is_used(make_call):
    call = make_call({"codecs": ["PCMA"], "ptime": 40}, {"codecs": ["opus", "G722", "PCMU", "PCMA"]})
    offer, answer = call.negotiate()
    assert formats_of(answer.media[0]) == ["8", "101"]
    call.b.audio.start(answer, offer, 0)
    assert (call.b.audio.codec, call.b.audio.sample_rate, call.b.audio.ptime) == ("PCMA", 8000, 40)
    assert call.b.audio.remote_rtp_port == call.a.rtp.local_rtp_port


def test_no_common_codec_is_an_error_a_session_answers_with_488(make_call, io_thread):
    call = make_call({"codecs": ["PCMA"]}, {"codecs": ["opus", "PCMU"]})
    offer = session(call.a.audio.get_local_media())
    with pytest.raises(NoCommonCodecError) as caught:
        call.b.audio.get_local_media(offer, 0)
    assert caught.value.code == 488 and "PCMA" in caught.value.reason
    rtp = RTPTransport(LOCALHOST, io_thread=io_thread)
    try:
        with pytest.raises(AudioTransportError):  # an incoming offer is checked at construction
            AudioTransport(call.b.mixer, rtp, offer, 0, codecs=["PCMU"])
    finally:
        rtp.close()


# -- audio flowing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["PCMU", "G722", "opus"])
def test_a_negotiated_call_carries_audio_both_ways(make_call, codec):
    call = make_call({"codecs": [codec]}, {"codecs": [codec]})
    call.start()
    call.run(1.0)
    assert call.a.audio.codec == call.b.audio.codec == codec
    assert call.b.level(TONE_A) > 2000 and call.a.level(TONE_B) > 2000
    assert call.b.level(TONE_A) > 5 * call.b.level(TONE_B)  # B hears A, not itself
    assert call.b.audio.remote_rtp_address_received == LOCALHOST
    assert not call.a.audio.srtp_active
    assert call.b.audio.statistics["rx"]["packets"] > 20


def test_sdes_mandatory_on_both_sides_gives_srtp_and_audio(make_call):
    call = make_call({"srtp_mode": "sdes_mandatory"}, {"srtp_mode": "sdes_mandatory", "codecs": ["PCMU"]})
    call.start()
    assert call.offer.media[0].transport == call.answer.media[0].transport == "RTP/SAVP"
    assert len(call.answer.media[0].attributes.getall("crypto")) == 1
    call.run(1.0)
    assert call.a.audio.srtp_active and call.b.audio.srtp_active
    assert call.b.level(TONE_A) > 2000 and call.a.level(TONE_B) > 2000
    assert call.b.rtp.statistics["rx_transform_failed"] == 0
    assert call.b.audio._srtp_session.stats.rtp_unprotected > 20


def test_opportunistic_offer_to_a_plain_peer_falls_back_to_rtp(make_call):
    call = make_call({"srtp_mode": "opportunistic"}, {"srtp_mode": None})
    call.start()
    assert call.offer.media[0].transport == "RTP/AVP" and call.offer.media[0].attributes.getall("crypto")
    assert "crypto" not in call.answer.media[0].attributes
    call.run(0.6)
    assert not call.a.audio.srtp_active and not call.b.audio.srtp_active
    assert call.b.level(TONE_A) > 2000


def test_mandatory_srtp_offer_to_a_peer_without_encryption_is_refused(make_call):
    call = make_call({"srtp_mode": "sdes_mandatory"}, {"srtp_mode": None})
    offer = session(call.a.audio.get_local_media())
    with pytest.raises(AudioTransportError) as caught:
        call.b.audio.get_local_media(offer, 0)
    assert caught.value.code == 488


def test_a_plain_offer_to_a_mandatory_peer_is_refused(make_call):
    call = make_call({"srtp_mode": None}, {"srtp_mode": "sdes_mandatory"})
    offer = session(call.a.audio.get_local_media())
    with pytest.raises(AudioTransportError):
        call.b.audio.get_local_media(offer, 0)


# -- during the call -------------------------------------------------------------------------------


def test_hold_offers_sendonly_and_the_held_side_stops_sending(make_call):
    call = make_call({"codecs": ["PCMU"]}, {"codecs": ["PCMU"]})
    call.start()
    call.run(0.4)
    call.a.audio.update_direction("sendonly")
    call.reinvite()
    assert call.offer.media[0].direction == "sendonly"
    assert call.answer.media[0].direction == "recvonly"
    assert (call.a.audio.direction, call.b.audio.direction) == ("sendonly", "recvonly")
    call.run(0.2)  # packets already on their way arrive
    a_rx = call.a.audio.statistics["rx"]["packets"]
    b_rx = call.b.audio.statistics["rx"]["packets"]
    call.run(0.6)
    assert call.a.audio.statistics["rx"]["packets"] - a_rx <= 1  # B no longer sends
    assert call.b.audio.statistics["rx"]["packets"] - b_rx > 15  # A still does
    call.a.audio.update_direction("sendrecv")
    call.reinvite()
    call.run(0.6)
    assert call.a.audio.direction == "sendrecv"
    assert call.a.audio.statistics["rx"]["packets"] - a_rx > 15


def test_dtmf_is_delivered_to_the_other_side(make_call, recorder):
    call = make_call({"codecs": ["PCMU"]}, {"codecs": ["PCMU"]})
    call.start()
    call.run(0.2)
    call.a.audio.send_dtmf("5")
    call.run(0.6)
    dispatch_pending(call.queue)
    got = recorder.named("AudioStreamPortGotDTMF")
    assert [(n.sender, n.data.digit) for n in got] == [(call.b.audio.port, "5")]


def test_a_reinvite_with_another_codec_switches_codec_and_keeps_the_audio_connected(make_call):
    call = make_call({"codecs": ["PCMU"], "srtp_mode": "sdes_mandatory"}, {"srtp_mode": "sdes_mandatory"})
    call.start()
    call.run(0.4)
    session_a = call.a.audio._srtp_session
    call.a.audio.codecs = ["G722"]
    call.reinvite()
    assert call.a.audio.codec == call.b.audio.codec == "G722"
    assert call.a.audio._srtp_session is session_a and session_a.stats.outbound_rekeys == 0  # same keys kept
    call.b.collect()
    call.run(1.0)
    assert call.b.level(TONE_A) > 2000 and call.a.level(TONE_B) > 2000
    assert call.b.audio.statistics["codec"] == "G722"


def test_a_reinvite_with_new_keys_rekeys_both_directions_and_audio_goes_on(make_call):
    call = make_call({"srtp_mode": "sdes_mandatory"}, {"srtp_mode": "sdes_optional", "codecs": ["PCMU"]})
    call.start()
    call.run(0.4)
    session_a, session_b = call.a.audio._srtp_session, call.b.audio._srtp_session
    call.reinvite(rekey=True)
    assert call.a.audio._srtp_session is session_a
    assert session_a.stats.outbound_rekeys == 1 and session_b.stats.inbound_rekeys == 1
    call.b.collect()
    call.run(1.0)
    assert call.a.audio.srtp_active and call.b.level(TONE_A) > 2000
    assert call.b.rtp.statistics["rx_transform_failed"] <= 2  # at most packets in flight at the switch


def test_rtcp_mux_is_offered_and_answered_when_both_transports_have_it(make_call, io_thread):
    call = make_call({"codecs": ["PCMU"]}, {"codecs": ["PCMU"]})
    for peer in (call.a, call.b):
        peer.rtp.close()
        peer.rtp = RTPTransport(LOCALHOST, io_thread=io_thread, rtcp_mux=True)
        peer.audio.transport = peer.rtp
    call.start()
    assert "rtcp-mux" in call.offer.media[0].attributes and "rtcp-mux" in call.answer.media[0].attributes
    assert call.a.rtp.remote_rtcp_port == call.b.rtp.local_rtp_port
    call.run(0.6)
    assert call.b.level(TONE_A) > 2000


def test_calls_that_need_a_started_stream_are_refused_before_start(make_call):
    call = make_call({"codecs": ["PCMU"]}, {"codecs": ["PCMU"]})
    offer, answer = call.negotiate()
    with pytest.raises(SIPCoreInvalidStateError):
        call.a.audio.send_dtmf("1")
    with pytest.raises(SIPCoreInvalidStateError):
        call.a.audio.update_sdp(offer, answer, 0)
    assert call.a.audio.statistics is None and call.a.audio.direction is None
    call.a.audio.start(offer, answer, 0)
    with pytest.raises(SIPCoreInvalidStateError):
        call.a.audio.start(offer, answer, 0)


def test_an_offer_on_hold_from_the_peer_makes_us_receive_only(make_call):
    call = make_call({"codecs": ["PCMU"]}, {"codecs": ["PCMU"]})
    offer = session(call.a.audio.get_local_media(direction="sendonly"))
    answer = session(call.b.audio.get_local_media(offer, 0))
    assert answer.media[0].direction == "recvonly"
    call.b.audio.start(answer, offer, 0)
    assert call.b.audio.direction == "recvonly"


def test_a_re_offer_from_the_answerer_keeps_every_payload_type_the_session_bound(make_call):
    """RFC 3264 §8.3.2: B answered A's offer with telephone-event/8000 as 101 (A's number); when B
    re-offers (its hold) 101 must still mean telephone-event/8000, and the codecs A never saw get
    numbers nobody used yet."""
    call = make_call({"codecs": ["PCMU"]}, {"codecs": ["opus", "G722", "PCMU"]})
    call.start()
    assert "101 telephone-event/8000" in rtpmaps(call.answer.media[0])
    call.b.audio.update_direction("sendonly")
    reoffer = session(call.b.audio.get_local_media())
    numbers = {line.split()[1]: int(line.split()[0]) for line in rtpmaps(reoffer.media[0])}
    assert numbers["telephone-event/8000"] == 101 and numbers["PCMU/8000"] == 0
    assert numbers["telephone-event/48000"] != 101
    assert len(set(numbers.values())) == len(numbers)  # one codec per number
    reanswer = session(call.a.audio.get_local_media(reoffer, 0))
    call.a.audio.update_sdp(reanswer, reoffer, 0)
    call.b.audio.update_sdp(reoffer, reanswer, 0)
    assert (call.b.audio.direction, call.a.audio.direction) == ("sendonly", "recvonly")
    assert call.a.audio.codec == call.b.audio.codec == "PCMU"
