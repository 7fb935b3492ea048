"""The codec batch of a mixer tick (csrc/tick_batch.h) changes nothing but the cost.

G.722 streams hand their decodes and encodes to the mixer, which runs them several streams per
pass between the phases of its tick. Every scenario here runs on two rigs built alike: one mixer
with its shortcuts on (the batch used) and one with them off (every stream codes alone, at once).
The streams' recordings and counters must come out identical, while the batch demonstrably ran.
Streams on memory transports, ticked by the test with a ManualClock: no threads, no sleeping.
"""

from __future__ import annotations

import pytest

from sipsimple.core.media._mixer import AudioMixer, MemoryPort
from sipsimple.core.media._stream import AudioStreamPort, ManualClock, RTPTransport
from sipsimple.core.media.events import dispatch_pending
from tests.core.media.mixer_signals import goertzel, noise, pcm, rms, samples, sine

RATE = 48000
FRAME = 0.02
# the statistics that show what each stream did (ssrc and timing-dependent RTCP figures excluded)
TX_KEYS = ("packets", "bytes", "dtmf_packets", "errors", "frames")
RX_KEYS = ("packets", "lost", "concealed", "decoded")


class Rig:
    """Calls (two streams on a memory transport pair) in one test-ticked mixer; every stream hears
    its own signal from a MemoryPort and what it plays is recorded by another."""

    def __init__(self, io_thread, batched: bool) -> None:
        self.clock = ManualClock()
        self.queue = io_thread.event_queue
        self.io_thread = io_thread
        self.mixer = AudioMixer(None, None, RATE, 0, 64, event_queue=self.queue)
        self.mixer._shortcuts = batched
        self.streams: list[AudioStreamPort] = []
        self.slots: list[int] = []
        self.recorders: list[MemoryPort] = []
        self.talkers: list[MemoryPort] = []  # (a port left unreferenced leaves the mixer)
        self.transports: list[RTPTransport] = []

    def call(
        self, codec: str, clock_rate: int = 0, signal=None, **options
    ) -> tuple[AudioStreamPort, AudioStreamPort]:
        """A call; its streams hear `signal` (48 kHz samples), or noise of their own."""
        pair = RTPTransport.memory_pair(io_thread=self.io_thread, clock=self.clock)
        self.transports.extend(pair)
        made = []
        for transport in pair:
            seed = len(self.streams) + 1
            stream = AudioStreamPort(transport, codec, clock_rate, **options)
            slot = self.mixer.add_port(stream.port_capsule(), stream)
            heard = noise(RATE, amplitude=3000.0 + 500 * seed, seed=seed) if signal is None else signal
            talker = MemoryPort(self.mixer, pcm(heard), loop=True)
            recorder = MemoryPort(self.mixer, None, record_seconds=3.0)
            for port in (talker, recorder):
                port.start()
            self.mixer.connect_slots(talker.slot, slot)
            self.mixer.connect_slots(slot, recorder.slot)
            self.streams.append(stream)
            self.slots.append(slot)
            self.recorders.append(recorder)
            self.talkers.append(talker)
            made.append(stream)
        for stream in made:
            stream.start()
        return made[0], made[1]

    def run(self, seconds: float) -> None:
        for _ in range(round(seconds / FRAME)):
            self.clock.advance(FRAME)
            self.mixer.tick()
            for transport in self.transports:
                transport._service()

    def recordings(self) -> list[bytes]:
        return [recorder.take() for recorder in self.recorders]

    def counters(self) -> list[tuple]:
        result = []
        for stream in self.streams:
            stats = stream.statistics
            result.append(
                (
                    tuple(stats["tx"][key] for key in TX_KEYS),
                    tuple(stats["rx"][key] for key in RX_KEYS if key in stats["rx"]),
                )
            )
        return result

    def close(self) -> None:
        for stream, slot in zip(self.streams, self.slots, strict=True):
            stream.stop()
            self.mixer.remove_port(slot)
        for transport in self.transports:
            transport.close()
        dispatch_pending(self.queue)


@pytest.fixture
def rigs(io_thread):
    made = [Rig(io_thread, batched=True), Rig(io_thread, batched=False)]
    yield made
    for rig in made:
        rig.close()


def both(rigs, action) -> None:
    for rig in rigs:
        action(rig)


def test_g722_calls_in_one_mixer_play_and_count_exactly_what_they_do_coded_one_by_one(rigs):
    """Five G.722 calls (ten streams: two passes of four and one of two per tick), a PCMU call
    beside them: every stream records the same samples and counts the same packets either way."""
    for rig in rigs:
        for _ in range(5):
            rig.call("G722", 8000)
        rig.call("PCMU", 8000)
    both(rigs, lambda rig: rig.run(1.0))
    batched, alone = rigs
    fast, slow = batched.recordings(), alone.recordings()
    assert all(len(recording) == 2 * RATE for recording in fast)  # one second recorded at 48 kHz
    assert all(rms(samples(recording)[RATE // 2 :]) > 500 for recording in fast)  # sound, not silence
    assert fast == slow
    assert batched.counters() == alone.counters()
    for stream in batched.streams:
        stats = stream.statistics
        assert stats["tx"]["packets"] == 50 and stats["rx"]["concealed"] == 0
    # the G.722 streams' decodes and encodes went through the batch; nothing did on the other rig
    g722_streams = 10
    assert batched.mixer.statistics["batched_frames"] >= g722_streams * 2 * 48
    assert alone.mixer.statistics["batched_frames"] == 0


def test_streams_leaving_the_usual_path_mid_call_stay_identical(rigs):
    """DTMF from one stream, another put on hold and taken off it, a third with 40 ms packets (its
    frames gathered over two ticks, never batched) and a stream stopped mid-call (all between two
    ticks: the test's thread is the mixer's): the batched rig still gives every remaining stream the
    samples and counts of the unbatched one."""
    for rig in rigs:
        rig.call("G722", 8000)
        rig.call("G722", 8000)
        rig.call("G722", 8000, ptime=40)
        rig.call("G722", 8000)
    both(rigs, lambda rig: rig.run(0.3))
    both(rigs, lambda rig: rig.streams[0].send_dtmf("5", duration=100))
    both(rigs, lambda rig: setattr(rig.streams[2], "direction", "inactive"))
    both(rigs, lambda rig: rig.run(0.3))
    both(rigs, lambda rig: setattr(rig.streams[2], "direction", "sendrecv"))
    both(rigs, lambda rig: rig.streams[7].stop())
    both(rigs, lambda rig: rig.run(0.4))
    batched, alone = rigs
    assert batched.recordings() == alone.recordings()
    assert batched.counters() == alone.counters()
    stats = [stream.statistics for stream in batched.streams]
    assert stats[0]["tx"]["dtmf_packets"] > 0
    assert stats[4]["tx"]["packets"] == 25  # 40 ms packets: one a tick pair
    assert stats[2]["tx"]["packets"] < 50  # silent while on hold
    assert stats[7]["tx"]["packets"] < 50  # nothing after its stop
    assert batched.mixer.statistics["batched_frames"] > 0


def test_the_batched_audio_is_the_signal_sent(io_thread):
    """Not merely the same on both rigs: a 1 kHz tone sent through four batched G.722 streams
    arrives as that tone."""
    rig = Rig(io_thread, batched=True)
    try:
        for _ in range(2):
            rig.call("G722", 8000, signal=sine(RATE, 1.0, 1000.0, 8000))
        rig.run(1.0)
        for recording in rig.recordings():
            heard = samples(recording)[-RATE // 2 :]
            assert goertzel(heard, RATE, 1000) > 2000
            assert goertzel(heard, RATE, 1000) > 20 * goertzel(heard, RATE, 1500)
        assert rig.mixer.statistics["batched_frames"] >= 4 * 2 * 48
    finally:
        rig.close()
