"""An Account inside SIPApplication finds its registrar only through DNS (RFC 3263, dnsmasq on
loopback) and fails over from a dead first SRV target to Kamailio, over UDP, TCP and TLS.

The zone of example.test: one NAPTR record for the transport under test (SIP+D2U, SIP+D2T or
SIPS+D2T) -> ``_sip._udp`` / ``_sip._tcp`` / ``_sips._tcp`` with two SRV targets: ``dead`` (127.0.0.3,
priority 10, where nothing listens: over UDP the REGISTER times out, over TCP and TLS the connection
is refused) and ``proxy`` (127.0.0.1, priority 20: Kamailio with digest auth). No outbound proxy is
set, so the registrar is looked up from the account's domain. The registration must succeed through
the second target within one REGISTER (``register_timeout``: no DidFail, no back-off), report that
target as its ``registrar`` Route, leave the account's contact in Kamailio's location table, and
``SIPApplication.stop()`` must empty it. Over TLS the certificate is verified against the SIP domain
(example.test) with the test CA, given through the TLS settings; a domain the certificate is not for
fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sipsimple.account import Account
from sipsimple.util import Route
from tests.support.notifications import NotificationRecorder
from tests.support.wait import wait_for

from .peers.certs import TestCA
from .peers.dnsmasq import A, Naptr, Srv
from .test_account_interop import WAIT, running_application, start

pytestmark = pytest.mark.interop

DOMAIN = "example.test"
DEAD = "127.0.0.3"
# transport -> (NAPTR service, SRV prefix, Kamailio features)
SERVICES = {
    "udp": ("SIP+D2U", "_sip._udp", ("auth",)),
    "tcp": ("SIP+D2T", "_sip._tcp", ("auth",)),
    "tls": ("SIPS+D2T", "_sips._tcp", ("auth", "tls")),
}


def tls_settings(test_ca: TestCA, directory: Path) -> dict[str, Any]:
    """The TLS settings: trust the test CA, verify the server, and our certificate (one PEM file
    holding certificate and key, as ``tls.certificate`` wants)."""
    bundle = directory / "client.pem"
    bundle.write_bytes(test_ca.cert.read_bytes() + test_ca.key.read_bytes())
    return {"ca_list": str(test_ca.ca_cert), "certificate": str(bundle), "verify_server": "true"}


def zone_records(domain: str, transport: str, port: int) -> list[Any]:
    """NAPTR -> SRV (dead first, proxy second) -> A for ``domain`` over ``transport``."""
    service, srv_prefix, _ = SERVICES[transport]
    srv_name = f"{srv_prefix}.{domain}"
    return [
        Naptr(domain, 10, 10, "S", service, srv_name),
        Srv(srv_name, f"dead.{domain}", port, 10, 100),
        Srv(srv_name, f"proxy.{domain}", port, 20, 100),
        A(f"dead.{domain}", DEAD),
        A(f"proxy.{domain}", "127.0.0.1"),
    ]


def create_account(application: Any, aor: str, password: str) -> Any:
    def create() -> Any:
        account: Any = Account(aor)
        account.auth.password = password
        account.enabled = True
        account.save()
        return account

    return application.twisted_thread.call_and_wait(create, timeout=WAIT)


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_an_account_found_through_naptr_and_srv_fails_over_to_the_second_target(
    transport: str,
    kamailio: Any,
    dnsmasq: Any,
    test_ca: TestCA,
    tmp_path: Path,
    recorder: NotificationRecorder,
) -> None:
    _, srv_prefix, features = SERVICES[transport]
    srv_name = f"{srv_prefix}.{DOMAIN}"
    server = kamailio(features=features)
    port = server.tls_port if transport == "tls" else server.sip_port
    zone = dnsmasq(records=zone_records(DOMAIN, transport, port))
    settings: dict[str, Any] = {"sip": {"transport_list": [transport]}, "logs": {"trace_sip": "true"}}
    if transport == "tls":
        settings["tls"] = tls_settings(test_ca, tmp_path)
    with running_application(
        {"register_timeout": 10.0},
        {"t1": 0.05},  # Timer F = 3.2 s: the dead UDP target is given up well within the 10 s
        dns_nameservers=["127.0.0.1"],
        dns_port=zone.port,
    ) as application:
        start(application, recorder, {"SIPSimpleSettings": settings})
        assert not recorder.named("SIPApplicationFailedToStartTLS")
        account = create_account(application, f"alice@{DOMAIN}", server.users["alice"].password)
        wait_for(
            lambda: recorder.named("SIPAccountRegistrationDidSucceed"), what="the registration", timeout=WAIT
        )
        assert not recorder.named("SIPAccountRegistrationDidFail")  # the failover is inside one REGISTER

        notifications = recorder.snapshot()
        lookup = next(n.data.result for n in notifications if n.name == "DNSLookupDidSucceed")
        tls_name = DOMAIN if transport == "tls" else None
        assert lookup == [
            Route(DEAD, port, transport, tls_name),
            Route("127.0.0.1", port, transport, tls_name),
        ]
        queries = [
            (n.data.query_type, n.data.query_name) for n in notifications if n.name == "DNSLookupTrace"
        ]
        assert queries[0] == ("NS", DOMAIN)  # NS-first is on; dnsmasq has no NS records: it falls back
        assert ("NAPTR", DOMAIN) in queries and ("SRV", srv_name) in queries
        registers = [
            n.data.destination_ip
            for n in notifications
            if n.name == "SIPEngineSIPTrace" and not n.data.received and n.data.data.startswith(b"REGISTER ")
        ]
        # over UDP the first REGISTER went to the dead target; over TCP/TLS its connection was refused
        assert registers[0] == (DEAD if transport == "udp" else "127.0.0.1") and registers[-1] == "127.0.0.1"
        succeeded = next(n.data for n in notifications if n.name == "SIPAccountRegistrationDidSucceed")
        assert succeeded.registrar == Route("127.0.0.1", port, transport, tls_name)  # the second target
        answer = next(n.data for n in notifications if n.name == "SIPAccountRegistrationGotAnswer")
        assert answer.code == 200 and answer.registrar == succeeded.registrar

        contact = str(account.contact[succeeded.registrar])
        assert [b.contact for b in server.location().get("alice", [])] == [contact]
        application.stop()
        wait_for(lambda: recorder.named("SIPApplicationDidEnd"), what="the application to end", timeout=WAIT)
        assert len(recorder.named("SIPAccountRegistrationDidEnd")) == 1
    assert server.location() == {}


def test_over_tls_the_certificate_must_be_valid_for_the_sip_domain(
    kamailio: Any, dnsmasq: Any, test_ca: TestCA, tmp_path: Path, recorder: NotificationRecorder
) -> None:
    """The same zone for another domain (elsewhere.test), pointing at the same Kamailio, whose
    certificate is for example.test only: both targets fail the TLS check, the REGISTER fails, and
    nothing is registered."""
    server = kamailio(features=("auth", "tls"))
    assert server.tls_port is not None
    zone = dnsmasq(records=zone_records("elsewhere.test", "tls", server.tls_port), domain="elsewhere.test")
    settings = {"sip": {"transport_list": ["tls"]}, "tls": tls_settings(test_ca, tmp_path)}
    with running_application(
        {"register_timeout": 10.0}, dns_nameservers=["127.0.0.1"], dns_port=zone.port
    ) as application:
        start(application, recorder, {"SIPSimpleSettings": settings})
        create_account(application, "alice@elsewhere.test", server.users["alice"].password)
        wait_for(
            lambda: recorder.named("SIPAccountRegistrationDidFail"),
            what="the failed registration",
            timeout=WAIT,
        )
        failed = recorder.named("SIPAccountRegistrationDidFail")[0].data
        assert failed.error.startswith("503 Cannot reach tls:127.0.0.1:")  # the last target tried
        assert "certificate is not valid for 'elsewhere.test'" in failed.error
        assert not recorder.named("SIPAccountRegistrationDidSucceed")
    assert server.location() == {}


def test_a_registrar_domain_pointing_to_nonsense_fails_with_the_dns_reason(
    kamailio: Any, dnsmasq: Any, recorder: NotificationRecorder
) -> None:
    """The only SRV record of the UDP service has target '.' (not offered; the domain's own A record
    must not be used instead): the registration fails with DidFail, whose error says what is wrong
    in the zone, and no REGISTER is sent (the SIP trace is on)."""
    server = kamailio(features=("auth",))
    zone = dnsmasq(records=[Srv(f"_sip._udp.{DOMAIN}", ".", 0, 0, 0), A(DOMAIN, "127.0.0.1")])
    settings = {"sip": {"transport_list": ["udp"]}, "logs": {"trace_sip": "true"}}
    with running_application(dns_nameservers=["127.0.0.1"], dns_port=zone.port) as application:
        start(application, recorder, {"SIPSimpleSettings": settings})
        create_account(application, f"alice@{DOMAIN}", server.users["alice"].password)
        wait_for(
            lambda: recorder.named("SIPAccountRegistrationDidFail"),
            what="the failed registration",
            timeout=WAIT,
        )
        notifications = recorder.snapshot()
        failed = next(n.data for n in notifications if n.name == "SIPAccountRegistrationDidFail")
        assert failed.error.startswith(
            "503 Cannot resolve sip:example.test;transport=udp: no SIP server found"
        )
        assert f"SRV _sip._udp.{DOMAIN}: target '.' says the service is not offered there" in failed.error
        dns_failed = next(n.data for n in notifications if n.name == "DNSLookupDidFail")
        assert dns_failed.error in failed.error
        assert not [n for n in notifications if n.name == "SIPEngineSIPTrace"]  # no REGISTER went out
    assert server.location() == {}
