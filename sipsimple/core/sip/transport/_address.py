"""Transport addresses: which transport, which host, which port.

A `TransportAddress` names one end of a SIP hop: ``udp:192.0.2.1:5060``, ``tls:[2001:db8::1]:5061``.
Hosts are kept without brackets; IP literals are normalised (``::0001`` becomes ``::1``) so that
two spellings of one address compare equal, which the connection table relies on.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal, cast

__all__ = ["STREAM_TRANSPORTS", "TRANSPORTS", "Transport", "TransportAddress", "ip_family"]

Transport = Literal["udp", "tcp", "tls"]
TRANSPORTS: Final[tuple[Transport, ...]] = ("udp", "tcp", "tls")
STREAM_TRANSPORTS: Final[frozenset[str]] = frozenset({"tcp", "tls"})


@lru_cache(maxsize=4096)
def ip_family(host: str) -> int | None:
    """Return 4 or 6 for an IP literal (without brackets), None for anything else."""
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None


@lru_cache(maxsize=4096)  # peers repeat: parse each spelling once
def _normalise_host(host: str) -> str:
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ValueError("the host of a transport address cannot be empty")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        if any(c in host for c in " \t\r\n[]"):
            raise ValueError(f"invalid host in transport address: {host!r}") from None
        return host.lower()


@dataclass(frozen=True, slots=True)
class TransportAddress:
    """One end of a SIP hop. ``str()`` gives ``udp:[::1]:5060``; `parse` reads that form back."""

    transport: Transport
    host: str
    port: int

    def __post_init__(self) -> None:
        transport = str(self.transport).lower()
        if transport not in TRANSPORTS:
            raise ValueError(f"unknown transport {self.transport!r}; expected one of {TRANSPORTS}")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ValueError(f"invalid port {self.port!r}")
        object.__setattr__(self, "transport", transport)
        object.__setattr__(self, "host", _normalise_host(self.host))

    @property
    def family(self) -> int | None:
        """4 or 6 when the host is an IP literal, else None."""
        return ip_family(self.host)

    @property
    def is_stream(self) -> bool:
        """True for TCP and TLS (connection-oriented transports)."""
        return self.transport in STREAM_TRANSPORTS

    def with_transport(self, transport: Transport) -> TransportAddress:
        """The same host and port on another transport."""
        return TransportAddress(transport, self.host, self.port)

    @property
    def hostport(self) -> str:
        """``host:port`` with brackets around an IPv6 host."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.transport}:{self.hostport}"

    @classmethod
    def parse(cls, text: str) -> TransportAddress:
        """Read the ``str()`` form back: ``parse(str(a)) == a``."""
        transport, sep, rest = text.partition(":")
        if not sep:
            raise ValueError(f"not a transport address: {text!r}")
        if rest.startswith("["):
            host, bracket, tail = rest[1:].partition("]")
            if not bracket or not tail.startswith(":"):
                raise ValueError(f"not a transport address: {text!r}")
            port_text = tail[1:]
        else:
            host, sep, port_text = rest.rpartition(":")
            if not sep or ":" in host:
                raise ValueError(f"not a transport address: {text!r}")
        if not port_text.isdigit():
            raise ValueError(f"not a transport address: {text!r}")
        return cls(cast(Transport, transport.lower()), host, int(port_text))
