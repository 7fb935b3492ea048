"""The Engine against SIPp on loopback: SIPp as UAC and as UAS, with lost and repeated messages.

The Engine runs in the test process on a fresh reactor that the test turns (``Loop``) while SIPp runs
in the background; every wait is for a network event (SIPp exiting, a response, a transaction
ending) and bounded. The Engine's T1 is small so that its retransmission and timeout timers run in
fractions of a second. Scenarios: ``configs/sipp/engine_*.xml``.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sipsimple.core.engine import SIPEngine
from sipsimple.core.sip.headers import CSeqHeader, FromHeader, ToHeader
from sipsimple.core.sip.message import SIPRequest
from sipsimple.core.sip.transport import TransportAddress
from sipsimple.core.sip.uri import SIPURI
from sipsimple.notification import NotificationCenter
from tests.support.notifications import NotificationRecorder
from tests.support.reactor import Loop, fresh_reactor

from .peers.sipp import SippResult, SippRun

pytestmark = pytest.mark.interop

T1 = 0.1  # the Engine's T1 here: Timer E first fires after 0.1 s
T4 = 0.3  # Timer K: a UDP client transaction lingers T4 after its final response
TIMEOUT_T1 = 0.05  # for the test that waits for Timer F (64*T1 = 3.2 s)
CALLS = 50


class Listener:
    """A client transaction listener that records what the Engine's transaction reports."""

    def __init__(self) -> None:
        self.responses: list[Any] = []
        self.timeouts: list[float] = []
        self.failures: list[BaseException | None] = []
        self.ended = False

    @property
    def codes(self) -> list[int]:
        return [response.code for response in self.responses]

    def response_received(self, transaction: Any, response: Any) -> None:
        self.responses.append(response)

    def timed_out(self, transaction: Any) -> None:
        self.timeouts.append(time.monotonic())

    def transport_failed(self, transaction: Any, error: BaseException | None) -> None:
        self.failures.append(error)

    def terminated(self, transaction: Any) -> None:
        self.ended = True


class Trace:
    """The Engine's SIPEngineSIPTrace notifications (recorded from creation on)."""

    def __init__(self, engine: SIPEngine) -> None:
        self.recorder = NotificationRecorder()
        NotificationCenter().add_observer(self.recorder, name="SIPEngineSIPTrace", sender=engine)

    def sent(self, start: bytes = b"") -> list[Any]:
        return self._select(False, start)

    def received(self, start: bytes = b"") -> list[Any]:
        return self._select(True, start)

    def _select(self, received: bool, start: bytes) -> list[Any]:
        return [
            n.data
            for n in self.recorder.notifications
            if n.data.received == received and n.data.data.startswith(start)
        ]


@pytest.fixture
def loop() -> Iterator[Loop]:
    with fresh_reactor() as reactor:
        yield Loop(reactor)


@pytest.fixture
def engine(loop: Loop) -> Iterator[Callable[..., SIPEngine]]:
    """``engine(**start_options)``: a started Engine on 127.0.0.1 (UDP+TCP, SIP trace on), stopped after."""
    started: list[SIPEngine] = []

    def start(**options: Any) -> SIPEngine:
        options = {"ip_address": "127.0.0.1", "udp_port": 0, "tcp_port": 0, "trace_sip": True, **options}
        instance = SIPEngine(reactor=loop.reactor)
        instance.start(**options)
        started.append(instance)
        return instance

    yield start
    for instance in started:
        loop.wait(instance.stop())


def finish(loop: Loop, run: SippRun, timeout: float = 20.0) -> SippResult:
    """Turn the reactor (so that the Engine answers) until SIPp exits, then collect its result."""
    popen = run.process.popen
    assert popen is not None
    loop.run_until(lambda: popen.poll() is not None, timeout, what=f"SIPp to finish: {run.process.argv}")
    return run.wait()


def sipp_received(result: SippResult, start: str) -> list[str]:
    """The messages SIPp's message trace shows it received that start with ``start``."""
    found = []
    for entry in re.split(r"\n-{20,}[^\n]*\n", result.messages):
        header, _, message = entry.partition("\n\n")
        if " message received " in header and message.startswith(start):
            found.append(message)
    return found


def make_request(method: str, uas: SippRun, transport: str = "udp", body: bytes = b"") -> SIPRequest:
    """An out-of-dialog request for a SIPp UAS; the Engine adds Via, Max-Forwards and User-Agent."""
    uri = SIPURI("127.0.0.1", user="service", port=uas.local_port, parameters={"transport": transport})
    request = SIPRequest(method, uri)
    request.add("From", FromHeader(SIPURI("example.test", user="alice"), parameters={"tag": "engine1"}))
    request.add("To", ToHeader(SIPURI("example.test", user="service")))
    request.add("Call-ID", f"{random.getrandbits(64):x}@engine")
    request.add("CSeq", CSeqHeader(1, method))
    if body:
        request.add("Content-Type", "text/plain")
        request.body = body
    return request


def send(engine: SIPEngine, method: str, uas: SippRun, transport: str = "udp") -> Listener:
    listener = Listener()
    body = b"hello sipp" if method == "MESSAGE" else b""
    target = TransportAddress(transport, "127.0.0.1", uas.local_port)
    engine.send_request(make_request(method, uas, transport, body), target, listener)
    return listener


def branch_of(data: bytes) -> str:
    found = re.search(rb"branch=([^;\s]+)", data)
    assert found is not None, data
    return found.group(1).decode()


# The Engine as UAS -----------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["u1", "t1"], ids=["udp", "tcp"])
def test_fifty_sipp_calls_of_options_then_message_all_get_200_and_each_message_reaches_the_tu_once(
    sipp, loop, engine, transport
):
    server = engine()
    messages = NotificationRecorder()
    NotificationCenter().add_observer(messages, name="SIPEngineGotMessage", sender=server)
    trace = Trace(server)
    port = server.local_udp_port if transport == "u1" else server.local_tcp_port

    run = sipp.spawn(
        "engine_options_message_uac.xml", ("127.0.0.1", port), service="alice",
        transport=transport, calls=CALLS, rate=250, timeout=20,
    )  # fmt: skip
    result = finish(loop, run)

    assert result.ok and (result.successful, result.failed) == (CALLS, 0), result.describe()
    assert sorted(n.data.body for n in messages.notifications) == sorted(
        b"message %d from sipp\r\n" % number for number in range(1, CALLS + 1)
    )
    requests = trace.received(b"OPTIONS ") + trace.received(b"MESSAGE ")
    assert len(requests) >= 2 * CALLS  # more if SIPp retransmitted over UDP
    assert len(trace.sent(b"SIP/2.0 200 ")) == len(requests)  # every copy answered
    assert {n.data.transport for n in trace.recorder.notifications} == {"udp" if transport == "u1" else "tcp"}


def test_a_repeated_message_is_absorbed_by_the_server_transaction_and_answered_with_the_same_200(
    sipp, loop, engine
):
    """SIPp sends each MESSAGE three times with one branch (a UAC that lost the 200s): the Engine
    answers every copy with the very same 200, and its TU sees the MESSAGE once."""
    calls = 5
    server = engine(t1=T1)
    messages = NotificationRecorder()
    NotificationCenter().add_observer(messages, name="SIPEngineGotMessage", sender=server)
    trace = Trace(server)

    run = sipp.spawn(
        "engine_message_resend_uac.xml", ("127.0.0.1", server.local_udp_port), service="alice",
        calls=calls, rate=100, timeout=10, trace=True, extra_args=("-nr",),
    )  # fmt: skip
    result = finish(loop, run)

    assert result.ok and result.successful == calls, result.describe()
    assert len(sipp_received(result, "SIP/2.0 200 OK")) == 3 * calls, result.describe()
    assert len(messages.notifications) == calls
    requests = trace.received(b"MESSAGE ")
    answers = trace.sent(b"SIP/2.0 200 ")
    assert len(requests) == len(answers) == 3 * calls
    for branch in {branch_of(r.data) for r in requests}:
        copies = {a.data for a in answers if branch_of(a.data) == branch}
        assert len(copies) == 1, f"the 200s for {branch} differ: {copies}"
        assert sum(branch_of(r.data) == branch for r in requests) == 3


def test_the_engines_final_responses_to_sipp_carry_a_to_tag(sipp, loop, engine):
    server = engine()
    run = sipp.spawn(
        "engine_options_message_uac.xml", ("127.0.0.1", server.local_udp_port), service="alice", trace=True
    )
    result = finish(loop, run)

    answers = sipp_received(result, "SIP/2.0 200 ")
    assert result.ok and len(answers) == 2, result.describe()
    assert all(re.search(r"^To: [^\n]*;tag=", answer, re.MULTILINE) for answer in answers), answers


# The Engine as UAC -----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["MESSAGE", "OPTIONS"])
def test_the_engine_sends_a_request_to_a_sipp_uas_and_gets_its_200(sipp, loop, engine, method):
    client = engine(t1=T1, t4=T4)
    uas = sipp.spawn("engine_answer_uas.xml", timeout=10)
    uas.wait_listening()

    listener = send(client, method, uas)
    loop.run_until(lambda: listener.ended, timeout=5, what="the client transaction to end")
    result = finish(loop, uas)

    assert listener.codes == [200] and not listener.timeouts and not listener.failures
    assert listener.responses[0].to_header.tag is not None  # SIPp's tag
    assert result.ok, result.describe()
    [received] = sipp_received(result, method + " ")
    assert f"Via: SIP/2.0/UDP 127.0.0.1:{client.local_udp_port};branch=z9hG4bK" in received
    assert "User-Agent: sipsimple" in received


def test_a_sipp_uas_that_answers_486_gives_the_listener_one_486(sipp, loop, engine):
    client = engine(t1=T1, t4=T4)
    uas = sipp.spawn("engine_busy_uas.xml", timeout=10)
    uas.wait_listening()

    listener = send(client, "MESSAGE", uas)
    loop.run_until(lambda: listener.ended, timeout=5, what="the client transaction to end")
    result = finish(loop, uas)

    assert listener.codes == [486] and listener.responses[0].reason == "Busy Here"
    assert not listener.timeouts and not listener.failures
    assert result.ok, result.describe()


def test_when_sipp_loses_the_first_message_the_engine_retransmits_it_on_timer_e_and_gets_one_200(
    sipp, loop, engine
):
    client = engine(t1=T1, t4=T4)
    trace = Trace(client)
    uas = sipp.spawn("engine_drop_first_uas.xml", timeout=10, extra_args=("-nr",))
    uas.wait_listening()

    listener = send(client, "MESSAGE", uas)
    loop.run_until(lambda: listener.ended, timeout=5, what="the client transaction to end")
    result = finish(loop, uas)

    assert listener.codes == [200] and not listener.timeouts and not listener.failures
    assert result.ok, result.describe()
    sent = [n.data for n in trace.sent(b"MESSAGE ")]
    assert len(sent) >= 2 and len(set(sent)) == 1  # the first copy and its retransmission(s)
    [answer] = trace.received(b"SIP/2.0 200 ")
    assert branch_of(answer.data) == branch_of(sent[0])
    copies = sipp_received(result, "MESSAGE ")
    assert len(copies) == len(sent) and len(set(copies)) == 1, result.describe()


def test_a_request_sipp_never_answers_times_out_after_64_t1_having_been_retransmitted(sipp, loop, engine):
    client = engine(t1=TIMEOUT_T1, t4=T4)
    trace = Trace(client)
    uas = sipp.spawn("engine_silent_uas.xml", timeout=15, extra_args=("-d", "10000"))
    uas.wait_listening()

    started = time.monotonic()
    listener = send(client, "MESSAGE", uas)
    loop.run_until(lambda: listener.timeouts, timeout=64 * TIMEOUT_T1 + 5, what="Timer F")
    loop.run_until(lambda: listener.ended, timeout=2, what="the client transaction to end")
    result = uas.stop()

    assert len(listener.timeouts) == 1 and listener.codes == [] and not listener.failures
    # a lower bound only (timers never fire early): Timer F is 64*T1, not a retransmission count
    assert listener.timeouts[0] - started >= 64 * TIMEOUT_T1 - 0.01
    sent = [n.data for n in trace.sent(b"MESSAGE ")]
    # Timer E: T1, 2T1, 4T1, ... so 7 sends by 63*T1 (fewer if the reactor ran late)
    assert 3 <= len(sent) <= 7 and len(set(sent)) == 1
    assert len(sipp_received(result, "MESSAGE ")) >= 2, result.describe()


def test_over_tcp_the_sipp_uas_answers_on_the_connection_the_engine_opened(sipp, loop, engine):
    client = engine(t1=T1, t4=T4)
    trace = Trace(client)
    connections = NotificationRecorder()
    NotificationCenter().add_observer(connections, name="SIPEngineTransportDidConnect", sender=client)
    uas = sipp.spawn("engine_answer_uas.xml", transport="t1", timeout=10)
    uas.wait_listening()

    listener = send(client, "MESSAGE", uas, transport="tcp")
    loop.run_until(lambda: listener.ended, timeout=5, what="the client transaction to end")
    result = finish(loop, uas)

    assert listener.codes == [200] and not listener.timeouts and not listener.failures
    assert result.ok, result.describe()
    [request] = trace.sent(b"MESSAGE ")
    [response] = trace.received(b"SIP/2.0 200 ")
    assert (request.transport, response.transport) == ("tcp", "tcp")
    ours = (request.source_ip, request.source_port)
    theirs = (request.destination_ip, request.destination_port)
    assert theirs == ("127.0.0.1", uas.local_port)
    assert (response.source_ip, response.source_port) == theirs
    assert (response.destination_ip, response.destination_port) == ours
    assert ours[1] != client.local_tcp_port  # the connection we opened, not one to our listener
    [connected] = connections.notifications
    assert connected.data.remote_address == f"127.0.0.1:{uas.local_port}"
    assert f"Via: SIP/2.0/TCP 127.0.0.1:{client.local_tcp_port};".encode() in request.data
