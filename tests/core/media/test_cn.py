"""Comfort noise (RFC 3389) in the audio stream port: silence detection and SIDs on the sending
side, noise generation on the receiving side.

The sending tests put one stream on a loopback RTPTransport whose peer is a plain UDP socket, and
tick its mixer by hand with a ManualClock: every packet the stream sends is read back and parsed,
so the payload types, marker bits, timestamps and SID levels are checked packet by packet. The
receiving tests use a pair of memory transports (as tests/core/media/test_stream.py does) and
measure what the receiver plays.

Levels: 0 dBov is the RMS of a full-scale square wave (32767), so noise of RMS r has the SID level
round(-20 log10(r / 32767)).
"""

from __future__ import annotations

import itertools
import math
import socket
from array import array

import pytest

from sipsimple.core.media._mixer import AudioMixer, MemoryPort
from sipsimple.core.media._rtp import RTPPacket, RTPSender
from sipsimple.core.media._stream import AudioStreamPort, IOThread, ManualClock, RTPTransport
from sipsimple.core.media.events import dispatch_pending
from tests.core.media.mixer_signals import goertzel, noise, pcm, rms, samples, sine

RATE = 8000
FRAME = 0.02
CN = 13


def dbov(value: float) -> float:
    return 20 * math.log10(value / 32767)


def level_of(noise_rms: float) -> int:
    return round(-dbov(noise_rms))


class Capture:
    """A stream on a loopback transport that sends to a UDP socket the test reads."""

    def __init__(self, io_thread: IOThread, signal: array, codec: str = "PCMU", **kwargs) -> None:
        self.clock = ManualClock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2.0)
        port = self.sock.getsockname()[1]
        self.mixer = AudioMixer(None, None, RATE, 0, frame_time=20, event_queue=io_thread.event_queue)
        self.transport = RTPTransport("127.0.0.1", io_thread=io_thread, clock=self.clock)
        self.transport.set_remote("127.0.0.1", port, port)
        self.stream = AudioStreamPort(self.transport, codec, 8000, **kwargs)
        self.slot = self.mixer.add_port(self.stream.port_capsule(), self.stream)
        self.source = MemoryPort(self.mixer, pcm(signal))
        self.source.start()
        self.mixer.connect_slots(self.source.slot, self.slot)
        self.stream.start()
        self.packets: list[RTPPacket] = []

    def run(self, seconds: float) -> list[RTPPacket]:
        """Ticks ``seconds`` of audio and returns the RTP packets sent meanwhile, in order."""
        for _ in range(round(seconds / FRAME)):
            self.clock.advance(FRAME)
            self.mixer.tick()
        sent = self.stream.statistics["tx"]["packets"]
        while len(self.packets) < sent:  # bounded: each recv waits at most 2 s
            data = self.sock.recv(2048)
            if data[1] & 0x7F in range(72, 77):  # RTCP (none is expected: nothing services it)
                continue
            self.packets.append(RTPPacket.parse(data))
        return self.packets

    def close(self) -> None:
        self.stream.stop(bye=False)
        self.mixer.remove_port(self.slot)
        self.source.stop()
        self.transport.close()
        self.sock.close()
        dispatch_pending(self.mixer.event_queue)


@pytest.fixture
def capture(io_thread):
    made: list[Capture] = []

    def make(signal: array, **kwargs) -> Capture:
        c = Capture(io_thread, signal, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def quiet(seconds: float, noise_rms: float, seed: int = 1, rate: int = RATE) -> array:
    return noise(round(rate * seconds), noise_rms, seed)


def tone(seconds: float, rate: int = RATE) -> array:
    return sine(rate, seconds, 1000.0, 8000.0)


# ---- sending ----------------------------------------------------------------------------------


def test_a_silent_input_sends_a_few_sids_instead_of_voice_packets(capture):
    """Two seconds of quiet background: no voice packet at all, one SID at the start and then one
    every 200 ms (11 in all), all carrying the background's level."""
    c = capture(quiet(2.0, 100.0), cn_payload_type=CN, silence_detection=True)
    packets = c.run(2.0)
    assert [p.payload_type for p in packets] == [CN] * len(packets)
    assert 9 <= len(packets) <= 12
    assert {len(p.payload) for p in packets} == {1}
    levels = [p.payload[0] for p in packets]
    assert all(abs(level - level_of(100.0)) <= 1 for level in levels), levels
    tx = c.stream.statistics["tx"]
    assert tx["cn_packets"] == len(packets)
    assert tx["silent_packets"] + tx["cn_packets"] == 100  # every 20 ms packet of the 2 s


def test_sid_timestamps_follow_the_audio_clock_and_sequence_numbers_stay_contiguous(capture):
    c = capture(quiet(2.0, 100.0), cn_payload_type=CN, silence_detection=True)
    packets = c.run(2.0)
    for before, after in itertools.pairwise(packets):
        assert (after.sequence - before.sequence) % 65536 == 1
        assert (after.timestamp - before.timestamp) % 2**32 == 1600  # 200 ms at 8000 Hz
        assert not after.marker


def test_voice_after_silence_starts_a_talk_spurt_with_the_marker_bit(capture):
    """Tone, pause, tone: the first voice packet after the pause has the marker bit (RFC 3551
    4.1) and a timestamp that counts the pause; the packets inside each talk spurt have none."""
    signal = tone(1.0) + quiet(1.0, 50.0) + tone(1.0)
    c = capture(signal, cn_payload_type=CN, silence_detection=True)
    packets = c.run(3.0)
    kinds = "".join("c" if p.payload_type == CN else "v" for p in packets)
    assert kinds.startswith("v" * 50)  # the first second is all voice (and the 200 ms hangover)
    first_sid = kinds.index("c")
    resumed = kinds.index("v", first_sid)
    assert 55 <= first_sid <= 62  # the tone's last packet + about 200 ms of hangover
    assert kinds[resumed:] == "v" * (len(kinds) - resumed)
    assert packets[resumed].marker
    assert not any(p.marker for p in packets[1:resumed] if p.payload_type == 0)
    assert not any(p.marker for p in packets[resumed + 1 :])
    # the timestamp advanced by the whole pause: 160 units per 20 ms from the first packet on
    start = packets[0].timestamp
    voice_index = round((packets[resumed].timestamp - start) % 2**32 / 160)
    assert 99 <= voice_index <= 101  # the second tone starts at packet 100


def test_a_change_of_background_level_sends_a_sid_at_once(capture):
    """From RMS 50 to RMS 80 (4 dB louder: still background, not speech): a SID with the new level
    goes out in the first packet of the louder background, before the 200 ms refresh is due."""
    c = capture(quiet(0.5, 50.0) + quiet(0.5, 80.0, seed=2), cn_payload_type=CN, silence_detection=True)
    packets = c.run(1.0)
    sids = [(round((p.timestamp - packets[0].timestamp) % 2**32 / 160), p.payload[0]) for p in packets]
    assert sids[0] == (0, pytest.approx(level_of(50.0), abs=1))
    louder = [(index, level) for index, level in sids if index >= 25]
    assert louder[0][0] == 25  # the packet where the level moved
    assert abs(louder[0][1] - level_of(80.0)) <= 1
    assert {p.payload_type for p in packets} == {CN}


def test_without_silence_detection_a_silent_input_is_sent_as_voice(capture):
    c = capture(quiet(1.0, 100.0), cn_payload_type=CN)
    packets = c.run(1.0)
    assert len(packets) == 50 and {p.payload_type for p in packets} == {0}


def test_silence_detection_needs_a_comfort_noise_payload_type_and_a_narrowband_rtp_clock(io_thread):
    a, _b = RTPTransport.memory_pair(io_thread=io_thread, clock=ManualClock())
    with pytest.raises(ValueError, match="cn_payload_type"):
        AudioStreamPort(a, "PCMU", silence_detection=True)
    with pytest.raises(ValueError, match="Opus has dtx"):
        AudioStreamPort(a, "opus", cn_payload_type=CN, silence_detection=True)


# ---- receiving --------------------------------------------------------------------------------


class Pair:
    """a -> b over memory transports, one mixer at ``rate`` ticked by the test; b's output is recorded."""

    def __init__(
        self, io_thread: IOThread, signal: array, codec: str = "PCMU", a=None, b=None, rate: int = RATE
    ) -> None:
        self.clock = ManualClock()
        self.queue = io_thread.event_queue
        self.mixer = AudioMixer(None, None, rate, 0, frame_time=20, event_queue=self.queue)
        self.ta, self.tb = RTPTransport.memory_pair(io_thread=io_thread, clock=self.clock)
        self.a = AudioStreamPort(self.ta, codec, 8000, rtcp_interval=0.5, **(a or {}))
        self.b = AudioStreamPort(self.tb, codec, 8000, rtcp_interval=0.5, **(b or {}))
        self.slot_a = self.mixer.add_port(self.a.port_capsule(), self.a)
        self.slot_b = self.mixer.add_port(self.b.port_capsule(), self.b)
        self.source = MemoryPort(self.mixer, pcm(signal))
        self.record = MemoryPort(self.mixer, None, record_seconds=10)
        self.source.start()
        self.record.start()
        self.mixer.connect_slots(self.source.slot, self.slot_a)
        self.mixer.connect_slots(self.slot_b, self.record.slot)
        self.heard = samples(b"")
        self.a.start()
        self.b.start()

    def run(self, seconds: float) -> array:
        for _ in range(round(seconds / FRAME)):
            self.clock.advance(FRAME)
            self.mixer.tick()
            self.a._service()
            self.b._service()
            self.ta._service()
            self.tb._service()
        self.heard.extend(samples(self.record.take()))
        return self.heard

    def close(self) -> None:
        for stream, slot in ((self.a, self.slot_a), (self.b, self.slot_b)):
            stream.stop()
            self.mixer.remove_port(slot)
        self.source.stop()
        self.record.stop()
        self.ta.close()
        self.tb.close()
        dispatch_pending(self.queue)


@pytest.fixture
def pair(io_thread):
    made: list[Pair] = []

    def make(signal: array, **kwargs) -> Pair:
        p = Pair(io_thread, signal, **kwargs)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


@pytest.mark.parametrize(
    ("codec", "rate", "noise_rms"), [("PCMU", 8000, 300.0), ("PCMA", 8000, 100.0), ("G722", 16000, 300.0)]
)
def test_the_receiver_plays_comfort_noise_at_the_level_of_the_sids(pair, codec, rate, noise_rms):
    """A talks for a second, then is quiet for three: B's output during the pause is noise at
    the SID's level (within 3 dB), not silence, and the tone comes back when A talks again. (The
    mixer runs at the codec's PCM rate: the noise is white over the port's band, so a mixer at
    a lower rate would hear only part of it.)"""
    signal = tone(1.0, rate) + quiet(3.0, noise_rms, rate=rate) + tone(1.0, rate)
    cn = {"cn_payload_type": CN}
    p = pair(signal, codec=codec, a={**cn, "silence_detection": True}, b=cn, rate=rate)
    heard = p.run(5.0)
    pause = heard[round(2.0 * rate) : round(3.8 * rate)]
    assert abs(dbov(rms(pause)) - dbov(noise_rms)) <= 3.0
    assert goertzel(pause, rate, 1000) < 100  # noise, not a stretched tone
    assert goertzel(heard[-round(0.5 * rate) :], rate, 1000) > 4000
    rx = p.b.statistics["rx"]
    assert rx["cn_packets"] == p.a.statistics["tx"]["cn_packets"] > 0
    assert rx["comfort_noise"] > 50 and rx["silent"] < 10


def test_silence_suppression_keeps_the_reception_statistics_and_rtcp_right(pair):
    """SIDs keep the sequence numbers contiguous and the timestamps on the audio clock: the
    receiver counts no loss, no concealment and no late packets, its jitter stays at zero on a
    network without jitter, and its RTCP reports tell A the same."""
    signal = tone(1.0) + quiet(2.0, 200.0) + tone(1.0) + quiet(1.0, 200.0)
    p = pair(signal, a={"cn_payload_type": CN, "silence_detection": True}, b={"cn_payload_type": CN})
    p.run(5.0)
    tx, rx = p.a.statistics["tx"], p.b.statistics["rx"]
    assert tx["cn_packets"] > 0 and tx["silent_packets"] > 100
    assert rx["packets"] == tx["packets"] == rx["expected"]
    assert rx["lost"] == 0 and rx["concealed"] == 0 and rx["jitter"] == 0
    jb = p.b.statistics["jitter_buffer"]
    assert jb["late"] == 0 and jb["missing"] == 0 and jb["received"] == tx["packets"]
    assert p.a.statistics["remote"] == {"fraction_lost": 0.0, "cumulative_lost": 0, "jitter": 0.0}


def test_a_lost_sid_is_filled_with_comfort_noise_not_with_the_codec_s_concealment(pair):
    """Every 3rd packet lost: the SIDs that go missing leave the noise going (no silent holes)."""
    signal = tone(0.5) + quiet(3.0, 300.0)
    p = pair(signal, a={"cn_payload_type": CN, "silence_detection": True}, b={"cn_payload_type": CN})
    p.ta._set_loss(3)
    heard = p.run(3.5)
    pause = heard[round(1.5 * RATE) : round(3.4 * RATE)]
    frames = [pause[i : i + 160] for i in range(0, len(pause) - 159, 160)]
    assert min(rms(f) for f in frames) > 100  # every 20 ms has noise in it
    assert abs(dbov(rms(pause)) - dbov(300.0)) <= 3.0


def lag1_correlation(values) -> float:
    mean = sum(values) / len(values)
    centred = [v - mean for v in values]
    return sum(x * y for x, y in itertools.pairwise(centred)) / sum(x * x for x in centred)


@pytest.mark.parametrize(
    ("coefficients", "low", "high"),
    [(b"", -0.15, 0.15), (bytes([31]), 0.6, 0.9), (bytes([31, 200, 60, 150, 127, 90]), -1.0, 1.0)],
)
def test_spectral_coefficients_shape_the_noise_and_keep_its_level(io_thread, coefficients, low, high):
    """SIDs from another sender, at level 40, with no reflection coefficient (white noise: no
    correlation between neighbouring samples) or with k1 = (31 - 127) / 128 = -0.75 (an all-pole
    low-pass whose output correlates about 0.75 with itself one sample later), or with six (a
    sixth-order model, whose gain the generator must undo too); the level is 40 every time."""
    clock = ManualClock()
    mixer = AudioMixer(None, None, RATE, 0, frame_time=20, event_queue=io_thread.event_queue)
    ta, tb = RTPTransport.memory_pair(io_thread=io_thread, clock=clock)
    b = AudioStreamPort(tb, "PCMU", 8000, cn_payload_type=CN)
    slot = mixer.add_port(b.port_capsule(), b)
    record = MemoryPort(mixer, None, record_seconds=5)
    record.start()
    mixer.connect_slots(slot, record.slot)
    b.start()
    sender = RTPSender(payload_type=CN, clock_rate=8000)
    try:
        for tick in range(100):
            if tick % 10 == 0:
                ta.send_datagram(sender.packet(bytes([40]) + coefficients, samples=1600, now_ns=1))
            clock.advance(FRAME)
            mixer.tick()
        heard = samples(record.take())[round(0.5 * RATE) :]
        assert abs(dbov(rms(heard)) + 40) <= 3.0
        assert low <= lag1_correlation(heard) <= high
        assert b.statistics["rx"]["cn_packets"] == 10
    finally:
        b.stop()
        mixer.remove_port(slot)
        record.stop()
        ta.close()
        tb.close()
        dispatch_pending(io_thread.event_queue)
