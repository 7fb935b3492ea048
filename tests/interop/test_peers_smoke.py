"""Each peer of the interop harness works under it: driven by the peers themselves and tiny probes.

No project SIP code is involved; these tests prove the harness, so that later interop tests can rely
on it when they put the project's Engine in front of the same peers.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import ssl

import pytest

from .peers.dnsmasq import example_zone
from .peers.sipprobe import SipProbe

pytestmark = pytest.mark.interop


@pytest.mark.parametrize(
    ("transport", "contact_transport"), [("u1", "UDP"), ("t1", "TCP")], ids=["udp", "tcp"]
)
def test_sipp_registers_alice_with_digest_auth_and_a_wrong_password_gets_no_200(
    kamailio, sipp, transport, contact_transport
):
    registrar = kamailio(features=("auth",))

    result = sipp("reg.xml", registrar, service="alice", auth=registrar.users["alice"], transport=transport)

    assert result.ok, result.describe()
    assert "SIP/2.0 401" in result.messages and "Authorization: Digest" in result.messages
    bindings = registrar.location()["alice"]
    assert [b.contact for b in bindings] == [
        f"sip:alice@127.0.0.1:{result.local_port};transport={contact_transport}"
    ]

    wrong = sipp(
        "reg.xml",
        registrar,
        service="carol",
        auth=("carol", "not-her-password"),
        transport=transport,
        timeout=5,
    )

    assert wrong.returncode != 0 and wrong.successful == 0 and wrong.failed == 1, wrong.describe()
    assert "SIP/2.0 200" not in wrong.messages
    assert "SIP/2.0 401" in wrong.errors or "SIP/2.0 403" in wrong.errors
    assert "carol" not in registrar.location()


def test_kamailio_stops_and_restarts_on_the_same_ports_with_a_fresh_database(kamailio, sipp):
    registrar = kamailio(features=("auth", "presence"))
    assert sipp("reg.xml", registrar, service="bob", auth=registrar.users["bob"]).ok
    with contextlib.closing(sqlite3.connect(registrar.db_path)) as db, db:
        db.execute(
            "INSERT INTO subscriber (username, domain, password) VALUES ('mallory', 'example.test', 'x')"
        )
    first_pid, ports = registrar.process.pid, (registrar.sip_port, registrar.xcap_port)

    registrar.stop()
    assert not registrar.running and registrar.options_ping(timeout=0.5) is None
    registrar.start()

    assert registrar.process.pid != first_pid and (registrar.sip_port, registrar.xcap_port) == ports
    assert registrar.options_ping() == 200 and registrar.options_ping("tcp") == 200
    assert registrar.location() == {}
    assert sorted(row[0] for row in registrar.query("SELECT username FROM subscriber")) == [
        "alice",
        "bob",
        "carol",
    ]
    registrar.restart()
    assert sipp("reg.xml", registrar, service="bob", auth=registrar.users["bob"]).ok
    assert list(registrar.location()) == ["bob"]


def test_dnsmasq_answers_naptr_srv_a_aaaa_and_txt_for_example_test(dnsmasq):
    server = dnsmasq(records=example_zone(sip_port=15060, tls_port=15061))

    assert sorted(server.dig("example.test", "NAPTR")) == [
        '10 10 "S" "SIPS+D2T" "" _sips._tcp.example.test.',
        '20 10 "S" "SIP+D2T" "" _sip._tcp.example.test.',
        '30 10 "S" "SIP+D2U" "" _sip._udp.example.test.',
    ]
    assert sorted(server.dig("_sip._udp.example.test", "SRV")) == [
        "10 60 15060 proxy.example.test.",
        "20 40 15060 proxy2.example.test.",
    ]
    assert server.dig("_sips._tcp.example.test", "SRV", tcp=True) == ["10 100 15061 proxy.example.test."]
    assert server.dig("proxy.example.test", "A") == ["127.0.0.1"]
    assert server.dig("proxy.example.test", "AAAA") == ["::1"]
    assert server.dig("xcap.example.test", "TXT") == ['"http://xcap.example.test:8080/xcap-root"']
    assert server.dig("nothing.invalid", "A") == []  # refused, not forwarded anywhere


def test_baresip_registers_at_kamailio_and_receives_a_message_sent_by_sipp(kamailio, baresip, sipp):
    registrar = kamailio(features=("auth",))
    bob = baresip("bob", registrar=registrar)

    assert "sip:bob@example.test" in bob.reginfo() and bob.is_registered()
    assert [b.contact.split("@")[1].split(";")[0] for b in registrar.location()["bob"]] == [
        f"127.0.0.1:{bob.sip_port}"
    ]

    result = sipp("message_uac.xml", registrar, service="bob", auth=registrar.users["alice"])

    assert result.ok, result.describe()
    assert "SIP/2.0 407" in result.messages  # the proxy challenged alice before relaying
    message = bob.wait_for_message("hello bob")
    assert "sip:alice@example.test" in message.sender
    assert message.content_type == "text/plain"


def test_kamailio_tls_port_completes_a_handshake_verified_against_the_test_ca(kamailio, test_ca):
    server = kamailio(features=("tls",))
    context = ssl.create_default_context(cafile=str(test_ca.ca_cert))

    with (
        socket.create_connection((server.host, server.tls_port), timeout=3) as raw,
        context.wrap_socket(raw, server_hostname="example.test") as tls,
    ):
        names = [value for _, value in tls.getpeercert()["subjectAltName"]]
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    assert "example.test" in names and "127.0.0.1" in names

    with SipProbe(
        (server.host, server.tls_port), transport="tls", ssl_context=context, server_hostname="example.test"
    ) as probe:
        assert probe.request("OPTIONS", f"sip:{server.host}:{server.sip_port}").status == 200

    untrusting = ssl.create_default_context()  # system CAs only: the test certificate must not pass
    with (
        socket.create_connection((server.host, server.tls_port), timeout=3) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        untrusting.wrap_socket(raw, server_hostname="example.test")


def test_sipp_publishes_pidf_presence_with_digest_auth_and_kamailio_stores_it(kamailio, sipp):
    server = kamailio(features=("auth", "presence"))

    result = sipp("publish.xml", server, service="bob", auth=server.users["bob"])

    assert result.ok, result.describe()
    assert "SIP/2.0 407" in result.messages and "SIP-ETag:" in result.messages
    rows = server.query("SELECT username, domain, event, body FROM presentity")
    assert [(user, domain, event) for user, domain, event, _ in rows] == [("bob", "example.test", "presence")]
    body = rows[0][3]
    assert b"published by sipp for bob" in (body if isinstance(body, bytes) else body.encode())


def test_a_spawned_sipp_uas_answers_a_message_and_reports_the_call_as_successful(sipp):
    uas = sipp.spawn("message_uas.xml", service="carol", timeout=10).wait_listening()

    with SipProbe(("127.0.0.1", uas.local_port), user="alice") as probe:
        response = probe.request("MESSAGE", uas.uri, body="hello carol", content_type="text/plain")
    result = uas.wait()

    assert response.status == 200
    assert result.ok, result.describe()
    assert "hello carol" in result.messages
