"""Registration on a fake transport and a Clock: refresh timing, Call-ID/CSeq rules, the expiry
the registrar granted for our contact, 423, wrong passwords, failed refreshes, end(), queueing."""

from __future__ import annotations

import pytest

from sipsimple.core import SIPCoreError
from sipsimple.core.primitives import Registration, refresh_delay
from sipsimple.core.sip.auth import Verdict
from sipsimple.core.sip.credentials import Credentials
from sipsimple.core.sip.headers import ContactHeader, MinExpiresHeader
from sipsimple.core.sip.uri import SIPURI

from .conftest import ALICE, CONTACT, ROUTE

ALICE_CREDENTIALS = Credentials("alice", "secret-alice")


def contact_with(expires, uri=CONTACT.uri):
    return ContactHeader(uri, parameters={"expires": str(expires)})


def registered(fake, recorder, duration=300, granted=None, **options):
    registration = Registration(ALICE, duration=duration, engine=fake, **options)
    registration.register(CONTACT, ROUTE)
    fake.reply(200, [("Contact", [contact_with(duration if granted is None else granted)])])
    assert registration.is_registered
    return registration


@pytest.mark.parametrize(("granted", "refresh_at"), [(300, 270), (3600, 3240), (60, 50), (20, 10), (10, 5)])
def test_the_refresh_is_sent_at_the_documented_point_of_the_granted_expiry(
    fake, recorder, granted, refresh_at
):
    assert refresh_delay(granted) == refresh_at
    registered(fake, recorder, duration=granted)
    fake.clock.advance(refresh_at - 0.01)
    assert fake.methods() == ["REGISTER"]
    fake.clock.advance(0.01)
    assert fake.methods() == ["REGISTER", "REGISTER"]


def test_refreshes_keep_the_call_id_and_from_tag_and_increase_the_cseq(fake, recorder):
    registered(fake, recorder)
    for _ in range(2):
        fake.clock.advance(270)
        fake.reply(200, [("Contact", [contact_with(300)])])
    first, second, third = (request for request, _ in fake.requests())
    assert first.call_id == second.call_id == third.call_id
    assert first.from_header.tag == second.from_header.tag == third.from_header.tag
    assert [r.cseq.number for r in (first, second, third)] == [1, 2, 3]
    assert len(recorder.named("SIPRegistrationDidSucceed")) == 3


def test_the_register_request_follows_rfc_3261_section_10(fake, recorder):
    registration = Registration(ALICE, duration=120, engine=fake)
    registration.register(CONTACT, ROUTE)
    request, destination = fake.requests()[0]
    assert request.request_uri == "sip:example.test"
    assert str(request.to_header.uri) == "sip:alice@example.test" and request.to_header.tag is None
    assert request.from_header.tag and request.from_header.display_name == "Alice"
    [contact] = request.get_all("Contact")
    assert contact.uri == CONTACT.uri and contact.expires == 120
    assert int(request.get("Expires")) == 120
    assert str(request.get("Route").uri) == "sip:127.0.0.2:5060;lr"
    assert str(destination) == "udp:127.0.0.2:5060"


def test_the_expiry_granted_for_our_contact_is_used_not_the_expires_header(fake, recorder):
    registration = Registration(ALICE, duration=600, engine=fake)
    registration.register(CONTACT, ROUTE)
    other = contact_with(3000, SIPURI("192.0.2.9", user="alice"))
    fake.reply(200, [("Contact", [other, contact_with(100)]), ("Expires", "3600")])
    [succeeded] = recorder.named("SIPRegistrationDidSucceed")
    assert succeeded.data.expires == 100 and registration.expires_received == 100
    assert len(succeeded.data.contact_header_list) == 2
    assert succeeded.data.contact_header.uri == CONTACT.uri
    assert (
        succeeded.data.route_header == ROUTE and succeeded.data.code == 200 and succeeded.data.reason == "OK"
    )
    fake.clock.advance(90)  # refresh_delay(100)
    assert fake.methods() == ["REGISTER", "REGISTER"]
    assert fake.last().get("Contact").expires == 600  # the refresh asks for the duration again


def test_without_our_contact_in_the_answer_the_expires_header_is_used(fake, recorder):
    registration = Registration(ALICE, duration=600, engine=fake)
    registration.register(CONTACT, ROUTE)
    fake.reply(200, [("Expires", "200")])
    assert recorder.named("SIPRegistrationDidSucceed")[0].data.expires == 200
    assert registration.expires_received == 200


def test_423_is_retried_once_with_min_expires_which_is_kept_for_refreshes(fake, recorder):
    registration = Registration(ALICE, duration=30, engine=fake)
    registration.register(CONTACT, ROUTE)
    fake.reply(423, [("Min-Expires", MinExpiresHeader(120))])
    retry = fake.unanswered()
    assert retry.get("Contact").expires == 120 and retry.cseq.number == 2
    fake.reply(200, [("Contact", [contact_with(120)])])
    assert recorder.named("SIPRegistrationDidSucceed")[0].data.expires == 120
    assert registration.expires == 120 and registration.duration == 30
    fake.clock.advance(refresh_delay(120))
    assert fake.last().get("Contact").expires == 120


def test_a_second_423_is_reported_with_min_expires(fake, recorder):
    registration = Registration(ALICE, duration=30, engine=fake)
    registration.register(CONTACT, ROUTE)
    fake.reply(423, [("Min-Expires", MinExpiresHeader(120))])
    fake.reply(423, [("Min-Expires", MinExpiresHeader(3600))])
    [failed] = recorder.named("SIPRegistrationDidFail")
    assert (failed.data.code, failed.data.min_expires, failed.data.route_header) == (423, 3600, ROUTE)
    assert fake.methods() == ["REGISTER", "REGISTER"] and not registration.is_registered


def test_a_wrong_password_fails_with_401_after_one_answer_and_never_retries(fake, recorder, digest):
    registration = Registration(ALICE, Credentials("alice", "wrong"), engine=fake)
    registration.register(CONTACT, ROUTE)
    fake.reply(401, [("WWW-Authenticate", digest.challenge())])
    answered = fake.unanswered()
    assert answered.get("Authorization") is not None
    fake.reply(401, [("WWW-Authenticate", digest.challenge())])
    [failed] = recorder.named("SIPRegistrationDidFail")
    assert failed.data.code == 401
    fake.clock.advance(3600)
    assert fake.methods() == ["REGISTER", "REGISTER"]
    assert not registration.is_registered


def test_a_403_after_the_answer_is_reported_as_is(fake, recorder, digest):
    registration = Registration(ALICE, Credentials("alice", "wrong"), engine=fake)
    registration.register(CONTACT, ROUTE)
    fake.reply(401, [("WWW-Authenticate", digest.challenge())])
    fake.reply(403)
    assert recorder.named("SIPRegistrationDidFail")[0].data.code == 403
    assert fake.methods() == ["REGISTER", "REGISTER"]


def test_refreshes_send_credentials_pre_emptively_from_the_remembered_challenge(fake, recorder, digest):
    registration = Registration(ALICE, ALICE_CREDENTIALS, engine=fake)
    registration.register(CONTACT, ROUTE)
    fake.reply(401, [("WWW-Authenticate", digest.challenge())])
    answered = fake.reply(200, [("Contact", [contact_with(300)])])
    fake.clock.advance(270)
    refresh = fake.unanswered()
    first = answered.get("Authorization").body
    again = refresh.get("Authorization").body
    assert "nc=00000001" in first and "nc=00000002" in again
    assert digest.check(first, "REGISTER", answered.request_uri) is Verdict.ACCEPTED
    assert digest.check(again, "REGISTER", refresh.request_uri) is Verdict.ACCEPTED
    fake.reply(200, [("Contact", [contact_with(300)])])
    assert registration.is_registered and fake.methods() == ["REGISTER"] * 3


def test_a_failed_refresh_reports_did_fail_then_will_expire_then_did_end_expired(fake, recorder):
    registration = registered(fake, recorder, duration=300)
    fake.clock.advance(270)
    fake.reply(500)
    [failed] = recorder.named("SIPRegistrationDidFail")
    assert failed.data.code == 500 and registration.is_registered
    assert recorder.named("SIPRegistrationWillExpire") == []
    fake.clock.advance(19.9)  # WillExpire 10 s before the end (300 - 10)
    assert recorder.named("SIPRegistrationWillExpire") == []
    fake.clock.advance(0.1)
    [will_expire] = recorder.named("SIPRegistrationWillExpire")
    assert will_expire.data.expires == 10
    assert registration.is_registered
    fake.clock.advance(10)
    [ended] = recorder.named("SIPRegistrationDidEnd")
    assert ended.data.expired is True and not registration.is_registered
    assert fake.methods() == ["REGISTER", "REGISTER"]  # no refresh after the failure


def test_a_refresh_that_times_out_is_reported_as_408(fake, recorder):
    registered(fake, recorder, duration=600)
    fake.clock.advance(540)
    fake.clock.pump([0.5] * 64)  # Timer F: 64*T1
    [failed] = recorder.named("SIPRegistrationDidFail")
    assert failed.data.code == 408 and "No response" in failed.data.reason


def test_end_unregisters_our_contact_with_expires_0(fake, recorder):
    registration = registered(fake, recorder)
    registration.end()
    request = fake.unanswered()
    assert request.get("Contact").expires == 0 and int(request.get("Expires")) == 0
    assert request.call_id == fake.requests()[0][0].call_id and request.cseq.number == 2
    fake.reply(200)
    assert recorder.names()[-2:] == ["SIPRegistrationWillEnd", "SIPRegistrationDidEnd"]
    assert recorder.named("SIPRegistrationDidEnd")[0].data.expired is False
    assert not registration.is_registered
    fake.clock.advance(3600)
    assert fake.methods() == ["REGISTER", "REGISTER"]  # no refresh and no expiry notification later
    assert len(recorder.named("SIPRegistrationDidEnd")) == 1


def test_a_failed_end_posts_did_not_end_and_the_binding_then_expires(fake, recorder):
    registration = registered(fake, recorder)
    registration.end()
    fake.reply(500, reason="Server Error")
    [not_ended] = recorder.named("SIPRegistrationDidNotEnd")
    assert (not_ended.data.code, not_ended.data.reason) == (500, "Server Error")
    assert registration.is_registered
    fake.clock.advance(300)
    assert recorder.named("SIPRegistrationDidEnd")[0].data.expired is True
    assert fake.methods() == ["REGISTER", "REGISTER"]


def test_end_without_a_registration_does_nothing(fake, recorder):
    registration = Registration(ALICE, engine=fake)
    registration.end()
    assert fake.methods() == [] and recorder.notifications == []


def test_end_while_the_first_register_is_pending_waits_then_unregisters_silently(fake, recorder):
    registration = Registration(ALICE, engine=fake)
    registration.register(CONTACT, ROUTE)
    registration.end()
    assert recorder.names() == ["SIPRegistrationWillEnd"]
    assert fake.methods() == ["REGISTER"]  # one request at a time
    fake.reply(200, [("Contact", [contact_with(300)])])
    assert recorder.named("SIPRegistrationDidSucceed") == []  # the application asked to end
    assert fake.unanswered().get("Contact").expires == 0
    fake.reply(200)
    assert recorder.names() == ["SIPRegistrationWillEnd", "SIPRegistrationDidEnd"]


def test_end_after_a_failed_first_register_ends_without_a_request(fake, recorder):
    registration = Registration(ALICE, engine=fake)
    registration.register(CONTACT, ROUTE)
    registration.end()
    fake.reply(404)
    assert fake.methods() == ["REGISTER"]
    assert recorder.names() == ["SIPRegistrationWillEnd", "SIPRegistrationDidEnd"]


def test_register_while_pending_is_queued_and_the_newest_call_wins(fake, recorder):
    registration = Registration(ALICE, engine=fake)
    registration.register(CONTACT, ROUTE)
    second = ContactHeader(SIPURI("127.0.0.1", user="alice", port=5070))
    third = ContactHeader(SIPURI("127.0.0.1", user="alice", port=5080))
    registration.register(second, ROUTE)
    registration.register(third, ROUTE)
    assert fake.methods() == ["REGISTER"]
    fake.reply(200, [("Contact", [contact_with(300)])])
    request = fake.unanswered()
    contacts = {c.uri.port: c.expires for c in request.get_all("Contact")}
    assert contacts == {5080: 300, 5060: 0}  # the new contact, and the one it replaces removed
    fake.reply(200, [("Contact", [contact_with(300, third.uri)])])
    assert fake.methods() == ["REGISTER", "REGISTER"]
    assert [n.data.contact_header.uri.port for n in recorder.named("SIPRegistrationDidSucceed")] == [
        5060,
        5080,
    ]
    assert registration.contact_header.uri.port == 5080


def test_register_needs_a_running_engine(fake):
    fake.is_running = False
    with pytest.raises(SIPCoreError):
        Registration(ALICE, engine=fake).register(CONTACT, ROUTE)


def test_a_registration_refuses_a_non_positive_duration(fake):
    with pytest.raises(ValueError):
        Registration(ALICE, duration=0, engine=fake)


def test_a_200_that_drops_our_contact_is_a_failure(fake, recorder):
    registration = Registration(ALICE, engine=fake)
    registration.register(CONTACT, ROUTE)
    fake.reply(200, [("Contact", [contact_with(0)])])
    [failed] = recorder.named("SIPRegistrationDidFail")
    assert failed.data.code == 200 and "expires 0" in failed.data.reason
    assert not registration.is_registered


def test_a_refresh_after_the_engine_stopped_fails_with_503(fake, recorder):
    registration = registered(fake, recorder)
    fake.is_running = False
    fake.clock.advance(270)
    [failed] = recorder.named("SIPRegistrationDidFail")
    assert failed.data.code == 503 and "not running" in failed.data.reason
    assert registration.is_registered  # until the binding expires
    assert fake.methods() == ["REGISTER"]


def test_the_answers_name_the_hop_they_came_through(fake, recorder):
    registration = registered(fake, recorder)
    [succeeded] = recorder.named("SIPRegistrationDidSucceed")
    _, destination = fake.requests()[0]
    assert succeeded.data.hop is not None and succeeded.data.hop.address == destination
    assert registration.is_registered


def test_a_register_that_outlives_its_overall_timeout_still_names_the_hop_it_waited_for(fake, recorder):
    registration = Registration(ALICE, duration=300, engine=fake)
    registration.register(CONTACT, ROUTE, timeout=2.0)
    _, destination = fake.requests()[0]
    fake.clock.advance(2.0)
    [failed] = recorder.named("SIPRegistrationDidFail")
    assert failed.data.code == 408 and "within 2 s" in failed.data.reason
    assert failed.data.hop is not None and failed.data.hop.address == destination
