"""Throughput of the SIP message scanner (sipsimple.core.sip._scanner) on one core.

Prints messages/s for:
  * scan() of the 806-byte benchmark INVITE and of a ~300-byte 200 OK;
  * scan() followed by get() of Via, From, To, Call-ID, CSeq and Contact;
  * StreamFramer.feed() of the INVITE;
and, measured in the same run, a naive pure-Python baseline: split the header section from the
body, split it into lines and partition each line on ':' into a dict.

Run: .venv/bin/python benchmarks/sip_scan.py [seconds per figure, default 2]
Not a test: nothing here asserts on time.
"""

from __future__ import annotations

import sys

from _common import OK_200, pin_to_one_core, rate
from _common import invite as invite_message

from sipsimple.core.sip._scanner import StreamFramer, scan

LOOKUPS = ("Via", "From", "To", "Call-ID", "CSeq", "Contact")


def naive_split(data: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, body


def naive_split_and_get(data: bytes) -> None:
    _, headers, _ = naive_split(data)
    for name in (b"via", b"from", b"to", b"call-id", b"cseq", b"contact"):
        headers.get(name, b"").decode()


def scan_and_get(data: bytes) -> None:
    m = scan(data)
    for name in LOOKUPS:
        m.get(name)


def framer_feed(data: bytes) -> None:
    StreamFramer().feed(data)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    pin_to_one_core()
    invite, source = invite_message()
    cases = [
        (f"INVITE {len(invite)} B ({source})", invite),
        (f"200 OK {len(OK_200)} B", OK_200),
    ]
    print(f"{'case':<42} {'scanner msg/s':>14} {'naive msg/s':>13} {'ratio':>6}")
    for label, data in cases:
        ours, naive = rate(scan, data, seconds), rate(naive_split, data, seconds)
        print(f"{'scan ' + label:<42} {ours:>14,.0f} {naive:>13,.0f} {ours / naive:>5.1f}x")
        ours, naive = rate(scan_and_get, data, seconds), rate(naive_split_and_get, data, seconds)
        print(f"{'scan+6 get ' + label:<42} {ours:>14,.0f} {naive:>13,.0f} {ours / naive:>5.1f}x")
    ours = rate(framer_feed, invite, seconds)
    print(f"{'StreamFramer().feed INVITE':<42} {ours:>14,.0f} {'-':>13}")
    print(f"per scan of the INVITE: {1e9 / rate(scan, invite, seconds / 2):,.0f} ns")


if __name__ == "__main__":
    main()
