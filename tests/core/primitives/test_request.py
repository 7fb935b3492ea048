"""Request and Message on a fake transport and a Clock: states, notifications and their data,
expiry timing, end(), and the errors for the wrong state or a stopped engine."""

from __future__ import annotations

import pytest

from sipsimple.core import SIPCoreError, SIPCoreInvalidStateError
from sipsimple.core.primitives import Message, Request, refresh_delay
from sipsimple.core.sip.headers import ContactHeader, Header
from sipsimple.core.sip.uri import SIPURI

from .conftest import ALICE, BOB, CONTACT, ROUTE

TARGET = SIPURI("example.test", user="bob")


def request(fake, method="OPTIONS", **options):
    return Request(method, TARGET, ALICE, BOB, ROUTE, engine=fake, **options)


def test_a_request_carries_what_it_was_given(fake):
    sent = request(
        fake,
        "PUBLISH",
        contact_header=CONTACT,
        call_id="fixed@test",
        cseq=7,
        extra_headers=[Header("Event", "presence"), Header("X-Test", "1")],
        content_type="application/pidf+xml",
        body="<presence/>",
    )
    sent.send()
    message = fake.last()
    assert message.method == "PUBLISH" and message.request_uri == "sip:bob@example.test"
    assert message.call_id == "fixed@test" and message.cseq.number == 7 and sent.cseq == 7
    assert message.get("Contact").uri == CONTACT.uri and message.get_raw("X-Test") == "1"
    assert message.get("Content-Type").content_type == "application/pidf+xml"
    assert message.body == b"<presence/>" and message.from_header.tag == sent.from_header.tag
    assert sent.state == "IN_PROGRESS"


def test_success_without_expires_posts_did_succeed_then_did_end(fake, recorder):
    sent = request(fake)
    sent.send()
    fake.reply(200, [("Accept", "text/plain")], body=b"ok")
    assert recorder.names() == ["SIPRequestDidSucceed", "SIPRequestDidEnd"]
    data = recorder.notifications[0].data
    assert (data.code, data.reason, data.body, data.expires) == (200, "OK", b"ok", 0)
    assert data.headers["Accept"].body == "text/plain" and data.timestamp is not None
    assert sent.state == "TERMINATED"


def test_a_granted_expiry_gives_will_expire_at_the_refresh_point_then_did_end(fake, recorder):
    sent = request(fake, "REGISTER", contact_header=CONTACT)
    sent.send()
    fake.reply(200, [("Contact", [ContactHeader(CONTACT.uri, parameters={"expires": "120"})])])
    assert sent.state == "EXPIRING" and sent.expires_in == 120
    assert recorder.named("SIPRequestDidSucceed")[0].data.expires == 120
    fake.clock.advance(refresh_delay(120))
    [will_expire] = recorder.named("SIPRequestWillExpire")
    assert will_expire.data.expires == 12
    fake.clock.advance(12)
    assert recorder.names()[-1] == "SIPRequestDidEnd" and sent.state == "TERMINATED"


def test_end_while_expiring_ends_at_once_and_cancels_the_timers(fake, recorder):
    sent = request(fake, "PUBLISH")
    sent.send()
    fake.reply(200, [("Expires", "60")])
    sent.end()
    assert recorder.names() == ["SIPRequestDidSucceed", "SIPRequestDidEnd"]
    fake.clock.advance(60)
    assert recorder.names() == ["SIPRequestDidSucceed", "SIPRequestDidEnd"]


def test_failure_posts_did_fail_with_headers_then_did_end(fake, recorder):
    request(fake).send()
    fake.reply(486, body=b"busy")
    assert recorder.names() == ["SIPRequestDidFail", "SIPRequestDidEnd"]
    data = recorder.notifications[0].data
    assert (data.code, data.reason, data.body) == (486, "Busy Here", b"busy") and "Via" in data.headers


def test_a_locally_made_failure_has_no_headers_or_body(fake, recorder):
    request(fake).send(timeout=1)
    fake.clock.advance(1)
    data = recorder.named("SIPRequestDidFail")[0].data
    assert data.code == 408 and not hasattr(data, "headers") and not hasattr(data, "body")


def test_end_while_in_progress_stops_waiting(fake, recorder):
    sent = request(fake)
    sent.send()
    sent.end()
    assert recorder.names() == ["SIPRequestDidEnd"] and sent.state == "TERMINATED"
    fake.reply(200)
    assert recorder.names() == ["SIPRequestDidEnd"]


def test_a_request_is_sent_once(fake, recorder):
    sent = request(fake)
    sent.send()
    with pytest.raises(SIPCoreInvalidStateError):
        sent.send()
    unsent = request(fake)
    unsent.end()
    with pytest.raises(SIPCoreInvalidStateError):
        unsent.send()
    assert recorder.notifications == []


def test_sending_needs_a_running_engine(fake):
    fake.is_running = False
    with pytest.raises(SIPCoreError):
        request(fake).send()
    with pytest.raises(SIPCoreError):
        Message(ALICE, BOB, ROUTE, "text/plain", "hi", engine=fake).send()


def test_a_body_needs_a_content_type(fake):
    with pytest.raises(ValueError):
        request(fake, body=b"x")


def test_a_message_goes_to_the_to_uri_with_its_body_and_posts_did_succeed(fake, recorder):
    sent = Message(
        ALICE,
        BOB,
        ROUTE,
        "text/plain;charset=utf-8",
        "héllo",
        extra_headers=[Header("X-A", "b")],
        engine=fake,
    )
    sent.send()
    message = fake.last()
    assert message.method == "MESSAGE" and message.request_uri == "sip:bob@example.test"
    assert message.body == "héllo".encode() and message.get_raw("Content-Type") == "text/plain;charset=utf-8"
    assert message.to_header.tag is None and message.get_raw("X-A") == "b"
    fake.reply(202, body=b"")
    [succeeded] = recorder.named("SIPMessageDidSucceed")
    assert (succeeded.data.code, succeeded.data.reason, succeeded.data.body) == (202, "Accepted", b"")
    assert "To" in succeeded.data.headers
    with pytest.raises(SIPCoreInvalidStateError):
        sent.send()
