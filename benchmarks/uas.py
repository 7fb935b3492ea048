"""Audio calls per second a sipsimple process answers through the middleware, under SIPp.

Two modes.

``--ip 127.0.0.1 --port P`` (the answering process): a SIPApplication on UDP ip:P with the null
audio device and one account that does not register. Every incoming INVITE goes the whole way a
user's call goes: the SessionManager builds an AudioStream from the offer, ``Session.accept`` with
that stream allocates its RTP socket, builds its AudioTransport (a mixer slot), answers 200 with
our SDP and, on ACK, starts the stream (the stream port runs and joins the voice bridge). A BYE
ends the session. It runs until SIGTERM/SIGINT and prints, every ``--report-every`` seconds, the
calls answered (SIPSessionDidStart), ended (SIPSessionDidEnd) and failed (SIPSessionDidFail), the
live sessions, the CPU the process used per answered call and its RSS; when it stops, the sessions
still live (there should be none) and the collections and CPU seconds of Python's cyclic garbage
collector per generation (the CPU time of the thread it ran on, which other processes' load moves
little). With ``--memory S`` it also prints, every S seconds, the objects the collector tracks by
type and those that grew most. The first line is ``uas: listening IP:PORT user=USER``; SIPp must address
the request URI to USER.

``--sipp-rate R --seconds T`` (the driver): starts the answering process, runs a SIPp UAC against
it (``benchmarks/sipp/uac_call.xml``: INVITE with a PCMU offer, 200, ACK, 1 s pause, BYE, 200;
SIPp sends no RTP) for ``R * T`` calls at R calls/s, then runs the same UAC against the baseline,
SIPp's own UAS (``benchmarks/sipp/uas_call.xml``, no media), and prints for each: calls attempted,
successful and failed, SIPp retransmissions, the achieved calls/s, the answering process's CPU
(% of one core, µs per call) and SIPp's call-setup time (INVITE to 200, median bucket and the share
under 10 ms). The project's target is 300 calls/s with no failed call for 60 s.

Loopback only; run it in a private network namespace:

  unshare -n sh -c 'ip link set lo up && .venv/bin/python benchmarks/uas.py --sipp-rate 300 --seconds 60'
  .venv/bin/python benchmarks/uas.py --ip 127.0.0.1 --port 5070         # only the answering process
  ... --sipp-rate 100 --seconds 10 --profile /tmp/uas.prof              # cProfile the answering process
  ... --sipp-rate 300 --seconds 60 --what-if gc-freeze                 # gc.freeze() once it started
  ... --what-if gc-threshold=50000,20,10                                # gc.set_threshold(...) at start
  ... --sipp-rate 50 --seconds 20 --memory 10 --linger 40 --no-baseline  # what ended calls leave behind
  ... --sipp-rate 50 --seconds 10 --memory 15 --what-if gc-garbage      # what only the collector frees
  ... --sipp-rate 50 --seconds 10 --memory 10 --what-if tracemalloc     # the lines allocating most

docs/performance.md explains the garbage-collector options and what they measured.

Every SIPp run is bounded (a call limit, a receive timeout per call, a global timeout). Not a test:
nothing here asserts on time.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import (
    SippRow,
    cpu_seconds,
    free_udp_port,
    load_average,
    seed_headless_settings,
    sipp_counts,
    sipp_elapsed,
    sipp_final_stats,
    stop_process,
    wait_until_bound,
)

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a source tree built with ./build_inplace

SCENARIOS = Path(__file__).resolve().parent / "sipp"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
READY = "uas: listening"


# the answering process ------------------------------------------------------------------------------


def rss_megabytes(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE / 1e6


def track_gc() -> dict[int, list[float]]:
    """Per generation, [collections, CPU seconds] the cyclic garbage collector took (the CPU time of
    the thread it ran on, so that other processes' load does not count); kept up to date."""
    import gc

    totals: dict[int, list[float]] = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
    started = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.thread_time()
        else:
            total = totals[info["generation"]]
            total[0] += 1
            total[1] += time.thread_time() - started[0]

    gc.callbacks.append(callback)
    return totals


class AutoAnswer:
    """Accepts every incoming session with the audio streams the SessionManager built, and counts.

    Runs on the reactor thread (the session notifications are posted there)."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.incoming = self.answered = self.ended = self.failed = 0
        self.failures: dict[str, int] = {}

    def handle_notification(self, notification: Any) -> None:
        name = notification.name
        if name == "SIPSessionNewIncoming":
            self.incoming += 1
            self._accept(notification.sender, notification.data.streams)  # no reactor round trip
        elif name == "SIPSessionDidStart":
            self.answered += 1
        elif name == "SIPSessionDidEnd":
            self.ended += 1
        elif name == "SIPSessionDidFail":
            self.failed += 1
            reason = str(notification.data.failure_reason)
            self.failures[reason] = self.failures.get(reason, 0) + 1

    @staticmethod
    def _accept(session: Any, streams: list[Any]) -> None:
        audio = [stream for stream in streams if stream.type == "audio"]
        if session.state != "incoming":
            return
        if audio:
            session.accept(audio)
        else:
            session.reject(488)


class MemoryReport:
    """Every ``interval`` seconds: the objects the cyclic garbage collector tracks, by type, and
    (with ``trace``, tracemalloc) the source lines whose live allocations grew most since the last
    report. tracemalloc slows the process down several times: run it at a rate it keeps up with."""

    def __init__(self, interval: float, trace: bool) -> None:
        import tracemalloc

        self.interval = interval
        self.trace = trace
        if trace:
            tracemalloc.start(1)
            self.snapshot = tracemalloc.take_snapshot()
        self.types: dict[str, int] = {}

    def report(self) -> None:
        import gc
        import tracemalloc

        counts: dict[str, int] = {}
        for obj in gc.get_objects():
            name = type(obj).__qualname__
            counts[name] = counts.get(name, 0) + 1
        total = sum(counts.values())
        grown = sorted(counts.items(), key=lambda item: item[1] - self.types.get(item[0], 0), reverse=True)
        print(f"uas: memory: {total} gc-tracked objects; grew most since the last report:", flush=True)
        for name, count in grown[:12]:
            print(f"uas:   {count - self.types.get(name, 0):>+8} {count:>8} {name}", flush=True)
        self.types = counts
        if gc.get_debug() & gc.DEBUG_SAVEALL:  # what-if gc-garbage: what the collector freed
            garbage: dict[str, int] = {}
            for obj in gc.garbage:
                garbage[type(obj).__qualname__] = garbage.get(type(obj).__qualname__, 0) + 1
            print(
                f"uas: memory: {len(gc.garbage)} objects freed only by the cyclic collector; most:",
                flush=True,
            )
            for name, count in sorted(garbage.items(), key=lambda item: item[1], reverse=True)[:25]:
                print(f"uas:   {count:>8} {name}", flush=True)
            gc.garbage.clear()
        if not self.trace:
            return
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        current, peak = tracemalloc.get_traced_memory()
        print(
            f"uas: memory: traced {current / 1e6:.1f} MB (peak {peak / 1e6:.1f}); lines grown most:",
            flush=True,
        )
        for stat in snapshot.compare_to(self.snapshot, "lineno")[:12]:
            frame = stat.traceback[0]
            where = f"{Path(frame.filename).name}:{frame.lineno}"
            print(
                f"uas:   {stat.size_diff / 1e3:>+9.0f} kB {stat.count_diff:>+8} blocks  {where}", flush=True
            )
        self.snapshot = snapshot


class Reporter:
    """Prints a line of counters every ``interval`` seconds (reactor thread)."""

    def __init__(self, answer: AutoAnswer, sessions: Any, interval: float) -> None:
        self.answer = answer
        self.sessions = sessions  # the SessionManager
        self.interval = interval
        self.started = time.monotonic()
        self.last = (self.started, cpu_seconds(), 0)

    def header(self) -> None:
        print(
            f"{'uas: t/s':<9}{'incoming':>9}{'answered':>9}{'ended':>8}{'failed':>7}{'live':>6}"
            f"{'calls/s':>9}{'CPU %':>7}{'µs CPU/call':>12}{'RSS MB':>8}",
            flush=True,
        )

    def report(self) -> None:
        now, cpu = time.monotonic(), cpu_seconds()
        then, then_cpu, then_answered = self.last
        answered = self.answer.answered - then_answered
        span = max(now - then, 1e-9)
        per_call = f"{1e6 * (cpu - then_cpu) / answered:.0f}" if answered else "-"
        print(
            f"{'uas: ' + format(now - self.started, '.0f'):<9}{self.answer.incoming:>9}"
            f"{self.answer.answered:>9}{self.answer.ended:>8}{self.answer.failed:>7}"
            f"{len(self.sessions.sessions):>6}{answered / span:>9.0f}{100 * (cpu - then_cpu) / span:>7.0f}"
            f"{per_call:>12}{rss_megabytes():>8.0f}",
            flush=True,
        )
        if self.answer.failures:
            print(f"uas: failures so far: {self.answer.failures}", flush=True)
        self.last = (now, cpu, self.answer.answered)


def serve(
    ip: str,
    port: int,
    sample_rate: int,
    rtp_ports: str,
    report_every: float,
    profile: str | None,
    what_if: list[str],
    memory: float | None = None,
) -> None:
    """Run the answering SIPApplication until SIGTERM/SIGINT (see the module documentation)."""
    from twisted.internet.task import LoopingCall

    from sipsimple.application import SIPApplication
    from sipsimple.core.media._mixer import AudioMixer
    from sipsimple.demo.endpoint import Recorder
    from sipsimple.notification import NotificationCenter
    from sipsimple.session import SessionManager
    from sipsimple.storage import FileStorage
    from sipsimple.threading import ThreadManager, get_twisted_thread

    gc_time = track_gc()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    profiler = None
    if profile:
        import cProfile

        # the reactor thread's CPU (not wall) time, so waits on the media threads do not count
        profiler = cProfile.Profile(time.thread_time)  # enabled on the reactor thread below

    directory = tempfile.TemporaryDirectory(prefix="sipsimple-uas-")
    storage = FileStorage(Path(directory.name))
    seed_headless_settings(storage, sample_rate, ["udp"], rtp_ports)  # wide enough for hundreds of calls
    recorder = Recorder({"SIPApplicationDidStart", "SIPApplicationDidEnd"})
    center = NotificationCenter()
    for name in recorder.names or ():
        center.add_observer(recorder, name=name)
    application = SIPApplication()
    application.engine_options = {"ip_address": ip, "udp_port": port, "tcp_port": None, "tls_port": None}
    # 300 concurrent calls need more than the mixer's default 254 slots: one slot per AudioStream
    application.audio_mixer_factory = functools.partial(AudioMixer, slot_count=1023)
    application.start(storage)
    if recorder.wait_for("SIPApplicationDidStart", timeout=15) is None:
        raise SystemExit("uas: the SIP application did not start within 15 s")
    twisted = get_twisted_thread()

    def set_up() -> tuple[Any, AutoAnswer]:
        from sipsimple.account import Account

        account: Any = Account("bench@example.test")
        account.enabled = True
        account.sip.register = False
        account.rtp.encryption.enabled = False
        account.save()
        answer = AutoAnswer(application.engine.reactor)
        for name in ("SIPSessionNewIncoming", "SIPSessionDidStart", "SIPSessionDidEnd", "SIPSessionDidFail"):
            center.add_observer(answer, name=name)
        reporter = Reporter(answer, SessionManager(), report_every)
        reporter.header()
        LoopingCall(reporter.report).start(report_every, now=False)
        if memory:
            LoopingCall(MemoryReport(memory, "tracemalloc" in what_if).report).start(memory, now=False)
        if profiler is not None:
            profiler.enable()
        return account, answer

    account, answer = twisted.call_and_wait(set_up, timeout=15)
    import gc

    for change in what_if:
        if change.startswith("gc-threshold="):  # e.g. gc-threshold=50000,20,10
            gc.set_threshold(*(int(n) for n in change.split("=", 1)[1].split(",")))
    if "gc-garbage" in what_if:  # keep what the collector frees, for --memory to count
        gc.set_debug(gc.DEBUG_SAVEALL)
    if "gc-freeze" in what_if:  # the objects of the started application out of every collection
        gc.collect()
        gc.freeze()
    print(f"{READY} {ip}:{application.engine.local_udp_port} user={account.contact.username}", flush=True)
    while not stop.wait(0.5):
        pass

    def live_states() -> dict[str, int]:
        """Sessions still live (none should be once every call ended), by session/invitation state."""
        states: dict[str, int] = {}
        for session in SessionManager().sessions:
            invitation = getattr(session._invitation, "state", None)  # a diagnostic: reads past the API
            key = f"{session.state}/{invitation}"
            states[key] = states.get(key, 0) + 1
        return states

    live = twisted.call_and_wait(live_states, timeout=15)
    if live:
        print(f"uas: sessions still live (session/invitation state): {live}", flush=True)
    if profiler is not None:
        twisted.call_and_wait(profiler.disable, timeout=15)
        profiler.dump_stats(profile)
    collections = ", ".join(f"gen{gen} {int(n)} in {t:.2f} s" for gen, (n, t) in gc_time.items())
    print(f"uas: cyclic garbage collector: {collections}", flush=True)
    print(
        f"uas: done: incoming {answer.incoming} answered {answer.answered} ended {answer.ended} "
        f"failed {answer.failed} {answer.failures or ''}",
        flush=True,
    )
    application.stop()
    recorder.wait_for("SIPApplicationDidEnd", timeout=15)
    if twisted.thread is not None:
        twisted.thread.join(15)
    ThreadManager().stop(timeout=15)
    directory.cleanup()


# the driver -----------------------------------------------------------------------------------------


@dataclass
class Row(SippRow):
    setup_under_10ms: float  # share of calls whose INVITE -> 200 took < 10 ms (SIPp's repartition)
    setup_median: str


def _repartition(final: dict[str, str]) -> tuple[float, str]:
    """SIPp's ResponseTime1 repartition (cumulative columns ``ResponseTimeRepartition1_<0;5>`` ...):
    the share of calls under 10 ms and the bucket holding the median."""
    buckets = [
        (key, int(value or 0)) for key, value in final.items() if key.startswith("ResponseTimeRepartition1_")
    ]
    total = sum(count for _, count in buckets)
    if not total:
        return float("nan"), "-"
    under, running, median = 0, 0, "-"
    for key, count in buckets:
        label = key.split("_", 1)[1].replace("(C)", "").strip("<>;")
        bound = label.split(";")[-1] if ";" in label else label
        if bound.isdigit() and int(bound) <= 10:
            under += count
        running += count
        if median == "-" and running * 2 >= total:
            median = label.replace(";", "-") + " ms"
    return under / total, median


def run_uac(
    sipp: str,
    workdir: Path,
    target: tuple[str, int],
    user: str,
    rate: int,
    calls: int,
    server_pid: int,
    label: str,
) -> Row:
    """One bounded SIPp UAC run; the server's CPU is sampled around it."""
    ip = target[0]
    stats = workdir / f"{label.replace(' ', '_')}-{rate}.stats.csv"
    duration = calls / rate
    argv = [
        sipp, f"{ip}:{target[1]}", "-sf", str(SCENARIOS / "uac_call.xml"), "-s", user,
        "-i", ip, "-p", str(free_udp_port(ip)), "-mi", ip, "-mp", str(free_udp_port(ip)), "-t", "u1",
        "-m", str(calls), "-r", str(rate), "-rp", "1000", "-l", str(max(10 * rate, 100)),
        "-recv_timeout", "10000", "-timeout", f"{int(duration + 30)}s",
        "-max_recv_loops", "10000", "-max_sched_loops", "10000", "-buff_size", "4194304",
        "-nostdin", "-trace_stat", "-stf", str(stats), "-fd", "1",
    ]  # fmt: skip
    before = cpu_seconds(server_pid)
    started = time.monotonic()
    uac = subprocess.Popen(argv, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        uac.wait(duration + 40)
    except subprocess.TimeoutExpired:
        uac.kill()
    finally:
        if uac.poll() is None:
            uac.kill()
        uac.wait()
    wall = time.monotonic() - started
    cpu = cpu_seconds(server_pid) - before
    final = sipp_final_stats(stats)
    under, median = _repartition(final)
    return Row(
        target=label,
        rate=rate,
        **sipp_counts(final),
        elapsed=sipp_elapsed(final) or wall,
        cpu=cpu,
        setup_under_10ms=under,
        setup_median=median,
    )


@contextlib.contextmanager
def uas_process(ip: str, options: list[str]) -> Iterator[tuple[subprocess.Popen[str], int, str]]:
    """The answering process, its stdout echoed with its lines as they come."""
    port = free_udp_port(ip)
    argv = [sys.executable, str(Path(__file__).resolve()), "--ip", ip, "--port", str(port), *options]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert process.stdout is not None
        user = None
        while user is None:
            line = process.stdout.readline()  # bounded: the process prints it or exits
            if not line:
                raise RuntimeError(f"the answering process did not start (exit {process.wait(20)})")
            print(line, end="", flush=True)
            if line.startswith(READY):
                user = line.rsplit("user=", 1)[1].strip()
        echo = threading.Thread(target=_echo, args=(process.stdout,), daemon=True)
        echo.start()
        yield process, port, user
    finally:
        stop_process(process)
        if process.stdout is not None:
            echo.join(5)


def _echo(stream: Any) -> None:
    for line in stream:
        print(line, end="", flush=True)


@contextlib.contextmanager
def sipp_uas(sipp: str, workdir: Path, ip: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_udp_port(ip)
    argv = [
        sipp, "-sf", str(SCENARIOS / "uas_call.xml"), "-i", ip, "-p", str(port), "-t", "u1",
        "-mi", ip, "-mp", str(free_udp_port(ip)),
        "-max_recv_loops", "10000", "-max_sched_loops", "10000", "-buff_size", "4194304",
        "-nostdin", "-timeout", "900s",
    ]  # fmt: skip
    process = subprocess.Popen(argv, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_bound(process, ip, port, "the SIPp UAS")
        yield process, port
    finally:
        stop_process(process)


def print_header() -> None:
    print(
        f"{'target':<12}{'rate/s':>7}{'attempted':>10}{'ok':>7}{'failed':>7}{'retrans':>8}"
        f"{'achieved/s':>11}{'UAS CPU':>9}{'µs/call':>9}{'setup <10ms':>12}{'median setup':>14}"
    )


def print_rows(rows: list[Row]) -> None:
    for row in rows:
        print(
            f"{row.target:<12}{row.rate:>7}{row.attempted:>10}{row.successful:>7}{row.failed:>7}"
            f"{row.retransmissions:>8}{row.per_second:>11.0f}{row.cpu_percent:>8.0f}%"
            f"{row.cpu_us_per_success:>9.0f}{100 * row.setup_under_10ms:>11.1f}%{row.setup_median:>14}",
            flush=True,
        )


def drive(args: argparse.Namespace) -> int:
    sipp = shutil.which("sipp")
    if sipp is None:
        print("sipp is not installed (Debian package sip-tester)", file=sys.stderr)
        return 2
    rate, calls = args.sipp_rate, int(args.sipp_rate * args.seconds)
    load = load_average()
    print(
        f"audio calls over UDP on {args.ip}: {calls} calls at {rate}/s, 1 s each, SIPp UAC -> answering "
        f"process (mixer {args.sample_rate} Hz, null device{', what-if: ' + ', '.join(args.what_if) if args.what_if else ''}); "
        f"load average before: {load}",
        flush=True,
    )
    options = [
        "--sample-rate",
        str(args.sample_rate),
        "--rtp-ports",
        args.rtp_ports,
        "--report-every",
        str(args.report_every),
    ]
    if args.profile:
        options += ["--profile", args.profile]
    for change in args.what_if:
        options += ["--what-if", change]
    if args.memory:
        options += ["--memory", str(args.memory)]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="uas-") as tmp:
        workdir = Path(tmp)
        with uas_process(args.ip, options) as (uas, port, user):
            rows.append(run_uac(sipp, workdir, (args.ip, port), user, rate, calls, uas.pid, "sipsimple"))
            time.sleep(min(args.report_every, 5) + 0.5)  # one more counter line after the last BYE
            time.sleep(args.linger)
        if not args.no_baseline:
            with sipp_uas(sipp, workdir, args.ip) as (baseline, port):
                rows.append(
                    run_uac(sipp, workdir, (args.ip, port), "bench", rate, calls, baseline.pid, "SIPp UAS")
                )
    load = load_average()
    print(f"\nsummary (target: >= 300 calls/s, 0 failed, for 60 s); load average after: {load}")
    print_header()
    print_rows(rows)
    if args.profile:
        import pstats

        print(
            f"\n--- cProfile of the answering process's reactor thread ({args.profile}), top 30 by own time ---"
        )
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(30)
    return 0 if rows and rows[0].failed == 0 and rows[0].successful == calls else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ip", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="SIP UDP port of the answering process (0: any)")
    parser.add_argument("--sipp-rate", type=int, help="driver mode: SIPp calls per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="driver mode: calls = rate * seconds")
    parser.add_argument("--no-baseline", action="store_true", help="skip the SIPp UAS baseline")
    parser.add_argument("--sample-rate", type=int, default=48000, help="voice mixer sample rate (Hz)")
    parser.add_argument("--rtp-ports", default="40000-60000", help="RTP port range of the answering process")
    parser.add_argument("--report-every", type=float, default=5.0, help="seconds between counter lines")
    parser.add_argument("--profile", help="cProfile the answering process's reactor thread into this file")
    parser.add_argument(
        "--what-if", action="append", default=[],
        help="measure a remedy in the answering process: gc-freeze (gc.freeze() once it started),"
        " gc-threshold=A,B,C (gc.set_threshold(A, B, C)); diagnostics with --memory: tracemalloc (the"
        " source lines whose allocations grew most), gc-garbage (what only the cyclic collector freed)",
    )  # fmt: skip
    parser.add_argument(
        "--memory",
        type=float,
        help="every this many seconds, print the answering process's object counts"
        " by type (the types grown most since the last report)",
    )
    parser.add_argument(
        "--linger", type=float, default=0.0,
        help="driver mode: keep the answering process this many seconds after the last call"
        " (to see what ended calls leave behind once Timer J/L are over: 33 s)",
    )  # fmt: skip
    args = parser.parse_args()
    for change in args.what_if:
        if change not in ("gc-freeze", "tracemalloc", "gc-garbage") and not change.startswith(
            "gc-threshold="
        ):
            parser.error(f"unknown --what-if {change!r}")
    if args.sipp_rate is not None:
        return drive(args)
    serve(
        args.ip, args.port, args.sample_rate, args.rtp_ports, args.report_every, args.profile, args.what_if,
        args.memory,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
