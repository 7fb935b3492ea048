"""OPTIONS transactions per second a bare Engine answers over UDP, against a SIPp UAS baseline.

For each rate (default 1000, 2500, 5000, 7500, 10000 calls/s) SIPp runs as UAC and sends
``rate * seconds`` OPTIONS requests (one per call, each expecting a 200) to:

  * a bare started ``Engine`` (it answers OPTIONS by itself) in its own process, started fresh for
    each rate on 127.0.0.1;
  * the baseline, measured in the same run: a SIPp UAS answering OPTIONS with 200.

Printed per rate and target: calls attempted, successful and failed, SIPp retransmissions, the
achieved transactions/s (successful calls over SIPp's elapsed time), and the answering process's CPU
(utime+stime from /proc/<pid>/stat, as % of one core and µs per transaction). The project's target
is >= 5,000 transactions/s with no failed call.

Each SIPp run is bounded (a call limit, a 4 s receive timeout per call, a global timeout), so the
whole benchmark takes about a minute. Loopback only; run it in a private network namespace:

  unshare -n bash -c 'ip link set lo up && .venv/bin/python benchmarks/options_uas.py'
  .venv/bin/python benchmarks/options_uas.py --rates 1000,5000 --seconds 3 --no-baseline
  .venv/bin/python benchmarks/options_uas.py --profile /tmp/engine.prof   # cProfile in the Engine
  .venv/bin/python benchmarks/options_uas.py --what-if gc-off --what-if rcvbuf=4194304 --no-baseline
  .venv/bin/python benchmarks/options_uas.py --serve --ip 127.0.0.1 --port 5070  # just the Engine

Not a test: nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from _common import (
    SippRow,
    cpu_seconds,
    free_udp_port,
    sipp_counts,
    sipp_elapsed,
    sipp_final_stats,
    stop_process,
    wait_until_bound,
)

ROOT = Path(__file__).resolve().parents[1]
READY = "options_uas: listening"

UAC_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="options uac">
  <send retrans="500">
    <![CDATA[
      OPTIONS sip:bench@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      Max-Forwards: 70
      From: <sip:sipp@example.test>;tag=[pid]SIPpTag00[call_number]
      To: <sip:bench@example.test>
      Call-ID: [call_id]
      CSeq: 1 OPTIONS
      Accept: application/sdp
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""

UAS_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="options uas">
  <recv request="OPTIONS"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Allow: OPTIONS, MESSAGE
      Accept: application/sdp
      Content-Length: 0

    ]]>
  </send>
</scenario>
"""


# the Engine process ---------------------------------------------------------------------------------


def serve(ip: str, port: int, profile: str | None, what_if: list[str]) -> None:
    """Run a bare started Engine on UDP ip:port until SIGTERM/SIGINT (optionally under cProfile).

    ``what_if`` changes the process around the Engine, to measure a remedy before it is made:
    ``gc-off`` (no cyclic GC), ``gc-freeze`` (gc.freeze() after start, gen0 threshold 50,000), ``gc-threshold`` (gen0 threshold 50,000 only),
    ``rcvbuf=BYTES`` (SO_RCVBUF of the UDP socket; reaches into the transport's private state).
    """
    sys.path.insert(0, str(ROOT))
    import gc

    from twisted.internet import reactor

    from sipsimple.core.engine import Engine

    engine = Engine()
    engine.start(ip_address=ip, udp_port=port, tcp_port=None)
    for change in what_if:
        if change == "gc-off":
            gc.disable()
        elif change == "gc-freeze":
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 20, 100)
        elif change == "gc-threshold":
            gc.set_threshold(50_000, 20, 100)
        elif change.startswith("rcvbuf="):
            for endpoint in engine.transports._udp:  # experiment only: no public knob exists yet
                endpoint.port.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(change[7:]))
        else:
            raise SystemExit(f"unknown --what-if {change!r}")
    print(f"{READY} {ip}:{engine.local_udp_port}", flush=True)
    if profile is None:
        reactor.run()
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.runcall(reactor.run)
    profiler.dump_stats(profile)


# measuring ------------------------------------------------------------------------------------------


@dataclass
class Row(SippRow):
    uac_cpu: float  # seconds of CPU of the SIPp UAC


def run_uac(
    sipp: str, workdir: Path, target: tuple[str, int], rate: int, calls: int, server_pid: int, label: str
) -> Row:
    """One bounded SIPp UAC run at ``rate`` calls/s; the server's CPU is sampled around it."""
    ip = target[0]
    stats = workdir / f"{label}-{rate}.stats.csv"
    duration = calls / rate
    argv = [
        sipp, f"{target[0]}:{target[1]}", "-sf", str(workdir / "uac.xml"),
        "-i", ip, "-p", str(free_udp_port(ip)), "-t", "u1",
        "-m", str(calls), "-r", str(rate), "-rp", "1000",
        "-recv_timeout", "4000", "-timeout", f"{int(duration + 10)}s",
        "-max_recv_loops", "10000", "-max_sched_loops", "10000", "-buff_size", "1048576",
        "-nostdin", "-trace_stat", "-stf", str(stats), "-fd", "1",
    ]  # fmt: skip
    before = cpu_seconds(server_pid)
    started = time.monotonic()
    uac = subprocess.Popen(argv, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uac_cpu = 0.0
    try:
        while uac.poll() is None:
            with contextlib.suppress(OSError):
                uac_cpu = cpu_seconds(uac.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                uac.wait(0.05)
            if time.monotonic() - started > duration + 20:
                uac.kill()
    finally:
        if uac.poll() is None:
            uac.kill()
        uac.wait()
    wall = time.monotonic() - started
    cpu = cpu_seconds(server_pid) - before
    final = sipp_final_stats(stats)
    return Row(
        target=label,
        rate=rate,
        **sipp_counts(final),
        elapsed=sipp_elapsed(final) or wall,
        cpu=cpu,
        uac_cpu=uac_cpu,
    )


@contextlib.contextmanager
def engine_process(
    ip: str, profile: str | None, what_if: list[str]
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_udp_port(ip)
    argv = [sys.executable, str(Path(__file__).resolve()), "--serve", "--ip", ip, "--port", str(port)]
    if profile:
        argv += ["--profile", profile]
    for change in what_if:
        argv += ["--what-if", change]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # bounded: the process prints it or exits
        if not line.startswith(READY):
            raise RuntimeError(f"the Engine did not start: {line!r}, exit {process.poll()}")
        yield process, port
    finally:
        stop_process(process, timeout=10)


@contextlib.contextmanager
def sipp_uas(sipp: str, workdir: Path, ip: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_udp_port(ip)
    argv = [
        sipp, "-sf", str(workdir / "uas.xml"), "-i", ip, "-p", str(port), "-t", "u1",
        "-max_recv_loops", "10000", "-max_sched_loops", "10000", "-buff_size", "1048576",
        "-nostdin", "-timeout", "600s",
    ]  # fmt: skip
    process = subprocess.Popen(argv, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_bound(process, ip, port, "the SIPp UAS")
        yield process, port
    finally:
        stop_process(process, timeout=10)


# report ---------------------------------------------------------------------------------------------


def print_header() -> None:
    print(
        f"{'target':<12}{'rate/s':>8}{'attempted':>11}{'ok':>8}{'failed':>8}{'retrans':>9}"
        f"{'achieved/s':>12}{'server CPU':>12}{'µs/tx':>8}{'SIPp UAC CPU':>14}"
    )


def print_rows(rows: list[Row]) -> None:
    for row in rows:
        print(
            f"{row.target:<12}{row.rate:>8}{row.attempted:>11}{row.successful:>8}{row.failed:>8}"
            f"{row.retransmissions:>9}{row.per_second:>12.0f}{row.cpu_percent:>11.0f}%"
            f"{row.cpu_us_per_success:>8.0f}{100 * row.uac_cpu / max(row.elapsed, 1e-9):>13.0f}%",
            flush=True,
        )


def print_profile(path: str, top: int = 25) -> None:
    import pstats

    print(f"\n--- cProfile of the Engine process ({path}), top {top} by own time ---")
    pstats.Stats(path).sort_stats("tottime").print_stats(top)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve", action="store_true", help="only run the Engine on --ip/--port")
    parser.add_argument("--ip", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rates", default="1000,2500,5000,7500,10000", help="calls/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=5.0, help="calls per rate = rate * seconds")
    parser.add_argument("--no-baseline", action="store_true", help="skip the SIPp UAS baseline")
    parser.add_argument("--profile", help="cProfile the Engine process into this file (slows it down)")
    parser.add_argument(
        "--what-if", action="append", default=[], metavar="CHANGE",
        help="measure a remedy in the Engine process: gc-off, gc-freeze, rcvbuf=BYTES (repeatable)",
    )  # fmt: skip
    args = parser.parse_args()

    if args.serve:
        serve(args.ip, args.port, args.profile, args.what_if)
        return 0

    sipp = shutil.which("sipp")
    if sipp is None:
        print("sipp is not installed (Debian package sip-tester)", file=sys.stderr)
        return 2
    rates = [int(rate) for rate in args.rates.split(",")]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="options_uas-") as tmp:
        workdir = Path(tmp)
        (workdir / "uac.xml").write_text(UAC_SCENARIO)
        (workdir / "uas.xml").write_text(UAS_SCENARIO)
        what_if = f" (Engine what-if: {', '.join(args.what_if)})" if args.what_if else ""
        print(
            f"OPTIONS over UDP on {args.ip}, {args.seconds:g} s of calls per rate, SIPp UAC -> server{what_if}"
        )
        print_header()
        for rate in rates:  # a fresh Engine per rate: no backlog carried from the previous rate
            profile = f"{args.profile}.{rate}" if args.profile else None
            with engine_process(args.ip, profile, args.what_if) as (engine, port):
                rows.append(
                    run_uac(
                        sipp, workdir, (args.ip, port), rate, int(rate * args.seconds), engine.pid, "Engine"
                    )
                )
            print_rows(rows[-1:])
        if not args.no_baseline:
            with sipp_uas(sipp, workdir, args.ip) as (uas, port):
                for rate in rates:
                    rows.append(
                        run_uac(
                            sipp,
                            workdir,
                            (args.ip, port),
                            rate,
                            int(rate * args.seconds),
                            uas.pid,
                            "SIPp UAS",
                        )
                    )
                    print_rows(rows[-1:])
    print("\nsummary (target: >= 5,000 transactions/s with 0 failed)")
    print_header()
    print_rows(rows)
    if args.profile:
        for rate in rates:
            print_profile(f"{args.profile}.{rate}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
