"""The dialog model (sipsimple.core.sip.dialog): RFC 3261 §12 creation, routing, sequencing,
target refresh and termination; RFC 6665 dialogs created by NOTIFY; the dialog table; property
tests over the state machine; round trips of the requests it builds.

Messages are written as text and parsed with ``parse_message``, or built with the project's
builders (``make_response``) and sent through ``to_bytes``/``parse_message`` as the network would.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsimple.core.sip.dialog import (
    ERRORS,
    TABLE,
    Dialog,
    DialogEvent,
    DialogID,
    DialogState,
    DialogTable,
    LocalProtocolError,
    RemoteProtocolError,
    Role,
    notify_matches,
    request_dialog_id,
    response_dialog_id,
)
from sipsimple.core.sip.headers import ContactHeader, RouteHeader
from sipsimple.core.sip.message import SIPRequest, SIPResponse, make_cancel, make_response, parse_message
from sipsimple.core.sip.uri import SIPURI

CALL_ID = "a84b4c76e66710@pc33.atlanta.example.com"
ALICE_TAG = "1928301774"
BOB_TAG = "a6c85cf"
ALICE_CONTACT = "<sip:alice@pc33.atlanta.example.com>"
BOB_CONTACT = "<sip:bob@192.0.2.4>"
# Record-Route as both ends see it: the proxy nearest the UAS on top (RFC 3261 §16.6 step 4).
RECORD_ROUTE = ("<sip:server10.biloxi.example.com;lr>", "<sip:bigbox3.site3.atlanta.example.com;lr>")

S = DialogState
E = DialogEvent


def wire(text: str) -> Any:
    """Parse a message written with '\\n' line ends and no body."""
    return parse_message(text.strip("\n").replace("\n", "\r\n").encode() + b"\r\n\r\n")


def over_the_wire(message: Any) -> Any:
    return parse_message(message.to_bytes())


def edited(message: Any, *replacements: tuple[str, str]) -> Any:
    """``message`` with text replaced on the wire (all replacements made at once)."""
    data = message.to_bytes().decode()
    marks = [(old, f"\x00{i}\x00", new) for i, (old, new) in enumerate(replacements)]
    for old, mark, _ in marks:
        data = data.replace(old, mark)
    for _, mark, new in marks:
        data = data.replace(mark, new)
    return parse_message(data.encode())


def alice_invite(uri: str = "sip:bob@biloxi.example.com", cseq: int = 314159, method: str = "INVITE") -> Any:
    """Alice's dialog-creating request as she sends it."""
    return wire(f"""
{method} {uri} SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8
Max-Forwards: 70
To: Bob <{uri}>
From: Alice <sip:alice@atlanta.example.com>;tag={ALICE_TAG}
Call-ID: {CALL_ID}
CSeq: {cseq} {method}
Contact: {ALICE_CONTACT}
""")


def invite_at_bob(uri: str = "sip:bob@biloxi.example.com", contact: str = ALICE_CONTACT) -> Any:
    """The same INVITE as Bob receives it, after two record-routing proxies."""
    return wire(f"""
INVITE {uri} SIP/2.0
Via: SIP/2.0/UDP server10.biloxi.example.com;branch=z9hG4bK4b43c2ff8.1
Via: SIP/2.0/UDP bigbox3.site3.atlanta.example.com;branch=z9hG4bK77ef4c2312983.1
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8;received=192.0.2.1
Max-Forwards: 68
Record-Route: {RECORD_ROUTE[0]}
Record-Route: {RECORD_ROUTE[1]}
To: Bob <{uri}>
From: Alice <sip:alice@atlanta.example.com>;tag={ALICE_TAG}
Call-ID: {CALL_ID}
CSeq: 314159 INVITE
Contact: {contact}
""")


def bob_answers(
    request: Any,
    code: int,
    *,
    tag: str | None = BOB_TAG,
    contact: str | None = BOB_CONTACT,
    record_route: tuple[str, ...] = RECORD_ROUTE,
) -> Any:
    """Bob's response to Alice's dialog-creating request, as Alice receives it."""
    headers = [("Contact", contact)] if contact else []
    headers += [("Record-Route", value) for value in record_route]
    return over_the_wire(make_response(request, code, to_tag=tag, headers=headers))


def peer_request(dialog: Dialog, method: str, cseq: int, contact: str | None = None) -> Any:
    """A request the peer sends in ``dialog`` (tags as the peer writes them)."""
    lines = [
        f"{method} {dialog.local_contact.uri if dialog.local_contact else 'sip:me@example.com'} SIP/2.0",
        "Via: SIP/2.0/UDP peer.example.com;branch=z9hG4bKpeer",
        "Max-Forwards: 70",
        f"From: <{dialog.remote_uri}>;tag={dialog.remote_tag}",
        f"To: <{dialog.local_uri}>;tag={dialog.local_tag}",
        f"Call-ID: {dialog.call_id}",
        f"CSeq: {cseq} {method}",
    ]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    return wire("\n".join(lines))


def answer(request: Any, code: int, contact: str | None = None) -> Any:
    """The peer's response to one of our in-dialog requests."""
    headers = [("Contact", contact)] if contact else []
    return over_the_wire(make_response(request, code, headers=headers))


def uac_dialog(code: int = 200, *, record_route: tuple[str, ...] = RECORD_ROUTE, **kwargs: Any) -> Any:
    invite = alice_invite(**kwargs)
    dialog = Dialog.from_uac(
        invite, bob_answers(invite, code, record_route=record_route), secure_transport=False
    )
    return dialog, invite


def uas_dialog(**kwargs: Any) -> tuple[Dialog, Any]:
    invite = invite_at_bob(**kwargs)
    dialog = Dialog.from_uas(
        invite, BOB_TAG, local_contact=ContactHeader.parse(BOB_CONTACT), secure_transport=False
    )
    return dialog, invite


# -- creation (§12.1) ---------------------------------------------------------------------------


def test_a_2xx_creates_a_confirmed_uac_dialog_with_the_record_route_reversed():
    dialog, _ = uac_dialog(200)
    assert dialog.state is S.CONFIRMED
    assert dialog.role is Role.UAC
    assert dialog.id == DialogID(CALL_ID, ALICE_TAG, BOB_TAG)
    assert [str(route.uri) for route in dialog.route_set] == [
        "sip:bigbox3.site3.atlanta.example.com;lr",
        "sip:server10.biloxi.example.com;lr",
    ]
    assert str(dialog.remote_target) == "sip:bob@192.0.2.4"
    assert dialog.local_cseq == 314159
    assert dialog.remote_cseq is None
    assert dialog.local_identity.display_name == "Alice" and dialog.local_identity.tag == ALICE_TAG
    assert dialog.remote_identity.display_name == "Bob" and dialog.remote_identity.tag == BOB_TAG
    assert str(dialog.local_uri) == "sip:alice@atlanta.example.com"
    assert str(dialog.remote_uri) == "sip:bob@biloxi.example.com"
    assert str(dialog.local_contact.uri) == "sip:alice@pc33.atlanta.example.com"
    assert dialog.secure is False


def test_the_uas_keeps_the_record_route_in_order_and_the_request_cseq_as_remote_cseq():
    dialog, _ = uas_dialog()
    assert dialog.state is S.EARLY
    assert dialog.role is Role.UAS
    assert dialog.id == DialogID(CALL_ID, BOB_TAG, ALICE_TAG)
    assert [str(route) for route in dialog.route_set] == [f"Route: {value}" for value in RECORD_ROUTE]
    assert str(dialog.remote_target) == "sip:alice@pc33.atlanta.example.com"
    assert dialog.remote_cseq == 314159
    assert dialog.local_cseq is None
    assert dialog.local_identity.tag == BOB_TAG and str(dialog.local_uri) == "sip:bob@biloxi.example.com"
    assert dialog.remote_identity.tag == ALICE_TAG and dialog.remote_identity.display_name == "Alice"


def test_both_ends_send_their_first_request_to_the_proxy_nearest_them():
    alice, _ = uac_dialog(200)
    bob, _ = uas_dialog()
    _, alice_hop = alice.create_request("INFO")
    _, bob_hop = bob.create_request("INFO")
    assert str(alice_hop) == "sip:bigbox3.site3.atlanta.example.com;lr"
    assert str(bob_hop) == "sip:server10.biloxi.example.com;lr"


def test_a_tagged_180_creates_an_early_dialog_and_the_2xx_confirms_it_recomputing_routes_and_target():
    invite = alice_invite()
    ringing = bob_answers(invite, 180, contact="<sip:bob@early.example.com>", record_route=RECORD_ROUTE[:1])
    dialog = Dialog.from_uac(invite, ringing, secure_transport=False)
    assert dialog.state is S.EARLY
    assert [str(r.uri) for r in dialog.route_set] == ["sip:server10.biloxi.example.com;lr"]
    verdict = dialog.receive_response(invite, bob_answers(invite, 200))
    assert verdict.event is E.CONFIRMING_RESPONSE and verdict.state is S.CONFIRMED
    assert verdict.target_refreshed
    assert str(dialog.remote_target) == "sip:bob@192.0.2.4"
    assert [str(r.uri) for r in dialog.route_set] == [
        "sip:bigbox3.site3.atlanta.example.com;lr",
        "sip:server10.biloxi.example.com;lr",
    ]


def test_a_provisional_response_without_contact_leaves_the_request_uri_as_remote_target():
    invite = alice_invite()
    dialog = Dialog.from_uac(invite, bob_answers(invite, 183, contact=None), secure_transport=False)
    assert str(dialog.remote_target) == "sip:bob@biloxi.example.com"


@pytest.mark.parametrize(("code", "tag"), [(100, None), (180, None), (486, BOB_TAG), (302, None)])
def test_responses_that_create_no_dialog_are_refused_by_from_uac(code, tag):
    invite = alice_invite()
    with pytest.raises(LocalProtocolError, match="creates no dialog"):
        Dialog.from_uac(invite, bob_answers(invite, code, tag=tag), secure_transport=False)


def test_a_2xx_without_a_to_tag_is_an_rfc2543_dialog_with_an_empty_remote_tag():
    invite = alice_invite()
    dialog = Dialog.from_uac(invite, bob_answers(invite, 200, tag=None), secure_transport=False)
    assert dialog.remote_tag == ""
    request, _ = dialog.create_request("BYE")
    assert request.get("To").tag is None


def test_a_response_to_another_request_is_refused_by_from_uac():
    invite = alice_invite()
    other = alice_invite(cseq=1)
    with pytest.raises(LocalProtocolError, match="does not answer"):
        Dialog.from_uac(invite, bob_answers(other, 200), secure_transport=False)


def test_a_dialog_creating_request_without_contact_is_the_peers_error_at_the_uas():
    invite = invite_at_bob()
    invite.remove("Contact")
    with pytest.raises(RemoteProtocolError, match="no Contact"):
        Dialog.from_uas(invite, BOB_TAG, local_contact=SIPURI("192.0.2.4", "bob"), secure_transport=False)


def test_a_request_with_a_to_tag_cannot_create_a_dialog_at_the_uas():
    dialog, _ = uac_dialog()
    with pytest.raises(LocalProtocolError, match="within a dialog"):
        Dialog.from_uas(
            peer_request(dialog, "INVITE", 1, BOB_CONTACT),
            "x",
            local_contact=SIPURI("h"),
            secure_transport=False,
        )


# -- secure dialogs (§12.1.1, §12.1.2) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "tls", "secure"),
    [
        ("sips:bob@biloxi.example.com", True, True),
        ("sips:bob@biloxi.example.com", False, False),
        ("sip:bob@biloxi.example.com", True, False),
    ],
)
def test_a_dialog_is_secure_only_for_a_sips_request_uri_over_tls(uri, tls, secure):
    invite = alice_invite(uri)
    uac = Dialog.from_uac(invite, bob_answers(invite, 200), secure_transport=tls)
    uas = Dialog.from_uas(
        invite_at_bob(uri), BOB_TAG, local_contact=SIPURI("h", secure=True), secure_transport=tls
    )
    assert uac.secure is secure
    assert uas.secure is secure


def test_a_secure_dialog_refuses_to_send_a_sip_contact():
    invite = alice_invite("sips:bob@biloxi.example.com")
    dialog = Dialog.from_uac(invite, bob_answers(invite, 200), secure_transport=True)
    with pytest.raises(LocalProtocolError, match="sips"):
        dialog.create_request("UPDATE")
    dialog.local_contact = SIPURI("pc33.atlanta.example.com", "alice", secure=True)
    request, _ = dialog.create_request("UPDATE")
    assert str(request.get("Contact").uri) == "sips:alice@pc33.atlanta.example.com"


# -- building requests (§12.2.1.1) ---------------------------------------------------------------


def test_loose_routing_puts_the_remote_target_in_the_request_uri_and_the_route_set_in_route():
    dialog, _ = uac_dialog(200)
    request, next_hop = dialog.create_request("BYE")
    assert request.request_uri == "sip:bob@192.0.2.4"
    assert request.get_raw("Route") == (
        "<sip:bigbox3.site3.atlanta.example.com;lr>, <sip:server10.biloxi.example.com;lr>"
    )
    assert str(next_hop) == "sip:bigbox3.site3.atlanta.example.com;lr"


def test_strict_routing_puts_the_first_route_in_the_request_uri_and_the_remote_target_last_in_route():
    strict = "<sip:strict.atlanta.example.com;transport=tcp>"
    dialog, _ = uac_dialog(200, record_route=(RECORD_ROUTE[0], strict))
    request, next_hop = dialog.create_request("BYE")
    assert request.request_uri == "sip:strict.atlanta.example.com;transport=tcp"
    assert request.get_raw("Route") == "<sip:server10.biloxi.example.com;lr>, <sip:bob@192.0.2.4>"
    assert str(next_hop) == "sip:strict.atlanta.example.com;transport=tcp"


def test_strict_routing_strips_what_a_request_uri_may_not_carry():
    dialog, _ = uac_dialog(200, record_route=("<sip:strict.example.com;method=INVITE;maddr=10.0.0.1?h=v>",))
    request, next_hop = dialog.create_request("BYE")
    assert request.request_uri == "sip:strict.example.com;maddr=10.0.0.1"
    assert request.get_raw("Route") == "<sip:bob@192.0.2.4>"
    assert str(next_hop) == "sip:strict.example.com;maddr=10.0.0.1"


def test_without_a_route_set_the_request_goes_straight_to_the_remote_target():
    dialog, _ = uac_dialog(200, record_route=())
    request, next_hop = dialog.create_request("BYE")
    assert request.request_uri == "sip:bob@192.0.2.4"
    assert "Route" not in request
    assert str(next_hop) == "sip:bob@192.0.2.4"


def test_a_request_carries_the_dialog_identity_and_max_forwards_but_no_via():
    dialog, _ = uac_dialog(200)
    request, _ = dialog.create_request(
        "INFO", extra_headers=[("Subject", "hi")], body=b"x", content_type="text/plain"
    )
    assert request.get_raw("From") == f"Alice <sip:alice@atlanta.example.com>;tag={ALICE_TAG}"
    assert request.get_raw("To") == f"Bob <sip:bob@biloxi.example.com>;tag={BOB_TAG}"
    assert request.call_id == CALL_ID
    assert request.get("Max-Forwards").value == 70
    assert "Via" not in request
    assert "Contact" not in request  # INFO is not a target-refresh request
    assert request.get_raw("Subject") == "hi"
    assert request.get_raw("Content-Type") == "text/plain" and request.body == b"x"


@pytest.mark.parametrize("method", ["INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"])
def test_target_refresh_requests_carry_our_contact(method):
    dialog, _ = uac_dialog(200)
    dialog.local_contact = ContactHeader.parse("<sip:alice@198.51.100.7;transport=tcp>")
    request, _ = dialog.create_request(method)
    assert request.get_raw("Contact") == "<sip:alice@198.51.100.7;transport=tcp>"


def test_the_local_cseq_goes_up_by_one_per_request_and_starts_at_one_for_a_uas():
    alice, _ = uac_dialog(200)
    numbers = [alice.create_request(m)[0].cseq.number for m in ("INFO", "UPDATE", "BYE")]
    assert numbers == [314160, 314161, 314162]
    assert alice.local_cseq == 314162
    bob, invite = uas_dialog()
    bob.create_response(invite, 200)
    request, _ = bob.create_request("BYE")
    assert (request.cseq.number, request.cseq.method) == (1, "BYE")


def test_the_ack_repeats_the_invite_cseq_and_leaves_the_local_cseq_alone():
    dialog, _ = uac_dialog(200)
    reinvite, _ = dialog.create_request("INVITE")
    ack, next_hop = dialog.create_ack(reinvite.cseq.number)
    assert (ack.cseq.number, ack.cseq.method) == (314160, "ACK")
    assert ack.method == "ACK" and ack.request_uri == "sip:bob@192.0.2.4"
    assert ack.get_raw("Route") == reinvite.get_raw("Route")
    assert "Contact" not in ack
    assert str(next_hop) == "sip:bigbox3.site3.atlanta.example.com;lr"
    assert dialog.local_cseq == 314160
    assert dialog.create_request("BYE")[0].cseq.number == 314161


def test_cancel_keeps_the_cseq_of_the_request_it_cancels():
    dialog, _ = uac_dialog(200)
    reinvite, _ = dialog.create_request("INVITE")
    reinvite.add("Via", "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKre", first=True)
    cancel = make_cancel(reinvite)
    assert (cancel.cseq.number, cancel.cseq.method) == (reinvite.cseq.number, "CANCEL")
    assert dialog.local_cseq == reinvite.cseq.number
    with pytest.raises(LocalProtocolError, match="make_cancel"):
        dialog.create_request("CANCEL")


def test_an_ack_cannot_go_through_create_request_or_for_an_invite_never_sent():
    dialog, _ = uac_dialog(200)
    with pytest.raises(LocalProtocolError, match="create_ack"):
        dialog.create_request("ACK")
    with pytest.raises(LocalProtocolError, match="no INVITE"):
        dialog.create_ack(dialog.local_cseq + 1)


def test_an_early_dialog_sends_no_ack():
    dialog, invite = uac_dialog(180)
    with pytest.raises(LocalProtocolError, match="confirmed"):
        dialog.create_ack(invite.cseq.number)


def test_the_dialog_writes_its_own_headers_and_a_body_needs_a_content_type():
    dialog, _ = uac_dialog(200)
    with pytest.raises(LocalProtocolError, match="CSeq"):
        dialog.create_request("INFO", extra_headers=[("cseq", "1 INFO")])
    with pytest.raises(LocalProtocolError, match="Contact"):
        dialog.create_request("INFO", extra_headers=[ContactHeader.parse("<sip:x@y>")])
    with pytest.raises(LocalProtocolError, match="content type"):
        dialog.create_request("INFO", body=b"hello")
    assert dialog.local_cseq == 314159  # the failed attempts used no CSeq


def test_the_local_cseq_cannot_pass_the_32_bit_limit():
    invite = alice_invite(cseq=2**32 - 1)
    dialog = Dialog.from_uac(invite, bob_answers(invite, 200), secure_transport=False)
    with pytest.raises(LocalProtocolError, match="CSeq"):
        dialog.create_request("BYE")


# -- receiving requests (§12.2.2) ----------------------------------------------------------------


@pytest.mark.parametrize("method", ["INVITE", "UPDATE", "NOTIFY", "SUBSCRIBE", "REFER"])
def test_a_target_refresh_request_with_a_new_contact_moves_the_remote_target(method):
    dialog, _ = uac_dialog(200)
    verdict = dialog.receive_request(peer_request(dialog, method, 1, "<sip:bob@203.0.113.9:5070>"))
    assert verdict.accepted and verdict.target_refreshed and verdict.event is E.REFRESH_REQUEST
    assert str(dialog.remote_target) == "sip:bob@203.0.113.9:5070"
    assert dialog.create_request("BYE")[0].request_uri == "sip:bob@203.0.113.9:5070"


def test_requests_that_are_not_target_refreshes_leave_the_remote_target_alone():
    dialog, _ = uac_dialog(200)
    verdict = dialog.receive_request(peer_request(dialog, "INFO", 1, "<sip:bob@203.0.113.9>"))
    assert verdict.accepted and not verdict.target_refreshed
    assert str(dialog.remote_target) == "sip:bob@192.0.2.4"


def test_a_target_refresh_without_contact_keeps_the_target_and_the_route_set_never_changes():
    dialog, _ = uas_dialog()
    request = peer_request(dialog, "INVITE", 314160)
    request.add("Record-Route", "<sip:elsewhere.example.com;lr>")
    verdict = dialog.receive_request(request)
    assert verdict.accepted and not verdict.target_refreshed
    assert str(dialog.remote_target) == "sip:alice@pc33.atlanta.example.com"
    assert [str(r) for r in dialog.route_set] == [f"Route: {value}" for value in RECORD_ROUTE]


def test_a_request_with_a_lower_cseq_is_rejected_with_500_and_changes_nothing():
    dialog, _ = uas_dialog()
    verdict = dialog.receive_request(peer_request(dialog, "UPDATE", 314158, "<sip:new@example.com>"))
    assert (verdict.accepted, verdict.status, verdict.event) == (False, 500, E.OUT_OF_ORDER_REQUEST)
    assert dialog.remote_cseq == 314159
    assert str(dialog.remote_target) == "sip:alice@pc33.atlanta.example.com"


def test_the_remote_cseq_follows_the_peers_requests_and_an_equal_cseq_is_accepted():
    dialog, _ = uac_dialog(200)
    assert dialog.receive_request(peer_request(dialog, "INFO", 7)).accepted
    assert dialog.remote_cseq == 7
    assert dialog.receive_request(peer_request(dialog, "INFO", 7)).accepted
    assert dialog.receive_request(peer_request(dialog, "INFO", 100)).accepted
    assert dialog.remote_cseq == 100
    assert dialog.receive_request(peer_request(dialog, "INFO", 99)).status == 500


def test_an_ack_with_an_older_cseq_is_accepted_without_lowering_the_remote_cseq():
    dialog, invite = uas_dialog()
    dialog.create_response(invite, 200)
    dialog.receive_request(peer_request(dialog, "INFO", 314160))
    verdict = dialog.receive_request(peer_request(dialog, "ACK", 314159))
    assert verdict.accepted and verdict.event is E.ACK
    assert dialog.remote_cseq == 314160


def test_a_request_from_another_dialog_or_a_cancel_is_refused():
    dialog, _ = uac_dialog(200)
    other, _ = uas_dialog()
    with pytest.raises(LocalProtocolError, match="not in dialog"):
        dialog.receive_request(peer_request(other, "INFO", 1))
    with pytest.raises(LocalProtocolError, match="transaction layer"):
        dialog.receive_request(peer_request(dialog, "CANCEL", 1))


# -- responses to our requests (§12.2.1.2) ------------------------------------------------------


def test_a_2xx_to_our_reinvite_refreshes_the_target_and_a_2xx_to_info_does_not():
    dialog, _ = uac_dialog(200)
    info, _ = dialog.create_request("INFO")
    verdict = dialog.receive_response(info, answer(info, 200, "<sip:bob@203.0.113.1>"))
    assert verdict.event is E.OTHER_RESPONSE and not verdict.target_refreshed
    reinvite, _ = dialog.create_request("INVITE")
    verdict = dialog.receive_response(reinvite, answer(reinvite, 200, "<sip:bob@203.0.113.1>"))
    assert verdict.event is E.REFRESH_ACCEPTED and verdict.target_refreshed
    assert str(dialog.remote_target) == "sip:bob@203.0.113.1"


def test_a_failed_reinvite_does_not_refresh_the_target():
    dialog, _ = uac_dialog(200)
    reinvite, _ = dialog.create_request("INVITE")
    verdict = dialog.receive_response(reinvite, answer(reinvite, 488, "<sip:bob@203.0.113.1>"))
    assert verdict.state is S.CONFIRMED and not verdict.target_refreshed
    assert str(dialog.remote_target) == "sip:bob@192.0.2.4"


@pytest.mark.parametrize("code", [481, 408])
def test_a_481_or_408_to_an_in_dialog_request_terminates_the_dialog(code):
    dialog, _ = uac_dialog(200)
    info, _ = dialog.create_request("INFO")
    verdict = dialog.receive_response(info, answer(info, code))
    assert verdict.terminated and verdict.state is S.TERMINATED and dialog.terminated
    later = dialog.receive_response(info, answer(info, code))
    assert not later.terminated and not later.accepted  # terminated once, then dropped


def test_no_response_at_all_terminates_the_dialog():
    dialog, _ = uac_dialog(200)
    bye, _ = dialog.create_request("BYE")
    assert dialog.timed_out(bye).terminated


def test_a_failure_or_timeout_of_the_dialog_creating_request_ends_the_early_dialog():
    dialog, invite = uac_dialog(180)
    assert dialog.receive_response(invite, bob_answers(invite, 486)).terminated
    dialog, invite = uac_dialog(180)
    assert dialog.timed_out(invite).terminated


def test_an_untagged_provisional_response_leaves_the_early_dialog_as_it_was():
    dialog, invite = uac_dialog(180)
    verdict = dialog.receive_response(invite, bob_answers(invite, 100, tag=None, contact="<sip:x@y>"))
    assert verdict.event is E.UNTAGGED_PROVISIONAL and verdict.state is S.EARLY
    assert str(dialog.remote_target) == "sip:bob@192.0.2.4"


def test_a_response_from_another_fork_is_another_dialog():
    invite = alice_invite()
    first = Dialog.from_uac(invite, bob_answers(invite, 180), secure_transport=False)
    other_fork = bob_answers(invite, 200, tag="fork2", contact="<sip:bob@mobile.example.com>")
    with pytest.raises(LocalProtocolError, match="another dialog"):
        first.receive_response(invite, other_fork)
    table = DialogTable()
    table.add(first)
    assert table.for_response(other_fork) is None
    second = Dialog.from_uac(invite, other_fork, secure_transport=False)
    table.add(second)
    assert table.for_response(other_fork) is second
    assert table.for_response(bob_answers(invite, 180)) is first
    assert first.state is S.EARLY and second.state is S.CONFIRMED


# -- responses we send (§12.1.1) -----------------------------------------------------------------


def test_the_uas_response_carries_our_tag_contact_and_the_record_route_and_confirms_on_2xx():
    dialog, invite = uas_dialog()
    trying = dialog.create_response(invite, 100)
    assert trying.get("To").tag is None and "Contact" not in trying and dialog.state is S.EARLY
    ringing = over_the_wire(dialog.create_response(invite, 180))
    assert ringing.get("To").tag == BOB_TAG and ringing.get_raw("Contact") == BOB_CONTACT
    assert [str(rr.uri) for rr in ringing.get_all("Record-Route")] == [
        "sip:server10.biloxi.example.com;lr",
        "sip:bigbox3.site3.atlanta.example.com;lr",
    ]
    assert dialog.state is S.EARLY
    ok = dialog.create_response(invite, 200, body=b"v=0\r\n", content_type="application/sdp")
    assert dialog.state is S.CONFIRMED and ok.get_raw("Content-Type") == "application/sdp"
    alice = Dialog.from_uac(alice_invite(), over_the_wire(ok), secure_transport=False)
    assert alice.id == DialogID(CALL_ID, ALICE_TAG, BOB_TAG)
    assert [str(r.uri) for r in alice.route_set] == [str(r.uri) for r in reversed(dialog.route_set)]


def test_the_uas_cannot_send_a_1xx_or_an_error_after_its_2xx():
    dialog, invite = uas_dialog()
    dialog.create_response(invite, 200)
    with pytest.raises(LocalProtocolError, match="provisional"):
        dialog.create_response(invite, 180)
    with pytest.raises(LocalProtocolError, match="non-2xx"):
        dialog.create_response(invite, 486)
    assert dialog.state is S.CONFIRMED


def test_a_uas_error_response_ends_the_early_dialog():
    dialog, invite = uas_dialog()
    dialog.create_response(invite, 180)
    response = dialog.create_response(invite, 486)
    assert dialog.terminated and "Contact" not in response and "Record-Route" not in response


def test_a_terminated_dialog_still_answers_the_bye_that_ended_it():
    dialog, _ = uac_dialog(200)
    bye = peer_request(dialog, "BYE", 5)
    assert dialog.receive_request(bye).accepted
    dialog.terminate()
    response = dialog.create_response(bye, 200)
    assert response.code == 200 and response.get("To").tag == ALICE_TAG
    assert dialog.receive_request(peer_request(dialog, "INFO", 6)).status == 481
    with pytest.raises(LocalProtocolError, match="terminated"):
        dialog.create_request("INFO")


# -- matching and the table ----------------------------------------------------------------------


def test_the_table_finds_a_dialog_by_its_tags_and_not_by_swapped_or_unknown_tags():
    alice, _ = uac_dialog(200)
    table = DialogTable()
    table.add(alice)
    from_bob = peer_request(alice, "NOTIFY", 1)
    assert alice.match_request(from_bob) == alice.id
    assert table.for_request(from_bob) is alice
    swapped = edited(from_bob, (ALICE_TAG, BOB_TAG), (BOB_TAG, ALICE_TAG))
    assert alice.match_request(swapped) is None and table.for_request(swapped) is None
    unknown = edited(from_bob, (BOB_TAG, "zzz"))
    assert table.for_request(unknown) is None
    other_call = edited(from_bob, (CALL_ID, "other@x"))
    assert table.for_request(other_call) is None
    out_of_dialog = alice_invite()
    assert request_dialog_id(out_of_dialog) is None and table.for_request(out_of_dialog) is None


def test_responses_are_matched_with_our_tag_in_from():
    alice, _ = uac_dialog(200)
    info, _ = alice.create_request("INFO")
    response = answer(info, 200)
    assert response_dialog_id(response) == alice.id == alice.match_response(response)
    assert alice.match_request(response) is None


def test_the_table_refuses_a_second_dialog_with_the_same_id_and_forgets_terminated_ones():
    alice, _ = uac_dialog(200)
    twin, _ = uac_dialog(200)
    table = DialogTable()
    table.add(alice)
    table.add(alice)  # the same object again is fine
    with pytest.raises(LocalProtocolError, match="already"):
        table.add(twin)
    with pytest.raises(LocalProtocolError):
        table[DialogID("x", "y", "z")] = alice
    alice.terminate()
    assert table.remove_terminated() == [alice] and len(table) == 0
    table[twin.id] = twin
    table.discard(alice)
    assert list(table) == [twin.id]


def test_dialog_ids_are_hashable_values():
    assert DialogID("c", "l", "r") == DialogID("c", "l", "r")
    assert len({DialogID("c", "l", "r"), DialogID("c", "l", "r"), DialogID("c", "r", "l")}) == 2


# -- RFC 6665: dialogs created by NOTIFY ---------------------------------------------------------


def subscribe() -> Any:
    return wire(f"""
SUBSCRIBE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKsub
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example.com>
From: Alice <sip:alice@atlanta.example.com>;tag={ALICE_TAG}
Call-ID: {CALL_ID}
CSeq: 10 SUBSCRIBE
Event: presence;id=7
Expires: 600
Contact: {ALICE_CONTACT}
""")


def notify(
    from_tag: str = BOB_TAG, cseq: int = 1, event: str = "presence;id=7", contact: str = BOB_CONTACT
) -> Any:
    return wire(f"""
NOTIFY sip:alice@pc33.atlanta.example.com SIP/2.0
Via: SIP/2.0/UDP server10.biloxi.example.com;branch=z9hG4bKn1
Max-Forwards: 69
Record-Route: {RECORD_ROUTE[1]}
Record-Route: {RECORD_ROUTE[0]}
From: <sip:bob@biloxi.example.com>;tag={from_tag}
To: Alice <sip:alice@atlanta.example.com>;tag={ALICE_TAG}
Call-ID: {CALL_ID}
CSeq: {cseq} NOTIFY
Event: {event}
Subscription-State: active;expires=600
Contact: {contact}
""")


def test_a_notify_before_the_2xx_creates_a_confirmed_dialog_with_the_uas_routing_rules():
    request = subscribe()
    first = notify()
    assert notify_matches(request, first)
    dialog = Dialog.from_notify(request, first, secure_transport=False)
    assert dialog.state is S.CONFIRMED and dialog.role is Role.UAC
    assert dialog.id == DialogID(CALL_ID, ALICE_TAG, BOB_TAG)
    assert [str(r.uri) for r in dialog.route_set] == [
        "sip:bigbox3.site3.atlanta.example.com;lr",
        "sip:server10.biloxi.example.com;lr",
    ]
    assert str(dialog.remote_target) == "sip:bob@192.0.2.4"
    assert (dialog.local_cseq, dialog.remote_cseq) == (10, 1)
    late_ok = bob_answers(request, 200, contact="<sip:bob@elsewhere.example.com>", record_route=())
    verdict = dialog.receive_response(request, late_ok)
    assert verdict.event is E.CONFIRMING_RESPONSE and verdict.accepted and dialog.state is S.CONFIRMED
    assert str(dialog.remote_target) == "sip:bob@192.0.2.4"  # the 2xx after the NOTIFY changes nothing
    assert len(dialog.route_set) == 2
    refresh, _ = dialog.create_request("SUBSCRIBE", extra_headers=[("Event", "presence;id=7")])
    assert refresh.cseq.number == 11 and refresh.request_uri == "sip:bob@192.0.2.4"
    assert dialog.receive_request(notify(cseq=2)).accepted and dialog.remote_cseq == 2


def test_a_notify_after_the_2xx_is_an_ordinary_request_in_the_dialog():
    request = subscribe()
    dialog = Dialog.from_uac(request, bob_answers(request, 202), secure_transport=False)
    verdict = dialog.receive_request(notify(contact="<sip:bob@203.0.113.5>"))
    assert verdict.accepted and verdict.target_refreshed and dialog.remote_cseq == 1


def test_a_notify_that_is_not_for_our_subscribe_does_not_match():
    request = subscribe()
    assert not notify_matches(request, notify(event="presence;id=8"))
    assert not notify_matches(request, notify(event="dialog;id=7"))
    assert notify_matches(request, notify(event="Presence;id=7"))
    wrong_tag = edited(notify(), (f"tag={ALICE_TAG}", "tag=other"))
    assert not notify_matches(request, wrong_tag)
    with pytest.raises(LocalProtocolError, match="not for this"):
        Dialog.from_notify(request, wrong_tag, secure_transport=False)


def test_a_notify_for_a_refer_matches_the_refer_event_and_creates_the_dialog():
    refer = alice_invite(method="REFER", cseq=93809823)
    assert notify_matches(refer, notify(event="refer"))
    assert notify_matches(refer, notify(event="refer;id=93809823"))
    assert not notify_matches(refer, notify(event="refer;id=1"))
    dialog = Dialog.from_notify(refer, notify(event="refer"), secure_transport=False)
    assert dialog.local_cseq == 93809823 and dialog.state is S.CONFIRMED


def test_two_notifies_from_a_forked_subscribe_make_two_dialogs():
    request = subscribe()
    table = DialogTable()
    for tag in ("n1", "n2"):
        table.add(Dialog.from_notify(request, notify(from_tag=tag), secure_transport=False))
    assert {key.remote_tag for key in table} == {"n1", "n2"}
    assert table.for_request(notify(from_tag="n2", cseq=2)).remote_tag == "n2"


# -- the state machine ---------------------------------------------------------------------------


def test_every_state_and_event_pair_is_either_a_transition_or_a_local_error():
    pairs = {(state, event) for state in S for event in E}
    assert set(TABLE) | set(ERRORS) == pairs
    assert not set(TABLE) & set(ERRORS)
    assert all(
        TABLE[(S.TERMINATED, event)].target is S.TERMINATED for event in E if (S.TERMINATED, event) in TABLE
    )


class Harness:
    """Drives one dialog with any DialogEvent through the public API, and records what it saw."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        if origin == "uas":
            self.dialog, self.creating = uas_dialog()
        elif origin == "notify":
            self.creating = subscribe()
            self.dialog = Dialog.from_notify(self.creating, notify(), secure_transport=False)
        else:
            self.dialog, self.creating = uac_dialog(180 if origin == "uac-early" else 200)
        self.dialog.local_contact = SIPURI("pc33.atlanta.example.com", "alice")
        # requests of ours that may be answered later, made while the dialog is live
        self.update, _ = self.dialog.create_request("UPDATE")
        self.info, _ = self.dialog.create_request("INFO")

    def can_drive(self, event: DialogEvent) -> bool:
        uac_only = {E.EARLY_RESPONSE, E.UNTAGGED_PROVISIONAL, E.CONFIRMING_RESPONSE, E.REJECTING_RESPONSE}
        uas_only = {E.SENT_PROVISIONAL, E.SENT_SUCCESS, E.SENT_FAILURE}
        if event in uac_only:
            return self.dialog.role is Role.UAC
        if event in uas_only:
            return self.dialog.role is Role.UAS
        return True

    def drive(self, event: DialogEvent, cseq_step: int = 1) -> Any:
        d = self.dialog
        creating = self.creating
        if event is E.EARLY_RESPONSE:
            return d.receive_response(
                creating, bob_answers(creating, 183, contact="<sip:bob@early.example.com>")
            )
        if event is E.UNTAGGED_PROVISIONAL:
            return d.receive_response(creating, bob_answers(creating, 180, tag=None))
        if event is E.CONFIRMING_RESPONSE:
            return d.receive_response(creating, bob_answers(creating, 200))
        if event is E.REJECTING_RESPONSE:
            return d.receive_response(creating, bob_answers(creating, 503, tag=None))
        if event is E.REFRESH_ACCEPTED:
            return d.receive_response(
                self.update, answer(self.update, 200, "<sip:bob@refreshed.example.com>")
            )
        if event is E.OTHER_RESPONSE:
            return d.receive_response(self.info, answer(self.info, 404))
        if event is E.DIALOG_GONE:
            return d.receive_response(self.info, answer(self.info, 481))
        if event in (E.REQUEST, E.REFRESH_REQUEST, E.OUT_OF_ORDER_REQUEST):
            base = d.remote_cseq if d.remote_cseq is not None else 1000
            number = base - 1 if event is E.OUT_OF_ORDER_REQUEST else base + cseq_step
            if event is E.OUT_OF_ORDER_REQUEST and d.remote_cseq is None:
                d.receive_request(peer_request(d, "INFO", 1000))  # prime the remote CSeq first
                number = 999
            method = "UPDATE" if event is E.REFRESH_REQUEST else "INFO"
            return d.receive_request(peer_request(d, method, number, "<sip:peer@moved.example.com>"))
        if event is E.ACK:
            return d.receive_request(peer_request(d, "ACK", d.remote_cseq or 1))
        if event is E.SEND_REQUEST:
            return d.create_request("INFO")
        if event is E.SEND_ACK:
            return d.create_ack(d.local_cseq or 0)
        if event is E.SENT_PROVISIONAL:
            return d.create_response(creating, 180)
        if event is E.SENT_SUCCESS:
            return d.create_response(creating, 200)
        if event is E.SENT_FAILURE:
            return d.create_response(creating, 486)
        assert event is E.TERMINATE
        return d.terminate()


def reach(state: DialogState, event: DialogEvent) -> Harness:
    """A harness whose dialog is in ``state`` and can be given ``event``."""
    uas = event in (E.SENT_PROVISIONAL, E.SENT_SUCCESS, E.SENT_FAILURE)
    harness = Harness("uas" if uas else "uac-early" if state is S.EARLY else "uac-confirmed")
    if uas and state is not S.EARLY:
        harness.dialog.create_response(harness.creating, 200)
    if event is E.OUT_OF_ORDER_REQUEST and harness.dialog.remote_cseq is None:
        harness.dialog.receive_request(peer_request(harness.dialog, "INFO", 1000))
    if state is S.TERMINATED:
        harness.dialog.terminate()
    assert harness.dialog.state is state
    return harness


@pytest.mark.parametrize("state", list(S), ids=lambda s: s.name)
@pytest.mark.parametrize("event", list(E), ids=lambda e: e.name)
def test_each_state_and_event_pair_does_what_the_table_says(state, event):
    """Driven through the public API: a forbidden pair raises and changes nothing; an allowed
    one reaches the table's state, and for received messages reports that event and its
    effects (500 and 481 rejections, drops)."""
    harness = reach(state, event)
    dialog = harness.dialog
    before = (dialog.state, dialog.local_cseq, dialog.remote_cseq, str(dialog.remote_target))
    if (state, event) in ERRORS:
        with pytest.raises(LocalProtocolError):
            harness.drive(event)
        assert (dialog.state, dialog.local_cseq, dialog.remote_cseq, str(dialog.remote_target)) == before
        return
    result = harness.drive(event)
    expected = TABLE[(state, event)]
    assert dialog.state is expected.target
    if hasattr(result, "event"):
        assert result.event is event
        assert result.state is expected.target
        rejected = {e.name for e in expected.effects} & {"REJECT_500", "REJECT_481", "DROP"}
        assert result.accepted is not rejected
        assert result.status == (
            500 if "REJECT_500" in rejected else 481 if "REJECT_481" in rejected else None
        )
        assert result.terminated is (state is not S.TERMINATED and expected.target is S.TERMINATED)


ORIGINS = st.sampled_from(["uac-early", "uac-confirmed", "uas", "notify"])
STEPS = st.lists(st.tuples(st.sampled_from(list(E)), st.integers(-3, 3)), max_size=25)


@settings(max_examples=250, deadline=None)
@given(origin=ORIGINS, steps=STEPS)
def test_random_event_sequences_keep_the_dialog_invariants(origin, steps):
    """Invariants over random sequences (1xx with and without tag, 2xx, failures, requests with
    random CSeqs, 481, local sends, termination): the remote CSeq never decreases; the local
    CSeq goes up by exactly one per created request and by nothing else; terminated is final;
    every step lands where the table says or raises exactly when ERRORS says."""
    harness = Harness(origin)
    dialog = harness.dialog
    for event, cseq_step in steps:
        if not harness.can_drive(event):
            continue
        state, local, remote = dialog.state, dialog.local_cseq, dialog.remote_cseq
        if event in (E.REQUEST, E.REFRESH_REQUEST) and remote is not None:
            number = max(0, remote + cseq_step)
            method = "UPDATE" if event is E.REFRESH_REQUEST else "MESSAGE"
            result: Any = dialog.receive_request(
                peer_request(dialog, method, number, "<sip:p@x.example.com>")
            )
            event = result.event  # a negative step makes it out of order
        else:
            try:
                result = harness.drive(event, cseq_step=abs(cseq_step))
            except LocalProtocolError:
                assert (state, event) in ERRORS
                assert (dialog.state, dialog.local_cseq, dialog.remote_cseq) == (state, local, remote)
                continue
        assert (state, event) in TABLE
        if hasattr(result, "event"):
            event = result.event
        assert dialog.state is TABLE[(state, event)].target
        if remote is not None:
            assert dialog.remote_cseq is not None and dialog.remote_cseq >= remote
        if event is E.SEND_REQUEST:
            assert dialog.local_cseq == (local or 0) + 1
        else:
            assert dialog.local_cseq == local
        if state is S.TERMINATED:
            assert dialog.state is S.TERMINATED


# -- round trips ---------------------------------------------------------------------------------

ROUTES = st.lists(
    st.tuples(st.sampled_from(["p1", "p2.example.com", "10.0.0.3"]), st.booleans(), st.booleans()),
    max_size=3,
)
EXTRA = st.lists(
    st.sampled_from(
        [
            ("Subject", "Project X"),
            ("Event", "presence;id=4"),
            ("Expires", "600"),
            ("Refer-To", "<sip:carol@chicago.example.com?Replaces=abc%40d>"),
            ("X-Anything", "a, b; c"),
            ("Authorization", 'Digest username="alice", realm="atlanta.example.com"'),
        ]
    ),
    max_size=4,
)


@settings(max_examples=150, deadline=None)
@given(
    method=st.sampled_from(
        ["INVITE", "UPDATE", "BYE", "INFO", "MESSAGE", "NOTIFY", "SUBSCRIBE", "REFER", "ACK"]
    ),
    routes=ROUTES,
    extra=EXTRA,
    body=st.binary(max_size=40),
    uas=st.booleans(),
)
def test_every_request_the_dialog_builds_parses_back_with_the_same_headers(method, routes, extra, body, uas):
    """Whatever the route set (loose, strict, mixed, none), method, extra headers and body: the
    request serialises and parses back with the same start line, header fields and body, and
    the parsed typed headers equal the built ones."""
    record_route = tuple(
        f"<sip:{host}{';lr' if loose else ''}{';transport=tcp' if tcp else ''}>"
        for host, loose, tcp in routes
    )
    invite = alice_invite()
    if uas:
        at_bob = invite_at_bob()
        at_bob.remove("Record-Route")
        if record_route:
            at_bob.add("Record-Route", ", ".join(record_route))
        dialog = Dialog.from_uas(
            at_bob, BOB_TAG, local_contact=SIPURI("192.0.2.4", "bob"), secure_transport=False
        )
        dialog.create_response(at_bob, 200)
        dialog.create_request("INVITE")
    else:
        dialog = Dialog.from_uac(
            invite, bob_answers(invite, 200, record_route=record_route), secure_transport=False
        )
    content_type = "text/plain;charset=utf-8" if body else None
    if method == "ACK":
        request, next_hop = dialog.create_ack(
            dialog.local_cseq, extra_headers=extra, body=body, content_type=content_type
        )
    else:
        request, next_hop = dialog.create_request(
            method, extra_headers=extra, body=body, content_type=content_type
        )
    data = request.to_bytes()
    parsed = parse_message(data)
    assert isinstance(parsed, SIPRequest)
    assert (parsed.method, parsed.request_uri, parsed.body) == (request.method, request.request_uri, body)
    assert parsed.headers == request.headers
    assert parsed.to_bytes() == data
    for name in ("From", "To", "Call-ID", "CSeq", "Route", "Contact", "Max-Forwards", "Content-Type"):
        assert parsed.get_all(name) == request.get_all(name)
    # the routing, from the generated route set: the UAC reverses the Record-Route, the UAS keeps it
    route_set = list(reversed(record_route)) if not uas else list(record_route)
    target = "<sip:alice@pc33.atlanta.example.com>" if uas else BOB_CONTACT
    route_text = [route.body for route in parsed.get_all("Route")]
    if not route_set:
        assert parsed.request_uri == str(next_hop) == target.strip("<>") and route_text == []
    elif ";lr" in route_set[0]:
        assert parsed.request_uri == target.strip("<>") and route_text == route_set
        assert f"<{next_hop}>" == route_set[0]
    else:
        assert parsed.request_uri == str(next_hop) == route_set[0].strip("<>")
        assert route_text == [*route_set[1:], target]


def test_requests_built_from_a_mutable_header_do_not_change_when_it_does():
    """The dialog keeps frozen copies: the Contact given to it can be changed by the caller."""
    dialog, _ = uac_dialog(200)
    contact = ContactHeader.parse("<sip:alice@198.51.100.1>")
    dialog.local_contact = contact
    contact.uri.host = "evil.example.com"
    request, _ = dialog.create_request("UPDATE")
    assert request.get_raw("Contact") == "<sip:alice@198.51.100.1>"
    routes = dialog.route_set
    routes.append(RouteHeader(SIPURI("x")))
    assert len(dialog.route_set) == 2


def test_responses_to_requests_are_typed_and_carry_the_request_identity():
    dialog, _ = uac_dialog(200)
    request = peer_request(dialog, "NOTIFY", 3)
    response = dialog.create_response(request, 200)
    assert isinstance(response, SIPResponse)
    assert response.get_raw("Contact") == ALICE_CONTACT
    assert response.cseq.number == 3 and response.call_id == CALL_ID


# -- the peer's mistakes and ours ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("contact", "error"),
    [
        ("*", "wildcard"),
        ("<tel:+15551234567>", "not a sip"),
        ("<sip:bob@[::1>", "malformed Contact"),
    ],
)
def test_a_target_refresh_with_an_unusable_contact_is_the_peers_error_and_changes_nothing(contact, error):
    dialog, _ = uac_dialog(200)
    with pytest.raises(RemoteProtocolError, match=error):
        dialog.receive_request(peer_request(dialog, "UPDATE", 9, contact))
    assert dialog.remote_cseq is None and str(dialog.remote_target) == "sip:bob@192.0.2.4"


@pytest.mark.parametrize(
    ("record_route", "error"),
    [(("<tel:+15551234567>",), "Record-Route is not a sip"), (("<sip:p1;lr",), "malformed Record-Route")],
)
def test_a_confirming_2xx_with_an_unusable_record_route_is_the_peers_error_and_leaves_the_dialog_early(
    record_route, error
):
    dialog, invite = uac_dialog(180)
    with pytest.raises(RemoteProtocolError, match=error):
        dialog.receive_response(invite, bob_answers(invite, 200, record_route=record_route))
    assert dialog.state is S.EARLY and len(dialog.route_set) == 2


def test_a_request_without_a_usable_cseq_is_the_peers_error():
    dialog, _ = uac_dialog(200)
    request = peer_request(dialog, "INFO", 1)
    request.set("CSeq", "one INFO")
    with pytest.raises(RemoteProtocolError, match="malformed CSeq"):
        dialog.receive_request(request)
    request.remove("CSeq")
    with pytest.raises(RemoteProtocolError, match="no CSeq"):
        dialog.receive_request(request)


def test_a_notify_without_contact_creates_no_dialog_and_only_notify_can():
    with pytest.raises(RemoteProtocolError, match="no Contact"):
        Dialog.from_notify(
            subscribe(), edited(notify(), (f"Contact: {BOB_CONTACT}\r\n", "")), secure_transport=False
        )
    with pytest.raises(LocalProtocolError, match="creates no dialog"):
        Dialog.from_notify(alice_invite(), notify(), secure_transport=False)
    assert not notify_matches(subscribe(), edited(notify(), ("Event: presence;id=7\r\n", "")))
    assert not notify_matches(subscribe(), alice_invite())


def test_a_response_that_does_not_answer_the_request_or_is_not_in_the_dialog_is_refused():
    dialog, _ = uac_dialog(200)
    info, _ = dialog.create_request("INFO")
    bye, _ = dialog.create_request("BYE")
    with pytest.raises(LocalProtocolError, match="does not answer"):
        dialog.receive_response(info, answer(bye, 200))
    with pytest.raises(LocalProtocolError, match="not in dialog"):
        dialog.receive_response(info, edited(answer(info, 200), (ALICE_TAG, "someone-else")))


def test_a_dialog_without_a_local_contact_cannot_send_a_target_refresh_or_its_2xx():
    invite = alice_invite()
    invite.remove("Contact")
    dialog = Dialog.from_uac(invite, bob_answers(invite, 200), secure_transport=False)
    assert dialog.local_contact is None
    assert dialog.create_request("BYE")[0].method == "BYE"
    with pytest.raises(LocalProtocolError, match="no local contact"):
        dialog.create_request("INVITE")
    with pytest.raises(LocalProtocolError, match="no local contact"):
        dialog.create_response(peer_request(dialog, "UPDATE", 1), 200)


def test_a_response_to_a_request_of_another_dialog_is_refused():
    dialog, _ = uac_dialog(200)
    other, _ = uas_dialog()
    with pytest.raises(LocalProtocolError, match="not in dialog"):
        dialog.create_response(peer_request(other, "INFO", 1), 200)


def test_the_uas_needs_a_local_tag_and_a_local_contact_may_be_any_uri():
    with pytest.raises(LocalProtocolError, match="local tag"):
        Dialog.from_uas(invite_at_bob(), "", local_contact=SIPURI("h"), secure_transport=False)
    dialog, _ = uas_dialog()
    dialog.local_contact = parse_message(b"OPTIONS sip:x SIP/2.0\r\nContact: <urn:uuid:1234>\r\n\r\n").get(
        "Contact"
    )
    assert str(dialog.local_contact.uri) == "urn:uuid:1234"
    with pytest.raises(TypeError):
        dialog.local_contact = "sip:bob@example.com"
    dialog.local_contact = None
    assert dialog.local_contact is None
    assert "EARLY UAS" in repr(dialog) and dialog.early and not dialog.confirmed
