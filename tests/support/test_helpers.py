"""The shared test helpers do what the suite relies on: the recorder filters, the waits are bounded
and say what they waited for."""

from __future__ import annotations

import threading
import time

import pytest

from sipsimple.notification import Notification, NotificationCenter, NotificationData
from tests.support.notifications import NotificationRecorder, sent_requests
from tests.support.reactor import Loop, fresh_reactor
from tests.support.wait import wait_for, wait_for_notification

ALICE, BOB = object(), object()


def post(recorder: NotificationRecorder, name: str, sender: object = None, **data: object) -> None:
    recorder.handle_notification(Notification(name, sender, NotificationData(**data)))


def test_named_filters_by_name_sender_and_data_values_keeping_the_posting_order():
    recorder = NotificationRecorder()
    post(recorder, "Found", ALICE, user="peer", port=1)
    post(recorder, "Lost", ALICE, user="peer")
    post(recorder, "Found", BOB, user="peer", port=2)
    post(recorder, "Found", ALICE, user="other", port=3)

    assert [n.data.port for n in recorder.named("Found")] == [1, 2, 3]
    assert [n.data.port for n in recorder.named("Found", ALICE)] == [1, 3]
    assert [n.data.port for n in recorder.named("Found", sender=BOB, user="peer")] == [2]
    assert recorder.named("Found", missing=None) == []  # an absent attribute matches nothing
    assert recorder.names() == ["Found", "Lost", "Found", "Found"]


def test_a_snapshot_does_not_change_when_more_notifications_arrive_and_clear_empties_the_recorder():
    recorder = NotificationRecorder()
    post(recorder, "One")
    snapshot = recorder.snapshot()
    post(recorder, "Two")
    assert [n.name for n in snapshot] == ["One"]
    recorder.clear()
    assert recorder.names() == []


def test_the_recorder_keeps_every_notification_posted_from_several_threads():
    recorder = NotificationRecorder()
    center = NotificationCenter()
    center.add_observer(recorder, name="ThreadedTest")

    def post_many() -> None:
        for _ in range(500):
            center.post_notification("ThreadedTest", ALICE)

    threads = [threading.Thread(target=post_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while any(thread.is_alive() for thread in threads) and time.monotonic() < deadline:
        assert len(recorder.named("ThreadedTest", ALICE)) <= 2000  # reading while they post is safe
    for thread in threads:
        thread.join(10)
    assert len(recorder.named("ThreadedTest")) == 2000


def test_sent_requests_keeps_one_request_per_cseq_and_only_what_was_sent():
    recorder = NotificationRecorder()
    register = b"REGISTER sip:example.test SIP/2.0\r\nCSeq: 1 REGISTER\r\n\r\n"
    post(recorder, "SIPEngineSIPTrace", received=False, data=register)
    post(recorder, "SIPEngineSIPTrace", received=False, data=register)  # a retransmission
    post(
        recorder,
        "SIPEngineSIPTrace",
        received=True,
        data=b"REGISTER sip:x SIP/2.0\r\nCSeq: 5 REGISTER\r\n\r\n",
    )
    post(recorder, "SIPEngineSIPTrace", received=False, data=register.replace(b"CSeq: 1", b"CSeq: 2"))
    post(
        recorder,
        "SIPEngineSIPTrace",
        received=False,
        data=b"OPTIONS sip:x SIP/2.0\r\nCSeq: 3 OPTIONS\r\n\r\n",
    )
    assert [r.split(b"\r\n")[1] for r in sent_requests(recorder, "REGISTER")] == [
        b"CSeq: 1 REGISTER",
        b"CSeq: 2 REGISTER",
    ]


def test_wait_for_returns_once_the_condition_holds_running_the_pump_before_each_check():
    pumped: list[int] = []
    wait_for(lambda: len(pumped) >= 3, "three pumps", 5.0, pump=lambda: pumped.append(1), interval=0)
    assert len(pumped) == 3


def test_wait_for_fails_after_its_timeout_naming_what_it_waited_for_asking_a_callable_only_then():
    asked: list[int] = []

    def describe() -> str:
        asked.append(1)
        return "the peer's log"

    with pytest.raises(AssertionError, match=r"timed out after 0\.05 s waiting for the peer's log"):
        wait_for(lambda: False, describe, 0.05)
    assert asked == [1]


def test_wait_for_notification_turns_the_reactor_until_the_count_th_matching_notification_is_posted():
    recorder = NotificationRecorder()
    center = NotificationCenter()
    center.add_observer(recorder)
    with fresh_reactor() as reactor:
        loop = Loop(reactor)
        for index, (name, sender) in enumerate([("Done", BOB), ("Done", ALICE), ("Failed", ALICE)]):
            reactor.callLater(0, center.post_notification, name, sender, NotificationData(index=index))
        second = wait_for_notification(loop, recorder, "Done", "Failed", sender=ALICE, count=2, timeout=5.0)
        assert (second.name, second.data.index) == ("Failed", 2)
        with pytest.raises(AssertionError, match="Done or Failed"):
            wait_for_notification(loop, recorder, "Done", "Failed", count=4, timeout=0.05)
