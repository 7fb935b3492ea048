"""BonjourServices over real mDNS, on 127.0.0.1 only (never all interfaces: that would multicast on the
real network). Waits are for network events and bounded; nothing sleeps for a timer."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sipsimple.account.bonjour import SERVICE_TYPES, BonjourServiceDescription, BonjourServices
from sipsimple.core.sip.uri import SIPURI, FrozenSIPURI
from sipsimple.notification import Notification
from tests.conftest import REPOSITORY
from tests.support.notifications import NotificationRecorder
from tests.support.reactor import Loop, fresh_reactor

EVENT_WAIT = 10.0  # seconds: the most one mDNS event may take on loopback (typically ~1 s)
LOOPBACK = ["127.0.0.1"]

# Real mDNS on 127.0.0.1: run with the interop suite, inside its private network namespace, so that
# no other service announced on this machine can show up as a neighbour.
pytestmark = pytest.mark.interop


def contacts(user: str, port: int) -> Callable[[], dict[str, SIPURI]]:
    return lambda: {
        "udp": SIPURI("127.0.0.1", user=user, port=port),
        "tcp": SIPURI("127.0.0.1", user=user, port=port, parameters={"transport": "tcp"}),
        "tls": SIPURI("127.0.0.1", user=user, port=port + 1, parameters={"transport": "tls"}),
    }


class Sender:
    """Stands in for the BonjourAccount that owns the services."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Sender({self.name})"


@pytest.fixture
def loop() -> Iterator[Loop]:
    with fresh_reactor() as reactor:
        yield Loop(reactor)


#: Instance ids of the services the tests created. Neighbours are counted only among these, so a test
#: is not confused by other mDNS services that happen to be published on 127.0.0.1 meanwhile.
OURS: set[str] = set()


def track(*services: BonjourServices) -> None:
    OURS.update(service.instance_id for service in services)


def is_ours(description: BonjourServiceDescription) -> bool:
    return description.name.partition(".")[0] in OURS


def from_sender(recorder: NotificationRecorder, sender: object, name: str) -> list[Notification]:
    return [
        n
        for n in recorder.named(name)
        if n.sender is sender and (not hasattr(n.data, "neighbour") or is_ours(n.data.neighbour))
    ]


def neighbours_of(services: BonjourServices) -> set[BonjourServiceDescription]:
    return {description for description in services.neighbours if is_ours(description)}


def test_two_services_in_one_process_discover_update_and_remove_each_other(
    loop: Loop, recorder: NotificationRecorder
) -> None:
    """A sees each of B's three services with B's URI and name, a rename as an update, B's stop as a
    removal; neither reports its own services; registrations succeed and end per transport."""
    alice, bob = Sender("alice"), Sender("bob")
    a = BonjourServices(alice, contacts("alice", 5070), "Alice", interfaces=LOOPBACK, reactor=loop.reactor)
    b = BonjourServices(bob, contacts("bob", 5080), "Bob", interfaces=LOOPBACK, reactor=loop.reactor)

    def count(sender: object, name: str) -> Callable[[], int]:
        return lambda: len(from_sender(recorder, sender, name))

    track(a, b)
    try:
        a.start(), b.start()
        loop.run_until(
            lambda: count(alice, "BonjourAccountDidAddNeighbour")() == 3, 2 * EVENT_WAIT, "A sees B"
        )
        loop.run_until(lambda: count(bob, "BonjourAccountDidAddNeighbour")() == 3, 2 * EVENT_WAIT, "B sees A")

        added = {
            n.data.neighbour.type: n.data
            for n in from_sender(recorder, alice, "BonjourAccountDidAddNeighbour")
        }
        assert set(added) == set(SERVICE_TYPES.values())
        udp = added["_sipuri._udp.local."]
        assert isinstance(udp.uri, FrozenSIPURI)
        assert str(udp.uri) == "sip:bob@127.0.0.1:5080"
        assert str(added["_sipuris._tcp.local."].uri) == "sip:bob@127.0.0.1:5081;transport=tls"
        assert udp.display_name == "Bob"
        assert udp.host == b.hostname
        assert (
            udp.neighbour
            == udp.service_description
            == BonjourServiceDescription(f"{b.instance_id}._sipuri._udp.local.", "_sipuri._udp.local.")
        )
        for n in recorder.named("BonjourAccountDidAddNeighbour"):
            if n.sender not in (alice, bob):
                continue
            own = a if n.sender is alice else b
            assert own.instance_id not in n.data.neighbour.name, "a service reported itself"
        for sender in (alice, bob):
            succeeded = from_sender(recorder, sender, "BonjourAccountRegistrationDidSucceed")
            assert sorted(n.data.transport for n in succeeded) == ["tcp", "tls", "udp"]
            assert count(sender, "BonjourAccountWillInitateDiscovery")() == 3

        b.display_name = "Robert"
        loop.wait(b.update_registrations(), EVENT_WAIT)
        loop.run_until(lambda: count(alice, "BonjourAccountDidUpdateNeighbour")() == 3, EVENT_WAIT, "updates")
        updated = from_sender(recorder, alice, "BonjourAccountDidUpdateNeighbour")
        assert {n.data.display_name for n in updated} == {"Robert"}
        assert {n.data.neighbour for n in updated} == {data.neighbour for data in added.values()}

        loop.wait(b.stop(), EVENT_WAIT)
        assert sorted(
            n.data.transport for n in from_sender(recorder, bob, "BonjourAccountRegistrationDidEnd")
        ) == [
            "tcp",
            "tls",
            "udp",
        ]
        loop.run_until(
            lambda: count(alice, "BonjourAccountDidRemoveNeighbour")() == 3, EVENT_WAIT, "removals"
        )
        removed = {n.data.neighbour for n in from_sender(recorder, alice, "BonjourAccountDidRemoveNeighbour")}
        assert removed == {data.neighbour for data in added.values()}
        assert a.neighbours == {}
    finally:
        loop.wait(a.stop(), EVENT_WAIT)
        loop.wait(b.stop(), EVENT_WAIT)
    assert count(alice, "BonjourAccountRegistrationDidEnd")() == 3
    assert not recorder.named("BonjourAccountRegistrationDidFail")
    assert not recorder.named("BonjourAccountDiscoveryFailure")


def test_stop_reports_every_known_neighbour_as_removed_locally(
    loop: Loop, recorder: NotificationRecorder
) -> None:
    """Stopping discovery empties the neighbour list, and observers hear a removal for each entry,
    so an application's list never keeps neighbours it can no longer track."""
    alice, bob = Sender("alice"), Sender("bob")
    only_udp = ("udp",)
    a = BonjourServices(
        alice,
        contacts("alice", 5070),
        "Alice",
        interfaces=LOOPBACK,
        transports=only_udp,
        reactor=loop.reactor,
    )
    b = BonjourServices(
        bob, contacts("bob", 5080), "Bob", interfaces=LOOPBACK, transports=only_udp, reactor=loop.reactor
    )
    track(a, b)
    try:
        a.start(), b.start()
        loop.run_until(lambda: neighbours_of(a), 2 * EVENT_WAIT, "A sees B")
        (description,) = neighbours_of(a)
        loop.wait(a.stop(), EVENT_WAIT)
        removed = from_sender(recorder, alice, "BonjourAccountDidRemoveNeighbour")
        assert [n.data.neighbour for n in removed] == [description]
        assert a.neighbours == {}
    finally:
        loop.wait(a.stop(), EVENT_WAIT)
        loop.wait(b.stop(), EVENT_WAIT)


def test_a_transport_dropped_from_the_contacts_is_withdrawn_and_its_neighbour_removed(
    loop: Loop, recorder: NotificationRecorder
) -> None:
    """update_registrations() withdraws the service of a transport that no longer has a contact:
    RegistrationDidEnd for it here, DidRemoveNeighbour for it on the other side."""
    alice, bob = Sender("alice"), Sender("bob")
    bob_contacts = {"udp": SIPURI("127.0.0.1", user="bob", port=5080)}
    only_udp = ("udp",)
    a = BonjourServices(
        alice,
        contacts("alice", 5070),
        "Alice",
        interfaces=LOOPBACK,
        transports=only_udp,
        reactor=loop.reactor,
    )
    b = BonjourServices(
        bob, lambda: dict(bob_contacts), "Bob", interfaces=LOOPBACK, transports=only_udp, reactor=loop.reactor
    )
    track(a, b)
    try:
        a.start(), b.start()
        loop.run_until(lambda: neighbours_of(a), 2 * EVENT_WAIT, "A sees B")
        del bob_contacts["udp"]
        loop.wait(b.update_registrations(), EVENT_WAIT)
        assert [n.data.transport for n in from_sender(recorder, bob, "BonjourAccountRegistrationDidEnd")] == [
            "udp"
        ]
        loop.run_until(lambda: not neighbours_of(a), EVENT_WAIT, "A loses B")
        assert len(from_sender(recorder, alice, "BonjourAccountDidRemoveNeighbour")) == 1
        assert b.active, "withdrawing one transport does not stop discovery"
    finally:
        loop.wait(a.stop(), EVENT_WAIT)
        loop.wait(b.stop(), EVENT_WAIT)


def test_an_interface_that_does_not_exist_fails_registration_and_discovery_with_a_reason(
    loop: Loop, recorder: NotificationRecorder
) -> None:
    """192.0.2.1 (TEST-NET-1) is on no interface: every transport gets RegistrationDidFail and
    DiscoveryDidFail naming the interface, nothing succeeds, and stop still completes."""
    sender = Sender("nowhere")
    services = BonjourServices(
        sender, contacts("nobody", 5090), "Nobody", interfaces=["192.0.2.1"], reactor=loop.reactor
    )
    loop.wait(services.start(), EVENT_WAIT)
    loop.wait(services.stop(), EVENT_WAIT)
    failed = from_sender(recorder, sender, "BonjourAccountRegistrationDidFail")
    assert sorted(n.data.transport for n in failed) == ["tcp", "tls", "udp"]
    discovery = from_sender(recorder, sender, "BonjourAccountDiscoveryDidFail")
    assert sorted(n.data.transport for n in discovery) == ["tcp", "tls", "udp"]
    for n in failed + discovery:
        assert "192.0.2.1" in n.data.reason
        assert n.data.timestamp is not None
    assert not recorder.named("BonjourAccountRegistrationDidSucceed")
    assert not recorder.named("BonjourAccountRegistrationDidEnd")


def test_unknown_transports_are_refused_and_an_inactive_instance_ignores_updates_and_stop(
    loop: Loop, recorder: NotificationRecorder
) -> None:
    """Only udp/tcp/tls can be published; update_registrations and stop before start do nothing."""
    with pytest.raises(ValueError, match="sctp"):
        BonjourServices(object(), dict, transports=("udp", "sctp"))
    services = BonjourServices(object(), contacts("x", 5000), interfaces=LOOPBACK, reactor=loop.reactor)
    assert loop.wait(services.update_registrations()) is None
    assert loop.wait(services.stop()) is None
    assert not services.active
    assert recorder.notifications == []


# -- two processes ----------------------------------------------------------------------------------

PEER_SCRIPT = """
import json, sys, threading
from twisted.internet import reactor
from sipsimple.account.bonjour import BonjourServices
from sipsimple.core.sip.uri import SIPURI
from sipsimple.notification import NotificationCenter

user, port, display_name = sys.argv[1], int(sys.argv[2]), sys.argv[3]

class Printer:
    def handle_notification(self, notification):
        data = {k: str(v) for k, v in vars(notification.data).items() if k != "timestamp"}
        if "neighbour" in data:
            data["neighbour"] = notification.data.neighbour.name
        print(json.dumps({"event": notification.name, **data}), flush=True)

services = BonjourServices(
    "peer", lambda: {"udp": SIPURI("127.0.0.1", user=user, port=port)}, display_name,
    interfaces=["127.0.0.1"], transports=("udp",), reactor=reactor,
)
NotificationCenter().add_observer(Printer(), sender="peer")

def commands():
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "rename":
            def rename(name=argument):
                services.display_name = name
                services.update_registrations()
            reactor.callFromThread(rename)
        elif command == "stop":
            break
    reactor.callFromThread(lambda: services.stop().addBoth(lambda _: reactor.stop()))

reactor.callWhenRunning(services.start)
threading.Thread(target=commands, daemon=True).start()
reactor.run(installSignalHandlers=False)
"""


class Peer:
    """A BonjourServices in a child process: its notifications arrive as JSON lines."""

    def __init__(self, script: Path, user: str, port: int, display_name: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPOSITORY))
        self.process = subprocess.Popen(
            [sys.executable, str(script), user, str(port), display_name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPOSITORY,
            env=env,
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.put(json.loads(line))

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def expect(self, event: str, **attributes: str) -> dict[str, Any]:
        """The first (already seen or next) notification ``event`` with these attributes, within EVENT_WAIT."""

        def matches(item: dict[str, Any]) -> bool:
            return item["event"] == event and all(item.get(k) == v for k, v in attributes.items())

        for item in self.seen:
            if matches(item):
                self.seen.remove(item)
                return item
        while True:
            try:
                item = self.events.get(timeout=EVENT_WAIT)
            except queue.Empty:
                raise AssertionError(
                    f"no {event} {attributes} within {EVENT_WAIT} s; saw {self.seen}"
                ) from None
            if matches(item):
                return item
            self.seen.append(item)

    def close(self) -> int:
        if self.process.poll() is None:
            try:
                self.send("stop")
            except BrokenPipeError:
                pass
            try:
                self.process.wait(EVENT_WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        return self.process.returncode


def test_two_processes_discover_each_other_see_a_rename_and_a_departure(tmp_path: Path) -> None:
    """Separate processes (separate zeroconf sockets) find each other over mDNS on 127.0.0.1, and a
    rename and a stop in one reach the other as DidUpdateNeighbour and DidRemoveNeighbour."""
    script = tmp_path / "bonjour_peer.py"
    script.write_text(PEER_SCRIPT)
    alice = Peer(script, "alice", 5170, "Alice")
    bob = Peer(script, "bob", 5180, "Bob")
    try:
        alice.expect("BonjourAccountRegistrationDidSucceed", transport="udp")
        bob.expect("BonjourAccountRegistrationDidSucceed", transport="udp")
        seen_by_alice = alice.expect("BonjourAccountDidAddNeighbour", uri="sip:bob@127.0.0.1:5180")
        assert seen_by_alice["display_name"] == "Bob"
        seen_by_bob = bob.expect("BonjourAccountDidAddNeighbour", uri="sip:alice@127.0.0.1:5170")
        assert seen_by_bob["display_name"] == "Alice"

        bob.send("rename Bobby")
        update = alice.expect("BonjourAccountDidUpdateNeighbour", display_name="Bobby")
        assert update["neighbour"] == seen_by_alice["neighbour"]
        assert update["uri"] == "sip:bob@127.0.0.1:5180"

        bob.send("stop")
        bob.expect("BonjourAccountRegistrationDidEnd", transport="udp")
        alice.expect("BonjourAccountDidRemoveNeighbour", neighbour=seen_by_alice["neighbour"])
        assert bob.close() == 0
    finally:
        alice.close()
        bob.close()
