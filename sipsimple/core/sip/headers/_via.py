"""The Via header (RFC 3261 §20.42, §18.2.1; rport RFC 3581; IPv6 sent-by RFC 5118).

``SIP/2.0/UDP host[:port];params``. Whitespace is allowed around the slashes and the colon, as
the grammar's SLASH and COLON allow. The transport is stored upper case; an IPv6 host is stored
without brackets and written with them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar, Self

from .._grammar import TOKEN_CHARS, fail, format_params, number_check, parse_params
from ..uri import check_host, check_ipv6, parse_port
from ._base import ListHeader, Param, ParamCheck, Parameters, _Frozen, _Mutable, int_param, text_param

__all__ = ["FrozenViaHeader", "ViaHeader"]

_SENT_PROTOCOL = re.compile(f"SIP[ \\t]*/[ \\t]*2\\.0[ \\t]*/[ \\t]*([{TOKEN_CHARS}]+)[ \\t]+", re.IGNORECASE)
_SENT_BY = re.compile(r"(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.\-]+))(?:[ \t]*:[ \t]*([0-9]+))?")


def _decode_rport(value: str | None) -> bool | int:
    return True if value is None else int(value)


def _encode_rport(value: bool | int) -> str | None:
    return None if value is True else str(int(value))


class _ViaBase(ListHeader):
    _fields = ("transport", "host", "port", "parameters")
    __slots__ = _fields
    name = "Via"
    _param_checks: ClassVar[Mapping[str, ParamCheck]] = {
        "rport": number_check("rport parameter", 65535, flag=True),
        "ttl": number_check("ttl parameter", 255),
    }

    transport: str
    host: str
    port: int | None
    parameters: Parameters

    branch = Param("branch", text_param)
    received = Param("received", text_param)
    maddr = Param("maddr", text_param)
    ttl = Param("ttl", int_param)
    rport = Param(
        "rport",
        _decode_rport,
        _encode_rport,
        doc="None when absent, True when present without a value, else the port.",
    )

    def __init__(
        self, transport: str, host: str, port: int | None = None, parameters: Parameters | None = None
    ) -> None:
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        self._assign(transport.upper(), host, port, parameters or {})

    @classmethod
    def parse(cls, value: str) -> Self:
        """Parse one via-parm (use ``parse_list`` for a comma-separated value)."""
        value = value.strip(" \t")
        protocol = _SENT_PROTOCOL.match(value)
        if protocol is None:
            fail("expected SIP/2.0/transport and a host", value)
        sent_by = _SENT_BY.match(value, protocol.end())
        if sent_by is None:
            fail("bad sent-by", value, protocol.end())
        ipv6, name, port_text = sent_by.groups()
        host = check_ipv6(ipv6, value) if ipv6 is not None else check_host(name, value)
        port = parse_port(port_text, value) if port_text is not None else None
        params = parse_params(value, sent_by.end())
        cls._check_params(params, value)
        return cls._make(protocol.group(1).upper(), host, port, params)

    @property
    def body(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port is None else f":{self.port}"
        return f"SIP/2.0/{self.transport} {host}{port}{format_params(self.parameters)}"

    def _compare_key(self) -> tuple[object, ...]:
        transport, host, *rest = super()._compare_key()
        return (transport.upper(), host.lower(), *rest)


class ViaHeader(_Mutable, _ViaBase):
    """``ViaHeader(transport, host, port=None, parameters=None)`` with ``branch``, ``received``,
    ``rport``, ``maddr`` and ``ttl`` properties."""

    __slots__ = ()
    parameters: dict[str, str | None]


class FrozenViaHeader(_Frozen, _ViaBase):
    __slots__ = ()
