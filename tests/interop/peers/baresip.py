"""baresip 1.0 as a headless user agent (null audio, 440 Hz sine source, auto-answer).

Control goes through the ctrl_tcp module: netstring-framed JSON, ``{"command": "reginfo", "token":
"1"}`` in, ``{"response": true, "ok": ..., "data": ..., "token": ...}`` back, and unsolicited
``{"event": true, ...}`` objects (REGISTER_OK, CALL_INCOMING, ...) pushed to every connected client.
baresip runs with ``-s`` (SIP trace to its log), which is how a test sees what it received: baresip
1.0 shows an incoming MESSAGE only on a UI module, which this headless set-up does not load.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.wait import wait_for

from . import CONFIGS
from ._process import (
    LOOPBACK,
    PORT_RACE_ATTEMPTS,
    ManagedProcess,
    PeerError,
    free_port,
    require_binary,
    reserve_port,
    tcp_port_answers,
)
from .kamailio import Kamailio, User

MODULE_PATH = "/usr/lib/baresip/modules"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
TRACE_BLOCK = re.compile(r"\x1b\[36;1m#\n(.*?)\x1b\[;m", re.S)  # one message of the -s trace


@dataclass(frozen=True)
class TracedMessage:
    """One SIP message from baresip's ``-s`` trace."""

    transport: str
    source: str
    destination: str
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0].strip()

    @property
    def method(self) -> str | None:
        word = self.first_line.split(" ", 1)[0]
        return None if word.startswith("SIP/") else word

    def header(self, name: str) -> str | None:
        head = self.text.split("\n\n", 1)[0]
        match = re.search(rf"(?im)^{re.escape(name)}\s*:\s*(.*)$", head)
        return match.group(1).strip() if match else None

    @property
    def body(self) -> str:
        return self.text.split("\n\n", 1)[1] if "\n\n" in self.text else ""


@dataclass(frozen=True)
class ReceivedMessage:
    """An instant message (SIP MESSAGE) that baresip received."""

    sender: str
    content_type: str | None
    body: str


def _netstring(payload: bytes) -> bytes:
    return b"%d:%s," % (len(payload), payload)


class BaresipControl:
    """A ctrl_tcp connection. ``command()`` returns the response; events seen meanwhile are kept."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
        self.timeout = timeout
        self.buffer = b""
        self.events: list[dict[str, Any]] = []
        self._tokens = 0

    def close(self) -> None:
        self.sock.close()

    def _next(self, deadline: float) -> dict[str, Any] | None:
        while True:
            match = re.match(rb"(\d+):", self.buffer)
            if match:
                start = match.end()
                end = start + int(match.group(1))
                if len(self.buffer) > end:
                    payload, self.buffer = self.buffer[start:end], self.buffer[end + 1 :]
                    return json.loads(payload)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                raise PeerError("baresip closed the ctrl_tcp connection")
            self.buffer += chunk

    def command(
        self, command: str, params: str | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Run a baresip command (the same names as its menu: reginfo, dial, hangup, ...)."""
        self._tokens += 1
        token = str(self._tokens)
        request: dict[str, Any] = {"command": command, "token": token}
        if params is not None:
            request["params"] = params
        self.sock.sendall(_netstring(json.dumps(request).encode()))
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            message = self._next(deadline)
            if message is None:
                raise PeerError(f"no ctrl_tcp response to {command!r}")
            if message.get("event"):
                self.events.append(message)
            elif message.get("response") and message.get("token") == token:
                if isinstance(message.get("data"), str):
                    message["data"] = ANSI.sub("", message["data"])
                return message

    def poll_events(self, timeout: float = 0.0) -> list[dict[str, Any]]:
        """Read the events that arrive within ``timeout``; returns all events seen so far."""
        deadline = time.monotonic() + timeout
        while (message := self._next(deadline)) is not None:
            if message.get("event"):
                self.events.append(message)
        return self.events


class Baresip:
    """A baresip instance with one account, its own config directory and free ports.

    ``account``: a user name (its password comes from ``registrar.users``), a :class:`User`, or a
    complete baresip account line (``<sip:...>;auth_pass=...``). With a ``registrar`` the account
    registers through it (``outbound`` proxy, ``transport`` udp or tcp); without one it does not
    register (``regint=0``) and is reached directly at :attr:`uri`. ``config`` names the template
    under configs/baresip (``config-audio``: a WAV source and recordings, see that file) and
    ``config_values`` fills its extra ``@NAME@`` placeholders.
    """

    def __init__(
        self,
        workdir: Path,
        account: str | User = "bob",
        *,
        registrar: Kamailio | None = None,
        transport: str = "udp",
        answermode: str = "auto",
        account_params: Mapping[str, str] | None = None,
        dns_server: tuple[str, int] | None = None,
        rtp_ports: tuple[int, int] = (20000, 20999),
        config: str = "config",
        config_values: Mapping[str, str] | None = None,
    ) -> None:
        self.binary = require_binary("baresip", "baresip-core")
        self.workdir = workdir
        self.registrar = registrar
        self.sip_port = self._sip_port()
        self.ctrl_port = free_port(socket.SOCK_STREAM)
        if isinstance(account, str) and account.startswith("<"):
            self.account_line = account
            self.user: User | None = None
        else:
            if isinstance(account, str):
                if registrar is None or account not in registrar.users:
                    raise ValueError(f"unknown user {account!r}: pass a User or a registrar that has it")
                account = registrar.users[account]
            self.user = account
            params = {"auth_pass": account.password, "answermode": answermode}
            if registrar is not None:
                suffix = "" if transport == "udp" else f";transport={transport}"
                params["outbound"] = f'"sip:{registrar.host}:{registrar.sip_port}{suffix}"'
                params["regint"] = "300"
            else:
                params["regint"] = "0"
            params["audio_codecs"] = "PCMU/8000/1,PCMA/8000/1,G722/16000/1,opus/48000/2"
            params.update(account_params or {})
            self.account_line = f"<{account.uri}>;" + ";".join(f"{k}={v}" for k, v in params.items())
        self.dns_server = dns_server or (LOOPBACK, free_port(socket.SOCK_DGRAM))
        self.rtp_ports = rtp_ports
        self.config_template = config  # a file under configs/baresip (``config-audio``: aufile, sndfile)
        self.config_values = dict(config_values or {})  # its other @NAME@ placeholders
        self.process = ManagedProcess(
            "baresip", [self.binary, "-s", "-f", workdir / "config"], workdir / "baresip.log", cwd=workdir
        )
        self.control: BaresipControl | None = None

    @staticmethod
    def _sip_port() -> int:
        """A port free for UDP and TCP, with the next one free for TCP (baresip's TLS listener)."""
        for _ in range(50):
            port = free_port()
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                    sock.bind((LOOPBACK, port + 1))
            except OSError:
                continue
            reserve_port(port + 1)
            return port
        raise PeerError("no port pair free for baresip")

    def __repr__(self) -> str:
        return f"<Baresip {self.account_line.split(';')[0]} sip={self.sip_port} ctrl={self.ctrl_port} {self.process!r}>"

    @property
    def uri(self) -> str:
        """Where baresip listens: ``sip:USER@127.0.0.1:PORT``."""
        user = self.user.name if self.user else "baresip"
        return f"sip:{user}@{LOOPBACK}:{self.sip_port}"

    @property
    def running(self) -> bool:
        return self.process.running

    def start(self, timeout: float = 10.0, wait_registered: bool = True) -> Baresip:
        for attempt in range(1, PORT_RACE_ATTEMPTS + 1):
            self._write_config()
            self.process.start()
            try:
                # baresip carries on when a module fails (ctrl_tcp on a taken port): check its log
                self.process.wait_ready(
                    lambda: "baresip is ready." in self.process.log_since_start(), timeout=timeout
                )
                if self.process.lost_port_race() or not tcp_port_answers(self.ctrl_port):
                    raise PeerError(f"baresip started without ctrl_tcp\n{self.process.log_tail()}")
            except PeerError:
                self.process.stop(timeout=2.0)
                if attempt == PORT_RACE_ATTEMPTS or not self.process.lost_port_race():
                    raise
                # another process took a port between choosing and binding it
                self.sip_port, self.ctrl_port = self._sip_port(), free_port(socket.SOCK_STREAM)
                continue
            break
        self.control = BaresipControl(self.ctrl_port)
        if wait_registered and self.registrar is not None:
            self.wait_registered(timeout)
        return self

    def _write_config(self) -> None:
        config_dir = self.workdir / "config"
        config_dir.mkdir(parents=True, exist_ok=True)
        values = {
            "SIP_PORT": str(self.sip_port),
            "CTRL_PORT": str(self.ctrl_port),
            "RTP_PORTS": f"{self.rtp_ports[0]}-{self.rtp_ports[1]}",
            "MODULE_PATH": MODULE_PATH,
            "DNS_SERVER": f"{self.dns_server[0]}:{self.dns_server[1]}",
            **self.config_values,
        }
        text = (CONFIGS / "baresip" / self.config_template).read_text()
        for key, value in values.items():
            text = text.replace(f"@{key}@", value)
        (config_dir / "config").write_text(text)
        (config_dir / "accounts").write_text(self.account_line + "\n")
        (config_dir / "contacts").write_text("")

    def stop(self, timeout: float = 5.0) -> None:
        if self.control is not None:
            self.control.close()
            self.control = None
        self.process.stop(timeout)

    def command(self, command: str, params: str | None = None) -> dict[str, Any]:
        if self.control is None:
            raise PeerError("baresip is not running")
        return self.control.command(command, params)

    def reginfo(self) -> str:
        """The text of the ``reginfo`` command (one line per user agent, with OK/ERR/zzz)."""
        return str(self.command("reginfo").get("data", ""))

    def is_registered(self) -> bool:
        info = self.reginfo()
        return any(" OK " in line for line in info.splitlines())

    def wait_registered(self, timeout: float = 10.0) -> None:
        self.process.wait_ready(self.is_registered, timeout=timeout, what="registered (reginfo OK)")

    def trace(self) -> list[TracedMessage]:
        """Every SIP message in baresip's ``-s`` trace so far."""
        messages = []
        for block in TRACE_BLOCK.findall(self.process.log_text()):
            block = ANSI.sub("", block).replace("\r\n", "\n")
            address_line, _, text = block.partition("\n")
            match = re.fullmatch(r"(\w+) (\S+) -> (\S+)", address_line.strip())
            if match:
                messages.append(TracedMessage(*match.groups(), text.rstrip("\n")))
        return messages

    def received_messages(self) -> list[ReceivedMessage]:
        """The SIP MESSAGE requests that reached baresip, oldest first."""
        local = f"{LOOPBACK}:{self.sip_port}"
        return [
            ReceivedMessage(m.header("From") or "", m.header("Content-Type"), m.body.strip("\n"))
            for m in self.trace()
            if m.method == "MESSAGE" and m.destination == local
        ]

    def wait_for_message(self, body_contains: str, timeout: float = 5.0) -> ReceivedMessage:
        """The first MESSAGE whose body contains ``body_contains``, once it has arrived (polled)."""
        found: list[ReceivedMessage] = []

        def arrived() -> bool:
            found[:] = [m for m in self.received_messages() if body_contains in m.body]
            return bool(found)

        what = f"baresip to receive a MESSAGE containing {body_contains!r}"
        wait_for(arrived, lambda: f"{what}\n{self.process.log_tail()}", timeout, interval=0.05)
        return found[0]

    def log_tail(self, lines: int = 60) -> str:
        return self.process.log_tail(lines)
