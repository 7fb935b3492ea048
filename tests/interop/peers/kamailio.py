"""Kamailio 5.6 as registrar, proxy, presence server (with RLS and XCAP), MSRP relay and TLS endpoint.

``Kamailio(workdir, features=...)`` renders ``configs/kamailio/kamailio.cfg`` with free ports, builds a
fresh sqlite database (users alice, bob, carol @example.test) and runs ``kamailio -DD -E`` in the
foreground. ``stop()`` waits until every Kamailio process is gone, so ``start()`` right after it
(``restart()``) gets the same ports back. The location table is in memory and read over JSON-RPC.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import shutil
import socket
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import CONFIGS
from ._process import (
    LOOPBACK,
    PORT_RACE_ATTEMPTS,
    ManagedProcess,
    PeerError,
    free_port,
    require_binary,
    tcp_port_answers,
)
from .certs import TestCA
from .sipprobe import SipProbe

FEATURES = ("auth", "presence", "msrp", "tls")
#: Features that are off unless asked for (``FEATURES`` stays the default): ``mwi`` adds the RFC 3842
#: message-summary event (presence_mwi) to ``presence``.
OPTIONAL_FEATURES = ("mwi",)
DOMAIN = "example.test"
SCHEMAS = Path("/usr/share/kamailio/db_sqlite")
DBTEXT_TABLES = Path("/usr/share/kamailio/dbtext/kamailio")
MODULE_DIRS = (
    "/usr/lib/x86_64-linux-gnu/kamailio/modules",
    "/usr/lib64/kamailio/modules",
    "/usr/lib/kamailio/modules",
)


@dataclass(frozen=True)
class User:
    """A subscriber in Kamailio's database (digest auth realm is the domain)."""

    name: str
    password: str
    domain: str = DOMAIN

    @property
    def aor(self) -> str:
        return f"{self.name}@{self.domain}"

    @property
    def uri(self) -> str:
        return f"sip:{self.aor}"


DEFAULT_USERS = tuple(User(name, f"secret-{name}") for name in ("alice", "bob", "carol"))


@dataclass(frozen=True)
class Binding:
    """One contact in Kamailio's location table (``ul.dump``)."""

    aor: str
    contact: str
    expires: int | None
    received: str | None
    user_agent: str | None
    raw: dict[str, Any]


def _module_path() -> str:
    for candidate in [*MODULE_DIRS, *sorted(str(p) for p in Path("/usr/lib").glob("*/kamailio/modules"))]:
        if Path(candidate, "tm.so").exists():
            return candidate
    raise PeerError("Kamailio modules not found (install kamailio and its -modules packages)")


class Kamailio:
    """A Kamailio instance on 127.0.0.1 with its own ports, work directory and database.

    ``features`` is a subset of ``("auth", "presence", "msrp", "tls")``, plus ``"mwi"`` (with
    ``presence``: SUBSCRIBE/PUBLISH of ``message-summary``). Ports of disabled features are ``None``.
    ``tls`` needs ``ca`` (a :class:`~.certs.TestCA`).
    """

    def __init__(
        self,
        workdir: Path,
        features: Iterable[str] = FEATURES,
        *,
        ca: TestCA | None = None,
        users: Sequence[User] = DEFAULT_USERS,
        ipv6: bool = False,
        debug: int = 2,
    ) -> None:
        self.features = tuple(features)
        unknown = set(self.features) - set(FEATURES) - set(OPTIONAL_FEATURES)
        if unknown:
            raise ValueError(
                f"unknown Kamailio features {sorted(unknown)}; known: {FEATURES + OPTIONAL_FEATURES}"
            )
        if "mwi" in self.features and "presence" not in self.features:
            raise ValueError("the mwi feature is part of presence: ask for both")
        if "tls" in self.features and ca is None:
            raise ValueError("the tls feature needs a test CA")
        self.binary = require_binary("kamailio", "kamailio")
        self.workdir = workdir
        self.ca = ca
        self.ipv6 = ipv6
        self.debug = debug
        self.host = LOOPBACK
        self.domain = DOMAIN
        self.users = {user.name: user for user in users}
        self.sip_port = 0
        self.tls_port: int | None = None
        self.xcap_port: int | None = None
        self.msrp_port: int | None = None
        self._choose_ports()
        self._ports_fixed = False  # after the first successful start: restarts keep the ports
        self.rundir = workdir / "run"
        self.db_path = workdir / "kamailio.sqlite"
        self.process = ManagedProcess(
            "kamailio",
            [
                self.binary,
                "-f", workdir / "kamailio.cfg",
                "-P", self.rundir / "kamailio.pid",
                "-Y", self.rundir,
                "-w", self.rundir,
                "-E", "-DD",
                *itertools.chain.from_iterable(("-A", f"WITH_{f.upper()}") for f in self.features),
                *(["-A", "WITH_IPV6"] if ipv6 else []),
            ],
            workdir / "kamailio.log",
            cwd=workdir,
            stop_timeout=10.0,
        )  # fmt: skip
        self._rpc_ids = itertools.count(1)

    def _choose_ports(self) -> None:
        hosts = [LOOPBACK, "::1"] if self.ipv6 else [LOOPBACK]
        self.sip_port = self._free_port(hosts, socket.SOCK_DGRAM, socket.SOCK_STREAM)
        self.tls_port = self._free_port(hosts, socket.SOCK_STREAM) if "tls" in self.features else None
        self.xcap_port = free_port(socket.SOCK_STREAM) if "presence" in self.features else None
        self.msrp_port = free_port(socket.SOCK_STREAM) if "msrp" in self.features else None

    @staticmethod
    def _free_port(hosts: list[str], *kinds: int) -> int:
        for _ in range(50):
            port = free_port(*kinds, host=hosts[0])
            try:
                for host in hosts[1:]:
                    for kind in kinds:
                        with socket.socket(socket.AF_INET6, kind) as sock:
                            sock.bind((host, port))
            except OSError:
                continue
            return port
        raise PeerError(f"no port free on {hosts}")

    def __repr__(self) -> str:
        return f"<Kamailio sip={self.sip_port} tls={self.tls_port} features={self.features} {self.process!r}>"

    # --- addresses ------------------------------------------------------------------------------
    @property
    def proxy_uri(self) -> str:
        """``sip:127.0.0.1:PORT`` (an outbound proxy / registrar URI for clients)."""
        return f"sip:{self.host}:{self.sip_port}"

    @property
    def xcap_root(self) -> str | None:
        return f"http://{self.host}:{self.xcap_port}/xcap-root" if self.xcap_port else None

    @property
    def msrp_relay_uri(self) -> str | None:
        return f"msrp://{self.host}:{self.msrp_port};tcp" if self.msrp_port else None

    @property
    def running(self) -> bool:
        return self.process.running

    # --- life cycle -----------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> Kamailio:
        """Render the configuration, recreate the database and start; returns once every port answers."""
        for attempt in range(1, PORT_RACE_ATTEMPTS + 1):
            self._render()
            self.make_db()
            self.process.start()
            try:
                self.process.wait_ready(self._ready, timeout=timeout, what="answering OPTIONS")
            except PeerError:
                self.process.stop(timeout=2.0)
                if self._ports_fixed or attempt == PORT_RACE_ATTEMPTS or not self.process.lost_port_race():
                    raise
                self._choose_ports()  # another process took a port between choosing and binding it
                continue
            self._ports_fixed = True
            return self
        raise AssertionError("unreachable")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop Kamailio and wait until all its processes (and so its sockets) are gone."""
        self.process.stop(timeout)

    def restart(self, timeout: float = 15.0) -> Kamailio:
        """Stop, then start on the same ports with a fresh database and an empty location table."""
        self.stop()
        return self.start(timeout)

    def _ready(self) -> bool:
        if not (self.rundir / "kamailio.pid").exists():
            return False
        tcp_ports = [p for p in (self.sip_port, self.tls_port, self.xcap_port, self.msrp_port) if p]
        if not all(tcp_port_answers(port) for port in tcp_ports):
            return False
        return self.options_ping(timeout=0.5) == 200

    def options_ping(self, transport: str = "udp", timeout: float = 2.0) -> int | None:
        """Send an OPTIONS to Kamailio itself; the status code of the answer, or None."""
        try:
            with SipProbe((self.host, self.sip_port), transport=transport, timeout=timeout) as probe:
                return probe.request("OPTIONS", f"sip:{self.host}:{self.sip_port}").status
        except (OSError, TimeoutError):
            return None

    def _render(self) -> None:
        (self.rundir).mkdir(parents=True, exist_ok=True)
        for stale in ("kamailio.pid", "kamailio_rpc.sock", "kamailio_ctl"):
            with contextlib.suppress(FileNotFoundError):
                (self.rundir / stale).unlink()
        values = {
            "WORKDIR": str(self.workdir),
            "MPATH": _module_path(),
            "DEBUG": str(self.debug),
            "SIP_PORT": str(self.sip_port),
            "TLS_PORT": str(self.tls_port or 0),
            "XCAP_PORT": str(self.xcap_port or 0),
            "MSRP_PORT": str(self.msrp_port or 0),
        }
        for name in ("kamailio.cfg", "tls.cfg"):
            text = (CONFIGS / "kamailio" / name).read_text()
            for key, value in values.items():
                text = text.replace(f"@{key}@", value)
            leftover = re.search(r"@[A-Z_]+@", text)
            if leftover:
                raise PeerError(f"unreplaced placeholder {leftover.group()} in {name}")
            (self.workdir / name).write_text(text)
        if self.ca is not None:
            tls = self.workdir / "tls"
            tls.mkdir(exist_ok=True)
            for source, target in (
                (self.ca.cert, "cert.pem"),
                (self.ca.key, "key.pem"),
                (self.ca.ca_cert, "ca.pem"),
            ):
                shutil.copyfile(source, tls / target)

    def make_db(self) -> None:
        """A fresh sqlite database from Debian's schema files, plus the db_text tables of rls."""
        with contextlib.suppress(FileNotFoundError):
            self.db_path.unlink()
        schemas = ["standard", "auth_db"] + (["presence", "rls"] if "presence" in self.features else [])
        with contextlib.closing(sqlite3.connect(self.db_path)) as db, db:
            for schema in schemas:
                db.executescript((SCHEMAS / f"{schema}-create.sql").read_text())
            db.executemany(
                "INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?, ?, ?, '', '')",
                [(u.name, u.domain, u.password) for u in self.users.values()],
            )
        dbtext = self.workdir / "dbtext"
        shutil.rmtree(dbtext, ignore_errors=True)
        dbtext.mkdir()
        for table in ("rls_presentity", "rls_watchers"):
            shutil.copyfile(DBTEXT_TABLES / table, dbtext / table)
        (dbtext / "version").write_text(
            "table_name(str) table_version(int)\nrls_presentity:1\nrls_watchers:3\n"
        )

    # --- inspection -----------------------------------------------------------------------------
    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query on the sqlite database (subscriber, presentity, xcap, ...)."""
        with contextlib.closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5)) as db:
            return db.execute(sql, parameters).fetchall()

    def rpc(self, method: str, *params: Any, timeout: float = 5.0) -> Any:
        """Call a Kamailio RPC command over the jsonrpcs datagram socket; returns its ``result``."""
        client_path = self.rundir / f"rpc-client-{uuid.uuid4().hex[:8]}.sock"
        request = {"jsonrpc": "2.0", "method": method, "params": list(params), "id": next(self._rpc_ids)}
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(str(client_path))
            try:
                sock.settimeout(timeout)
                sock.sendto(json.dumps(request).encode(), str(self.rundir / "kamailio_rpc.sock"))
                reply = json.loads(sock.recv(1 << 20))
            finally:
                client_path.unlink(missing_ok=True)
        if "error" in reply:
            raise PeerError(f"kamailio rpc {method} failed: {reply['error']}")
        return reply.get("result")

    def location(self) -> dict[str, list[Binding]]:
        """The location table: address-of-record (user part) -> its contacts."""
        table: dict[str, list[Binding]] = {}
        result = self.rpc("ul.dump")
        for domain in result.get("Domains", []):
            for entry in domain.get("Domain", {}).get("AoRs", []) or []:
                info = entry.get("Info", {})
                aor = info.get("AoR", "")
                for item in info.get("Contacts", []) or []:
                    contact = item.get("Contact", {})
                    contact = {k: (None if v == "[not set]" else v) for k, v in contact.items()}
                    expires = contact.get("Expires")
                    table.setdefault(aor, []).append(
                        Binding(
                            aor=aor,
                            contact=contact.get("Address") or "",
                            expires=expires if isinstance(expires, int) else None,
                            received=contact.get("Received") or None,
                            user_agent=contact.get("User-Agent") or None,
                            raw=contact,
                        )
                    )
        return table

    def log_text(self) -> str:
        return self.process.log_text()

    def log_tail(self, lines: int = 60) -> str:
        return self.process.log_tail(lines)
