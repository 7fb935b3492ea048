"""RTPTransport (sipsimple.core.media._stream): sockets, port ranges, latching, timeout, STUN.

Real UDP sockets on 127.0.0.1 and the real I/O thread; the other end is a plain Python socket, so
every datagram the transport sends or receives is seen as it is on the wire. Waits poll with a
bound (the I/O thread is a native thread); timer logic is checked with a ManualClock instead.
"""

from __future__ import annotations

import errno
import gc
import os
import random
import socket
from functools import partial

import pytest

from sipsimple.core import SIPCoreInvalidStateError
from sipsimple.core.media._mixer import AudioMixer
from sipsimple.core.media._rtp import RTPPacket, RTPSender
from sipsimple.core.media._stream import (
    AudioStreamPort,
    IOThread,
    ManualClock,
    RTPTransport,
    RTPTransportError,
    is_stun,
)
from sipsimple.core.media.events import dispatch_pending
from sipsimple.core.nat import stun
from tests.support.wait import wait_for

LOCALHOST = "127.0.0.1"


@pytest.fixture
def io_thread():
    thread = IOThread()
    yield thread
    gc.collect()
    thread.stop()  # refused while a transport of the test is still open


@pytest.fixture
def peer():
    """A plain UDP socket on 127.0.0.1: the far end."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOCALHOST, 0))
    sock.settimeout(5.0)
    yield sock
    sock.close()


def free_range(pairs: int) -> tuple[int, int]:
    """An even base port whose next 2 * pairs ports are free now."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 60000, 2)
        socks = []
        try:
            for port in range(base, base + 2 * pairs):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(sock)
                sock.bind((LOCALHOST, port))
            return base, base + 2 * pairs - 1
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    pytest.skip("no free port range found")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def port_is_taken(port: int) -> bool:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((LOCALHOST, port))
    except OSError as e:
        return e.errno == errno.EADDRINUSE
    finally:
        sock.close()
    return False


def rtp_packets(count: int, ssrc: int | None = None, payload_type: int = 0) -> list[bytes]:
    sender = RTPSender(payload_type=payload_type, clock_rate=8000)
    packets = []
    for i in range(count):
        packet = RTPPacket.parse(sender.packet(b"\xff" * 160, samples=160, now_ns=i + 1))
        if ssrc is not None:
            packet = RTPPacket(
                payload_type=packet.payload_type,
                marker=packet.marker,
                sequence=packet.sequence,
                timestamp=packet.timestamp,
                ssrc=ssrc,
                payload=packet.payload,
            )
        packets.append(packet.serialize())
    return packets


# ---- binding ----------------------------------------------------------------------------------


def test_a_transport_binds_an_even_rtp_port_and_rtcp_on_the_port_above(io_thread):
    t = RTPTransport(LOCALHOST, io_thread=io_thread)
    assert t.local_rtp_address == LOCALHOST
    assert t.local_rtp_port % 2 == 0 and t.local_rtcp_port == t.local_rtp_port + 1
    assert port_is_taken(t.local_rtp_port) and port_is_taken(t.local_rtcp_port)
    assert not t.rtcp_mux and not t.is_memory and not t.is_closed
    t.close()
    assert t.is_closed
    assert not port_is_taken(t.local_rtp_port) and not port_is_taken(t.local_rtcp_port)
    t.close()  # idempotent


def test_rtcp_mux_takes_one_socket(io_thread):
    before = open_fds()
    t = RTPTransport(LOCALHOST, rtcp_mux=True, io_thread=io_thread)
    assert open_fds() == before + 1
    assert t.rtcp_mux and t.local_rtcp_port == t.local_rtp_port
    t.close()
    assert open_fds() == before


def test_the_port_range_is_used_pair_by_pair_skipping_ports_in_use_and_wrapping(io_thread):
    start, end = free_range(3)
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter.bind((LOCALHOST, start + 1))  # the RTCP port of the first pair
    try:
        t1 = RTPTransport(LOCALHOST, (start, end), io_thread=io_thread)
        t2 = RTPTransport(LOCALHOST, f"{start}:{end}", io_thread=io_thread)
        assert (t1.local_rtp_port, t1.local_rtcp_port) == (start + 2, start + 3)
        assert t2.local_rtp_port == start + 4
        with pytest.raises(RTPTransportError) as info:
            RTPTransport(LOCALHOST, (start, end), io_thread=io_thread)
        assert info.value.errno == errno.EADDRINUSE
        assert f"no free RTP port pair in {start}-{end} on {LOCALHOST}" in str(info.value)
        t1.close()
        t3 = RTPTransport(LOCALHOST, (start, end), io_thread=io_thread)  # the search goes on round the range
        assert t3.local_rtp_port == start + 2
        for t in (t2, t3):
            t.close()
    finally:
        squatter.close()


def test_a_port_range_accepts_the_settings_datatype(io_thread):
    from sipsimple.configuration.datatypes import PortRange

    start, end = free_range(1)
    t = RTPTransport(LOCALHOST, PortRange(start, end), io_thread=io_thread)
    assert t.local_rtp_port == start
    t.close()


@pytest.mark.parametrize(
    ("address", "port_range"),
    [("localhost", None), ("256.1.1.1", None), (LOCALHOST, (2000, 1000)), (LOCALHOST, "a:b"), (LOCALHOST, 5)],
)
def test_unusable_addresses_and_ranges_are_refused(io_thread, address, port_range):
    with pytest.raises(ValueError):
        RTPTransport(address, port_range, io_thread=io_thread)


def test_an_address_the_host_does_not_have_is_a_transport_error(io_thread):
    with pytest.raises(RTPTransportError) as info:
        RTPTransport("192.0.2.1", io_thread=io_thread)
    assert info.value.errno == errno.EADDRNOTAVAIL


def test_an_ipv6_transport_takes_ipv6_remotes_only(io_thread):
    try:
        t = RTPTransport("::1", io_thread=io_thread)
    except RTPTransportError:
        pytest.skip("no IPv6 loopback here")
    assert t.local_rtp_address == "::1"
    with pytest.raises(ValueError):
        t.set_remote(LOCALHOST, 4000)
    t.set_remote("::1", 4000)
    assert (t.remote_rtp_address, t.remote_rtp_port, t.remote_rtcp_port) == ("::1", 4000, 4001)
    t.close()


def test_set_remote_takes_rtcp_on_the_next_port_unless_told_or_muxed(io_thread):
    t = RTPTransport(LOCALHOST, io_thread=io_thread)
    t.set_remote(LOCALHOST, 40000)
    assert (t.remote_rtp_port, t.remote_rtcp_port, t.remote_rtcp_port_sdp) == (40000, 40001, 40001)
    t.set_remote(LOCALHOST, 40000, 40010)
    assert t.remote_rtcp_port == 40010
    t.set_remote(None)
    assert t.remote_rtp_address is None and t.remote_rtp_port_sdp is None
    mux = RTPTransport(LOCALHOST, rtcp_mux=True, io_thread=io_thread)
    mux.set_remote(LOCALHOST, 40000)
    assert mux.remote_rtcp_port == 40000
    for transport in (t, mux):
        transport.close()


# ---- datagrams, STUN --------------------------------------------------------------------------


@pytest.mark.parametrize("component", [1, 2])
def test_send_datagram_leaves_from_the_component_s_socket(io_thread, peer, component):
    t = RTPTransport(LOCALHOST, io_thread=io_thread)
    t.send_datagram(b"hello", *peer.getsockname(), component=component)
    data, source = peer.recvfrom(2048)
    assert data == b"hello"
    assert source == (LOCALHOST, t.local_rtp_port if component == 1 else t.local_rtcp_port)
    t.close()
    with pytest.raises(SIPCoreInvalidStateError):
        t.send_datagram(b"hello", *peer.getsockname())


def test_stun_on_either_socket_is_handed_up_and_answered_through_the_transport(io_thread, peer, recorder):
    t = RTPTransport(LOCALHOST, io_thread=io_thread)
    request = stun.Message().encode(fingerprint=True)
    peer.sendto(request, (LOCALHOST, t.local_rtp_port))
    peer.sendto(request, (LOCALHOST, t.local_rtcp_port))
    wait_for(
        lambda: len(recorder.named("RTPTransportGotSTUN")) == 2,
        pump=partial(dispatch_pending, io_thread.event_queue),
        what="two STUN datagrams",
    )
    got = recorder.named("RTPTransportGotSTUN")
    assert {n.data.component for n in got} == {1, 2}
    for note in got:
        assert note.sender is t and note.data.data == request
        assert (note.data.address, note.data.port) == peer.getsockname()
    answer = stun.Message.parse(request).reply().encode()
    t.send_datagram(answer, got[0].data.address, got[0].data.port)
    assert peer.recvfrom(2048)[0] == answer
    assert t.statistics["rx_stun"] == 2 and t.statistics["rx_rtp"] == 0
    t.close()


def test_the_c_stun_test_agrees_with_the_python_one():
    rng = random.Random(5)
    samples = [stun.Message().encode(), stun.Message().encode(fingerprint=True), b"", b"\x00" * 20]
    samples += [bytes(rng.randrange(256) for _ in range(rng.randrange(40))) for _ in range(300)]
    message = bytearray(stun.Message().encode())
    for i in range(len(message)):
        damaged = bytearray(message)
        damaged[i] ^= 0xC0
        samples.append(bytes(damaged))
    for data in samples:
        assert is_stun(data) == stun.is_stun(data), data.hex()


# ---- latching ---------------------------------------------------------------------------------


def stream_on(t: RTPTransport) -> tuple[AudioStreamPort, AudioMixer]:
    mixer = AudioMixer(None, None, 8000, 0, event_queue=t.event_queue)
    stream = AudioStreamPort(t, "PCMU", 8000, rtcp_interval=60)
    mixer.add_port(stream.port_capsule(), stream)
    stream.start()
    return stream, mixer


def test_rtp_from_a_new_address_is_latched_after_three_packets_in_a_row(io_thread, peer, recorder):
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # what the SDP said; nobody there reads
    dead.bind((LOCALHOST, 0))
    t = RTPTransport(LOCALHOST, io_thread=io_thread)
    t.set_remote(*dead.getsockname())
    stream, mixer = stream_on(t)
    packets = rtp_packets(5, ssrc=0x1234)
    stray = rtp_packets(1, ssrc=0x9999)[0]
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind((LOCALHOST, 0))
    peer.sendto(packets[0], (LOCALHOST, t.local_rtp_port))
    peer.sendto(packets[1], (LOCALHOST, t.local_rtp_port))
    other.sendto(stray, (LOCALHOST, t.local_rtp_port))  # breaks the run: the count starts again
    peer.sendto(packets[2], (LOCALHOST, t.local_rtp_port))
    wait_for(lambda: t.statistics["rx_rtp"] == 4, what="4 RTP packets")
    assert t.remote_rtp_port == dead.getsockname()[1] and t.remote_rtp_address_received is None
    for packet in packets[3:]:
        peer.sendto(packet, (LOCALHOST, t.local_rtp_port))
    wait_for(lambda: t.remote_rtp_port == peer.getsockname()[1], what="the latch")
    assert (t.remote_rtp_address, t.remote_rtcp_port) == (LOCALHOST, peer.getsockname()[1] + 1)
    assert (t.remote_rtp_address_received, t.remote_rtp_port_received) == peer.getsockname()
    assert t.remote_rtp_port_sdp == dead.getsockname()[1]  # what the SDP said is kept
    wait_for(
        lambda: recorder.named("RTPTransportDidChangeRemoteAddress"),
        pump=partial(dispatch_pending, t.event_queue),
        what="the notification",
    )
    [note] = recorder.named("RTPTransportDidChangeRemoteAddress")
    assert (note.data.component, note.data.address, note.data.port, note.data.latched) == (
        1,
        LOCALHOST,
        peer.getsockname()[1],
        True,
    )
    mixer.tick(2)  # the stream sends: now to the latched address
    packet = RTPPacket.parse(peer.recvfrom(2048)[0])
    assert packet.ssrc == stream.statistics["tx"]["ssrc"]
    assert t.statistics["latches"] == 1
    stream.stop()
    t.close()
    dead.close()
    other.close()


def test_without_latching_the_received_address_is_reported_but_rtp_still_goes_to_the_sdp_address(
    io_thread, peer, recorder
):
    t = RTPTransport(LOCALHOST, latching=False, latch_packets=2, io_thread=io_thread)
    t.set_remote(LOCALHOST, 9)
    for packet in rtp_packets(2):
        peer.sendto(packet, (LOCALHOST, t.local_rtp_port))
    wait_for(lambda: t.remote_rtp_port_received == peer.getsockname()[1], what="the received address")
    assert t.remote_rtp_port == 9 and not t.latching
    wait_for(
        lambda: recorder.named("RTPTransportDidChangeRemoteAddress"),
        pump=partial(dispatch_pending, t.event_queue),
        what="the notification",
    )
    assert recorder.named("RTPTransportDidChangeRemoteAddress")[0].data.latched is False
    t.close()


def test_rtp_from_the_sdp_address_is_known_at_once(io_thread, peer):
    t = RTPTransport(LOCALHOST, io_thread=io_thread)
    t.set_remote(*peer.getsockname())
    peer.sendto(rtp_packets(1)[0], (LOCALHOST, t.local_rtp_port))
    wait_for(lambda: t.remote_rtp_port_received == peer.getsockname()[1], what="the received address")
    assert t.statistics["latches"] == 0
    t.close()


# ---- RTP timeout ------------------------------------------------------------------------------


def test_no_rtp_for_the_timeout_posts_rtp_transport_did_timeout(io_thread, recorder):
    t = RTPTransport(LOCALHOST, timeout=0.2, io_thread=io_thread)
    assert t.timeout == 0.2
    wait_for(
        lambda: recorder.named("RTPTransportDidTimeout"),
        pump=partial(dispatch_pending, t.event_queue),
        what="the timeout",
    )
    [note] = recorder.named("RTPTransportDidTimeout")
    assert note.sender is t and note.data.timeout == 0.2 and note.data.packets_received == 0
    assert note.data.timestamp.tzinfo is not None  # when it was posted, as every reference notification says
    t.close()


def test_the_timeout_fires_once_per_silence_and_rearms_with_the_next_packet(io_thread, recorder):
    clock = ManualClock()
    a, b = RTPTransport.memory_pair(io_thread=io_thread, clock=clock)
    b.timeout = 5
    clock.advance(4.9)
    assert b._service() == pytest.approx(clock.now + 0.1)
    dispatch_pending(io_thread.event_queue)
    assert recorder.named("RTPTransportDidTimeout") == []
    clock.advance(0.1)
    assert b._service() is None  # fired; nothing more until a packet comes
    clock.advance(60)
    b._service()
    dispatch_pending(io_thread.event_queue)
    assert len(recorder.named("RTPTransportDidTimeout")) == 1
    a.send_datagram(rtp_packets(1)[0])
    clock.advance(5)
    b._service()
    dispatch_pending(io_thread.event_queue)
    timeouts = recorder.named("RTPTransportDidTimeout")
    assert [n.data.packets_received for n in timeouts] == [0, 1]
    b.timeout = 0
    clock.advance(100)
    assert b._service() is None
    assert b.statistics["timeouts"] == 2
    a.close()
    b.close()


def test_rtcp_and_stun_do_not_keep_the_rtp_timeout_away(io_thread):
    clock = ManualClock()
    a, b = RTPTransport.memory_pair(io_thread=io_thread, clock=clock)
    b.timeout = 1
    a.send_datagram(stun.Message().encode())
    a.send_datagram(bytes.fromhex("80c9000100000001"), component=2)  # an empty RR
    clock.advance(1)
    b._service()
    assert b.statistics["timeouts"] == 1 and b.statistics["rx_rtcp"] == 1
    a.close()
    b.close()


# ---- what goes out ----------------------------------------------------------------------------


def test_sequence_numbers_and_timestamps_run_on_through_a_hold(io_thread, peer):
    t = RTPTransport(LOCALHOST, io_thread=io_thread)
    t.set_remote(*peer.getsockname())
    stream, mixer = stream_on(t)
    mixer.tick(3)
    before = [RTPPacket.parse(peer.recvfrom(2048)[0]) for _ in range(3)]
    stream.direction = "recvonly"
    mixer.tick(10)
    stream.direction = "sendrecv"
    mixer.tick(1)
    after = RTPPacket.parse(peer.recvfrom(2048)[0])
    assert [p.sequence - before[0].sequence for p in before] == [0, 1, 2]
    assert [p.timestamp - before[0].timestamp for p in before] == [0, 160, 320]
    assert after.sequence == (before[-1].sequence + 1) % 65536
    assert (after.timestamp - before[-1].timestamp) % 2**32 == 11 * 160
    assert after.marker and before[0].marker and not before[1].marker
    stream.stop()
    t.close()


def test_garbage_on_the_sockets_is_counted_and_dropped_and_the_call_goes_on(io_thread, peer):
    t = RTPTransport(LOCALHOST, io_thread=io_thread)
    stream, _mixer = stream_on(t)
    rng = random.Random(11)
    valid = rtp_packets(1)[0]
    sent = 0
    for _ in range(300):
        kind = rng.randrange(3)
        if kind == 0:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        elif kind == 1:  # an RTP header with damaged fields and lengths
            data = bytearray(valid[: rng.randrange(1, len(valid))])
            data[0] = 0x80 | rng.randrange(64)
        else:
            data = bytes([0x80, rng.randrange(256)]) + bytes(
                rng.randrange(256) for _ in range(rng.randrange(30))
            )
        peer.sendto(bytes(data), (LOCALHOST, t.local_rtp_port if rng.randrange(2) else t.local_rtcp_port))
        sent += 1
    peer.sendto(valid, (LOCALHOST, t.local_rtp_port))
    wait_for(lambda: t.statistics["rx_datagrams"] == sent + 1, what="every datagram")
    st = t.statistics
    assert st["rx_rtp"] + st["rx_rtcp"] + st["rx_malformed"] + st["rx_ignored"] + st["rx_stun"] == sent + 1
    assert stream.statistics["rx"]["packets"] >= 1
    stream.stop()
    t.close()


def test_a_burst_of_many_batches_is_read_to_the_last_datagram(io_thread, peer):
    """The I/O thread's sockets are edge-triggered and read 16 datagrams per batch: a burst queued
    faster than it reads (all threads on one core, the I/O thread does not preempt the sender)
    is read batch after batch to its end, with no further datagram needed to trigger the rest."""
    t = RTPTransport(LOCALHOST, io_thread=io_thread)
    cpu = min(os.sched_getaffinity(0))
    saved = {}
    for tid in map(int, os.listdir("/proc/self/task")):
        try:
            saved[tid] = os.sched_getaffinity(tid)
        except OSError:
            pass  # a thread that ended meanwhile
    burst, batched = 150, 0
    try:
        for tid in saved:
            try:
                os.sched_setaffinity(tid, {cpu})
            except OSError:
                pass
        for attempt in range(1, 6):
            reads = io_thread.statistics["reads"]
            for _ in range(burst):
                peer.sendto(b"\x00" * 100, (LOCALHOST, t.local_rtp_port))
            expected = attempt * burst
            wait_for(lambda: t.statistics["rx_datagrams"] == expected, what="the whole burst")  # noqa: B023
            batched += io_thread.statistics["reads"] - reads <= burst // 8
    finally:
        for tid, cpus in saved.items():
            try:
                os.sched_setaffinity(tid, cpus)
            except OSError:
                pass  # a thread that ended meanwhile
        t.close()
    if not batched:
        pytest.skip("the scheduler read every burst as it came: no full batch to test")
    assert t.statistics["rx_ignored"] == 5 * burst  # all counted, none twice


# ---- resources --------------------------------------------------------------------------------


def test_creating_and_closing_many_transports_and_streams_leaks_no_descriptors_or_threads(io_thread):
    gc.collect()
    fds, threads = open_fds(), len(os.listdir("/proc/self/task"))
    for i in range(300):
        t = RTPTransport(LOCALHOST, rtcp_mux=bool(i % 2), io_thread=io_thread)
        stream = AudioStreamPort(t, "opus" if i % 3 == 0 else "PCMU")
        stream.start()
        stream.stop()
        t.close()
        del stream, t
    gc.collect()
    assert open_fds() == fds
    assert len(os.listdir("/proc/self/task")) == threads
    assert io_thread.statistics["handles"] == 0


def test_the_io_thread_stops_only_when_its_transports_are_closed():
    thread = IOThread()
    threads = len(os.listdir("/proc/self/task"))
    t = RTPTransport(LOCALHOST, io_thread=thread)
    with pytest.raises(SIPCoreInvalidStateError):
        thread.stop()
    t.close()
    thread.stop()
    assert not thread.is_running
    assert len(os.listdir("/proc/self/task")) == threads - 1
    with pytest.raises(SIPCoreInvalidStateError):
        RTPTransport(LOCALHOST, io_thread=thread)


def test_the_stream_classes_are_importable_from_the_media_package():
    import sipsimple.core.media as media
    from sipsimple.core.media import _stream

    assert media.RTPTransport is _stream.RTPTransport and media.AudioStreamPort is _stream.AudioStreamPort
    assert media.IOThread is _stream.IOThread and media.RTPTransportError is _stream.RTPTransportError
    with pytest.raises(AttributeError):
        media.NoSuchThing  # noqa: B018
