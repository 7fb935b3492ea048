"""dnsmasq as the DNS server of RFC 3263 tests: NAPTR, SRV, A, AAAA and TXT records for example.test.

The records are given as data (:class:`Naptr`, :class:`Srv`, :class:`A`, :class:`AAAA`, :class:`Txt`);
:func:`example_zone` builds the usual set, optionally pointing at a running :class:`Kamailio`'s ports.
dnsmasq listens on 127.0.0.1 (UDP and TCP) on a free port and forwards nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from . import CONFIGS
from ._process import (
    LOOPBACK,
    PORT_RACE_ATTEMPTS,
    ManagedProcess,
    PeerError,
    free_port,
    require_binary,
    run_bounded,
    tcp_port_answers,
    udp_port_bound,
)
from .kamailio import Kamailio

DOMAIN = "example.test"


@dataclass(frozen=True)
class Naptr:
    name: str
    order: int
    preference: int
    flags: str
    service: str
    replacement: str
    regexp: str = ""

    def conf(self) -> str:
        fields = [
            self.name,
            self.order,
            self.preference,
            self.flags,
            self.service,
            self.regexp,
            self.replacement,
        ]
        return "naptr-record=" + ",".join(str(f) for f in fields)


@dataclass(frozen=True)
class Srv:
    name: str
    target: str
    port: int
    priority: int = 10
    weight: int = 100

    def conf(self) -> str:
        return f"srv-host={self.name},{self.target},{self.port},{self.priority},{self.weight}"


@dataclass(frozen=True)
class A:
    name: str
    address: str

    def conf(self) -> str:
        return f"host-record={self.name},{self.address}"


@dataclass(frozen=True)
class AAAA:
    name: str
    address: str

    def conf(self) -> str:
        return f"host-record={self.name},{self.address}"


@dataclass(frozen=True)
class Txt:
    name: str
    text: str

    def conf(self) -> str:
        return f'txt-record={self.name},"{self.text}"'


Record = Naptr | Srv | A | AAAA | Txt


def example_zone(
    kamailio: Kamailio | None = None,
    *,
    domain: str = DOMAIN,
    sip_port: int = 5060,
    tls_port: int = 5061,
    msrp_port: int = 2855,
    xcap_port: int = 8080,
) -> list[Record]:
    """NAPTR (SIPS+D2T, SIP+D2T, SIP+D2U), SRV, A/AAAA and the XCAP root TXT for ``domain``.

    With ``kamailio`` the SRV records carry its ports; ``proxy2`` (127.0.0.2, a lower-priority UDP
    target where nothing listens) is there for failover tests.
    """
    if kamailio is not None:
        sip_port = kamailio.sip_port
        tls_port = kamailio.tls_port or tls_port
        msrp_port = kamailio.msrp_port or msrp_port
        xcap_port = kamailio.xcap_port or xcap_port
    proxy, proxy2, xcap = f"proxy.{domain}", f"proxy2.{domain}", f"xcap.{domain}"
    return [
        Naptr(domain, 10, 10, "S", "SIPS+D2T", f"_sips._tcp.{domain}"),
        Naptr(domain, 20, 10, "S", "SIP+D2T", f"_sip._tcp.{domain}"),
        Naptr(domain, 30, 10, "S", "SIP+D2U", f"_sip._udp.{domain}"),
        Srv(f"_sip._udp.{domain}", proxy, sip_port, 10, 60),
        Srv(f"_sip._udp.{domain}", proxy2, sip_port, 20, 40),
        Srv(f"_sip._tcp.{domain}", proxy, sip_port, 10, 100),
        Srv(f"_sips._tcp.{domain}", proxy, tls_port, 10, 100),
        Srv(f"_msrps._tcp.{domain}", proxy, msrp_port, 10, 100),
        A(proxy, "127.0.0.1"),
        AAAA(proxy, "::1"),
        A(proxy2, "127.0.0.2"),
        A(xcap, "127.0.0.1"),
        Txt(xcap, f"http://{xcap}:{xcap_port}/xcap-root"),  # the XCAP root is the TXT of xcap.<domain>
    ]


class Dnsmasq:
    """A dnsmasq instance serving ``records`` (default :func:`example_zone`) on 127.0.0.1:``port``."""

    def __init__(
        self, workdir: Path, records: Iterable[Record] | None = None, *, domain: str = DOMAIN, ttl: int = 0
    ) -> None:
        self.binary = require_binary("dnsmasq", "dnsmasq-base")
        self.workdir = workdir
        self.records = list(example_zone(domain=domain) if records is None else records)
        self.domain = domain
        self.ttl = ttl
        self.host = LOOPBACK
        self.port = free_port()
        self._port_fixed = False  # after the first successful start: restarts keep the port
        self.conf_path = workdir / "dnsmasq.conf"
        self.process = ManagedProcess(
            "dnsmasq",
            [self.binary, "--no-daemon", f"--conf-file={self.conf_path}"],
            workdir / "dnsmasq.log",
            cwd=workdir,
        )

    def __repr__(self) -> str:
        return f"<Dnsmasq {self.host}:{self.port} {len(self.records)} records {self.process!r}>"

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def running(self) -> bool:
        return self.process.running

    def render(self) -> str:
        text = (CONFIGS / "dnsmasq" / "dnsmasq.conf").read_text()
        for key, value in {
            "PORT": self.port,
            "WORKDIR": self.workdir,
            "DOMAIN": self.domain,
            "TTL": self.ttl,
        }.items():
            text = text.replace(f"@{key}@", str(value))
        return text + "\n".join(record.conf() for record in self.records) + "\n"

    def start(self, timeout: float = 10.0) -> Dnsmasq:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, PORT_RACE_ATTEMPTS + 1):
            self.conf_path.write_text(self.render())
            self.process.start()
            try:
                self.process.wait_ready(
                    lambda: udp_port_bound(self.port) and tcp_port_answers(self.port),
                    timeout=timeout,
                    what="listening",
                )
            except PeerError:
                self.process.stop(timeout=2.0)
                if self._port_fixed or attempt == PORT_RACE_ATTEMPTS or not self.process.lost_port_race():
                    raise
                self.port = free_port()  # another process took the port between choosing and binding it
                continue
            self._port_fixed = True
            return self
        raise AssertionError("unreachable")

    def stop(self, timeout: float = 5.0) -> None:
        self.process.stop(timeout)

    def restart(self, records: Iterable[Record] | None = None) -> Dnsmasq:
        """Stop, optionally replace the records, start again on the same port."""
        self.stop()
        if records is not None:
            self.records = list(records)
        return self.start()

    def dig(self, name: str, rtype: str = "A", *, tcp: bool = False) -> list[str]:
        """``dig +short`` answers for ``name``/``rtype`` from this server (needs dnsutils)."""
        dig = require_binary("dig", "dnsutils")
        argv = [dig, f"@{self.host}", "-p", str(self.port), "+short", "+time=2", "+tries=1", rtype, name]
        if tcp:
            argv.insert(1, "+tcp")
        result = run_bounded(argv, timeout=10)
        if result.returncode != 0:
            raise AssertionError(f"dig failed ({result.returncode}): {result.stdout}{result.stderr}")
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    def log_tail(self, lines: int = 60) -> str:
        return self.process.log_tail(lines)
