"""The Invitation's second slice on the fake engine (real transactions on a Clock): stray 2xx
after the INVITE transaction ended, reliable provisionals (RFC 3262), UPDATE (RFC 3311), session
timers (RFC 4028), Replaces (RFC 3891), in-dialog MESSAGE and INFO."""

from __future__ import annotations

import random

import pytest

from sipsimple.core import Invitation
from sipsimple.core.primitives import StaticResolver, install_invitation_handler
from sipsimple.core.primitives.invitation import InvitationStateError
from sipsimple.core.sip.message import SIPRequest

from .test_invitation import (
    T1,
    InviteFakeEngine,
    call,
    connect,
    in_dialog,
    incoming_invite,
    peer_request,
    sdp,
)


@pytest.fixture
def fake() -> InviteFakeEngine:
    return InviteFakeEngine()


@pytest.fixture
def incoming(fake):
    got: list[Invitation] = []
    install_invitation_handler(fake, got.append, resolver=StaticResolver(), random=random.Random(3))
    return got


def with_headers(request: SIPRequest, *headers: tuple[str, str]) -> SIPRequest:
    for name, value in headers:
        request.add(name, value)
    return request


def provisional_with(fake, invite, code, tag="srv", body=b"", headers=()):
    """Deliver the peer's ``code`` with extra ``headers`` (e.g. Require/RSeq) to our INVITE."""
    from sipsimple.core.sip._scanner import scan
    from sipsimple.core.sip.message import make_response

    from .dialog_fakes import PEER_CONTACT
    from .fakes import LISTENERS

    extra = [("Contact", PEER_CONTACT), *headers]
    if body:
        extra.append(("Content-Type", "application/sdp"))
    response = make_response(invite, code, to_tag=tag, headers=extra, body=body)
    fake.stack.receive(scan(response.to_bytes()), fake.destination_of(invite), LISTENERS[0])


# -- stray 2xx ----------------------------------------------------------------------------------


def test_a_2xx_retransmitted_after_the_invite_transaction_ended_is_acked_again(fake, recorder):
    invitation, invite = connect(fake, recorder)
    fake.clock.advance(64 * T1 + 1)  # Timer M: the INVITE client transaction is gone
    assert fake.stack._client_transactions == {}
    fake.respond(invite, 200, body=str(sdp(5000)).encode())
    acks = fake.all_sent("ACK")
    assert len(acks) == 2 and acks[0].get("Via").branch == acks[1].get("Via").branch
    assert fake.sent("BYE") == [] and invitation.state == "connected"


def test_a_2xx_of_another_fork_after_the_transaction_ended_is_acked_and_byed(fake, recorder):
    invitation, invite = connect(fake, recorder)
    fake.clock.advance(64 * T1 + 1)
    fake.respond(invite, 200, tag="fork-b", body=str(sdp(6000)).encode())
    acks = fake.all_sent("ACK")
    assert [a.to_header.tag for a in acks] == ["srv", "fork-b"]
    assert [b.to_header.tag for b in fake.sent("BYE")] == ["fork-b"]
    assert invitation.state == "connected" and invitation.dialog_id.remote_tag == "srv"
    assert invitation.sdp.active_remote.media[0].port == 5000


def test_a_reinvite_2xx_retransmitted_after_its_transaction_ended_is_reacked(fake, recorder):
    invitation, _ = connect(fake, recorder)
    invitation.send_reinvite(sdp=sdp(4000, "sendonly"))
    reinvite = fake.sent("INVITE")[-1]
    fake.respond(reinvite, 200, body=str(sdp(5000, "recvonly", 2)).encode())
    assert invitation.sub_state == "normal" and len(fake.all_sent("ACK")) == 2
    fake.clock.advance(64 * T1 + 1)
    fake.respond(reinvite, 200, body=str(sdp(5000, "recvonly", 2)).encode())
    acks = fake.all_sent("ACK")
    assert len(acks) == 3 and acks[-1].cseq.number == reinvite.cseq.number
    assert acks[-1].get("Via").branch == acks[1].get("Via").branch


def test_stray_2xx_are_still_acked_after_the_call_ended_and_forgotten_after_64_t1(fake, recorder):
    invitation, invite = connect(fake, recorder)
    fake.clock.advance(64 * T1 + 1)
    invitation.end()
    fake.reply(200)
    assert invitation.state == "disconnected"
    fake.respond(invite, 200, tag="late", body=str(sdp(6000)).encode())
    assert [a.to_header.tag for a in fake.all_sent("ACK")] == ["srv", "late"]
    assert [b.to_header.tag for b in fake.sent("BYE")] == ["srv", "late"]
    fake.clock.advance(64 * T1 + 1)
    assert fake.stray_handlers == {}  # forgotten 64*T1 after the end


# -- reliable provisionals (RFC 3262) -------------------------------------------------------------


def test_our_invite_says_supported_100rel_and_prack_each_new_reliable_provisional_once(fake, recorder):
    invitation, invite = call(fake)
    assert "100rel" in str(invite.get("Supported"))
    answer = str(sdp(5000)).encode()
    reliable = (("Require", "100rel"), ("RSeq", "7"))
    provisional_with(fake, invite, 183, body=answer, headers=reliable)
    pracks = fake.sent("PRACK")
    assert len(pracks) == 1 and str(pracks[0].get("RAck").body) == f"7 {invite.cseq.number} INVITE"
    assert pracks[0].to_header.tag == "srv" and pracks[0].cseq.number == invite.cseq.number + 1
    assert invitation.sdp.active_remote.media[0].port == 5000  # early media from the reliable 183
    provisional_with(fake, invite, 183, body=answer, headers=reliable)  # a retransmission
    assert len(fake.sent("PRACK")) == 1
    assert [n.data.code for n in recorder.named("SIPInvitationChangedState")].count(183) == 1
    provisional_with(fake, invite, 180, headers=(("Require", "100rel"), ("RSeq", "8")))
    assert [str(p.get("RAck").body).split()[0] for p in fake.sent("PRACK")] == ["7", "8"]


def test_a_reliable_provisional_out_of_order_is_dropped(fake, recorder):
    invitation, invite = call(fake)
    provisional_with(fake, invite, 180, headers=(("Require", "100rel"), ("RSeq", "3")))
    provisional_with(fake, invite, 183, headers=(("Require", "100rel"), ("RSeq", "5")))
    assert len(fake.sent("PRACK")) == 1 and invitation.state == "early"


def reliable_call(fake, incoming, body=None, *headers):
    invite = with_headers(incoming_invite(str(sdp(4000)).encode() if body is None else body), *headers)
    fake.deliver(invite)
    return incoming[0], invite


def test_an_invite_that_requires_100rel_gets_a_reliable_183_resent_until_its_prack(fake, recorder, incoming):
    callee, invite = reliable_call(fake, incoming, None, ("Require", "100rel"))
    callee.send_response(183, sdp=sdp(5000))
    first = fake.response_to(invite)
    assert first.code == 183 and "100rel" in str(first.get("Require"))
    rseq = int(first.get("RSeq").body)
    fake.clock.advance(T1 + 0.01)
    fake.clock.advance(2 * T1 + 0.01)
    assert [r.code for r in fake.responses()].count(183) == 3  # at 0, T1, 3*T1
    with pytest.raises(InvitationStateError):
        callee.send_response(180)  # one reliable provisional at a time
    prack = with_headers(peer_request("PRACK", invite, first, 2), ("RAck", f"{rseq} 1 INVITE"))
    assert fake.deliver(prack).code == 200
    fake.clock.advance(20)
    assert [r.code for r in fake.responses()].count(183) == 3
    callee.send_response(180)
    assert int(fake.response_to(invite).get("RSeq").body) == rseq + 1
    callee.send_response(200)  # answered reliably: the 2xx carries no SDP again
    ok = fake.response_to(invite)
    assert ok.code == 200 and ok.body == b"" and callee.sdp.active_remote.media[0].port == 4000


def test_a_prack_that_matches_no_reliable_provisional_gets_481(fake, recorder, incoming):
    callee, invite = reliable_call(fake, incoming, None, ("Supported", "100rel"))
    callee.send_response(180, reliable=True)
    first = fake.response_to(invite)
    rseq = int(first.get("RSeq").body)
    prack = with_headers(peer_request("PRACK", invite, first, 2), ("RAck", f"{rseq + 1} 1 INVITE"))
    assert fake.deliver(prack).code == 481


def test_without_a_prack_the_reliable_provisional_gives_up_with_504_after_64_t1(fake, recorder, incoming):
    callee, invite = reliable_call(fake, incoming, None, ("Require", "100rel"))
    callee.send_response(180)
    fake.clock.pump([1.0] * int(64 * T1 + 2))
    assert fake.response_to(invite).code == 504 and callee.state == "disconnected"
    assert [r.code for r in fake.responses()].count(180) == 6  # 0, .5, 1.5, 3.5, 7.5, 15.5


def test_an_offer_in_a_reliable_provisional_is_answered_in_the_prack(fake, recorder, incoming):
    callee, invite = reliable_call(fake, incoming, b"", ("Supported", "100rel"))
    callee.send_response(183, sdp=sdp(5000), reliable=True)
    first = fake.response_to(invite)
    assert b"m=audio 5000" in first.body
    with pytest.raises(InvitationStateError):
        callee.send_response(200)  # the offer is not answered yet
    rseq = int(first.get("RSeq").body)
    prack = with_headers(
        peer_request("PRACK", invite, first, 2, body=str(sdp(4000)).encode()), ("RAck", f"{rseq} 1 INVITE")
    )
    assert fake.deliver(prack).code == 200
    assert callee.sdp.active_remote.media[0].port == 4000
    assert recorder.named("SIPInvitationGotSDPUpdate")[-1].data.succeeded


def test_reliable_provisionals_need_the_peer_to_support_100rel(fake, recorder, incoming):
    callee, _ = reliable_call(fake, incoming)
    with pytest.raises(InvitationStateError):
        callee.send_response(180, reliable=True)


def test_an_invite_requiring_an_unknown_extension_gets_420_with_unsupported(fake, recorder, incoming):
    invite = with_headers(incoming_invite(str(sdp(4000)).encode()), ("Require", "100rel, frobnicate"))
    response = fake.deliver(invite)
    assert response.code == 420 and str(response.get("Unsupported").body) == "frobnicate"
    assert incoming == []


def test_an_invite_requiring_session_timers_is_taken_now_that_rfc_4028_is_implemented(
    fake, recorder, incoming
):
    invite = with_headers(incoming_invite(str(sdp(4000)).encode()), ("Require", "timer"))
    response = fake.deliver(invite)
    assert response is None or response.code < 200  # no 420: the call is announced
    assert len(incoming) == 1 and incoming[0].state == "incoming"


# -- UPDATE (RFC 3311) ----------------------------------------------------------------------------


def test_an_update_with_an_offer_is_a_proposal_answered_in_its_200_without_retransmission(fake, recorder):
    invitation, invite = connect(fake, recorder)
    assert "UPDATE" in str(invite.get("Allow"))
    update = in_dialog("UPDATE", invite, 1, body=str(sdp(5000, "sendonly", 2)).encode())
    fake.deliver(update)
    last = recorder.named("SIPInvitationChangedState")[-1].data
    assert (last.sub_state, last.method) == ("received_proposal", "UPDATE")
    invitation.send_response(200, sdp=sdp(4000, "recvonly"))
    ok = fake.response_to(update)
    assert ok.code == 200 and b"a=recvonly" in ok.body and invitation.sub_state == "normal"
    assert invitation.sdp.active_remote.media[0].direction == "sendonly"
    count = len(fake.responses())
    fake.clock.advance(10)
    assert len(fake.responses()) == count  # no ACK is expected for an UPDATE


def test_an_update_without_sdp_is_answered_200_even_in_an_early_dialog(fake, recorder, incoming):
    callee = incoming
    invite = incoming_invite(str(sdp(4000)).encode())
    fake.deliver(invite)
    callee[0].send_response(180)
    update = peer_request("UPDATE", invite, fake.response_to(invite), 2)
    assert fake.deliver(update).code == 200 and callee[0].state == "early"


def test_our_update_offer_is_negotiated_from_its_200(fake, recorder):
    invitation, _ = connect(fake, recorder)
    invitation.send_update(sdp=sdp(4000, "sendonly"))
    update = fake.sent("UPDATE")[-1]
    assert invitation.sub_state == "sending_proposal" and b"a=sendonly" in update.body
    fake.respond(update, 200, body=str(sdp(5000, "recvonly", 2)).encode())
    assert invitation.sub_state == "normal"
    assert invitation.sdp.active_local.media[0].direction == "sendonly"
    assert recorder.named("SIPInvitationGotSDPUpdate")[-1].data.succeeded


def test_crossing_updates_with_offers_get_491(fake, recorder):
    invitation, invite = connect(fake, recorder)
    invitation.send_update(sdp=sdp(4000, "sendonly"))
    theirs = in_dialog("UPDATE", invite, 1, body=str(sdp(5000, "sendonly", 2)).encode())
    assert fake.deliver(theirs).code == 491
    fake.respond(fake.sent("UPDATE")[-1], 491)
    assert invitation.sub_state == "normal"
    assert recorder.named("SIPInvitationGotSDPUpdate")[-1].data.succeeded is False


def test_an_update_offer_while_our_reinvite_offer_is_pending_gets_500_with_retry_after(fake, recorder):
    invitation, invite = connect(fake, recorder)
    invitation.send_reinvite(sdp=sdp(4000, "sendonly"))
    response = fake.deliver(in_dialog("UPDATE", invite, 1, body=str(sdp(5000, "sendonly", 2)).encode()))
    assert response.code == 500 and 0 <= int(response.get("Retry-After").body) <= 10


# -- Replaces (RFC 3891) --------------------------------------------------------------------------


def test_an_invite_with_replaces_exposes_the_confirmed_invitation_it_names(fake, recorder, incoming):
    ours, invite = connect(fake, recorder)
    replaces = ours.replaces_header()
    assert (replaces.call_id, replaces.from_tag, replaces.to_tag) == (
        invite.call_id,
        invite.from_header.tag,
        "srv",
    )
    # the transfer target's INVITE comes to us as the peer of the replaced dialog would see it:
    # to-tag is our local tag, from-tag our remote tag
    header = f"{invite.call_id};to-tag={invite.from_header.tag};from-tag=srv"
    fake.deliver(with_headers(incoming_invite(str(sdp(4000)).encode(), "call-2@peer"), ("Replaces", header)))
    assert incoming[0].replaced_invitation is ours


def test_an_invite_with_replaces_that_names_no_dialog_gets_481(fake, recorder, incoming):
    invite = with_headers(incoming_invite(str(sdp(4000)).encode()), ("Replaces", "nope;to-tag=a;from-tag=b"))
    assert fake.deliver(invite).code == 481 and incoming == []


def test_replaces_with_early_only_refuses_a_confirmed_dialog_with_486(fake, recorder, incoming):
    _, invite = connect(fake, recorder)
    header = f"{invite.call_id};to-tag={invite.from_header.tag};from-tag=srv;early-only"
    response = fake.deliver(with_headers(incoming_invite(b"", "call-3@peer"), ("Replaces", header)))
    assert response.code == 486 and incoming == []


# -- in-dialog MESSAGE and INFO -------------------------------------------------------------------


def test_messages_and_infos_in_the_dialog_are_answered_200_and_posted(fake, recorder):
    invitation, invite = connect(fake, recorder)
    message = in_dialog("MESSAGE", invite, 1)
    message.add("Content-Type", "text/plain")
    message.body = b"hello"
    assert fake.deliver(message).code == 200
    got = recorder.named("SIPInvitationGotMessage")[-1]
    assert got.sender is invitation and (got.data.content_type, got.data.body) == ("text/plain", b"hello")
    info = in_dialog("INFO", invite, 2)
    info.add("Content-Type", "application/dtmf-relay")
    info.body = b"Signal=5\r\nDuration=160\r\n"
    assert fake.deliver(info).code == 200
    assert recorder.named("SIPInvitationGotInfo")[-1].data.body.startswith(b"Signal=5")


def test_sent_messages_and_infos_report_their_outcome(fake, recorder):
    invitation, _ = connect(fake, recorder)
    invitation.send_message("text/plain", b"hi")
    message = fake.sent("MESSAGE")[-1]
    assert message.body == b"hi" and str(message.content_type.content_type) == "text/plain"
    fake.respond(message, 200)
    invitation.send_info("application/dtmf-relay", b"Signal=1\r\n")
    fake.respond(fake.sent("INFO")[-1], 415)
    outcomes = [
        (n.data.method, n.data.succeeded, n.data.code) for n in recorder.named("SIPInvitationRequestDidEnd")
    ]
    assert outcomes == [("MESSAGE", True, 200), ("INFO", False, 415)]
    assert invitation.state == "connected"
