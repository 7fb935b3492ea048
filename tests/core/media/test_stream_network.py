"""Audio streams over real UDP sockets on 127.0.0.1, with the native threads running in real time.

Two mixers, each driven by its own clock thread: mixer A plays a WAV file (a file input device)
into stream A; stream B plays what it receives to mixer B's file output device, which the test
reads back once the mixers have stopped. The I/O thread carries the packets. Waits poll the mixers'
tick counters or the streams' statistics with a bound; what is asserted is the audio and the
counters, never how long things took.
"""

from __future__ import annotations

import gc
import os
import select
import socket
import threading
import time

import pytest

from sipsimple.core.media._mixer import AudioMixer, read_wave_file, write_wave_file
from sipsimple.core.media._srtp import SRTPSession
from sipsimple.core.media._stream import AudioStreamPort, IOThread, RTPTransport
from sipsimple.core.media.events import dispatch_pending
from tests.core.media.mixer_signals import goertzel, pcm, rms, samples, sine
from tests.support.wait import wait_for

LOCALHOST = "127.0.0.1"
SUITE = "AES_CM_128_HMAC_SHA1_80"


@pytest.fixture
def io_thread():
    thread = IOThread()
    yield thread
    gc.collect()
    thread.stop()


class NetworkCall:
    """Stream A in mixer A (input: a WAV file of a tone) sends to stream B in mixer B (output: a WAV file)."""

    def __init__(
        self, io_thread, tmp_path, codec="PCMU", *, tone=1000.0, rate_a=48000, rate_b=16000, **kwargs
    ):
        self.io = io_thread
        self.queue = io_thread.event_queue
        self.tone = tone
        self.rate_b = rate_b
        self.source = tmp_path / "tone.wav"
        self.output = tmp_path / "heard.wav"
        write_wave_file(self.source, 16000, 1, pcm(sine(16000, 8.0, tone, 8000)))
        self.mixer_a = AudioMixer(f"file:{self.source}", None, rate_a, 0, event_queue=self.queue)
        self.mixer_b = AudioMixer(None, f"file:{self.output}", rate_b, 0, event_queue=self.queue)
        self.ta = RTPTransport(LOCALHOST, io_thread=io_thread)
        self.tb = RTPTransport(LOCALHOST, io_thread=io_thread)
        self.ta.set_remote(LOCALHOST, self.tb.local_rtp_port)
        self.tb.set_remote(LOCALHOST, self.ta.local_rtp_port)
        opus_rate = {"sample_rate": 48000} if codec == "opus" else {}
        self.a = AudioStreamPort(self.ta, codec, **{**opus_rate, **kwargs})
        self.b = AudioStreamPort(self.tb, codec, **{**opus_rate, **kwargs})
        self.slot_a = self.mixer_a.add_port(self.a.port_capsule(), self.a)
        self.slot_b = self.mixer_b.add_port(self.b.port_capsule(), self.b)
        self.mixer_a.connect_slots(0, self.slot_a)
        self.mixer_b.connect_slots(self.slot_b, 0)

    def start(self) -> None:
        self.a.start()
        self.b.start()
        self.mixer_a.start()
        self.mixer_b.start()

    def run(self, seconds: float) -> None:
        """Lets mixer B tick ``seconds`` more of audio."""
        target = self.mixer_b.statistics["clock_ticks"] + round(seconds * 50)
        wait_for(lambda: self.mixer_b.statistics["clock_ticks"] >= target, f"{seconds} s of ticks")

    def heard(self):
        """Stops the mixers and returns what B played."""
        self.mixer_a.stop()
        self.mixer_b.stop()
        self.mixer_b.set_sound_devices(None, None, 0)  # completes the WAV file
        rate, channels, data = read_wave_file(self.output)
        assert (rate, channels) == (self.rate_b, 1)
        return samples(data)

    def close(self) -> None:
        self.mixer_a.stop()
        self.mixer_b.stop()
        for stream, mixer, slot in ((self.a, self.mixer_a, self.slot_a), (self.b, self.mixer_b, self.slot_b)):
            stream.stop()
            mixer.remove_port(slot)
        self.ta.close()
        self.tb.close()
        dispatch_pending(self.queue)


@pytest.fixture
def make_call(io_thread, tmp_path):
    calls = []

    def make(*args, **kwargs):
        call = NetworkCall(io_thread, tmp_path, *args, **kwargs)
        calls.append(call)
        return call

    yield make
    for call in calls:
        call.close()


def frame_levels(heard, rate: int) -> list[float]:
    size = rate // 50
    return [rms(heard[i : i + size]) for i in range(0, len(heard) - size + 1, size)]


@pytest.mark.parametrize("codec", ["PCMU", "G722", "opus"])
def test_a_tone_played_into_one_mixer_comes_out_of_the_other_over_udp(make_call, codec):
    call = make_call(codec)
    call.start()
    call.run(1.5)
    heard = call.heard()
    tail = heard[-call.rate_b // 2 :]
    assert goertzel(tail, call.rate_b, 1000) > 4000  # sent at 8000
    assert goertzel(tail, call.rate_b, 1500) < 400
    a, b = call.a.statistics, call.b.statistics
    assert b["rx"]["packets"] > 50 and b["rx"]["lost"] == 0
    assert b["received_address"] == (LOCALHOST, call.ta.local_rtp_port)
    assert a["tx"]["ssrc"] == b["rx"]["ssrc"]


def test_the_tone_goes_through_srtp_and_a_wrong_key_lets_nothing_through(make_call):
    call = make_call("PCMU")
    key_a, key_b = os.urandom(30), os.urandom(30)
    sa, sb = SRTPSession(), SRTPSession()
    sa.set_outbound_key(SUITE, key_a)
    sa.set_inbound_key(SUITE, key_b)
    sb.set_outbound_key(SUITE, key_b)
    sb.set_inbound_key(SUITE, key_a)
    call.ta.set_srtp(sa)
    call.tb.set_srtp(sb)
    assert call.ta.srtp_active and call.tb.srtp_active
    call.start()
    call.run(1.0)
    assert call.b.statistics["rx"]["packets"] > 25
    assert sb.stats.rtp_unprotected == call.b.statistics["rx"]["packets"]
    wrong = SRTPSession()  # swapped in while packets flow: b no longer has a's key
    wrong.set_outbound_key(SUITE, key_b)
    wrong.set_inbound_key(SUITE, os.urandom(30))
    call.tb.set_srtp(wrong)
    assert call.tb.srtp_session is wrong
    received = call.b.statistics["rx"]["packets"]
    call.run(2.0)
    assert call.tb.statistics["rx_transform_failed"] > 50
    assert wrong.stats.auth_failures == call.tb.statistics["rx_transform_failed"]
    assert call.b.statistics["rx"]["packets"] - received <= 1  # at most one already being received
    heard = call.heard()
    assert goertzel(heard[-call.rate_b // 2 :], call.rate_b, 1000) < 100  # nothing came through any more
    call.ta.set_srtp(None)
    assert not call.ta.srtp_active and call.ta.srtp_session is None


class LossyRelay:
    """Forwards UDP between two addresses, dropping every ``every``-th datagram from the first."""

    def __init__(self, a: tuple[str, int], b: tuple[str, int], every: int) -> None:
        self.a, self.b, self.every = a, b, every
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOCALHOST, 0))
        self.address = self.sock.getsockname()
        self.stop = threading.Event()
        self.forwarded = self.dropped = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        count = 0
        while not self.stop.is_set() and self.forwarded + self.dropped < 20000:
            if not select.select([self.sock], [], [], 0.05)[0]:
                continue
            data, source = self.sock.recvfrom(4096)
            if source == self.a:
                count += 1
                if count % self.every == 0:
                    self.dropped += 1
                    continue
                self.sock.sendto(data, self.b)
            else:
                self.sock.sendto(data, self.a)
            self.forwarded += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def test_a_lossy_relay_shows_in_the_loss_statistics_and_the_audio_is_concealed(make_call):
    """Every 5th packet from A is dropped on the way: B counts 20 % loss, conceals each, never goes silent."""
    call = make_call("PCMU")
    relay = LossyRelay((LOCALHOST, call.ta.local_rtp_port), (LOCALHOST, call.tb.local_rtp_port), every=5)
    try:
        call.ta.set_remote(LOCALHOST, relay.address[1], call.tb.local_rtcp_port)
        call.tb.set_remote(LOCALHOST, relay.address[1], call.ta.local_rtcp_port)
        call.start()
        call.run(3.0)
        heard = call.heard()
    finally:
        relay.close()
    rx = call.b.statistics["rx"]
    assert relay.dropped > 20
    assert rx["loss_rate"] == pytest.approx(0.2, abs=0.05)
    assert rx["concealed"] >= rx["lost"] - 2
    levels = frame_levels(heard[-2 * call.rate_b :], call.rate_b)
    assert min(levels) > 1000  # concealment keeps the tone going (its RMS is 5657)


def test_round_trip_time_comes_from_rtcp_receiver_reports(make_call):
    call = make_call("PCMU", rtcp_interval=0.2)
    call.start()
    wait_for(lambda: call.a.statistics["rtt"] is not None and call.b.statistics["rtt"] is not None, "an RTT")
    for stream in (call.a, call.b):
        st = stream.statistics
        assert 0 <= st["rtt"]["last"] < 100  # ms, loopback
        assert st["remote"]["cumulative_lost"] == 0
        assert st["rtcp"]["received"] >= 1 and st["rtcp"]["malformed"] == 0
    assert call.ta.statistics["tx_rtcp"] >= 1


def test_closing_transports_and_dropping_streams_while_audio_flows_does_not_crash(make_call, io_thread):
    call = make_call("opus", ptime=20)
    call.start()
    call.run(0.5)
    call.ta.close()  # the mixer's thread keeps calling stream A, which now has nowhere to send
    call.run(0.3)
    assert call.a.statistics["tx"]["errors"] > 0
    call.b.stop()
    call.tb.close()
    call.run(0.3)
    call.mixer_b.remove_port(call.slot_b)  # while the clock thread ticks
    call.slot_b = call.mixer_b.add_port(call.b.port_capsule(), call.b)  # for close()
    stream = AudioStreamPort(RTPTransport(LOCALHOST, io_thread=io_thread), "PCMU")
    stream.start()
    slot = call.mixer_a.add_port(stream.port_capsule(), stream)
    call.run(0.2)
    call.mixer_a.remove_port(slot)
    stream.transport.close()
    del stream
    gc.collect()
    ticks = call.mixer_a.statistics["clock_ticks"]
    call.run(0.2)
    assert call.mixer_a.is_running and call.mixer_a.statistics["clock_ticks"] > ticks  # still ticking


def test_audio_keeps_flowing_while_python_holds_the_gil(make_call):
    """A second of busy Python on this thread leaves no gap in what B plays."""
    call = make_call("PCMU")
    call.start()
    call.run(0.5)
    start = call.mixer_b.statistics["clock_ticks"]
    end = time.monotonic() + 1.0
    spins = 0
    while time.monotonic() < end:  # never releases the GIL for long
        spins += 1
    ticks = call.mixer_b.statistics["clock_ticks"] - start
    call.run(0.2)
    heard = call.heard()
    busy = heard[-(ticks + 10) * 320 : -10 * 320]
    assert ticks >= 45 and spins > 0
    assert min(frame_levels(busy, call.rate_b)) > 4000
    assert call.b.statistics["rx"]["lost"] == 0
