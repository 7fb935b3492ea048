"""RFC 3261 §18.1.1 with real sockets on 127.0.0.1: a large request to a UDP-only peer (nothing
accepts TCP on its port) reaches it over UDP after the refused TCP connect. Waits are bounded and
only for network events."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from sipsimple.core import Message
from sipsimple.core.sip._scanner import scan
from sipsimple.core.sip.headers import RouteHeader
from sipsimple.core.sip.message import SIPRequest, from_scanned, make_response
from sipsimple.core.sip.uri import SIPURI

from .conftest import ALICE, BOB

BODY = "x" * 1500


@pytest.fixture
def udp_only_peer() -> Iterator[socket.socket]:
    """A plain UDP socket on loopback; a TCP socket is bound to the same port and never listens, so
    a TCP connect there is refused (reset) for sure."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.setblocking(False)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", udp.getsockname()[1]))
    try:
        yield udp
    finally:
        udp.close()
        tcp.close()


def receive(loop, sock: socket.socket) -> tuple[bytes, tuple[str, int]]:
    got: list[tuple[bytes, tuple[str, int]]] = []

    def poll() -> bool:
        try:
            got.append(sock.recvfrom(65535))
        except BlockingIOError:
            return False
        return True

    loop.run_until(poll, what="a datagram at the UDP-only peer")
    return got[0]


def test_a_large_message_to_a_udp_only_peer_arrives_over_udp_after_the_refused_tcp_connect(
    loop, client, recorder, udp_only_peer
):
    """The 1,500-byte MESSAGE is over the 1300-byte limit, so the engine tries TCP first; the connect
    is refused and the same MESSAGE arrives in one UDP datagram with a UDP Via (sent-by: the engine's
    UDP listener). The peer's 200 over UDP completes it: SIPMessageDidSucceed."""
    port = udp_only_peer.getsockname()[1]
    route = RouteHeader(SIPURI("127.0.0.1", port=port, parameters={"transport": "udp"}))
    message = Message(ALICE, BOB, route, "text/plain", BODY, engine=client)
    message.send(timeout=10)

    data, source = receive(loop, udp_only_peer)
    request = from_scanned(scan(data))
    assert isinstance(request, SIPRequest) and request.method == "MESSAGE"
    assert len(data) > 1500 and request.body == BODY.encode()
    via = request.get("Via")
    local_udp = client.local_address("udp")
    assert via.transport == "UDP" and (via.host, via.port) == (local_udp.host, local_udp.port)
    assert source == (local_udp.host, local_udp.port)

    udp_only_peer.sendto(make_response(request, 200).to_bytes(), source)
    loop.run_until(
        lambda: recorder.named("SIPMessageDidSucceed") or recorder.named("SIPMessageDidFail"),
        what="the MESSAGE's outcome",
    )
    [done] = recorder.named("SIPMessageDidSucceed")
    assert done.data.code == 200
