"""Issue 5 acceptance: creating and destroying 1,000 RTP streams (an RTPTransport with its sockets
and an AudioStreamPort with its codec, started, ticked once through a mixer so it encodes and sends,
then stopped, removed and closed) gives back every file descriptor, native thread and I/O-thread
handle, and resident memory stays flat. The loop is bounded in count and time."""

from __future__ import annotations

import gc
import os
import resource
import socket
import time

from sipsimple.core.media._mixer import AudioMixer
from sipsimple.core.media._stream import AudioStreamPort, IOThread, RTPTransport

LOCALHOST = "127.0.0.1"
CODECS = ("PCMU", "G722", "opus", "PCMA")
STREAMS = 1000


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def native_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def resident_kib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() // 1024


def one_stream(io_thread: IOThread, mixer: AudioMixer, sink: int, index: int) -> None:
    transport = RTPTransport(LOCALHOST, io_thread=io_thread)
    transport.set_remote(LOCALHOST, sink, sink)
    codec = CODECS[index % len(CODECS)]
    stream = AudioStreamPort(transport, codec, **({"sample_rate": 48000} if codec == "opus" else {}))
    stream.start()
    slot = mixer.add_port(stream.port_capsule(), stream)
    mixer.connect_slots(0, slot)
    mixer.tick(1)
    assert stream.statistics["tx"]["packets"] == 1 and io_thread.statistics["handles"] >= 2
    stream.stop()
    mixer.remove_port(slot)
    transport.close()


def counts(io_thread: IOThread, mixer: AudioMixer) -> dict[str, int]:
    gc.collect()
    return {
        "fds": open_descriptors(),
        "threads": native_threads(),
        "io handles": io_thread.statistics["handles"],
        "mixer slots": mixer.used_slot_count,
    }


def test_a_thousand_streams_created_and_destroyed_give_back_descriptors_threads_and_handles():
    io_thread = IOThread()
    mixer = AudioMixer(None, None, 16000, 0, event_queue=io_thread.event_queue)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # takes the packets; never read
    sink.bind((LOCALHOST, 0))
    try:
        for index in range(20):  # warm-up: codec tables, lazily created buffers
            one_stream(io_thread, mixer, sink.getsockname()[1], index)
        start = counts(io_thread, mixer)
        start_kib = resident_kib()
        deadline = time.monotonic() + 120
        peak_fds = 0
        for index in range(STREAMS):
            one_stream(io_thread, mixer, sink.getsockname()[1], index)
            peak_fds = max(peak_fds, open_descriptors()) if index % 50 == 0 else peak_fds
            assert time.monotonic() < deadline, f"only {index} streams in the time bound"
        end = counts(io_thread, mixer)
        grown_kib = resident_kib() - start_kib
    finally:
        sink.close()
        mixer.stop()
        io_thread.stop()
    assert end == start
    assert peak_fds <= start["fds"] + 4  # each stream's two sockets were closed with it
    assert grown_kib < 8 * 1024, f"resident memory grew by {grown_kib} KiB over {STREAMS} streams"
