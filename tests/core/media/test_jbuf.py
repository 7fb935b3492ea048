"""The adaptive jitter buffer (csrc/jbuf.c through JitterBuffer), case by case.

Every test drives the buffer with explicit times (nanoseconds), so it is deterministic. What they
prove: the buffer waits its delay before the first frame; plays in order through reordering;
drops and counts duplicates (buffered or already played), late packets, oversized payloads and
overflow; tells a loss (MISSING: conceal) from silence the sender chose (GAP: a DTX timestamp gap,
or after a comfort-noise packet); survives the sequence and timestamp wraps; starts over on an
SSRC change or a lasting timestamp jump but not on a stall followed by a burst; catches up when
the caller stopped pulling; grows its delay by inserting frames when jitter appears; and with no
jitter adds exactly the minimum delay the frame grid allows. jbuf_peek (C only, called through
ctypes) shows the packet after a loss without consuming it.
"""

from __future__ import annotations

import pytest

from sipsimple.core.media._rtp import (
    FRAME,
    GAP,
    MISSING,
    NOT_YET,
    PUT_DUPLICATE,
    PUT_LATE,
    PUT_OK,
    PUT_OUT_OF_SYNC,
    PUT_RESYNC,
    PUT_TOO_BIG,
    JitterBuffer,
    RTPError,
)

MS = 1_000_000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz


def payload(seq: int) -> bytes:
    return seq.to_bytes(4, "big") * 40


def run(jb, arrivals, gets, ts0=0, seq0=0, ssrc=1, samples=0, flags=None):
    """Put packet k (sequence seq0 + k, timestamp ts0 + 160 k) at arrivals[k] ms (None: lost) and
    get at each time in `gets` (ms); at equal times puts go first. Returns (puts, frames)."""
    events = [(t, 0, k) for k, t in enumerate(arrivals) if t is not None]
    events += [(t, 1, None) for t in gets]
    events.sort()
    puts, frames = {}, []
    for t, kind, k in events:
        if kind == 0:
            marker, cng = (flags or {}).get(k, (False, False))
            puts[k] = jb.put(
                payload(k),
                (seq0 + k) & 0xFFFF,
                (ts0 + FRAME_SAMPLES * k) & 0xFFFFFFFF,
                t * MS,
                ssrc=ssrc,
                samples=samples,
                marker=marker,
                cng=cng,
            )
        else:
            frames.append(jb.get(t * MS))
    return puts, frames


def played(frames):
    return [int.from_bytes(f.payload[:4], "big") for f in frames if f.kind == FRAME]


def kinds(frames):
    return [{NOT_YET: "-", FRAME: "F", MISSING: "M", GAP: "G"}[f.kind] for f in frames]


def test_nothing_plays_before_the_first_packet_has_waited_the_minimum_delay():
    jb = JitterBuffer(8000, FRAME_SAMPLES, min_delay_ms=10)
    assert jb.get(0).kind == NOT_YET
    assert jb.put(payload(0), 100, 8000, 100 * MS) == PUT_OK
    assert jb.get(105 * MS).kind == NOT_YET
    frame = jb.get(110 * MS)
    assert frame.kind == FRAME
    assert (frame.sequence, frame.timestamp, frame.samples) == (100, 8000, 160)
    assert frame.payload == payload(0)
    assert frame.buffered_ns == 10 * MS


def test_in_order_packets_play_in_order_each_after_the_minimum_delay():
    jb = JitterBuffer(8000, FRAME_SAMPLES)
    _, frames = run(jb, [20 * k for k in range(50)], [10 + 20 * k for k in range(50)])
    assert played(frames) == list(range(50))
    assert {f.buffered_ns for f in frames} == {10 * MS}
    assert jb.stats["missing"] == 0


def test_reordered_packets_are_played_in_sequence():
    arrivals = [20 * k for k in range(20)]
    arrivals[3], arrivals[4] = arrivals[4] + 5, arrivals[3]  # 4 overtakes 3 (which arrives 5 ms late)
    jb = JitterBuffer(8000, FRAME_SAMPLES, min_delay_ms=30)
    _, frames = run(jb, arrivals, [30 + 20 * k for k in range(20)])
    assert played(frames) == list(range(20))


def test_duplicates_are_dropped_whether_buffered_or_already_played():
    jb = JitterBuffer(8000, FRAME_SAMPLES)
    assert jb.put(payload(0), 0, 0, 0) == PUT_OK
    assert jb.put(payload(1), 1, 160, 20 * MS) == PUT_OK
    assert jb.put(payload(1), 1, 160, 21 * MS) == PUT_DUPLICATE  # still buffered
    assert jb.get(30 * MS).sequence == 0
    assert jb.put(payload(0), 0, 0, 31 * MS) == PUT_DUPLICATE  # already played
    assert jb.get(50 * MS).sequence == 1
    assert jb.get(70 * MS).kind == MISSING
    assert jb.stats["duplicates"] == 2


def test_a_packet_after_its_time_is_late_and_its_slot_concealed():
    arrivals = [20 * k for k in range(120)]
    arrivals[100] = 2040  # due at 2010 ms
    jb = JitterBuffer(8000, FRAME_SAMPLES)
    puts, frames = run(jb, arrivals, [10 + 20 * k for k in range(120)])
    assert puts[100] == PUT_LATE
    assert kinds(frames) == ["F"] * 100 + ["M"] + ["F"] * 19
    assert played(frames) == [k for k in range(120) if k != 100]
    stats = jb.stats
    assert (stats["late"], stats["missing"], stats["played"], stats["expanded"]) == (1, 1, 119, 0)
    assert jb.target_delay_ms == 10  # still the minimum: one late packet alone does not move the delay


def test_a_lost_packet_is_concealed_and_the_next_one_plays_on_time():
    arrivals = [20 * k for k in range(10)]
    arrivals[5] = None
    jb = JitterBuffer(8000, FRAME_SAMPLES)
    _, frames = run(jb, arrivals, [10 + 20 * k for k in range(10)])
    assert kinds(frames) == ["F"] * 5 + ["M"] + ["F"] * 4
    missing = frames[5]
    assert (missing.timestamp, missing.samples, missing.payload) == (5 * 160, 160, None)
    assert not missing.expanded


def test_a_dtx_gap_between_contiguous_sequence_numbers_is_silence_not_loss():
    """The sender stopped for 200 ms (timestamps jump, sequence numbers do not): GAP, no concealment."""
    jb = JitterBuffer(8000, FRAME_SAMPLES)
    for k in range(5):
        jb.put(payload(k), k, 160 * k, 20 * k * MS)
    jb.put(payload(5), 5, 160 * 15, 300 * MS, marker=True)  # next talk spurt, 10 frames later
    frames = [jb.get((10 + 20 * k) * MS) for k in range(16)]
    assert kinds(frames) == ["F"] * 5 + ["G"] * 10 + ["F"]
    assert frames[-1].marker
    assert jb.stats["missing"] == 0
    assert jb.stats["gaps"] == 10


def test_after_a_comfort_noise_packet_the_silence_is_a_gap():
    jb = JitterBuffer(8000, FRAME_SAMPLES)
    flags = {3: (False, True)}  # packet 3 is comfort noise, then nothing
    _, frames = run(jb, [0, 20, 40, 60], [10 + 20 * k for k in range(10)], flags=flags)
    assert kinds(frames) == ["F", "F", "F", "F"] + ["G"] * 6
    assert frames[3].cng
    assert jb.stats["missing"] == 0


def test_without_comfort_noise_an_empty_buffer_is_concealed():
    jb = JitterBuffer(8000, FRAME_SAMPLES)
    _, frames = run(jb, [0, 20, 40, 60], [10 + 20 * k for k in range(8)])
    assert kinds(frames) == ["F"] * 4 + ["M"] * 4


def test_sequence_numbers_and_timestamps_wrap():
    jb = JitterBuffer(8000, FRAME_SAMPLES)
    _, frames = run(
        jb, [20 * k for k in range(30)], [10 + 20 * k for k in range(30)], ts0=2**32 - 5 * 160, seq0=65520
    )
    assert played(frames) == list(range(30))
    assert [f.sequence for f in frames][14:18] == [65534, 65535, 0, 1]
    assert [f.timestamp for f in frames][4:7] == [2**32 - 160, 0, 160]


def test_an_ssrc_change_starts_over_with_the_new_source():
    jb = JitterBuffer(8000, FRAME_SAMPLES, min_delay_ms=10)
    run(jb, [20 * k for k in range(5)], [10 + 20 * k for k in range(3)])
    assert jb.stats["buffered"] == 2
    assert jb.put(payload(77), 9000, 123456, 100 * MS, ssrc=2) == PUT_RESYNC
    assert jb.stats["buffered"] == 1
    assert jb.get(105 * MS).kind == NOT_YET  # waits its delay again
    frame = jb.get(110 * MS)
    assert (frame.kind, frame.sequence, frame.ssrc) == (FRAME, 9000, 2)
    assert jb.stats["resyncs"] == 1


def test_a_lasting_timestamp_jump_resynchronises_after_100_ms():
    """The sender restarted its timestamps (same SSRC, sequence continues)."""
    jb = JitterBuffer(8000, FRAME_SAMPLES)
    statuses, frames = [], []
    for k in range(40):
        ts = 160 * k if k < 10 else 5_000_000 + 160 * k
        statuses.append(jb.put(payload(k), k, ts, 20 * k * MS))
        frames.append(jb.get((10 + 20 * k) * MS))
    assert statuses[10:15] == [PUT_OUT_OF_SYNC] * 5
    assert statuses[15] == PUT_RESYNC
    assert set(statuses[16:]) == {PUT_OK}
    assert jb.stats["resyncs"] == 1
    assert kinds(frames) == ["F"] * 10 + ["M"] * 5 + ["F"] * 25
    assert [f.timestamp for f in frames[15:17]] == [5_000_000 + 160 * 15, 5_000_000 + 160 * 16]


def test_a_stall_followed_by_a_burst_is_not_a_resynchronisation():
    arrivals = [20 * k for k in range(200)]
    for k in range(50, 130):
        arrivals[k] = 2600 + k // 10  # 1.6 s without packets, then 80 of them at once
    jb = JitterBuffer(8000, FRAME_SAMPLES)
    puts, frames = run(jb, arrivals, [10 + 20 * k for k in range(200)])
    assert jb.stats["resyncs"] == 0
    assert PUT_LATE in puts.values()
    assert all(f.kind == FRAME for f in frames[-20:])  # playing again afterwards


@pytest.mark.parametrize(("new_start", "status"), [(20000, PUT_RESYNC), (10, PUT_OK)])
def test_a_sequence_restart_with_a_current_timestamp_starts_over(new_start, status):
    """Renumbered backwards: a resync; renumbered far forwards: the old numbers are flushed."""
    jb = JitterBuffer(8000, FRAME_SAMPLES)
    statuses, frames = [], []
    for k in range(30):
        seq = 40000 + k if k < 15 else new_start + k  # the sender renumbered, its clock did not jump
        statuses.append(jb.put(payload(k), seq, 160 * k, 20 * k * MS))
        frames.append(jb.get((10 + 20 * k) * MS))
    assert statuses[15] == status
    assert set(statuses[16:]) == {PUT_OK}
    assert played(frames) == list(range(30))


def test_inside_a_dtx_gap_the_silence_is_shortened_to_reduce_the_delay():
    jb = JitterBuffer(8000, FRAME_SAMPLES, shrink_interval_ms=100_000)  # no drops during speech
    for k in range(250):  # 2 s of heavy jitter, then 3 s of none: the target falls, the delay stays
        jb.put(payload(k), k, 160 * k, (20 * k + (100 if k < 100 and k % 2 else 0)) * MS)
        jb.get((10 + 20 * k) * MS)
    excess = jb.play_delay_ms - jb.target_delay_ms
    assert excess > 60
    jb.put(payload(250), 250, 160 * 300, 6000 * MS, marker=True)  # after 1 s of DTX
    frames = [jb.get((10 + 20 * k) * MS) for k in range(250, 310)]
    spurt = [f for f in frames if f.kind == FRAME and f.sequence == 250]
    assert len(spurt) == 1
    assert spurt[0].buffered_ns <= (10 + 20) * MS  # back to the minimum after the gap
    assert kinds(frames).count("G") < 50 - excess // 20 + 1  # the silence was cut short
    assert jb.stats["shrunk"] == 0  # and no audio was dropped for it


def test_oversized_payloads_are_refused():
    jb = JitterBuffer(8000, FRAME_SAMPLES, max_payload=200)
    assert jb.put(b"x" * 201, 0, 0, 0) == PUT_TOO_BIG
    assert jb.put(b"x" * 200, 0, 0, 0) == PUT_OK
    assert jb.stats["too_big"] == 1


def test_a_full_buffer_drops_its_oldest_packets():
    jb = JitterBuffer(8000, FRAME_SAMPLES, capacity=32)
    assert jb.config["capacity"] == 32
    for k in range(40):
        jb.put(payload(k), k, 160 * k, 0)  # all at once, nobody pulling
    stats = jb.stats
    assert (stats["overflow"], stats["buffered"]) == (8, 32)


def test_when_the_caller_stops_pulling_the_buffer_catches_up():
    jb = JitterBuffer(8000, FRAME_SAMPLES)
    arrivals = [20 * k for k in range(300)]
    gets = [10 + 20 * k for k in range(50)] + [10 + 20 * k for k in range(150, 300)]  # 2 s pause
    _, frames = run(jb, arrivals, gets)
    assert jb.stats["catchups"] == 1
    late = frames[60:]
    assert all(f.kind == FRAME for f in late)
    assert max(f.buffered_ns for f in late) < 40 * MS


def test_packets_longer_than_a_frame_advance_the_playout_by_their_duration():
    jb = JitterBuffer(8000, FRAME_SAMPLES)
    for k in range(5):
        jb.put(payload(k), k, 320 * k, 40 * k * MS, samples=320)
    frames = [jb.get((10 + 40 * k) * MS) for k in range(5)]
    assert [(f.kind, f.timestamp, f.samples) for f in frames] == [(FRAME, 320 * k, 320) for k in range(5)]


def test_jitter_that_appears_grows_the_delay_by_inserting_frames():
    arrivals = [20 * k + (0 if k < 100 or k % 2 else 45) for k in range(400)]
    jb = JitterBuffer(8000, FRAME_SAMPLES)
    puts, frames = run(jb, arrivals, [10 + 20 * k for k in range(400)])
    assert jb.target_delay_ms >= 45
    expansions = [f for f in frames if f.expanded]
    assert expansions
    assert all(f.kind == MISSING for f in expansions)
    assert list(puts.values())[200:].count(PUT_LATE) == 0  # once grown, nothing is late


@pytest.mark.parametrize("phase_ms", [0, 3, 9, 10, 11, 17, 19])
def test_with_no_jitter_the_added_delay_is_the_minimum_the_frame_grid_allows(phase_ms):
    jb = JitterBuffer(8000, FRAME_SAMPLES, min_delay_ms=10)
    _, frames = run(jb, [20 * k + 50 for k in range(500)], [phase_ms + 20 * k for k in range(505)])
    expected = (phase_ms - 50 - 10) % 20 + 10  # the first get at least 10 ms after an arrival
    assert {f.buffered_ns for f in frames if f.kind == FRAME} == {expected * MS}
    assert jb.target_delay_ms == 10
    assert "".join(kinds(frames)).strip("-M") == "F" * 500  # waiting at the start, the end after
    assert jb.stats["expanded"] == jb.stats["shrunk"] == 0


def test_the_default_minimum_target_is_10_ms():
    """A margin against the scheduling stalls of a loaded machine (docs/media-rtp.md)."""
    assert JitterBuffer(8000, FRAME_SAMPLES).config["min_delay_ms"] == 10
    assert JitterBuffer(48000, 960).target_delay_ms == 10


@pytest.mark.parametrize("phase_ms", [0, 0.125, 3, 9, 10, 11, 17, 19.875])
def test_with_a_0_minimum_a_packet_with_no_jitter_plays_at_the_first_get_after_it_arrives(phase_ms):
    """With ``min_delay_ms=0`` the only wait is the phase of the playout clock to the packets'
    (below one frame), so with the 20 ms frame the latency stays under 40 ms."""
    jb = JitterBuffer(8000, FRAME_SAMPLES, min_delay_ms=0)
    assert jb.config["min_delay_ms"] == 0
    gets = [int(phase_ms * 8) / 8 + 20 * k for k in range(505)]  # whole RTP units (1/8 ms)
    events = sorted([(20 * k + 50, 0, k) for k in range(500)] + [(t, 1, None) for t in gets])
    waits = []
    for t, kind, k in events:
        if kind == 0:
            jb.put(payload(k), k, FRAME_SAMPLES * k, round(t * MS))
        else:
            frame = jb.get(round(t * MS))
            if frame.kind == FRAME:
                waits.append(frame.buffered_ns)
    assert len(waits) == 500
    assert set(waits) == {round(((gets[0] - 50) % 20) * MS)}
    assert jb.target_delay_ms == 0
    assert jb.stats["expanded"] == jb.stats["shrunk"] == jb.stats["late"] == 0


def targets_at_gets(jb, arrivals, gets):
    """Like run(), recording (time in ms, target delay in ms) after each get."""
    events = sorted([(t, 0, k) for k, t in enumerate(arrivals)] + [(t, 1, None) for t in gets])
    out = []
    for t, kind, k in events:
        if kind == 0:
            jb.put(payload(k), k, FRAME_SAMPLES * k, t * MS)
        else:
            jb.get(t * MS)
            out.append((t, jb.target_delay_ms))
    return out


def test_a_small_target_comes_back_down_to_the_minimum():
    """With a 0 minimum, spikes of 6 ms, 5 % of the packets for a second (less than the 10 ms
    hysteresis of 20 ms frames), lift the target; once the window has forgotten them, the target
    returns to 0 (it used to stay at such a level for good)."""
    jb = JitterBuffer(8000, FRAME_SAMPLES, min_delay_ms=0)
    arrivals = [20 * k + (6 if k < 50 and k % 10 == 3 else 0) for k in range(250)]
    timeline = targets_at_gets(jb, arrivals, [1 + 20 * k for k in range(250)])
    assert max(target for t, target in timeline) == 6
    back = next(t for t, target in timeline if t > 1000 and target == 0)
    assert 2000 <= back <= 3300  # the window (2 s) forgets the spikes, then the next recomputation
    assert all(target == 0 for t, target in timeline if t >= back)


def test_two_late_packets_hold_the_target_for_a_window():
    """Rare 40 ms spikes (too few for the 95th percentile): two of them within 500 ms come late,
    lift the target to their delay and keep it there for a window (2 s) before it comes down
    (a 0 minimum, so that the levels are exact)."""
    jb = JitterBuffer(8000, FRAME_SAMPLES, min_delay_ms=0)
    spikes = {100, 110}
    arrivals = [20 * k + (40 if k in spikes else 0) for k in range(400)]
    timeline = targets_at_gets(jb, arrivals, [5 + 20 * k for k in range(400)])
    assert jb.stats["late"] == 2
    target = dict(timeline)
    assert target[5 + 20 * 99] == 0
    assert target[5 + 20 * 112] == 40  # lifted by the second late packet (arrived at 2240 ms)
    assert min(t for at, t in timeline if 2245 <= at < 4200) == 40  # held for the window
    assert target[5 + 20 * 399] == 0  # and back at the minimum after it


def test_reset_forgets_the_buffered_packets():
    jb = JitterBuffer(8000, FRAME_SAMPLES)
    run(jb, [0, 20], [10])
    jb.reset()
    assert jb.get(100 * MS).kind == NOT_YET
    assert jb.stats["buffered"] == 0
    assert jb.stats["played"] == 1  # statistics stay


@pytest.mark.parametrize(
    "kwargs",
    [{"clock_rate": 0}, {"min_delay_ms": 100, "max_delay_ms": 50}, {"percentile": 101}, {"max_payload": 0}],
)
def test_a_bad_configuration_is_refused(kwargs):
    with pytest.raises(RTPError):
        JitterBuffer(**kwargs)


def test_the_capsule_keeps_the_buffer_alive():
    jb = JitterBuffer(8000, FRAME_SAMPLES)
    capsule = jb.capsule()
    del jb
    assert type(capsule).__name__ == "PyCapsule"


def test_the_target_delay_never_comes_down_below_the_minimum_delay():
    """A 30 ms minimum with packets arriving exactly on time (no jitter: the percentile is 0): the
    periodic recomputation must not take the target below the minimum (it once stepped down by a
    frame to 10 ms, and the playout then dropped and inserted frames)."""
    jb = JitterBuffer(8000, FRAME_SAMPLES, min_delay_ms=30)
    arrivals = [20 * k for k in range(100)]
    _, frames = run(jb, arrivals, [20 * k + 5 for k in range(100)])
    assert jb.target_delay_ms == 30
    assert kinds(frames).count("M") == 0 and jb.stats["shrunk"] == 0


# ---- jbuf_peek (C only: the stream's FEC look-ahead), through ctypes ----------------------------


def _native_jbuf():
    """jbuf_* from the _rtp extension (compiled in, exported), with the C structs of jbuf.h."""
    import ctypes

    from sipsimple.core.media import _rtp

    class Config(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_uint32)
            for name in (
                "clock_rate", "frame_samples", "min_delay_ms", "max_delay_ms", "window_ms",
                "percentile", "shrink_interval_ms", "capacity", "max_payload",
            )
        ]  # fmt: skip

    class Frame(ctypes.Structure):
        _fields_ = [
            ("kind", ctypes.c_int),
            ("flags", ctypes.c_uint32),
            ("timestamp", ctypes.c_uint32),
            ("samples", ctypes.c_uint32),
            ("sequence", ctypes.c_uint16),
            ("ssrc", ctypes.c_uint32),
            ("length", ctypes.c_size_t),
            ("buffered_ns", ctypes.c_uint64),
        ]

    lib = ctypes.CDLL(_rtp.__file__)
    lib.jbuf_config_default.argtypes = [ctypes.POINTER(Config), ctypes.c_uint32, ctypes.c_uint32]
    lib.jbuf_create.argtypes = [ctypes.POINTER(Config)]
    lib.jbuf_create.restype = ctypes.c_void_p
    lib.jbuf_destroy.argtypes = [ctypes.c_void_p]
    lib.jbuf_put.argtypes = [
        ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint16, ctypes.c_uint32,
        ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint64,
    ]  # fmt: skip
    for name in ("jbuf_get", "jbuf_peek"):
        getattr(lib, name).restype = ctypes.c_int
    lib.jbuf_get.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint64,
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.POINTER(Frame),
    ]
    lib.jbuf_peek.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(Frame)]
    return ctypes, lib, Config, Frame


def test_peek_shows_the_packet_after_a_loss_once_it_arrived_and_leaves_it_to_be_played():
    """Packets 0 and 2 arrive (1 is lost), 10 ms minimum delay: right after the MISSING result for
    1, peek finds nothing while 2 is still on its way, then shows 2 (twice: it consumes nothing);
    the next get plays 2 as usual. Before playout starts, and with a buffer too small, it gives
    nothing."""
    ctypes, lib, Config, Frame = _native_jbuf()
    config = Config()
    lib.jbuf_config_default(ctypes.byref(config), 8000, FRAME_SAMPLES)
    config.min_delay_ms = 10
    jb = lib.jbuf_create(ctypes.byref(config))
    assert jb
    try:
        buffer = ctypes.create_string_buffer(1500)
        frame = Frame()

        def put(k: int, at_ms: int) -> None:
            data = payload(k)
            assert lib.jbuf_put(jb, data, len(data), k, FRAME_SAMPLES * k, 1, 0, 0, at_ms * MS) == PUT_OK

        def get(at_ms: int) -> int:
            return lib.jbuf_get(jb, at_ms * MS, buffer, len(buffer), ctypes.byref(frame))

        def peek(cap: int = 1500) -> int:
            return lib.jbuf_peek(jb, buffer, cap, ctypes.byref(frame))

        put(0, 0)
        assert peek() == NOT_YET  # not playing yet
        assert get(10) == FRAME and frame.sequence == 0
        assert get(30) == MISSING  # packet 1's time: lost
        assert peek() == NOT_YET  # packet 2 is not there yet
        put(2, 40)
        for _ in range(2):
            buffer.raw = bytes(1500)
            assert peek() == FRAME
            assert (frame.sequence, frame.timestamp, frame.length) == (2, 2 * FRAME_SAMPLES, 160)
            assert buffer.raw[:160] == payload(2)
        assert peek(cap=10) == -1  # JBUF_E_SPACE, nothing copied or consumed
        assert get(50) == FRAME and frame.sequence == 2
        assert peek() == NOT_YET  # nothing after it
    finally:
        lib.jbuf_destroy(jb)
