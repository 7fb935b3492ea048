"""ConferenceHandler against an in-test focus (tests/session/focus.py) on loopback: the
``conference`` subscription and its merged conference-info, the version rules, failures and
back-off, adding and removing participants with REFER, and the ends of both."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from twisted.internet.task import Clock

from sipsimple.core.engine import SIPEngine
from sipsimple.core.sip.headers import ToHeader
from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup import Route
from sipsimple.payloads.conference import Conference
from sipsimple.session import ConferenceHandler, Session, SessionManagerBase
from tests.streams.fake import FakeStream

from .conftest import Accounts
from .focus import Focus, focus_engine

CONFERENCE = SIPURI("example.test", user="conf")
BOB = "sip:bob@example.test"
CAROL = "sip:carol@example.test"


@pytest.fixture
def conf_engine(loop: Any) -> Iterator[SIPEngine]:
    engine = focus_engine(loop)
    yield engine
    loop.wait(engine.stop())


@pytest.fixture
def focus(conf_engine: SIPEngine, registry: Any) -> Focus:
    return Focus(conf_engine, registry)


def join(loop: Any, alice: Any, focus: Focus, clock: Clock | None = None) -> Session:
    """Alice calls the conference and waits until the call is up."""
    session = Session(alice)
    route = Route("127.0.0.1", focus.engine.local_address("udp").port, "udp")
    session.connect(ToHeader(CONFERENCE), [route], [FakeStream()])
    loop.run_until(lambda: session.state == "connected", what="the call to the focus")
    if clock is not None:  # the handler exists from the answer on; its first SUBSCRIBE is unanswered yet
        session.conference.clock = clock
    return session


def infos(recorder: Any, session: Session) -> list[Conference]:
    return [
        n.data.conference_info for n in recorder.named("SIPSessionGotConferenceInfo") if n.sender is session
    ]


def wait_infos(loop: Any, recorder: Any, session: Session, count: int) -> list[Conference]:
    loop.run_until(
        lambda: len(infos(recorder, session)) >= count, what=f"{count} conference-info notifications"
    )
    return infos(recorder, session)


def notifies(recorder: Any, session: Session) -> list[Any]:
    """The conference NOTIFYs the session's subscription received (valid or not)."""
    return [n for n in recorder.named("SIPSubscriptionGotNotify") if n.data.event == "conference"]


def named(recorder: Any, name: str, session: Session) -> list[Any]:
    return [n.data for n in recorder.named(name) if n.sender is session]


def entities(conference: Conference) -> list[str | None]:
    assert conference.users is not None
    return [user.entity for user in conference.users]


# -- the subscription ----------------------------------------------------------------------------


def test_joining_a_focus_subscribes_to_the_conference_event_and_posts_the_full_state(
    loop, alice, focus, recorder
):
    session = join(loop, alice, focus)
    assert isinstance(session.conference, ConferenceHandler)
    [info] = wait_infos(loop, recorder, session, 1)
    assert info.entity == Focus.entity and info.state == "full" and info.version == 1
    assert info.conference_state is not None and info.conference_state.user_count == 0
    subscribe = focus.subscribe_data[0]
    assert subscribe.event == "conference"
    assert subscribe.request_uri.user == "conf" and subscribe.request_uri.host == "127.0.0.1"  # its Contact
    assert "application/conference-info+xml" in str(subscribe.headers["Accept"])
    assert session.conference.conference_info == info
    data = recorder.named("SIPSessionGotConferenceInfo")[0].data
    assert data.timestamp is not None


def test_a_session_that_is_not_with_a_focus_has_no_handler_and_subscribes_to_nothing(
    loop, alice, conf_engine, registry, recorder
):
    """A peer whose Contact lacks ``isfocus`` is a plain call, even at a conference-like URI."""
    focus = Focus(conf_engine, registry, contact_is_focus=False)
    session = join(loop, alice, focus)
    loop.turn(20)
    assert session.conference is None
    assert focus.received("SUBSCRIBE") == 0
    assert infos(recorder, session) == []


def test_a_remote_contact_with_isfocus_makes_the_session_subscribe_to_that_contact(
    loop, alice, conf_engine, registry, recorder
):
    focus = Focus(conf_engine, registry, contact_is_focus=True)
    session = join(loop, alice, focus)
    assert isinstance(session.conference, ConferenceHandler)
    wait_infos(loop, recorder, session, 1)
    request_uri = focus.subscribe_data[0].request_uri
    assert request_uri.host == "127.0.0.1" and request_uri.user == "conf"  # the focus's Contact


def test_full_then_partial_notifications_are_merged_into_one_state(loop, alice, focus, recorder):
    session = join(loop, alice, focus)
    wait_infos(loop, recorder, session, 1)
    focus.add_user(BOB)
    focus.add_user(CAROL)
    focus.remove_user(BOB)
    result = wait_infos(loop, recorder, session, 4)
    assert [info.version for info in result] == [1, 2, 3, 4]
    assert [entities(info) for info in result] == [[], [BOB], [BOB, CAROL], [CAROL]]
    assert all(info.state == "full" for info in result)
    last = result[-1]
    assert last.conference_state is not None and last.conference_state.user_count == 1
    assert last.conference_state.active is True  # kept from the full document
    assert last.users is not None and last.users[CAROL].endpoints[0].status == "connected"


def test_an_old_or_repeated_version_is_ignored(loop, alice, focus, recorder):
    session = join(loop, alice, focus)
    wait_infos(loop, recorder, session, 1)
    focus.add_user(BOB)  # version 2
    wait_infos(loop, recorder, session, 2)
    stale = Conference(Focus.entity, "partial", 2, users=None).to_xml()  # repeated version
    older = Conference(Focus.entity, "full", 1).to_xml()  # an old full state would drop Bob
    focus.push(stale)
    focus.push(older)
    focus.add_user(CAROL)  # version 3: the next one that counts
    result = wait_infos(loop, recorder, session, 3)
    loop.turn(10)
    assert len(infos(recorder, session)) == 3
    assert len(notifies(recorder, session)) == 5  # the two stale ones arrived before version 3
    assert entities(result[-1]) == [BOB, CAROL] and result[-1].version == 3
    assert focus.refreshes == 0


def test_a_skipped_version_refreshes_the_subscription_and_the_full_state_replaces_the_old(
    loop, alice, focus, recorder
):
    session = join(loop, alice, focus)
    wait_infos(loop, recorder, session, 1)
    focus.version += 1  # version 2 is never sent
    focus.add_user(BOB)  # version 3: a gap
    loop.run_until(lambda: focus.refreshes == 1, what="the refreshing SUBSCRIBE")
    result = wait_infos(loop, recorder, session, 2)
    assert result[-1].state == "full" and result[-1].version == 4
    assert entities(result[-1]) == [BOB]
    assert focus.received("SUBSCRIBE", "conference") == 2  # the initial one and one refresh


def test_a_malformed_body_is_ignored_without_a_notification(loop, alice, focus, recorder):
    session = join(loop, alice, focus)
    wait_infos(loop, recorder, session, 1)
    focus.push(b"<conference-info xmlns='urn:ietf:params:xml:ns:conference-info' entity='x'")
    focus.push(b"<?xml version='1.0'?><dialog-info xmlns='urn:ietf:params:xml:ns:dialog-info'/>")
    focus.push(b"<!DOCTYPE c [<!ENTITY e 'x'>]><c>&e;</c>")
    focus.add_user(BOB)
    result = wait_infos(loop, recorder, session, 2)
    assert len(result) == 2 and entities(result[-1]) == [BOB]
    assert len(notifies(recorder, session)) == 5  # the three bad bodies did arrive, in order
    assert session.state == "connected" and session.conference.subscription.state == "ACTIVE"


def test_a_refused_subscription_is_tried_again_with_growing_delays(loop, alice, focus, recorder):
    focus.subscribe_answers = [500, 480]
    clock = Clock()
    session = join(loop, alice, focus, clock=clock)
    handler = session.conference
    loop.run_until(lambda: handler.failures == 1 and handler._retry is not None, what="the first failure")
    assert [call.getTime() for call in clock.getDelayedCalls()] == [5.0]
    clock.advance(5)
    loop.run_until(lambda: handler.failures == 2 and handler._retry is not None, what="the second failure")
    assert [call.getTime() for call in clock.getDelayedCalls()] == [15.0]  # 5 s later, then 10 s
    clock.advance(10)
    wait_infos(loop, recorder, session, 1)
    assert handler.failures == 0
    assert [call for call in clock.getDelayedCalls()] == []
    assert focus.received("SUBSCRIBE", "conference") == 3


def test_the_focus_ending_the_subscription_is_final(loop, alice, focus, recorder):
    clock = Clock()
    session = join(loop, alice, focus, clock=clock)
    handler = session.conference
    wait_infos(loop, recorder, session, 1)
    subscription = handler.subscription
    focus.end_subscriptions("noresource")
    loop.run_until(lambda: handler.subscription is None, what="the subscription ended by the focus")
    assert subscription.state == "TERMINATED"
    clock.advance(3600)
    loop.turn(10)
    assert focus.received("SUBSCRIBE") == 1
    assert session.state == "connected"


def test_ending_the_session_ends_the_subscription_and_nothing_is_subscribed_after_the_bye(
    loop, alice, focus, recorder
):
    clock = Clock()
    session = join(loop, alice, focus, clock=clock)
    handler = session.conference
    wait_infos(loop, recorder, session, 1)
    subscription = handler.subscription
    session.end()
    loop.run_until(lambda: named(recorder, "SIPSessionDidEnd", session), what="the end of the call")
    loop.run_until(lambda: focus.unsubscribes == 1, what="the unsubscribe")
    loop.run_until(lambda: subscription.state == "TERMINATED", what="the end of the subscription")
    clock.advance(3600)
    loop.turn(10)
    methods = [method for method, _ in focus.requests]
    assert methods.index("BYE") > max(i for i, method in enumerate(methods) if method == "SUBSCRIBE")
    assert focus.received("SUBSCRIBE") == 2  # the subscription and its end (Expires: 0)
    assert handler.subscription is None and clock.getDelayedCalls() == []


def test_the_focus_hanging_up_ends_the_subscription_too(loop, alice, focus, recorder):
    session = join(loop, alice, focus)
    wait_infos(loop, recorder, session, 1)
    subscription = session.conference.subscription
    focus.sessions[0].end()
    loop.run_until(lambda: subscription.state == "TERMINATED", what="the end of the subscription")
    assert named(recorder, "SIPSessionDidEnd", session)[0].originator == "remote"
    assert focus.unsubscribes == 1


# -- participants ----------------------------------------------------------------------------------


def test_adding_a_participant_reports_progress_then_success(loop, alice, focus, recorder):
    session = join(loop, alice, focus)
    focus.refer_scripts = [("accept", [180, 200])]
    session.conference.add_participant(BOB)
    loop.run_until(lambda: named(recorder, "SIPConferenceDidAddParticipant", session), what="the result")
    progress = named(recorder, "SIPConferenceGotAddParticipantProgress", session)
    assert [(p.participant, p.code, p.reason) for p in progress] == [
        (BOB, 100, "Trying"),
        (BOB, 180, "Ringing"),
    ]
    [done] = named(recorder, "SIPConferenceDidAddParticipant", session)
    assert done.participant == BOB and done.timestamp is not None
    refer_to = focus.referrals[0].refer_to_header.uri
    assert str(refer_to) == BOB and "method" not in refer_to.parameters
    assert named(recorder, "SIPConferenceDidNotAddParticipant", session) == []


def test_a_participant_who_declines_is_not_added(loop, alice, focus, recorder):
    session = join(loop, alice, focus)
    focus.refer_scripts = [("accept", [603])]
    session.conference.add_participant(SIPURI("example.test", user="bob"))
    loop.run_until(lambda: named(recorder, "SIPConferenceDidNotAddParticipant", session), what="the result")
    [failed] = named(recorder, "SIPConferenceDidNotAddParticipant", session)
    assert (str(failed.participant), failed.code, failed.reason) == (BOB, 603, "Decline")
    assert named(recorder, "SIPConferenceDidAddParticipant", session) == []


def test_a_refused_refer_is_reported_as_not_added(loop, alice, focus, recorder):
    session = join(loop, alice, focus)
    focus.refer_scripts = [("reject", 403)]
    session.conference.add_participant(BOB)
    loop.run_until(lambda: named(recorder, "SIPConferenceDidNotAddParticipant", session), what="the result")
    [failed] = named(recorder, "SIPConferenceDidNotAddParticipant", session)
    assert (failed.participant, failed.code, failed.reason) == (BOB, 403, "Forbidden")
    assert named(recorder, "SIPConferenceGotAddParticipantProgress", session) == []


def test_removing_a_participant_refers_the_focus_to_send_bye(loop, alice, focus, recorder):
    session = join(loop, alice, focus)
    focus.refer_scripts = [("accept", [200])]
    session.conference.remove_participant(BOB)
    loop.run_until(lambda: named(recorder, "SIPConferenceDidRemoveParticipant", session), what="the result")
    assert named(recorder, "SIPConferenceDidRemoveParticipant", session)[0].participant == BOB
    progress = named(recorder, "SIPConferenceGotRemoveParticipantProgress", session)
    assert [(p.participant, p.code) for p in progress] == [(BOB, 100)]
    refer_to = focus.referrals[0].refer_to_header.uri
    assert refer_to.parameters["method"] == "BYE" and refer_to.user == "bob"


def test_a_refused_removal_is_reported_with_its_code(loop, alice, focus, recorder):
    session = join(loop, alice, focus)
    focus.refer_scripts = [("reject", 404)]
    session.conference.remove_participant(BOB)
    loop.run_until(
        lambda: named(recorder, "SIPConferenceDidNotRemoveParticipant", session), what="the result"
    )
    [failed] = named(recorder, "SIPConferenceDidNotRemoveParticipant", session)
    assert (failed.participant, failed.code, failed.reason) == (BOB, 404, "Not Found")


def test_the_handler_exists_only_once_the_focus_answered_and_our_own_is_focus_flag_does_not_make_one(
    loop, alice, focus
):
    """Whether the peer is a focus is known from its answer's Contact (RFC 4579 §3);
    ``connect(is_focus=True)`` says that *we* are one (our Contact), not the peer."""
    session = Session(alice)
    route = Route("127.0.0.1", focus.engine.local_address("udp").port, "udp")
    session.connect(ToHeader(CONFERENCE), [route], [FakeStream()], is_focus=True)
    assert session.conference is None
    assert focus.received("REFER") == 0
    loop.run_until(lambda: session.state == "connected", what="the call")
    assert isinstance(session.conference, ConferenceHandler)
    session.end()
    loop.run_until(lambda: session.state == "terminated", what="the end")


def test_a_focus_that_calls_in_is_subscribed_to_through_its_contact(
    loop, alice, alice_engine, focus, registry, recorder
):
    """RFC 4579 dial-out: the focus's INVITE carries ``isfocus``; the callee subscribes back to
    the focus's Contact directly (an incoming session has no route of its own)."""
    alice_manager = SessionManagerBase(
        engine=alice_engine, account_manager=Accounts(alice), registry=registry
    )
    alice_manager.start()
    dial_out = Session(focus.account)
    route = Route("127.0.0.1", alice_engine.local_address("udp").port, "udp")
    dial_out.connect(ToHeader(SIPURI("example.test", user="alice")), [route], [FakeStream()], is_focus=True)
    loop.run_until(
        lambda: alice_manager.sessions and alice_manager.sessions[0].state == "incoming", what="the call"
    )
    session = alice_manager.sessions[0]
    session.accept(session.proposed_streams)
    loop.run_until(lambda: session.state == "connected", what="the answer")
    assert isinstance(session.conference, ConferenceHandler)
    assert dial_out.conference is None  # Alice is no focus: the focus subscribes to nothing
    [info] = wait_infos(loop, recorder, session, 1)
    assert info.entity == Focus.entity
    request_uri = focus.subscribe_data[0].request_uri
    assert request_uri.host == "127.0.0.1" and request_uri.port == focus.engine.local_address("udp").port


#: The reference's ConferenceHandler notifications and their data attributes (all: timestamp).
DOCUMENTED = {
    "SIPSessionGotConferenceInfo": {"timestamp", "conference_info"},
    "SIPConferenceDidAddParticipant": {"timestamp", "participant"},
    "SIPConferenceDidNotAddParticipant": {"timestamp", "participant", "code", "reason"},
    "SIPConferenceGotAddParticipantProgress": {"timestamp", "participant", "code", "reason"},
    "SIPConferenceDidRemoveParticipant": {"timestamp", "participant"},
    "SIPConferenceDidNotRemoveParticipant": {"timestamp", "participant", "code", "reason"},
    "SIPConferenceGotRemoveParticipantProgress": {"timestamp", "participant", "code", "reason"},
}


def test_every_conference_notification_is_posted_by_the_session_with_exactly_its_documented_data(
    loop, alice, focus, recorder
):
    session = join(loop, alice, focus)
    wait_infos(loop, recorder, session, 1)
    focus.refer_scripts_by_target = {
        BOB: ("accept", [180, 200]),
        CAROL: ("accept", [486]),
        BOB + ";method=BYE": ("accept", [180, 200]),
        CAROL + ";method=BYE": ("reject", 403),
    }
    session.conference.add_participant(BOB)
    session.conference.add_participant(CAROL)
    session.conference.remove_participant(BOB)
    session.conference.remove_participant(CAROL)
    loop.run_until(
        lambda: all(named(recorder, name, session) for name in DOCUMENTED),
        what="every conference notification",
    )
    seen = [n for n in recorder.notifications if n.name in DOCUMENTED or n.name.startswith("SIPConference")]
    assert {n.name for n in seen} == set(DOCUMENTED)
    for notification in seen:
        assert notification.sender is session
        assert set(vars(notification.data)) == DOCUMENTED[notification.name], notification.name
        data = notification.data
        assert isinstance(data.timestamp, datetime.datetime)
        if "code" in DOCUMENTED[notification.name]:
            assert type(data.code) is int and 100 <= data.code <= 699 and isinstance(data.reason, str)
        if "participant" in DOCUMENTED[notification.name]:
            assert data.participant in (BOB, CAROL)
    assert isinstance(named(recorder, "SIPSessionGotConferenceInfo", session)[0].conference_info, Conference)
    failures = {(n.name, n.data.participant, n.data.code) for n in seen if "DidNot" in n.name}
    assert failures == {
        ("SIPConferenceDidNotAddParticipant", CAROL, 486),
        ("SIPConferenceDidNotRemoveParticipant", CAROL, 403),
    }
