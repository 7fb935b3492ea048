"""DNSManager: initial nameservers, the change probe on a Clock, fixed lists, stop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from twisted.internet.task import Clock

from sipsimple.lookup import DNSManager
from sipsimple.lookup._authority import Authority
from sipsimple.lookup._resolver import GOOGLE_NAMESERVERS, ResolverConfiguration
from tests.support.notifications import NotificationRecorder


@pytest.fixture
def manager() -> Iterator[DNSManager]:
    manager = DNSManager()
    manager.stop()
    yield manager
    manager.stop()
    manager.configuration = ResolverConfiguration()
    manager.authoritative_first = True


def test_is_a_singleton() -> None:
    assert DNSManager() is DNSManager()


def test_start_posts_the_system_nameservers(manager: DNSManager, recorder: NotificationRecorder) -> None:
    manager.start(Clock(), read_system_nameservers=lambda: ["192.0.2.53"])
    [note] = recorder.named("DNSResolverDidInitialize")
    assert note.sender is manager and note.data.nameservers == ["192.0.2.53"]
    assert manager.configuration.nameservers == ("192.0.2.53",) and manager.configuration.port == 53


def test_no_system_nameservers_means_the_public_fallback(manager: DNSManager) -> None:
    manager.start(Clock(), read_system_nameservers=list)
    assert manager.nameservers == list(GOOGLE_NAMESERVERS)


def test_probe_posts_a_change_only_when_the_list_changed(
    manager: DNSManager, recorder: NotificationRecorder
) -> None:
    clock, system = Clock(), ["192.0.2.53"]
    manager.start(clock, probe_interval=30, read_system_nameservers=lambda: list(system))
    clock.advance(30)
    assert not recorder.named("DNSNameserversDidChange")
    system[:] = ["192.0.2.54", "192.0.2.55"]
    clock.advance(29)
    assert not recorder.named("DNSNameserversDidChange")
    clock.advance(1)
    [note] = recorder.named("DNSNameserversDidChange")
    assert note.data.nameservers == ["192.0.2.54", "192.0.2.55"] == manager.nameservers


def test_explicit_nameservers_and_port_are_kept_without_probing(manager: DNSManager) -> None:
    clock = Clock()
    manager.start(clock, nameservers=["127.0.0.1"], port=10053)
    assert (manager.configuration.nameservers, manager.configuration.port) == (("127.0.0.1",), 10053)
    assert clock.getDelayedCalls() == []


def test_stop_cancels_the_probe(manager: DNSManager) -> None:
    clock = Clock()
    manager.start(clock, read_system_nameservers=lambda: ["192.0.2.53"])
    assert len(clock.getDelayedCalls()) == 1
    manager.stop()
    assert clock.getDelayedCalls() == [] and not manager.started


def test_ns_first_is_on_by_default_and_start_can_switch_it(manager: DNSManager) -> None:
    assert manager.authoritative_first is True
    manager.start(Clock(), nameservers=["127.0.0.1"], authoritative_first=False)
    assert manager.authoritative_first is False
    manager.stop()
    manager.start(Clock(), nameservers=["127.0.0.1"])  # None: left as it was
    assert manager.authoritative_first is False


def test_the_nameserver_cache_is_emptied_when_the_nameservers_are_set_or_change(manager: DNSManager) -> None:
    clock, system = Clock(), ["192.0.2.53"]
    manager.nameserver_cache.put("example.test", Authority("example.test", ("192.0.2.1",)), 300)
    manager.start(clock, probe_interval=30, read_system_nameservers=lambda: list(system))
    assert len(manager.nameserver_cache) == 0
    manager.nameserver_cache.put("example.test", Authority("example.test", ("192.0.2.1",)), 300)
    clock.advance(30)  # same list: kept
    assert len(manager.nameserver_cache) == 1
    system[:] = ["192.0.2.54"]
    clock.advance(30)
    assert len(manager.nameserver_cache) == 0
