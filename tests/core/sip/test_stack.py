"""The transaction layer driver: Via stamping, response routing, retransmissions, CANCEL, bad requests."""

from __future__ import annotations

import pytest
from twisted.internet.defer import succeed
from twisted.internet.task import Clock

from sipsimple.core.sip._scanner import scan
from sipsimple.core.sip.headers import CSeqHeader, FromHeader, ToHeader
from sipsimple.core.sip.message import SIPRequest, SIPResponse, make_response, parse_message
from sipsimple.core.sip.stack import SIPStack, StatelessRequest
from sipsimple.core.sip.transport import TransportAddress
from sipsimple.core.sip.uri import SIPURI

LOCAL_UDP = TransportAddress("udp", "127.0.0.1", 5060)
LOCAL_TCP = TransportAddress("tcp", "127.0.0.1", 5060)
PEER = TransportAddress("udp", "127.0.0.2", 5070)


class FakeTransport:
    """Records what the stack sends; answers every send at once."""

    def __init__(self):
        self.sent: list[tuple[bytes, TransportAddress]] = []
        self.listeners = (LOCAL_UDP, LOCAL_TCP)

    def transport_for(self, destination, size, *, is_request=False):
        return destination

    def send(self, data, destination, *, tls_name=None, is_request=False, new_connection=True):
        self.sent.append((data, destination))
        return succeed(destination)

    def messages(self):
        return [parse_message(data) for data, _ in self.sent]


class Listener:
    def __init__(self):
        self.events: list[tuple[str, object]] = []

    def response_received(self, transaction, response):
        self.events.append(("response", response.code))

    def timed_out(self, transaction):
        self.events.append(("timeout", None))

    def transport_failed(self, transaction, error):
        self.events.append(("transport", error))

    def terminated(self, transaction):
        self.events.append(("terminated", None))


def new_stack():
    clock, transport, requests, cancels = Clock(), FakeTransport(), [], []
    stack = SIPStack(
        clock,
        transport,
        on_request=requests.append,
        on_cancel=lambda invite, cancel: cancels.append((invite, cancel)),
    )
    return stack, clock, transport, requests, cancels


def options_request():
    request = SIPRequest("OPTIONS", SIPURI("127.0.0.2", port=5070))
    request.add("From", FromHeader(SIPURI("example.test", user="alice"), parameters={"tag": "f1"}))
    request.add("To", ToHeader(SIPURI("example.test", user="bob")))
    request.add("Call-ID", "call@example.test")
    request.add("CSeq", CSeqHeader(1, "OPTIONS"))
    return request


def deliver(stack, message_bytes, source=PEER, local=LOCAL_UDP):
    stack.receive(scan(message_bytes), source, local)


def test_send_request_stamps_our_via_and_max_forwards():
    stack, _, transport, _, _ = new_stack()
    stack.send_request(options_request(), PEER, Listener())
    [sent] = transport.messages()
    via = sent.get("Via")
    assert (via.transport, via.host, via.port) == ("UDP", "127.0.0.1", 5060)
    assert via.branch.startswith("z9hG4bK") and via.rport is True
    assert sent.get("Max-Forwards").value == 70


def test_a_response_reaches_the_listener_once_and_the_transaction_ends_after_timer_k():
    stack, clock, transport, _, _ = new_stack()
    listener = Listener()
    stack.send_request(options_request(), PEER, listener)
    request = transport.messages()[0]
    response = make_response(request, 200, to_tag="t").to_bytes()
    deliver(stack, response)
    deliver(stack, response)  # a retransmission is absorbed
    assert listener.events == [("response", 200)]
    clock.advance(5)
    assert listener.events[-1] == ("terminated", None)
    assert stack.transaction_count == 0 and clock.getDelayedCalls() == []


def test_no_response_means_retransmissions_then_a_timeout_at_64_t1():
    stack, clock, transport, _, _ = new_stack()
    listener = Listener()
    stack.send_request(options_request(), PEER, listener)
    clock.pump([0.5] * 64)
    assert len(transport.sent) == 11  # 0, .5, 1.5, 3.5, 7.5, 11.5, ... 31.5
    assert listener.events == [("timeout", None), ("terminated", None)]
    assert stack.transaction_count == 0


def incoming_options(branch="z9hG4bKabc", via_host="10.9.9.9", rport=True):
    rport_text = ";rport" if rport else ""
    return (
        f"OPTIONS sip:127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {via_host}:5999;branch={branch}{rport_text}\r\n"
        f"From: <sip:bob@example.test>;tag=b\r\nTo: <sip:alice@example.test>\r\n"
        f"Call-ID: x@y\r\nCSeq: 4 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def test_a_new_request_reaches_the_tu_and_its_response_goes_to_the_source_port_with_rport():
    stack, _, transport, requests, _ = new_stack()
    deliver(stack, incoming_options())
    [transaction] = requests
    via = transaction.request.get("Via")
    assert via.received == "127.0.0.2" and via.rport == 5070
    transaction.send_response(make_response(transaction.request, 200))
    [(data, destination)] = transport.sent
    assert destination == TransportAddress("udp", "127.0.0.2", 5070)
    assert b";received=127.0.0.2" in data and b";rport=5070" in data


def test_without_rport_the_response_goes_to_the_received_address_and_the_via_port():
    stack, _, transport, requests, _ = new_stack()
    deliver(stack, incoming_options(rport=False))
    requests[0].send_response(make_response(requests[0].request, 200))
    assert transport.sent[0][1] == TransportAddress("udp", "127.0.0.2", 5999)


def test_a_retransmitted_request_gets_the_last_response_again_and_is_not_passed_up():
    stack, _, transport, requests, _ = new_stack()
    deliver(stack, incoming_options())
    requests[0].send_response(make_response(requests[0].request, 200))
    deliver(stack, incoming_options())
    assert len(requests) == 1
    assert len(transport.sent) == 2 and transport.sent[0][0] == transport.sent[1][0]


def incoming_invite(branch="z9hG4bKinv"):
    return (
        f"INVITE sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5070;branch={branch}\r\n"
        f"From: <sip:bob@example.test>;tag=b\r\nTo: <sip:alice@example.test>\r\n"
        f"Call-ID: inv@y\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def incoming_cancel(branch="z9hG4bKinv"):
    return (
        f"CANCEL sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5070;branch={branch}\r\n"
        f"From: <sip:bob@example.test>;tag=b\r\nTo: <sip:alice@example.test>\r\n"
        f"Call-ID: inv@y\r\nCSeq: 1 CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def test_cancel_is_answered_200_and_reported_with_its_invite_transaction():
    stack, clock, transport, requests, cancels = new_stack()
    deliver(stack, incoming_invite())
    clock.advance(0.2)  # the automatic 100 Trying
    deliver(stack, incoming_cancel())
    [(invite_transaction, cancel_transaction)] = cancels
    assert invite_transaction is requests[0] and cancel_transaction.method == "CANCEL"
    codes = [(m.code, m.cseq.method) for m in transport.messages()]
    assert codes == [(100, "INVITE"), (200, "CANCEL")]


def test_an_answered_invite_transaction_lets_go_of_its_request_and_still_resends_its_2xx():
    """After the final response an INVITE server transaction keeps only the response bytes (it
    lives 32 s more for retransmissions, so under load the parsed requests would pile up), tells
    ``on_answered`` once, and the TU can still send its 2xx again (RFC 3261 §13.3.1.4)."""
    stack, _, transport, requests, _ = new_stack()
    deliver(stack, incoming_invite())
    transaction = requests[0]
    answered = []
    transaction.on_answered = answered.append
    transaction.send_response(make_response(transaction.request, 180, to_tag="t"))
    assert answered == [] and transaction.request is not None
    ok = make_response(transaction.request, 200, to_tag="t")
    transaction.send_response(ok)
    assert answered == [transaction] and transaction.request is None and transaction.answered
    transaction.send_response(ok)  # the TU's own 2xx retransmission
    assert [m.code for m in transport.messages()] == [180, 200, 200]
    assert answered == [transaction]  # once


def test_the_engine_forgets_a_cancel_handler_once_the_invite_is_answered():
    """A CANCEL after the final response changes nothing, so the handler (often a bound method of
    a whole Invitation) is not kept for the transaction's remaining 32 s."""
    from sipsimple.core.engine import SIPEngine

    engine = SIPEngine(reactor=Clock())
    stack, _, _, requests, _ = new_stack()
    deliver(stack, incoming_invite())
    transaction = requests[0]
    engine.on_cancel(transaction, lambda invite: None)
    assert len(engine._cancel_handlers) == 1
    transaction.send_response(make_response(transaction.request, 486, to_tag="t"))
    assert engine._cancel_handlers == {}


def test_a_cancel_that_matches_nothing_gets_481():
    stack, _, transport, _, cancels = new_stack()
    deliver(stack, incoming_cancel(branch="z9hG4bKnothing"))
    assert cancels == [] and transport.messages()[0].code == 481


def test_an_ack_for_a_non_2xx_is_absorbed_and_an_ack_for_a_2xx_goes_to_the_tu_bare():
    stack, _, _transport, requests, _ = new_stack()
    deliver(stack, incoming_invite())
    requests[0].send_response(make_response(requests[0].request, 486, to_tag="t"))
    ack = incoming_invite().replace(b"INVITE sip", b"ACK sip").replace(b"1 INVITE", b"1 ACK")
    deliver(stack, ack)
    assert len(requests) == 1
    deliver(stack, ack.replace(b"z9hG4bKinv", b"z9hG4bKother"))
    assert isinstance(requests[-1], StatelessRequest) and requests[-1].method == "ACK"


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda d: d.replace(b"CSeq: 4 OPTIONS\r\n", b""), b"Missing CSeq"),
        (lambda d: d.replace(b"CSeq: 4 OPTIONS", b"CSeq: 4 INVITE"), b"does not match"),
        (lambda d: d.replace(b"From: <sip:bob@example.test>;tag=b", b"From: <<<"), b"Malformed"),
    ],
)
def test_requests_missing_or_breaking_core_headers_get_a_stateless_400(edit, reason):
    stack, _, transport, requests, _ = new_stack()
    deliver(stack, edit(incoming_options()))
    assert requests == []
    [response] = transport.messages()
    assert isinstance(response, SIPResponse) and response.code == 400
    assert reason in transport.sent[0][0].split(b"\r\n")[0]


def test_a_request_without_via_is_dropped_silently():
    stack, _, transport, requests, _ = new_stack()
    data = incoming_options().replace(b"Via: SIP/2.0/UDP 10.9.9.9:5999;branch=z9hG4bKabc;rport\r\n", b"")
    deliver(stack, data)
    assert requests == [] and transport.sent == []


def test_a_response_nothing_claims_goes_to_the_stray_handler():
    stray = []
    stack = SIPStack(Clock(), FakeTransport(), on_request=lambda t: None, on_stray_response=stray.append)
    response = (
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKzzz\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: q\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    stack.receive(scan(response), PEER, LOCAL_UDP)
    assert [r.code for r in stray] == [200]


def test_a_tls_request_without_a_tls_listener_puts_the_tcp_listener_in_the_via():
    stack, _, transport, _, _ = new_stack()
    destination = TransportAddress("tls", "127.0.0.2", 5061)
    stack.send_request(options_request(), destination, Listener(), tls_name="example.test")
    via = transport.messages()[0].get("Via")
    assert (via.transport, via.host, via.port) == ("TLS", "127.0.0.1", 5060)


class SizeRecordingTransport(FakeTransport):
    """Keeps the size the stack announced to ``transport_for`` for each request."""

    def __init__(self):
        super().__init__()
        self.announced: list[int] = []

    def transport_for(self, destination, size, *, is_request=False):
        self.announced.append(size)
        return destination


@pytest.mark.parametrize("body_size", [0, 300, 900])
def test_the_size_announced_for_the_udp_tcp_switch_bounds_the_sent_request_closely(body_size):
    """RFC 3261 §18.1.1 moves a UDP request to TCP above 1300 bytes: the size the stack announces
    before adding its Via is never below what is then sent, and at most the Via/Max-Forwards/
    Content-Length allowance (160 bytes) above it, so a 1,100-byte INVITE is not pushed to TCP."""
    transport = SizeRecordingTransport()
    stack = SIPStack(Clock(), transport, on_request=lambda request: None)
    request = options_request()
    request.add("Contact", "<sip:alice@127.0.0.1:5060>")
    request.add("Content-Type", "application/sdp")
    request.body = b"v" * body_size
    stack.send_request(request, PEER, Listener())
    [(sent, _)] = transport.sent
    [announced] = transport.announced
    assert len(sent) <= announced <= len(sent) + 160
