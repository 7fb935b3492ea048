"""sipsimple.util._network: the default-route address lookup and the NetworkMonitor, driven by a Clock
and a scripted probe."""

from __future__ import annotations

import ipaddress
import logging
import socket

import pytest
from twisted.internet.task import Clock

from sipsimple.util._network import NetworkMonitor, default_ip_address
from tests.support.notifications import NotificationRecorder


class Probe:
    """Answers with the next address of a script (the last one repeats); counts the calls."""

    def __init__(self, *answers: str | Exception | None) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self) -> str | None:
        self.calls += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def network_names(recorder: NotificationRecorder) -> list[str]:
    wanted = ("SystemIPAddressDidChange", "NetworkConditionsDidChange")
    return [name for name in recorder.names() if name in wanted]


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_default_ip_address_is_none_or_an_address_of_this_host(family):
    address = default_ip_address(family)
    if address is None:
        return  # no route for this family here (a namespace with only loopback)
    assert ipaddress.ip_address(address).version == (4 if family == socket.AF_INET else 6)
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.bind((address, 0))  # only an address of this host can be bound


def test_the_first_answer_is_the_baseline_and_only_changes_are_posted(recorder):
    clock = Clock()
    probe = Probe("10.0.0.5", "10.0.0.5", "10.0.0.5", "10.0.0.9")
    sender = object()
    monitor = NetworkMonitor(clock=clock, probe=probe, interval=5, sender=sender)
    monitor.start()
    assert monitor.ip_address == "10.0.0.5" and network_names(recorder) == []
    clock.advance(4.9)
    assert probe.calls == 1  # not before the interval
    clock.advance(0.1)
    clock.advance(5)
    assert probe.calls == 3 and network_names(recorder) == []  # the same address twice: nothing
    clock.advance(5)
    assert network_names(recorder) == ["SystemIPAddressDidChange", "NetworkConditionsDidChange"]
    change = recorder.named("SystemIPAddressDidChange")[0]
    assert (change.data.old_ip_address, change.data.new_ip_address) == ("10.0.0.5", "10.0.0.9")
    assert change.sender is sender and change.data.timestamp is not None
    assert recorder.named("NetworkConditionsDidChange")[0].sender is sender
    assert monitor.ip_address == "10.0.0.9"
    clock.advance(50)
    assert len(network_names(recorder)) == 2  # the new address stays: nothing more


def test_losing_and_regaining_the_network_are_changes_too(recorder):
    clock = Clock()
    monitor = NetworkMonitor(clock=clock, probe=Probe("10.0.0.5", None, "10.0.0.5"), interval=1)
    monitor.start()
    clock.advance(1)
    clock.advance(1)
    changes = [
        (n.data.old_ip_address, n.data.new_ip_address) for n in recorder.named("SystemIPAddressDidChange")
    ]
    assert changes == [("10.0.0.5", None), (None, "10.0.0.5")]
    assert all(n.sender is monitor for n in recorder.named("NetworkConditionsDidChange"))


def test_a_failing_probe_is_logged_and_skipped(recorder, caplog):
    clock = Clock()
    probe = Probe("10.0.0.5", OSError("no sockets left"), "10.0.0.5")
    monitor = NetworkMonitor(clock=clock, probe=probe, interval=1)
    monitor.start()
    with caplog.at_level(logging.ERROR, logger="sipsimple.util._network"):
        clock.advance(1)
    assert "probe failed" in caplog.text
    clock.advance(1)
    assert probe.calls == 3 and network_names(recorder) == [] and monitor.running


def test_stop_ends_the_polling_and_start_takes_a_new_baseline(recorder):
    clock = Clock()
    probe = Probe("10.0.0.5", "10.0.0.7")
    monitor = NetworkMonitor(clock=clock, probe=probe, interval=1)
    monitor.start()
    monitor.stop()
    assert not monitor.running and clock.getDelayedCalls() == []
    clock.advance(10)
    assert probe.calls == 1
    monitor.start()
    assert monitor.ip_address == "10.0.0.7" and network_names(recorder) == []
    assert "running" in repr(monitor)
    with pytest.raises(ValueError):
        NetworkMonitor(clock=clock, interval=0)
