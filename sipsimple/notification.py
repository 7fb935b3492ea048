"""The notification system: the public API of the middleware is notifications posted here.

Semantics (kept identical to the python-application notification API that applications written for
the reference SDK use, so they port by changing an import):

* ``NotificationCenter()`` is a process-wide singleton.
* ``add_observer(observer, name=Any, sender=Any)`` registers an object with a
  ``handle_notification(notification)`` method for notifications with that name from that sender;
  ``Any`` matches every name / every sender. Registering the same (observer, name, sender) twice is a
  no-op. Senders are matched by equality, so they must be hashable to be observed specifically.
* ``post_notification(name, sender=UnknownSender, data=NotificationData())`` delivers synchronously, in
  the posting thread, to every matching observer once, in the order in which the observers were
  added. A notification posted by an observer while a delivery is running in the same thread is
  queued and delivered after the current notification reached all its observers, so every observer
  sees notifications in the order they were posted.
* An observer that raises does not stop the delivery to the others; the error is logged.
* Posting and (un)registering are thread-safe. Registrations made during a delivery take effect for
  the next notification.
* ``ObserverWeakrefProxy(observer)`` registers an observer without keeping it alive; it unregisters
  itself everywhere when the observer is garbage collected.
"""

from __future__ import annotations

import itertools
import logging
import threading
import weakref
from collections import deque
from typing import Any as _Any
from typing import Protocol

from zope.interface import Attribute, Interface, implementer

from sipsimple.util._markers import Any, MarkerType
from sipsimple.util._objects import Singleton

__all__ = [
    "Any",
    "IObserver",
    "Notification",
    "NotificationCenter",
    "NotificationData",
    "ObserverWeakrefProxy",
    "UnknownSender",
]

log = logging.getLogger(__name__)


class UnknownSender(metaclass=MarkerType):
    """The sender of a notification posted without one."""


class IObserver(Interface):
    """An object that receives notifications."""

    def handle_notification(notification):
        """Called with each Notification the observer was registered for."""


class INotification(Interface):
    name = Attribute("The notification's name (a str)")
    sender = Attribute("The object that posted it (UnknownSender when none was given)")
    data = Attribute("A NotificationData with the notification's attributes")


class _Observer(Protocol):
    def handle_notification(self, notification: Notification) -> None: ...


class NotificationData:
    """A bag of attributes carried by a notification: ``NotificationData(code=200, reason='OK')``."""

    def __init__(self, **attributes: _Any) -> None:
        self.__dict__.update(attributes)

    def __repr__(self) -> str:
        attributes = ", ".join(f"{key}={value!r}" for key, value in self.__dict__.items())
        return f"{type(self).__name__}({attributes})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NotificationData):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]


@implementer(INotification)
class Notification:
    """One posted notification: ``name``, ``sender`` and ``data``."""

    __slots__ = ("data", "name", "sender")

    def __init__(
        self, name: str, sender: object = UnknownSender, data: NotificationData | None = None
    ) -> None:
        self.name = name
        self.sender = sender
        self.data = data if data is not None else NotificationData()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, sender={self.sender!r}, data={self.data!r})"


_centers: weakref.WeakSet[NotificationCenter] = weakref.WeakSet()


@implementer(IObserver)
class ObserverWeakrefProxy:
    """Observes on behalf of an object without keeping it alive.

    Proxies for the same observer compare equal, so ``remove_observer(ObserverWeakrefProxy(obj))``
    removes a registration made with another proxy of ``obj``.
    """

    __slots__ = ("__weakref__", "_hash", "_ref")

    def __init__(self, observer: _Observer) -> None:
        if isinstance(observer, ObserverWeakrefProxy):
            referent = observer.observer
            if referent is None:
                raise TypeError("the observer of this ObserverWeakrefProxy is gone")
            observer = referent
        if not callable(getattr(observer, "handle_notification", None)):
            raise TypeError(f"{observer!r} has no handle_notification method")
        self._hash = hash(observer)
        self._ref = weakref.ref(observer, self._observer_died)

    @property
    def observer(self) -> _Observer | None:
        return self._ref()

    def _observer_died(self, _ref: weakref.ref[_Any]) -> None:
        for center in list(_centers):
            center.purge_observer(self)

    def handle_notification(self, notification: Notification) -> None:
        observer = self._ref()
        if observer is not None:
            observer.handle_notification(notification)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ObserverWeakrefProxy):
            return NotImplemented
        if self is other:
            return True
        mine, theirs = self._ref(), other._ref()
        return mine is not None and mine is theirs

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._ref()!r})"


_Key = tuple[object, object]


class NotificationCenter(metaclass=Singleton):
    """Dispatches notifications from senders to the observers registered for them."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._observers: dict[_Key, dict[_Observer, int]] = {}
        self._sequence = itertools.count()
        self._local = threading.local()
        _centers.add(self)

    # registration --------------------------------------------------------------------------------

    def add_observer(self, observer: _Observer, name: object = Any, sender: object = Any) -> None:
        if not callable(getattr(observer, "handle_notification", None)):
            raise TypeError(f"{observer!r} cannot observe: it has no handle_notification method")
        if isinstance(observer, ObserverWeakrefProxy) and observer.observer is None:
            return  # the observed object is already gone
        with self._lock:
            bucket = self._observers.setdefault((name, sender), {})
            if observer not in bucket:
                bucket[observer] = next(self._sequence)

    def remove_observer(self, observer: _Observer, name: object = Any, sender: object = Any) -> None:
        """Remove a registration; raises KeyError when there is no such registration."""
        if not self._remove(observer, name, sender):
            raise KeyError(f"{observer!r} is not observing name={name!r} sender={sender!r}")

    def discard_observer(self, observer: _Observer, name: object = Any, sender: object = Any) -> None:
        """Remove a registration if it exists."""
        self._remove(observer, name, sender)

    def purge_observer(self, observer: _Observer) -> None:
        """Remove every registration of an observer."""
        with self._lock:
            for key in [key for key, bucket in self._observers.items() if observer in bucket]:
                self._remove(observer, *key)

    def _remove(self, observer: _Observer, name: object, sender: object) -> bool:
        with self._lock:
            bucket = self._observers.get((name, sender))
            if bucket is None or observer not in bucket:
                return False
            del bucket[observer]
            if not bucket:
                del self._observers[(name, sender)]
            return True

    def observers(self, name: object = Any, sender: object = Any) -> list[_Observer]:
        """The observers registered exactly for (name, sender), in registration order."""
        with self._lock:
            return list(self._observers.get((name, sender), ()))

    # posting -------------------------------------------------------------------------------------

    def post_notification(
        self, name: str, sender: object = UnknownSender, data: NotificationData | None = None
    ) -> None:
        notification = Notification(name, sender, data)
        queue: deque[Notification] | None = getattr(self._local, "queue", None)
        if queue is None:
            queue = self._local.queue = deque()
        queue.append(notification)
        if len(queue) > 1:
            return  # a delivery is running further up this thread's stack; it delivers this one next
        try:
            while queue:
                self._deliver(queue[0])
                queue.popleft()
        except BaseException:
            queue.clear()
            raise

    def _deliver(self, notification: Notification) -> None:
        for observer in self._matching(notification.name, notification.sender):
            try:
                observer.handle_notification(notification)
            except Exception:
                log.exception("observer %r failed to handle %r", observer, notification)

    def _matching(self, name: object, sender: object) -> list[_Observer]:
        keys: list[_Key] = [(name, Any), (Any, Any)]
        try:
            hash(sender)
        except TypeError:
            pass  # an unhashable sender can only match Any
        else:
            keys[:0] = [(name, sender)]
            keys.insert(2, (Any, sender))
        with self._lock:
            buckets = [bucket for key in keys if (bucket := self._observers.get(key))]
            if not buckets:
                return []
            if len(buckets) == 1:
                return list(buckets[0])
            first_seen: dict[_Observer, int] = {}
            for bucket in buckets:
                for observer, sequence in bucket.items():
                    if sequence < first_seen.get(observer, sequence + 1):
                        first_seen[observer] = sequence
        return sorted(first_seen, key=first_seen.__getitem__)
