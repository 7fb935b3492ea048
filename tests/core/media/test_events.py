"""The media event queue (C ring + eventfd) and its Twisted reader."""

from __future__ import annotations

import gc
import logging
import select
import time

import pytest
from twisted.internet.interfaces import IReadDescriptor
from zope.interface.verify import verifyObject

from sipsimple.core.media._events import EVENT_NAMES, EVENT_TEST, QUEUE_CAPSULE_NAME, EventQueue
from sipsimple.core.media._mixer import AudioMixer, WaveFile, write_wave_file
from sipsimple.core.media.events import MediaEventReader, dispatch_event, dispatch_pending
from tests.core.media.mixer_signals import constant, pcm
from tests.support.reactor import Loop, fresh_reactor


def readable(queue: EventQueue, timeout: float = 0.0) -> bool:
    return bool(select.select([queue.fileno()], [], [], timeout)[0])


class Target:
    def __init__(self) -> None:
        self.events: list[tuple[int, int, int]] = []

    def _handle_media_event(self, kind: int, a: int, b: int) -> None:
        self.events.append((kind, a, b))


def test_events_come_out_in_order_and_the_descriptor_signals_a_batch():
    queue = EventQueue()
    assert not readable(queue)
    assert queue.post(EVENT_TEST, 7, 1, 2)
    assert queue.post(EVENT_TEST, 7, 3, -4)
    assert readable(queue) and queue.pending == 2
    assert queue.drain() == [(EVENT_TEST, 7, 1, 2), (EVENT_TEST, 7, 3, -4)]
    assert not readable(queue) and queue.pending == 0
    assert queue.drain() == []
    assert EVENT_NAMES[EVENT_TEST] == "test"


def test_a_partial_drain_leaves_the_descriptor_readable():
    queue = EventQueue()
    for i in range(5):
        queue.post(EVENT_TEST, 1, i)
    assert [e[2] for e in queue.drain(max_events=3)] == [0, 1, 2]
    assert readable(queue)
    assert [e[2] for e in queue.drain()] == [3, 4]
    assert not readable(queue)


def test_a_full_queue_drops_and_counts_instead_of_blocking():
    queue = EventQueue(capacity=20)
    assert queue.capacity == 32
    results = [queue.post(EVENT_TEST, 1, i) for i in range(40)]
    assert results.count(False) == 8 and queue.dropped == 8
    assert [e[2] for e in queue.drain()] == list(range(32))
    with pytest.raises(ValueError):
        EventQueue(capacity=0)


def test_events_posted_by_a_native_thread_all_arrive():
    """A pthread with no Python state posts 20,000 events; the test waits on the descriptor."""
    queue = EventQueue(capacity=1 << 15)
    queue._post_from_native_thread(20000, EVENT_TEST, 42)
    received: list[tuple[int, int, int, int]] = []
    deadline = time.monotonic() + 10.0
    while len(received) < 20000 and time.monotonic() < deadline:
        if readable(queue, 0.5):
            received.extend(queue.drain())
    queue._join_native_threads()
    received.extend(queue.drain())
    assert [a for (_, _, a, _) in received] == list(range(20000))
    assert {(kind, source, b) for (kind, source, _, b) in received} == {(EVENT_TEST, 42, 20000)}
    assert queue.dropped == 0


def test_sources_map_to_their_targets_weakly():
    queue = EventQueue()
    target = Target()
    source = queue.register(target)
    assert queue.register(Target()) != source
    assert queue.target(source) is target
    queue.post(EVENT_TEST, source, 5, 6)
    assert dispatch_pending(queue) == 1
    assert target.events == [(EVENT_TEST, 5, 6)]
    del target
    gc.collect()
    assert queue.target(source) is None
    assert not dispatch_event(queue, (EVENT_TEST, source, 0, 0))
    queue.unregister(source)
    queue.unregister(source)
    assert not dispatch_event(queue, (EVENT_TEST, 12345, 0, 0))


def test_a_failing_handler_is_logged_and_does_not_stop_the_others(caplog):
    queue = EventQueue()

    class Broken:
        def _handle_media_event(self, kind, a, b):
            raise RuntimeError("boom")

    broken, good = Broken(), Target()
    queue.post(EVENT_TEST, queue.register(broken))
    queue.post(EVENT_TEST, queue.register(good), 1, 1)
    with caplog.at_level(logging.ERROR, logger="sipsimple.core.media"):
        assert dispatch_pending(queue) == 2
    assert good.events == [(EVENT_TEST, 1, 1)]
    assert "could not be handled" in caplog.text


def test_the_capsule_carries_the_queue_under_its_documented_name():
    import ctypes

    queue = EventQueue()
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    assert get_name(queue.capsule).decode() == QUEUE_CAPSULE_NAME == "sipsimple.core.media.event_queue"


def test_the_reader_dispatches_native_events_on_the_reactor_thread():
    queue = EventQueue()
    target = Target()
    source = queue.register(target)
    with fresh_reactor() as reactor:
        reader = MediaEventReader(queue, reactor)
        assert verifyObject(IReadDescriptor, reader)
        reader.start()
        reader.start()
        try:
            queue._post_from_native_thread(100, EVENT_TEST, source)
            Loop(reactor).run_until(lambda: len(target.events) == 100, what="100 events")
        finally:
            reader.stop()
            reader.stop()
            queue._join_native_threads()
        assert [a for (_, a, _) in target.events] == list(range(100))
        assert reader not in reactor.getReaders() and not reader.running


def test_a_wave_file_played_by_the_clock_thread_notifies_through_the_reactor(tmp_path, recorder):
    """The whole path: clock thread -> C player -> event queue -> eventfd -> reactor -> notification."""
    path = tmp_path / "short.wav"
    write_wave_file(path, 8000, 1, pcm(constant(1000, 800)))  # 100 ms
    mixer = AudioMixer(None, None, 8000, 0)
    player = WaveFile(mixer, path)
    with fresh_reactor() as reactor:
        reader = MediaEventReader(mixer.event_queue, reactor)
        reader.start()
        player.start()
        mixer.start()
        try:
            Loop(reactor).run_until(lambda: recorder.named("WaveFileDidFinishPlaying"), timeout=5.0)
        finally:
            mixer.stop()
            reader.stop()
    assert recorder.named("WaveFileDidFinishPlaying")[0].sender is player
    assert not player.is_active
