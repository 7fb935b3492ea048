"""Call-setup latency between two sipsimple processes on loopback: connect() to SIPSessionDidStart.

This process is the caller; the callee is a second sipsimple process it starts (this file with
``--callee``) that accepts every incoming session with its AudioStream as soon as the
SessionManager announces it. Both are SIPApplications on 127.0.0.1 (UDP) with the null audio
device and accounts that do not register. For each of ``--calls`` sequential calls the caller
notes the time it calls ``Session.connect`` with a new AudioStream, the time its own
SIPSessionDidStart arrives, and the callee reports the time of its SIPSessionDidStart (both are
``time.monotonic()``, CLOCK_MONOTONIC, which is one clock for every process of the machine).
The call is then ended by the caller and the next one starts once both sides saw it end.

Printed: median, p95 and max of connect() -> DidStart on the caller, on the callee, and on both
(the later of the two), in ms, and the baseline measured the same way in the same run: an OPTIONS
request from the caller's Engine answered by the callee's Engine (``Request`` -> SIPRequestDidSucceed),
the floor any INVITE / 200 / ACK exchange between the two stacks stands on. The project's target is
a median <= 5 ms on both sides.

  unshare -n sh -c 'ip link set lo up && .venv/bin/python benchmarks/call_setup.py --calls 200'
  .venv/bin/python benchmarks/call_setup.py --calls 50 --profile /tmp/caller.prof

Loopback only (run it in a private network namespace). Not a test: nothing asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _common import ROOT, load_average, seed_headless_settings  # also puts the source tree on sys.path

STARTED = {"SIPSessionDidStart", "SIPSessionDidFail", "SIPSessionDidEnd"}


def start_application(prefix: str, sample_rate: int, codecs: list[str] | None) -> tuple[Any, Any, Any]:
    """A SIPApplication on 127.0.0.1 (UDP and TCP on one port number, so that an INVITE that
    outgrows UDP moves to TCP as RFC 3261 §18.1.1 says; null audio device) and its account
    (``codecs``: its audio codec list, None for all); returns (application, account, directory)."""
    from sipsimple.application import SIPApplication
    from sipsimple.demo.endpoint import Recorder, free_port_pair
    from sipsimple.notification import NotificationCenter
    from sipsimple.storage import FileStorage
    from sipsimple.threading import get_twisted_thread

    directory = tempfile.TemporaryDirectory(prefix=prefix)
    storage = FileStorage(Path(directory.name))
    seed_headless_settings(storage, sample_rate, ["udp", "tcp"])
    recorder = Recorder({"SIPApplicationDidStart"})
    center = NotificationCenter()
    center.add_observer(recorder, name="SIPApplicationDidStart")
    application = SIPApplication()
    port = free_port_pair("127.0.0.1")
    application.engine_options = {
        "ip_address": "127.0.0.1",
        "udp_port": port,
        "tcp_port": port,
        "tls_port": None,
    }
    application.start(storage)
    if recorder.wait_for("SIPApplicationDidStart", timeout=15) is None:
        raise SystemExit(f"{prefix}: the SIP application did not start within 15 s")
    center.discard_observer(recorder, name="SIPApplicationDidStart")

    def make_account() -> Any:
        from sipsimple.account import Account

        account: Any = Account(f"{prefix.strip('-')}@example.test")
        account.enabled = True
        account.sip.register = False
        account.rtp.encryption.enabled = False
        if codecs:
            account.rtp.audio_codec_list = codecs
        account.save()
        return account

    account = get_twisted_thread().call_and_wait(make_account, timeout=15)
    return application, account, directory


def stop_application(application: Any, directory: Any) -> None:
    from sipsimple.demo.endpoint import Recorder
    from sipsimple.notification import NotificationCenter
    from sipsimple.threading import ThreadManager, get_twisted_thread

    recorder = Recorder({"SIPApplicationDidEnd"})
    NotificationCenter().add_observer(recorder, name="SIPApplicationDidEnd")
    application.stop()
    recorder.wait_for("SIPApplicationDidEnd", timeout=15)
    thread = get_twisted_thread().thread
    if thread is not None:
        thread.join(15)
    ThreadManager().stop(timeout=15)
    directory.cleanup()


# the callee -----------------------------------------------------------------------------------------


TIMELINE = (
    "SIPInvitationChangedState",
    "MediaStreamDidInitialize",
    "MediaStreamDidStart",
    "SIPSessionWillStart",
)


class Answerer:
    """Accepts each incoming session at once; reports SIPSessionDidStart times on stdout (and,
    with ``timeline``, the time of each step of the call)."""

    def __init__(self, timeline: bool) -> None:
        self.timeline = timeline

    def handle_notification(self, notification: Any) -> None:
        session = notification.sender
        if self.timeline:
            self._mark(notification)
        if notification.name == "SIPSessionNewIncoming":
            audio = [stream for stream in notification.data.streams if stream.type == "audio"]
            self._accept(session, audio)  # from the handler: no reactor round trip
        elif notification.name == "SIPSessionDidStart":
            now = time.monotonic()
            emit({"started": session._invitation.call_id, "t": now})
        elif notification.name == "SIPSessionDidFail":
            emit({"failed": str(notification.data.failure_reason)})

    @staticmethod
    def _mark(notification: Any) -> None:
        now, name, sender = time.monotonic(), notification.name, notification.sender
        if name == "SIPInvitationChangedState":
            call_id, name = sender.call_id, f"{name} {notification.data.state}"
        else:
            session = sender if name.startswith("SIPSession") else getattr(sender, "session", None)
            call_id = getattr(getattr(session, "_invitation", None), "call_id", None)
        if call_id is not None:
            emit({"mark": call_id, "name": f"callee {name}", "t": now})

    @staticmethod
    def _accept(session: Any, streams: list[Any]) -> None:
        if session.state == "incoming":
            session.accept(streams) if streams else session.reject(488)


_lock = threading.Lock()


def emit(record: dict[str, Any]) -> None:
    with _lock:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()


def callee(sample_rate: int, codecs: list[str] | None, timeline: bool) -> int:
    from sipsimple.notification import NotificationCenter

    application, account, directory = start_application("call-setup-callee-", sample_rate, codecs)
    answerer = Answerer(timeline)
    center = NotificationCenter()
    for name in (
        "SIPSessionNewIncoming",
        "SIPSessionDidStart",
        "SIPSessionDidFail",
        *(TIMELINE if timeline else ()),
    ):
        center.add_observer(answerer, name=name)
    emit({"ready": True, "udp": application.engine.local_udp_port, "user": account.contact.username})
    for line in sys.stdin:  # until "stop" or the end of stdin
        if line.strip() == "stop":
            break
    stop_application(application, directory)
    return 0


# the caller -----------------------------------------------------------------------------------------


class Calls:
    """The caller's side of the sequential calls (reactor thread), with a condition to wait on."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.events: dict[str, float] = {}
        self.failure: str | None = None

    def handle_notification(self, notification: Any) -> None:
        now = time.monotonic()
        name = notification.name
        if name == "SIPInvitationChangedState":
            name = f"{name} {notification.data.state}"
        with self.condition:
            self.events.setdefault(name, now)
            if notification.name in ("SIPSessionDidFail", "SIPRequestDidFail"):
                self.failure = str(
                    getattr(notification.data, "failure_reason", None) or notification.data.code
                )
            self.condition.notify_all()

    def wait(self, name: str, timeout: float = 10.0) -> float | None:
        deadline = time.monotonic() + timeout
        with self.condition:
            while name not in self.events and self.failure is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.condition.wait(remaining)
            return self.events.get(name)


def summary(values: list[float]) -> str:
    if not values:
        return "no value"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (
        f"median {1e3 * statistics.median(ordered):6.2f}  p95 {1e3 * p95:6.2f}  "
        f"max {1e3 * ordered[-1]:6.2f}  (n={len(ordered)})"
    )


class CalleeOutput:
    """The callee's JSON lines, read on a thread; DidStart times by Call-ID."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.condition = threading.Condition()
        self.started: dict[str, float] = {}
        self.ready: dict[str, Any] | None = None
        self.failures: list[str] = []
        self.marks: dict[str, dict[str, float]] = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                record = json.loads(line)
            except ValueError:
                print(f"callee: {line}", end="", file=sys.stderr)
                continue
            with self.condition:
                if "ready" in record:
                    self.ready = record
                elif "started" in record:
                    self.started[record["started"]] = record["t"]
                elif "failed" in record:
                    self.failures.append(record["failed"])
                elif "mark" in record:
                    self.marks.setdefault(record["mark"], {}).setdefault(record["name"], record["t"])
                self.condition.notify_all()
        with self.condition:
            self.condition.notify_all()

    def wait_for(self, predicate: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.condition:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    return bool(predicate())
                self.condition.wait(remaining)
            return True


def caller(args: argparse.Namespace) -> int:
    from sipsimple.core.primitives.request import Request
    from sipsimple.core.sip.headers import FromHeader, RouteHeader, ToHeader
    from sipsimple.core.sip.uri import SIPURI
    from sipsimple.lookup import Route
    from sipsimple.notification import NotificationCenter
    from sipsimple.session import Session
    from sipsimple.streams.rtp import AudioStream
    from sipsimple.threading import get_twisted_thread

    argv = [sys.executable, str(Path(__file__).resolve()), "--callee", "--sample-rate", str(args.sample_rate)]
    if args.codecs:
        argv += ["--codecs", args.codecs]
    if args.timeline:
        argv += ["--timeline"]
    codecs = args.codecs.split(",") if args.codecs else None
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    output = CalleeOutput(process)
    application = directory = None
    try:
        if not output.wait_for(lambda: output.ready is not None, timeout=30) or output.ready is None:
            raise SystemExit(f"the callee did not start (exit {process.poll()})")
        application, account, directory = start_application("call-setup-caller-", args.sample_rate, codecs)
        twisted = get_twisted_thread()
        center = NotificationCenter()
        port, user = output.ready["udp"], output.ready["user"]
        target = SIPURI("127.0.0.1", user=user, port=port)
        routes = [Route("127.0.0.1", port, "udp")]
        load = load_average()
        print(
            f"call setup between two sipsimple processes on 127.0.0.1 (AudioStream, codecs: "
            f"{args.codecs or 'all'}; null device, mixer {args.sample_rate} Hz): {args.calls} sequential "
            f"calls; load average: {load}",
            flush=True,
        )
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile(
                time.thread_time if os.environ.get("CALL_SETUP_CPU_PROFILE") else time.perf_counter
            )
            twisted.call_and_wait(profiler.enable, timeout=5)

        # baseline: OPTIONS from our Engine, answered by the callee's Engine
        options: list[float] = []
        for _ in range(args.calls):
            calls = Calls()

            def send_options(calls: Calls = calls) -> float:
                request = Request(
                    "OPTIONS", target, FromHeader(account.uri), ToHeader(target), RouteHeader(target),
                    engine=application.engine,
                )  # fmt: skip
                for name in ("SIPRequestDidSucceed", "SIPRequestDidFail"):
                    center.add_observer(calls, name=name, sender=request)
                sent = time.monotonic()
                request.send(timeout=5)
                return sent

            sent = twisted.call_and_wait(send_options, timeout=10)
            answered = calls.wait("SIPRequestDidSucceed")
            if answered is None:
                print(f"OPTIONS failed: {calls.failure}", flush=True)
                break
            options.append(answered - sent)

        # the calls
        caller_side: list[float] = []
        callee_side: list[float] = []
        both: list[float] = []
        failures = 0
        transports: dict[str, int] = {}
        timeline: dict[str, list[float]] = {}
        for _ in range(args.calls):
            calls = Calls()

            def connect(calls: Calls = calls) -> tuple[Any, float]:
                session = Session(account)
                for name in STARTED:
                    center.add_observer(calls, name=name, sender=session)
                for name in TIMELINE if args.timeline else ():
                    center.add_observer(calls, name=name)  # one call at a time: any sender is ours
                stream = AudioStream()
                started = time.monotonic()
                session.connect(ToHeader(target), routes, [stream])
                return session, started

            session, connected = twisted.call_and_wait(connect, timeout=10)
            ours = calls.wait("SIPSessionDidStart")
            if ours is None:
                failures += 1
                print(f"call failed: {calls.failure}", flush=True)
                continue
            call_id = session._invitation.call_id
            transports[session.transport] = transports.get(session.transport, 0) + 1
            if not output.wait_for(lambda call_id=call_id: call_id in output.started, timeout=10):
                failures += 1
                print(f"the callee did not report call {call_id}: {output.failures[-1:]}", flush=True)
                continue
            theirs = output.started[call_id]
            caller_side.append(ours - connected)
            callee_side.append(theirs - connected)
            both.append(max(ours, theirs) - connected)
            if args.timeline:
                marks = {f"caller {name}": at - connected for name, at in calls.events.items()}
                marks.update({name: at - connected for name, at in output.marks.get(call_id, {}).items()})
                for name, offset in marks.items():
                    timeline.setdefault(name, []).append(offset)
                for name in TIMELINE:
                    twisted.call_and_wait(center.discard_observer, calls, name, timeout=10)
            twisted.call_and_wait(session.end, timeout=10)
            calls.wait("SIPSessionDidEnd")
        if profiler is not None:
            twisted.call_and_wait(profiler.disable, timeout=5)
            profiler.dump_stats(args.profile)

        print(
            f"\nconnect() -> SIPSessionDidStart, ms ({failures} failed; calls per route transport {transports}); "
            "target: median <= 5 ms on both sides"
        )
        print(f"  caller         {summary(caller_side)}")
        print(f"  callee         {summary(callee_side)}")
        print(f"  both sides     {summary(both)}")
        print(
            f"baseline: OPTIONS round trip between the two Engines, ms\n  OPTIONS        {summary(options)}"
        )
        if timeline:
            print("\ntimeline: median ms after connect() of each step (first time seen per call)")
            for name, offsets in sorted(timeline.items(), key=lambda item: statistics.median(item[1])):
                print(f"  {1e3 * statistics.median(offsets):7.2f}  {name}")
        if args.profile:
            import pstats

            print(f"\n--- cProfile of the caller's reactor thread ({args.profile}), top 25 by own time ---")
            pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)
        return 0 if failures == 0 and both else 1
    finally:
        if application is not None:
            stop_application(application, directory)
        if process.stdin is not None:
            try:
                process.stdin.write("stop\n")
                process.stdin.close()
            except BrokenPipeError:
                pass
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200, help="sequential calls (and OPTIONS requests)")
    parser.add_argument("--sample-rate", type=int, default=48000, help="voice mixer sample rate (Hz)")
    parser.add_argument("--codecs", help="the accounts' audio codecs, comma-separated (default: all)")
    parser.add_argument(
        "--profile",
        help="cProfile the caller's reactor thread into this file (wall time; CPU time with CALL_SETUP_CPU_PROFILE=1)",
    )
    parser.add_argument("--timeline", action="store_true", help="print when each step of a call happens")
    parser.add_argument("--callee", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.callee:
        return callee(args.sample_rate, args.codecs.split(",") if args.codecs else None, args.timeline)
    return caller(args)


if __name__ == "__main__":
    sys.exit(main())
