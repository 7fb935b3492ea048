"""The Engine over real loopback sockets: life cycle, default answers, MESSAGE delivery, bad input."""

from __future__ import annotations

import os
import random
import socket

import pytest

from sipsimple.core.engine import EngineError, SIPEngine, _salvage_400
from sipsimple.core.sip.headers import CSeqHeader, FromHeader, ToHeader
from sipsimple.core.sip.message import SIPRequest, parse_message
from sipsimple.core.sip.transport import TransportAddress
from sipsimple.core.sip.uri import SIPURI
from sipsimple.notification import NotificationCenter
from tests.support.notifications import NotificationRecorder
from tests.support.reactor import Loop, fresh_reactor


class Responses:
    def __init__(self):
        self.codes: list[int] = []
        self.responses = []
        self.timeouts = 0

    def response_received(self, transaction, response):
        self.codes.append(response.code)
        self.responses.append(response)

    def timed_out(self, transaction):
        self.timeouts += 1

    def transport_failed(self, transaction, error):
        self.codes.append(503)

    def terminated(self, transaction):
        pass


@pytest.fixture
def loop():
    with fresh_reactor() as reactor:
        yield Loop(reactor)


@pytest.fixture
def engines(loop):
    """Two started engines on 127.0.0.1 (UDP and TCP), stopped afterwards."""
    started = []
    for _ in range(2):
        engine = SIPEngine(reactor=loop.reactor)
        engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=0)
        started.append(engine)
    yield started
    for engine in started:
        loop.wait(engine.stop())


def request_to(server, method, transport="udp", body=b"", content_type=None, to_tag=None):
    port = server.local_address(transport).port
    request = SIPRequest(
        method, SIPURI("127.0.0.1", user="alice", port=port, parameters={"transport": transport})
    )
    request.add("From", FromHeader(SIPURI("example.test", user="bob"), parameters={"tag": "b1"}))
    to_parameters = {"tag": to_tag} if to_tag else {}
    request.add("To", ToHeader(SIPURI("example.test", user="alice"), parameters=to_parameters))
    request.add("Call-ID", f"{random.getrandbits(64):x}@test")
    request.add("CSeq", CSeqHeader(1, method))
    if content_type:
        request.add("Content-Type", content_type)
    request.body = body
    return request, TransportAddress(transport, "127.0.0.1", port)


def send(loop, client, server, *args, **kwargs):
    request, destination = request_to(server, *args, **kwargs)
    responses = Responses()
    client.send_request(request, destination, responses)
    loop.run_until(lambda: responses.codes and responses.codes[-1] >= 200, what="a final response")
    return responses.responses[-1]


def test_start_and_stop_post_their_notifications_in_order(loop):
    recorder = NotificationRecorder()
    engine = SIPEngine(reactor=loop.reactor)
    NotificationCenter().add_observer(recorder, sender=engine)
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=None)
    assert engine.is_running and engine.local_udp_port > 0 and engine.local_tcp_port is None
    loop.wait(engine.stop())
    assert recorder.names() == [
        "SIPEngineWillStart",
        "SIPEngineDidStart",
        "SIPEngineWillEnd",
        "SIPEngineDidEnd",
    ]
    assert all(n.data.timestamp is not None for n in recorder.notifications)


def test_a_port_in_use_makes_start_fail_with_did_fail(loop):
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.1", 0))
    try:
        recorder = NotificationRecorder()
        engine = SIPEngine(reactor=loop.reactor)
        NotificationCenter().add_observer(recorder, sender=engine)
        with pytest.raises(EngineError):
            engine.start(ip_address="127.0.0.1", udp_port=blocker.getsockname()[1], tcp_port=None)
        assert recorder.names() == ["SIPEngineWillStart", "SIPEngineDidFail"]
        assert not engine.is_running
    finally:
        blocker.close()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_options_is_answered_with_allow_accept_and_supported(loop, engines, transport):
    client, server = engines
    response = send(loop, client, server, "OPTIONS", transport=transport)
    assert response.code == 200
    assert "MESSAGE" in response.get_raw("Allow") and response.get_raw("Accept")
    assert response.get_raw("Supported") is not None


def test_an_incoming_message_is_answered_and_posted_with_body_and_content_type(loop, engines):
    client, server = engines
    recorder = NotificationRecorder()
    NotificationCenter().add_observer(recorder, name="SIPEngineGotMessage", sender=server)
    response = send(
        loop, client, server, "MESSAGE", body="héllo".encode(), content_type="text/plain;charset=utf-8"
    )
    assert response.code == 200
    [got] = recorder.notifications
    assert got.data.body == "héllo".encode() and got.data.content_type == "text/plain"
    assert got.data.content_type_parameters == {"charset": "utf-8"}
    assert got.data.from_header.uri.user == "bob" and got.data.request_uri.user == "alice"


@pytest.mark.parametrize(("method", "code"), [("PUBLISH", 405), ("FROBNICATE", 501)])
def test_unhandled_methods_get_405_with_allow_or_501(loop, engines, method, code):
    client, server = engines
    response = send(loop, client, server, method)
    assert response.code == code
    assert (response.get_raw("Allow") is not None) == (code == 405)


def test_an_in_dialog_request_for_an_unknown_dialog_gets_481(loop, engines):
    client, server = engines
    assert send(loop, client, server, "NOTIFY", to_tag="nosuchdialog").code == 481


def test_a_registered_method_handler_answers_instead_of_the_default(loop, engines):
    client, server = engines
    from sipsimple.core.sip.message import make_response

    server.register_method_handler("PUBLISH", lambda tx: tx.send_response(make_response(tx.request, 202)))
    assert send(loop, client, server, "PUBLISH").code == 202


def test_a_handler_that_raises_gives_500_and_sip_engine_got_exception(loop, engines):
    client, server = engines
    recorder = NotificationRecorder()
    NotificationCenter().add_observer(recorder, name="SIPEngineGotException", sender=server)

    def broken(transaction):
        raise RuntimeError("handler bug")

    server.register_method_handler("PUBLISH", broken)
    assert send(loop, client, server, "PUBLISH").code == 500
    assert recorder.notifications[0].data.type is RuntimeError


def test_sip_trace_reports_both_directions(loop, engines):
    client, server = engines
    server.trace_sip = True
    recorder = NotificationRecorder()
    NotificationCenter().add_observer(recorder, name="SIPEngineSIPTrace", sender=server)
    send(loop, client, server, "OPTIONS")
    received, sent = recorder.notifications[0].data, recorder.notifications[1].data
    assert received.received and received.data.startswith(b"OPTIONS ")
    assert not sent.received and sent.data.startswith(b"SIP/2.0 200")
    assert received.destination_port == server.local_udp_port and sent.source_port == server.local_udp_port
    assert received.transport == "udp"


def test_an_unframable_request_gets_400_with_the_reason(loop, engines):
    _, server = engines
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(2)
        bad = (
            b"OPTIONS sip:alice@127.0.0.1 SIP/7.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKbad\r\n"
            b"From: <sip:bob@example.test>;tag=1\r\nTo: <sip:alice@example.test>\r\nCall-ID: bad@x\r\n"
            b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" % sock.getsockname()[1]
        )
        sock.sendto(bad, ("127.0.0.1", server.local_udp_port))
        loop.run_until(lambda: _readable(sock), what="the 400")
        response = parse_message(sock.recv(65535))
    assert response.code == 505 and "Version Not Supported" in response.reason  # RFC 4475 badvers
    assert response.call_id == "bad@x"


def _readable(sock):
    import select

    return select.select([sock], [], [], 0)[0]


def test_the_400_salvager_never_answers_responses_or_messages_without_via():
    assert _salvage_400(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n", "why") is None
    assert _salvage_400(b"FOO sip:x SIP/2.0\r\nFrom: a\r\n\r\n", "why") is None


def _rss_kib():
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@pytest.mark.slow
def test_ten_thousand_malformed_datagrams_leave_the_engine_answering_with_bounded_memory(loop, engines):
    client, server = engines
    rng = random.Random(7)
    valid = b"OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\n\r\n"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        target = ("127.0.0.1", server.local_udp_port)
        send(loop, client, server, "OPTIONS")  # warm up
        before = _rss_kib()
        for i in range(10_000):
            kind = i % 3
            if kind == 0:
                datagram = rng.randbytes(rng.randint(1, 600))
            elif kind == 1:
                cut = rng.randint(1, len(valid) - 1)
                datagram = valid[:cut] + rng.randbytes(rng.randint(0, 40))
            else:
                datagram = valid.replace(b"SIP/2.0\r\n", b"SIP/2.0\r\nCSeq: garbage\r\n", 1)
            sock.sendto(datagram, target)
            if i % 200 == 0:
                loop.turn(2)
        loop.turn(50)
        assert send(loop, client, server, "OPTIONS").code == 200
        growth = _rss_kib() - before
    assert growth < 20_000, f"RSS grew by {growth} KiB"
    assert server.stack.transaction_count < 50


def test_incoming_requests_limits_the_methods_served_and_the_allow_header(loop):
    client = SIPEngine(reactor=loop.reactor)
    server = SIPEngine(reactor=loop.reactor)
    client.start(ip_address="127.0.0.1", udp_port=0, tcp_port=None)
    server.start(ip_address="127.0.0.1", udp_port=0, tcp_port=None, incoming_requests={"SUBSCRIBE"})
    try:
        refused = send(loop, client, server, "MESSAGE", body=b"hi", content_type="text/plain")
        assert refused.code == 405 and "MESSAGE" not in refused.get_raw("Allow")
        assert send(loop, client, server, "OPTIONS").code == 200
    finally:
        loop.wait(client.stop())
        loop.wait(server.stop())
