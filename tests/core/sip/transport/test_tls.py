"""TLS over real loopback sockets with throwaway certificates: verification by SIP domain name,
failures reported as TLSVerificationFailed, and verification turned off."""

from __future__ import annotations

import socket

import pytest
from twisted.internet.task import Clock

from sipsimple.core.sip.transport import (
    ConnectionFailed,
    TLSConfigurationError,
    TLSVerificationFailed,
    TransportAddress,
)

from .certs import PKI, SERVER_NAME
from .conftest import LOOPBACKS, Loop, ManagerFactory, sip_request, sip_response


@pytest.mark.parametrize("host", LOOPBACKS)
def test_tls_round_trip_verified_against_the_test_ca_by_sip_domain(
    make_manager: ManagerFactory, loop: Loop, pki: PKI, host: str
) -> None:
    """Alice connects to an IP address but checks bob's certificate against the SIP domain it is
    for; the request arrives, and bob's response goes back over the same TLS connection."""
    alice, alice_seen = make_manager(tls_ca_list=pki.ca_certificate)
    bob, bob_seen = make_manager()
    bob_address = bob.listen_tls(host, certificate=pki.server_certificate, private_key=pki.server_key)
    assert bob_address.transport == "tls"

    local = loop.wait(alice.send(sip_request(), bob_address, tls_name=SERVER_NAME, is_request=True))
    assert local.transport == "tls"
    loop.run_until(lambda: bob_seen.messages)
    _, source, received_on = bob_seen.messages[0]
    assert source == local and received_on == bob_address

    loop.wait(bob.send(sip_response(), source))
    loop.run_until(lambda: alice_seen.messages)
    assert alice_seen.messages[0][0].status_code == 200
    assert len(bob.connections) == 1 and bob.connections[0].direction == "incoming"
    assert alice.connections[0].tls_name == SERVER_NAME
    assert alice_seen.kinds() == ["connected"]


def test_a_certificate_for_another_name_fails_verification(
    make_manager: ManagerFactory, loop: Loop, pki: PKI
) -> None:
    """The chain is trusted, but the certificate is not for the SIP domain asked for: the send fails
    with TLSVerificationFailed and the disconnect event carries the reason."""
    alice, seen = make_manager(tls_ca_list=pki.ca_certificate)
    bob, bob_seen = make_manager()
    bob_address = bob.listen_tls("127.0.0.1", certificate=pki.server_certificate, private_key=pki.server_key)
    error = loop.failure(alice.send(sip_request(), bob_address, tls_name="other.example.test"))
    assert isinstance(error, TLSVerificationFailed)
    assert "other.example.test" in str(error)
    loop.run_until(lambda: "disconnected" in seen.kinds())
    assert "connected" not in seen.kinds()
    assert "other.example.test" in (seen.events[-1][3] or "")
    assert bob_seen.messages == [] and len(alice.table) == 0


def test_a_certificate_from_an_untrusted_ca_fails_verification(
    make_manager: ManagerFactory, loop: Loop, pki: PKI
) -> None:
    """With the system trust store (tls_ca_list=None) the throwaway CA is unknown: TLSVerificationFailed."""
    alice, _ = make_manager(tls_ca_list=None)
    bob, _ = make_manager()
    bob_address = bob.listen_tls("127.0.0.1", certificate=pki.server_certificate, private_key=pki.server_key)
    error = loop.failure(alice.send(sip_request(), bob_address, tls_name=SERVER_NAME))
    assert isinstance(error, TLSVerificationFailed) and "not trusted" in str(error)


def test_without_verification_a_self_signed_server_is_accepted(
    make_manager: ManagerFactory, loop: Loop, pki: PKI
) -> None:
    """tls_verify_server=False connects to a server whose certificate nobody vouches for, under any name."""
    alice, _ = make_manager(tls_verify_server=False)
    bob, bob_seen = make_manager(
        tls_certificate=pki.self_signed_certificate, tls_private_key=pki.self_signed_key
    )
    bob_address = bob.listen_tls("127.0.0.1")  # the manager-level certificate
    loop.wait(alice.send(sip_request(), bob_address, tls_name="whatever.example.test"))
    loop.run_until(lambda: bob_seen.messages)
    assert bob_seen.messages[0][1].transport == "tls"


def test_the_same_self_signed_server_fails_with_verification_on(
    make_manager: ManagerFactory, loop: Loop, pki: PKI
) -> None:
    """The counterpart of the test above: verification on, the self-signed server is refused."""
    alice, _ = make_manager(tls_ca_list=pki.ca_certificate)
    bob, _ = make_manager(tls_certificate=pki.self_signed_certificate, tls_private_key=pki.self_signed_key)
    bob_address = bob.listen_tls("127.0.0.1")
    error = loop.failure(alice.send(sip_request(), bob_address, tls_name="self-signed.example.test"))
    assert isinstance(error, TLSVerificationFailed)


def test_tls_connections_are_reused_per_name(make_manager: ManagerFactory, loop: Loop, pki: PKI) -> None:
    """Sends for the same domain share a connection; a send without a name (checked against the IP
    address, which the certificate also lists) does not reuse a connection verified for a name."""
    alice, _ = make_manager(tls_ca_list=pki.ca_certificate)
    bob, bob_seen = make_manager()
    bob_address = bob.listen_tls("127.0.0.1", certificate=pki.server_certificate, private_key=pki.server_key)
    first = loop.wait(alice.send(sip_request(cseq=1), bob_address, tls_name=SERVER_NAME))
    second = loop.wait(alice.send(sip_request(cseq=2), bob_address, tls_name=SERVER_NAME.upper()))
    assert first == second and len(alice.connections) == 1
    third = loop.wait(alice.send(sip_request(cseq=3), bob_address))
    assert third != first and len(alice.connections) == 2
    loop.run_until(lambda: len(bob_seen.messages) == 3)


def test_a_handshake_that_fails_for_other_reasons_is_connection_failed(
    make_manager: ManagerFactory, loop: Loop
) -> None:
    """A server that answers the ClientHello with plain text breaks the handshake: the send fails
    with ConnectionFailed naming TLS, not with TLSVerificationFailed."""
    alice, _ = make_manager(tls_verify_server=False)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        sent = alice.send(sip_request(), TransportAddress("tls", *server.getsockname()))
        server.setblocking(False)
        accepted: list[socket.socket] = []

        def accept() -> bool:
            try:
                accepted.append(server.accept()[0])
            except BlockingIOError:
                return False
            return True

        loop.run_until(accept)
        with accepted[0] as peer:
            peer.sendall(b"SIP/2.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            error = loop.failure(sent)
    assert isinstance(error, ConnectionFailed) and not isinstance(error, TLSVerificationFailed)
    assert "TLS" in str(error)


def test_a_handshake_that_never_completes_times_out(make_manager: ManagerFactory, loop: Loop) -> None:
    """A TCP peer that never speaks TLS is given up on after tls_timeout (on the injected clock)."""
    clock = Clock()
    alice, seen = make_manager(tls_verify_server=False, clock=clock, tls_timeout=5)
    with socket.socket() as silent:  # the kernel completes the connect; nobody ever answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        sent = alice.send(sip_request(), TransportAddress("tls", *silent.getsockname()))
        loop.run_until(lambda: alice.connections and alice.connections[0].state == "handshaking")
        clock.advance(4.9)
        loop.turn()
        assert not sent.called
        clock.advance(0.1)
        error = loop.failure(sent)
        assert isinstance(error, ConnectionFailed) and "handshake" in str(error)
        loop.run_until(lambda: "disconnected" in seen.kinds())
        assert "handshake" in (seen.events[-1][3] or "")


def test_a_tls_listener_needs_a_certificate(make_manager: ManagerFactory, pki: PKI, tmp_path: object) -> None:
    """Without a certificate, or with an unreadable one, listen_tls raises TLSConfigurationError."""
    bob, _ = make_manager()
    with pytest.raises(TLSConfigurationError):
        bob.listen_tls("127.0.0.1")
    with pytest.raises(TLSConfigurationError):
        bob.listen_tls("127.0.0.1", certificate=pki.server_key, private_key=pki.server_key)
    assert bob.listeners == ()


def test_a_missing_ca_list_fails_the_send_with_a_clear_reason(
    make_manager: ManagerFactory, loop: Loop
) -> None:
    """A CA file that cannot be read is reported through the send, naming the file."""
    alice, _ = make_manager(tls_ca_list="/nonexistent/ca.pem")
    error = loop.failure(alice.send(sip_request(), TransportAddress("tls", "127.0.0.1", 5061)))
    assert isinstance(error, ConnectionFailed) and "/nonexistent/ca.pem" in str(error)
    assert len(alice.table) == 0
