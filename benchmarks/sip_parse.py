"""Parse and serialise throughput of whole SIP messages on one core (the SIP issue's benchmark).

A "parse" is: scan the message (start line + header split) and parse Via, From, To, Call-ID,
CSeq and Contact into header objects, through the message model: ``parse_message(data)`` then
``.via``, ``.from_header``, ``.to_header``, ``.call_id``, ``.cseq`` and ``.get_all("Contact")``.
The target is 400,000 parses/s of the 806-byte INVITE (pjsip's C parser: 308k-402k/s) and
1,000,000 serialisations/s.

Printed as messages/s, for the INVITE and a 200 OK, beside baselines measured in the same run:
  * naive      - ``bytes.split`` of the head into a dict and a decode of the six values (no
                 header objects, no checks): the floor for any Python parser;
  * python     - the same message-model path with the C header parsers switched off;
  * fast       - the message-model path as shipped (C header parsers via parse_header);
  * direct     - scan() + get() + the C parsers called directly, without the message model:
                 what the header layer costs on its own.
Serialisation: ``to_bytes()`` of a parsed, unmodified message, against a naive join of the split
lines, and the proposed verbatim path (``serialises_verbatim`` + returning the received bytes,
see docs/sip-fastparse.md).

Each figure is the best of several timed runs (the least disturbed one).
Run: .venv/bin/python benchmarks/sip_parse.py [seconds per figure, default 2]
Not a test: nothing here asserts on time.
"""

from __future__ import annotations

import sys
from unittest import mock

from _common import OK_200, pin_to_one_core, rate
from _common import invite as invite_message

from sipsimple.core.sip import _fastparse, headers
from sipsimple.core.sip._scanner import scan
from sipsimple.core.sip.message import parse_message

NAIVE_NAMES = (b"via", b"from", b"to", b"call-id", b"cseq", b"contact")


def naive_parse(data: bytes) -> object:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip()
    return lines[0], [fields.get(name, b"").decode() for name in NAIVE_NAMES], body


def message_parse(data: bytes) -> object:
    message = parse_message(data)
    return (
        message.via,
        message.from_header,
        message.to_header,
        message.call_id,
        message.cseq,
        message.get_all("Contact"),
    )


def direct_parse(data: bytes) -> object:
    scanned = scan(data)
    get = scanned.get
    return (
        _fastparse.parse_via_list(get("Via")),
        _fastparse.parse_from(get("From")),
        _fastparse.parse_to(get("To")),
        _fastparse.parse_call_id(get("Call-ID")).call_id,
        _fastparse.parse_cseq(get("CSeq")),
        _fastparse.parse_contact_list(get("Contact")),
    )


def naive_serialise(parts: tuple[list[bytes], bytes]) -> bytes:
    lines, body = parts
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def verbatim_serialise(parts: tuple[bytes, int]) -> bytes:
    """What the proposed to_bytes() does for an unmodified parsed message (check made at parse)."""
    raw, length = parts
    if _fastparse.serialises_verbatim(raw, length):
        return raw if length == len(raw) else raw[:length]
    raise AssertionError("the benchmark messages are canonical")


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    pin_to_one_core()
    invite, source = invite_message()
    cases = [(f"INVITE {len(invite)} B ({source})", invite), (f"200 OK {len(OK_200)} B", OK_200)]

    print(f"parse (scan + Via/From/To/Call-ID/CSeq/Contact objects), messages/s, {seconds:g} s per figure")
    print(f"{'message':<34} {'naive':>10} {'python':>10} {'fast':>10} {'direct':>10} {'fast/python':>12}")
    for label, data in cases:
        assert message_parse(data) == direct_parse(data)
        naive = rate(naive_parse, data, seconds, runs=5)
        with mock.patch.object(headers, "_FAST_PARSERS", {}):
            python = rate(message_parse, data, seconds, runs=5)
        fast = rate(message_parse, data, seconds, runs=5)
        direct = rate(direct_parse, data, seconds, runs=5)
        print(
            f"{label:<34} {naive:>10,.0f} {python:>10,.0f} {fast:>10,.0f} {direct:>10,.0f} {fast / python:>11.1f}x"
        )

    print()
    print("serialise a parsed, unmodified message, messages/s")
    print(f"{'message':<34} {'naive join':>11} {'to_bytes()':>11} {'verbatim':>11}")
    for label, data in cases:
        message = parse_message(data)
        assert message.to_bytes() == data
        head, _, body = data.partition(b"\r\n\r\n")
        naive = rate(naive_serialise, (head.split(b"\r\n"), body), seconds, runs=5)
        current = rate(lambda m: m.to_bytes(), message, seconds, runs=5)
        verbatim = rate(verbatim_serialise, (data, len(scan(data))), seconds, runs=5)
        print(f"{label:<34} {naive:>11,.0f} {current:>11,.0f} {verbatim:>11,.0f}")


if __name__ == "__main__":
    main()
