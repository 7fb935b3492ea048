"""A tiny SIP client for checking peers: one request, its final response, one digest retry.

Deliberately naive (no transactions, no parser beyond header lines); it exists so the harness can
probe Kamailio and baresip without the project's SIP stack, which the interop tests are there to test.
"""

from __future__ import annotations

import hashlib
import re
import socket
import ssl
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType

from ._process import LOOPBACK


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes
    history: list[Response] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def parse_response(data: bytes) -> Response | None:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    match = re.match(r"SIP/2\.0 (\d{3}) ?(.*)", lines[0])
    if not match:
        return None
    headers = [
        (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if ":" in line)
    ]
    return Response(int(match.group(1)), match.group(2), headers, body, data)


def digest_authorization(user: str, password: str, method: str, uri: str, challenge: str) -> str:
    """An RFC 2617 ``Digest`` credentials value (MD5, qop=auth when offered) for ``challenge``."""
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge.removeprefix("Digest").strip()))

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    ha1 = md5(f"{user}:{params['realm']}:{password}")
    ha2 = md5(f"{method}:{uri}")
    value = f'Digest username="{user}", realm="{params["realm"]}", nonce="{params["nonce"]}", uri="{uri}"'
    if "auth" in params.get("qop", "").split(","):
        cnonce, nc = uuid.uuid4().hex[:16], "00000001"
        response = md5(f"{ha1}:{params['nonce']}:{nc}:{cnonce}:auth:{ha2}")
        value += f', qop=auth, nc={nc}, cnonce="{cnonce}"'
    else:
        response = md5(f"{ha1}:{params['nonce']}:{ha2}")
    value += f', response="{response}", algorithm=MD5'
    if "opaque" in params:
        value += f', opaque="{params["opaque"]}"'
    return value


class SipProbe:
    """Sends requests to one server over ``udp``, ``tcp`` or ``tls`` and reads the final response."""

    def __init__(
        self,
        server: tuple[str, int],
        *,
        transport: str = "udp",
        user: str = "probe",
        domain: str = "example.test",
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        timeout: float = 3.0,
    ) -> None:
        self.server = server
        self.transport = transport
        self.user, self.domain, self.password = user, domain, password
        self.timeout = timeout
        self.buffer = b""
        if transport == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind((LOOPBACK, 0))
        elif transport in ("tcp", "tls"):
            self.sock = socket.create_connection(server, timeout=timeout)
            if transport == "tls":
                context = ssl_context or ssl.create_default_context()
                self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname or server[0])
        else:
            raise ValueError(f"unknown transport {transport}")
        self.sock.settimeout(timeout)
        self.port = self.sock.getsockname()[1]

    def __enter__(self) -> SipProbe:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        if self.transport == "udp":
            self.sock.sendto(data, self.server)
        else:
            self.sock.sendall(data)

    def _receive(self, deadline: float) -> bytes:
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            if self.transport == "udp":
                data, _ = self.sock.recvfrom(65535)
                return data
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if sep:
                match = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
                length = int(match.group(1)) if match else 0
                if len(rest) >= length:
                    self.buffer = rest[length:]
                    return head + sep + rest[:length]
            chunk = self.sock.recv(65535)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buffer += chunk

    def request(
        self,
        method: str,
        ruri: str,
        *,
        to: str | None = None,
        headers: Iterable[str] = (),
        body: bytes | str = b"",
        content_type: str | None = None,
    ) -> Response:
        """Send ``method`` and return its final response (one retry with credentials on 401/407)."""
        body = body.encode() if isinstance(body, str) else body
        call_id, tag, history = uuid.uuid4().hex, uuid.uuid4().hex[:10], []
        extra = list(headers)
        for cseq in (1, 2):
            response = self._transaction(
                method, ruri, to or ruri, call_id, tag, cseq, extra, body, content_type
            )
            if response.status in (401, 407) and self.password is not None and cseq == 1:
                name = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
                answer = "Authorization" if response.status == 401 else "Proxy-Authorization"
                challenge = response.header(name) or ""
                extra.append(
                    f"{answer}: {digest_authorization(self.user, self.password, method, ruri, challenge)}"
                )
                history.append(response)
                continue
            response.history = history
            return response
        raise AssertionError("unreachable")

    def _transaction(
        self,
        method: str,
        ruri: str,
        to: str,
        call_id: str,
        tag: str,
        cseq: int,
        extra: list[str],
        body: bytes,
        content_type: str | None,
    ) -> Response:
        branch = "z9hG4bK" + uuid.uuid4().hex[:16]
        local = f"{LOOPBACK}:{self.port}"
        lines = [
            f"{method} {ruri} SIP/2.0",
            f"Via: SIP/2.0/{self.transport.upper()} {local};rport;branch={branch}",
            "Max-Forwards: 70",
            f"From: <sip:{self.user}@{self.domain}>;tag={tag}",
            f"To: <{to}>",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:{self.user}@{local};transport={self.transport}>",
            *extra,
        ]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
        self.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        deadline = time.monotonic() + self.timeout
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no final response to {method} {ruri}")
            response = parse_response(self._receive(deadline))
            if response is None or branch not in (response.header("Via") or ""):
                continue  # a request or a stray response
            if response.status >= 200:
                return response
