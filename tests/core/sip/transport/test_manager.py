"""TransportManager as a whole: stop() releases every file descriptor, traces and connection events
carry the right addresses, and misuse is refused early."""

from __future__ import annotations

import os
import sys

import pytest

from sipsimple.core.sip.transport import TransportAddress

from .certs import PKI, SERVER_NAME
from .conftest import Loop, ManagerFactory, sip_request, sip_response


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/self/fd")
def test_stop_closes_every_listener_and_connection_and_leaks_no_file_descriptor(
    make_manager: ManagerFactory, loop: Loop, pki: PKI
) -> None:
    """UDP, TCP and TLS listeners plus incoming and outgoing connections all go away on stop(): the
    process holds exactly the descriptors it held before."""
    # Twisted keeps one process-wide spare descriptor (on /dev/null) from the first TCP listener on,
    # to survive EMFILE; open it before counting.
    warm_up, _ = make_manager()
    warm_up.listen_tcp("127.0.0.1")
    loop.wait(warm_up.stop())
    before = open_fds()
    alice, _ = make_manager(tls_ca_list=pki.ca_certificate)
    bob, bob_seen = make_manager()
    alice.listen_udp("127.0.0.1")
    udp = bob.listen_udp("127.0.0.1")
    tcp = bob.listen_tcp("127.0.0.1")
    tls = bob.listen_tls("127.0.0.1", certificate=pki.server_certificate, private_key=pki.server_key)
    for destination, name in ((udp, None), (tcp, None), (tls, SERVER_NAME)):
        loop.wait(alice.send(sip_request(), destination, tls_name=name))
    loop.run_until(lambda: len(bob_seen.messages) == 3)
    assert len(open_fds()) > len(before) + 5
    assert len(alice.connections) == 2 and len(bob.connections) == 2

    loop.wait(alice.stop())
    loop.wait(bob.stop())
    loop.turn()
    assert open_fds() == before
    assert alice.listeners == () and bob.listeners == () and alice.connections == ()


def test_traces_and_connection_events_carry_local_and_remote_addresses(
    make_manager: ManagerFactory, loop: Loop
) -> None:
    """on_trace sees each message once per direction with the exact bytes; on_connection_event says
    'connected' with both ends, then 'disconnected' with a reason when the peer goes away."""
    alice, alice_seen = make_manager()
    bob, bob_seen = make_manager()
    bob_address = bob.listen_tcp("127.0.0.1")
    local = loop.wait(alice.send(sip_request(), bob_address))
    loop.run_until(lambda: bob_seen.messages)
    loop.wait(bob.send(sip_response(), local))
    loop.run_until(lambda: alice_seen.messages)

    assert alice_seen.traces == [
        ("out", local, bob_address, sip_request()),
        ("in", local, bob_address, sip_response()),
    ]
    assert bob_seen.traces == [
        ("in", bob_address, local, sip_request()),
        ("out", bob_address, local, sip_response()),
    ]
    assert alice_seen.events == [("connected", local, bob_address, None)]
    assert bob_seen.events == [("connected", bob_address, local, None)]
    loop.wait(bob.stop())
    loop.run_until(lambda: len(alice_seen.events) == 2)
    assert alice_seen.events[1][:3] == ("disconnected", local, bob_address)
    assert alice_seen.events[1][3]


def test_pings_and_pongs_are_not_traced_as_messages(make_manager: ManagerFactory, loop: Loop) -> None:
    """Keep-alive CRLFs never reach on_trace or on_message."""
    from twisted.internet.task import Clock

    clock = Clock()
    alice, alice_seen = make_manager(clock=clock, keepalive_interval=10)
    bob, bob_seen = make_manager()
    bob_address = bob.listen_tcp("127.0.0.1")
    loop.wait(alice.send(sip_request(), bob_address))
    (connection,) = alice.table
    clock.advance(10)
    loop.run_until(lambda: connection.ping_sent_at is None, what="the pong")
    assert len(alice_seen.traces) == 1 and len(bob_seen.traces) == 1 and len(bob_seen.messages) == 1


def test_send_and_listen_want_ip_addresses(make_manager: ManagerFactory) -> None:
    """Name resolution is the caller's job (RFC 3263): host names are refused at once."""
    alice, _ = make_manager()
    with pytest.raises(ValueError):
        alice.send(b"x", TransportAddress("udp", "example.com", 5060))
    with pytest.raises(ValueError):
        alice.listen_udp("localhost")


def test_listeners_lists_every_bound_address(make_manager: ManagerFactory) -> None:
    alice, _ = make_manager()
    udp = alice.listen_udp("127.0.0.1")
    tcp = alice.listen_tcp("127.0.0.1")
    assert alice.listeners == (udp, tcp)
    assert udp.port != 0 and tcp.port != 0
    assert "udp:127.0.0.1" in repr(alice)


def test_listening_after_stop_is_refused(make_manager: ManagerFactory, loop: Loop) -> None:
    alice, _ = make_manager()
    loop.wait(alice.stop())
    with pytest.raises(RuntimeError):
        alice.listen_tcp("127.0.0.1")
