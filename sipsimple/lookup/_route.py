"""`Route`: one resolved place to send SIP requests to (address, port, transport, TLS name)."""

from __future__ import annotations

from sipsimple.core.sip.uri import SIPURI

__all__ = ["Route"]

TRANSPORTS = ("udp", "tcp", "tls")


class Route:
    """An IP address, a port (None: the transport's default), a transport ('udp', 'tcp', 'tls', any
    case) and, for TLS, the name the server's certificate must be valid for (the SIP domain).

    The attributes can be changed after construction; ``get_uri()`` gives the SIP URI of the route,
    from which a ``RouteHeader`` is made.
    """

    __slots__ = ("_transport", "address", "port", "tls_name")

    def __init__(
        self, address: str, port: int | None = None, transport: str = "udp", tls_name: str | None = None
    ) -> None:
        self.address = address
        self.port = port
        self.transport = transport
        self.tls_name = tls_name

    @property
    def transport(self) -> str:
        return self._transport

    @transport.setter
    def transport(self, transport: str) -> None:
        value = transport.lower()
        if value not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}")
        self._transport = value

    def get_uri(self) -> SIPURI:
        """``sip:address[:port];transport=<transport>``."""
        return SIPURI(host=self.address, port=self.port, parameters={"transport": self.transport})

    def _key(self) -> tuple[str, int | None, str, str | None]:
        return (self.address, self.port, self.transport, self.tls_name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Route):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # mutable: not hashable

    def __repr__(self) -> str:
        tls = "" if self.tls_name is None else f", tls_name={self.tls_name!r}"
        return (
            f"{type(self).__name__}({self.address!r}, port={self.port!r}, transport={self.transport!r}{tls})"
        )

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        port = "" if self.port is None else f":{self.port}"
        return f"{self.transport}:{host}{port}"
