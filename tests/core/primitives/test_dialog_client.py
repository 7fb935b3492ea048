"""DialogRequest (``_dialog_client.py``) on a fake transport and a Clock: each transmission is built
by the dialog (CSeq+1 for a re-send), digest challenges, failover between the next hop's addresses
after a 503, a timeout or a transport failure, the 408/503 mapping, what ends the dialog, the
overall timeout, cancel(), and the small helpers."""

from __future__ import annotations

import itertools

import pytest

from sipsimple.core.primitives._client import Authenticator
from sipsimple.core.primitives._dialog_client import DialogRequest, Timers, local_contact_for, timer_t1
from sipsimple.core.primitives.route import StaticResolver
from sipsimple.core.sip.auth import DigestServer
from sipsimple.core.sip.credentials import Credentials
from sipsimple.core.sip.dialog import Dialog
from sipsimple.core.sip.transport import TransportAddress
from sipsimple.core.sip.uri import SIPURI

from .dialog_fakes import DialogFakeEngine, subscribe_request
from .servers import PASSWORDS, REALM

RESOLVER = StaticResolver(
    {"peers.example.test": ["127.0.0.2", "127.0.0.3"], "tls.example.test": ["127.0.0.4"]}
)


@pytest.fixture
def fake() -> DialogFakeEngine:
    return DialogFakeEngine()


def dialog_to(target: str) -> Dialog:
    """A confirmed dialog (we are the UAS of the peer's SUBSCRIBE) whose remote target is ``target``."""
    request = subscribe_request()
    request.set("Contact", f"<{target}>")
    dialog = Dialog.from_uas(
        request, "ours", local_contact=SIPURI("127.0.0.1", port=5060), secure_transport=False
    )
    dialog.create_response(request, 200)
    return dialog


def start(fake, dialog, results, credentials=None, timeout=None, method="NOTIFY") -> DialogRequest:
    request = DialogRequest(
        fake,
        dialog,
        method,
        resolver=RESOLVER,
        authenticator=Authenticator(credentials),
        on_done=results.append,
        extra_headers=[("Event", "presence"), ("Subscription-State", "active")],
        timeout=timeout,
    )
    request.start()
    return request


def test_each_transmission_is_a_new_request_of_the_dialog_and_challenges_are_answered(fake):
    counter = itertools.count()
    digest = DigestServer(
        REALM, PASSWORDS.get, lambda: f"n{next(counter)}", fake.clock.seconds, algorithms=("MD5",)
    )
    dialog = dialog_to("sip:peer@127.0.0.2:5070")
    results = []
    start(fake, dialog, results, credentials=Credentials("alice", "secret-alice"))
    first = fake.reply(401, [("WWW-Authenticate", digest.challenge())])
    assert first.request_uri == "sip:peer@127.0.0.2:5070" and first.cseq.number == 1
    assert (
        first.from_header.tag == "ours"
        and first.to_header.tag == "peer-tag"
        and first.call_id == "sub-1@peer"
    )
    second = fake.reply(200)
    assert second.cseq.number == 2 and second.get("Authorization") is not None
    assert str(fake.destination_of(second)) == "udp:127.0.0.2:5070"
    [result] = results
    assert (result.code, result.dialog_gone) == (200, False) and result.response is not None
    assert dialog.local_cseq == 2


def test_a_503_moves_to_the_next_address_with_the_next_cseq(fake):
    results = []
    start(fake, dialog_to("sip:peer@peers.example.test"), results)
    first = fake.reply(503)
    second = fake.reply(200)
    assert [str(fake.destination_of(r)) for r in (first, second)] == [
        "udp:127.0.0.2:5060",
        "udp:127.0.0.3:5060",
    ]
    assert second.cseq.number == first.cseq.number + 1 and results[0].code == 200


def test_timeouts_fail_over_and_the_last_one_is_408_and_ends_the_dialog(fake):
    dialog = dialog_to("sip:peer@peers.example.test")
    results = []
    start(fake, dialog, results)
    fake.clock.advance(32)
    assert len(fake.sent("NOTIFY")) == 2 and results == []
    fake.clock.advance(32)
    [result] = results
    assert result.code == 408 and "No response from udp:127.0.0.3:5060" in result.reason
    assert result.dialog_gone and dialog.terminated


def test_a_transport_failure_on_the_last_address_is_503_and_keeps_the_dialog(fake):
    fake.transport.failing = {TransportAddress("udp", "127.0.0.2", 5060)}
    dialog = dialog_to("sip:peer@127.0.0.2")
    results = []
    start(fake, dialog, results)
    [result] = results
    assert result.code == 503 and "Cannot reach" in result.reason
    assert not result.dialog_gone and not dialog.terminated


@pytest.mark.parametrize("code", [481, 408])
def test_a_481_or_408_response_ends_the_dialog(fake, code):
    dialog = dialog_to("sip:peer@127.0.0.2")
    results = []
    start(fake, dialog, results)
    fake.reply(code)
    assert results[0].dialog_gone and dialog.terminated


def test_a_terminated_dialog_gets_481_at_once_without_sending(fake):
    dialog = dialog_to("sip:peer@127.0.0.2")
    dialog.terminate()
    results = []
    start(fake, dialog, results)
    assert results[0].code == 481 and fake.requests() == []


def test_an_unresolvable_next_hop_or_one_without_a_listener_is_503(fake):
    results = []
    start(fake, dialog_to("sip:peer@unknown.example.test"), results)
    start(fake, dialog_to("sip:peer@tls.example.test;transport=tls"), results)
    assert [r.code for r in results] == [503, 503]
    assert "Cannot resolve" in results[0].reason
    assert "No local tls/IPv4 transport" in results[1].reason
    assert fake.requests() == []


def test_the_overall_timeout_gives_408_and_a_late_answer_is_ignored(fake):
    dialog = dialog_to("sip:peer@127.0.0.2")
    results = []
    start(fake, dialog, results, timeout=5)
    fake.clock.advance(5)
    assert [r.code for r in results] == [408] and not dialog.terminated
    fake.reply(200)
    assert len(results) == 1


def test_cancel_stops_the_report(fake):
    results = []
    request = start(fake, dialog_to("sip:peer@127.0.0.2"), results)
    request.cancel()
    fake.reply(200)
    assert results == []


def test_timers_replace_cancel_and_tell_the_time_left(fake):
    timers = Timers(fake.clock)
    fired = []
    timers.set("a", 10, lambda: fired.append("a1"))
    timers.set("a", 20, lambda: fired.append("a2"))
    assert timers.remaining("a") == 20 and "a" in timers and timers.remaining("b") is None
    fake.clock.advance(10)
    assert fired == []
    fake.clock.advance(10)
    assert fired == ["a2"] and "a" not in timers
    timers.set("b", 1, lambda: fired.append("b"))
    timers.cancel_all()
    fake.clock.advance(5)
    assert fired == ["a2"]


def test_local_contacts_and_t1(fake):
    assert (
        str(local_contact_for(TransportAddress("udp", "127.0.0.1", 5062), "bob")) == "sip:bob@127.0.0.1:5062"
    )
    tcp = local_contact_for(TransportAddress("tcp", "::1", 5062))
    assert str(tcp) == "sip:[::1]:5062;transport=tcp"
    assert timer_t1(fake) == 0.5 and timer_t1(object()) == 0.5
