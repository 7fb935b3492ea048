"""Publication (RFC 3903) on a fake transport and a Clock: initial publish, refresh with
SIP-If-Match and no body, modify, remove with Expires: 0, 412 and 423 recovery, failed refreshes."""

from __future__ import annotations

import pytest

from sipsimple.core import SIPCoreInvalidStateError
from sipsimple.core.primitives import Publication, refresh_delay
from sipsimple.core.sip.headers import MinExpiresHeader

from .conftest import ALICE, ROUTE

PIDF = b'<?xml version="1.0"?><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@example.test"/>'


def granted(etag, expires=300):
    return [("SIP-ETag", etag), ("Expires", str(expires))]


def published(fake, duration=300):
    publication = Publication(ALICE, "presence", "application/pidf+xml", duration=duration, engine=fake)
    publication.publish(PIDF, ROUTE)
    fake.reply(200, granted("e1", duration))
    return publication


def test_the_initial_publish_carries_event_expires_and_the_body_and_keeps_the_etag(fake, recorder):
    publication = Publication(ALICE, "presence", "application/pidf+xml", duration=600, engine=fake)
    publication.publish(PIDF, ROUTE)
    request = fake.last()
    assert request.method == "PUBLISH" and request.request_uri == "sip:alice@example.test"
    assert request.get_raw("Event") == "presence" and int(request.get("Expires")) == 600
    assert request.get("SIP-If-Match") is None and request.body == PIDF
    assert request.get("Content-Type").content_type == "application/pidf+xml"
    fake.reply(200, granted("e1", 500))
    [succeeded] = recorder.named("SIPPublicationDidSucceed")
    assert (succeeded.data.code, succeeded.data.reason, succeeded.data.expires) == (200, "OK", 500)
    assert succeeded.data.route_header == ROUTE
    assert publication.etag == "e1" and publication.is_published and publication.expires_received == 500


def test_the_refresh_uses_sip_if_match_and_no_body_at_the_refresh_point(fake, recorder):
    publication = published(fake)
    fake.clock.advance(refresh_delay(300) - 0.01)
    assert len(fake.requests()) == 1
    fake.clock.advance(0.01)
    refresh = fake.unanswered()
    assert (
        refresh.get_raw("SIP-If-Match") == "e1"
        and refresh.body == b""
        and refresh.get("Content-Type") is None
    )
    assert refresh.call_id == fake.requests()[0][0].call_id and refresh.cseq.number == 2
    fake.reply(200, granted("e2"))
    assert publication.etag == "e2" and len(recorder.named("SIPPublicationDidSucceed")) == 2


def test_publish_none_refreshes_and_a_new_body_modifies(fake, recorder):
    publication = published(fake)
    publication.publish(None, ROUTE)
    assert fake.reply(200, granted("e2")).body == b""
    publication.publish(b"<new/>", ROUTE)
    modify = fake.unanswered()
    assert modify.get_raw("SIP-If-Match") == "e2" and modify.body == b"<new/>"
    fake.reply(200, granted("e3"))
    assert publication.body == b"<new/>" and publication.etag == "e3"


def test_412_republishes_the_full_state_without_sip_if_match_once(fake, recorder):
    publication = published(fake)
    fake.clock.advance(270)
    fake.reply(412)
    republish = fake.unanswered()
    assert republish.get("SIP-If-Match") is None and republish.body == PIDF
    fake.reply(200, granted("e9"))
    assert publication.etag == "e9" and recorder.named("SIPPublicationDidFail") == []


def test_a_second_412_is_reported(fake, recorder):
    published(fake)
    fake.clock.advance(270)
    fake.reply(412)
    fake.reply(412)
    [failed] = recorder.named("SIPPublicationDidFail")
    assert failed.data.code == 412 and len(fake.requests()) == 3


def test_423_is_retried_with_min_expires(fake, recorder):
    publication = Publication(ALICE, "presence", "application/pidf+xml", duration=10, engine=fake)
    publication.publish(PIDF, ROUTE)
    fake.reply(423, [("Min-Expires", MinExpiresHeader(60))])
    retry = fake.unanswered()
    assert int(retry.get("Expires")) == 60 and retry.body == PIDF
    fake.reply(200, granted("e1", 60))
    assert recorder.named("SIPPublicationDidSucceed")[0].data.expires == 60


def test_a_423_without_min_expires_is_reported_at_once(fake, recorder):
    publication = Publication(ALICE, "presence", "application/pidf+xml", duration=10, engine=fake)
    publication.publish(PIDF, ROUTE)
    fake.reply(423)
    [failed] = recorder.named("SIPPublicationDidFail")
    assert failed.data.code == 423 and failed.data.min_expires is None


def test_end_removes_with_sip_if_match_and_expires_0(fake, recorder):
    publication = published(fake)
    publication.end()
    remove = fake.unanswered()
    assert remove.get_raw("SIP-If-Match") == "e1" and int(remove.get("Expires")) == 0 and remove.body == b""
    fake.reply(200)
    assert recorder.names()[-2:] == ["SIPPublicationWillEnd", "SIPPublicationDidEnd"]
    assert recorder.named("SIPPublicationDidEnd")[0].data.expired is False
    assert publication.etag is None and not publication.is_published


def test_a_412_to_end_means_nothing_is_published_any_more(fake, recorder):
    published(fake).end()
    fake.reply(412)
    assert recorder.named("SIPPublicationDidEnd")[0].data.expired is False


def test_a_failed_end_posts_did_not_end(fake, recorder):
    published(fake).end()
    fake.reply(500)
    [not_ended] = recorder.named("SIPPublicationDidNotEnd")
    assert (not_ended.data.code, not_ended.data.reason) == (500, "Server Internal Error")


def test_a_failed_refresh_gives_will_expire_and_then_did_end_expired(fake, recorder):
    publication = published(fake, duration=60)
    fake.clock.advance(50)
    fake.reply(480)
    assert recorder.named("SIPPublicationDidFail")[0].data.code == 480
    assert recorder.named("SIPPublicationWillExpire")[0].data.expires == 10
    fake.clock.advance(10)
    assert recorder.named("SIPPublicationDidEnd")[0].data.expired is True
    assert publication.etag is None and not publication.is_published


def test_publish_while_pending_is_queued(fake, recorder):
    publication = Publication(ALICE, "presence", "application/pidf+xml", engine=fake)
    publication.publish(PIDF, ROUTE)
    publication.publish(b"<second/>", ROUTE)
    assert len(fake.requests()) == 1
    fake.reply(200, granted("e1"))
    modify = fake.unanswered()
    assert modify.get_raw("SIP-If-Match") == "e1" and modify.body == b"<second/>"


def test_the_first_publish_needs_a_body(fake):
    with pytest.raises(SIPCoreInvalidStateError):
        Publication(ALICE, "presence", "application/pidf+xml", engine=fake).publish(None, ROUTE)
