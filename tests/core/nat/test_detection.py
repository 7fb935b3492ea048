"""The application's NAT type detection: which STUN servers it uses (the account's list, host names
resolved, else the DNS lookup of its domain), trying the next server, its time bound and cancel,
the reasons it logs when there is nothing to do, and SIPApplication setting ``local_nat_type`` and
posting ``SIPApplicationDidDetectNATType`` against the in-process STUN server."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock

from sipsimple.account import AccountManagerBase
from sipsimple.application import SIPApplicationBase
from sipsimple.configuration import ConfigurationManager
from sipsimple.configuration.datatypes import SIPAddress, STUNServerAddress
from sipsimple.core.engine import SIPEngine
from sipsimple.core.nat.behaviour import Filtering, Mapping, NATBehaviour
from sipsimple.core.nat.detection import LocalNATTypeDetection
from sipsimple.core.nat.runner import StunFailure
from sipsimple.core.nat.stun import TransportAddress
from sipsimple.notification import NotificationCenter
from sipsimple.storage import MemoryStorage
from sipsimple.threading import TwistedThread
from tests.core.nat.stun_server import FakeSTUNServer
from tests.support.notifications import NotificationRecorder
from tests.support.reactor import Loop, fresh_reactor
from tests.support.wait import wait_for

LOCAL = TransportAddress("10.0.0.2", 5000)


def behaviour(server: tuple[str, int], *, blocked: bool = False) -> NATBehaviour:
    mapped = None if blocked else TransportAddress("203.0.113.5", 40000)
    return NATBehaviour(
        LOCAL,
        TransportAddress(*server),
        mapped,
        mapping=Mapping.ENDPOINT_INDEPENDENT,
        filtering=Filtering.ADDRESS_DEPENDENT,
    )


def account(servers: list[str] | None = None, domain: str = "example.test") -> Any:
    return SimpleNamespace(
        id=SIPAddress(f"alice@{domain}"),
        nat_traversal=SimpleNamespace(
            stun_server_list=None if servers is None else list(map(STUNServerAddress, servers))
        ),
    )


class Scripted:
    """A stand-in for detect_nat_behaviour: answers per server from a table, records the calls."""

    def __init__(self, answers: dict[tuple[str, int], Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, int]] = []
        self.pending: list[Deferred[Any]] = []

    def __call__(self, server: tuple[str, int], *, reactor: Any, clock: Any) -> Deferred[Any]:
        self.calls.append(server)
        answer = self.answers.get(server, "hang")
        if answer == "hang":
            deferred: Deferred[Any] = Deferred()
            self.pending.append(deferred)
            return deferred
        if isinstance(answer, Exception):
            return fail(answer)
        return succeed(answer)


def run(
    account: Any,
    detect: Scripted,
    *,
    lookup: Any = None,
    reactor: Any = None,
    clock: Any = None,
    **options: Any,
):
    detected: list[NATBehaviour] = []
    detection = LocalNATTypeDetection(
        reactor or SimpleNamespace(),
        account,
        lookup,
        detected.append,
        clock=clock or Clock(),
        detect=detect,
        **options,
    )
    outcome: list[Any] = []
    detection.start().addBoth(outcome.append)
    return detection, detected, outcome


def test_the_accounts_stun_server_list_is_used_in_order_and_the_result_reported():
    first = ("192.0.2.1", 3478)
    detect = Scripted({first: behaviour(first)})
    detection, detected, outcome = run(account(["192.0.2.1", "192.0.2.2:3479"]), detect)
    assert detect.calls == [first]
    assert (
        detected == [behaviour(first)]
        and outcome == [behaviour(first)]
        and detection.result == behaviour(first)
    )
    assert detected[0].nat_type == "Endpoint-Independent Mapping, Address-Dependent Filtering"


def test_a_blocked_or_failing_server_is_followed_by_the_next_one():
    servers = [("192.0.2.1", 3478), ("192.0.2.2", 3478), ("192.0.2.3", 3478)]
    detect = Scripted(
        {
            servers[0]: behaviour(servers[0], blocked=True),
            servers[1]: StunFailure("refused"),
            servers[2]: behaviour(servers[2]),
        }
    )
    _, detected, _ = run(account([f"{h}:{p}" for h, p in servers]), detect)
    assert detect.calls == servers and detected == [behaviour(servers[2])]


def test_when_every_server_is_blocked_blocked_is_the_answer_and_at_most_max_servers_are_tried():
    servers = [(f"192.0.2.{n}", 3478) for n in range(1, 6)]
    detect = Scripted({server: behaviour(server, blocked=True) for server in servers})
    _, detected, _ = run(account([h for h, _ in servers]), detect, max_servers=2)
    assert detect.calls == servers[:2] and [b.nat_type for b in detected] == ["Blocked"]


def test_host_names_in_the_list_are_resolved_through_the_reactor():
    resolved: list[str] = []

    def resolve(name: str) -> Deferred[str]:
        resolved.append(name)
        return succeed("192.0.2.9")

    detect = Scripted({("192.0.2.9", 3479): behaviour(("192.0.2.9", 3479))})
    _, detected, _ = run(
        account(["stun.example.test:3479"]), detect, reactor=SimpleNamespace(resolve=resolve)
    )
    assert resolved == ["stun.example.test"] and len(detected) == 1


def test_without_a_list_the_stun_servers_of_the_account_domain_are_looked_up():
    asked: list[str] = []

    def lookup(domain: str) -> Deferred[list[tuple[str, int]]]:
        asked.append(domain)
        return succeed([("192.0.2.5", 3478)])

    detect = Scripted({("192.0.2.5", 3478): behaviour(("192.0.2.5", 3478))})
    _, detected, _ = run(account(None, domain="example.test"), detect, lookup=lookup)
    assert asked == ["example.test"] and detect.calls == [("192.0.2.5", 3478)] and len(detected) == 1


@pytest.mark.parametrize(
    ("the_account", "lookup", "reason"),
    [
        (None, None, "there is no default account"),
        (SimpleNamespace(id="bonjour@local"), None, "has no STUN settings"),
        (account(None), None, "there is no DNS lookup"),
        (account(None), lambda domain: succeed([]), "no STUN server found for example.test"),
        (
            account(None),
            lambda domain: fail(RuntimeError("SERVFAIL")),
            "no STUN server found for example.test: SERVFAIL",
        ),
    ],
)
def test_without_a_server_nothing_is_detected_and_the_reason_is_logged(the_account, lookup, reason, caplog):
    detect = Scripted({})
    with caplog.at_level(logging.INFO, logger="sipsimple.core.nat.detection"):
        detection, detected, outcome = run(the_account, detect, lookup=lookup)
    assert detected == [] and outcome == [None] and detect.calls == []
    assert reason in (detection.reason or "") and reason in caplog.text


def test_a_detection_that_takes_too_long_is_cancelled_at_its_timeout():
    clock = Clock()
    detect = Scripted({})  # hangs
    detection, detected, outcome = run(account(["192.0.2.1"]), detect, clock=clock, timeout=20)
    clock.advance(19.9)
    assert outcome == []
    clock.advance(0.1)
    assert outcome == [None] and detected == [] and "no result within 20 s" in (detection.reason or "")
    assert detect.pending[0].called  # the discovery under way was cancelled too
    assert clock.getDelayedCalls() == []


def test_cancel_stops_it_without_a_result_and_start_runs_once():
    clock = Clock()
    detection, detected, outcome = run(account(["192.0.2.1"]), Scripted({}), clock=clock)
    with pytest.raises(RuntimeError):
        detection.start()
    detection.cancel()
    assert outcome == [None] and detected == [] and detection.reason == "cancelled"
    detection.cancel()  # again: nothing happens
    assert clock.getDelayedCalls() == []


def test_a_real_detection_against_the_in_process_server_finds_open_internet():
    with fresh_reactor() as reactor:
        loop = Loop(reactor)
        server = FakeSTUNServer(reactor).start()
        try:
            detected: list[NATBehaviour] = []
            servers = [f"{server.primary.host}:{server.primary.port}"]
            detection = LocalNATTypeDetection(reactor, account(servers), None, detected.append)
            result = loop.wait(detection.start())
            assert result is not None and result.nat_type == "Open Internet" and detected == [result]
        finally:
            server.stop()
            loop.turn()


# -- SIPApplication -----------------------------------------------------------------------------------


@pytest.fixture
def app() -> Iterator[SIPApplicationBase]:
    """An application on its own Twisted thread and fresh reactor (as in tests/application)."""
    ConfigurationManager().stop()
    with fresh_reactor() as reactor:
        twisted_thread = TwistedThread(reactor)
        engine = SIPEngine(reactor=reactor)
        manager = AccountManagerBase(engine=engine, twisted_thread=twisted_thread, unregister_timeout=0.3)
        application = SIPApplicationBase(
            twisted_thread=twisted_thread,
            engine=engine,
            account_manager=manager,
            engine_options={"ip_address": "127.0.0.1"},
            stop_timeout=2.0,
        )
        try:
            yield application
        finally:
            if application.running:
                application.stop()
            if twisted_thread.thread is not None:
                twisted_thread.thread.join(5)
                assert not twisted_thread.thread.is_alive()
            ConfigurationManager().stop()


def test_the_application_detects_its_nat_type_after_start_and_posts_it(app):
    recorder = NotificationRecorder()
    NotificationCenter().add_observer(recorder)
    server = FakeSTUNServer(app.engine.reactor).start()  # the reactor does not run yet: binding is safe
    storage = MemoryStorage()
    storage.configuration_backend.save(
        {
            "Accounts": {
                "alice@example.test": {
                    "enabled": "true",
                    "sip": {"register": "false"},
                    "nat_traversal": {"stun_server_list": [f"{server.primary.host}:{server.primary.port}"]},
                }
            },
            "SIPSimpleSettings": {
                "default_account": "alice@example.test",
                "sip": {"transport_list": ["udp"]},
            },
        }
    )
    app.start(storage)
    wait_for(lambda: recorder.named("SIPApplicationDidDetectNATType"), "the NAT type", 5.0)
    assert app.local_nat_type == "Open Internet"
    [notification] = recorder.named("SIPApplicationDidDetectNATType")
    assert notification.sender is app and notification.data.nat_type == "Open Internet"
    assert notification.data.behaviour.server == server.primary and notification.data.timestamp is not None
    names = recorder.names("SIPApplication")
    assert names.index("SIPApplicationDidStart") < names.index("SIPApplicationDidDetectNATType")
    app.twisted_thread.call_and_wait(server.stop, timeout=5)
    app.stop()
    wait_for(lambda: recorder.named("SIPApplicationDidEnd"), "the end", 5.0)
