"""SDP attributes (``a=`` lines): the attribute objects, their lists, and the table of typed values.

An attribute keeps its name and value as text, exactly as received, so that any attribute (known
or not) is written back unchanged. For the attributes the media layer reads, :data:`ATTRIBUTES`
has one row each (name, parser, formatter, value type):

=================  ==========================================  ==============================
attribute          typed value                                 defined in
=================  ==========================================  ==============================
``rtpmap``         :class:`RTPMap`                             RFC 4566 §6
``fmtp``           :class:`FormatParameters`                   RFC 4566 §6
``ptime``          ``int`` or ``float`` (milliseconds)         RFC 4566 §6
``maxptime``       ``int`` or ``float`` (milliseconds)         RFC 4566 §6
``sendrecv`` ...   :class:`Direction` (also sendonly,          RFC 4566 §6, RFC 3264 §5.1
                   recvonly, inactive)
``rtcp``           :class:`RTCPAddress`                        RFC 3605
``rtcp-mux``       ``True``                                    RFC 5761
``crypto``         :class:`Crypto`                             RFC 4568 §9.1 (syntax only)
``candidate``      :class:`Candidate`                          RFC 5245 §15.1, RFC 8839 §5.1
=================  ==========================================  ==============================

The parser checks these attributes when it reads them (a malformed one is an SDPParseError with
its line number), so ``attribute.parsed`` never fails on a parsed session. ``attribute(name,
value)`` builds an attribute from a typed value.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Self, SupportsIndex, overload

from ._base import TOKEN, Frozen, Mutable, SDPObject, check_address, check_text, check_token
from ._errors import SDPParseError

__all__ = [
    "ATTRIBUTES",
    "AttributeKind",
    "Candidate",
    "Crypto",
    "Direction",
    "FormatParameters",
    "FrozenSDPAttribute",
    "FrozenSDPAttributeList",
    "RTCPAddress",
    "RTPMap",
    "SDPAttribute",
    "SDPAttributeList",
    "attribute",
]


# -- typed values -------------------------------------------------------------------------------


class Direction(enum.StrEnum):
    """The media direction attributes (RFC 3264 §5.1), from the point of view of who writes them.

    Members are strings: ``Direction.SENDONLY == "sendonly"``.
    """

    SENDRECV = "sendrecv"
    SENDONLY = "sendonly"
    RECVONLY = "recvonly"
    INACTIVE = "inactive"

    @property
    def sends(self) -> bool:
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        return self in (Direction.SENDRECV, Direction.RECVONLY)

    @classmethod
    def of(cls, sends: bool, receives: bool) -> Direction:
        return _DIRECTIONS[sends, receives]

    def mirror(self) -> Direction:
        """The direction the other side sees: sendonly <-> recvonly; sendrecv, inactive stay."""
        return Direction.of(self.receives, self.sends)

    def __and__(self, other: Direction) -> Direction:
        """What both allow: ``SENDRECV & SENDONLY is SENDONLY``."""
        if not isinstance(other, Direction):
            return NotImplemented
        return Direction.of(self.sends and other.sends, self.receives and other.receives)


_DIRECTIONS = {
    (True, True): Direction.SENDRECV,
    (True, False): Direction.SENDONLY,
    (False, True): Direction.RECVONLY,
    (False, False): Direction.INACTIVE,
}
#: the attribute names that are directions
DIRECTION_NAMES = frozenset(direction.value for direction in Direction)


class RTPMap(NamedTuple):
    """``a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]``."""

    payload_type: int
    encoding_name: str
    clock_rate: int
    encoding_parameters: str | None = None

    @property
    def channels(self) -> int:
        """For audio the encoding parameters are the number of channels (1 when absent)."""
        if self.encoding_parameters is not None and self.encoding_parameters.isdigit():
            return int(self.encoding_parameters)
        return 1


class FormatParameters(NamedTuple):
    """``a=fmtp:<format> <format specific parameters>``."""

    format: str
    parameters: str

    def as_dict(self) -> dict[str, str | None]:
        """``key=value`` pairs separated by ``;`` (the common form); a bare item maps to None."""
        result: dict[str, str | None] = {}
        for item in self.parameters.split(";"):
            item = item.strip()
            if item:
                key, sep, value = item.partition("=")
                result[key.strip()] = value.strip() if sep else None
        return result


class RTCPAddress(NamedTuple):
    """``a=rtcp:<port> [<nettype> <addrtype> <connection-address>]`` (RFC 3605)."""

    port: int
    net_type: str | None = None
    address_type: str | None = None
    address: str | None = None


class Crypto(NamedTuple):
    """``a=crypto:<tag> <crypto-suite> <key-params> [<session-params>]`` (RFC 4568 §9.1).

    Only the syntax is checked here; what the suite and keys mean is the SRTP layer's business.
    ``key_params`` keeps the ``inline:...`` text (several keys joined with ``;``) as written.
    """

    tag: int
    suite: str
    key_params: str
    session_params: tuple[str, ...] = ()


class Candidate(NamedTuple):
    """``a=candidate:`` (RFC 5245 §15.1, RFC 8839 §5.1); ``extensions`` are the trailing name/value pairs."""

    foundation: str
    component: int
    transport: str
    priority: int
    address: str
    port: int
    type: str
    related_address: str | None = None
    related_port: int | None = None
    extensions: tuple[tuple[str, str], ...] = ()


# -- the table ----------------------------------------------------------------------------------


class AttributeKind(NamedTuple):
    """One row of :data:`ATTRIBUTES`: how to read and write the value of one attribute."""

    name: str
    parse: Callable[[str], Any]
    format: Callable[[Any], str]
    type: Any


def _integer(text: str, what: str, high: int) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        raise ValueError(f"{what} {text!r} is not a number")
    value = int(text)
    if value > high:
        raise ValueError(f"{what} {value} is larger than {high}")
    return value


_PACKET_TIME = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,6})?")
_ICE_CHARS = re.compile(r"[A-Za-z0-9+/]{1,32}")
_CRYPTO_SUITE = re.compile(r"[A-Za-z0-9_]+")


def _parse_rtpmap(value: str) -> RTPMap:
    payload_type, sep, encoding = value.partition(" ")
    if not sep:
        raise ValueError("rtpmap needs '<payload type> <encoding>/<clock rate>'")
    parts = encoding.strip().split("/")
    if len(parts) not in (2, 3) or TOKEN.fullmatch(parts[0]) is None:
        raise ValueError(f"rtpmap encoding {encoding!r} is not '<name>/<clock rate>[/<parameters>]'")
    parameters = parts[2] if len(parts) == 3 else None
    if parameters is not None and TOKEN.fullmatch(parameters) is None:
        raise ValueError(f"rtpmap encoding parameters {parameters!r} are not a token")
    return RTPMap(
        _integer(payload_type, "rtpmap payload type", 127),
        parts[0],
        _integer(parts[1], "rtpmap clock rate", 2**32 - 1),
        parameters,
    )


def _format_rtpmap(value: RTPMap) -> str:
    encoding = f"{value.encoding_name}/{value.clock_rate}"
    if value.encoding_parameters is not None:
        encoding += f"/{value.encoding_parameters}"
    return f"{value.payload_type} {encoding}"


def _parse_fmtp(value: str) -> FormatParameters:
    fmt, _, parameters = value.partition(" ")
    if TOKEN.fullmatch(fmt) is None:
        raise ValueError(f"fmtp format {fmt!r} is not a token")
    return FormatParameters(fmt, parameters)


def _format_fmtp(value: FormatParameters) -> str:
    return f"{value.format} {value.parameters}" if value.parameters else value.format


def _parse_packet_time(value: str) -> int | float:
    if _PACKET_TIME.fullmatch(value) is None:
        raise ValueError(f"packet time {value!r} is not a number of milliseconds")
    number = float(value) if "." in value else int(value)
    if number <= 0:
        raise ValueError("a packet time must be greater than zero (RFC 3264 §5.1)")
    return number


def _format_packet_time(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _parse_flag(name: str, result: Any) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        if value:
            raise ValueError(f"a={name} takes no value")
        return result

    return parse


def _format_flag(value: Any) -> str:
    return ""


def _parse_rtcp(value: str) -> RTCPAddress:
    fields = value.split()
    if len(fields) not in (1, 4):
        raise ValueError("rtcp needs '<port> [<nettype> <addrtype> <address>]'")
    port = _integer(fields[0], "rtcp port", 65535)
    if len(fields) == 1:
        return RTCPAddress(port)
    net_type, address_type, address = fields[1:]
    for what, token in (("rtcp net type", net_type), ("rtcp address type", address_type)):
        if TOKEN.fullmatch(token) is None:
            raise ValueError(f"{what} {token!r} is not a token")
    check_address(address, address_type, multicast_suffix=True)
    return RTCPAddress(port, net_type, address_type, address)


def _format_rtcp(value: RTCPAddress) -> str:
    if value.address is None:
        return str(value.port)
    return f"{value.port} {value.net_type} {value.address_type} {value.address}"


def _parse_crypto(value: str) -> Crypto:
    fields = value.split()
    if len(fields) < 3:
        raise ValueError("crypto needs '<tag> <crypto-suite> <key-params> [<session-params>]'")
    tag, suite, key_params, *session_params = fields
    if not tag.isascii() or not tag.isdigit() or len(tag) > 9:
        raise ValueError(f"crypto tag {tag!r} is not 1 to 9 digits")
    if _CRYPTO_SUITE.fullmatch(suite) is None:
        raise ValueError(f"crypto suite {suite!r} is not a suite name")
    for key in key_params.split(";"):
        method, sep, info = key.partition(":")
        if not sep or not info or TOKEN.fullmatch(method) is None:
            raise ValueError(f"crypto key parameter {key!r} is not '<method>:<info>'")
    return Crypto(int(tag), suite, key_params, tuple(session_params))


def _format_crypto(value: Crypto) -> str:
    return " ".join((str(value.tag), value.suite, value.key_params, *value.session_params))


def _parse_candidate(value: str) -> Candidate:
    fields = value.split()
    if len(fields) < 8 or fields[6] != "typ":
        raise ValueError(
            "candidate needs '<foundation> <component> <transport> <priority> <address> <port> typ <type>'"
        )
    foundation, component, transport, priority, address, port, _, kind, *rest = fields
    if _ICE_CHARS.fullmatch(foundation) is None:
        raise ValueError(f"candidate foundation {foundation!r} is not 1 to 32 ice-chars")
    for what, token in (("transport", transport), ("type", kind)):
        if TOKEN.fullmatch(token) is None:
            raise ValueError(f"candidate {what} {token!r} is not a token")
    if len(rest) % 2:
        raise ValueError("candidate extensions must come in name/value pairs")
    pairs = list(zip(rest[::2], rest[1::2], strict=True))
    related_address: str | None = None
    related_port: int | None = None
    if pairs and pairs[0][0] == "raddr":
        related_address = pairs.pop(0)[1]
        if not pairs or pairs[0][0] != "rport":
            raise ValueError("candidate raddr must be followed by rport")
        related_port = _integer(pairs.pop(0)[1], "candidate rport", 65535)
    for name, _ in pairs:
        if TOKEN.fullmatch(name) is None:
            raise ValueError(f"candidate extension name {name!r} is not a token")
    return Candidate(
        foundation,
        _integer(component, "candidate component id", 256),
        transport,
        _integer(priority, "candidate priority", 2**31 - 1),
        address,
        _integer(port, "candidate port", 65535),
        kind,
        related_address,
        related_port,
        tuple(pairs),
    )


def _format_candidate(value: Candidate) -> str:
    fields = [
        value.foundation,
        str(value.component),
        value.transport,
        str(value.priority),
        value.address,
        str(value.port),
        "typ",
        value.type,
    ]
    if value.related_address is not None:
        fields += ["raddr", value.related_address, "rport", str(value.related_port)]
    for name, extension in value.extensions:
        fields += [name, extension]
    return " ".join(fields)


def _rows() -> dict[str, AttributeKind]:
    rows = [
        AttributeKind("rtpmap", _parse_rtpmap, _format_rtpmap, RTPMap),
        AttributeKind("fmtp", _parse_fmtp, _format_fmtp, FormatParameters),
        AttributeKind("ptime", _parse_packet_time, _format_packet_time, (int, float)),
        AttributeKind("maxptime", _parse_packet_time, _format_packet_time, (int, float)),
        AttributeKind("rtcp", _parse_rtcp, _format_rtcp, RTCPAddress),
        AttributeKind("rtcp-mux", _parse_flag("rtcp-mux", True), _format_flag, bool),
        AttributeKind("crypto", _parse_crypto, _format_crypto, Crypto),
        AttributeKind("candidate", _parse_candidate, _format_candidate, Candidate),
    ]
    rows += [
        AttributeKind(direction.value, _parse_flag(direction.value, direction), _format_flag, Direction)
        for direction in Direction
    ]
    return {row.name: row for row in rows}


#: attribute name -> how its value is read and written
ATTRIBUTES: dict[str, AttributeKind] = _rows()

# The codec lines are the same texts in call after call, and offer/answer reads them several
# times per SDP; their values are immutable, so each text is parsed once. (Not crypto: keys are
# not kept beyond their session.)
_CACHED = frozenset({"rtpmap", "fmtp"})


@functools.lru_cache(maxsize=1024)
def _parse_cached(name: str, value: str) -> Any:
    return ATTRIBUTES[name].parse(value)


# -- attributes ---------------------------------------------------------------------------------

_check_name = check_token("attribute name")
_check_value = check_text("attribute value")


class _AttributeBase(SDPObject):
    """``a=<name>`` (a property attribute, value ``""``) or ``a=<name>:<value>``."""

    __slots__ = ("name", "value")
    _fields = ("name", "value")
    _checks = {"name": _check_name, "value": _check_value}

    name: str
    value: str

    def __init__(self, name: str, value: str = "") -> None:
        self._assign((name, value))

    @classmethod
    def parse(cls, line: str) -> Self:
        """One attribute from ``a=<name>[:<value>]`` (the ``a=`` may be left out).

        Raises SDPParseError when the name is not a token or a known attribute's value is malformed.
        """
        text = line[2:] if line.startswith("a=") else line
        name, _, value = text.partition(":")
        try:
            made = cls(name, value)
            row = ATTRIBUTES.get(name)
            if row is not None:
                row.parse(value)
        except (TypeError, ValueError) as error:
            raise SDPParseError(str(error), None, line) from None
        return made

    @property
    def parsed(self) -> Any:
        """The typed value (see :data:`ATTRIBUTES`); the text itself for other attributes.

        Raises ValueError when the value does not follow the attribute's syntax.
        """
        row = ATTRIBUTES.get(self.name)
        if row is None:
            return self.value
        if self.name in _CACHED:
            return _parse_cached(self.name, self.value)
        return row.parse(self.value)

    def __str__(self) -> str:
        return f"a={self.name}:{self.value}" if self.value else f"a={self.name}"


class SDPAttribute(Mutable, _AttributeBase):
    __slots__ = ()


class FrozenSDPAttribute(Frozen, _AttributeBase):
    __slots__ = ()


def attribute(name: str, value: Any = "") -> SDPAttribute:
    """An attribute from a typed value: ``attribute("rtpmap", RTPMap(0, "PCMU", 8000))``.

    Names without a row in :data:`ATTRIBUTES` take their value as text.
    """
    row = ATTRIBUTES.get(name)
    if row is None:
        return SDPAttribute(name, value)
    flag = row.format is _format_flag and value in ("", True)
    if not flag and not isinstance(value, row.type):
        raise TypeError(f"a={name} takes a {row.type}, not {type(value).__name__}")
    return SDPAttribute(name, row.format(value))


class _AttributeListMixin:
    """The look-ups shared by both attribute lists."""

    __slots__ = ()

    if TYPE_CHECKING:  # list and tuple provide it

        def __iter__(self) -> Iterator[Any]: ...

    def getall(self, name: str) -> list[str]:
        """The values of every attribute called ``name``, in order."""
        return [item.value for item in self if item.name == name]

    def getfirst(self, name: str, default: str | None = None) -> str | None:
        """The value of the first attribute called ``name``, or ``default``."""
        for item in self:
            if item.name == name:
                return item.value
        return default

    def parsed(self, name: str) -> list[Any]:
        """The typed values (see :data:`ATTRIBUTES`) of every attribute called ``name``."""
        return [item.parsed for item in self if item.name == name]

    def has(self, name: str) -> bool:
        return any(item.name == name for item in self)

    def __contains__(self, item: object) -> bool:
        """``"rtcp-mux" in attributes`` looks for a name; an attribute object is looked for as such."""
        if isinstance(item, str):
            return self.has(item)
        return any(item == own for own in self)


def _as_mutable(item: Any) -> SDPAttribute:
    if type(item) is SDPAttribute:
        return item
    if isinstance(item, _AttributeBase):
        return SDPAttribute.new(item)
    raise TypeError(f"an attribute list holds SDPAttributes, not {type(item).__name__}")


def _as_frozen(item: Any) -> FrozenSDPAttribute:
    if isinstance(item, _AttributeBase):
        return FrozenSDPAttribute.new(item)
    raise TypeError(f"an attribute list holds SDPAttributes, not {type(item).__name__}")


class SDPAttributeList(_AttributeListMixin, list[SDPAttribute]):
    """A list of SDPAttribute with look-ups by name (``getall``, ``getfirst``, ``in``)."""

    __slots__ = ()

    def __init__(self, attributes: Iterable[Any] = ()) -> None:
        super().__init__(_as_mutable(item) for item in attributes)

    def append(self, item: Any) -> None:
        super().append(_as_mutable(item))

    def insert(self, index: SupportsIndex, item: Any) -> None:
        super().insert(index, _as_mutable(item))

    def extend(self, items: Iterable[Any]) -> None:
        super().extend(_as_mutable(item) for item in items)

    def __iadd__(self, items: Iterable[Any]) -> Self:  # type: ignore[override,misc]
        self.extend(items)
        return self

    @overload
    def __setitem__(self, index: SupportsIndex, item: Any) -> None: ...
    @overload
    def __setitem__(self, index: slice, item: Iterable[Any]) -> None: ...
    def __setitem__(self, index: Any, item: Any) -> None:
        if isinstance(index, slice):
            super().__setitem__(index, [_as_mutable(one) for one in item])
        else:
            super().__setitem__(index, _as_mutable(item))

    def remove_all(self, name: str) -> None:
        """Drop every attribute called ``name``."""
        self[:] = [item for item in self if item.name != name]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple)):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None

    def __repr__(self) -> str:
        return f"SDPAttributeList({list(self)!r})"


class FrozenSDPAttributeList(_AttributeListMixin, tuple[FrozenSDPAttribute, ...]):
    """An immutable, hashable attribute list."""

    __slots__ = ()
    frozen: ClassVar[bool] = True

    def __new__(cls, attributes: Iterable[Any] = ()) -> FrozenSDPAttributeList:
        if type(attributes) is cls:
            return attributes
        return super().__new__(cls, (_as_frozen(item) for item in attributes))

    @classmethod
    def _make(cls, attributes: Iterable[FrozenSDPAttribute]) -> FrozenSDPAttributeList:
        """A list of attributes that are FrozenSDPAttributes already (the parser's fast path)."""
        return tuple.__new__(cls, attributes)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple)):
            return tuple.__eq__(self, tuple(other))
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        return tuple.__hash__(self)

    def __repr__(self) -> str:
        return f"FrozenSDPAttributeList({list(self)!r})"
