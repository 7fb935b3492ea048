"""coturn (``turnserver``) as a STUN server with RFC 5780 NAT behaviour discovery on loopback.

It listens on two addresses, 127.0.0.1 and 127.0.0.2 (``-L`` twice, which is what turns RFC 5780 on),
each on ``port`` and ``alt_port``, UDP only, STUN only, without authentication, CLI or TLS. Its
database and pid file are in the peer's work directory; it logs to stdout, which goes to the log
file. Readiness is a Binding request sent to each of the four addresses with a plain socket and
hand-built bytes (the harness does not use the project's STUN code).
"""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

from ._process import PORT_RACE_ATTEMPTS, ManagedProcess, PeerError, free_port, require_binary

HOSTS = ("127.0.0.1", "127.0.0.2")
_COOKIE = 0x2112A442


def binding_answered(address: tuple[str, int], timeout: float = 0.2) -> bool:
    """True when a Binding request to ``address`` gets a success response with our transaction id."""
    transaction_id = os.urandom(12)
    request = struct.pack("!HHI", 0x0001, 0, _COOKIE) + transaction_id
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(timeout)
        try:
            probe.sendto(request, address)
            data, _ = probe.recvfrom(2048)
        except OSError:  # timeout, ICMP port unreachable
            return False
    return len(data) >= 20 and data[:2] == b"\x01\x01" and data[8:20] == transaction_id


class Coturn:
    """A coturn STUN server on 127.0.0.1 and 127.0.0.2, ports ``port`` and ``alt_port``."""

    def __init__(self, workdir: Path) -> None:
        self.binary = require_binary("turnserver", "coturn")
        self.workdir = workdir
        self.hosts = HOSTS
        self.port = free_port(socket.SOCK_DGRAM)
        self.alt_port = free_port(socket.SOCK_DGRAM)
        self.process = self._process()

    def _process(self) -> ManagedProcess:
        argv = [
            self.binary,
            "-n",  # no configuration file
            "--log-file=stdout",
            "--simple-log",
            "--stun-only",
            "--no-auth",
            "--no-tcp",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            f"--listening-port={self.port}",
            f"--alt-listening-port={self.alt_port}",
            f"--pidfile={self.workdir / 'turnserver.pid'}",
            f"--userdb={self.workdir / 'turndb'}",
        ]
        for host in self.hosts:
            argv += ["--listening-ip", host]
        return ManagedProcess("coturn", argv, self.workdir / "coturn.log", cwd=self.workdir, stop_timeout=5.0)

    def __repr__(self) -> str:
        return f"<Coturn {self.hosts} ports {self.port}/{self.alt_port} {self.process!r}>"

    @property
    def primary(self) -> tuple[str, int]:
        return (self.hosts[0], self.port)

    @property
    def other(self) -> tuple[str, int]:
        """The address that differs from the primary in IP and port (its RFC 5780 OTHER-ADDRESS)."""
        return (self.hosts[1], self.alt_port)

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [(host, port) for host in self.hosts for port in (self.port, self.alt_port)]

    @property
    def running(self) -> bool:
        return self.process.running

    def start(self, timeout: float = 10.0) -> Coturn:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, PORT_RACE_ATTEMPTS + 1):
            self.process.start()
            try:
                self.process.wait_ready(
                    lambda: all(binding_answered(address) for address in self.addresses),
                    timeout=timeout,
                    what="answering Binding requests on its four addresses",
                )
            except PeerError:
                self.process.stop(timeout=2.0)
                if attempt == PORT_RACE_ATTEMPTS or not self.process.lost_port_race():
                    raise
                self.port, self.alt_port = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
                self.process = self._process()
                continue
            return self
        raise AssertionError("unreachable")

    def stop(self, timeout: float = 5.0) -> None:
        self.process.stop(timeout)

    def log_tail(self, lines: int = 60) -> str:
        return self.process.log_tail(lines)
