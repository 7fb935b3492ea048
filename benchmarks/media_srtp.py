"""Cost of SRTP (sipsimple.core.media._srtp) per 172-byte PCMU packet, on one core.

For every crypto suite this libsrtp runs, on a 20 ms PCMU packet (12-byte RTP header + 160 bytes):
  * C: µs to protect and to unprotect one packet, measured inside C with the GIL released (what
    the RTP stream pays on its native threads), and their sum per call-second (50 packets sent
    and 50 received);
  * Python API: µs for ``SRTPSession.protect_rtp()`` + ``unprotect_rtp()`` from Python (copies).
Baselines measured in the same run: a C memcpy of the same packet (the floor of touching the bytes
at all), ``bytes(packet)`` from Python, the C figures of sessions on libsrtp
(``SRTPSession(engine="libsrtp")``: libsrtp with the OpenSSL AES-128-CM/HMAC-SHA1 we plug into it,
the engine the AES-CM suites ran on before our own, csrc/srtp_cm.c), and those with libsrtp's own
crypto back end (a child process with SIPSIMPLE_SRTP_CRYPTO=library; Debian's libsrtp2 runs it over
NSS).

Run: .venv/bin/python benchmarks/media_srtp.py [seconds per figure, default 1]
Not a test: nothing here asserts on time.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time

from _common import pin_to_one_core, rate

from sipsimple.core.media import _srtp

PACKET = struct.pack("!BBHII", 0x80, 0, 1, 160, 0x1234ABCD) + bytes(range(160))


def c_figures(suite: str, seconds: float, engine: str = "default") -> tuple[float, float, float]:
    """(µs protect, µs unprotect, µs memcpy) per packet: best of three C loops."""
    info = _srtp.suite_info(suite)
    key = os.urandom(info.key_length + info.salt_length)
    iterations = 20000
    start = time.perf_counter()
    _srtp._time_round_trips(suite, key, PACKET, iterations, engine)
    elapsed = time.perf_counter() - start
    iterations = max(2000, min(60000, int(iterations * seconds / max(elapsed, 1e-6) / 3)))
    best = None
    for _ in range(3):
        ns = _srtp._time_round_trips(suite, key, PACKET, iterations, engine)
        figures = tuple(n / iterations / 1000 for n in ns)
        best = figures if best is None else tuple(min(a, b) for a, b in zip(best, figures, strict=True))
    assert best is not None
    return best  # type: ignore[return-value]


def python_figure(suite: str, seconds: float) -> float:
    info = _srtp.suite_info(suite)
    key = os.urandom(info.key_length + info.salt_length)
    session = _srtp.SRTPSession()
    session.set_outbound_key(suite, key)
    session.set_inbound_key(suite, key)
    sequence = [0]

    def round_trip(packet: bytes) -> None:
        sequence[0] = (sequence[0] + 1) & 0xFFFF
        data = packet[:2] + sequence[0].to_bytes(2, "big") + packet[4:]
        session.unprotect_rtp(session.protect_rtp(data))

    return 1e6 / rate(round_trip, PACKET, seconds)


def library_backend_figures(seconds: float) -> dict[str, list[float]]:
    """The C figures of every suite in a child process that keeps libsrtp's own crypto."""
    result = subprocess.run(
        [sys.executable, __file__, str(seconds), "--c-only"],
        env={**os.environ, "SIPSIMPLE_SRTP_CRYPTO": "library"},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    pin_to_one_core()
    if "--c-only" in sys.argv:
        print(json.dumps({suite: c_figures(suite, seconds) for suite in _srtp.available_suites()}))
        return
    print(f"{_srtp.library_version()}; suites available: {', '.join(_srtp.available_suites())}")
    print(f"crypto: {_srtp.crypto_backend()}")
    print(f"packet: {len(PACKET)} bytes (RTP header + 20 ms of PCMU)")
    print(
        f"{'suite':<26}{'protect µs':>11}{'unprotect µs':>14}{'sum µs':>8}{'µs/call-s':>11}"
        f"{'Python µs':>11}{'memcpy µs':>11}"
    )
    for suite in _srtp.available_suites():
        protect, unprotect, memcpy = c_figures(suite, seconds)
        python = python_figure(suite, seconds / 2)
        total = protect + unprotect
        print(
            f"{suite:<26}{protect:>11.3f}{unprotect:>14.3f}{total:>8.3f}{50 * total:>11.1f}"
            f"{python:>11.2f}{memcpy:>11.4f}"
        )
    print('baseline: every suite on libsrtp (SRTPSession(engine="libsrtp"), AES-CM/HMAC-SHA1 from OpenSSL):')
    for suite in _srtp.available_suites():
        protect, unprotect, _ = c_figures(suite, seconds / 2, "libsrtp")
        total = protect + unprotect
        print(f"{suite:<26}{protect:>11.3f}{unprotect:>14.3f}{total:>8.3f}{50 * total:>11.1f}")
    print("with libsrtp's own crypto back end (child process):")
    for suite, (protect, unprotect, _) in library_backend_figures(seconds / 2).items():
        total = protect + unprotect
        print(f"{suite:<26}{protect:>11.3f}{unprotect:>14.3f}{total:>8.3f}{50 * total:>11.1f}")
    copy_us = 1e6 / rate(bytes, PACKET, seconds / 2)
    print(f"baselines: C memcpy of the packet (last column); Python bytes(packet) {copy_us:.3f} µs")
    print("µs/call-s: protect 50 + unprotect 50 packets, one call-second of 20 ms PCMU both ways")


if __name__ == "__main__":
    main()
