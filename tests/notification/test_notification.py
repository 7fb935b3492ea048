"""The NotificationCenter: registration, matching, ordering, isolation of failing observers, threads."""

from __future__ import annotations

import gc
import logging
import threading

import pytest
from zope.interface.verify import verifyClass, verifyObject

from sipsimple.notification import (
    Any,
    INotification,
    IObserver,
    Notification,
    NotificationCenter,
    NotificationData,
    ObserverWeakrefProxy,
    UnknownSender,
)
from tests.support.notifications import NotificationRecorder


class Named:
    def __init__(self, label: str, log: list[str]) -> None:
        self.label = label
        self.log = log

    def handle_notification(self, notification: Notification) -> None:
        self.log.append(f"{self.label}:{notification.name}")


def test_notification_center_is_a_singleton():
    assert NotificationCenter() is NotificationCenter()


def test_interfaces_are_implemented():
    verifyClass(IObserver, ObserverWeakrefProxy)
    verifyObject(IObserver, ObserverWeakrefProxy(NotificationRecorder()))
    verifyObject(INotification, Notification("X"))


def test_observer_receives_name_sender_and_data():
    center, recorder, sender = NotificationCenter(), NotificationRecorder(), object()
    center.add_observer(recorder, name="Ping", sender=sender)
    center.post_notification("Ping", sender=sender, data=NotificationData(value=3))
    [notification] = recorder.notifications
    assert (notification.name, notification.sender, notification.data.value) == ("Ping", sender, 3)


def test_default_sender_is_unknown_sender_and_default_data_is_empty():
    center, recorder = NotificationCenter(), NotificationRecorder()
    center.add_observer(recorder, name="Ping")
    center.post_notification("Ping")
    [notification] = recorder.notifications
    assert notification.sender is UnknownSender
    assert notification.data == NotificationData()


def test_matching_by_name_and_sender():
    center = NotificationCenter()
    a, b = object(), object()
    by_name, by_sender, both, everything = (NotificationRecorder() for _ in range(4))
    center.add_observer(by_name, name="X")
    center.add_observer(by_sender, sender=a)
    center.add_observer(both, name="X", sender=a)
    center.add_observer(everything)
    center.post_notification("X", sender=a)
    center.post_notification("X", sender=b)
    center.post_notification("Y", sender=a)
    assert by_name.names() == ["X", "X"]
    assert [n.sender for n in by_sender.notifications] == [a, a]
    assert [(n.name, n.sender) for n in both.notifications] == [("X", a)]
    assert len(everything.notifications) == 3


def test_delivery_follows_add_observer_order_across_registration_kinds():
    center, log = NotificationCenter(), []
    sender = object()
    first, second, third, fourth = (Named(label, log) for label in "1234")
    center.add_observer(first)  # (Any, Any)
    center.add_observer(second, name="X", sender=sender)
    center.add_observer(third, sender=sender)
    center.add_observer(fourth, name="X")
    center.post_notification("X", sender=sender)
    assert log == ["1:X", "2:X", "3:X", "4:X"]


def test_an_observer_matching_several_registrations_gets_each_notification_once():
    center, recorder = NotificationCenter(), NotificationRecorder()
    center.add_observer(recorder)
    center.add_observer(recorder, name="X")
    center.add_observer(recorder, name="X")
    center.post_notification("X")
    assert recorder.names() == ["X"]


def test_remove_observer_raises_for_unknown_registration_and_discard_does_not():
    center, recorder = NotificationCenter(), NotificationRecorder()
    center.add_observer(recorder, name="X")
    with pytest.raises(KeyError):
        center.remove_observer(recorder, name="Y")
    center.discard_observer(recorder, name="Y")
    center.remove_observer(recorder, name="X")
    center.post_notification("X")
    assert recorder.notifications == []


def test_purge_observer_removes_every_registration():
    center, recorder = NotificationCenter(), NotificationRecorder()
    center.add_observer(recorder, name="X")
    center.add_observer(recorder, sender=object())
    center.add_observer(recorder)
    center.purge_observer(recorder)
    center.post_notification("X")
    assert recorder.notifications == []


def test_an_object_without_handle_notification_cannot_observe():
    with pytest.raises(TypeError):
        NotificationCenter().add_observer(object())


def test_failing_observer_is_logged_and_does_not_stop_delivery(caplog):
    center, log = NotificationCenter(), []

    class Broken:
        def handle_notification(self, notification):
            raise RuntimeError("observer bug")

    center.add_observer(Named("before", log), name="X")
    center.add_observer(Broken(), name="X")
    center.add_observer(Named("after", log), name="X")
    with caplog.at_level(logging.ERROR, logger="sipsimple.notification"):
        center.post_notification("X")
    assert log == ["before:X", "after:X"]
    assert "observer bug" in caplog.text


def test_notifications_posted_during_delivery_are_delivered_after_the_current_one():
    center, log = NotificationCenter(), []

    class Reposter:
        def handle_notification(self, notification):
            log.append(f"reposter:{notification.name}")
            if notification.name == "First":
                center.post_notification("Second")

    center.add_observer(Reposter())
    center.add_observer(Named("other", log))
    center.post_notification("First")
    assert log == ["reposter:First", "other:First", "reposter:Second", "other:Second"]


def test_unhashable_sender_matches_only_any_sender_registrations():
    center, recorder = NotificationCenter(), NotificationRecorder()
    center.add_observer(recorder, name="X")
    center.post_notification("X", sender=[1, 2])
    assert [n.sender for n in recorder.notifications] == [[1, 2]]


def test_weakref_proxy_does_not_keep_the_observer_alive_and_unregisters_itself():
    center = NotificationCenter()
    recorder = NotificationRecorder()
    center.add_observer(ObserverWeakrefProxy(recorder), name="X")
    center.post_notification("X")
    assert recorder.names() == ["X"]
    del recorder
    gc.collect()
    assert center.observers(name="X") == []


def test_weakref_proxies_of_the_same_observer_are_equal_for_removal():
    center, recorder = NotificationCenter(), NotificationRecorder()
    center.add_observer(ObserverWeakrefProxy(recorder), name="X")
    center.remove_observer(ObserverWeakrefProxy(recorder), name="X")
    center.post_notification("X")
    assert recorder.notifications == []


def test_posting_from_many_threads_delivers_every_notification():
    center, recorder = NotificationCenter(), NotificationRecorder()
    center.add_observer(recorder, name="Tick")
    lock, received = threading.Lock(), []

    class Counter:
        def handle_notification(self, notification):
            with lock:
                received.append(notification.data.n)

    center.add_observer(Counter(), name="Tick")
    threads = [
        threading.Thread(
            target=lambda base=base: [
                center.post_notification("Tick", data=NotificationData(n=base + i)) for i in range(500)
            ]
        )
        for base in range(0, 4000, 500)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(received) == list(range(4000))


def test_registration_changes_from_other_threads_during_posting_are_safe():
    center = NotificationCenter()
    stop = threading.Event()
    errors: list[BaseException] = []

    def churn():
        try:
            while not stop.is_set():
                observer = NotificationRecorder()
                center.add_observer(observer, name="Churn")
                center.remove_observer(observer, name="Churn")
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        for _ in range(5000):
            center.post_notification("Churn")
    finally:
        stop.set()
        thread.join()
    assert errors == []


def test_notification_data_repr_and_equality():
    data = NotificationData(code=200, reason="OK")
    assert data == NotificationData(code=200, reason="OK")
    assert data != NotificationData(code=486)
    assert repr(data) == "NotificationData(code=200, reason='OK')"


def test_any_is_the_same_marker_as_in_util():
    from sipsimple import util

    assert Any is util.Any
    with pytest.raises(TypeError):
        Any()
