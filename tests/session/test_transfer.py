"""Call transfer among three SIPEngines on loopback (alice, bob, carol) with the fake stream:
blind and attended transfer, a rejected transfer, an unreachable or refusing target, a peer that
refuses REFER, a BYE while the transfer runs, and INVITEs with Replaces at the SessionManager."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from sipsimple.core.sip.headers import Header, ReplacesHeader, ToHeader
from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup import Route
from sipsimple.session import Session, SessionStateError, TransferHandler, TransferInfo
from tests.streams.fake import FakeStream


def route_to(engine: Any) -> Route:
    return Route("127.0.0.1", engine.local_address("udp").port, "udp")


def target_of(engine: Any, user: str = "carol") -> SIPURI:
    return SIPURI("127.0.0.1", user=user, port=engine.local_address("udp").port)


def named(recorder, name, sender):
    return [n.data for n in recorder.named(name) if n.sender is sender]


def transfer_names(recorder, sender):
    return [n.name for n in recorder.notifications if n.sender is sender and "Transfer" in n.name]


def new_incoming(loop, manager, known=()):
    """The first session of ``manager`` in state 'incoming' that is not in ``known``."""

    def found():
        return next((s for s in manager.sessions if s.state == "incoming" and s not in known), None)

    loop.run_until(found, what="an incoming session")
    return found()


def connect(loop, account, engine, manager, user, streams=None):
    """``account`` calls ``user`` on ``engine``; the callee accepts; both sessions once connected."""
    known = list(manager.sessions)
    caller = Session(account)
    caller.connect(ToHeader(SIPURI("example.test", user=user)), [route_to(engine)], streams or [FakeStream()])
    callee = new_incoming(loop, manager, known)
    callee.accept(callee.proposed_streams)
    loop.run_until(lambda: caller.state == "connected" and callee.state == "connected", what="both connected")
    return caller, callee


def offered(loop, recorder, transferee):
    loop.run_until(lambda: named(recorder, "SIPSessionTransferNewIncoming", transferee), what="the REFER")
    return named(recorder, "SIPSessionTransferNewIncoming", transferee)[0]


def test_blind_transfer_moves_the_caller_to_the_target_and_ends_the_original_call(
    loop, alice, bob_engine, bob_manager, carol_engine, carol_manager, recorder
):
    a_b, b_a = connect(loop, alice, bob_engine, bob_manager, "bob")
    assert isinstance(a_b.transfer_handler, TransferHandler) and a_b.transfer_info is None
    target = target_of(carol_engine)
    b_a.transfer(target)
    outgoing = named(recorder, "SIPSessionTransferNewOutgoing", b_a)[0]
    assert outgoing.transfer_destination == target
    assert str(outgoing.transfer_source) == "sip:bob@example.test"

    incoming = offered(loop, recorder, a_b)
    assert incoming.transfer_destination == target
    assert str(incoming.transfer_source) == "sip:bob@example.test"
    a_b.accept_transfer()
    a_c = a_b.transfer_handler.new_session
    assert isinstance(a_c, Session) and a_c.direction == "outgoing"
    assert [type(s) for s in a_c.proposed_streams] == [FakeStream]
    assert a_c.proposed_streams[0] is not a_b.streams[0]
    info = a_c.transfer_info
    assert isinstance(info, TransferInfo) and info.original_session is a_b
    assert (info.transfer_destination, info.replaced_dialog_id) == (target, None)
    assert "bob@example.test" in info.referred_by

    c_a = new_incoming(loop, carol_manager)
    c_a.send_ring_indication()
    loop.run_until(
        lambda: [d.code for d in named(recorder, "SIPSessionTransferGotProgress", b_a)] == [100, 180],
        what="100 and 180 at the transferor",
    )
    c_a.accept(c_a.proposed_streams)
    loop.run_until(lambda: a_c.state == "connected" and c_a.state == "connected", what="alice-carol up")
    loop.run_until(lambda: a_b.state == "terminated" and b_a.state == "terminated", what="alice-bob ended")

    assert transfer_names(recorder, b_a) == [
        "SIPSessionTransferNewOutgoing", "SIPSessionTransferDidStart", "SIPSessionTransferGotProgress",
        "SIPSessionTransferGotProgress", "SIPSessionTransferDidEnd",
    ]  # fmt: skip
    assert [(d.code, d.reason) for d in named(recorder, "SIPSessionTransferGotProgress", b_a)] == [
        (100, "Trying"), (180, "Ringing")
    ]  # fmt: skip
    assert transfer_names(recorder, a_b) == [
        "SIPSessionTransferNewIncoming", "SIPSessionTransferDidStart", "SIPSessionTransferDidEnd"
    ]  # fmt: skip
    assert named(recorder, "SIPSessionDidEnd", b_a)[0].originator == "local"  # bob ended it
    assert str(c_a.remote_identity.uri) == "sip:alice@example.test"  # the INVITE came from alice
    invite = next(
        n.data for n in recorder.named("SIPInvitationChangedState")
        if n.sender is c_a._invitation and n.data.state == "incoming"
    )  # fmt: skip
    assert "bob@example.test" in str(invite.headers["Referred-By"])  # RFC 3892, passed on
    a_c.end()
    loop.run_until(lambda: c_a.state == "terminated", what="the end of alice-carol")


def test_attended_transfer_replaces_the_transferor_session_at_the_target(
    loop, alice, bob, bob_engine, bob_manager, carol_engine, carol_manager, recorder
):
    a_b, b_a = connect(loop, alice, bob_engine, bob_manager, "bob")
    b_c, c_b = connect(loop, bob, carol_engine, carol_manager, "carol")
    target = target_of(carol_engine)
    b_a.transfer(target, replaced_session=b_c)
    offered(loop, recorder, a_b)
    a_b.accept_transfer()
    a_c = a_b.transfer_handler.new_session
    replaces = ReplacesHeader.parse(a_c.transfer_info.replaced_dialog_id)
    assert replaces.call_id == b_c._invitation.dialog_id.call_id

    c_a = new_incoming(loop, carol_manager, [c_b])
    assert c_a.replaced_session is c_b
    assert c_b.state == "connected"  # nothing ends before the new session is accepted
    c_a.accept(c_a.proposed_streams)
    loop.run_until(lambda: a_c.state == "connected" and c_a.state == "connected", what="alice-carol up")
    loop.run_until(
        lambda: all(s.state == "terminated" for s in (a_b, b_a, b_c, c_b)), what="the stale sessions ended"
    )
    assert named(recorder, "SIPSessionDidEnd", c_b)[0].originator == "local"  # carol ended the replaced one
    assert named(recorder, "SIPSessionTransferDidEnd", b_a) and named(
        recorder, "SIPSessionTransferDidEnd", a_b
    )
    assert carol_manager.sessions == [c_a] and bob_manager.sessions == []
    a_c.end()
    loop.run_until(lambda: c_a.state == "terminated", what="the end of alice-carol")


def test_a_rejected_transfer_fails_on_the_transferor_with_the_code(
    loop, alice, bob_engine, bob_manager, recorder
):
    a_b, b_a = connect(loop, alice, bob_engine, bob_manager, "bob")
    b_a.transfer(SIPURI("127.0.0.1", user="carol", port=9))
    offered(loop, recorder, a_b)
    a_b.reject_transfer()
    loop.run_until(lambda: named(recorder, "SIPSessionTransferDidFail", b_a), what="the failure at bob")
    assert named(recorder, "SIPSessionTransferDidFail", b_a)[0].code == 486
    assert named(recorder, "SIPSessionTransferDidFail", a_b)[0].code == 486
    assert a_b.transfer_handler.new_session is None
    assert a_b.state == "connected" and b_a.state == "connected"
    with pytest.raises(SessionStateError):
        a_b.accept_transfer()  # nothing left to accept
    a_b.end()
    loop.run_until(lambda: b_a.state == "terminated", what="the end")


def test_a_target_that_refuses_the_call_fails_the_transfer_and_keeps_the_original_call(
    loop, alice, bob_engine, bob_manager, carol_engine, carol_manager, recorder
):
    a_b, b_a = connect(loop, alice, bob_engine, bob_manager, "bob")
    b_a.transfer(target_of(carol_engine))
    offered(loop, recorder, a_b)
    a_b.accept_transfer()
    c_a = new_incoming(loop, carol_manager)
    c_a.reject(486)
    loop.run_until(lambda: named(recorder, "SIPSessionTransferDidFail", b_a), what="the failure at bob")
    assert named(recorder, "SIPSessionTransferGotProgress", b_a)[0].code == 100
    failure = named(recorder, "SIPSessionTransferDidFail", b_a)[0]
    assert (failure.code, failure.reason) == (486, "Busy Here")
    assert named(recorder, "SIPSessionTransferDidFail", a_b)[0].code == 486
    assert transfer_names(recorder, b_a)[-1] == "SIPSessionTransferDidFail"
    loop.turn(20)
    assert a_b.state == "connected" and b_a.state == "connected"


def test_an_unreachable_target_fails_the_transfer_with_the_final_code(
    loop, alice, bob_engine, bob_manager, recorder
):
    a_b, b_a = connect(loop, alice, bob_engine, bob_manager, "bob")
    a_b.transfer_handler.routes_for = lambda session, uri: []  # no route to the target at all
    b_a.transfer(SIPURI("unreachable.invalid", user="carol"))
    offered(loop, recorder, a_b)
    a_b.accept_transfer()
    loop.run_until(lambda: named(recorder, "SIPSessionTransferDidFail", b_a), what="the failure at bob")
    assert [d.code for d in named(recorder, "SIPSessionTransferGotProgress", b_a)] == [100]
    assert named(recorder, "SIPSessionTransferDidFail", b_a)[0].code == 404
    assert a_b.state == "connected" and b_a.state == "connected"


@pytest.mark.parametrize("code", [405, 501])
def test_a_peer_that_refuses_refer_fails_the_transfer(loop, alice, bob_engine, bob_manager, recorder, code):
    a_b, b_a = connect(loop, alice, bob_engine, bob_manager, "bob")
    invitation = a_b._invitation
    invitation._on_refer = lambda dialog, transaction, request: invitation._respond(dialog, transaction, code)
    b_a.transfer(SIPURI("127.0.0.1", user="carol", port=9))
    loop.run_until(lambda: named(recorder, "SIPSessionTransferDidFail", b_a), what="the failure at bob")
    assert named(recorder, "SIPSessionTransferDidFail", b_a)[0].code == code
    assert transfer_names(recorder, b_a) == ["SIPSessionTransferNewOutgoing", "SIPSessionTransferDidFail"]
    assert b_a.state == "connected"


def test_a_bye_from_the_transferor_while_the_new_call_rings_does_not_stop_that_call(
    loop, alice, bob_engine, bob_manager, carol_engine, carol_manager, recorder
):
    a_b, b_a = connect(loop, alice, bob_engine, bob_manager, "bob")
    b_a.transfer(target_of(carol_engine))
    offered(loop, recorder, a_b)
    a_b.accept_transfer()
    c_a = new_incoming(loop, carol_manager)
    b_a.end()
    loop.run_until(lambda: a_b.state == "terminated" and b_a.state == "terminated", what="alice-bob ended")
    failure = named(recorder, "SIPSessionTransferDidFail", b_a)[0]
    assert failure.code == 481  # bob gave up on the transfer by hanging up
    c_a.accept(c_a.proposed_streams)
    a_c = a_b.transfer_handler.new_session
    loop.run_until(lambda: a_c.state == "connected" and c_a.state == "connected", what="alice-carol up")
    assert named(recorder, "SIPSessionTransferDidEnd", a_b)  # alice's transfer still succeeded
    a_c.end()
    loop.run_until(lambda: c_a.state == "terminated", what="the end of alice-carol")


def test_a_transfer_needs_a_started_session(loop, alice, bob_engine, bob_manager):
    caller = Session(alice)
    with pytest.raises(SessionStateError):
        caller.transfer(SIPURI("127.0.0.1", user="carol"))
    with pytest.raises(SessionStateError):
        caller.accept_transfer()


def test_an_invite_with_replaces_naming_no_dialog_is_refused_481(
    loop, alice, bob_engine, bob_manager, recorder
):
    caller = Session(alice)
    bogus = Header("Replaces", "no-such-call@h;to-tag=a;from-tag=b")
    caller.connect(
        ToHeader(SIPURI("example.test", user="bob")),
        [route_to(bob_engine)],
        [FakeStream()],
        extra_headers=[bogus],
    )
    loop.run_until(lambda: caller.state == "terminated", what="the refusal")
    assert named(recorder, "SIPSessionDidFail", caller)[0].code == 481
    assert bob_manager.sessions == []


def test_an_invite_replacing_an_early_dialog_of_the_peer_is_refused_481(
    loop, alice, bob, bob_engine, bob_manager, carol_engine, carol_manager, recorder
):
    """RFC 3891 §3: an early dialog this UA did not start cannot be replaced."""
    ringing = Session(bob)
    ringing.connect(ToHeader(SIPURI("example.test", user="carol")), [route_to(carol_engine)], [FakeStream()])
    at_carol = new_incoming(loop, carol_manager)
    at_carol.send_ring_indication()
    loop.run_until(lambda: ringing._invitation.state == "early", what="the early dialog")
    dialog = at_carol._invitation._dialog
    header = ReplacesHeader(dialog.call_id, from_tag=dialog.remote_tag, to_tag=dialog.local_tag)
    caller = Session(alice)
    caller.connect(
        ToHeader(SIPURI("example.test", user="carol")), [route_to(carol_engine)], [FakeStream()],
        extra_headers=[Header("Replaces", str(header).split(":", 1)[1].strip())],
    )  # fmt: skip
    loop.run_until(lambda: caller.state == "terminated", what="the refusal")
    assert named(recorder, "SIPSessionDidFail", caller)[0].code == 481
    assert at_carol.state == "incoming"
    ringing.end()
    loop.run_until(lambda: at_carol.state == "terminated", what="the cancel")


def test_the_default_routes_take_an_ip_target_as_it_is_and_prefer_the_outbound_proxy():
    from types import SimpleNamespace

    from sipsimple.session._transfer import default_routes

    def routes(session, uri):
        got: list[Any] = []
        default_routes(session, uri).addCallback(got.append)
        return [(r.address, r.port, r.transport) for r in got[0]]

    plain = SimpleNamespace(account=SimpleNamespace(), transport="udp")
    assert routes(plain, SIPURI("127.0.0.1", user="carol", port=5070)) == [("127.0.0.1", 5070, "udp")]
    tcp = SIPURI("127.0.0.1", user="carol", port=5071, parameters={"transport": "tcp"})
    assert routes(plain, tcp) == [("127.0.0.1", 5071, "tcp")]
    proxy = SimpleNamespace(host="127.0.0.9", port=5080, transport="tcp")
    proxied = SimpleNamespace(
        account=SimpleNamespace(sip=SimpleNamespace(outbound_proxy=proxy)), transport="udp"
    )
    assert routes(proxied, SIPURI("127.0.0.1", user="carol")) == [("127.0.0.9", 5080, "tcp")]


def test_a_stream_for_the_transferred_call_is_new_and_keeps_its_constructor_settings():
    from sipsimple.session._transfer import new_stream_like

    old = FakeStream(account="the account")
    new = new_stream_like(old)
    assert type(new) is FakeStream and new is not old and new.account == "the account"


#: The reference's transfer notifications (sender: the Session) and their data attributes.
TRANSFER_DATA = {
    "SIPSessionTransferNewOutgoing": {"timestamp", "transfer_destination", "transfer_source"},
    "SIPSessionTransferNewIncoming": {"timestamp", "transfer_destination", "transfer_source"},
    "SIPSessionTransferDidStart": {"timestamp"},
    "SIPSessionTransferGotProgress": {"timestamp", "code", "reason"},
    "SIPSessionTransferDidEnd": {"timestamp"},
    "SIPSessionTransferDidFail": {"timestamp", "code", "reason"},
}


def test_every_transfer_notification_is_posted_by_a_session_with_exactly_its_documented_data(
    loop, alice, bob_engine, bob_manager, carol_engine, carol_manager, recorder
):
    """A successful blind transfer and a rejected one post all six, each with exactly the
    reference's attributes, of the documented types, from the sessions involved."""
    a_b, b_a = connect(loop, alice, bob_engine, bob_manager, "bob")
    b_a.transfer(target_of(carol_engine))
    offered(loop, recorder, a_b)
    a_b.reject_transfer(603, "Declined")
    loop.run_until(lambda: named(recorder, "SIPSessionTransferDidFail", b_a), what="the refusal")
    b_a.transfer(target_of(carol_engine))
    loop.run_until(
        lambda: len(named(recorder, "SIPSessionTransferNewIncoming", a_b)) == 2, what="the second REFER"
    )
    a_b.accept_transfer()
    c_a = new_incoming(loop, carol_manager)
    c_a.accept(c_a.proposed_streams)
    loop.run_until(lambda: named(recorder, "SIPSessionTransferDidEnd", b_a), what="the transfer")
    sessions = {a_b, b_a, a_b.transfer_handler.new_session, c_a}

    seen = [n for n in recorder.notifications if n.name.startswith("SIPSessionTransfer")]
    assert {n.name for n in seen} == set(TRANSFER_DATA)
    for notification in seen:
        data = notification.data
        assert notification.sender in sessions, notification.name
        assert set(vars(data)) == TRANSFER_DATA[notification.name], notification.name
        assert isinstance(data.timestamp, datetime.datetime)
        if "code" in TRANSFER_DATA[notification.name]:
            assert type(data.code) is int and 100 <= data.code <= 699 and isinstance(data.reason, str)
        if "transfer_destination" in TRANSFER_DATA[notification.name]:
            assert isinstance(data.transfer_destination, SIPURI)
            assert str(data.transfer_source) == "sip:bob@example.test"
    refused = {(n.sender, n.data.code, n.data.reason) for n in seen if n.name == "SIPSessionTransferDidFail"}
    assert refused == {(a_b, 603, "Declined"), (b_a, 603, "Declined")}  # the referee and the referrer
    a_b.transfer_handler.new_session.end()
    loop.run_until(lambda: c_a.state == "terminated", what="the end of alice-carol")


def test_the_referred_by_uri_is_read_as_a_name_addr_and_anything_else_gives_none():
    """The transferor's URI comes from the Referred-By's name-addr (a quoted display name may hold
    '<'); text that is not a SIP name-addr leaves only the text."""
    from sipsimple.session._transfer import _uri_in

    assert str(_uri_in('"a<b" <sip:bob@example.test>;cid=1')) == "sip:bob@example.test"
    assert str(_uri_in("sip:bob@example.test")) == "sip:bob@example.test"
    assert _uri_in("<tel:+15551234>") is None
    assert _uri_in("not an address <") is None
    assert _uri_in(None) is None
