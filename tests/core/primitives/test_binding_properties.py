"""Property tests of the Registration and Publication life cycle (``_binding``): whatever the
application calls and whatever the server answers, in any order and with any passing of time, at
most one request is in flight, CSeq only grows within one Call-ID, every notification is well
formed, every WillEnd is followed by one DidEnd or DidNotEnd, and a final end() answered 200
leaves nothing bound."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsimple.core.primitives import Publication, Registration
from sipsimple.core.sip.auth import DigestServer
from sipsimple.core.sip.credentials import Credentials
from sipsimple.core.sip.headers import ContactHeader, MinExpiresHeader
from sipsimple.core.sip.transaction.client_non_invite import NonInviteClientState
from sipsimple.core.sip.uri import SIPURI
from sipsimple.notification import NotificationCenter
from tests.support.notifications import NotificationRecorder

from .conftest import ALICE, ROUTE
from .fakes import FakeEngine
from .servers import PASSWORDS, REALM

CONTACTS = [ContactHeader(SIPURI("127.0.0.1", user="alice", port=5060 + 10 * n)) for n in range(3)]
BODIES = [None, b"<one/>", b"<two/>"]
LIVE = (NonInviteClientState.TRYING, NonInviteClientState.PROCEEDING)
CREDENTIALS = Credentials("alice", "secret-alice")

ACTION = st.one_of(
    st.tuples(st.just("update"), st.integers(0, 2)),
    st.tuples(st.just("end"), st.none()),
    st.tuples(st.just("answer"), st.sampled_from([200, 200, 200, 401, 412, 423, 480, 503])),
    st.tuples(st.just("advance"), st.sampled_from([0.5, 5.0, 40.0, 280.0, 400.0])),
)


class RegistrationCase:
    prefix = "SIPRegistration"

    def make(self, fake):
        return Registration(ALICE, CREDENTIALS, duration=300, engine=fake)

    def update(self, subject, index):
        subject.register(CONTACTS[index], ROUTE)

    def bound(self, subject):
        return subject.is_registered

    def success(self, request):
        kept = [contact for contact in request.get_all("Contact") if contact.expires]
        return [("Contact", kept)] if kept else []


class PublicationCase:
    prefix = "SIPPublication"

    def __init__(self):
        self.etags = (f"e{n}" for n in itertools.count())

    def make(self, fake):
        return Publication(ALICE, "presence", "application/pidf+xml", CREDENTIALS, duration=300, engine=fake)

    def update(self, subject, index):
        body = BODIES[index] if subject.body is not None else b"<first/>"
        subject.publish(body, ROUTE)

    def bound(self, subject):
        return subject.is_published

    def success(self, request):
        return [("SIP-ETag", next(self.etags)), ("Expires", request.get_raw("Expires"))]


def in_flight(fake: FakeEngine) -> list:
    return [t for t in fake.stack._client_transactions.values() if t.machine.state in LIVE]


def answer(fake: FakeEngine, case, digest: DigestServer, code: int) -> None:
    live = in_flight(fake)
    if not live:
        return
    request = live[0].request
    headers: list = []
    if code == 200:
        headers = case.success(request)
    elif code == 401:
        headers = [("WWW-Authenticate", digest.challenge())]
    elif code == 423:
        headers = [("Min-Expires", MinExpiresHeader(600))]
    fake.answer(request, code, headers)


@pytest.mark.parametrize("case_type", [RegistrationCase, PublicationCase])
@settings(max_examples=150, deadline=None)
@given(actions=st.lists(ACTION, max_size=30))
def test_any_sequence_keeps_the_life_cycle_rules(case_type, actions):
    case = case_type()
    fake = FakeEngine()
    counter = itertools.count()
    digest = DigestServer(REALM, PASSWORDS.get, lambda: f"n{next(counter)}", fake.clock.seconds)
    recorder = NotificationRecorder()
    center = NotificationCenter()
    subject = case.make(fake)
    center.add_observer(recorder, sender=subject)
    try:
        for kind, argument in actions:
            if kind == "update":
                case.update(subject, argument)
            elif kind == "end":
                subject.end()
            elif kind == "answer":
                answer(fake, case, digest, argument)
            else:
                fake.clock.advance(argument)
            assert len(in_flight(fake)) <= 1, "two requests in flight"

        for _ in range(10):  # drain: answer everything, then end and answer that too
            answer(fake, case, digest, 200)
        subject.end()
        for _ in range(10):
            answer(fake, case, digest, 200)
    finally:
        center.remove_observer(recorder, sender=subject)

    assert not case.bound(subject)
    sent = [request for request, _ in fake.requests()]
    assert len({request.call_id for request in sent}) <= 1
    numbers = [request.cseq.number for request in sent]
    assert numbers == sorted(set(numbers)), f"CSeq must grow: {numbers}"
    for notification in recorder.notifications:
        assert notification.sender is subject and notification.data.timestamp is not None
        assert notification.name.startswith(case.prefix)
        if notification.name.endswith(("DidSucceed", "DidFail")):
            assert isinstance(notification.data.code, int) and notification.data.route_header == ROUTE
    ends = [n for n in recorder.notifications if n.name.endswith(("WillEnd", "DidEnd", "DidNotEnd"))]
    for position, notification in enumerate(ends):
        if notification.name.endswith("WillEnd"):
            following = ends[position + 1] if position + 1 < len(ends) else None
            assert following is not None and not following.name.endswith("WillEnd"), (
                "a WillEnd was not answered"
            )
