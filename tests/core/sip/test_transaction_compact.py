"""Ended server transactions as compact records: what they answer, when they go, what they cost.

The sans-IO table (``transaction/ended.py``) is tested with plain numbers for the time; the stack's
use of it with a ``twisted.internet.task.Clock``."""

from __future__ import annotations

import gc

import pytest
from twisted.internet.defer import succeed
from twisted.internet.task import Clock

from sipsimple.core.sip._scanner import scan
from sipsimple.core.sip.message import make_response
from sipsimple.core.sip.stack import SIPStack, StatelessRequest
from sipsimple.core.sip.transaction import LocalProtocolError, TimerConfig
from sipsimple.core.sip.transaction.ended import Absorb, AckRule, EndedTransactions, PassAck, Resend
from sipsimple.core.sip.transport import TransportAddress

LOCAL_UDP = TransportAddress("udp", "127.0.0.1", 5060)
LOCAL_TCP = TransportAddress("tcp", "127.0.0.1", 5060)
PEER = TransportAddress("udp", "127.0.0.2", 5070)
PEER_TCP = TransportAddress("tcp", "127.0.0.2", 40000)


# -- the sans-IO table --------------------------------------------------------------------------


def test_a_record_answers_retransmissions_with_its_bytes_until_its_deadline():
    table = EndedTransactions()
    table.add("k", now=100.0, lifetime=32.0, data=b"SIP/2.0 200 OK\r\n\r\n", destination=PEER)
    assert table.receive("k", is_ack=False, now=131.9) == Resend(b"SIP/2.0 200 OK\r\n\r\n", PEER)
    assert table.receive("k", is_ack=False, now=132.0) is None  # due: matches nothing any more
    assert table.expire(131.9) == [] and "k" in table
    assert table.expire(132.0) == ["k"] and len(table) == 0 and table.next_deadline() is None


def test_invite_records_absorb_invites_and_pass_or_absorb_the_ack_as_their_state_says():
    table = EndedTransactions()
    table.add("accepted", 0.0, 32.0, ack=AckRule.PASS)
    table.add("confirmed", 0.0, 5.0, ack=AckRule.ABSORB)
    assert table.receive("accepted", is_ack=False, now=1.0) is Absorb
    assert table.receive("accepted", is_ack=True, now=1.0) is PassAck
    assert table.receive("confirmed", is_ack=False, now=1.0) is Absorb
    assert table.receive("confirmed", is_ack=True, now=1.0) is Absorb
    assert table.receive("unknown", is_ack=False, now=1.0) is None


def test_records_of_different_lifetimes_expire_in_deadline_order():
    table = EndedTransactions()
    table.add("j", 0.0, 32.0, data=b"x", destination=PEER)
    table.add("i", 1.0, 5.0)
    assert table.next_deadline() == 6.0
    assert table.expire(6.0) == ["i"]
    assert table.next_deadline() == 32.0
    assert table.expire(40.0) == ["j"]


def test_a_replaced_record_keeps_its_new_deadline_and_a_discarded_one_is_gone():
    table = EndedTransactions()
    table.add("k", 0.0, 5.0)
    table.add("k", 3.0, 5.0, data=b"again", destination=PEER)
    assert table.expire(5.0) == [] and "k" in table  # the old entry came due, the record did not
    assert table.expire(8.0) == ["k"]
    table.add("d", 0.0, 5.0)
    table.discard("d")
    assert "d" not in table and table.expire(10.0) == []


@pytest.mark.parametrize(
    ("lifetime", "data", "destination"), [(0.0, None, None), (-1.0, None, None), (5.0, b"x", None)]
)
def test_a_record_needs_a_positive_lifetime_and_data_with_its_destination(lifetime, data, destination):
    with pytest.raises(ValueError):
        EndedTransactions().add("k", 0.0, lifetime, data=data, destination=destination)


# -- the stack ----------------------------------------------------------------------------------


class SinkTransport:
    """Counts what the stack sends and keeps the last datagram, so that tests measuring memory
    do not keep what they measure alive."""

    def __init__(self, keep: bool = True):
        self.keep = keep
        self.sent: list[tuple[bytes, TransportAddress]] = []
        self.count = 0
        self.listeners = (LOCAL_UDP, LOCAL_TCP)

    def transport_for(self, destination, size, *, is_request=False):
        return destination

    def send(self, data, destination, *, tls_name=None, is_request=False, new_connection=True):
        self.count += 1
        if self.keep:
            self.sent.append((data, destination))
        return succeed(destination)


def new_stack(timers=None, keep=True, on_request=None):
    clock, transport, requests, cancels = Clock(), SinkTransport(keep), [], []
    stack = SIPStack(
        clock,
        transport,
        on_request=on_request or requests.append,
        on_cancel=lambda invite, cancel: cancels.append((invite, cancel)),
        timers=timers,
    )
    return stack, clock, transport, requests, cancels


def request_bytes(method, branch, cseq_method=None):
    return (
        f"{method} sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5070;branch={branch}\r\n"
        f"From: <sip:bob@example.test>;tag=b\r\nTo: <sip:alice@example.test>\r\n"
        f"Call-ID: {branch}@y\r\nCSeq: 1 {cseq_method or method}\r\nMax-Forwards: 70\r\n"
        f"Content-Length: 0\r\n\r\n"
    ).encode()


def deliver(stack, data, source=PEER):
    stack.receive(scan(data), source, LOCAL_UDP if source.transport == "udp" else LOCAL_TCP)


def test_a_non_invite_answered_moves_to_the_ended_table_and_answers_retransmissions_there():
    """After its final response the transaction object is let go (the stack keeps a record), and
    a retransmitted request still gets the same response bytes and never reaches the TU."""
    stack, _, transport, requests, _ = new_stack()
    deliver(stack, request_bytes("OPTIONS", "z9hG4bKopt"))
    transaction = requests[0]
    transaction.send_response(make_response(transaction.request, 200))
    assert stack._server_transactions == {} and len(stack._ended) == 1 and transaction.ended
    assert stack.transaction_count == 1
    deliver(stack, request_bytes("OPTIONS", "z9hG4bKopt"))
    assert len(requests) == 1
    assert len(transport.sent) == 2 and transport.sent[0] == transport.sent[1]


def test_the_record_of_a_non_invite_lasts_timer_j_from_the_timer_settings():
    """Timer J is 64*T1: with T1 = 0.125 s the record absorbs retransmissions for 8 s, then a
    request with that branch is a new one; nothing is left scheduled on the clock."""
    stack, clock, _, requests, _ = new_stack(timers=TimerConfig(t1=0.125, t2=0.5))
    deliver(stack, request_bytes("OPTIONS", "z9hG4bKj"))
    requests[0].send_response(make_response(requests[0].request, 200))
    clock.advance(7.5)
    deliver(stack, request_bytes("OPTIONS", "z9hG4bKj"))
    assert len(requests) == 1
    clock.advance(0.5)
    assert stack.transaction_count == 0 and clock.getDelayedCalls() == []
    deliver(stack, request_bytes("OPTIONS", "z9hG4bKj"))
    assert len(requests) == 2


def test_many_records_expire_together_and_none_is_dropped_early():
    """Records added 10 ms apart share sweeps (up to 0.1 s late), and every one absorbs its
    retransmissions until its own deadline."""
    stack, clock, _, requests, _ = new_stack()
    for n in range(20):
        deliver(stack, request_bytes("OPTIONS", f"z9hG4bKm{n}"))
        requests[-1].send_response(make_response(requests[-1].request, 200))
        clock.advance(0.01)
    assert len(clock.getDelayedCalls()) == 1  # one sweep, not a timer per record
    clock.advance(31.8)  # now 32.0 s: the first record is due, the last has 0.19 s to go
    deliver(stack, request_bytes("OPTIONS", "z9hG4bKm19"))
    assert len(requests) == 20  # absorbed
    deliver(stack, request_bytes("OPTIONS", "z9hG4bKm0"))
    assert len(requests) == 21  # a new request: its record's time is up, swept or not
    requests[-1].send_response(make_response(requests[-1].request, 200))
    clock.advance(0.3)  # every first-round deadline passed 0.1 s ago or more
    assert stack.transaction_count == 1  # only the new one


class CreepingClock(Clock):
    """A clock that moves on a little at every reading, as a real one does between two calls."""

    def seconds(self):
        self.rightNow += 1e-6
        return self.rightNow


def test_one_sweep_serves_records_added_while_it_waits():
    """Each record's deadline is a little later than the last; the sweep already scheduled for the
    oldest stays (no cancelled DelayedCall left behind per record on a real reactor)."""
    clock = CreepingClock()
    stack = SIPStack(
        clock,
        SinkTransport(keep=False),
        on_request=lambda tx: tx.send_response(make_response(tx.request, 200)),
    )
    sweeps = []
    for n in range(20):
        deliver(stack, request_bytes("OPTIONS", f"z9hG4bKc{n}"))
        sweeps.append(stack._sweep)
    assert all(sweep is sweeps[0] for sweep in sweeps) and sweeps[0].active()


def test_an_accepted_invite_absorbs_retransmissions_and_its_tu_resends_the_2xx_until_timer_l():
    stack, clock, transport, requests, _ = new_stack()
    deliver(stack, request_bytes("INVITE", "z9hG4bKinv"))
    transaction = requests[0]
    ok = make_response(transaction.request, 200, to_tag="t")
    busy = make_response(transaction.request, 486, to_tag="t")
    transaction.send_response(ok)
    assert transaction.ended and stack._server_transactions == {}
    deliver(stack, request_bytes("INVITE", "z9hG4bKinv"))  # absorbed: the TU resends its 2xx
    assert len(requests) == 1 and len(transport.sent) == 1
    transaction.send_response(ok)
    assert len(transport.sent) == 2 and transport.sent[1] == transport.sent[0]
    with pytest.raises(LocalProtocolError):
        transaction.send_response(busy)  # only 2xx retransmissions may follow a 2xx
    clock.advance(32.0)
    with pytest.raises(LocalProtocolError):
        transaction.send_response(ok)
    assert stack.transaction_count == 0 and clock.getDelayedCalls() == []


def test_an_ack_that_reuses_the_invite_branch_reaches_the_tu_during_timer_l():
    """RFC 6026 §8.7: in Accepted an ACK matching the INVITE transaction is passed to the TU."""
    stack, _, _, requests, _ = new_stack()
    deliver(stack, request_bytes("INVITE", "z9hG4bKsame"))
    requests[0].send_response(make_response(requests[0].request, 200, to_tag="t"))
    deliver(stack, request_bytes("ACK", "z9hG4bKsame"))
    assert isinstance(requests[-1], StatelessRequest) and requests[-1].method == "ACK"


def test_a_confirmed_invite_absorbs_acks_and_invites_for_timer_i():
    """The ACK for a non-2xx moves the INVITE to Confirmed: further ACKs and INVITEs are absorbed
    for T4 (5 s), then the branch means nothing any more."""
    stack, clock, transport, requests, _ = new_stack()
    deliver(stack, request_bytes("INVITE", "z9hG4bKbusy"))
    requests[0].send_response(make_response(requests[0].request, 486, to_tag="t"))
    assert not requests[0].ended  # Completed: Timer G/H still run in the machine
    deliver(stack, request_bytes("ACK", "z9hG4bKbusy"))
    assert requests[0].ended and stack._server_transactions == {}
    deliver(stack, request_bytes("ACK", "z9hG4bKbusy"))
    deliver(stack, request_bytes("INVITE", "z9hG4bKbusy"))
    assert len(requests) == 1 and len(transport.sent) == 1
    clock.advance(5.0)
    assert stack.transaction_count == 0
    deliver(stack, request_bytes("ACK", "z9hG4bKbusy"))
    assert isinstance(requests[-1], StatelessRequest)


def test_a_cancel_after_the_2xx_gets_200_and_changes_nothing():
    """RFC 3261 §9.2: the INVITE transaction still exists (as a record), so the CANCEL is
    answered 200, but the TU is not told: the call is already answered."""
    stack, _, transport, requests, cancels = new_stack()
    deliver(stack, request_bytes("INVITE", "z9hG4bKc"))
    requests[0].send_response(make_response(requests[0].request, 200, to_tag="t"))
    deliver(stack, request_bytes("CANCEL", "z9hG4bKc"))
    assert cancels == []
    assert transport.sent[-1][0].startswith(b"SIP/2.0 200")


def test_on_a_reliable_transport_a_non_invite_keeps_no_record():
    """Timer J is zero over TCP/TLS: the transaction ends at its final response."""
    stack, _, _, requests, _ = new_stack()
    deliver(stack, request_bytes("OPTIONS", "z9hG4bKtcp").replace(b"UDP", b"TCP"), source=PEER_TCP)
    requests[0].send_response(make_response(requests[0].request, 200))
    assert stack.transaction_count == 0


def test_a_failed_send_of_the_final_response_drops_the_record():
    """A transport failure reported after the hand-over ends the transaction, as the machine's
    TransportError would have."""
    from twisted.internet.defer import Deferred

    stack, _, transport, requests, _ = new_stack()
    pending = Deferred()
    transport.send = lambda *args, **kwargs: pending
    deliver(stack, request_bytes("OPTIONS", "z9hG4bKfail"))
    requests[0].send_response(make_response(requests[0].request, 200))
    assert len(stack._ended) == 1
    pending.errback(OSError("unreachable"))
    assert stack.transaction_count == 0


def test_ended_transactions_hold_few_objects_for_the_garbage_collector():
    """2,000 answered non-INVITE transactions and 2,000 accepted INVITEs, with the TU keeping
    nothing: together they add fewer than 0.1 objects each that the cyclic collector tracks while
    they wait out Timer J or L (the transaction object and its machine were ~20), and none once
    they expired."""
    clock = Clock()

    def answer(transaction):
        transaction.send_response(make_response(transaction.request, 200, to_tag="t"))

    stack = SIPStack(clock, SinkTransport(keep=False), on_request=answer)
    deliver(stack, request_bytes("OPTIONS", "z9hG4bKwarm"))  # first-use caches out of the count
    clock.advance(40)
    gc.collect()
    before = len(gc.get_objects())
    for n in range(2000):
        deliver(stack, request_bytes("OPTIONS", f"z9hG4bKo{n}"))
        deliver(stack, request_bytes("INVITE", f"z9hG4bKi{n}"))
    assert len(stack._ended) == 4000 and stack._server_transactions == {}
    gc.collect()
    per_transaction = (len(gc.get_objects()) - before) / 4000
    assert per_transaction < 0.1, per_transaction
    clock.advance(40)
    gc.collect()
    assert stack.transaction_count == 0
    assert len(gc.get_objects()) - before < 100


def test_a_failed_resend_from_the_record_drops_it():
    """A retransmission answered from a record whose send fails ends the transaction: the next
    copy of the request is a new request for the TU."""
    from twisted.internet.defer import fail

    stack, _, transport, requests, _ = new_stack()
    deliver(stack, request_bytes("OPTIONS", "z9hG4bKresend"))
    requests[0].send_response(make_response(requests[0].request, 200))
    transport.send = lambda *args, **kwargs: fail(OSError("unreachable"))
    deliver(stack, request_bytes("OPTIONS", "z9hG4bKresend"))
    assert stack.transaction_count == 0 and len(requests) == 1
