"""``python -m sipsimple.demo --to ...`` against a real SIP service: Kamailio (registrar, proxy,
digest auth) and baresip registered with it, answering on its own.

Each test runs the demo as a user would, as a subprocess with a bounded timeout, and checks what it
prints and its exit code, then the other side of the story: the demo's own SIP trace
(``sip-trace.txt`` in ``--output``) shows every request going to Kamailio; baresip's trace shows the
INVITE arriving from Kamailio (its Via on top of ours); baresip's ctrl_tcp events for that Call-ID
show the call established, the DTMF digits it decoded, and the call closed.

The demo's account is ``demo@example.test``. Two baresip accounts answer: ``plain`` (RTP only) and
``secure`` (``mediaenc=srtp-mand``: it answers our RTP/SAVP offer with SDES, RFC 4568).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPOSITORY

from .peers._process import LOOPBACK
from .peers.baresip import Baresip
from .peers.certs import TestCA
from .peers.kamailio import DEFAULT_USERS, Kamailio, User
from .peers.stack import PeerStack

pytestmark = pytest.mark.interop

DEMO_TIMEOUT = 120.0  # the whole subprocess; a call of --seconds 4 takes about 6 s here
DEMO_USER = User("demo", "demo-secret")
BARESIP_USERS = {"plain": User("plain", "plain-secret"), "secure": User("secure", "secure-secret")}
UDP_SWITCH = 1300  # RFC 3261 section 18.1.1: a larger request goes over TCP even on a UDP route
RESULT = re.compile(
    r"^result: codec=(?P<codec>\S+) srtp=(?P<srtp>yes|no) duration=(?P<duration>[\d.]+)s "
    r"sent=(?P<sent>\d+) received=(?P<received>\d+) lost=(?P<lost>-?\d+)/(?P<expected>\d+) "
    r"\((?P<percent>[\d.]+)%\) jitter=(?P<jitter>\S+) rtt=(?P<rtt>\S+) peer-lost=(?P<peer_lost>\S+) "
    r"dtmf-sent=(?P<dtmf>\S+) quality=n/a$",
    re.MULTILINE,
)
TRACE_HEAD = re.compile(
    r"^(?P<direction>SENT|RECEIVED) (?P<transport>\w+) (?P<source>\S+) -> (?P<destination>\S+) "
    r"\((?P<size>\d+) bytes\)$"
)


@dataclass(frozen=True)
class Traced:
    """One message of the demo's sip-trace.txt."""

    direction: str
    transport: str
    source: str
    destination: str
    size: int
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0]

    def header(self, name: str) -> str | None:
        match = re.search(rf"(?im)^{re.escape(name)}\s*:\s*(.*)$", self.text.split("\n\n", 1)[0])
        return match.group(1).strip() if match else None


def read_trace(path: Path) -> list[Traced]:
    messages = []
    for block in path.read_text().split("\n\n"):
        head, _, text = block.strip("\n").partition("\n")
        match = TRACE_HEAD.match(head)
        if match:
            messages.append(Traced(**{**match.groupdict(), "size": int(match["size"])}, text=text))
    return messages


@dataclass
class Service:
    kamailio: Kamailio
    plain: Baresip
    secure: Baresip

    @property
    def kamailio_address(self) -> str:
        return f"{LOOPBACK}:{self.kamailio.sip_port}"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, test_ca: TestCA) -> Iterator[Service]:
    """Kamailio with digest auth and the users demo, plain and secure; both baresips registered."""
    with PeerStack(tmp_path_factory, test_ca) as stack:
        kamailio = stack.kamailio(
            features=("auth",), users=(*DEFAULT_USERS, DEMO_USER, *BARESIP_USERS.values())
        )
        plain = stack.baresip(BARESIP_USERS["plain"], registrar=kamailio)
        secure = stack.baresip(
            BARESIP_USERS["secure"], registrar=kamailio, account_params={"mediaenc": "srtp-mand"}
        )
        yield Service(kamailio, plain, secure)


@dataclass
class DemoRun:
    returncode: int
    stdout: str
    stderr: str
    output: Path

    @property
    def trace(self) -> list[Traced]:
        return read_trace(self.output / "sip-trace.txt")

    def call_id(self) -> str:
        invites = [m for m in self.trace if m.direction == "SENT" and m.first_line.startswith("INVITE ")]
        assert invites, self.stdout
        call_id = invites[0].header("Call-ID")
        assert call_id, invites[0].text
        return call_id


def run_demo(
    service: Service, output: Path, to: str, *options: str, transport: str = "udp", seconds: int = 4
) -> DemoRun:
    command = [
        sys.executable, "-m", "sipsimple.demo", "--to", f"sip:{to}@{service.kamailio.domain}",
        "--proxy", f"{service.kamailio_address};transport={transport}", "--seconds", str(seconds),
        "--output", str(output), *options,
    ]  # fmt: skip
    result = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, timeout=DEMO_TIMEOUT)
    print(result.stdout, result.stderr)  # shown with the report when a test fails
    return DemoRun(result.returncode, result.stdout, result.stderr, output)


def demo_account(password: str | None = DEMO_USER.password) -> list[str]:
    return ["--account", DEMO_USER.aor] + ([] if password is None else ["--password", password])


def call_events(peer: Baresip, call_id: str, last: str = "CALL_CLOSED", timeout: float = 10.0) -> list[dict]:
    """baresip's ctrl_tcp events for ``call_id``, once ``last`` has come (or ``timeout`` passed)."""
    assert peer.control is not None
    deadline = time.monotonic() + timeout
    while True:
        events = [e for e in peer.control.poll_events(0.1) if e.get("id") == call_id]
        if any(e.get("type") == last for e in events) or time.monotonic() > deadline:
            return events


def assert_no_traceback(run: DemoRun) -> None:
    assert "Traceback" not in run.stdout + run.stderr, run.stdout + run.stderr


CALLS = [
    pytest.param("udp", False, id="udp-rtp"),
    pytest.param("udp", True, id="udp-srtp"),
    pytest.param("tcp", False, id="tcp-rtp"),
    pytest.param("tcp", True, id="tcp-srtp"),
]


@pytest.mark.parametrize(("transport", "srtp"), CALLS)
def test_the_demo_calls_baresip_through_kamailio_and_reports_what_it_can_measure(
    service: Service, tmp_path: Path, transport: str, srtp: bool
) -> None:
    """The call goes through, baresip sees it start, hears 123# and sees it end; the result line
    gives our RTP figures and says the quality figure needs the local callee."""
    peer = service.secure if srtp else service.plain
    options = demo_account() + ([] if srtp else ["--no-srtp"])
    run = run_demo(service, tmp_path, peer.user.name, *options, transport=transport)  # type: ignore[union-attr]
    assert run.returncode == 0, run.stdout + run.stderr
    assert_no_traceback(run)
    assert "demo passed" in run.stdout
    result = RESULT.search(run.stdout)
    assert result, run.stdout
    assert result["codec"] == "G722/16000" and result["srtp"] == ("yes" if srtp else "no")
    # baresip sends 50 packets/s except while we hold (it is then recvonly): over 4 s, at least 2.5 s
    assert int(result["sent"]) >= 125 and int(result["received"]) >= 125
    assert 0 <= float(result["percent"]) <= 5
    assert result["jitter"].endswith("ms") and result["dtmf"] == "123#"
    assert "quality figure" in run.stdout and "local callee" in run.stdout
    # the round trip needs an RTCP report from baresip about our packets: baresip 1.0 sends RTCP
    # APP "PING" packets and a BYE, and a receiver report seldom (none in most 12 s calls here)
    assert result["rtt"] != "-" or "no rtt/peer-lost: the far end sent no RTCP report" in run.stdout

    # every request we sent went to Kamailio, over the transport asked for (a UDP request over 1300
    # bytes moves to TCP, RFC 3261 section 18.1.1); every response we got came from it
    trace = run.trace
    requests = [m for m in trace if m.direction == "SENT" and not m.first_line.startswith("SIP/2.0")]
    methods = {m.first_line.split(" ", 1)[0] for m in requests}
    assert {"INVITE", "ACK", "BYE"} <= methods, methods
    assert all(m.destination == service.kamailio_address for m in requests)
    for message in requests:
        assert message.transport.lower() == transport or message.size > UDP_SWITCH - 160, message.text
    if transport == "udp" and not srtp:
        assert all(m.transport == "UDP" for m in requests)  # the authenticated INVITE is ~1,100 bytes
    assert all(m.source == service.kamailio_address for m in trace if m.direction == "RECEIVED")
    assert any(m.first_line.startswith("SIP/2.0 407 ") for m in trace)  # Kamailio asked for digest auth

    # baresip got the INVITE from Kamailio, which put its Via on top of ours
    call_id = run.call_id()
    local = f"{LOOPBACK}:{peer.sip_port}"
    invites = [
        m for m in peer.trace() if m.method == "INVITE" and m.destination == local and call_id in m.text
    ]
    assert invites and all(m.source == service.kamailio_address for m in invites)
    vias = re.findall(r"(?im)^Via:\s*SIP/2.0/\w+ (\S+?);", invites[0].text)
    assert vias[0] == service.kamailio_address and len(vias) == 2, vias

    events = call_events(peer, call_id)
    kinds = [e["type"] for e in events]
    assert "CALL_ESTABLISHED" in kinds and kinds[-1] == "CALL_CLOSED", kinds
    digits = [e.get("param") for e in events if e["type"] == "CALL_DTMF_START"]
    assert "".join(str(d) for d in digits) == "123#"
    if srtp:
        assert any(
            e["type"] == "CALL_MENC" and "AES_CM_128_HMAC_SHA1_80" in e.get("param", "") for e in events
        )


def test_a_target_kamailio_does_not_know_fails_fast_with_a_404_and_says_it_does_not_exist(
    service: Service, tmp_path: Path
) -> None:
    """Kamailio answers 404 for a user nobody registered: the demo exits 1 at once with a sentence,
    not a traceback and not a wait for an answer that will not come."""
    started = time.monotonic()
    run = run_demo(service, tmp_path, "nobody", *demo_account(), "--no-srtp")
    assert run.returncode == 1, run.stdout + run.stderr
    assert time.monotonic() - started < 30  # the answer wait is 40 s: the 404 ended it
    assert_no_traceback(run)
    assert "demo FAILED: sip:nobody@example.test does not exist (404 Not Found)" in run.stdout
    assert any(m.direction == "RECEIVED" and m.first_line == "SIP/2.0 404 Not Found" for m in run.trace)


def test_a_wrong_password_is_reported_as_an_authentication_failure(service: Service, tmp_path: Path) -> None:
    """Kamailio refuses the credentials (407 again after our digest answer): the demo exits 1 and
    names authentication and the options to check."""
    run = run_demo(service, tmp_path, "plain", *demo_account("not-the-password"), "--no-srtp")
    assert run.returncode == 1, run.stdout + run.stderr
    assert_no_traceback(run)
    assert "demo FAILED: authentication failed" in run.stdout
    assert "demo@example.test" in run.stdout and "--password" in run.stdout
    answers = [m.first_line for m in run.trace if m.direction == "RECEIVED"]
    assert answers.count("SIP/2.0 407 Proxy Authentication Required") == 2, answers
    assert any("Proxy-Authorization" in m.text for m in run.trace if m.direction == "SENT")


def test_a_missing_password_is_reported_as_such(service: Service, tmp_path: Path) -> None:
    """Without --password the 407 cannot be answered: the message says no password was given."""
    run = run_demo(service, tmp_path, "plain", *demo_account(None), "--no-srtp")
    assert run.returncode == 1, run.stdout + run.stderr
    assert_no_traceback(run)
    assert "asks for authentication (407 Proxy Authentication Required) and no --password" in run.stdout
