"""SIP and SIPS URIs (RFC 3261 §19.1, §25; IPv6 references per RFC 5118) and other absolute URIs.

``SIPURI`` is mutable, ``FrozenSIPURI`` is immutable and hashable; both parse, serialise and
compare the same way. Components are stored unescaped (``%41`` becomes ``A``); ``str()`` escapes
what the grammar requires, so ``str(SIPURI.parse(x)) == x`` for canonical input. Equality is the
RFC 3261 §19.1.4 comparison (``matches``). Any other scheme (``tel:``, ``urn:``...) is an
``AbsoluteURI`` value, so headers such as Contact and From can carry it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any, NoReturn, Self

from ._grammar import HEADER, PARAM, PASSWORD, USER, FrozenDict, SIPParseError, fail, find_key

__all__ = [
    "AbsoluteURI",
    "BaseSIPURI",
    "FrozenSIPURI",
    "SIPParseError",
    "SIPURI",
    "parse_any_uri",
    "parse_uri",
]

# Domain labels; '_' is tolerated although RFC 1034 does not allow it, because it is seen in use.
_LABEL = r"[A-Za-z0-9_]+(?:-+[A-Za-z0-9_]+)*"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_NUMERIC = re.compile(r"[0-9.]+")
_IPV4 = re.compile(
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}"
)
_IPV6_CHARS = re.compile(r"[0-9A-Fa-f:.]+")
_PORT = re.compile(r"[0-9]{1,5}")
_ABSOLUTE = re.compile(r"([A-Za-z][A-Za-z0-9+\-.]*):([A-Za-z0-9\-_.!~*'();/?:@&=+$,%\[\]#]+)")

#: uri-parameters that must match when either URI has them (RFC 3261 §19.1.4).
_SIGNIFICANT_PARAMETERS = ("user", "ttl", "method", "maddr", "transport")


def check_ipv6(address: str, source: str) -> str:
    """An IPv6 address (without brackets); RFC 5118 §4.10's ':::' typo is repaired to '::'."""
    if _IPV6_CHARS.fullmatch(address) is not None:
        for candidate in (address, address.replace(":::", "::", 1)):
            try:
                ipaddress.IPv6Address(candidate)
            except ValueError:
                continue
            return candidate
    fail("bad IPv6 address", source)


def check_host(host: str, source: str) -> str:
    """A hostname or IPv4 address, as written (no brackets here)."""
    if _NUMERIC.fullmatch(host) is not None:
        if _IPV4.fullmatch(host) is None:
            fail("bad IPv4 address", source)
    elif _HOSTNAME.fullmatch(host) is None:
        fail("bad host name", source)
    return host


def parse_port(text: str, source: str) -> int:
    if _PORT.fullmatch(text) is None or int(text) > 65535:
        fail("bad port", source)
    return int(text)


def parse_hostport(hostport: str, source: str) -> tuple[str, int | None]:
    """``host [":" port]`` where host may be an ``[IPv6]`` reference; IPv6 loses its brackets."""
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            fail("unterminated IPv6 reference", source)
        host = check_ipv6(hostport[1:close], source)
        rest = hostport[close + 1 :]
        if not rest:
            return host, None
        if rest[0] != ":":
            fail("unexpected text after IPv6 reference", source)
        return host, parse_port(rest[1:], source)
    host, colon, port = hostport.partition(":")
    check_host(host, source)
    return host, parse_port(port, source) if colon else None


def _parse_uri_parameters(text: str, source: str) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    for item in text.split(";"):
        name, equals, value = item.partition("=")
        if not name:
            fail("empty URI parameter", source)
        params[PARAM.parse(name, source)] = PARAM.parse(value, source) if equals else None
    return params


def _parse_uri_headers(text: str, source: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in text.split("&"):
        name, _, value = item.partition("=")
        if not name:
            fail("empty URI header", source)
        headers[HEADER.parse(name, source)] = HEADER.parse(value, source)
    return headers


_Parts = tuple[str, str | None, str | None, int | None, bool, dict[str, str | None], dict[str, str]]


def _parse_sip_uri(text: str) -> _Parts:
    colon = text.find(":")
    scheme = text[:colon].lower() if colon > 0 else ""
    if scheme == "sip":
        secure = False
    elif scheme == "sips":
        secure = True
    else:
        fail("not a sip: or sips: URI", text)
    rest = text[colon + 1 :]
    user = password = None
    at = rest.find("@")
    if at >= 0:
        user_text, colon_found, password_text = rest[:at].partition(":")
        if not user_text:
            fail("empty user part", text)
        user = USER.parse(user_text, text)
        password = PASSWORD.parse(password_text, text) if colon_found else None
        rest = rest[at + 1 :]
    rest, question, header_text = rest.partition("?")
    headers = _parse_uri_headers(header_text, text) if question else {}
    hostport, semicolon, param_text = rest.partition(";")
    params = _parse_uri_parameters(param_text, text) if semicolon else {}
    host, port = parse_hostport(hostport, text)
    return host, user, password, port, secure, params, headers


def _host_key(host: str) -> str:
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host).compressed
        except ValueError:
            pass
    return host.lower()


def _lowered(value: str | None) -> str | None:
    return None if value is None else value.lower()


class BaseSIPURI:
    """What SIPURI and FrozenSIPURI share: parsing, serialising and RFC 3261 comparison."""

    _FIELDS = ("host", "user", "password", "port", "secure", "parameters", "headers")
    __slots__ = _FIELDS

    host: str
    user: str | None
    password: str | None
    port: int | None
    secure: bool
    parameters: Mapping[str, str | None]
    headers: Mapping[str, str]

    def __init__(
        self,
        host: str,
        user: str | None = None,
        password: str | None = None,
        port: int | None = None,
        secure: bool = False,
        parameters: Mapping[str, str | None] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if port is not None and not 0 <= port <= 65535:
            raise ValueError(f"port out of range: {port}")
        self._set(host, user, password, port, bool(secure), dict(parameters or {}), dict(headers or {}))

    def _set(self, *values: Any) -> None:
        for name, value in zip(BaseSIPURI._FIELDS, values, strict=True):
            object.__setattr__(self, name, value)

    @classmethod
    def _adopt(cls, mapping: dict[str, Any]) -> Mapping[str, Any]:
        return mapping

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse a ``sip:`` or ``sips:`` URI; raises SIPParseError if ``text`` is not one."""
        host, user, password, port, secure, params, headers = _parse_sip_uri(text)
        uri = cls.__new__(cls)
        uri._set(host, user, password, port, secure, cls._adopt(params), cls._adopt(headers))
        return uri

    @classmethod
    def new(cls, uri: BaseSIPURI) -> Self:
        """A ``cls`` with the components of ``uri`` (e.g. ``FrozenSIPURI.new(sipuri)``)."""
        if type(uri) is cls and isinstance(uri, FrozenSIPURI):
            return uri  # type: ignore[return-value]
        return cls(uri.host, uri.user, uri.password, uri.port, uri.secure, uri.parameters, uri.headers)

    def copy(self) -> Self:
        return type(self).new(self)

    __copy__ = copy

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self.copy()

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (
            self.host,
            self.user,
            self.password,
            self.port,
            self.secure,
            dict(self.parameters),
            dict(self.headers),
        )

    @property
    def transport(self) -> str:
        """``transport`` parameter lowercased; 'udp' without it ('tls' for sips, also over tcp)."""
        key = find_key(self.parameters, "transport")
        value = self.parameters[key] if key is not None else None
        if not value:
            return "tls" if self.secure else "udp"
        value = value.lower()
        return "tls" if self.secure and value == "tcp" else value

    def __str__(self) -> str:
        parts = ["sips:" if self.secure else "sip:"]
        if self.user:
            parts.append(USER.format(self.user))
            if self.password is not None:
                parts.append(":" + PASSWORD.format(self.password))
            parts.append("@")
        host = self.host
        parts.append(f"[{host}]" if ":" in host else host)
        if self.port is not None:
            parts.append(f":{self.port}")
        for name, value in self.parameters.items():
            parts.append(
                f";{PARAM.format(name)}" if value is None else f";{PARAM.format(name)}={PARAM.format(value)}"
            )
        if self.headers:
            parts.append(
                "?" + "&".join(f"{HEADER.format(n)}={HEADER.format(v)}" for n, v in self.headers.items())
            )
        return "".join(parts)

    def __repr__(self) -> str:
        return f'<{type(self).__name__} "{self}">'

    # RFC 3261 §19.1.4 comparison

    def _key(self) -> tuple[Any, ...]:
        """Everything that must be equal for two URIs to match (and so what the hash covers)."""
        params = {name.lower(): value for name, value in self.parameters.items()}
        return (
            self.secure,
            self.user or None,
            self.password,
            _host_key(self.host),
            self.port,
            tuple(_lowered(params.get(name)) for name in _SIGNIFICANT_PARAMETERS),
            frozenset((name.lower(), value) for name, value in self.headers.items()),
        )

    def matches(self, other: object) -> bool:
        """RFC 3261 §19.1.4: scheme, user and password exactly; host, port, the user/ttl/method/
        maddr/transport parameters and all headers must match; other parameters only when both
        URIs have them. Host and parameters ignore case; escaped and unescaped characters match."""
        if not isinstance(other, BaseSIPURI) or self._key() != other._key():
            return False
        mine = {name.lower(): _lowered(value) for name, value in self.parameters.items()}
        theirs = {name.lower(): _lowered(value) for name, value in other.parameters.items()}
        return all(mine[name] == theirs[name] for name in mine.keys() & theirs.keys())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BaseSIPURI):
            return self.matches(other)
        return NotImplemented


class SIPURI(BaseSIPURI):
    """A mutable SIP/SIPS URI: ``SIPURI(host, user=None, password=None, port=None, secure=False,
    parameters=None, headers=None)``. ``parameters`` and ``headers`` are ordered dicts; a
    parameter without a value maps to None. An IPv6 host is stored without brackets."""

    __slots__ = ()
    parameters: dict[str, str | None]
    headers: dict[str, str]


class FrozenSIPURI(BaseSIPURI):
    """An immutable, hashable SIP/SIPS URI (same constructor and behaviour as SIPURI)."""

    __slots__ = ("_hash",)
    _hash: int
    parameters: FrozenDict[str, str | None]
    headers: FrozenDict[str, str]

    def _set(self, *values: Any) -> None:
        *scalars, parameters, headers = values
        super()._set(*scalars, FrozenDict(parameters), FrozenDict(headers))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            value = hash(self._key())
            object.__setattr__(self, "_hash", value)
            return value

    def copy(self) -> Self:
        return self

    __copy__ = copy


class AbsoluteURI:
    """A URI of a scheme other than sip/sips (``tel:``, ``mailto:``, ``urn:``, ``http:``...).

    Immutable and hashable; ``scheme`` compares ignoring case and ``rest`` (everything after the
    first ':') exactly. It is not interpreted further.
    """

    __slots__ = ("rest", "scheme")
    scheme: str
    rest: str

    def __init__(self, scheme: str, rest: str) -> None:
        object.__setattr__(self, "scheme", scheme)
        object.__setattr__(self, "rest", rest)

    @classmethod
    def parse(cls, text: str) -> AbsoluteURI:
        match = _ABSOLUTE.fullmatch(text)
        if match is None:
            fail("not an absolute URI", text)
        return cls(match.group(1), match.group(2))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("AbsoluteURI is immutable")

    def __str__(self) -> str:
        return f"{self.scheme}:{self.rest}"

    def __repr__(self) -> str:
        return f'<AbsoluteURI "{self}">'

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.scheme, self.rest)

    def matches(self, other: object) -> bool:
        return isinstance(other, AbsoluteURI) and self._key() == other._key()

    def _key(self) -> tuple[str, str]:
        return self.scheme.lower(), self.rest

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AbsoluteURI):
            return self._key() == other._key()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._key())

    def copy(self) -> AbsoluteURI:
        return self


def parse_uri(text: str) -> SIPURI:
    """A SIPURI from a ``sip:``/``sips:`` URI; anything else raises SIPParseError."""
    return SIPURI.parse(text)


def parse_any_uri(text: str, frozen: bool = False) -> SIPURI | FrozenSIPURI | AbsoluteURI:
    """A (Frozen)SIPURI for sip/sips, an AbsoluteURI for any other scheme."""
    colon = text.find(":")
    if colon > 0 and text[:colon].lower() in ("sip", "sips"):
        return FrozenSIPURI.parse(text) if frozen else SIPURI.parse(text)
    return AbsoluteURI.parse(text)
