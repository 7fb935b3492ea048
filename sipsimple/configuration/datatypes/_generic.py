"""General-purpose datatypes: numbers, ports, host names, IP addresses, paths, content types."""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Any, Self

from ._base import BoundedInteger, Frozen, List, invalid

__all__ = [
    "ContentType",
    "ContentTypeList",
    "CountryCode",
    "Domain",
    "DomainList",
    "Hostname",
    "HostnameList",
    "IPAddress",
    "NonNegativeInteger",
    "Path",
    "Port",
    "PortRange",
    "PositiveInteger",
]


# -- integers ---------------------------------------------------------------------------------


class NonNegativeInteger(BoundedInteger):
    """An integer >= 0 (timeouts, counts)."""

    __slots__ = ()
    label = "non-negative integer"
    minimum = 0


class PositiveInteger(BoundedInteger):
    """An integer >= 1 (intervals, sizes)."""

    __slots__ = ()
    label = "positive integer"
    minimum = 1


class Port(BoundedInteger):
    """A TCP/UDP port number in 0..65535; 0 asks the system for an ephemeral port."""

    __slots__ = ()
    label = "port"
    minimum = 0
    maximum = 65535


class PortRange(Frozen):
    """An inclusive range of local ports for RTP, canonical form ``"50000:50500"``.

    Both ends are in 1..65535, ``start`` is even (RTP takes the even port of each pair and RTCP
    the odd one above it) and ``start < end``, so the range holds at least one RTP/RTCP pair.
    Accepts ``PortRange(50000, 50500)``, ``PortRange("50000:50500")``, ``PortRange("50000-50500")``
    and a ``(start, end)`` pair.
    """

    __slots__ = ("end", "start")
    start: int
    end: int

    _form = re.compile(r"\s*([0-9]+)\s*[:-]\s*([0-9]+)\s*")

    def __init__(self, start: object, end: object = None) -> None:
        original = start if end is None else (start, end)
        parts: Any = (start, end)
        if end is None:
            if isinstance(start, PortRange):
                parts = (start.start, start.end)
            elif isinstance(start, str) and (match := self._form.fullmatch(start)):
                parts = match.groups()
            elif isinstance(start, tuple | list) and len(start) == 2:
                parts = start
            else:
                raise invalid("port range", original, 'must look like "50000:50500"')
        try:
            first, last = Port(parts[0]), Port(parts[1])
        except ValueError:
            first = last = Port(0)
        if first == 0 or last == 0:
            problem = "ports must be integers in 1..65535"
        elif first % 2:
            problem = "the start port must be even (RTP uses even ports, RTCP the odd one above)"
        elif first >= last:
            problem = "the start port must be lower than the end port"
        else:
            problem = ""
        if problem:
            raise invalid("port range", original, problem)
        object.__setattr__(self, "start", int(first))
        object.__setattr__(self, "end", int(last))

    def _key(self) -> tuple[Any, ...]:
        return (self.start, self.end)

    def __str__(self) -> str:
        return f"{self.start}:{self.end}"

    def __repr__(self) -> str:
        return f"PortRange({self.start}, {self.end})"


# -- hosts ------------------------------------------------------------------------------------

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_DOTTED_NUMBER = re.compile(r"[0-9.]+")


def parse_ip(text: str) -> str | None:
    """Return the normalized form of an IPv4 or IPv6 literal (IPv6 may be bracketed), else None."""
    if text.startswith("[") and text.endswith("]"):
        try:
            return ipaddress.IPv6Address(text[1:-1]).compressed
        except ValueError:
            return None
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return None


def parse_host(text: str, *, names: bool = True, addresses: bool = True) -> str:
    """Return the canonical form of a host: a lowercase RFC 1123 name, a dotted IPv4 address,
    or an IPv6 address without brackets.  Raise ValueError with the reason otherwise."""
    if not text:
        raise ValueError("must not be empty")
    if addresses and (address := parse_ip(text)) is not None:
        return address
    if ":" in text or text.startswith("["):
        raise ValueError("not a valid IPv6 address" if addresses else "IP addresses are not allowed")
    if _DOTTED_NUMBER.fullmatch(text):
        raise ValueError("not a valid IPv4 address" if addresses else "IP addresses are not allowed")
    if not names:
        raise ValueError("must be an IP address")
    if not text.isascii():
        raise ValueError("host names must be ASCII (use the xn-- form of internationalised names)")
    name = text.lower()
    if name.endswith(".") and len(name) > 1:
        name = name[:-1]
    if len(name) > 253 or not _HOSTNAME.fullmatch(name) or name.rpartition(".")[2].isdigit():
        raise ValueError(
            "must be a host name (letters, digits and '-' in dot-separated labels of at most "
            "63 characters) or an IP address"
        )
    return name


def format_host(host: str) -> str:
    """Bracket an IPv6 address so it can be followed by ``:port``; leave other hosts alone."""
    return f"[{host}]" if ":" in host else host


class Hostname(str):
    """An RFC 1123 host name or an IP address literal.

    Canonical form: names in lowercase without a trailing dot, IPv4 dotted quads, IPv6 in
    compressed form without brackets (``[2001:db8::1]`` is accepted as input).
    """

    __slots__ = ()
    label = "hostname"
    _names, _addresses = True, True

    def __new__(cls, value: object) -> Self:
        if type(value) is cls:
            return value
        if not isinstance(value, str):
            raise invalid(cls.label, value, "must be a string")
        try:
            host = parse_host(value.strip(), names=cls._names, addresses=cls._addresses)
        except ValueError as exc:
            raise invalid(cls.label, value, str(exc)) from None
        return super().__new__(cls, host)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class Domain(Hostname):
    """A DNS domain name (like :class:`Hostname`, but IP addresses are refused)."""

    __slots__ = ()
    label = "domain"
    _addresses = False


class IPAddress(Hostname):
    """An IPv4 or IPv6 address literal, normalized (IPv6 compressed, lowercase, no brackets)."""

    __slots__ = ()
    label = "IP address"
    _names = False

    @property
    def version(self) -> int:
        """4 or 6."""
        return 6 if ":" in self else 4


class HostnameList(List):
    """A list of :class:`Hostname` items without duplicates."""

    __slots__ = ()
    type = Hostname
    label = "hostname list"


class DomainList(List):
    """A list of :class:`Domain` items without duplicates."""

    __slots__ = ()
    type = Domain
    label = "domain list"


# -- other strings ----------------------------------------------------------------------------


class Path(str):
    """A filesystem path, stored as written (so ``~`` and ``$VARS`` stay portable).

    :attr:`normalized` gives the path to use: ``~`` and environment variables expanded and made
    absolute.  Accepts any non-blank string without NUL characters, and ``os.PathLike`` objects.
    """

    __slots__ = ()

    def __new__(cls, value: object) -> Self:
        if type(value) is cls:
            return value
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str):
            raise invalid("path", value, "must be a string")
        if not value.strip():
            raise invalid("path", value, "must not be empty")
        if "\0" in value:
            raise invalid("path", value, "must not contain NUL characters")
        return super().__new__(cls, value)

    @property
    def normalized(self) -> str:
        """The absolute path with ``~`` and environment variables expanded."""
        return os.path.abspath(os.path.expandvars(os.path.expanduser(self)))

    def __repr__(self) -> str:
        return f"Path({str(self)!r})"


_TOKEN = r"[a-z0-9!#$%&'+\-.^_`|~]+"
_CONTENT_TYPE = re.compile(rf"({_TOKEN}|\*)/({_TOKEN}|\*)")


class ContentType(str):
    """A MIME type ``type/subtype`` in lowercase; ``*`` may stand for the subtype (``text/*``)
    or for both parts (``*/*``).  Parameters such as ``;charset=utf-8`` are not accepted."""

    __slots__ = ()

    def __new__(cls, value: object) -> Self:
        if type(value) is cls:
            return value
        if not isinstance(value, str):
            raise invalid("content type", value, "must be a string")
        text = value.strip().lower()
        match = _CONTENT_TYPE.fullmatch(text)
        if match is None or (match[1] == "*" and match[2] != "*"):
            reason = "parameters are not allowed" if ";" in text else 'must look like "type/subtype"'
            raise invalid("content type", value, f"{reason} (e.g. text/plain, text/*, */*)")
        return super().__new__(cls, text)

    @property
    def maintype(self) -> str:
        """The part before the slash."""
        return self.partition("/")[0]

    @property
    def subtype(self) -> str:
        """The part after the slash."""
        return self.partition("/")[2]

    def __repr__(self) -> str:
        return f"ContentType({str(self)!r})"


class ContentTypeList(List):
    """A list of :class:`ContentType` items without duplicates."""

    __slots__ = ()
    type = ContentType
    label = "content type list"


class CountryCode(str):
    """An E.164 country calling code: 1 to 3 digits, the first not 0 (``"1"``, ``"31"``, ``"358"``).

    A leading ``+`` is accepted and dropped; an int is accepted too.
    """

    __slots__ = ()
    _form = re.compile(r"[1-9][0-9]{0,2}")

    def __new__(cls, value: object) -> Self:
        if type(value) is cls:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        elif isinstance(value, str):
            text = value.strip().removeprefix("+")
        else:
            text = ""
        if not cls._form.fullmatch(text):
            raise invalid("country code", value, "must be 1 to 3 digits not starting with 0")
        return super().__new__(cls, text)

    def __repr__(self) -> str:
        return f"CountryCode({str(self)!r})"
