"""Two processes with a BonjourAccount on 127.0.0.1 find each other over real mDNS, talk SIP to the
contact they found, see each other's display name change, and see each other go.

Alice is a SIPApplication in the test process (its own Twisted thread and fresh reactor); Bob and
Carol are SIPApplications in child processes (tests/interop/peers/bonjour_app.py) that report their
notifications as JSON and take commands. Carol only watches: she is there to see Alice go when
Alice's application stops (Bob, who is gone by then, cannot). Both sides are checked: the
notifications Alice's process receives, and the ones Bob's and Carol's report. Every neighbour
notification has exactly the attributes of the catalogue (tests/account/test_notification_catalogue.py).

Real mDNS on 127.0.0.1 only, inside the interop suite's private network namespace. Waits are for
network events and bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sipsimple.account import AccountManagerBase, BonjourAccount
from sipsimple.account.bonjour import SERVICE_TYPES, BonjourServiceDescription
from sipsimple.application import SIPApplicationBase
from sipsimple.configuration import ConfigurationManager
from sipsimple.core.engine import SIPEngine
from sipsimple.core.primitives import Message
from sipsimple.core.sip.headers import FromHeader, RouteHeader, ToHeader
from sipsimple.core.sip.uri import SIPURI, FrozenSIPURI
from sipsimple.storage import MemoryStorage
from sipsimple.threading import TwistedThread
from tests.account.test_notification_catalogue import COMPATIBILITY, DOCUMENTED, catalogue_problems
from tests.interop.peers.bonjour_app import EVENT_WAIT, BonjourApp
from tests.support.notifications import NotificationRecorder
from tests.support.reactor import fresh_reactor
from tests.support.wait import wait_for

pytestmark = pytest.mark.interop

TRANSPORTS = ["udp", "tcp"]
TRANSPORT_OF_TYPE = {SERVICE_TYPES[t]: t for t in TRANSPORTS}


@contextmanager
def alice_application(recorder: NotificationRecorder) -> Iterator[SIPApplicationBase]:
    """Alice: a started SIPApplicationBase whose BonjourAccount is enabled, mDNS on 127.0.0.1."""
    ConfigurationManager().stop()
    with fresh_reactor() as reactor:
        twisted_thread = TwistedThread(reactor)
        engine = SIPEngine(reactor=reactor)
        manager = AccountManagerBase(
            engine=engine, twisted_thread=twisted_thread, bonjour_interfaces=["127.0.0.1"]
        )
        application = SIPApplicationBase(
            twisted_thread=twisted_thread,
            engine=engine,
            account_manager=manager,
            engine_options={"ip_address": "127.0.0.1"},
            stop_timeout=5.0,
            dns_nameservers=["127.0.0.1"],
        )
        storage = MemoryStorage()
        storage.configuration_backend.save(
            {
                "SIPSimpleSettings": {"sip": {"transport_list": TRANSPORTS}},
                "Accounts": {"bonjour@local": {"enabled": "true", "display_name": "Alice"}},
            }
        )
        try:
            application.start(storage)
            wait_for(
                lambda: recorder.named("SIPApplicationDidStart"),
                what="Alice's application",
                timeout=EVENT_WAIT,
            )
            yield application
        finally:
            application.stop()
            if twisted_thread.thread is not None:
                twisted_thread.thread.join(EVENT_WAIT)
            ConfigurationManager().stop()


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[Callable[[str], BonjourApp]]:
    """``peers(name)`` starts a BonjourApp child; all of them are stopped when the test ends."""
    started: list[BonjourApp] = []

    def start(name: str) -> BonjourApp:
        peer = BonjourApp(tmp_path / name.lower(), name, TRANSPORTS)
        started.append(peer)
        return peer.start()

    yield start
    for peer in started:
        peer.stop()


def expected_names(event: str) -> set[str]:
    return set(DOCUMENTED[event] | COMPATIBILITY.get(event, frozenset()))


def assert_reported_exactly(peer: BonjourApp) -> None:
    """Every catalogued notification a peer reported had exactly its catalogued attributes."""
    for item in peer.events():
        if item["event"] in DOCUMENTED and item["event"] != "DNSLookupTrace":
            assert set(item["attributes"]) == expected_names(item["event"]), item


def test_two_processes_discover_message_rename_and_lose_each_other(peers, recorder):
    bob = peers("Bob")
    carol = peers("Carol")
    with alice_application(recorder) as alice:
        call = alice.twisted_thread.call_and_wait
        account: Any = call(BonjourAccount, timeout=EVENT_WAIT)
        alice_contacts = call(lambda: {t: str(account.contact[t]) for t in TRANSPORTS}, timeout=EVENT_WAIT)
        (bob_contacts,) = [item["data"] for item in bob.wait_for("BonjourAppContact")]

        # 1. Each side adds the other: one neighbour per transport, with the contact the other has.
        wait_for(
            lambda: (
                len(recorder.named("BonjourAccountDidAddNeighbour", sender=account, display_name="Bob")) == 2
            ),
            what="Alice to find Bob's two services",
            timeout=EVENT_WAIT,
        )
        found_bob = {
            TRANSPORT_OF_TYPE[n.data.service_description.type]: n.data
            for n in recorder.named("BonjourAccountDidAddNeighbour", sender=account, display_name="Bob")
        }
        assert {t: str(data.uri) for t, data in found_bob.items()} == bob_contacts
        for data in found_bob.values():
            assert isinstance(data.uri, FrozenSIPURI)
            assert isinstance(data.service_description, BonjourServiceDescription)
            assert data.neighbour == data.service_description and data.host
        found_alice = bob.wait_for("BonjourAccountDidAddNeighbour", count=2, display_name="Alice")
        assert sorted(item["data"]["uri"] for item in found_alice) == sorted(alice_contacts.values())
        assert {item["types"]["uri"] for item in found_alice} == {"FrozenSIPURI"}
        assert {item["sender"] for item in found_alice} == {"BonjourAccount"}

        # 2. The contact found is real: a MESSAGE to it arrives, both ways.
        def message_bob() -> Message:
            uri = SIPURI.parse(str(found_bob["udp"].uri))
            message = Message(
                FromHeader(account.contact[uri], "Alice"),
                ToHeader(uri),
                RouteHeader(uri),
                "text/plain",
                "hello Bob",
                engine=alice.engine,
            )
            message.send(timeout=5.0)
            return message

        sent = call(message_bob, timeout=EVENT_WAIT)
        wait_for(
            lambda: recorder.named("SIPMessageDidSucceed", sender=sent),
            what="Bob's 200 to the MESSAGE",
            timeout=EVENT_WAIT,
        )
        (got,) = bob.wait_for("SIPEngineGotMessage", body="hello Bob")
        assert got["data"]["request_uri"] == bob_contacts["udp"]
        alice_udp = next(
            item["data"]["uri"] for item in found_alice if ";transport=" not in item["data"]["uri"]
        )
        bob.send("message", uri=alice_udp, body="hello Alice")
        wait_for(
            lambda: recorder.named("SIPEngineGotMessage", body=b"hello Alice"),
            what="Bob's MESSAGE at Alice",
            timeout=EVENT_WAIT,
        )
        bob.wait_for("SIPMessageDidSucceed", code=200)

        # 3. A display name change is an update on the other side, for each of its services.
        bob.send("rename", display_name="Robert")
        wait_for(
            lambda: (
                len(recorder.named("BonjourAccountDidUpdateNeighbour", sender=account, display_name="Robert"))
                == 2
            ),
            what="Alice to see Bob's new name",
            timeout=EVENT_WAIT,
        )
        updated = recorder.named("BonjourAccountDidUpdateNeighbour", sender=account, display_name="Robert")
        assert {n.data.service_description for n in updated} == {
            d.service_description for d in found_bob.values()
        }
        assert {str(n.data.uri) for n in updated} == set(bob_contacts.values())

        def rename_alice() -> None:
            account.display_name = "Alice B."
            account.save()

        call(rename_alice, timeout=EVENT_WAIT)
        renamed = bob.wait_for("BonjourAccountDidUpdateNeighbour", count=2, display_name="Alice B.")
        assert {i["data"]["service_description"] for i in renamed} == {
            i["data"]["service_description"] for i in found_alice
        }

        # 4. Bob stops: his services are withdrawn and Alice removes both of his neighbours.
        bob.send("stop")
        bob.wait_for("SIPApplicationDidEnd")
        assert sorted(
            item["data"]["transport"] for item in bob.seen("BonjourAccountRegistrationDidEnd")
        ) == sorted(TRANSPORTS)
        wait_for(
            lambda: len(recorder.named("BonjourAccountDidRemoveNeighbour", sender=account)) == 2,
            what="Alice to lose Bob",
            timeout=EVENT_WAIT,
        )
        removed = {
            n.data.service_description
            for n in recorder.named("BonjourAccountDidRemoveNeighbour", sender=account)
        }
        assert removed == {data.service_description for data in found_bob.values()}
        assert bob.stop() == 0

        carol_saw_alice = carol.wait_for("BonjourAccountDidAddNeighbour", count=2, display_name="Alice")
        alice_services = {item["data"]["service_description"] for item in carol_saw_alice}
        notifications = recorder.named("BonjourAccountDidAddNeighbour") + recorder.named(
            "BonjourAccountDidUpdateNeighbour"
        )
        assert catalogue_problems(notifications + recorder.named("BonjourAccountDidRemoveNeighbour")) == []

    # 5. Alice's application stops: Carol, still running, removes both of Alice's neighbours.
    assert len(recorder.named("SIPApplicationDidEnd")) == 1
    wait_for(
        lambda: (
            alice_services
            <= {
                item["data"]["service_description"] for item in carol.seen("BonjourAccountDidRemoveNeighbour")
            }
        ),
        what="Carol to lose Alice",
        timeout=EVENT_WAIT,
    )
    assert carol.stop() == 0
    assert_reported_exactly(bob)
    assert_reported_exactly(carol)
