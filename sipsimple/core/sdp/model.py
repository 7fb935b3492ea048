"""The SDP object model (RFC 4566): sessions, media descriptions, connections, bandwidth lines.

Names and fields follow the reference core so that code written against it ports unchanged:

* :class:`SDPSession` (``v= o= s= i= c= b= t= a=`` and the media): ``address``, ``id``,
  ``version``, ``user``, ``net_type``, ``address_type`` (the ``o=`` line), ``name`` (``s=``),
  ``info`` (``i=``), ``connection``, ``start_time``/``stop_time`` (the first ``t=``),
  ``attributes``, ``bandwidth_info``, ``media``;
* :class:`SDPMediaStream` (``m= i= c= b= a=``): ``media``, ``port``, ``port_count``,
  ``transport``, ``formats``, ``info``, ``connection``, ``attributes``, ``bandwidth_info``;
* :class:`SDPConnection` (``c=``): ``address``, ``net_type``, ``address_type``;
* :class:`SDPBandwidthInfo` (``b=``): ``modifier``, ``value``;

each with a Frozen variant (immutable, hashable). Lines the model has no field for (``u= e= p=
r= z= k=``, further ``t=`` lines, and type letters SDP does not define) are kept in
``other_lines`` as ``(type, value)`` pairs and written back in their place in the RFC 4566 order.

``SDPSession.parse(data)`` reads bytes or text (CRLF or LF line ends); ``str(session)`` and
``bytes(session)`` write it with CRLF line ends. See :mod:`sipsimple.core.sdp.parser`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from typing import Any, Self

from ._base import (
    PROTO,
    Check,
    Frozen,
    Mutable,
    SDPObject,
    check_address,
    check_int,
    check_non_ws,
    check_optional_text,
    check_text,
    check_token,
)
from .attributes import (
    DIRECTION_NAMES,
    Direction,
    FrozenSDPAttributeList,
    SDPAttribute,
    SDPAttributeList,
)

__all__ = [
    "FrozenSDPBandwidthInfo",
    "FrozenSDPConnection",
    "FrozenSDPMediaStream",
    "FrozenSDPSession",
    "SDPBandwidthInfo",
    "SDPConnection",
    "SDPMediaStream",
    "SDPSession",
]

MAX_UINT64 = 2**64 - 1
_LINE_TYPE = re.compile(r"[a-z]")
_check_fmt = check_token("format")
_check_text_value = check_text("line value")


def _nested(mutable: type[SDPObject], frozen_cls: type[SDPObject], what: str) -> Check:
    """A check for an optional nested object (the ``c=`` of a session, say)."""

    def check(value: Any, frozen: bool) -> Any:
        if value is None:
            return None
        if not isinstance(value, SDPObject) or value._family is not mutable._family:
            raise TypeError(f"{what} must be a {mutable.__name__}, not {type(value).__name__}")
        if frozen:
            return frozen_cls.new(value)
        return value if type(value) is mutable else mutable.new(value)

    return check


def _sequence(mutable: type[SDPObject], frozen_cls: type[SDPObject], what: str) -> Check:
    """A check for a list of nested objects (a list when mutable, a tuple when frozen)."""

    def check(value: Any, frozen: bool) -> Any:
        if value is None:
            value = ()
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise TypeError(f"{what} must be a list of {mutable.__name__}")
        items = list(value)
        for item in items:
            if not isinstance(item, SDPObject) or item._family is not mutable._family:
                raise TypeError(f"{what} must hold {mutable.__name__} objects, not {type(item).__name__}")
        if frozen:
            return tuple(frozen_cls.new(item) for item in items)
        return [item if type(item) is mutable else mutable.new(item) for item in items]

    return check


def _check_attributes(value: Any, frozen: bool) -> Any:
    if value is None:
        value = ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError("attributes must be a list of SDPAttribute")
    return FrozenSDPAttributeList(value) if frozen else SDPAttributeList(value)


def _check_formats(value: Any, frozen: bool) -> Any:
    if value is None:
        value = ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError("formats must be a list of str")
    items = [_check_fmt(item, frozen) for item in value]
    return tuple(items) if frozen else items


def _check_other_lines(value: Any, frozen: bool) -> Any:
    if value is None:
        value = ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError("other_lines must be a list of (type, value) pairs")
    items = []
    for item in value:
        if not isinstance(item, tuple) or len(item) != 2:
            raise TypeError("other_lines must hold (type, value) pairs")
        kind, text = item
        if not isinstance(kind, str) or _LINE_TYPE.fullmatch(kind) is None:
            raise ValueError(f"line type {kind!r} is not a lower-case letter")
        items.append((kind, _check_text_value(text, frozen)))
    return tuple(items) if frozen else items


def _check_transport(value: Any, frozen: bool) -> str:
    if not isinstance(value, str):
        raise TypeError(f"transport must be a str, not {type(value).__name__}")
    if PROTO.fullmatch(value) is None:
        raise ValueError(f"transport {value!r} is not a protocol name such as RTP/AVP")
    return value


# -- c= -----------------------------------------------------------------------------------------


class _ConnectionBase(SDPObject):
    """``c=<net_type> <address_type> <address>``; ``address`` may carry a multicast ``/ttl``."""

    _fields = ("address", "net_type", "address_type")
    __slots__ = _fields
    _checks = {
        "address": check_non_ws("connection address"),
        "net_type": check_token("net type"),
        "address_type": check_token("address type"),
    }

    address: str
    net_type: str
    address_type: str

    def __init__(self, address: str, net_type: str = "IN", address_type: str = "IP4") -> None:
        self._assign((address, net_type, address_type))

    def _validate(self) -> None:
        check_address(self.address, self.address_type, multicast_suffix=True)

    @property
    def host(self) -> str:
        """The address without a multicast ``/ttl`` or ``/count`` suffix."""
        return self.address.partition("/")[0]

    @property
    def is_null(self) -> bool:
        """True for 0.0.0.0, the RFC 2543 way of saying "send nothing here" (RFC 3264 §8.4)."""
        return self.address_type == "IP4" and self.address == "0.0.0.0"

    def __str__(self) -> str:
        return f"c={self.net_type} {self.address_type} {self.address}"


class SDPConnection(Mutable, _ConnectionBase):
    __slots__ = ()


class FrozenSDPConnection(Frozen, _ConnectionBase):
    __slots__ = ()


# -- b= -----------------------------------------------------------------------------------------


class _BandwidthInfoBase(SDPObject):
    """``b=<modifier>:<value>`` (CT, AS, RS, RR, TIAS... value in kbit/s or as the modifier says)."""

    _fields = ("modifier", "value")
    __slots__ = _fields
    _checks = {"modifier": check_token("bandwidth modifier"), "value": check_int("bandwidth", 0, MAX_UINT64)}

    modifier: str
    value: int

    def __init__(self, modifier: str, value: int) -> None:
        self._assign((modifier, value))

    def __str__(self) -> str:
        return f"b={self.modifier}:{self.value}"


class SDPBandwidthInfo(Mutable, _BandwidthInfoBase):
    __slots__ = ()


class FrozenSDPBandwidthInfo(Frozen, _BandwidthInfoBase):
    __slots__ = ()


_check_connection = _nested(SDPConnection, FrozenSDPConnection, "connection")
_check_bandwidth = _sequence(SDPBandwidthInfo, FrozenSDPBandwidthInfo, "bandwidth_info")


# -- m= -----------------------------------------------------------------------------------------


class _MediaStreamBase(SDPObject):
    """One media description: ``m=<media> <port>[/<port_count>] <transport> <formats...>`` and its lines."""

    _fields = (
        "media",
        "port",
        "transport",
        "port_count",
        "formats",
        "info",
        "connection",
        "attributes",
        "bandwidth_info",
        "other_lines",
    )
    __slots__ = _fields
    _checks = {
        "media": check_token("media type"),
        "port": check_int("port", 0, 65535),
        "transport": _check_transport,
        "port_count": check_int("port count", 1, 65535),
        "formats": _check_formats,
        "info": check_optional_text("media information"),
        "connection": _check_connection,
        "attributes": _check_attributes,
        "bandwidth_info": _check_bandwidth,
        "other_lines": _check_other_lines,
    }
    _containers = frozenset({"formats", "connection", "attributes", "bandwidth_info", "other_lines"})

    media: str
    port: int
    transport: str
    port_count: int
    formats: Any  # list[str] / tuple[str, ...]
    info: str | None
    connection: Any  # SDPConnection / FrozenSDPConnection / None
    attributes: Any  # SDPAttributeList / FrozenSDPAttributeList
    bandwidth_info: Any  # list / tuple of SDPBandwidthInfo
    other_lines: Any  # list / tuple of (type, value)

    def __init__(
        self,
        media: str,
        port: int,
        transport: str,
        port_count: int = 1,
        formats: Iterable[str] | None = None,
        info: str | None = None,
        connection: Any = None,
        attributes: Iterable[Any] | None = None,
        bandwidth_info: Iterable[Any] | None = None,
        other_lines: Iterable[tuple[str, str]] | None = None,
    ) -> None:
        self._assign(
            (
                media,
                port,
                transport,
                port_count,
                formats,
                info,
                connection,
                attributes,
                bandwidth_info,
                other_lines,
            )
        )

    # what the media layer asks

    @property
    def direction(self) -> Direction | None:
        """The media-level direction attribute, or None when there is none.

        See :meth:`SDPSession.direction_of` for the direction with the session level and the
        sendrecv default taken into account. Setting it (mutable streams) replaces the media-level
        direction attributes; None removes them.
        """
        for item in self.attributes:
            if item.name in DIRECTION_NAMES:
                return Direction(item.name)
        return None

    @direction.setter
    def direction(self, value: Direction | str | None) -> None:
        # (frozen streams never get here: their __setattr__ refuses first)
        kept = [item for item in self.attributes if item.name not in DIRECTION_NAMES]
        if value is not None:
            kept.append(SDPAttribute(Direction(value).value, ""))
        self.attributes = kept

    @property
    def is_rtp(self) -> bool:
        """True for the RTP profiles (RTP/AVP, RTP/SAVP, RTP/AVPF, UDP/TLS/RTP/SAVPF, ...)."""
        return "RTP/" in self.transport.upper()

    @property
    def is_rejected(self) -> bool:
        """Port 0: the stream is disabled (RFC 3264 §6, §8.2)."""
        return self.port == 0

    @property
    def has_srtp(self) -> bool:
        """True when SDES keys (``a=crypto``) are offered for the stream."""
        return "crypto" in self.attributes

    @property
    def has_ice_attributes(self) -> bool:
        """True when the stream carries its own ``a=ice-ufrag`` and ``a=ice-pwd``."""
        return "ice-ufrag" in self.attributes and "ice-pwd" in self.attributes

    @property
    def has_ice_candidates(self) -> bool:
        return "candidate" in self.attributes

    def codec_list(self) -> list[Any]:
        """The RTP codecs of the stream in ``m=`` order (see :func:`sipsimple.core.sdp.codecs.codec_list`)."""
        from .codecs import codec_list

        return codec_list(self)

    def codec_info(self, payload_type: int | str) -> Any:
        """The :class:`RTPCodec` of one payload type, or None (rtpmap, else the static table)."""
        from .codecs import codec_info

        return codec_info(self, payload_type)

    def __str__(self) -> str:
        from .parser import format_media

        return "".join(line + "\r\n" for line in format_media(self))


class SDPMediaStream(Mutable, _MediaStreamBase):
    __slots__ = ()


class FrozenSDPMediaStream(Frozen, _MediaStreamBase):
    __slots__ = ()


_check_media = _sequence(SDPMediaStream, FrozenSDPMediaStream, "media")


# -- the session --------------------------------------------------------------------------------


class _SessionBase(SDPObject):
    """A whole session description."""

    _fields = (
        "address",
        "id",
        "version",
        "user",
        "net_type",
        "address_type",
        "name",
        "info",
        "connection",
        "start_time",
        "stop_time",
        "attributes",
        "bandwidth_info",
        "media",
        "other_lines",
    )
    __slots__ = _fields
    _checks = {
        "address": check_non_ws("origin address"),
        "id": check_int("session id", 0, MAX_UINT64),
        "version": check_int("session version", 0, MAX_UINT64),
        "user": check_non_ws("user name"),
        "net_type": check_token("net type"),
        "address_type": check_token("address type"),
        "name": check_text("session name"),
        "info": check_optional_text("session information"),
        "connection": _check_connection,
        "start_time": check_int("start time", 0, MAX_UINT64),
        "stop_time": check_int("stop time", 0, MAX_UINT64),
        "attributes": _check_attributes,
        "bandwidth_info": _check_bandwidth,
        "media": _check_media,
        "other_lines": _check_other_lines,
    }
    _containers = frozenset({"connection", "attributes", "bandwidth_info", "media", "other_lines"})

    address: str
    id: int
    version: int
    user: str
    net_type: str
    address_type: str
    name: str
    info: str | None
    connection: Any
    start_time: int
    stop_time: int
    attributes: Any
    bandwidth_info: Any
    media: Any
    other_lines: Any

    def __init__(
        self,
        address: str,
        id: int | None = None,
        version: int | None = None,
        user: str = "-",
        net_type: str = "IN",
        address_type: str = "IP4",
        name: str = "-",
        info: str | None = None,
        connection: Any = None,
        start_time: int = 0,
        stop_time: int = 0,
        attributes: Iterable[Any] | None = None,
        bandwidth_info: Iterable[Any] | None = None,
        media: Iterable[Any] | None = None,
        other_lines: Iterable[tuple[str, str]] | None = None,
    ) -> None:
        if id is None:
            # RFC 4566 §5.2 suggests an NTP timestamp; any number unique enough will do, kept
            # well below 2**62 so that versions never roll over (RFC 3264 §5).
            id = random.getrandbits(40)
        if version is None:
            version = id
        self._assign(
            (
                address,
                id,
                version,
                user,
                net_type,
                address_type,
                name,
                info,
                connection,
                start_time,
                stop_time,
                attributes,
                bandwidth_info,
                media,
                other_lines,
            )
        )

    def _validate(self) -> None:
        check_address(self.address, self.address_type)

    @classmethod
    def parse(cls, data: bytes | str) -> Self:
        """Read one session description; raises SDPParseError saying which line is wrong and why."""
        from .parser import parse_session

        return parse_session(data, cls)

    def __str__(self) -> str:
        from .parser import format_session

        return format_session(self)

    def __bytes__(self) -> bytes:
        return str(self).encode("utf-8")

    # what the offer/answer layer asks

    def direction_of(self, index: int) -> Direction:
        """The direction declared for media stream ``index``: its own attribute, else the
        session-level one, else sendrecv (RFC 3264 §5.1)."""
        direction = self.media[index].direction
        if direction is None:
            for item in self.attributes:
                if item.name in DIRECTION_NAMES:
                    return Direction(item.name)
            return Direction.SENDRECV
        return direction

    def connection_of(self, index: int) -> Any:
        """The ``c=`` that applies to media stream ``index`` (its own, else the session's)."""
        media = self.media[index]
        return media.connection if media.connection is not None else self.connection

    def effective_direction_of(self, index: int) -> Direction:
        """:meth:`direction_of`, less "receive" when the stream's address is 0.0.0.0: the legacy
        (RFC 2543) way of asking not to be sent anything (RFC 3264 §8.4)."""
        direction = self.direction_of(index)
        connection = self.connection_of(index)
        if connection is not None and connection.is_null:
            return direction & Direction.SENDONLY
        return direction

    @property
    def has_ice_attributes(self) -> bool:
        """True when ``a=ice-ufrag`` and ``a=ice-pwd`` are at session level or in every stream that is not disabled."""
        if "ice-ufrag" in self.attributes and "ice-pwd" in self.attributes:
            return True
        active = [media for media in self.media if media.port != 0]
        return bool(active) and all(media.has_ice_attributes for media in active)


class SDPSession(Mutable, _SessionBase):
    __slots__ = ()


class FrozenSDPSession(Frozen, _SessionBase):
    __slots__ = ()
