"""`MediaStreamRegistry` (the stream types, highest priority first) and the
`MediaStreamRegistrar` metaclass that registers a class when it is defined."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from zope.interface import classImplements

from sipsimple.util import Singleton

from ._interface import IMediaStream

__all__ = ["MediaStreamRegistrar", "MediaStreamRegistry", "MediaStreamRegistryBase"]


class MediaStreamRegistryBase:
    """The registry without the singleton (tests use their own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._classes: list[type] = []

    def __iter__(self) -> Iterator[type]:
        with self._lock:
            return iter(list(self._classes))

    def __len__(self) -> int:
        return len(self._classes)

    def __contains__(self, cls: object) -> bool:
        return cls in self._classes

    def add(self, cls: type) -> None:
        """Register ``cls`` (it must implement IMediaStream); a class is kept once, the list stays
        sorted by descending ``priority`` (equal priorities keep their registration order)."""
        if not IMediaStream.implementedBy(cls):
            raise TypeError(f"{cls.__name__} does not implement IMediaStream")
        with self._lock:
            if cls in self._classes:
                return
            self._classes.append(cls)
            self._classes.sort(key=lambda item: -getattr(item, "priority", 0))

    def remove(self, cls: type) -> None:
        """Unregister ``cls`` (a no-op when it is not registered)."""
        with self._lock:
            if cls in self._classes:
                self._classes.remove(cls)


class MediaStreamRegistry(MediaStreamRegistryBase, metaclass=Singleton):
    """The process-wide registry the SessionManager uses for incoming offers."""


class MediaStreamRegistrar(type):
    """``class MyStream(metaclass=MediaStreamRegistrar)`` adds MyStream to MediaStreamRegistry once
    the class body has run. A class decorator such as ``@implementer(IMediaStream)`` runs only after
    the metaclass, so the metaclass itself declares the class as implementing IMediaStream (using
    the registrar is that promise; tests check it with ``verifyClass``). A class whose ``type`` is
    None (an abstract base) is not registered."""

    def __init__(cls, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> None:
        super().__init__(name, bases, namespace)
        if getattr(cls, "type", None) is not None:
            if not IMediaStream.implementedBy(cls):
                classImplements(cls, IMediaStream)
            MediaStreamRegistry().add(cls)
