"""SIP, STUN, XCAP, MSRP and SRTP datatypes."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any, ClassVar, Self

from ._base import Choice, Frozen, List, invalid, parse_int
from ._generic import format_host, parse_host, parse_ip

__all__ = [
    "MSRPConnectionModel",
    "MSRPRelayAddress",
    "MSRPTransport",
    "SIPAddress",
    "SIPProxyAddress",
    "SIPTransport",
    "SIPTransportList",
    "SRTPCryptoSuite",
    "SRTPCryptoSuiteList",
    "SRTPKeyNegotiation",
    "STUNServerAddress",
    "STUNServerAddressList",
    "XCAPRoot",
]


# -- enumerations -----------------------------------------------------------------------------


class SIPTransport(Choice):
    """``udp``, ``tcp`` or ``tls``."""

    __slots__ = ()
    label = "SIP transport"
    values = ("udp", "tcp", "tls")


class SIPTransportList(List):
    """An ordered list of :class:`SIPTransport` without duplicates (``"tls, tcp, udp"``)."""

    __slots__ = ()
    type = SIPTransport
    label = "SIP transport list"


class MSRPTransport(Choice):
    """``tls`` or ``tcp``."""

    __slots__ = ()
    label = "MSRP transport"
    values = ("tls", "tcp")


class MSRPConnectionModel(Choice):
    """``relay`` (RFC 4976 relays) or ``acm`` (RFC 6135 alternative connection model)."""

    __slots__ = ()
    label = "MSRP connection model"
    values = ("relay", "acm")


class SRTPKeyNegotiation(Choice):
    """How SRTP keys are offered: ``opportunistic``, ``sdes_optional`` or ``sdes_mandatory``."""

    __slots__ = ()
    label = "SRTP key negotiation"
    values = ("opportunistic", "sdes_optional", "sdes_mandatory")


class SRTPCryptoSuite(Choice):
    """An SRTP crypto suite name as written in SDP ``a=crypto`` lines."""

    __slots__ = ()
    label = "SRTP crypto suite"
    values = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM", "AEAD_AES_256_GCM")


class SRTPCryptoSuiteList(List):
    """An ordered list of :class:`SRTPCryptoSuite` without duplicates."""

    __slots__ = ()
    type = SRTPCryptoSuite
    label = "SRTP crypto suite list"


# -- host[:port][;params] ---------------------------------------------------------------------


def server_port(value: object) -> int:
    """Validate the port of a remote server: 1..65535 (port 0 means nothing there)."""
    number = parse_int(value)
    if number is None or not 1 <= number <= 65535:
        raise ValueError(f"port {value!r}: must be an integer in 1..65535")
    return number


def split_hostport(text: str) -> tuple[str, int | None]:
    """Split ``host``, ``host:port``, ``[ipv6]`` or ``[ipv6]:port`` into a canonical host and port."""
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise ValueError("']' missing after the IPv6 address")
        host_text, rest = text[: close + 1], text[close + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError(f"unexpected {rest!r} after {host_text}")
        port_text: str | None = rest[1:] if rest else None
    elif text.count(":") > 1:
        raise ValueError("an IPv6 address must be written in brackets, as in [2001:db8::1]:5060")
    else:
        host_text, colon, after = text.partition(":")
        port_text = after if colon else None
    try:
        host = parse_host(host_text)
    except ValueError as exc:
        raise ValueError(f"host {host_text!r}: {exc}") from None
    if port_text is None:
        return host, None
    if not (port_text.isascii() and port_text.isdigit()):
        raise ValueError(f"port {port_text!r}: must be an integer in 1..65535")
    return host, server_port(port_text)


def parse_address(
    text: str, *, schemes: Mapping[str, str | None], parameters: Collection[str]
) -> tuple[str, int | None, dict[str, str]]:
    """Parse ``[scheme:]host[:port][;name[=value]]...`` into ``(host, port, parameters)``.

    ``schemes`` maps each accepted URI prefix to the transport it implies (or None); an implied
    transport is returned as the ``transport`` parameter.  Parameter names are case-insensitive
    and must be in ``parameters``.  ``"sip:5060"`` is the host ``sip`` with port 5060.
    """
    implied: str | None = None
    scheme, colon, rest = text.partition(":")
    scheme = scheme.lower()
    if colon and scheme in schemes and not re.match(r"[0-9]+(;|$)", rest):
        implied = schemes[scheme]
        text = rest
    hostport, *items = text.split(";")
    if "@" in hostport:
        raise ValueError("a user part is not allowed in a server address")
    host, port = split_hostport(hostport)
    found: dict[str, str] = {}
    for item in items:
        name, _, value = item.partition("=")
        name = name.strip().lower()
        if name not in parameters:
            accepted = ", ".join(parameters) or "none"
            raise ValueError(f"unsupported parameter {item!r} (accepted: {accepted})")
        if name in found:
            raise ValueError(f"parameter {name!r} given twice")
        found[name] = value.strip()
    if implied is not None and found.setdefault("transport", implied).lower() != implied:
        raise ValueError(f"a {scheme}: URI implies transport={implied}")
    return host, port, found


class _ServerAddress(Frozen):
    """A remote server: ``host`` (canonical, IPv6 without brackets), ``port`` and, when the class
    sets ``transport_type``, ``transport``.

    ``T("host:port;transport=x")`` parses the string form; ``T(host, port=..., transport=...)``
    takes the parts, and then ``host`` may be a bare IPv6 address.  Parts left out take the
    class defaults.
    """

    __slots__ = ("host", "port")
    host: str
    port: int | None
    label: ClassVar[str] = "server address"
    default_port: ClassVar[int | None] = None
    schemes: ClassVar[Mapping[str, str | None]] = {}
    parameters: ClassVar[tuple[str, ...]] = ()
    transport_type: ClassVar[type[Choice] | None] = None
    default_transport: ClassVar[str] = ""

    def _init(self, value: object, port: object, transport: object) -> None:
        try:
            host, found_port, found_transport = self._parse(value, port, transport)
        except ValueError as exc:
            shown = value if port is None and transport is None else (value, port, transport)
            raise invalid(self.label, shown, str(exc)) from None
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "port", self.default_port if found_port is None else found_port)
        if self.transport_type is not None:
            object.__setattr__(self, "transport", found_transport)

    def _parse(self, value: object, port: object, transport: object) -> tuple[str, int | None, str]:
        found_transport: object
        if port is None and transport is None:
            if isinstance(value, _ServerAddress) and type(value) is type(self):
                return value.host, value.port, getattr(value, "transport", "")
            if not isinstance(value, str):
                raise ValueError("must be a string")
            host, found_port, params = parse_address(
                value.strip(), schemes=self.schemes, parameters=self.parameters
            )
            found_transport = params.get("transport")
        else:
            if not isinstance(value, str):
                raise ValueError("the host must be a string")
            try:
                host = parse_host(value.strip())
            except ValueError as exc:
                raise ValueError(f"host {value!r}: {exc}") from None
            found_port = None if port is None else server_port(port)
            found_transport = transport
        if self.transport_type is None:
            return host, found_port, ""
        if found_transport is None:
            found_transport = self.default_transport
        return host, found_port, str(self.transport_type(found_transport))

    def _key(self) -> tuple[Any, ...]:
        return (self.host, self.port)

    def _hostport(self) -> str:
        host = format_host(self.host)
        return host if self.port is None else f"{host}:{self.port}"


class STUNServerAddress(_ServerAddress):
    """A STUN server, canonical form ``host:port``; the port defaults to 3478.

    Accepts ``"stun.example.com"``, ``"stun.example.com:3479"``, ``"[2001:db8::1]:3478"`` and an
    optional RFC 7064 ``stun:`` prefix, or ``STUNServerAddress("stun.example.com", port=3479)``.
    """

    __slots__ = ()
    label = "STUN server address"
    default_port = 3478
    schemes = {"stun": None}

    def __init__(self, host: object, port: object = None) -> None:
        self._init(host, port, None)

    def __str__(self) -> str:
        return self._hostport()

    def __repr__(self) -> str:
        return f"STUNServerAddress({self.host!r}, port={self.port})"


class STUNServerAddressList(List):
    """An ordered list of :class:`STUNServerAddress` without duplicates."""

    __slots__ = ()
    type = STUNServerAddress
    label = "STUN server address list"


class _TransportAddress(_ServerAddress):
    """A server address with a transport, canonical form ``host[:port];transport=name``."""

    __slots__ = ("transport",)
    transport: str

    def __init__(self, host: object, port: object = None, transport: object = None) -> None:
        self._init(host, port, transport)

    def _key(self) -> tuple[Any, ...]:
        return (self.host, self.port, self.transport)

    def __str__(self) -> str:
        return f"{self._hostport()};transport={self.transport}"

    def __repr__(self) -> str:
        port = "" if self.port is None else f", port={self.port}"
        return f"{type(self).__name__}({self.host!r}{port}, transport={self.transport!r})"


class SIPProxyAddress(_TransportAddress):
    """An outbound SIP proxy: ``host``, ``port`` (None: found through DNS as in RFC 3263) and
    ``transport`` (default ``udp``).

    Canonical form ``host:port;transport=tls`` or, without a port, ``host;transport=tcp``.
    Accepts an optional ``sip:`` or ``sips:`` prefix (``sips:`` implies ``tls``) and the
    ``;lr`` parameter, which is ignored (an outbound proxy is always a loose router).
    """

    __slots__ = ()
    label = "SIP proxy address"
    schemes = {"sip": None, "sips": "tls"}
    parameters = ("transport", "lr")
    transport_type = SIPTransport
    default_transport = "udp"


class MSRPRelayAddress(_TransportAddress):
    """An MSRP relay: ``host``, ``port`` (default 2855) and ``transport`` (default ``tls``).

    Canonical form ``host:port;transport=tls``.
    """

    __slots__ = ()
    label = "MSRP relay address"
    parameters = ("transport",)
    default_port = 2855
    transport_type = MSRPTransport
    default_transport = "tls"


# -- SIP address ------------------------------------------------------------------------------

_USER = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+")


class SIPAddress(str):
    """A SIP address of record ``user@domain`` (canonical form, without a URI scheme).

    Accepts an optional ``sip:``/``sips:`` prefix.  The user part may hold letters, digits,
    ``-_.!~*'()&=+$,;?/`` and ``%XX`` escapes, and keeps its case; the domain is a host name
    (lowercased) or an IP address (IPv6 in brackets in the string form, e.g. ``alice@[2001:db8::1]``).
    Ports and URI parameters are not part of an address of record and are refused.
    """

    __slots__ = ()

    def __new__(cls, value: object) -> Self:
        if type(value) is cls:
            return value
        if not isinstance(value, str):
            raise invalid("SIP address", value, "must be a string")
        text = value.strip()
        scheme, colon, rest = text.partition(":")
        if colon and scheme.lower() in ("sip", "sips"):
            text = rest
        user, at, domain = text.rpartition("@")
        if not at:
            raise invalid("SIP address", value, "must look like user@domain")
        if not user:
            raise invalid("SIP address", value, "the user part before '@' must not be empty")
        if not _USER.fullmatch(user):
            raise invalid(
                "SIP address",
                value,
                f"user part {user!r} may only hold letters, digits, %XX escapes and -_.!~*'()&=+$,;?/",
            )
        if ":" in domain and not domain.startswith("[") and parse_ip(domain) is None:
            raise invalid("SIP address", value, "a port is not allowed (write IPv6 addresses in brackets)")
        try:
            host = parse_host(domain)
        except ValueError as exc:
            raise invalid("SIP address", value, f"domain {domain!r}: {exc}") from None
        return super().__new__(cls, f"{user}@{format_host(host)}")

    @property
    def username(self) -> str:
        """The user part, as written."""
        return self.rpartition("@")[0]

    @property
    def domain(self) -> str:
        """The host part: a lowercase name or an IP address (IPv6 without brackets)."""
        return self.rpartition("@")[2].removeprefix("[").removesuffix("]")

    def __repr__(self) -> str:
        return f"SIPAddress({str(self)!r})"


# -- XCAP root --------------------------------------------------------------------------------

_URL_PATH = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def split_xcap_root(text: str) -> tuple[str, str, int | None, str]:
    """Parse an http(s) URL into ``(scheme, host, port or None, path without trailing '/')``."""
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _DEFAULT_PORTS:
        raise ValueError("must be an http:// or https:// URL")
    if "?" in rest or "#" in rest:
        raise ValueError("must not have a query (?) or a fragment (#)")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        raise ValueError("must not hold user credentials (they belong in the account settings)")
    host, port = split_hostport(authority)
    path = (slash + path).rstrip("/")
    if not _URL_PATH.fullmatch(path):
        raise ValueError(f"path {path!r} holds characters that must be %-escaped")
    return scheme, host, None if port == _DEFAULT_PORTS[scheme] else port, path


class XCAPRoot(str):
    """The root URL of an XCAP server (RFC 4825): ``http://`` or ``https://``, a host, an optional
    port and path; no query, fragment or credentials.

    Canonical form: scheme and host lowercased, the scheme's default port dropped, no trailing
    ``/`` (so ``https://xcap.example.com/xcap-root/`` becomes ``https://xcap.example.com/xcap-root``
    and document URLs are built as ``root + "/" + auid + ...``).
    """

    __slots__ = ()

    def __new__(cls, value: object) -> Self:
        if type(value) is cls:
            return value
        if not isinstance(value, str):
            raise invalid("XCAP root", value, "must be a string")
        try:
            scheme, host, port, path = split_xcap_root(value.strip())
        except ValueError as exc:
            raise invalid("XCAP root", value, str(exc)) from None
        port_text = "" if port is None else f":{port}"
        return super().__new__(cls, f"{scheme}://{format_host(host)}{port_text}{path}")

    @property
    def scheme(self) -> str:
        """``http`` or ``https``."""
        return split_xcap_root(self)[0]

    @property
    def host(self) -> str:
        """The host (IPv6 without brackets)."""
        return split_xcap_root(self)[1]

    @property
    def port(self) -> int:
        """The port to connect to: the one given, else 80 for http and 443 for https."""
        scheme, _, port, _ = split_xcap_root(self)
        return _DEFAULT_PORTS[scheme] if port is None else port

    @property
    def path(self) -> str:
        """The path without a trailing ``/`` (empty for the server root)."""
        return split_xcap_root(self)[3]

    def __repr__(self) -> str:
        return f"XCAPRoot({str(self)!r})"
