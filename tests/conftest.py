"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sipsimple.configuration import ConfigurationManager
from sipsimple.configuration.backend.memory import MemoryBackend
from sipsimple.notification import NotificationCenter
from tests.support.notifications import NotificationRecorder

REPOSITORY = Path(__file__).resolve().parents[1]


def corpora_directory() -> Path:
    """Where the shared RFC corpora live (``SIPSIMPLE_CORPORA`` overrides); may not exist."""
    return Path(os.environ.get("SIPSIMPLE_CORPORA", REPOSITORY.parent / "shared" / "corpora"))


@pytest.fixture(autouse=True)
def _isolated_notification_center() -> Iterator[None]:
    """Every test starts and ends with the observers that were registered before it."""
    center = NotificationCenter()
    before = {key: dict(bucket) for key, bucket in center._observers.items()}
    yield
    with center._lock:
        center._observers.clear()
        center._observers.update(before)


@pytest.fixture
def recorder() -> NotificationRecorder:
    recorder = NotificationRecorder()
    NotificationCenter().add_observer(recorder)
    return recorder


@pytest.fixture
def memory_configuration() -> Iterator[MemoryBackend]:
    """A started ConfigurationManager over a fresh MemoryBackend (stopped afterwards)."""
    manager = ConfigurationManager()
    manager.stop()
    backend = MemoryBackend()
    manager.start(backend)
    yield backend
    manager.stop()
