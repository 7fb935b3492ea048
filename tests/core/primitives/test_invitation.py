"""The Invitation on a fake engine (the real transaction layer on a Clock): forking, CANCEL and
the CANCEL/200 race, 2xx retransmission until the ACK, glare with an injected random, late
offers, BYE both ways, 481 ending the dialog, digest challenges, transport failures."""

from __future__ import annotations

import random

import pytest

from sipsimple.core import Credentials, Invitation
from sipsimple.core.primitives import StaticResolver, install_invitation_handler
from sipsimple.core.primitives.invitation import InvitationStateError
from sipsimple.core.sdp import FrozenSDPSession
from sipsimple.core.sip._scanner import scan
from sipsimple.core.sip.headers import (
    CallIDHeader,
    CSeqHeader,
    FromHeader,
    RouteHeader,
    ToHeader,
    ViaHeader,
)
from sipsimple.core.sip.message import SIPRequest, SIPResponse, make_response, parse_message
from sipsimple.core.sip.stack import SIPStack

from .conftest import ALICE, BOB, CONTACT
from .dialog_fakes import PEER, PEER_CONTACT, DialogFakeEngine
from .fakes import LISTENERS

ROUTE = RouteHeader(PEER_CONTACT.uri)
T1 = 0.5


def sdp(port: int, direction: str = "sendrecv", version: int = 1) -> FrozenSDPSession:
    return FrozenSDPSession.parse(
        f"v=0\r\no=peer 7 {version} IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na={direction}\r\n"
    )


SDP_HEADERS = (("Content-Type", "application/sdp"),)


class InviteFakeEngine(DialogFakeEngine):
    """DialogFakeEngine plus the Engine's CANCEL routing (``on_cancel``)."""

    def __init__(self) -> None:
        super().__init__()
        self.cancel_handlers: dict[int, object] = {}
        self.stray_handlers: dict[tuple[str, str], object] = {}
        self.stack = SIPStack(
            self.clock,
            self.transport,
            on_request=self._on_request,
            on_cancel=self._on_cancel,
            on_stray_response=self._on_stray,
        )

    def register_stray_handler(self, call_id, local_tag, handler) -> None:
        if handler is None:
            self.stray_handlers.pop((call_id, local_tag), None)
        else:
            self.stray_handlers[(call_id, local_tag)] = handler

    def _on_stray(self, response) -> None:
        handler = self.stray_handlers.get((response.call_id, response.from_header.tag))
        if handler is not None:
            handler(response)

    def on_cancel(self, transaction, handler) -> None:
        self.cancel_handlers[id(transaction)] = handler

    def _on_cancel(self, invite, cancel) -> None:
        handler = self.cancel_handlers.pop(id(invite), None)
        if handler is not None:
            handler(invite)

    def all_sent(self, method: str) -> list[SIPRequest]:
        """Every request of ``method`` sent, retransmissions included."""
        parsed = [parse_message(data) for data, _, _ in self.transport.sent]
        return [m for m in parsed if isinstance(m, SIPRequest) and m.method == method]

    def respond(
        self, request: SIPRequest, code: int, tag: str = "srv", body: bytes = b"", contact=PEER_CONTACT
    ):
        """Deliver the peer's response to our ``request`` with To tag ``tag``."""
        headers = [("Contact", contact)] if 100 < code < 300 else []
        if body:
            headers += list(SDP_HEADERS)
        response = make_response(
            request, code, to_tag=tag if code > 100 else None, headers=headers, body=body
        )
        self.stack.receive(scan(response.to_bytes()), self.destination_of(request), LISTENERS[0])


@pytest.fixture
def fake() -> InviteFakeEngine:
    return InviteFakeEngine()


def new_invitation(fake, seed: int = 1) -> Invitation:
    return Invitation(engine=fake, resolver=StaticResolver(), random=random.Random(seed))


def call(fake, offer=True, **kwargs) -> tuple[Invitation, SIPRequest]:
    invitation = new_invitation(fake)
    invitation.send_invite(BOB.uri, ALICE, BOB, ROUTE, CONTACT, sdp=sdp(4000) if offer else None, **kwargs)
    return invitation, fake.sent("INVITE")[-1]


def changes(recorder, invitation) -> list[tuple[str, str | None]]:
    return [
        (n.data.state, n.data.sub_state)
        for n in recorder.named("SIPInvitationChangedState")
        if n.sender is invitation
    ]


def in_dialog(method: str, ours: SIPRequest, cseq: int, tag: str = "srv", body: bytes = b"") -> SIPRequest:
    """The peer's request in the dialog of our INVITE ``ours`` (peer tag ``tag``)."""
    request = SIPRequest(method, ours.get("Contact").uri)
    request.add("Max-Forwards", "70")
    to = ours.from_header
    request.add("From", FromHeader(ours.to_header.uri, None, {"tag": tag}))
    request.add("To", ToHeader(to.uri, to.display_name, {"tag": to.tag}))
    request.add("Call-ID", CallIDHeader(ours.call_id))
    request.add("CSeq", CSeqHeader(cseq, method))
    request.add("Contact", [PEER_CONTACT])
    if body:
        request.add("Content-Type", "application/sdp")
        request.body = body
    return request


def connect(fake, recorder) -> tuple[Invitation, SIPRequest]:
    invitation, invite = call(fake)
    fake.respond(invite, 180)
    fake.respond(invite, 200, body=str(sdp(5000)).encode())
    assert invitation.state == "connected"
    return invitation, invite


# -- outgoing ---------------------------------------------------------------------------------


def test_an_answered_call_goes_calling_early_connecting_connected_and_acks_the_2xx(fake, recorder):
    invitation, invite = connect(fake, recorder)
    assert changes(recorder, invitation) == [
        ("calling", None), ("early", None), ("connecting", None), ("connected", "normal")
    ]  # fmt: skip
    ack = fake.all_sent("ACK")
    assert len(ack) == 1 and ack[0].cseq.number == invite.cseq.number and ack[0].to_header.tag == "srv"
    assert invitation.sdp.active_remote.media[0].port == 5000
    assert invitation.dialog_id.remote_tag == "srv" and invitation.remote_contact.uri == PEER_CONTACT.uri


def test_a_retransmitted_2xx_is_acked_again_with_the_same_ack(fake, recorder):
    invitation, invite = connect(fake, recorder)
    fake.respond(invite, 200, body=str(sdp(5000)).encode())
    acks = fake.all_sent("ACK")
    assert len(acks) == 2 and acks[0].get("Via").branch == acks[1].get("Via").branch
    assert invitation.state == "connected"


def test_forking_keeps_one_early_dialog_per_tag_and_acks_then_byes_the_second_2xx(fake, recorder):
    invitation, invite = call(fake)
    fake.respond(invite, 180, tag="fork-a")
    fake.respond(invite, 183, tag="fork-b")
    assert set(invitation._early) == {"fork-a", "fork-b"}
    fake.respond(invite, 200, tag="fork-b", body=str(sdp(5000)).encode())
    fake.respond(invite, 200, tag="fork-a", body=str(sdp(6000)).encode())
    assert invitation.state == "connected" and invitation.dialog_id.remote_tag == "fork-b"
    acks = fake.all_sent("ACK")
    assert [a.to_header.tag for a in acks] == ["fork-b", "fork-a"]
    byes = fake.sent("BYE")
    assert [b.to_header.tag for b in byes] == ["fork-a"]
    assert invitation.sdp.active_remote.media[0].port == 5000  # the other fork's SDP is ignored


def test_a_rejected_invite_ends_disconnected_with_the_code(fake, recorder):
    invitation, invite = call(fake)
    fake.respond(invite, 486)
    assert invitation.state == "disconnected"
    last = recorder.named("SIPInvitationChangedState")[-1].data
    assert (last.code, last.originator, last.disconnect_reason) == (486, "remote", "486 Busy Here")
    assert len(fake.all_sent("ACK")) == 1  # the transaction ACKs a non-2xx


def test_end_before_any_provisional_waits_for_one_before_sending_the_cancel(fake, recorder):
    invitation, invite = call(fake)
    invitation.end()
    assert invitation.state == "disconnecting" and fake.all_sent("CANCEL") == []
    fake.respond(invite, 180)
    cancels = fake.all_sent("CANCEL")
    assert len(cancels) == 1 and cancels[0].get("Via").branch == invite.get("Via").branch
    fake.respond(invite, 487)
    assert invitation.state == "disconnected"
    assert recorder.named("SIPInvitationChangedState")[-1].data.originator == "local"


def test_a_100_trying_is_enough_for_the_waiting_cancel(fake, recorder):
    """RFC 3261 §9.1: 100 Trying is a provisional response. A callee that has not answered yet
    may send nothing else; the CANCEL used to wait for an 18x, then 64*T1, and end with 408."""
    invitation, invite = call(fake)
    invitation.end()
    fake.respond(invite, 100)
    cancels = fake.all_sent("CANCEL")
    assert len(cancels) == 1 and cancels[0].get("Via").branch == invite.get("Via").branch
    fake.respond(invite, 487)
    assert invitation.state == "disconnected"
    assert recorder.named("SIPInvitationChangedState")[-1].data.code == 487


def test_a_cancel_after_a_100_trying_goes_at_once(fake, recorder):
    invitation, invite = call(fake)
    fake.respond(invite, 100)
    assert invitation.state == "calling"  # a 100 is no state change
    invitation.end()
    assert len(fake.all_sent("CANCEL")) == 1


def test_a_2xx_after_our_cancel_is_acked_and_then_byed(fake, recorder):
    invitation, invite = call(fake)
    fake.respond(invite, 180)
    invitation.end()
    assert len(fake.all_sent("CANCEL")) == 1
    fake.respond(invite, 200, body=str(sdp(5000)).encode())
    assert len(fake.all_sent("ACK")) == 1 and len(fake.sent("BYE")) == 1
    assert invitation.state == "disconnecting"
    fake.answer(fake.sent("BYE")[0], 200)
    assert invitation.state == "disconnected"
    assert "connected" not in [state for state, _ in changes(recorder, invitation)]


def test_a_cancel_without_a_final_response_gives_up_after_64_t1(fake, recorder):
    invitation, invite = call(fake)
    fake.respond(invite, 180)
    invitation.end()
    fake.clock.advance(64 * T1 + 1)
    assert invitation.state == "disconnected"


def test_the_invite_timeout_cancels_a_ringing_call(fake, recorder):
    invitation, invite = call(fake, timeout=30)
    fake.respond(invite, 180)
    fake.clock.advance(31)
    assert invitation.state == "disconnecting" and len(fake.all_sent("CANCEL")) == 1


def test_a_digest_challenge_is_answered_once(fake, recorder, digest):
    invitation, invite = call(fake, credentials=Credentials("alice", "secret-alice"))
    fake.answer(invite, 407, [("Proxy-Authenticate", digest.challenge())])
    retry = fake.sent("INVITE")[-1]
    assert (
        retry is not invite and "Proxy-Authorization" in retry and retry.cseq.number == invite.cseq.number + 1
    )
    fake.answer(retry, 407, [("Proxy-Authenticate", digest.challenge())])
    assert invitation.state == "disconnected" and len(fake.sent("INVITE")) == 2


def test_a_transport_failure_disconnects_with_a_reason(fake, recorder):
    fake.transport.failing.add(PEER)
    invitation, _ = call(fake)
    assert invitation.state == "disconnected"
    data = recorder.named("SIPInvitationChangedState")[-1].data
    assert data.code == 503 and "Cannot reach" in data.disconnect_reason


def test_end_when_connected_sends_bye_and_disconnects_on_its_answer(fake, recorder):
    invitation, _ = connect(fake, recorder)
    invitation.end()
    assert invitation.state == "disconnecting"
    fake.reply(200)
    assert invitation.state == "disconnected"
    with pytest.raises(InvitationStateError):
        invitation.end()


def test_a_bye_from_the_peer_is_answered_200_and_disconnects(fake, recorder):
    invitation, invite = connect(fake, recorder)
    response = fake.deliver(in_dialog("BYE", invite, 1))
    assert response.code == 200 and invitation.state == "disconnected"
    assert recorder.named("SIPInvitationChangedState")[-1].data.originator == "remote"
    assert fake.deliver(in_dialog("BYE", invite, 2)).code == 481  # the dialog is gone


def test_a_481_to_our_reinvite_ends_the_call(fake, recorder):
    invitation, _ = connect(fake, recorder)
    invitation.send_reinvite(sdp=sdp(4000, "sendonly"))
    fake.reply(481)
    assert invitation.state == "disconnected"


def test_a_late_offer_in_the_2xx_is_answered_in_the_ack(fake, recorder):
    invitation, invite = call(fake, offer=False)
    assert invite.body == b""
    fake.respond(invite, 200, body=str(sdp(5000)).encode())
    assert invitation.state == "connecting" and fake.all_sent("ACK") == []
    invitation.send_ack(sdp(4000))
    ack = fake.all_sent("ACK")[0]
    assert b"m=audio 4000" in ack.body and invitation.state == "connected"
    assert invitation.sdp.active_remote.media[0].port == 5000


# -- re-INVITEs and glare -----------------------------------------------------------------------


def test_a_reinvite_answered_491_is_retried_after_the_owner_delay(fake, recorder):
    invitation, _ = connect(fake, recorder)
    delay = random.Random(1).uniform(2.1, 4.0)  # what the injected random gives the Call-ID owner
    invitation.send_reinvite(sdp=sdp(4000, "sendonly"))
    fake.reply(491)
    assert invitation.sub_state == "sending_proposal" and len(fake.sent("INVITE")) == 2
    fake.clock.advance(delay - 0.01)
    assert len(fake.sent("INVITE")) == 2
    fake.clock.advance(0.02)
    assert len(fake.sent("INVITE")) == 3
    fake.respond(fake.sent("INVITE")[-1], 200, body=str(sdp(5000, "recvonly")).encode())
    assert invitation.sub_state == "normal"
    assert invitation.sdp.active_local.media[0].direction == "sendonly"


def test_a_reinvite_from_the_peer_while_ours_is_out_is_answered_491(fake, recorder):
    invitation, invite = connect(fake, recorder)
    invitation.send_reinvite(sdp=sdp(4000, "sendonly"))
    response = fake.deliver(in_dialog("INVITE", invite, 1, body=str(sdp(5000, "sendonly", 2)).encode()))
    assert response.code == 491 and invitation.sub_state == "sending_proposal"


def test_the_peer_reinvite_during_our_glare_wait_is_taken_and_ours_is_dropped(fake, recorder):
    invitation, invite = connect(fake, recorder)
    invitation.send_reinvite(sdp=sdp(4000, "sendonly"))
    fake.reply(491)
    fake.deliver(in_dialog("INVITE", invite, 1, body=str(sdp(5000, "sendonly", 2)).encode()))
    assert invitation.sub_state == "received_proposal"
    invitation.send_response(200, sdp=sdp(4000, "recvonly"))
    fake.clock.advance(10)
    assert len(fake.sent("INVITE")) == 2  # no retry of ours


def test_a_reinvite_answered_only_by_100_trying_can_be_cancelled(fake, recorder):
    """RFC 3261 §9.1: a 100 Trying is a provisional response, so the CANCEL may follow it (the
    peer may send nothing else before its user answers the proposal)."""
    invitation, _ = connect(fake, recorder)
    invitation.send_reinvite(sdp=sdp(4000, "sendonly"))
    reinvite = fake.sent("INVITE")[-1]
    invitation.cancel_reinvite()
    assert fake.all_sent("CANCEL") == []  # nothing heard yet: the CANCEL waits
    fake.respond(reinvite, 100)
    cancels = fake.all_sent("CANCEL")
    assert len(cancels) == 1 and cancels[0].get("Via").branch == reinvite.get("Via").branch
    fake.respond(reinvite, 487)
    assert invitation.sub_state == "normal"


def test_an_incoming_reinvite_changes_sub_state_and_our_2xx_waits_for_the_ack(fake, recorder):
    invitation, invite = connect(fake, recorder)
    reinvite = in_dialog("INVITE", invite, 1, body=str(sdp(5000, "sendonly", 2)).encode())
    fake.deliver(reinvite)
    assert invitation.sub_state == "received_proposal"
    invitation.send_response(200, sdp=sdp(4000, "recvonly"))
    assert invitation.sub_state == "normal"
    ok = fake.response_to(reinvite)
    assert ok.code == 200 and b"a=recvonly" in ok.body
    sent_before = len(fake.responses())
    fake.clock.advance(T1 + 0.01)
    assert len(fake.responses()) == sent_before + 1  # retransmitted until the ACK
    ack = in_dialog("ACK", invite, 1)
    fake.deliver(ack)
    count = len(fake.responses())
    fake.clock.advance(10)
    assert len(fake.responses()) == count


def test_our_reinvite_waits_for_the_ack_of_our_2xx_to_the_peers_reinvite(fake, recorder):
    """RFC 3261 §14.1: no new INVITE while the peer's is in progress. Sent at once, the ACK (no
    SDP: the offer was the peer's) was taken for the missing answer to our new offer, and the
    call was ended with a BYE."""
    invitation, invite = connect(fake, recorder)
    fake.deliver(in_dialog("INVITE", invite, 1, body=str(sdp(5000, "sendonly", 2)).encode()))
    invitation.send_response(200, sdp=sdp(4000, "recvonly"))
    invitation.send_reinvite(sdp=sdp(4000, "sendonly"))
    assert invitation.sub_state == "sending_proposal" and len(fake.sent("INVITE")) == 1
    fake.deliver(in_dialog("ACK", invite, 1))
    assert invitation.state == "connected" and fake.sent("BYE") == []
    reinvite = fake.sent("INVITE")[-1]
    assert len(fake.sent("INVITE")) == 2 and b"a=sendonly" in reinvite.body
    fake.respond(reinvite, 200, body=str(sdp(5000, "recvonly", 3)).encode())
    assert invitation.sub_state == "normal"
    assert invitation.sdp.active_local.media[0].direction == "sendonly"


def test_a_reinvite_waiting_for_the_ack_can_be_cancelled_before_it_is_sent(fake, recorder):
    invitation, invite = connect(fake, recorder)
    fake.deliver(in_dialog("INVITE", invite, 1, body=str(sdp(5000, "sendonly", 2)).encode()))
    invitation.send_response(200, sdp=sdp(4000, "recvonly"))
    invitation.send_reinvite(sdp=sdp(4000, "sendonly"))
    invitation.cancel_reinvite()
    last = recorder.named("SIPInvitationChangedState")[-1].data
    assert (invitation.sub_state, last.code) == ("normal", 487)
    fake.deliver(in_dialog("ACK", invite, 1))
    assert len(fake.sent("INVITE")) == 1 and fake.all_sent("CANCEL") == []


def test_the_answer_to_our_reinvite_after_our_bye_is_acked_and_the_call_still_ends(fake, recorder):
    invitation, invite = connect(fake, recorder)
    invitation.send_reinvite(sdp=sdp(4000, "sendonly"))
    reinvite = fake.sent("INVITE")[-1]
    invitation.end()
    assert invitation.state == "disconnecting" and len(fake.sent("BYE")) == 1
    fake.respond(reinvite, 200, body=str(sdp(5000, "recvonly", 2)).encode())  # raised before
    assert [a.cseq.number for a in fake.all_sent("ACK")] == [invite.cseq.number, reinvite.cseq.number]
    fake.answer(fake.sent("BYE")[0], 200)
    assert invitation.state == "disconnected"


def test_a_bye_while_the_peers_reinvite_is_unanswered_answers_it_487(fake, recorder):
    """RFC 3261 §15.1.2: the peer's pending re-INVITE still gets a response; without one its
    client transaction ran to Timer B."""
    invitation, invite = connect(fake, recorder)
    reinvite = in_dialog("INVITE", invite, 1, body=str(sdp(5000, "sendonly", 2)).encode())
    fake.deliver(reinvite)
    assert invitation.sub_state == "received_proposal"
    assert fake.deliver(in_dialog("BYE", invite, 2)).code == 200
    assert fake.response_to(reinvite).code == 487 and invitation.state == "disconnected"


# -- incoming -----------------------------------------------------------------------------------


def incoming_invite(body: bytes = b"", call_id: str = "call-1@peer") -> SIPRequest:
    request = SIPRequest("INVITE", "sip:bob@127.0.0.1:5060")
    request.add("Via", [ViaHeader("UDP", PEER.host, PEER.port, {"branch": "z9hG4bKinvite1"})])
    request.add("Max-Forwards", "70")
    request.add("From", FromHeader(ALICE.uri, "Alice", {"tag": "peer-tag"}))
    request.add("To", ToHeader(BOB.uri))
    request.add("Call-ID", CallIDHeader(call_id))
    request.add("CSeq", CSeqHeader(1, "INVITE"))
    request.add("Contact", [PEER_CONTACT])
    if body:
        request.add("Content-Type", "application/sdp")
        request.body = body
    return request


def peer_request(method: str, invite: SIPRequest, response: SIPResponse, cseq: int, body: bytes = b""):
    request = SIPRequest(method, response.get("Contact").uri)
    request.add("Max-Forwards", "70")
    request.add("From", invite.from_header)
    request.add("To", response.to_header)
    request.add("Call-ID", CallIDHeader(invite.call_id))
    request.add("CSeq", CSeqHeader(cseq, method))
    if body:
        request.add("Content-Type", "application/sdp")
        request.body = body
    return request


@pytest.fixture
def incoming(fake):
    got: list[Invitation] = []
    install_invitation_handler(fake, got.append, resolver=StaticResolver(), random=random.Random(3))
    return got


def test_an_incoming_invite_is_announced_then_accepted_and_connected_by_the_ack(fake, recorder, incoming):
    invite = incoming_invite(str(sdp(4000)).encode())
    fake.deliver(invite)
    callee = incoming[0]
    first = recorder.named("SIPInvitationChangedState")[0].data
    assert (first.state, first.method, first.originator) == ("incoming", "INVITE", "remote")
    assert str(first.headers["Call-ID"]) == "Call-ID: call-1@peer" and first.body == invite.body
    callee.send_response(180)
    callee.send_response(200, sdp=sdp(5000))
    ok = fake.response_to(invite)
    assert ok.code == 200 and callee.state == "connecting"
    fake.clock.advance(T1 + 0.01)
    fake.clock.advance(2 * T1 + 0.01)
    assert [r.code for r in fake.responses()].count(200) == 3  # sent at 0, T1, 3*T1
    fake.deliver(peer_request("ACK", invite, ok, 1))
    assert callee.state == "connected"
    count = len(fake.responses())
    fake.clock.advance(40)
    assert len(fake.responses()) == count


def test_without_an_ack_the_2xx_is_resent_doubling_to_t2_and_the_call_is_byed_at_64_t1(
    fake, recorder, incoming
):
    fake.deliver(incoming_invite(str(sdp(4000)).encode()))
    callee = incoming[0]
    callee.send_response(200, sdp=sdp(5000))
    fake.clock.pump([0.25] * int(64 * T1 / 0.25 + 4))
    sent = [r.code for r in fake.responses()].count(200)
    assert 10 <= sent <= 14  # 0, .5, 1.5, 3.5, 7.5, then every 4 s up to 32 s
    assert len(fake.sent("BYE")) == 1
    assert recorder.named("SIPInvitationChangedState")[-1].data.state == "disconnecting"


def test_a_2xx_waiting_for_its_ack_stops_being_resent_when_the_engine_stops(fake, recorder, incoming):
    """Stopping the engine leaves nothing that can send: the pending 2xx's timers end quietly
    instead of raising "the engine is not running" from the reactor at each T1 step."""
    fake.deliver(incoming_invite(str(sdp(4000)).encode()))
    callee = incoming[0]
    callee.send_response(200, sdp=sdp(5000))
    sent = len(fake.responses())
    fake.is_running = False
    fake.clock.pump([0.25] * int(64 * T1 / 0.25 + 4))
    assert len(fake.responses()) == sent and fake.sent("BYE") == []
    assert fake.clock.getDelayedCalls() == []


def test_an_incoming_cancel_is_answered_and_the_invite_gets_487(fake, recorder, incoming):
    invite = incoming_invite(str(sdp(4000)).encode())
    fake.deliver(invite)
    incoming[0].send_response(180)
    cancel = SIPRequest("CANCEL", invite.uri)
    cancel.add("Via", invite.get_all("Via"))
    for name in ("Max-Forwards", "From", "To", "Call-ID"):
        cancel.copy_headers_from(invite, name)
    cancel.add("CSeq", CSeqHeader(1, "CANCEL"))
    fake.deliver(cancel)
    assert [r.code for r in fake.responses() if r.cseq.method == "CANCEL"] == [200]
    assert incoming[0].state == "disconnected"
    assert [r.code for r in fake.responses() if r.cseq.method == "INVITE"][-1] == 487


def test_a_late_offer_in_our_2xx_takes_the_answer_from_the_ack(fake, recorder, incoming):
    invite = incoming_invite()
    fake.deliver(invite)
    callee = incoming[0]
    with pytest.raises(InvitationStateError):
        callee.send_response(200)  # the 2xx must carry our offer
    callee.send_response(200, sdp=sdp(5000))
    ok = fake.response_to(invite)
    fake.deliver(peer_request("ACK", invite, ok, 1, body=str(sdp(4000)).encode()))
    assert callee.state == "connected" and callee.sdp.active_remote.media[0].port == 4000


def test_a_malformed_sdp_offer_is_refused_488_and_not_announced(fake, recorder, incoming):
    invite = incoming_invite(b"v=0\r\nnot sdp")
    fake.deliver(invite)
    assert fake.response_to(invite).code == 488 and incoming == []


def test_ending_an_unanswered_incoming_invite_declines_it(fake, recorder, incoming):
    invite = incoming_invite(str(sdp(4000)).encode())
    fake.deliver(invite)
    incoming[0].end()
    assert fake.response_to(invite).code == 603 and incoming[0].state == "disconnected"


def test_answering_twice_is_a_local_state_error(fake, recorder, incoming):
    fake.deliver(incoming_invite(str(sdp(4000)).encode()))
    incoming[0].send_response(486)
    with pytest.raises(InvitationStateError):
        incoming[0].send_response(200, sdp=sdp(5000))
