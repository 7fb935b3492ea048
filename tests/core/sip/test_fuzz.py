"""Fuzzing the parser and the transaction layer with 100,000+ generated inputs per run.

Inputs are mutations of real messages (the RFC 4475/5118 corpora when present, plus built-in ones):
bytes flipped, inserted, deleted and duplicated, lines swapped, dropped and repeated, truncations and
trailing garbage. Each goes through ``parse_message``, every header accessor, and a transaction layer
(with a fake transport and clock) that must answer or drop it. The only failure allowed anywhere is
the library's own parse error; the stack itself must never raise. A seeded ``random.Random`` keeps
each run reproducible (the seed is in the failure message) while covering new inputs every day.
"""

from __future__ import annotations

import datetime
import random

import pytest
from twisted.internet.task import Clock

from sipsimple.core.sip._grammar import SIPParseError
from sipsimple.core.sip._scanner import SIPScanError, scan
from sipsimple.core.sip.message import SIPRequest, make_response, parse_message
from sipsimple.core.sip.stack import ServerTransaction, SIPStack
from tests.conftest import corpora_directory
from tests.core.sip.test_stack import LOCAL_UDP, PEER, FakeTransport

BUILT_IN = [
    b"INVITE sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport\r\n"
    b"Max-Forwards: 70\r\nFrom: Alice <sip:alice@example.test>;tag=a\r\nTo: <sip:bob@example.test>\r\n"
    b"Call-ID: c1@h\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@10.0.0.1>;expires=60\r\n"
    b"Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n",
    b"SUBSCRIBE sip:bob@example.test SIP/2.0\r\nv: SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bK2\r\n"
    b'f: <sip:alice@example.test>;tag=x\r\nt: "Bob" <sip:bob@example.test>\r\ni: c2\r\nCSeq: 2 SUBSCRIBE\r\n'
    b"o: presence;id=1\r\nExpires: 3600\r\nm: <sip:alice@[2001:db8::1]:5061;transport=tcp>\r\n"
    b"Content-Length: 0\r\n\r\n",
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK3;received=1.2.3.4;rport=5\r\n"
    b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: q\r\nCSeq: 7 MESSAGE\r\nContent-Length: 0\r\n\r\n",
]
GARBAGE = [
    b"\x00",
    b"\r\n",
    b" ",
    b";",
    b",",
    b"<",
    b">",
    b'"',
    b"\\",
    b":",
    b"%",
    b"[",
    b"]",
    b"=",
    b"\xff",
    b"\t",
]
INPUTS = 100_000


def _seeds():
    seeds = list(BUILT_IN)
    for folder in ("rfc4475", "rfc5118"):
        directory = corpora_directory() / folder
        if directory.exists():
            seeds.extend(path.read_bytes() for path in sorted(directory.glob("*.sip")))
    return seeds


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(8)
        position = rng.randrange(len(buffer) + 1)
        if choice == 0 and buffer:
            buffer[min(position, len(buffer) - 1)] = rng.randrange(256)
        elif choice == 1:
            buffer[position:position] = rng.choice(GARBAGE) * rng.randint(1, 3)
        elif choice == 2 and buffer:
            del buffer[position : position + rng.randint(1, 8)]
        elif choice == 3:
            del buffer[position:]
            buffer += bytes(rng.randrange(256) for _ in range(rng.randint(0, 6)))
        else:
            lines = bytes(buffer).split(b"\r\n")
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            if choice == 4:
                lines[i], lines[j] = lines[j], lines[i]
            elif choice == 5:
                del lines[i]
            elif choice == 6:
                lines.insert(i, lines[j])
            else:
                lines[i] = lines[i].replace(b":", b"", 1) if rng.random() < 0.5 else lines[i].upper()
            buffer = bytearray(b"\r\n".join(lines))
    return bytes(buffer)


def _exercise(message) -> None:
    for name, _ in message.headers:
        try:
            message.get_all(name)
        except SIPParseError:
            pass
    for accessor in ("via", "from_header", "to_header", "call_id", "cseq", "content_type"):
        try:
            getattr(message, accessor)
        except SIPParseError:
            pass
    if isinstance(message, SIPRequest):
        try:
            _ = message.uri
        except SIPParseError:
            pass
    try:
        message.to_bytes()
    except SIPParseError:
        pass


@pytest.mark.slow
def test_a_hundred_thousand_mutated_messages_only_ever_raise_parse_errors():
    seed = int(datetime.date.today().strftime("%Y%m%d"))
    rng = random.Random(seed)
    seeds = _seeds()
    clock, transport = Clock(), FakeTransport()

    def answer(transaction):  # a TU that answers everything, as the Engine does
        if isinstance(transaction, ServerTransaction):
            transaction.send_response(make_response(transaction.request, 486, to_tag="fuzz"))

    stack = SIPStack(clock, transport, on_request=answer, on_cancel=lambda invite, cancel: None)
    parsed = answered = 0
    for n in range(INPUTS):
        data = _mutate(rng, rng.choice(seeds))
        try:
            message = parse_message(data)
        except SIPParseError:
            message = None
        except Exception as e:
            raise AssertionError(f"seed {seed}, input {n}: parse_message raised {e!r} for {data!r}") from e
        if message is not None:
            parsed += 1
            _exercise(message)
        try:
            scanned = scan(data)
        except SIPScanError:
            continue
        before = len(transport.sent)
        try:
            stack.receive(scanned, PEER, LOCAL_UDP)
        except Exception as e:
            raise AssertionError(f"seed {seed}, input {n}: the stack raised {e!r} for {data!r}") from e
        answered += len(transport.sent) > before
        if n % 1000 == 0:
            clock.advance(40)  # let transactions finish so the table does not grow without bound
    clock.advance(100)
    assert stack.transaction_count == 0
    assert parsed > INPUTS // 10 and answered > 0  # the mutations are not all trivially rejected
