"""RFC 3261 §18.4 in the transaction driver: an ICMP error about a request we sent over UDP fails
the client transactions still waiting on that destination at once, with `DestinationUnreachable`,
instead of retransmitting until Timer B/F; errors about responses fail nothing. Time is a Clock."""

from __future__ import annotations

import errno

from twisted.internet.task import Clock

from sipsimple.core.sip._scanner import scan
from sipsimple.core.sip.message import SIPRequest, make_response
from sipsimple.core.sip.stack import SIPStack
from sipsimple.core.sip.transport import (
    ConnectionRefused,
    DestinationUnreachable,
    ICMPReport,
    TransportAddress,
)

from .test_stack_udp_fallback import (
    LOCAL_UDP,
    PEER_TCP,
    PEER_UDP,
    Listener,
    SwitchingTransport,
    request,
)

OTHER_PORT = TransportAddress("udp", PEER_UDP.host, PEER_UDP.port + 1)


class ErrorListener(Listener):
    """Also keeps the error objects the listener was given."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[BaseException | None] = []

    def transport_failed(self, transaction, error):
        super().transport_failed(transaction, error)
        self.errors.append(error)


def icmp(destination: TransportAddress = PEER_UDP, payload: bytes = b"MESSAGE sip:bob@127.0.0.2 SIP/2.0\r\n"):
    return ICMPReport(
        destination=destination,
        offender=destination.host,
        origin=2,
        icmp_type=3,
        icmp_code=3,
        errno=errno.ECONNREFUSED,
        payload=payload,
        failure=True,
        description="port unreachable",
    )


def start(*requests: tuple[SIPRequest, TransportAddress]):
    clock, transport = Clock(), SwitchingTransport()
    stack = SIPStack(clock, transport, on_request=lambda transaction: None)
    listeners = []
    for message, destination in requests:
        listener = ErrorListener()
        stack.send_request(message, destination, listener)
        listeners.append(listener)
    return stack, clock, transport, listeners


def answer(stack: SIPStack, transport: SwitchingTransport, index: int, code: int) -> None:
    sent = transport.requests()[index][0]
    stack.receive(scan(make_response(sent, code).to_bytes()), PEER_UDP, LOCAL_UDP)


def test_a_port_unreachable_fails_a_waiting_message_at_once_and_stops_its_retransmissions():
    stack, clock, transport, [listener] = start((request(body_size=10), PEER_UDP))
    assert stack.destination_unreachable(icmp()) == 1
    assert listener.events == [("transport", "DestinationUnreachable"), ("terminated", None)]
    [error] = listener.errors
    assert isinstance(error, DestinationUnreachable) and isinstance(error, ConnectionRefused)
    assert str(error) == "port unreachable (ICMP from 127.0.0.2)"
    assert error.report.destination == PEER_UDP
    clock.advance(32.0)
    assert len(transport.sent) == 1 and stack.transaction_count == 0
    assert clock.getDelayedCalls() == []


def test_an_invite_fails_while_calling_and_while_proceeding():
    """Calling (no answer yet) and Proceeding (a 100 came, no final response): both still wait."""
    stack, _, transport, [calling, proceeding] = start(
        (request("INVITE", body_size=10), PEER_UDP), (request("INVITE", body_size=10), PEER_UDP)
    )
    answer(stack, transport, 1, 100)
    assert stack.destination_unreachable(icmp()) == 2
    failed = [("transport", "DestinationUnreachable"), ("terminated", None)]
    assert calling.events[-2:] == failed and proceeding.events[-2:] == failed
    assert proceeding.events[0] == ("response", 100)


def test_only_udp_transactions_to_that_host_and_port_fail():
    """Another port of the same host, and TCP to the same host and port, carry on."""
    stack, _, _, [hit, other_port, over_tcp] = start(
        (request(body_size=10), PEER_UDP),
        (request(body_size=10, destination=OTHER_PORT), OTHER_PORT),
        (request(body_size=10, destination=PEER_TCP), PEER_TCP),
    )
    assert stack.destination_unreachable(icmp()) == 1
    assert hit.events[0] == ("transport", "DestinationUnreachable")
    assert other_port.events == over_tcp.events == []
    assert stack.transaction_count == 2


def test_a_transaction_that_has_its_final_response_is_left_to_its_timers():
    """Completed: the TU has its answer; an ICMP error (about a retransmission, say) changes nothing."""
    stack, clock, transport, [listener] = start((request(body_size=10), PEER_UDP))
    answer(stack, transport, 0, 200)
    assert stack.destination_unreachable(icmp()) == 0
    assert listener.events == [("response", 200)]
    clock.advance(5.0)  # Timer K
    assert listener.events == [("response", 200), ("terminated", None)]


def test_an_error_about_a_response_fails_nothing():
    """The bounced datagram was a response (its start line): our requests to that address may be
    fine, and a server transaction keeps retransmitting on its timers."""
    stack, _, _, [listener] = start((request(body_size=10), PEER_UDP))
    assert stack.destination_unreachable(icmp(payload=b"SIP/2.0 200 OK\r\nVia: x\r\n")) == 0
    assert listener.events == [] and stack.transaction_count == 1


def test_an_empty_quote_counts_as_a_request():
    """An ICMPv4 message may quote no payload at all: the transactions to the address fail."""
    stack, _, _, [listener] = start((request(body_size=10), PEER_UDP))
    assert stack.destination_unreachable(icmp(payload=b"")) == 1
    assert listener.events[0] == ("transport", "DestinationUnreachable")


def test_the_udp_retry_of_a_refused_tcp_request_fails_on_icmp_and_is_not_retried_again():
    """RFC 3261 §18.1.1's retry (TCP refused, then UDP) is an ordinary UDP transaction: an ICMP
    error fails it and the listener hears one transport failure."""
    clock, transport = Clock(), SwitchingTransport(ConnectionRefused("refused"))
    stack = SIPStack(clock, transport, on_request=lambda transaction: None)
    listener = ErrorListener()
    stack.send_request(request(body_size=1500), PEER_UDP, listener)
    assert [target for _, target in transport.sent] == [PEER_TCP, PEER_UDP]
    assert stack.destination_unreachable(icmp()) == 1
    assert listener.events == [("transport", "DestinationUnreachable"), ("terminated", None)]
    assert [target for _, target in transport.sent] == [PEER_TCP, PEER_UDP]
