"""RFC 3550 Appendix A maths in C (ReceptionStats, csrc/rtcp.c) against a Python model.

What they prove:
  * a new source is on probation until 2 packets arrive in sequence (A.1), a jump of 3000 or more
    is dropped and two sequential packets after it restart the source;
  * the extended highest sequence number, expected and cumulative lost (A.3) follow the model over
    the 65535 -> 0 wrap, with losses, duplicates and reordering, on constructed and on random
    sequences; fraction lost is per reporting interval;
  * interarrival jitter (A.8) matches the model's integer form exactly and its floating form
    within rounding, on seeded random arrival times; telephone-event packets can be kept out;
  * LSR/DLSR of the report blocks, and a round trip SR -> RR -> RTT through two clocks;
  * the RTCP interval (A.7): deterministic part, randomisation bounds, the sender/receiver
    bandwidth split, the initial halving, the minimum, and timer reconsideration.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import pytest

from sipsimple.core.media import _rtp
from sipsimple.core.media._rtp import (
    RX_BAD,
    RX_PROBATION,
    RX_RESTARTED,
    RX_VALID,
    ReceptionStats,
    RTCPSchedule,
)

MS = 1_000_000
RTP_SEQ_MOD = 1 << 16
MAX_DROPOUT, MAX_MISORDER, MIN_SEQUENTIAL = 3000, 100, 2


@dataclass
class Model:
    """RFC 3550 A.1/A.3/A.8 written out in Python (the test's own transcription)."""

    clock_rate: int = 8000
    max_seq: int = 0
    cycles: int = 0
    base_seq: int = 0
    bad_seq: int = RTP_SEQ_MOD + 1
    probation: int = 0
    received: int = 0
    expected_prior: int = 0
    received_prior: int = 0
    transit: int | None = None
    jitter_int: int = 0  # jitter * 16, the integer form
    jitter_float: float = 0.0
    started: bool = False

    def init_seq(self, seq: int) -> None:
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = RTP_SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0
        self.transit = None
        self.jitter_int = 0
        self.jitter_float = 0.0

    def update_seq(self, seq: int) -> tuple[bool, bool]:
        """(valid, restarted)"""
        udelta = (seq - self.max_seq) % RTP_SEQ_MOD
        if self.probation:
            if seq == (self.max_seq + 1) % RTP_SEQ_MOD:
                self.probation -= 1
                self.max_seq = seq
                if self.probation == 0:
                    self.init_seq(seq)
                    self.received += 1
                    return True, False
            else:
                self.probation = MIN_SEQUENTIAL - 1
                self.max_seq = seq
            return False, False
        restarted = False
        if udelta < MAX_DROPOUT:
            if seq < self.max_seq:
                self.cycles += RTP_SEQ_MOD
            self.max_seq = seq
        elif udelta <= RTP_SEQ_MOD - MAX_MISORDER:
            if seq == self.bad_seq:
                self.init_seq(seq)
                restarted = True
            else:
                self.bad_seq = (seq + 1) & (RTP_SEQ_MOD - 1)
                return False, False
        self.received += 1
        return True, restarted

    def update(self, seq: int, ts: int, arrival_ns: int, jitter: bool = True) -> int:
        if not self.started:
            self.init_seq(seq)
            self.max_seq = (seq - 1) % RTP_SEQ_MOD
            self.probation = MIN_SEQUENTIAL
            self.started = True
        valid, restarted = self.update_seq(seq)
        if not valid:
            return RX_PROBATION if self.probation else RX_BAD
        if jitter:
            arrival = arrival_ns * self.clock_rate // 1_000_000_000
            transit = (arrival - ts) % 2**32
            if self.transit is not None:
                d = (transit - self.transit) % 2**32
                d = d - 2**32 if d >= 2**31 else d
                self.jitter_int += abs(d) - ((self.jitter_int + 8) >> 4)
                self.jitter_float += (abs(d) - self.jitter_float) / 16
            self.transit = transit
        return RX_RESTARTED if restarted else RX_VALID

    @property
    def extended_max(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return self.extended_max - self.base_seq + 1

    def report(self) -> tuple[int, int]:
        """(fraction_lost, cumulative_lost) as A.3 computes them."""
        expected = self.expected
        lost = max(-0x800000, min(0x7FFFFF, expected - self.received))
        expected_interval = expected - self.expected_prior
        self.expected_prior = expected
        received_interval = self.received - self.received_prior
        self.received_prior = self.received
        lost_interval = expected_interval - received_interval
        fraction = (
            0 if expected_interval == 0 or lost_interval <= 0 else (lost_interval << 8) // expected_interval
        )
        return fraction, lost


def feed(seqs, start_ts=1000, step=160, jitter_ms=0.0, seed=0):
    """Run a sequence of (seq) through both the C stats and the model; return both and the codes."""
    rng = random.Random(seed)
    stats, model = ReceptionStats(0x1234, 8000), Model()
    codes = []
    for k, seq in enumerate(seqs):
        ts = (start_ts + (seq - seqs[0]) * step) % 2**32
        arrival = 10**9 + k * 20 * MS + int(rng.uniform(0, jitter_ms) * MS)
        c = stats.update(seq % RTP_SEQ_MOD, ts, arrival, 160)
        m = model.update(seq % RTP_SEQ_MOD, ts, arrival)
        assert c == m, f"packet {k} (seq {seq}): C says {c}, the model {m}"
        codes.append(c)
    return stats, model, codes


def same(stats: ReceptionStats, model: Model) -> None:
    assert stats.extended_highest_sequence == model.extended_max
    assert stats.received == model.received
    assert stats.expected == model.expected
    assert stats.lost == model.expected - model.received
    assert stats.jitter == model.jitter_int >> 4


def test_a_new_source_is_validated_after_two_packets_in_sequence():
    stats, model, codes = feed([500, 501, 502, 503])
    assert codes == [RX_PROBATION, RX_VALID, RX_VALID, RX_VALID]
    assert stats.received == 3  # the probation packet is not counted
    assert stats.base_sequence == 501
    assert not stats.probation
    same(stats, model)


def test_probation_restarts_on_a_packet_out_of_sequence():
    stats, model, codes = feed([10, 12, 13, 14])
    assert codes == [RX_PROBATION, RX_PROBATION, RX_VALID, RX_VALID]
    assert stats.probation_packets == 2
    same(stats, model)


def test_the_sequence_wrap_counts_a_cycle():
    seqs = list(range(65530, 65536)) + list(range(10))
    stats, model, _ = feed(seqs)
    assert stats.extended_highest_sequence == 65536 + 9
    assert stats.lost == 0
    same(stats, model)


def test_losses_are_counted_across_the_wrap():
    seqs = [65530, 65531, 65533, 65535, 2, 3, 4]  # 65532, 65534, 0, 1 lost
    stats, model, _ = feed(seqs)
    assert stats.lost == 4
    assert stats.expected == (65536 + 4) - 65531 + 1
    same(stats, model)


def test_duplicates_make_the_loss_negative_as_a3_says():
    stats, model, _ = feed([1, 2, 3, 3, 4, 4, 5])
    assert stats.lost == -2
    assert stats.report(0).cumulative_lost == -2
    same(stats, model)


def test_reordering_within_the_window_is_not_a_loss():
    stats, model, codes = feed([1, 2, 3, 5, 4, 6, 8, 7, 9])
    assert codes.count(RX_VALID) == 8
    assert stats.lost == 0
    same(stats, model)


def test_a_large_jump_is_dropped_then_two_in_sequence_restart_the_source():
    stats, model, codes = feed([100, 101, 102, 20000, 20001, 20002])
    assert codes == [RX_PROBATION, RX_VALID, RX_VALID, RX_BAD, RX_RESTARTED, RX_VALID]
    assert stats.bad_packets == 1
    assert stats.base_sequence == 20001
    assert stats.received == 2
    same(stats, model)


def test_random_sequences_with_loss_duplicates_and_reordering_follow_the_model():
    for seed in range(20):
        rng = random.Random(seed)
        seq = rng.randrange(65536)
        seqs = []
        for _ in range(3000):
            seq += 1
            if rng.random() < 0.05:
                continue  # lost
            seqs.append(seq)
            if rng.random() < 0.02:
                seqs.append(seq)  # duplicated
        for i in range(1, len(seqs) - 1):
            if rng.random() < 0.03:
                seqs[i], seqs[i + 1] = seqs[i + 1], seqs[i]  # reordered
        stats, model, _ = feed(seqs, jitter_ms=15, seed=seed)
        same(stats, model)
        block = stats.report(0)
        assert (block.fraction_lost, block.cumulative_lost) == model.report()


def test_fraction_lost_is_per_interval():
    stats, model = ReceptionStats(1, 8000), Model()
    seq = 0
    fractions = []
    for loss_every in (0, 4, 2, 0):  # no loss, 1/4, 1/2, none
        for _ in range(100):
            seq += 1
            if loss_every and seq % loss_every == 0:
                continue
            stats.update(seq, seq * 160, seq * 20 * MS)
            model.update(seq, seq * 160, seq * 20 * MS)
        block = stats.report(0)
        fractions.append(block.fraction_lost)
        assert (block.fraction_lost, block.cumulative_lost) == model.report()
    assert fractions[0] == 0
    assert abs(fractions[1] - 64) <= 2  # 25 % of 256
    assert abs(fractions[2] - 128) <= 2
    assert fractions[3] <= 3  # only the loss of the interval's boundary packet shows here


def test_jitter_follows_the_a8_estimator():
    rng = random.Random(7)
    stats, model = ReceptionStats(1, 8000), Model()
    estimates = []
    for seq in range(5000):
        ts = (0xFFFF0000 + seq * 160) % 2**32  # the RTP timestamp wraps too
        arrival = seq * 20 * MS + int(rng.gauss(0, 8) * MS) + 50 * MS
        assert stats.update(seq, ts, arrival) == model.update(seq, ts, arrival)
        assert stats.jitter == model.jitter_int >> 4
        assert abs(stats.jitter - model.jitter_float) <= 1.5  # truncation + integer rounding
        estimates.append(stats.jitter)
    # Gaussian transit noise of 8 ms: E|D| = 2 * 8 / sqrt(pi) ms = 9.03 ms = 72 units at 8 kHz
    average = sum(estimates[500:]) / len(estimates[500:])
    assert 65 <= average <= 80


def test_constant_delay_has_no_jitter_and_a_step_decays_by_a_sixteenth():
    stats = ReceptionStats(1, 8000)
    for seq in range(50):
        stats.update(seq, seq * 160, seq * 20 * MS)
    assert stats.jitter == 0
    stats.update(50, 50 * 160, 50 * 20 * MS + 16 * MS)  # one packet 16 ms (128 units) late
    assert stats.jitter == 8  # 128 / 16


def test_telephone_events_can_be_kept_out_of_the_jitter():
    stats = ReceptionStats(1, 8000)
    for seq in range(20):
        stats.update(seq, 160 * seq, seq * 20 * MS)
    for seq in range(20, 30):  # one event: the same timestamp for 200 ms
        stats.update(seq, 160 * 20, seq * 20 * MS, jitter=False)
    assert stats.jitter == 0
    assert stats.received == 29


def test_lsr_and_dlsr_come_from_the_last_sender_report():
    stats = ReceptionStats(1, 8000)
    assert (stats.report(0).lsr, stats.report(0).dlsr) == (0, 0)
    stats.got_sender_report(0x83AA7E80_40000000, 1234, 2 * 10**9)
    block = stats.report(2 * 10**9 + 1_500_000_000)
    assert block.lsr == 0x7E80_4000
    assert block.dlsr == 98304  # 1.5 s in 1/65536 s


def test_a_round_trip_from_sr_to_rr_gives_the_network_delay():
    """Alice sends an SR, Bob answers 700 ms later with an RR; 40 ms each way: RTT 80 ms."""
    alice_ntp = _rtp.ntp_from_unix_ns(1_700_000_000 * 10**9)
    sr_ntp = alice_ntp
    bob = ReceptionStats(0xA11CE, 8000)
    bob_clock = 5 * 10**9  # Bob's monotonic clock has its own origin
    bob.got_sender_report(sr_ntp, 0, bob_clock + 40 * MS)
    block = bob.report(bob_clock + 40 * MS + 700 * MS)
    arrival_at_alice = _rtp.ntp_from_unix_ns(1_700_000_000 * 10**9 + (40 + 700 + 40) * MS)
    rtt = _rtp.round_trip_time_ns(_rtp.ntp_middle(arrival_at_alice), block.lsr, block.dlsr)
    assert rtt is not None
    assert abs(rtt - 80 * MS) < 50_000  # 1/65536 s resolution


# ---- RTCP interval (A.7) ----

E = math.e


def model_interval(members, senders, bw, we_sent, avg, initial, min_interval=5.0, u=0.5):
    t_min = min_interval / 2 if initial else min_interval
    n = members
    if senders <= members * 0.25:
        if we_sent:
            bw *= 0.25
            n = senders
        else:
            bw *= 0.75
            n -= senders
    t = max(avg * n / bw, t_min)
    return t * (u + 0.5) / (E - 1.5)


@pytest.mark.parametrize(
    ("members", "senders", "we_sent", "avg", "initial", "u"),
    [
        (2, 1, True, 100.0, False, 0.5),
        (2, 2, True, 100.0, False, 0.0),
        (2, 0, False, 100.0, True, 0.99),
        (100, 2, True, 120.0, False, 0.3),
        (100, 2, False, 120.0, False, 0.7),
        (1000, 500, True, 200.0, False, 0.5),
    ],
)
def test_the_interval_follows_a7(members, senders, we_sent, avg, initial, u):
    bw = 0.05 * 64000 / 8  # 5 % of a 64 kb/s session in octets/s
    got = _rtp.rtcp_interval(members, senders, bw, we_sent, avg, initial, 5.0, u)
    assert got == pytest.approx(model_interval(members, senders, bw, we_sent, avg, initial, 5.0, u))


def test_the_interval_is_randomised_between_half_and_one_and_a_half_times():
    low = _rtp.rtcp_interval(2, 1, 400.0, True, 100.0, False, 5.0, 0.0)
    high = _rtp.rtcp_interval(2, 1, 400.0, True, 100.0, False, 5.0, 0.999999)
    assert low == pytest.approx(5.0 * 0.5 / (E - 1.5))
    assert high == pytest.approx(5.0 * 1.5 / (E - 1.5), rel=1e-5)


def test_a_reduced_minimum_applies_when_asked():
    assert _rtp.rtcp_interval(2, 1, 400.0, True, 100.0, False, 1.0, 0.5) == pytest.approx(1.0 / (E - 1.5))
    assert _rtp.rtcp_interval(2, 1, 400.0, True, 100.0, True, 1.0, 0.5) == pytest.approx(0.5 / (E - 1.5))


def test_the_schedule_sends_at_the_first_deadline_then_every_interval():
    s = RTCPSchedule(now=0.0, rtcp_bandwidth=400.0, min_interval=5.0, first_packet_size=100.0)
    assert s.initial
    assert s.next_time == pytest.approx(2.5 / (E - 1.5))
    assert s.expired(s.next_time)
    s.sent(s.next_time, 100.0)
    assert not s.initial
    assert s.next_time - s.last_time == pytest.approx(5.0 / (E - 1.5))


def test_timer_reconsideration_pushes_the_deadline_when_the_group_grew():
    s = RTCPSchedule(now=0.0, rtcp_bandwidth=100.0, min_interval=1.0, first_packet_size=100.0)
    first = s.next_time
    s.members = 50  # 50 * 100 / 75 octets/s: about 67 s
    assert not s.expired(first)
    assert s.next_time > first + 30
    assert s.expired(s.next_time)


def test_the_average_size_moves_by_a_sixteenth():
    s = RTCPSchedule(now=0.0, rtcp_bandwidth=400.0, first_packet_size=100.0)
    s.received(260.0)
    assert s.avg_rtcp_size == pytest.approx(100 + 160 / 16)
    s.sent(1.0, 110.0)
    assert s.avg_rtcp_size == pytest.approx(110 / 16 + 110 * 15 / 16)
