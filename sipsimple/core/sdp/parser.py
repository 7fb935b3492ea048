"""Reading and writing session descriptions (RFC 4566 §5, §9).

Reading (:func:`parse_session`):

* Input is bytes (UTF-8) or text; lines end in CRLF or LF. Blank lines at the end are ignored;
  any other blank line, a bare CR, a NUL, or a line that is not ``<letter>=<value>`` is an error.
* The first line is ``v=0``; ``o=``, ``s=`` and ``t=`` must be present. A second ``v=`` means a
  second session description, which offer/answer forbids (RFC 3264 §5).
* Each line goes to the handler of its type at the current level (session, or the media
  description opened by the last ``m=``): one table per level. Lines may come in any order within
  their level; they are written back in the RFC 4566 order, so canonical input round-trips.
* Lines the model has no field for are kept (``other_lines``, in the order they are written);
  type letters SDP does not define are kept too. Letters of the session level only (``v= o= s=
  t= r= z= u= e= p=``) are errors inside a media description, as is a second ``c=`` or ``i=``
  at one level.
* Every error is an :class:`SDPParseError` with the line number and what is wrong.

Writing (:func:`format_session`): fields first, in the RFC 4566 order (``v o s i u e p c b t r z
k a``, then for each stream ``m i c b k a``), with each kept line at the place of its type (lines
of unknown type just before the ``a=`` lines), CRLF after every line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ._base import PROTO, TOKEN, check_address
from ._errors import SDPParseError
from .attributes import ATTRIBUTES, FrozenSDPAttribute, FrozenSDPAttributeList, SDPAttribute, SDPAttributeList
from .model import (
    FrozenSDPBandwidthInfo,
    FrozenSDPConnection,
    FrozenSDPMediaStream,
    SDPBandwidthInfo,
    SDPConnection,
    SDPMediaStream,
    _MediaStreamBase,
    _SessionBase,
)

__all__ = ["format_media", "format_session", "parse_session"]

_S = TypeVar("_S", bound=_SessionBase)

#: RFC 4566 §5 line order; r= lines belong with the t= line before them.
SESSION_ORDER = "vosiuepcbtrzka"
MEDIA_ORDER = "micbka"
#: letters that may only appear at session level
SESSION_ONLY = frozenset("vosuepztr")


def _ranks(order: str) -> dict[str, float]:
    ranks = {letter: float(position) for position, letter in enumerate(order)}
    if "r" in ranks:
        ranks["r"] = ranks["t"]
    return ranks


_SESSION_RANK = _ranks(SESSION_ORDER)
_MEDIA_RANK = _ranks(MEDIA_ORDER)


# -- reading ------------------------------------------------------------------------------------


class _Level:
    """What has been read of one level (the session, or one media description)."""

    __slots__ = ("attributes", "bandwidth", "fields", "other", "seen")

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.attributes: list[Any] = []
        self.bandwidth: list[Any] = []
        self.other: list[tuple[str, str]] = []
        self.seen: set[str] = set()

    def once(self, kind: str) -> None:
        if kind in self.seen:
            raise ValueError(f"a second {kind}= line at this level")
        self.seen.add(kind)


class _Reader:
    """One parse: the flavour of the objects to build and the levels read so far.

    Every value is checked when its line is read (so errors carry the line number); the objects
    are then built with ``_make``, without checking again.
    """

    def __init__(self, frozen: bool) -> None:
        self.frozen = frozen
        self.connection_cls = FrozenSDPConnection if frozen else SDPConnection
        self.bandwidth_cls = FrozenSDPBandwidthInfo if frozen else SDPBandwidthInfo
        self.attribute_cls = FrozenSDPAttribute if frozen else SDPAttribute
        self.media_cls = FrozenSDPMediaStream if frozen else SDPMediaStream
        self.session = _Level()
        self.media: list[_Level] = []

    # handlers: (level, value) -> None; ValueError/TypeError become SDPParseError

    def version(self, level: _Level, value: str) -> None:
        if "v" in level.seen:
            raise ValueError("a second v= line: an offer or answer holds one session description")
        level.seen.add("v")
        if value != "0":
            raise ValueError(f"SDP version {value!r} is not 0")

    def origin(self, level: _Level, value: str) -> None:
        level.once("o")
        fields = value.split()
        if len(fields) != 6:
            raise ValueError("o= needs '<user> <session id> <version> <net type> <address type> <address>'")
        user, session_id, version, net_type, address_type, address = fields
        _check_token(net_type, "net type")
        _check_token(address_type, "address type")
        check_address(address, address_type)
        level.fields.update(
            user=user,
            id=_number(session_id, "session id"),
            version=_number(version, "session version"),
            net_type=net_type,
            address_type=address_type,
            address=address,
        )

    def name(self, level: _Level, value: str) -> None:
        level.once("s")
        level.fields["name"] = value

    def info(self, level: _Level, value: str) -> None:
        level.once("i")
        level.fields["info"] = value

    def connection(self, level: _Level, value: str) -> None:
        level.once("c")
        fields = value.split()
        if len(fields) != 3:
            raise ValueError("c= needs '<net type> <address type> <address>'")
        net_type, address_type, address = fields
        _check_token(net_type, "net type")
        _check_token(address_type, "address type")
        check_address(address, address_type, multicast_suffix=True)
        level.fields["connection"] = self.connection_cls._make(address, net_type, address_type)

    def bandwidth(self, level: _Level, value: str) -> None:
        modifier, sep, amount = value.partition(":")
        if not sep:
            raise ValueError("b= needs '<modifier>:<bandwidth>'")
        _check_token(modifier, "bandwidth modifier")
        level.bandwidth.append(self.bandwidth_cls._make(modifier, _number(amount, "bandwidth")))

    def timing(self, level: _Level, value: str) -> None:
        fields = value.split()
        if len(fields) != 2:
            raise ValueError("t= needs '<start time> <stop time>'")
        start, stop = (_number(field, "time") for field in fields)
        if "t" in level.seen:
            level.other.append(("t", f"{start} {stop}"))
        else:
            level.seen.add("t")
            level.fields.update(start_time=start, stop_time=stop)

    def repeat(self, level: _Level, value: str) -> None:
        if "t" not in level.seen:
            raise ValueError("an r= line must follow a t= line")
        level.other.append(("r", value))

    def attribute(self, level: _Level, value: str) -> None:
        name, _, text = value.partition(":")
        _check_token(name, "attribute name")
        row = ATTRIBUTES.get(name)
        if row is not None:
            row.parse(text)
        level.attributes.append(self.attribute_cls._make(name, text))

    def keep(self, level: _Level, kind: str, value: str) -> None:
        level.other.append((kind, value))

    def open_media(self, value: str) -> _Level:
        fields = value.split()
        if len(fields) < 4:
            raise ValueError("m= needs '<media> <port>[/<count>] <transport> <format> ...'")
        media, port_text, transport, *formats = fields
        port_text, slash, count_text = port_text.partition("/")
        port = _number(port_text, "port", 65535)
        count = _number(count_text, "port count", 65535) if slash else 1
        if count == 0:
            raise ValueError("port count 0 is not in 1..65535")
        _check_token(media, "media type")
        if PROTO.fullmatch(transport) is None:
            raise ValueError(f"transport {transport!r} is not a protocol name such as RTP/AVP")
        rtp = "RTP/" in transport.upper()
        for fmt in formats:
            if rtp:
                _number(fmt, "RTP payload type", 127)
            else:
                _check_token(fmt, "format")
        level = _Level()
        level.fields.update(media=media, port=port, port_count=count, transport=transport, formats=formats)
        self.media.append(level)
        return level


def _check_token(text: str, what: str) -> None:
    if TOKEN.fullmatch(text) is None:
        raise ValueError(f"{what} {text!r} is not a token")


def _number(text: str, what: str, high: int = 2**64 - 1) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 20:
        raise ValueError(f"{what} {text!r} is not a number")
    value = int(text)
    if value > high:
        raise ValueError(f"{what} {value} is larger than {high}")
    return value


_Handler = Callable[[_Reader, _Level, str], None]

#: session-level line handlers, by type letter
SESSION_LINES: dict[str, _Handler] = {
    "v": _Reader.version,
    "o": _Reader.origin,
    "s": _Reader.name,
    "i": _Reader.info,
    "c": _Reader.connection,
    "b": _Reader.bandwidth,
    "t": _Reader.timing,
    "r": _Reader.repeat,
    "a": _Reader.attribute,
}
#: media-level line handlers, by type letter
MEDIA_LINES: dict[str, _Handler] = {
    "i": _Reader.info,
    "c": _Reader.connection,
    "b": _Reader.bandwidth,
    "a": _Reader.attribute,
}


def _lines(data: bytes | str) -> list[str]:
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise SDPParseError("not UTF-8 text", raw.count(b"\n", 0, error.start) + 1) from None
    elif isinstance(data, str):
        text = data
    else:
        raise TypeError(f"an SDP is bytes or str, not {type(data).__name__}")
    lines = text.split("\n")
    while lines and lines[-1] in ("", "\r"):
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def parse_session(data: bytes | str, cls: type[_S]) -> _S:
    """Read one session description into ``cls`` (SDPSession or FrozenSDPSession)."""
    lines = _lines(data)
    if not lines:
        raise SDPParseError("the SDP is empty")
    if not lines[0].startswith("v="):
        raise SDPParseError("an SDP begins with v=0", 1, lines[0])
    reader = _Reader(cls.frozen)
    level = reader.session
    for number, line in enumerate(lines, 1):
        if len(line) < 2 or line[1] != "=" or not ("a" <= line[0] <= "z"):
            reason = "an empty line" if not line else "not a '<type>=<value>' line"
            raise SDPParseError(reason, number, line)
        if "\r" in line or "\x00" in line:
            raise SDPParseError("a CR or NUL inside a line", number, line)
        kind, value = line[0], line[2:]
        try:
            if kind == "m":
                level = reader.open_media(value)
            elif level is reader.session:
                handler = SESSION_LINES.get(kind)
                if handler is None:
                    reader.keep(level, kind, value)
                else:
                    handler(reader, level, value)
            else:
                handler = MEDIA_LINES.get(kind)
                if handler is not None:
                    handler(reader, level, value)
                elif kind in SESSION_ONLY:
                    raise ValueError(f"a {kind}= line inside a media description")
                else:
                    reader.keep(level, kind, value)
        except (ValueError, TypeError) as error:
            raise SDPParseError(str(error), number, line) from None
    session = reader.session
    for kind, what in (("o", "origin (o=)"), ("s", "session name (s=)"), ("t", "timing (t=)")):
        if kind not in session.seen:
            raise SDPParseError(f"the SDP has no {what} line")
    return _build(reader, cls)


def _build(reader: _Reader, cls: type[_S]) -> _S:
    frozen = reader.frozen
    attributes: Callable[[list[Any]], Any] = FrozenSDPAttributeList._make if frozen else SDPAttributeList
    sequence: Callable[[list[Any]], Any] = tuple if frozen else list
    media = [
        reader.media_cls._make(
            level.fields["media"],
            level.fields["port"],
            level.fields["transport"],
            level.fields["port_count"],
            sequence(level.fields["formats"]),
            level.fields.get("info"),
            level.fields.get("connection"),
            attributes(level.attributes),
            sequence(level.bandwidth),
            sequence(_canonical(level.other, _MEDIA_RANK)),
        )
        for level in reader.media
    ]
    fields = reader.session.fields
    return cls._make(
        fields["address"],
        fields["id"],
        fields["version"],
        fields["user"],
        fields["net_type"],
        fields["address_type"],
        fields["name"],
        fields.get("info"),
        fields.get("connection"),
        fields["start_time"],
        fields["stop_time"],
        attributes(reader.session.attributes),
        sequence(reader.session.bandwidth),
        sequence(media),
        sequence(_canonical(reader.session.other, _SESSION_RANK)),
    )


def _canonical(lines: list[tuple[str, str]], ranks: dict[str, float]) -> list[tuple[str, str]]:
    """Kept lines in the order they are written (stable within a type, r= with its t=)."""
    unknown = ranks["a"] - 0.5
    return sorted(lines, key=lambda line: ranks.get(line[0], unknown))


# -- writing ------------------------------------------------------------------------------------


def _ordered(fields: list[tuple[str, str]], other: Any, ranks: dict[str, float]) -> list[str]:
    """The lines of one level: fields, then kept lines, each at the rank of its type."""
    unknown = ranks["a"] - 0.5
    entries = [(ranks[kind], 0, index, kind, value) for index, (kind, value) in enumerate(fields)]
    entries += [
        (ranks.get(kind, unknown), 1, index, kind, value) for index, (kind, value) in enumerate(other)
    ]
    entries.sort(key=lambda entry: entry[:3])
    return [f"{kind}={value}" for _, _, _, kind, value in entries]


def _attribute_lines(attributes: Any) -> list[tuple[str, str]]:
    return [("a", f"{item.name}:{item.value}" if item.value else item.name) for item in attributes]


def format_media(media: _MediaStreamBase) -> list[str]:
    """The lines of one media description, without line ends."""
    port = str(media.port) if media.port_count == 1 else f"{media.port}/{media.port_count}"
    first = " ".join((media.media, port, media.transport, *media.formats))
    fields: list[tuple[str, str]] = []
    if media.info is not None:
        fields.append(("i", media.info))
    if media.connection is not None:
        connection = media.connection
        fields.append(("c", f"{connection.net_type} {connection.address_type} {connection.address}"))
    fields += [("b", f"{item.modifier}:{item.value}") for item in media.bandwidth_info]
    fields += _attribute_lines(media.attributes)
    return [f"m={first}", *_ordered(fields, media.other_lines, _MEDIA_RANK)]


def format_session(session: _SessionBase) -> str:
    """The whole session description, CRLF after every line."""
    fields: list[tuple[str, str]] = [
        ("v", "0"),
        (
            "o",
            f"{session.user} {session.id} {session.version} {session.net_type} "
            f"{session.address_type} {session.address}",
        ),
        ("s", session.name),
    ]
    if session.info is not None:
        fields.append(("i", session.info))
    if session.connection is not None:
        connection = session.connection
        fields.append(("c", f"{connection.net_type} {connection.address_type} {connection.address}"))
    fields += [("b", f"{item.modifier}:{item.value}") for item in session.bandwidth_info]
    fields.append(("t", f"{session.start_time} {session.stop_time}"))
    fields += _attribute_lines(session.attributes)
    lines = _ordered(fields, session.other_lines, _SESSION_RANK)
    for media in session.media:
        lines += format_media(media)
    return "".join(line + "\r\n" for line in lines)
