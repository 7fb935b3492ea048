"""The suite's notification recorder: an observer that keeps what was posted, readable from the test
thread while another thread (an application's Twisted thread) posts more."""

from __future__ import annotations

import threading
from typing import Any

from sipsimple.notification import Notification

_ABSENT = object()


class NotificationRecorder:
    """An observer that keeps every notification it receives, in the order they were posted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.notifications: list[Notification] = []

    def handle_notification(self, notification: Notification) -> None:
        with self.lock:
            self.notifications.append(notification)

    def snapshot(self) -> list[Notification]:
        """A copy of what was received so far (later notifications do not change it)."""
        with self.lock:
            return list(self.notifications)

    def names(self, prefix: str = "") -> list[str]:
        """The names received so far, oldest first; only those starting with ``prefix`` when it is given."""
        return [n.name for n in self.snapshot() if n.name.startswith(prefix)]

    def named(self, name: str, /, sender: object = None, **data: Any) -> list[Notification]:
        """The notifications called ``name``, oldest first; only those posted by ``sender`` when it is
        given, and only those whose data has each of the ``data`` values."""
        return [
            n
            for n in self.snapshot()
            if n.name == name
            and (sender is None or n.sender is sender)
            and all(getattr(n.data, key, _ABSENT) == value for key, value in data.items())
        ]

    def clear(self) -> None:
        with self.lock:
            self.notifications.clear()


def sent_requests(recorder: NotificationRecorder, method: str) -> list[bytes]:
    """The ``method`` requests our engine sent, by its ``SIPEngineSIPTrace`` notifications: one per
    CSeq, so UDP retransmissions are left out."""
    seen: dict[bytes, bytes] = {}
    for notification in recorder.named("SIPEngineSIPTrace"):
        data = notification.data.data
        if not notification.data.received and data.startswith(method.encode() + b" "):
            cseq = next(line for line in data.split(b"\r\n") if line.lower().startswith(b"cseq:"))
            seen.setdefault(cseq, data)
    return list(seen.values())
