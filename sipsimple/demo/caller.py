"""The demo's caller: starts the callee process, calls it, plays, holds, unholds, sends DTMF,
ends, stops the callee, and prints both timelines and a result line (docs/demo.md)."""

from __future__ import annotations

import argparse
import ipaddress
import json
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sipsimple.demo import signal
from sipsimple.demo.endpoint import SAMPLE_RATE, Endpoint, Recorder, short

DTMF = "123#"
DEFAULT_CODECS = ["G722", "PCMU"]  # a short list keeps the SRTP offer well inside one UDP datagram
SOURCE_SECONDS = 3.0
QUALITY_START, QUALITY_LENGTH = 0.5, 1.0  # the compared window, seconds into the source
ANSWER_SECONDS = 40  # the wait for the call to be answered: longer than an INVITE lives (Timer B, 32 s)
SHOWN = {
    "SIPSessionNewOutgoing", "SIPSessionGotRingIndication", "SIPSessionGotProvisionalResponse",
    "SIPSessionWillStart", "SIPSessionDidStart", "SIPSessionDidFail", "SIPSessionWillEnd",
    "SIPSessionDidEnd", "SIPSessionDidChangeHoldState", "MediaStreamDidStart", "MediaStreamDidFail",
    "AudioStreamDidChangeHoldState", "AudioStreamDidTimeout", "SIPApplicationDidStart", "SIPApplicationDidEnd",
}  # fmt: skip


class DemoError(Exception):
    """A step failed; the message says which."""


def step(text: str) -> None:
    print(f"- {text}", flush=True)


class Callee:
    """The second process, its JSON lines read by a thread into a queue and a list."""

    def __init__(self, record: Path, srtp: str | None, codecs: list[str]) -> None:
        command = [sys.executable, "-m", "sipsimple.demo.callee", "--record", str(record)]
        command += ["--srtp", srtp or "none"] + [f"--codec={c}" for c in codecs]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.records: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self.readers = [
            threading.Thread(target=self._read, name="demo-callee-stdout", daemon=True),
            threading.Thread(target=self._read_stderr, name="demo-callee-stderr", daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                record = json.loads(line)
            except ValueError:
                record = {"text": line.rstrip()}
            self.records.append(record)
            self.lines.put(record)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line.rstrip())

    def wait_for(self, key: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for record in self.records:
                if key in record:
                    return record
                if "error" in record:
                    raise DemoError(f"the callee failed: {record['error']}")
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.process.poll() is not None and self.lines.empty()):
                tail = "\n".join(self.stderr[-10:])
                raise DemoError(f"the callee sent no {key!r} line within {timeout} s\n{tail}")
            try:
                self.lines.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                pass

    def events(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("event") == name]

    def stop(self, timeout: float = 20.0) -> None:
        """Asks the callee to stop, then kills it if it has not exited within ``timeout``."""
        try:
            if self.process.stdin is not None:
                self.process.stdin.write("stop\n")
                self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        for reader in self.readers:  # they end at the pipes' end of file
            reader.join(5)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


@dataclass
class Outcome:
    """What the call measured. ``remote``: the call went to ``--to``, so there is no callee of ours
    to report what it heard; the line then gives our own RTP figures instead of the quality one."""

    remote: bool = False
    codec: str = "?"
    srtp: bool = False
    duration: float = 0.0
    lost: int = 0
    expected: int = 0
    sent: int = 0
    received: int = 0
    jitter: float | None = None  # ms, our estimate of the far end's packets (RFC 3550 A.8)
    rtt: float | None = None  # ms, average round trip from RTCP reports (RFC 3550 6.4.1)
    peer_lost: int | None = None  # our packets the far end reports lost (its RTCP receiver report)
    recording: str = ""
    correlation: float | None = None
    snr: float | None = None
    dtmf: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def loss_percent(self) -> float:
        return 100.0 * max(self.lost, 0) / self.expected if self.expected else 0.0

    def line(self) -> str:
        head = f"result: codec={self.codec} srtp={'yes' if self.srtp else 'no'} duration={self.duration:.1f}s"
        loss = f"lost={self.lost}/{self.expected} ({self.loss_percent:.1f}%)"
        if self.remote:
            return (
                f"{head} sent={self.sent} received={self.received} {loss} jitter={_ms(self.jitter)} "
                f"rtt={_ms(self.rtt)} peer-lost={'-' if self.peer_lost is None else self.peer_lost} "
                f"dtmf-sent={self.dtmf or '-'} quality=n/a"
            )
        quality = (
            "n/a"
            if self.correlation is None
            else f"correlation {self.correlation:.3f}, SNR {self.snr:.1f} dB"
        )
        return f"{head} {loss} dtmf={self.dtmf or '-'} quality={quality} recording={self.recording or '-'}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}ms"


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sipsimple.demo",
        description="Places a real audio call: by default to a second sipsimple process on 127.0.0.1.",
    )
    parser.add_argument("--to", help="call this SIP URI instead of the local callee (sip:user@host)")
    parser.add_argument("--account", help="account id for --to (default: demo@example.invalid)")
    parser.add_argument("--password", help="the account's password (digest authentication)")
    parser.add_argument("--proxy", help="outbound proxy for --to: host[:port][;transport=udp|tcp|tls]")
    parser.add_argument(
        "--codec", action="append", help=f"audio codec, repeatable (default: {DEFAULT_CODECS})"
    )
    parser.add_argument("--no-srtp", action="store_true", help="plain RTP instead of SDES-SRTP (mandatory)")
    parser.add_argument("--seconds", type=float, default=6.0, help="call length, at least 4 (default 6)")
    parser.add_argument("--output", type=Path, help="directory for the source and the recording")
    args = parser.parse_args(argv)
    if args.seconds < 4:
        parser.error("--seconds must be at least 4 (play, hold, unhold, DTMF)")
    if args.to is None and (args.account or args.password or args.proxy):
        parser.error("--account, --password and --proxy go with --to")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    try:
        outcome = run(args)
    except DemoError as error:
        print(f"demo FAILED: {error}", flush=True)
        return 1
    print(outcome.line(), flush=True)
    if outcome.remote:
        step(
            "no quality figure: it compares what the far end heard with the source, and only the "
            "local callee (run without --to) records that and reports it back"
        )
        if outcome.rtt is None:
            step(
                "no rtt/peer-lost: the far end sent no RTCP report on our packets during the call "
                "(some peers send them seldom or never; a longer --seconds gives them more time)"
            )
    if outcome.problems:
        print("demo FAILED: " + "; ".join(outcome.problems), flush=True)
        return 1
    print("demo passed", flush=True)
    return 0


# -- where the call goes --------------------------------------------------------------------------


def _split_proxy(proxy: str) -> tuple[str, int | None, str]:
    """``[sip:]host[:port][;transport=T]`` as (host, port, transport); an IPv6 host in brackets."""
    address, _, parameters = proxy.removeprefix("sip:").partition(";")
    transport = "udp"
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "transport" and value:
            transport = value.strip().lower()
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = address.rpartition(":") if address.count(":") == 1 else (address, "", "")
    try:
        return host, (int(port) if port else None), transport
    except ValueError:
        raise DemoError(f"--proxy {proxy!r}: the port is not a number") from None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def local_address_towards(host: str | None) -> str | None:
    """The address of ours that the system would send from to reach ``host`` (an IP literal; a UDP
    socket's connect() picks it without sending anything); None when ``host`` is a name or has no
    route. None lets the application choose the host's default address."""
    if host is None or not _is_ip(host):
        return None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((host, 9))
            return str(probe.getsockname()[0])
    except OSError:
        return None


def _routes(args: argparse.Namespace, endpoint: Endpoint, target: Any) -> list[Any]:
    """The proxy's route (an IP literal as it is, a name through RFC 3263), else the routes of an
    RFC 3263 lookup of the target's host."""
    from sipsimple.core.sip.uri import SIPURI
    from sipsimple.lookup import DNSLookup, Route

    if args.proxy:
        host, port, transport = _split_proxy(args.proxy)
        if _is_ip(host):
            return [Route(host, port, transport)]
        uri = SIPURI(host, port=port, parameters={"transport": transport})
    else:
        uri = target
    step(f"looking up {uri.host} (RFC 3263)")
    try:
        routes = endpoint.call(
            lambda: DNSLookup().lookup_sip_proxy(uri, ["udp", "tcp"]).as_deferred(), timeout=20
        )
    except Exception as error:  # the lookup's own errors say what failed
        raise DemoError(f"no route to {uri.host}: {error}") from None
    if not routes:
        raise DemoError(f"no route to {uri.host}")
    return list(routes)


# -- why a call failed ----------------------------------------------------------------------------

#: SIPSessionDidFail code -> what to tell the user ({target}, {account}, {status} are filled in)
FAILURE_MESSAGES = {
    401: "authentication failed: the server refused the credentials of {account} ({status}); "
    "check --account and --password",
    403: "the server refused the call ({status}): {account} may not call {target}",
    404: "{target} does not exist ({status})",
    408: "no final answer to the INVITE ({status}): is the proxy reachable, and is {target} registered?",
    480: "{target} is not available now ({status}): not registered, or not answering",
    484: "the server cannot route {target} ({status}): the address is incomplete",
    486: "{target} is busy ({status})",
    488: "the far end accepts none of the offered media ({status}): try --codec PCMU, or --no-srtp",
    503: "{target} could not be reached ({status}): check --proxy, or try again later",
    603: "{target} declined the call ({status})",
    604: "{target} does not exist anywhere ({status})",
    606: "the far end accepts none of the offered media ({status}): try --codec PCMU, or --no-srtp",
}
FAILURE_MESSAGES[407] = FAILURE_MESSAGES[401]
FAILURE_MESSAGES[600] = FAILURE_MESSAGES[486]


def failure_message(failure: dict[str, Any], target: str, account: str, password: str | None) -> str:
    """A sentence a person can act on for SIPSessionDidFail's data (``code``, ``reason``,
    ``failure_reason``)."""
    code, reason = failure.get("code") or 0, failure.get("reason")
    detail = failure.get("failure_reason") or ""
    status = f"{code} {reason}" if code else detail or "no response"
    if code in (401, 407) and not password:
        return f"the server asks for authentication ({status}) and no --password was given for {account}"
    template = FAILURE_MESSAGES.get(code)
    if template is None:
        extra = f" ({detail})" if detail and detail != status else ""
        return f"the call to {target} failed: {status}{extra}"
    return template.format(target=target, account=account, status=status)


# -- the call -------------------------------------------------------------------------------------


def _wait_count(recorder: Recorder, name: str, sender: Any, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with recorder.lock:
            seen = sum(1 for _, n, s, _ in recorder.entries if n == name and s is sender)
        if seen >= count:
            return True
        time.sleep(0.02)
    return False


def run(args: argparse.Namespace) -> Outcome:
    """The call itself; raises DemoError when a step fails, else returns what was measured."""
    output = args.output or Path(tempfile.mkdtemp(prefix="sipsimple-demo-"))
    output.mkdir(parents=True, exist_ok=True)
    source_path, record_path = output / "source.wav", output / "callee-heard.wav"
    source = signal.multitone(SOURCE_SECONDS, SAMPLE_RATE)
    signal.write_wav(source_path, source, SAMPLE_RATE)
    srtp = None if args.no_srtp else "sdes_mandatory"
    codecs = args.codec or DEFAULT_CODECS
    remote = args.to is not None
    outcome = Outcome(remote=remote, recording="" if remote else str(record_path))
    step(
        f"source: {source_path} ({SOURCE_SECONDS + signal.LEAD_IN:.1f} s, tones {[t for t, _ in signal.TONES]} Hz)"
    )

    callee = None
    if not remote:
        step("starting the callee process (python -m sipsimple.demo.callee)")
        callee = Callee(record_path, srtp, codecs)
    recorder = Recorder(SHOWN)
    endpoint = Endpoint("sipsimple-demo-caller-")
    trace = output / "sip-trace.txt"
    try:
        if callee is not None:
            ready = callee.wait_for("ready", timeout=30)
            step(f"callee ready on 127.0.0.1 UDP {ready['udp']} / TCP {ready['tcp']}")
            address: str | None = "127.0.0.1"
        else:
            address = local_address_towards(_split_proxy(args.proxy)[0] if args.proxy else None)
        endpoint.start(recorder, ip_address=address, trace=trace)
        account_id = args.account or ("alice@example.test" if not remote else "demo@example.invalid")
        account = endpoint.make_account(
            account_id, srtp=srtp, codecs=codecs, password=args.password, proxy=args.proxy
        )
        udp, tcp = endpoint.ports
        step(f"caller {account_id} on UDP {udp} / TCP {tcp}; codecs {codecs}; SRTP {srtp or 'off'}")
        step(f"SIP messages: {trace}")
        _call(args, endpoint, recorder, account, callee, source_path, outcome)
    finally:
        ended = endpoint.stop(recorder)
        if callee is not None:
            callee.stop()
        _print_timelines(recorder, callee)
    if not ended:
        outcome.problems.append("the caller's application did not end in time")
    if callee is not None:
        _callee_results(callee, source, record_path, outcome, srtp is not None)
    else:
        _remote_results(outcome, srtp is not None)
    return outcome


def _target(args: argparse.Namespace, endpoint: Endpoint, callee: Callee | None) -> tuple[Any, list[Any]]:
    from sipsimple.core.sip.uri import SIPURI, parse_uri
    from sipsimple.lookup import Route

    if callee is not None:
        ready = callee.wait_for("ready", timeout=1)
        target = SIPURI("127.0.0.1", user=ready["user"], port=ready["udp"])
        return target, [Route("127.0.0.1", ready["udp"], "udp")]
    try:
        target = parse_uri(args.to)
    except Exception as error:
        raise DemoError(f"--to {args.to!r} is not a SIP URI: {error}") from None
    return target, _routes(args, endpoint, target)


def _connect(
    args: argparse.Namespace, endpoint: Endpoint, recorder: Recorder, account: Any, callee: Callee | None
) -> tuple[Any, Any]:
    """Calls the target; returns (session, stream) once the session started, else raises DemoError
    with the reason. Waits up to ANSWER_SECONDS, longer than an INVITE transaction lives (Timer B,
    32 s), so a server that never answers is reported as such rather than as a callee that rang."""
    from sipsimple.core.sip.headers import ToHeader
    from sipsimple.session import Session
    from sipsimple.streams.rtp import AudioStream

    target, routes = _target(args, endpoint, callee)
    stream = AudioStream()

    def connect() -> Any:
        session = Session(account)
        session.connect(ToHeader(target), routes, [stream])
        return session

    step(f"calling {target} via {[f'{r.address}:{r.port}/{r.transport}' for r in routes]}")
    session = endpoint.call(connect)
    deadline = time.monotonic() + ANSWER_SECONDS
    while time.monotonic() < deadline:
        failure = recorder.wait_for("SIPSessionDidFail", session, timeout=0)
        if failure is not None:
            raise DemoError(failure_message(failure, str(target), account.id, args.password))
        if recorder.wait_for("SIPSessionDidStart", session, timeout=0.1) is not None:
            return session, stream
    rang = recorder.wait_for("SIPSessionGotProvisionalResponse", session, timeout=0) is not None
    endpoint.call(session.end)
    recorder.wait_for("SIPSessionDidFail", session, timeout=5)
    if rang:
        raise DemoError(f"{target} did not answer within {ANSWER_SECONDS} s")
    raise DemoError(
        f"nothing answered the call to {target} within {ANSWER_SECONDS} s: is the proxy reachable?"
    )


def _call(
    args: argparse.Namespace, endpoint: Endpoint, recorder: Recorder, account: Any, callee: Callee | None,
    source_path: Path, outcome: Outcome,
) -> None:  # fmt: skip
    from sipsimple.audio import WavePlayer

    session, stream = _connect(args, endpoint, recorder, account, callee)
    connected = time.monotonic()
    outcome.codec = f"{stream.codec}/{stream.sample_rate}"
    outcome.srtp = bool(stream.srtp_active)
    step(
        f"connected: {outcome.codec}, SRTP {'on (' + str(stream.srtp_suite) + ')' if outcome.srtp else 'off'}"
    )

    application = endpoint.application

    def play() -> Any:
        player = WavePlayer(application.voice_audio_mixer, str(source_path), loop_count=0)
        player.start()
        application.voice_audio_bridge.add(player)
        return player

    player = endpoint.call(play)
    step("playing the source into the call")
    seconds = args.seconds
    time.sleep(seconds * 0.45)
    step("hold")
    endpoint.call(session.hold)
    if not _wait_count(recorder, "SIPSessionDidChangeHoldState", session, 1, 10):
        outcome.problems.append("hold did not complete")
    time.sleep(seconds * 0.15)
    step("unhold")
    endpoint.call(session.unhold)
    if not _wait_count(recorder, "SIPSessionDidChangeHoldState", session, 2, 10):
        outcome.problems.append("unhold did not complete")
    time.sleep(0.3)
    step(f"DTMF {DTMF!r}")
    for digit in DTMF:
        endpoint.call(stream.send_dtmf, digit)
        time.sleep(0.25)
    time.sleep(max(0.5, seconds - (time.monotonic() - connected)))
    if callee is None:  # what we sent and received is all we can measure
        _our_figures(stream.statistics or {}, outcome)
        outcome.dtmf = DTMF
    step("ending the call")
    endpoint.call(player.stop)
    endpoint.call(session.end)
    if recorder.wait_for("SIPSessionDidEnd", session, timeout=10) is None:
        outcome.problems.append("SIPSessionDidEnd did not come within 10 s")
    outcome.duration = time.monotonic() - connected


def _our_figures(statistics: dict[str, Any], outcome: Outcome) -> None:
    """Our stream's counters (docs/media-stream.md, Statistics) into the outcome."""
    rx, tx = statistics.get("rx") or {}, statistics.get("tx") or {}
    outcome.lost, outcome.expected = int(rx.get("lost") or 0), int(rx.get("expected") or 0)
    outcome.received, outcome.sent = int(rx.get("packets") or 0), int(tx.get("packets") or 0)
    outcome.jitter = rx.get("jitter")
    rtt = statistics.get("rtt") or {}
    outcome.rtt = rtt.get("average")
    remote = statistics.get("remote")
    outcome.peer_lost = None if not remote else int(remote.get("cumulative_lost") or 0)


def _remote_results(outcome: Outcome, srtp: bool) -> None:
    if srtp and not outcome.srtp:
        outcome.problems.append("SRTP was not active")
    if outcome.sent == 0:
        outcome.problems.append("we sent no RTP")
    if outcome.received == 0:
        outcome.problems.append("no RTP came from the far end (one-way audio: a NAT or firewall?)")


def _callee_results(callee: Callee, source: Any, record_path: Path, outcome: Outcome, srtp: bool) -> None:
    stats = next((r for r in callee.records if "stats" in r), None)
    if stats is None:
        outcome.problems.append("the callee reported no RTP statistics")
    else:
        rx = stats["stats"].get("rx") or {}
        outcome.lost, outcome.expected = int(rx.get("lost") or 0), int(rx.get("expected") or 0)
        if srtp and not stats.get("srtp"):
            outcome.problems.append("the callee's stream did not use SRTP")
    outcome.dtmf = "".join(str(r["data"].get("digit", "?")) for r in callee.events("AudioStreamGotDTMF"))
    if outcome.dtmf != DTMF:
        outcome.problems.append(f"the callee saw DTMF {outcome.dtmf!r}, not {DTMF!r}")
    if srtp and not outcome.srtp:
        outcome.problems.append("SRTP was not active")
    if not record_path.exists():
        outcome.problems.append(f"no recording at {record_path}")
        return
    heard, rate = signal.read_wav(record_path)
    if rate != SAMPLE_RATE:
        outcome.problems.append(f"the recording is at {rate} Hz, not {SAMPLE_RATE}")
        return
    match = signal.compare(source, heard, QUALITY_START, QUALITY_LENGTH, rate)
    if match is None:
        outcome.problems.append("the source was not found in the recording")
        return
    outcome.correlation, outcome.snr = match.correlation, match.snr
    floor = QUALITY_FLOOR_OPUS if outcome.codec.lower().startswith("opus") else QUALITY_FLOOR
    if match.correlation < floor:
        outcome.problems.append(f"correlation {match.correlation:.3f} is below {floor}")


QUALITY_FLOOR = 0.9  # normalised correlation of the recording with the source (PCMU, G.722: 1.000)
QUALITY_FLOOR_OPUS = 0.75  # Opus keeps how it sounds, not the waveform: 0.88-0.94 measured


def _print_timelines(recorder: Recorder, callee: Callee | None) -> None:
    step("caller notifications:")
    with recorder.lock:
        entries = list(recorder.entries)
    for seconds, name, _sender, data in entries:
        details = ", ".join(f"{k}={short(v, 40)}" for k, v in data.items() if k != "streams")
        print(f"  {1000 * seconds:8.1f} ms  {name}" + (f"  {details}" if details else ""))
    if callee is None:
        return
    step("callee notifications (its stdout, JSON lines):")
    for record in callee.records:
        if "event" in record:
            details = ", ".join(f"{k}={v}" for k, v in record["data"].items())
            print(f"  {1000 * record['t']:8.1f} ms  {record['event']}" + (f"  {details}" if details else ""))
        elif "error" in record or "text" in record:
            print(f"  callee: {record.get('error') or record.get('text')}")
