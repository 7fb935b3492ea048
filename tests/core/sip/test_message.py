"""SIP messages: lazy parsing, exact round trips, header editing, and the RFC 3261 builders."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsimple.core.sip._grammar import SIPParseError
from sipsimple.core.sip.headers import CSeqHeader, FromHeader, ToHeader, ViaHeader
from sipsimple.core.sip.message import (
    SIPRequest,
    SIPResponse,
    make_ack,
    make_cancel,
    make_response,
    parse_message,
)
from sipsimple.core.sip.uri import SIPURI
from tests.conftest import REPOSITORY, corpora_directory

INVITE = (
    b"INVITE sip:bob@example.test SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1;rport\r\n"
    b"Via: SIP/2.0/TCP proxy.example.test;branch=z9hG4bK-0\r\n"
    b"Max-Forwards: 70\r\n"
    b"f: Alice <sip:alice@example.test>;tag=a1\r\n"
    b"t: <sip:bob@example.test>\r\n"
    b"i: call-1@10.0.0.1\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"m: <sip:alice@10.0.0.1:5060>, <sip:alice@10.0.0.1:5061>;q=0.5\r\n"
    b"Route: <sip:p1.example.test;lr>\r\n"
    b"Route: <sip:p2.example.test;lr>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n\r\nv=0\n"
)


def test_a_parsed_message_serialises_back_to_the_received_bytes():
    long_names = (
        INVITE.replace(b"\r\nf: ", b"\r\nFrom: ")
        .replace(b"\r\nt: ", b"\r\nTo: ")
        .replace(b"\r\ni: ", b"\r\nCall-ID: ")
        .replace(b"\r\nm: ", b"\r\nContact: ")
    )
    bench = REPOSITORY.parent / "shared" / "bench" / "invite-806.sip"
    samples = [long_names] + ([bench.read_bytes()] if bench.exists() else [])
    for data in samples:
        assert parse_message(data).to_bytes() == data
    assert parse_message(INVITE).to_bytes() == long_names  # compact forms come out in full


def test_header_values_are_parsed_on_demand_into_frozen_objects():
    message = parse_message(INVITE)
    assert isinstance(message, SIPRequest)
    assert message.method == "INVITE" and message.uri.user == "bob"
    assert [via.branch for via in message.via] == ["z9hG4bK-1", "z9hG4bK-0"]
    assert message.from_header.tag == "a1" and message.to_header.tag is None
    assert message.call_id == "call-1@10.0.0.1"
    assert (message.cseq.number, message.cseq.method) == (7, "INVITE")
    contacts = message.get_all("Contact")
    assert [c.uri.port for c in contacts] == [5060, 5061] and contacts[1].q == 0.5
    assert [r.uri.host for r in message.get_all("route")] == ["p1.example.test", "p2.example.test"]
    assert message.get("v").branch == "z9hG4bK-1"
    assert message.body == b"v=0\n"
    with pytest.raises(AttributeError):
        message.via[0].branch = "changed"  # frozen


def test_a_malformed_header_value_fails_only_when_asked_for():
    data = INVITE.replace(b"CSeq: 7 INVITE", b"CSeq: seven INVITE")
    message = parse_message(data)
    assert message.call_id == "call-1@10.0.0.1"
    with pytest.raises(SIPParseError):
        _ = message.cseq


def test_a_malformed_start_line_is_a_parse_error():
    with pytest.raises(SIPParseError):
        parse_message(b"INVITE sip:bob@example.test SIP/3.0\r\n\r\n")


def test_built_messages_serialise_their_header_objects_and_compute_content_length():
    request = SIPRequest("MESSAGE", SIPURI("example.test", user="bob"))
    request.add("Via", [ViaHeader("UDP", "127.0.0.1", 5062, {"branch": "z9hG4bK-x", "rport": None})])
    request.add("From", FromHeader(SIPURI("example.test", user="alice"), "Alice", {"tag": "t"}))
    request.add("To", ToHeader(SIPURI("example.test", user="bob")))
    request.add("Call-ID", "c@h")
    request.add("CSeq", CSeqHeader(1, "MESSAGE"))
    request.add("Content-Length", "999")  # ignored: computed
    request.body = "héllo".encode()
    text = request.to_bytes().decode()
    assert text.startswith("MESSAGE sip:bob@example.test SIP/2.0\r\n")
    assert "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-x;rport\r\n" in text
    assert (
        'From: "Alice" <sip:alice@example.test>;tag=t\r\n' in text
        or "From: Alice <sip:alice@example.test>;tag=t\r\n" in text
    )
    assert text.count("Content-Length") == 1 and text.endswith("Content-Length: 6\r\n\r\nhéllo")
    reparsed = parse_message(request.to_bytes())
    assert reparsed.from_header.tag == "t" and reparsed.body == request.body


def test_mutable_headers_taken_from_a_built_message_are_serialised_with_their_changes():
    request = SIPRequest("OPTIONS", "sip:example.test")
    to = ToHeader(SIPURI("example.test"))
    request.add("To", to)
    to.tag = "later"
    assert b"To: <sip:example.test>;tag=later\r\n" in request.to_bytes()


def test_set_replaces_in_place_and_remove_drops_every_field():
    message = parse_message(INVITE)
    message.set("Route", "<sip:only.example.test;lr>")
    names = [name for name, _ in message.headers]
    assert names.count("Route") == 1 and names.index("Route") == names.index("Contact") + 1
    message.remove("via")
    assert "Via" not in message and message.via == []


def test_make_response_copies_the_right_headers_and_adds_the_to_tag():
    request = parse_message(INVITE)
    response = make_response(request, 486, to_tag="b7")
    assert isinstance(response, SIPResponse) and response.reason == "Busy Here"
    assert [v.branch for v in response.via] == ["z9hG4bK-1", "z9hG4bK-0"]
    assert response.to_header.tag == "b7" and response.from_header.tag == "a1"
    assert response.call_id == request.call_id and response.cseq.method == "INVITE"
    assert "Route" not in response and "Contact" not in response
    assert make_response(request, 100, to_tag="b7").to_header.tag is None


def test_make_ack_and_make_cancel_follow_rfc_3261():
    invite = parse_message(INVITE)
    final = parse_message(make_response(invite, 404, to_tag="z").to_bytes())
    ack = make_ack(invite, final)
    assert ack.method == "ACK" and ack.request_uri == invite.request_uri
    assert [v.branch for v in ack.via] == ["z9hG4bK-1"]
    assert ack.to_header.tag == "z" and (ack.cseq.number, ack.cseq.method) == (7, "ACK")
    assert [r.uri.host for r in ack.get_all("Route")] == ["p1.example.test", "p2.example.test"]
    cancel = make_cancel(invite)
    assert cancel.method == "CANCEL" and cancel.to_header.tag is None
    assert (cancel.cseq.number, cancel.cseq.method) == (7, "CANCEL")
    assert [v.branch for v in cancel.via] == ["z9hG4bK-1"]


def test_status_codes_outside_the_range_are_rejected():
    with pytest.raises(ValueError):
        SIPResponse(700)


def test_valid_torture_messages_round_trip_byte_for_byte_or_parse_the_core_headers():
    directory = corpora_directory() / "rfc4475"
    if not directory.exists():
        pytest.skip("RFC 4475 corpus not available")
    for line in (directory / "MANIFEST.tsv").read_text().splitlines()[1:]:
        name, *rest = line.split("\t")
        if "valid" not in rest or "invalid" in rest[:3]:
            continue
        data = (directory / name).read_bytes()
        try:
            message = parse_message(data)
        except SIPParseError:
            continue  # framing-level rejects are the scanner's tests
        again = parse_message(message.to_bytes())
        assert again.headers == message.headers, name
        assert again.body == message.body, name


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_either_parse_or_raise_parse_error(data):
    try:
        message = parse_message(data)
    except SIPParseError:
        return
    for name, _ in message.headers:
        try:
            message.get_all(name)
        except SIPParseError:
            pass
