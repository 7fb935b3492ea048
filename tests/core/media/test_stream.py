"""The audio stream port (sipsimple.core.media._stream.AudioStreamPort), driven synchronously.

Two streams on a pair of memory transports (packets handed over at once, on the sending thread)
sit in one mixer that the test ticks itself, with a ManualClock advanced one frame per tick: the
encoder, packetiser, depacketiser, jitter buffer, decoder, DTMF and RTCP code run exactly as they do
on the real threads, but deterministically and without sleeping. Audio is checked with a Goertzel
filter (one frequency's level), packets with the streams' counters.
"""

from __future__ import annotations

import gc
import weakref

import pytest

from sipsimple.core import SIPCoreError, SIPCoreInvalidStateError
from sipsimple.core.media._codecs import MediaCodecError
from sipsimple.core.media._mixer import AudioMixer, MemoryPort
from sipsimple.core.media._rtp import RTPSender
from sipsimple.core.media._stream import AudioStreamPort, IOThread, ManualClock, RTPTransport
from sipsimple.core.media.events import dispatch_pending
from tests.core.media.mixer_signals import goertzel, pcm, rms, samples, sine

DIGITS = "0123456789*#ABCD"


class MemoryCall:
    """Streams a and b on a memory transport pair, in one mixer ticked by the test.

    A tone of ``tone_a`` Hz feeds stream a and one of ``tone_b`` Hz stream b; what stream a plays
    is recorded in ``heard_a`` and what b plays in ``heard_b``.
    """

    def __init__(
        self,
        io_thread: IOThread,
        codec: str = "PCMU",
        clock_rate: int = 0,
        *,
        rate: int = 16000,
        frame_time: int = 20,
        tone_a: float = 1000.0,
        tone_b: float = 600.0,
        seconds: float = 4.0,
        **kwargs,
    ) -> None:
        self.clock = ManualClock()
        self.queue = io_thread.event_queue
        self.rate = rate
        self.frame = frame_time / 1000
        self.mixer = AudioMixer(None, None, rate, 0, frame_time=frame_time, event_queue=self.queue)
        self.ta, self.tb = RTPTransport.memory_pair(io_thread=io_thread, clock=self.clock)
        common = {"frame_time": frame_time, **{k: v for k, v in kwargs.items() if k not in ("a", "b")}}
        self.a = AudioStreamPort(self.ta, codec, clock_rate, **{**common, **kwargs.get("a", {})})
        self.b = AudioStreamPort(self.tb, codec, clock_rate, **{**common, **kwargs.get("b", {})})
        self.slot_a = self.mixer.add_port(self.a.port_capsule(), self.a)
        self.slot_b = self.mixer.add_port(self.b.port_capsule(), self.b)
        self.source_a = MemoryPort(self.mixer, pcm(sine(rate, 1.0, tone_a, 8000)), loop=True)
        self.source_b = MemoryPort(self.mixer, pcm(sine(rate, 1.0, tone_b, 8000)), loop=True)
        self.rec_a = MemoryPort(self.mixer, None, record_seconds=seconds)
        self.rec_b = MemoryPort(self.mixer, None, record_seconds=seconds)
        for port in (self.source_a, self.source_b, self.rec_a, self.rec_b):
            port.start()
        self.mixer.connect_slots(self.source_a.slot, self.slot_a)
        self.mixer.connect_slots(self.source_b.slot, self.slot_b)
        self.mixer.connect_slots(self.slot_a, self.rec_a.slot)
        self.mixer.connect_slots(self.slot_b, self.rec_b.slot)
        self.heard_a = samples(b"")
        self.heard_b = samples(b"")
        self.a.start()
        self.b.start()

    def run(self, seconds: float, service: bool = True) -> None:
        """Ticks for ``seconds`` of audio; RTCP and DTMF timeouts run when due."""
        for _ in range(round(seconds / self.frame)):
            self.clock.advance(self.frame)
            self.mixer.tick()
            if service:
                self.a._service()
                self.b._service()
            self.transports_service()
        self.heard_a.extend(samples(self.rec_a.take()))
        self.heard_b.extend(samples(self.rec_b.take()))

    def transports_service(self) -> None:
        self.ta._service()
        self.tb._service()

    def last(self, heard, seconds: float):
        return heard[-round(seconds * self.rate) :]

    def close(self) -> None:
        for stream, slot in ((self.a, self.slot_a), (self.b, self.slot_b)):
            stream.stop()
            self.mixer.remove_port(slot)
        self.ta.close()
        self.tb.close()
        dispatch_pending(self.queue)


# ---- audio both ways --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codec", "clock_rate", "options"),
    [
        ("PCMU", 8000, {}),
        ("PCMA", 8000, {}),
        ("G722", 8000, {}),
        ("GSM", 8000, {}),
        ("speex", 16000, {}),
        ("opus", 48000, {"sample_rate": 16000}),
        ("opus", 48000, {}),
        ("PCMU", 8000, {"ptime": 30}),
        ("PCMU", 8000, {"ptime": 10, "frame_time": 10}),
        ("G722", 8000, {"ptime": 60}),
    ],
)
def test_a_tone_into_one_stream_comes_out_of_the_other_and_the_other_way(
    make_memory_call, codec, clock_rate, options
):
    """1 kHz into a reaches b's output, 600 Hz into b reaches a's, and neither leaks into its own side."""
    call = make_memory_call(codec, clock_rate, **options)
    call.run(2.0)
    for heard, tone, other in ((call.heard_b, 1000, 600), (call.heard_a, 600, 1000)):
        tail = call.last(heard, 1.0)
        assert goertzel(tail, call.rate, tone) > 4000, f"{codec}: {tone} Hz lost"  # sent at 8000
        assert goertzel(tail, call.rate, other) < 400, f"{codec}: {other} Hz heard where it was not sent"
    a, b = call.a.statistics, call.b.statistics
    assert a["tx"]["packets"] == b["rx"]["packets"] > 0  # a memory transport loses nothing
    assert b["rx"]["lost"] == 0 and b["rx"]["concealed"] == 0
    assert a["codec"].lower() == codec.lower() and a["ptime"] == options.get("ptime", 20)


def test_the_stream_port_runs_at_the_codec_rate_and_the_mixer_converts(make_memory_call):
    call = make_memory_call("G722", 8000, rate=48000)
    assert (call.a.sample_rate, call.a.clock_rate, call.a.samples_per_frame) == (16000, 8000, 320)
    call.run(1.0)
    assert goertzel(call.last(call.heard_b, 0.5), 48000, 1000) > 4000


def test_opus_may_run_at_the_mixer_rate(make_memory_call):
    call = make_memory_call("opus", rate=24000, sample_rate=24000)
    assert (call.a.sample_rate, call.a.clock_rate) == (24000, 48000)
    call.run(1.0)
    assert goertzel(call.last(call.heard_b, 0.5), 24000, 1000) > 4000


# ---- DTMF -----------------------------------------------------------------------------------


def test_all_sixteen_digits_arrive_in_order_and_each_once(make_memory_call, recorder):
    call = make_memory_call("PCMU", 8000)
    call.run(0.2)
    for digit in DIGITS:
        call.a.send_dtmf(digit, duration=80)
    assert call.a.is_sending_dtmf
    call.run(16 * 0.25 + 0.5)
    assert not call.a.is_sending_dtmf
    dispatch_pending(call.queue)
    got = recorder.named("AudioStreamPortGotDTMF")
    assert "".join(n.data.digit for n in got) == DIGITS
    assert all(n.sender is call.b and n.data.ended for n in got)
    assert all(75 <= n.data.duration <= 100 for n in got)  # 80 ms, rounded up to whole packets
    assert call.a.statistics["tx"]["dtmf_packets"] == call.b.statistics["rx"]["dtmf_packets"] > 16 * 3


def test_dtmf_goes_both_ways_at_once_with_each_stream_s_payload_type(make_memory_call, recorder):
    call = make_memory_call(
        "opus", sample_rate=16000, a={"dtmf_payload_type": 101}, b={"dtmf_payload_type": 101}
    )
    call.run(0.2)
    call.a.send_dtmf("7")
    call.b.send_dtmf("#")
    call.run(0.6)
    dispatch_pending(call.queue)
    got = {(n.sender, n.data.digit) for n in recorder.named("AudioStreamPortGotDTMF")}
    assert got == {(call.b, "7"), (call.a, "#")}


def test_a_digit_whose_end_packets_are_lost_is_still_reported_after_the_timeout(make_memory_call, recorder):
    call = make_memory_call("PCMU", 8000)
    call.run(0.2)
    call.a.send_dtmf("9", duration=200)
    call.run(0.1)  # the event has started at b
    call.ta._set_loss(1)  # from now on every packet is lost, the end packets too
    call.run(0.3)
    dispatch_pending(call.queue)
    assert recorder.named("AudioStreamPortGotDTMF") == []
    call.run(0.6)  # b's telephone-event timeout (500 ms) passes
    dispatch_pending(call.queue)
    [note] = recorder.named("AudioStreamPortGotDTMF")
    assert note.data.digit == "9" and not note.data.ended


@pytest.mark.parametrize("digit", ["", "12", "E", "x", "\u0661", 5])
def test_only_single_dtmf_characters_are_sent(make_memory_call, digit):
    call = make_memory_call("PCMU", 8000)
    with pytest.raises(ValueError):
        call.a.send_dtmf(digit)


def test_dtmf_needs_a_started_sending_stream_with_a_telephone_event_type(make_memory_call, io_thread):
    call = make_memory_call("PCMU", 8000, b={"dtmf_payload_type": None})
    with pytest.raises(SIPCoreError):
        call.b.send_dtmf("1")
    call.a.direction = "recvonly"
    with pytest.raises(SIPCoreInvalidStateError):
        call.a.send_dtmf("1")
    call.a.stop()
    with pytest.raises(SIPCoreInvalidStateError):
        call.a.send_dtmf("1")


# ---- direction (hold) -------------------------------------------------------------------------


def test_recvonly_and_inactive_stop_sending_and_sendrecv_resumes(make_memory_call):
    call = make_memory_call("PCMU", 8000)
    call.run(0.5)
    sent = call.a.statistics["tx"]["packets"]
    call.a.direction = "recvonly"
    call.run(1.0)
    assert call.a.statistics["tx"]["packets"] == sent  # nothing more went out
    assert rms(call.last(call.heard_b, 0.5)) < 50  # b plays silence once concealment has faded
    assert goertzel(call.last(call.heard_a, 0.5), call.rate, 600) > 4000  # a still hears b
    call.a.direction = "inactive"
    call.run(1.0)
    assert call.a.statistics["tx"]["packets"] == sent
    assert rms(call.last(call.heard_a, 0.5)) == 0  # and a plays nothing
    call.a.direction = "sendrecv"
    call.run(1.0)
    assert call.a.statistics["tx"]["packets"] > sent
    assert goertzel(call.last(call.heard_b, 0.5), call.rate, 1000) > 4000
    assert goertzel(call.last(call.heard_a, 0.5), call.rate, 600) > 4000
    assert call.b.statistics["rx"]["lost"] == 0  # the pause was not a loss: the sequence continued


def test_sendonly_sends_but_plays_nothing(make_memory_call):
    call = make_memory_call("PCMU", 8000)
    call.a.direction = "sendonly"
    call.run(1.0)
    assert call.a.direction == "sendonly"
    assert goertzel(call.last(call.heard_b, 0.5), call.rate, 1000) > 4000
    assert rms(call.heard_a) == 0


def test_unknown_directions_are_refused(make_memory_call):
    call = make_memory_call("PCMU", 8000)
    with pytest.raises(ValueError):
        call.a.direction = "hold"


# ---- loss, concealment, FEC -------------------------------------------------------------------


def frame_levels(heard, rate: int, frame: float = 0.02) -> list[float]:
    size = round(rate * frame)
    return [rms(heard[i : i + size]) for i in range(0, len(heard) - size + 1, size)]


@pytest.mark.parametrize("codec", ["PCMU", "G722", "opus"])
def test_lost_packets_are_counted_and_concealed_without_gaps(make_memory_call, codec):
    """Every 5th packet lost: b counts 20 % loss and conceals each one; the tone never drops out."""
    call = make_memory_call(codec, 0, sample_rate=16000 if codec == "opus" else None)
    call.ta._set_loss(5)
    call.run(3.0)
    rx = call.b.statistics["rx"]
    assert rx["lost"] == pytest.approx(rx["expected"] / 5, abs=2)
    assert rx["loss_rate"] == pytest.approx(0.2, abs=0.02)
    assert rx["concealed"] == pytest.approx(rx["lost"], abs=2)
    tail = call.last(call.heard_b, 2.0)
    assert min(frame_levels(tail, call.rate)) > 1000  # a 8000-amplitude sine has an RMS of 5657
    assert goertzel(tail, call.rate, 1000) > 3000


def test_opus_rebuilds_a_lost_packet_from_the_next_one_s_fec_when_it_is_already_buffered(make_memory_call):
    """When the peer's fmtp says useinbandfec=1, the default jitter delay is one packet more for
    Opus, so the packet after each loss is there in time. ``recovered`` counts only the frames
    whose next packet carried FEC data: for this steady tone libopus put it in about half of them
    (measured 14 of 29)."""
    call = make_memory_call(
        "opus", sample_rate=16000, a={"fec": True, "packet_loss": 20}, b={"fmtp": "useinbandfec=1"}
    )
    call.ta._set_loss(5)
    call.run(3.0)
    rx = call.b.statistics["rx"]
    assert rx["concealed"] > 20
    assert 10 <= rx["recovered"] <= rx["concealed"]
    assert goertzel(call.last(call.heard_b, 2.0), call.rate, 1000) > 3000


def test_opus_dtx_sends_nothing_in_silence_and_the_receiver_counts_no_loss(make_memory_call):
    call = make_memory_call("opus", sample_rate=16000, a={"dtx": True})
    call.mixer.disconnect_slots(call.source_a.slot, call.slot_a)  # a has nothing to say
    call.run(3.0)
    a, b = call.a.statistics, call.b.statistics
    assert a["tx"]["dtx_frames"] > 100  # of 150 frames, most were not sent
    assert b["rx"]["packets"] == a["tx"]["packets"] < 50
    assert b["rx"]["lost"] == 0
    # libopus fills a DTX pause itself (its concealment fades to comfort noise); these frames are
    # told apart from losses by the unbroken sequence numbers around them
    assert b["rx"]["dtx"] > 100 and b["rx"]["concealed"] <= 20  # the pause still running is not known yet
    assert rms(call.last(call.heard_b, 1.0)) < 50
    call.mixer.connect_slots(call.source_a.slot, call.slot_a)  # a talks again: packets flow at once
    call.run(1.0)
    assert goertzel(call.last(call.heard_b, 0.5), call.rate, 1000) > 4000
    assert call.b.statistics["rx"]["concealed"] == 0  # its first packet showed that nothing was lost


def test_without_fec_data_a_loss_is_concealed_instead(make_memory_call):
    call = make_memory_call("PCMU", 8000, jitter_min_delay=40)
    call.ta._set_loss(5)
    call.run(2.0)
    rx = call.b.statistics["rx"]
    assert rx["concealed"] > 10 and rx["recovered"] == 0


# ---- RTCP -------------------------------------------------------------------------------------


def test_rtcp_reports_flow_both_ways_on_the_configured_interval(make_memory_call):
    call = make_memory_call("PCMU", 8000, rtcp_interval=1.0)
    call.run(20.0)
    for stream, other in ((call.a, call.b), (call.b, call.a)):
        st = stream.statistics
        # A.7: the minimum interval (1 s) randomised by [0.5, 1.5) / 1.218: 20 s give about 16-33 reports
        assert 12 <= st["rtcp"]["sent"] <= 40
        assert st["rtcp"]["received"] == other.statistics["rtcp"]["sent"]
        assert st["remote"] == {"fraction_lost": 0.0, "cumulative_lost": 0, "jitter": 0.0}
        assert st["rtt"] is not None and st["rtt"]["count"] >= 1
        assert 0 <= st["rtt"]["min"] <= st["rtt"]["max"] < 1  # handed over at once: ~0 ms


def test_rtcp_reports_carry_the_loss_the_receiver_saw(make_memory_call):
    call = make_memory_call("PCMU", 8000, rtcp_interval=0.5)
    call.ta._set_loss(4)
    call.run(5.0)
    remote = call.a.statistics["remote"]  # what b reported about a's packets
    assert remote["cumulative_lost"] > 0
    assert remote["cumulative_lost"] == pytest.approx(call.b.statistics["rx"]["lost"], abs=15)


def test_stopping_sends_an_rtcp_bye_that_the_other_side_notes(make_memory_call):
    call = make_memory_call("PCMU", 8000)
    call.run(0.5)
    assert not call.b.remote_bye
    call.a.stop()
    assert not call.a.is_started
    dispatch_pending(call.queue)
    assert call.b.remote_bye
    call.a.stop()  # idempotent


# ---- what the receiver refuses -----------------------------------------------------------------


def test_packets_of_other_payload_types_malformed_packets_and_comfort_noise_are_sorted(make_memory_call):
    call = make_memory_call("PCMU", 8000, cn_payload_type=13)
    call.run(0.2)
    sender = RTPSender(payload_type=96, clock_rate=8000)
    call.ta.send_datagram(sender.packet(b"\x00" * 20, samples=160, now_ns=1))
    call.ta.send_datagram(b"\x40" + bytes(20))  # RTP version 1
    call.ta.send_datagram(b"\x80\x00\x00")  # too short to be anything
    call.ta.send_datagram(b"\x8f" + bytes(15))  # 15 CSRCs announced, none there
    call.ta.send_datagram(b"hello world")  # not RTP at all
    cn = RTPSender(payload_type=13, clock_rate=8000)
    call.ta.send_datagram(cn.packet(b"\x40", samples=160, now_ns=1))
    call.run(0.2)
    rx, transport = call.b.statistics["rx"], call.tb.statistics
    assert rx["unknown_payload_type"] == 1
    assert rx["cn_packets"] == 1
    assert transport["rx_malformed"] == 1 and transport["rx_ignored"] == 3
    assert goertzel(call.last(call.heard_b, 0.1), call.rate, 1000) > 4000  # the call went on


# ---- construction -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codec", "kwargs", "error"),
    [
        ("PCMU", {"ptime": 25}, ValueError),
        ("GSM", {"ptime": 10}, ValueError),
        ("opus", {"ptime": 30}, ValueError),
        ("PCMU", {"frame_time": 30}, ValueError),
        ("PCMU", {"direction": "sideways"}, ValueError),
        ("PCMU", {"dtmf_payload_type": 0}, ValueError),
        ("PCMU", {"payload_type": 128}, ValueError),
        ("PCMU", {"sample_rate": 11025}, ValueError),
        ("PCMU", {"rtcp_interval": 0}, ValueError),
        ("PCMU", {"cname": ""}, ValueError),
        ("L16", {}, MediaCodecError),
        ("opus", {"fmtp": "maxaveragebitrate=fast"}, MediaCodecError),
    ],
)
def test_unusable_stream_parameters_are_refused(io_thread, codec, kwargs, error):
    a, _b = RTPTransport.memory_pair(io_thread=io_thread, clock=ManualClock())
    with pytest.raises(error):
        AudioStreamPort(a, codec, **kwargs)


def test_a_stream_says_what_was_negotiated(io_thread):
    a, _b = RTPTransport.memory_pair(io_thread=io_thread, clock=ManualClock())
    stream = AudioStreamPort(
        a, "opus", payload_type=120, ptime=40, fmtp="useinbandfec=1", dtmf_payload_type=126
    )
    assert (stream.codec, stream.clock_rate, stream.sample_rate, stream.payload_type, stream.ptime) == (
        "opus",
        48000,
        48000,
        120,
        40,
    )
    assert (stream.fmtp, stream.dtmf_payload_type, stream.direction, stream.is_started) == (
        "useinbandfec=1",
        126,
        "sendrecv",
        False,
    )
    st = stream.statistics
    assert st["rtt"] is None and st["remote"] is None and st["rx"]["ssrc"] is None
    assert st["remote_address"] is None  # memory transports have no addresses


def test_starting_twice_or_on_a_closed_transport_is_refused(io_thread):
    a, _b = RTPTransport.memory_pair(io_thread=io_thread, clock=ManualClock())
    stream = AudioStreamPort(a, "PCMU")
    stream.start()
    with pytest.raises(SIPCoreInvalidStateError):
        stream.start()
    stream.stop()
    a.close()
    with pytest.raises(SIPCoreInvalidStateError):
        stream.start()


def test_a_transport_carries_one_running_stream_at_a_time(io_thread):
    clock = ManualClock()
    a, b = RTPTransport.memory_pair(io_thread=io_thread, clock=clock)
    first, second = AudioStreamPort(a, "PCMU"), AudioStreamPort(a, "PCMA")
    receiver = AudioStreamPort(b, "PCMU")
    mixer = AudioMixer(None, None, 8000, 0, event_queue=io_thread.event_queue)
    mixer.add_port(receiver.port_capsule(), receiver)
    first.start()
    receiver.start()
    with pytest.raises(SIPCoreInvalidStateError):
        second.start()
    assert not second.is_started
    second.stop()  # stopping a stream that never ran leaves the running one attached
    receiver.send_dtmf("1")
    for _ in range(20):
        clock.advance(0.02)
        mixer.tick()
    assert first.statistics["rx"]["dtmf_packets"] > 0 and second.statistics["rx"]["packets"] == 0
    first.stop()
    second.start()  # now the transport is free
    assert second.is_started
    for stream in (second, receiver):
        stream.stop()
    a.close()
    b.close()


def test_the_port_capsule_keeps_the_stream_alive(io_thread):
    a, _b = RTPTransport.memory_pair(io_thread=io_thread, clock=ManualClock())
    stream = AudioStreamPort(a, "PCMU")
    reference = weakref.ref(stream)
    capsule = stream.port_capsule()
    del stream
    gc.collect()
    assert reference() is not None
    del capsule
    gc.collect()
    assert reference() is None


def test_a_10_ms_mixer_with_20_ms_packets_sends_every_other_tick(make_memory_call):
    call = make_memory_call("PCMU", 8000, frame_time=10, ptime=20)
    call.run(1.0)
    assert call.a.statistics["tx"]["packets"] == pytest.approx(50, abs=1)
    assert call.a.statistics["tx"]["frames"] == pytest.approx(100, abs=1)
    assert goertzel(call.last(call.heard_b, 0.5), call.rate, 1000) > 4000
