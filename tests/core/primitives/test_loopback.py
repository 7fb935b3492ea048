"""The primitives between two real engines on loopback: an in-process registrar / compositor /
message sink with digest challenges (tests/core/primitives/servers.py). Waits are bounded and only
for network events."""

from __future__ import annotations

import socket

import pytest
from twisted.internet import defer

from sipsimple.core import Credentials, Message, Publication, Registration, Request
from sipsimple.core.primitives import Hop
from sipsimple.core.sip.headers import ContactHeader, RouteHeader
from sipsimple.core.sip.transport import TransportAddress
from sipsimple.core.sip.uri import SIPURI
from tests.support.reactor import WAIT
from tests.support.wait import wait_for_notification

from .conftest import ALICE, BOB

ALICE_CREDENTIALS = Credentials("alice", "secret-alice")


def route_to(engine, transport="udp"):
    return RouteHeader(
        SIPURI("127.0.0.1", port=engine.local_address(transport).port, parameters={"transport": transport})
    )


def contact_of(engine, transport="udp"):
    return ContactHeader(
        SIPURI(
            "127.0.0.1",
            user="alice",
            port=engine.local_address(transport).port,
            parameters={"transport": transport},
        )
    )


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_registration_with_digest_auth_registers_and_end_unregisters(
    loop, client, server_engine, server, recorder, transport
):
    registration = Registration(ALICE, ALICE_CREDENTIALS, duration=120, engine=client)
    contact = contact_of(client, transport)
    registration.register(contact, route_to(server_engine, transport))
    succeeded = wait_for_notification(
        loop, recorder, "SIPRegistrationDidSucceed", "SIPRegistrationDidFail", timeout=WAIT
    )
    assert succeeded.name == "SIPRegistrationDidSucceed", succeeded.data
    assert succeeded.data.expires == 120 and succeeded.data.contact_header.uri == contact.uri
    assert [c.uri for c in succeeded.data.contact_header_list] == [contact.uri]
    bindings = server.bindings["sip:alice@example.test"]
    assert list(bindings) == [str(contact.uri)]
    registration.end()
    ended = wait_for_notification(
        loop, recorder, "SIPRegistrationDidEnd", "SIPRegistrationDidNotEnd", timeout=WAIT
    )
    assert ended.name == "SIPRegistrationDidEnd" and ended.data.expired is False
    assert server.bindings["sip:alice@example.test"] == {}
    # 401, then the answer, then the unregistration with pre-emptive credentials
    assert [r.method for r in server.received] == ["REGISTER"] * 3
    assert len({r.call_id for r in server.received}) == 1


def test_a_wrong_password_is_reported_after_two_registers_and_nothing_more(
    loop, client, server_engine, server, recorder
):
    registration = Registration(ALICE, Credentials("alice", "not-the-password"), engine=client)
    registration.register(contact_of(client), route_to(server_engine))
    failed = wait_for_notification(
        loop, recorder, "SIPRegistrationDidFail", "SIPRegistrationDidSucceed", timeout=WAIT
    )
    assert failed.name == "SIPRegistrationDidFail" and failed.data.code == 401
    loop.turn(50)
    assert server.count("REGISTER") == 2 and not registration.is_registered


def test_423_from_the_registrar_is_retried_with_its_min_expires(
    loop, client, server_engine, server, recorder
):
    server.min_expires = 60
    registration = Registration(ALICE, ALICE_CREDENTIALS, duration=10, engine=client)
    registration.register(contact_of(client), route_to(server_engine))
    succeeded = wait_for_notification(
        loop, recorder, "SIPRegistrationDidSucceed", "SIPRegistrationDidFail", timeout=WAIT
    )
    assert succeeded.name == "SIPRegistrationDidSucceed" and succeeded.data.expires == 60
    assert registration.expires == 60


def test_a_message_challenged_by_407_is_delivered(loop, client, server_engine, server, recorder):
    message = Message(
        ALICE,
        BOB,
        route_to(server_engine, "tcp"),
        "text/plain",
        "hello bob",
        ALICE_CREDENTIALS,
        engine=client,
    )
    message.send(timeout=5)
    done = wait_for_notification(loop, recorder, "SIPMessageDidSucceed", "SIPMessageDidFail", timeout=WAIT)
    assert done.name == "SIPMessageDidSucceed" and done.data.code == 200
    [delivered] = server.messages
    assert delivered.body == b"hello bob" and delivered.get("Proxy-Authorization") is not None
    assert server.count("MESSAGE") == 2


def test_a_publication_publishes_modifies_and_ends(loop, client, server_engine, server, recorder):
    publication = Publication(ALICE, "presence", "application/pidf+xml", ALICE_CREDENTIALS, engine=client)
    route = route_to(server_engine)
    publication.publish(b"<one/>", route)
    wait_for_notification(loop, recorder, "SIPPublicationDidSucceed", "SIPPublicationDidFail", timeout=WAIT)
    assert [e.body for e in server.entities.values()] == [b"<one/>"]
    publication.publish(b"<two/>", route)
    loop.run_until(lambda: len(recorder.named("SIPPublicationDidSucceed")) == 2)
    assert [e.body for e in server.entities.values()] == [b"<two/>"]
    assert publication.etag in server.entities
    publication.end()
    ended = wait_for_notification(
        loop, recorder, "SIPPublicationDidEnd", "SIPPublicationDidNotEnd", timeout=WAIT
    )
    assert ended.name == "SIPPublicationDidEnd" and server.entities == {}


def test_a_publication_the_server_forgot_is_republished_after_412(
    loop, client, server_engine, server, recorder
):
    publication = Publication(ALICE, "presence", "application/pidf+xml", ALICE_CREDENTIALS, engine=client)
    route = route_to(server_engine)
    publication.publish(b"<state/>", route)
    wait_for_notification(loop, recorder, "SIPPublicationDidSucceed", "SIPPublicationDidFail", timeout=WAIT)
    server.entities.clear()  # the compositor lost it (a restart)
    publication.publish(None, route)  # a refresh
    loop.run_until(lambda: len(recorder.named("SIPPublicationDidSucceed")) == 2)
    assert [e.body for e in server.entities.values()] == [b"<state/>"]
    codes = [r.get("SIP-If-Match") is not None for r in server.received]
    assert codes[-2:] == [True, False]  # the refresh, then the full state without SIP-If-Match


def test_a_generic_request_register_is_authenticated_and_expires(
    loop, client, server_engine, server, recorder
):
    contact = contact_of(client)
    request = Request(
        "REGISTER",
        SIPURI("example.test"),
        ALICE,
        ALICE,
        route_to(server_engine),
        ALICE_CREDENTIALS,
        contact_header=ContactHeader(contact.uri, parameters={"expires": "90"}),
        engine=client,
    )
    request.send()
    done = wait_for_notification(loop, recorder, "SIPRequestDidSucceed", "SIPRequestDidFail", timeout=WAIT)
    assert done.name == "SIPRequestDidSucceed" and done.data.expires == 90
    assert request.state == "EXPIRING" and request.cseq == 2
    request.end()
    assert request.state == "TERMINATED"


class FixedHops:
    """A resolver that gives fixed candidates (what an RFC 3263 resolver hands over)."""

    def __init__(self, *hops: Hop) -> None:
        self.hops = list(hops)

    def resolve(self, uri):
        return defer.succeed(self.hops)


def test_a_refused_connection_fails_over_to_the_next_address(loop, client, server_engine, server, recorder):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead_port = closed.getsockname()[1]
    resolver = FixedHops(
        Hop(TransportAddress("tcp", "127.0.0.1", dead_port)),
        Hop(TransportAddress("tcp", "127.0.0.1", server_engine.local_tcp_port)),
    )
    route = RouteHeader(SIPURI("proxy.example.test", parameters={"transport": "tcp"}))
    message = Message(
        ALICE, BOB, route, "text/plain", "failover", ALICE_CREDENTIALS, engine=client, resolver=resolver
    )
    message.send(timeout=5)
    done = wait_for_notification(loop, recorder, "SIPMessageDidSucceed", "SIPMessageDidFail", timeout=WAIT)
    assert done.name == "SIPMessageDidSucceed", done.data.reason
    assert [m.body for m in server.messages] == [b"failover"]
