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

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a source tree built with ./build_inplace

from sipsimple.core.sip._scanner import StreamFramer, scan  # noqa: E402

BENCH_FILE = ROOT / ".." / "shared" / "bench" / "invite-806.sip"

# Used when the shared benchmark message is absent: an INVITE of the same shape.
FALLBACK_INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example.com;transport=udp>\r\n"
    b"Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, SUBSCRIBE, INFO\r\n"
    b"Supported: replaces, 100rel, timer\r\n"
    b"User-Agent: bench/1.0\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 241\r\n"
    b"\r\n"
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\n"
    b"s=-\r\n"
    b"c=IN IP4 192.0.2.101\r\n"
    b"t=0 0\r\n"
    b"m=audio 49172 RTP/AVP 0 8 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-15\r\n"
    b"a=sendrecv\r\n"
)

OK_200 = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport=5060\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:bob@192.0.2.4>\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)

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


def rate(func: Callable[[bytes], object], data: bytes, seconds: float) -> float:
    """Calls per second of func(data), timed over about ``seconds``."""
    batch = 1000
    calls, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            func(data)
        calls += batch
        now = time.perf_counter()
        if now >= deadline:
            return calls / (now - start)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    invite = BENCH_FILE.read_bytes() if BENCH_FILE.is_file() else FALLBACK_INVITE
    source = BENCH_FILE.name if BENCH_FILE.is_file() else "built-in INVITE"
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
