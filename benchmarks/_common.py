"""What the SIP benchmarks share: the messages they time, running from the source tree, and timing.

Not a benchmark itself.
"""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a source tree built with ./build_inplace

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


def invite() -> tuple[bytes, str]:
    """The 806-byte INVITE the performance references were measured on (or a built-in twin) and its label."""
    if BENCH_FILE.is_file():
        return BENCH_FILE.read_bytes(), BENCH_FILE.name
    return FALLBACK_INVITE, "built-in INVITE"


def pin_to_one_core() -> None:
    """Benchmarks measure one core: keep the process on one."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def rate(func: Callable[[Any], object], arg: Any, seconds: float, runs: int = 1) -> float:
    """Calls per second of func(arg): the best of ``runs`` timings of about seconds/runs each."""
    best = 0.0
    for _ in range(runs):
        batch, calls = 500, 0
        start = time.perf_counter()
        deadline = start + seconds / runs
        while True:
            for _ in range(batch):
                func(arg)
            calls += batch
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, calls / (now - start))
    return best


def free_udp_port(ip: str) -> int:
    """A UDP port on ``ip`` that nothing is bound to right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((ip, 0))
        return int(sock.getsockname()[1])


def udp_bound(ip: str, port: int) -> bool:
    """Whether some process holds UDP ``ip:port`` (a peer we started is listening)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((ip, port))
        except OSError:
            return True
    return False


def stop_process(process: subprocess.Popen[Any], timeout: float = 20.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; always reaped."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# SIPp-driven runs (uas.py, options_uas.py) --------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | str = "self") -> float:
    """utime + stime of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg gives them."""
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


def sipp_final_stats(path: Path) -> dict[str, str]:
    """The last line of a SIPp ``-trace_stat`` file, keyed by its header (empty if none was written)."""
    rows = [row for row in csv.reader(path.read_text().splitlines(), delimiter=";") if row]
    return dict(zip(rows[0], rows[-1], strict=False)) if len(rows) > 1 else {}


def sipp_elapsed(stats: dict[str, str]) -> float | None:
    """Seconds from SIPp's StartTime to its final CurrentTime (``date\ttime\tepoch.micro`` each)."""
    try:
        return float(stats["CurrentTime"].split()[-1]) - float(stats["StartTime"].split()[-1])
    except (KeyError, IndexError, ValueError):
        return None


def sipp_counts(stats: dict[str, str]) -> dict[str, int]:
    """The call counters of a SIPp UAC run, named as SippRow's fields."""
    return {
        field: int(stats.get(column, 0) or 0)
        for field, column in (
            ("attempted", "OutgoingCall(C)"),
            ("successful", "SuccessfulCall(C)"),
            ("failed", "FailedCall(C)"),
            ("retransmissions", "Retransmissions(C)"),
        )
    }


@dataclass
class SippRow:
    """One SIPp UAC run against one answering process; benchmarks add their own columns."""

    target: str
    rate: int
    attempted: int
    successful: int
    failed: int
    retransmissions: int
    elapsed: float
    cpu: float  # seconds of CPU of the answering process during the run

    @property
    def per_second(self) -> float:
        return self.successful / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def cpu_percent(self) -> float:
        return 100.0 * self.cpu / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def cpu_us_per_success(self) -> float:
        return 1e6 * self.cpu / self.successful if self.successful else float("nan")


def wait_until_bound(
    process: subprocess.Popen[Any], ip: str, port: int, what: str, timeout: float = 5.0
) -> None:
    """Waits (bounded) until the process we started holds UDP ``ip:port``."""
    deadline = time.monotonic() + timeout
    while not udp_bound(ip, port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start (exit {process.poll()})")
        time.sleep(0.02)


# sipsimple applications in benchmark processes ----------------------------------------------------


def seed_headless_settings(
    storage: Any, sample_rate: int, transports: list[str], rtp_ports: str | None = None
) -> None:
    """Written before the application loads them: the given SIP transports, no sound devices, no echo
    canceller, the voice mixer's sample rate and, when given, the RTP port range."""
    backend = storage.configuration_backend
    data = backend.load()
    settings = data.setdefault("SIPSimpleSettings", {})
    settings.setdefault("sip", {})["transport_list"] = list(transports)
    if rtp_ports is not None:
        settings.setdefault("rtp", {})["port_range"] = rtp_ports
    audio = settings.setdefault("audio", {})
    audio.update(input_device=None, output_device=None, alert_device=None, sample_rate=str(sample_rate))
    audio.setdefault("echo_canceller", {})["enabled"] = "false"
    backend.save(data)
