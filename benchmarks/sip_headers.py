"""Parse rate of the header values the message layer parses for every message.

Prints parses/s for Via, From, To, CSeq and Contact (parse_list), mutable and frozen classes, on
realistic values, next to a baseline measured in the same run: plain ``str.partition``/``split``
slicing of the same value into the same pieces (no checking, no unescaping, no objects), which
is roughly the floor for any pure-Python parser. A third column parses a URI alone.

Run: .venv/bin/python benchmarks/sip_headers.py [seconds per figure, default 1]
Not a test: nothing here asserts on time.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from _common import pin_to_one_core, rate

from sipsimple.core.sip.headers import (
    ContactHeader,
    CSeqHeader,
    FromHeader,
    FrozenContactHeader,
    FrozenCSeqHeader,
    FrozenFromHeader,
    FrozenToHeader,
    FrozenViaHeader,
    ToHeader,
    ViaHeader,
)

VIA = "SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport"
VIA_LONG = "SIP/2.0/TCP [2001:db8::9:1]:5061;branch=z9hG4bK-524287-1---4f3a1d;rport=5061;received=192.0.2.44"
FROM = "Alice <sip:alice@atlanta.example.com>;tag=1928301774"
FROM_QUOTED = '"Alice Liddell" <sip:alice@atlanta.example.com;transport=tcp>;tag=1928301774'
TO = "Bob <sip:bob@biloxi.example.com>"
CSEQ = "314159 INVITE"
CONTACT = "<sip:alice@pc33.atlanta.example.com;transport=udp>"
CONTACT_REG = (
    '<sip:alice@192.0.2.10:5060;transport=tcp;ob>;expires=3600;reg-id=1;+sip.instance="<urn:uuid:00000000-0000-1000-'
    '8000-000A95A0E128>", <sip:alice@pc33.atlanta.example.com>;q=0.5'
)


def _params(text: str) -> dict[str, str]:
    params = {}
    for item in text.split(";"):
        name, _, value = item.partition("=")
        params[name.strip()] = value.strip()
    return params


def _uri(text: str) -> tuple[str, str, str, dict[str, str]]:
    scheme, _, rest = text.partition(":")
    user, _, host = rest.rpartition("@")
    host, _, params = host.partition(";")
    return scheme, user, host, _params(params) if params else {}


def baseline_via(value: str) -> object:
    protocol, _, rest = value.partition(" ")
    sent_by, _, params = rest.partition(";")
    host, _, port = sent_by.rpartition(":")
    return protocol.split("/"), host, port, _params(params)


def baseline_name_addr(value: str) -> object:
    display, _, rest = value.partition("<")
    uri, _, params = rest.partition(">")
    return display.strip().strip('"'), _uri(uri), _params(params[1:]) if params else {}


def baseline_cseq(value: str) -> object:
    number, _, method = value.partition(" ")
    return int(number), method


def baseline_contact_list(value: str) -> object:
    return [baseline_name_addr(item) for item in value.split(", ")]


CASES: list[tuple[str, str, Callable[[str], object], Callable[[str], object], Callable[[str], object]]] = [
    ("Via", VIA, ViaHeader.parse, FrozenViaHeader.parse, baseline_via),
    ("Via (IPv6, received)", VIA_LONG, ViaHeader.parse, FrozenViaHeader.parse, baseline_via),
    ("From", FROM, FromHeader.parse, FrozenFromHeader.parse, baseline_name_addr),
    ("From (quoted, uri param)", FROM_QUOTED, FromHeader.parse, FrozenFromHeader.parse, baseline_name_addr),
    ("To", TO, ToHeader.parse, FrozenToHeader.parse, baseline_name_addr),
    ("CSeq", CSEQ, CSeqHeader.parse, FrozenCSeqHeader.parse, baseline_cseq),
    (
        "Contact list (1)",
        CONTACT,
        ContactHeader.parse_list,
        FrozenContactHeader.parse_list,
        baseline_contact_list,
    ),
    (
        "Contact list (2, REGISTER)",
        CONTACT_REG,
        ContactHeader.parse_list,
        FrozenContactHeader.parse_list,
        baseline_contact_list,
    ),
]


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    pin_to_one_core()
    print(f"{'header value':<28} {'parse/s':>10} {'frozen/s':>10} {'baseline/s':>11} {'parse/base':>10}")
    per_message = 0.0
    for label, value, parse, parse_frozen, baseline in CASES:
        ours, frozen, base = (rate(f, value, seconds) for f in (parse, parse_frozen, baseline))
        print(f"{label:<28} {ours:>10,.0f} {frozen:>10,.0f} {base:>11,.0f} {ours / base:>9.2f}x")
        if label in ("Via", "From", "To", "CSeq", "Contact list (1)"):
            per_message += 1 / frozen
    print(
        f"frozen Via+From+To+CSeq+Contact of one INVITE: {per_message * 1e6:.1f} us -> {1 / per_message:,.0f} msg/s"
    )


if __name__ == "__main__":
    main()
