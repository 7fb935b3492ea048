"""The shared request machinery (``_client``), seen through Message on a fake transport and a Clock:
digest answers (stale nonces, a proxy and a registrar both challenging), 408/503 mapping, the
overall timeout, failover to the next address, and the headers given to notifications."""

from __future__ import annotations

import pytest

from sipsimple.core.primitives import Message, StaticResolver
from sipsimple.core.primitives._client import headers_of
from sipsimple.core.sip.auth import Verdict
from sipsimple.core.sip.credentials import Credentials
from sipsimple.core.sip.headers import RouteHeader
from sipsimple.core.sip.message import parse_message
from sipsimple.core.sip.transport import TransportAddress
from sipsimple.core.sip.uri import SIPURI

from .conftest import ALICE, BOB, ROUTE

CREDENTIALS = Credentials("alice", "secret-alice")
PROXY = RouteHeader(SIPURI("proxy.example.test", port=5060))
TWO_ADDRESSES = StaticResolver({"proxy.example.test": ["127.0.0.2", "127.0.0.3"]})


def message(fake, route=ROUTE, credentials=CREDENTIALS, **options):
    return Message(ALICE, BOB, route, "text/plain", "hello", credentials, engine=fake, **options)


def destinations(fake):
    return [str(destination) for _, destination in fake.requests()]


def test_a_407_then_a_401_are_both_answered_and_both_answers_kept(fake, recorder, digest):
    message(fake).send()
    fake.reply(407, [("Proxy-Authenticate", digest.challenge())])
    second = fake.unanswered()
    assert second.get("Proxy-Authorization") is not None and second.get("Authorization") is None
    fake.reply(401, [("WWW-Authenticate", digest.challenge())])
    third = fake.unanswered()
    proxy_answer = third.get("Proxy-Authorization").body
    server_answer = third.get("Authorization").body
    assert digest.check(proxy_answer, "MESSAGE", third.request_uri, third.body) is Verdict.ACCEPTED
    assert digest.check(server_answer, "MESSAGE", third.request_uri, third.body) is Verdict.ACCEPTED
    fake.reply(200)
    assert [r.cseq.number for r, _ in fake.requests()] == [1, 2, 3]
    assert len({r.call_id for r, _ in fake.requests()}) == 1
    assert recorder.named("SIPMessageDidSucceed")[0].data.code == 200


def test_a_stale_nonce_is_answered_again_and_is_not_taken_for_a_wrong_password(fake, recorder, digest):
    message(fake).send()
    fake.reply(401, [("WWW-Authenticate", digest.challenge())])
    fake.reply(401, [("WWW-Authenticate", digest.challenge(stale=True))])
    third = fake.unanswered()
    assert 'nonce="n1"' in third.get("Authorization").body
    fake.reply(200)
    assert recorder.names() == ["SIPMessageDidSucceed"]


def test_a_server_that_keeps_saying_stale_is_given_up_on(fake, recorder, digest):
    message(fake).send()
    fake.reply(401, [("WWW-Authenticate", digest.challenge())])
    for _ in range(5):
        if recorder.notifications:
            break
        fake.reply(401, [("WWW-Authenticate", digest.challenge(stale=True))])
    [failed] = recorder.named("SIPMessageDidFail")
    assert failed.data.code == 401
    assert len(fake.requests()) == 4  # the answer, then two stale retries (max_stale_retries=2)


def test_a_challenge_without_credentials_is_reported(fake, recorder, digest):
    message(fake, credentials=None).send()
    fake.reply(407, [("Proxy-Authenticate", digest.challenge())])
    [failed] = recorder.named("SIPMessageDidFail")
    assert failed.data.code == 407 and "Proxy-Authenticate" in failed.data.headers
    assert len(fake.requests()) == 1


def test_a_challenge_in_an_unknown_scheme_is_not_answered(fake, recorder):
    message(fake).send()
    fake.reply(401, [("WWW-Authenticate", 'Bearer realm="example.test"')])
    assert recorder.named("SIPMessageDidFail")[0].data.code == 401
    assert len(fake.requests()) == 1


def test_no_answer_is_a_408_after_timer_f(fake, recorder):
    message(fake).send()
    fake.clock.pump([0.5] * 63)
    assert recorder.notifications == []
    fake.clock.pump([0.5] * 2)
    [failed] = recorder.named("SIPMessageDidFail")
    assert failed.data.code == 408 and "udp:127.0.0.2:5060" in failed.data.reason
    assert (failed.data.headers, failed.data.body) == ({}, b"")


def test_the_timeout_argument_bounds_the_whole_exchange(fake, recorder):
    message(fake).send(timeout=3)
    fake.clock.advance(2.9)
    assert recorder.notifications == []
    fake.clock.advance(0.1)
    [failed] = recorder.named("SIPMessageDidFail")
    assert failed.data.code == 408
    fake.reply(200)  # a late answer is ignored
    assert recorder.names() == ["SIPMessageDidFail"]


def test_a_transport_failure_is_reported_as_503_with_the_reason(fake, recorder):
    fake.transport.failing.add(TransportAddress("udp", "127.0.0.2", 5060))
    message(fake).send()
    [failed] = recorder.named("SIPMessageDidFail")
    assert failed.data.code == 503 and "connection refused" in failed.data.reason


def test_a_timeout_moves_on_to_the_next_address(fake, recorder):
    message(fake, route=PROXY, resolver=TWO_ADDRESSES).send()
    fake.clock.pump([0.5] * 65)
    assert destinations(fake) == ["udp:127.0.0.2:5060", "udp:127.0.0.3:5060"]
    fake.reply(200)
    assert recorder.names() == ["SIPMessageDidSucceed"]
    first, second = (request for request, _ in fake.requests())
    assert second.cseq.number == first.cseq.number + 1 and second.call_id == first.call_id


def test_a_transport_failure_moves_on_to_the_next_address_at_once(fake, recorder):
    fake.transport.failing.add(TransportAddress("udp", "127.0.0.2", 5060))
    message(fake, route=PROXY, resolver=TWO_ADDRESSES).send()
    assert destinations(fake) == ["udp:127.0.0.2:5060", "udp:127.0.0.3:5060"]
    fake.reply(202)
    assert recorder.named("SIPMessageDidSucceed")[0].data.code == 202


def test_a_503_moves_on_to_the_next_address_and_the_last_answer_is_reported(fake, recorder):
    message(fake, route=PROXY, resolver=TWO_ADDRESSES).send()
    fake.reply(503)
    fake.reply(503, reason="Overloaded")
    assert destinations(fake) == ["udp:127.0.0.2:5060", "udp:127.0.0.3:5060"]
    [failed] = recorder.named("SIPMessageDidFail")
    assert (failed.data.code, failed.data.reason) == (503, "Overloaded")


def test_a_name_resolves_with_its_tls_name_and_default_port(fake, recorder):
    fake.transport.listeners = (*fake.transport.listeners, TransportAddress("tls", "127.0.0.1", 5061))
    route = RouteHeader(SIPURI("proxy.example.test", secure=True))
    message(fake, route=route, resolver=TWO_ADDRESSES).send()
    assert fake.transport.sent[0][1:] == (TransportAddress("tls", "127.0.0.2", 5061), "proxy.example.test")


def test_a_route_without_a_local_listener_for_its_transport_fails_with_503(fake, recorder):
    route = RouteHeader(SIPURI("127.0.0.2", parameters={"transport": "tls"}))
    message(fake, route=route).send()
    [failed] = recorder.named("SIPMessageDidFail")
    assert failed.data.code == 503 and "No local tls/IPv4 transport" in failed.data.reason
    assert fake.transport.sent == []


def test_an_unresolvable_route_fails_with_503(fake, recorder):
    message(fake, route=PROXY, resolver=StaticResolver()).send()
    [failed] = recorder.named("SIPMessageDidFail")
    assert failed.data.code == 503 and "proxy.example.test" in failed.data.reason


def test_a_provisional_response_is_not_final(fake, recorder):
    message(fake).send()
    fake.answer(fake.unanswered(), 100)
    assert recorder.notifications == []


@pytest.mark.parametrize("code", [302, 404, 488, 603])
def test_other_final_answers_are_reported_with_headers_and_body(fake, recorder, code):
    message(fake).send()
    fake.reply(code, [("Warning", '399 example.test "nope"')], body=b"why")
    [failed] = recorder.named("SIPMessageDidFail")
    assert failed.data.code == code and failed.data.body == b"why"
    assert failed.data.headers["Warning"][0].text == "nope"


def test_headers_of_gives_lists_for_list_headers_and_one_value_otherwise():
    response = parse_message(
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP b;branch=z9hG4bK2\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n"
        b"SIP-ETag: abc\r\nExpires: nonsense\r\nContent-Length: 0\r\n\r\n"
    )
    headers = headers_of(response)
    assert [via.host for via in headers["Via"]] == ["a", "b"]
    assert headers["From"].tag == "1" and headers["SIP-ETag"].body == "abc"
    assert headers["Expires"].body == "nonsense"  # malformed: kept as text
