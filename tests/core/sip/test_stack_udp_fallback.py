"""RFC 3261 §18.1.1 in the transaction driver: a request moved from UDP to TCP for its size whose
connection is refused is sent again over UDP, once, as a new client transaction (new Via and
branch, same CSeq); nothing else is retried."""

from __future__ import annotations

from collections import deque

import pytest
from twisted.internet import defer
from twisted.internet.task import Clock

from sipsimple.core.sip._scanner import scan
from sipsimple.core.sip.headers import CSeqHeader, FromHeader, ToHeader
from sipsimple.core.sip.message import SIPRequest, make_response, parse_message
from sipsimple.core.sip.stack import SIPStack
from sipsimple.core.sip.transport import ConnectionFailed, ConnectionRefused, TransportAddress
from sipsimple.core.sip.uri import SIPURI

LOCAL_UDP = TransportAddress("udp", "127.0.0.1", 5060)
LOCAL_TCP = TransportAddress("tcp", "127.0.0.1", 5062)
PEER_UDP = TransportAddress("udp", "127.0.0.2", 5070)
PEER_TCP = PEER_UDP.with_transport("tcp")
THRESHOLD = 1300


class SwitchingTransport:
    """Moves requests over THRESHOLD bytes from UDP to TCP like TransportManager does (unless
    ``size_switch=False``); each send takes the next outcome from ``outcomes`` (an exception to
    fail with, a Deferred the test fires; None, or none left: success) and is recorded with where it really went."""

    def __init__(self, *outcomes: Exception | defer.Deferred[TransportAddress] | None) -> None:
        self.listeners = (LOCAL_UDP, LOCAL_TCP)
        self.outcomes = deque(outcomes)
        self.sent: list[tuple[bytes, TransportAddress]] = []

    def transport_for(self, destination, size, *, is_request=False):
        if destination.transport == "udp" and is_request and size > THRESHOLD:
            return destination.with_transport("tcp")
        return destination

    def send(
        self, data, destination, *, tls_name=None, is_request=False, new_connection=True, size_switch=True
    ):
        target = self.transport_for(destination, len(data), is_request=is_request and size_switch)
        self.sent.append((data, target))
        outcome = self.outcomes.popleft() if self.outcomes else None
        if isinstance(outcome, defer.Deferred):
            return outcome
        return defer.fail(outcome) if outcome is not None else defer.succeed(target)

    def requests(self) -> list[tuple[SIPRequest, TransportAddress]]:
        return [(parse_message(data), target) for data, target in self.sent]


class Listener:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.transactions: list[object] = []

    def response_received(self, transaction, response):
        self.events.append(("response", response.code))
        self.transactions.append(transaction)

    def timed_out(self, transaction):
        self.events.append(("timeout", None))

    def transport_failed(self, transaction, error):
        self.events.append(("transport", type(error).__name__))

    def terminated(self, transaction):
        self.events.append(("terminated", None))


def request(method: str = "MESSAGE", body_size: int = 1500, destination: TransportAddress = PEER_UDP):
    uri = SIPURI(destination.host, user="bob", port=destination.port)
    if destination.transport != "udp":
        uri.parameters["transport"] = destination.transport
    message = SIPRequest(method, uri)
    message.add("From", FromHeader(SIPURI("example.test", user="alice"), parameters={"tag": "f1"}))
    message.add("To", ToHeader(SIPURI("example.test", user="bob")))
    message.add("Call-ID", "fallback@example.test")
    message.add("CSeq", CSeqHeader(7, method))
    message.add("Content-Type", "text/plain")
    message.body = b"x" * body_size
    return message


def run(transport: SwitchingTransport, message: SIPRequest, destination: TransportAddress = PEER_UDP):
    clock, listener = Clock(), Listener()
    stack = SIPStack(clock, transport, on_request=lambda transaction: None)
    stack.send_request(message, destination, listener)
    return stack, clock, listener


def answer(stack: SIPStack, sent: SIPRequest, code: int) -> None:
    response = make_response(sent, code)
    stack.receive(scan(response.to_bytes()), PEER_UDP, LOCAL_UDP)


@pytest.mark.parametrize("method", ["MESSAGE", "INVITE"])
def test_a_large_request_refused_over_tcp_goes_again_over_udp_with_a_new_via(method):
    """The first send goes over TCP (Via TCP); after ConnectionRefused the same request (same CSeq,
    Call-ID and body) goes to the UDP destination with a UDP Via and a new branch, and the listener
    hears only the answer to it, not the failure."""
    transport = SwitchingTransport(ConnectionRefused("cannot connect to tcp:127.0.0.2:5070: refused"))
    stack, _, listener = run(transport, request(method))
    [(first, first_to), (second, second_to)] = transport.requests()
    assert (first_to, second_to) == (PEER_TCP, PEER_UDP)
    assert first.get("Via").transport == "TCP" and second.get("Via").transport == "UDP"
    assert (second.get("Via").host, second.get("Via").port) == (LOCAL_UDP.host, LOCAL_UDP.port)
    assert first.get("Via").branch != second.get("Via").branch
    assert len(second.via) == 1
    assert (second.cseq.number, second.call_id, second.body) == (7, first.call_id, first.body)
    assert listener.events == []
    assert stack.transaction_count == 1  # the refused transaction is gone, its retry is running

    answer(stack, second, 200)
    assert listener.events[0] == ("response", 200)


def test_the_retry_is_an_unreliable_transaction_retransmitted_on_udp():
    """The retry runs Timer A like any INVITE over UDP: sent again at 0.5 s and 1.5 s, still over
    UDP with the same bytes, while the TCP attempt was sent once."""
    transport = SwitchingTransport(ConnectionRefused("refused"))
    _, clock, _ = run(transport, request("INVITE"))
    clock.advance(0.5)
    clock.advance(1.0)
    targets = [target for _, target in transport.sent]
    assert targets == [PEER_TCP, PEER_UDP, PEER_UDP, PEER_UDP]
    assert transport.sent[1][0] == transport.sent[2][0] == transport.sent[3][0]


def test_the_retry_keeps_the_request_object_so_a_cancel_matches_it():
    """The request the TU holds is the one re-sent: its top Via is now the UDP one, so a CANCEL built
    from it (RFC 3261 §9.1: same branch as the INVITE) matches what the peer received."""
    message = request("INVITE")
    transport = SwitchingTransport(ConnectionRefused("refused"))
    run(transport, message)
    [_, (sent, _)] = transport.requests()
    assert message.get("Via").branch == sent.get("Via").branch
    assert message.get("Via").transport == "UDP"


def test_a_refused_retry_is_reported_once_and_not_tried_again():
    """Once: when the UDP retry fails too, the listener hears one transport failure and one end, and
    nothing more is sent."""
    transport = SwitchingTransport(ConnectionRefused("refused"), ConnectionFailed("no UDP socket"))
    stack, _, listener = run(transport, request())
    assert [target for _, target in transport.sent] == [PEER_TCP, PEER_UDP]
    assert listener.events == [("transport", "ConnectionFailed"), ("terminated", None)]
    assert stack.transaction_count == 0


def test_a_route_that_named_tcp_is_never_retried_over_udp():
    """Only a request the size rule moved falls back: one sent to a TCP destination fails as before."""
    transport = SwitchingTransport(ConnectionRefused("refused"))
    _, _, listener = run(transport, request(destination=PEER_TCP), PEER_TCP)
    assert [target for _, target in transport.sent] == [PEER_TCP]
    assert listener.events == [("transport", "ConnectionRefused"), ("terminated", None)]


def test_a_connect_failure_other_than_a_refusal_is_not_retried():
    """A connect timeout (ConnectionFailed, not ConnectionRefused) is reported as a transport failure:
    the RFC retries only on a reset or an ICMP error."""
    transport = SwitchingTransport(ConnectionFailed("cannot connect to tcp:127.0.0.2:5070: timeout"))
    _, _, listener = run(transport, request())
    assert [target for _, target in transport.sent] == [PEER_TCP]
    assert listener.events == [("transport", "ConnectionFailed"), ("terminated", None)]


def test_a_request_that_was_sent_and_timed_out_is_not_retried():
    """Sent over TCP with no answer: Timer F ends it with a timeout and nothing goes over UDP."""
    transport = SwitchingTransport()
    _, clock, listener = run(transport, request())
    clock.advance(32.0)
    assert [target for _, target in transport.sent] == [PEER_TCP]
    assert listener.events == [("timeout", None), ("terminated", None)]


def test_a_refusal_after_the_peer_answered_is_not_retried():
    """Something came back from the peer (a 100 Trying) before the send was reported refused: the
    request reached it, so it is not sent again over UDP and the failure goes to the listener."""
    pending: defer.Deferred[TransportAddress] = defer.Deferred()
    transport = SwitchingTransport(pending)
    stack, _, listener = run(transport, request("INVITE"))
    [(invite, _)] = transport.requests()
    answer(stack, invite, 100)
    pending.errback(ConnectionRefused("refused"))
    assert [target for _, target in transport.sent] == [PEER_TCP]
    assert listener.events == [("response", 100), ("transport", "ConnectionRefused"), ("terminated", None)]


def test_a_rejected_invite_whose_ack_cannot_go_is_not_retried():
    """The INVITE reached the peer over TCP and was rejected; the ACK's refused connection (after
    the transaction ended, Timer D being zero on TCP) sends nothing more."""
    transport = SwitchingTransport(None, ConnectionRefused("refused"))
    stack, _, listener = run(transport, request("INVITE"))
    [(invite, _)] = transport.requests()
    answer(stack, invite, 486)
    assert [(m.method, target) for m, target in transport.requests()] == [
        ("INVITE", PEER_TCP),
        ("ACK", PEER_TCP),
    ]
    assert listener.events == [("response", 486), ("terminated", None)]


def test_a_small_request_is_never_moved_nor_retried():
    """Under the threshold the request goes over UDP at once; a failure there is reported."""
    transport = SwitchingTransport(ConnectionRefused("ICMP port unreachable"))
    _, _, listener = run(transport, request(body_size=100))
    assert [target for _, target in transport.sent] == [PEER_UDP]
    assert listener.events == [("transport", "ConnectionRefused"), ("terminated", None)]
