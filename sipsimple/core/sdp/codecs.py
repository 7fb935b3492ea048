"""RTP payload formats in SDP: the static payload types, codec lists, and choosing an answer's codecs.

* :data:`STATIC_PAYLOAD_TYPES` is the table of RFC 3551 §6 (tables 4 and 5): the payload types
  that need no ``a=rtpmap``.
* :func:`codec_list` gives the codecs of a media description in ``m=`` order, each as an
  :class:`RTPCodec` (payload type, encoding name, clock rate, channels, fmtp). Payload types with
  neither an rtpmap nor a static meaning are left out.
* :func:`answer_codecs` picks the codecs of an answer: the offered codecs we support, in our order
  of preference, each with the payload type number (and fmtp) the offer gave it (RFC 3264 §6.1),
  followed by the offered telephone-event formats (RFC 4733) whose clock rate matches a chosen codec.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from .attributes import RTPMap, SDPAttribute, attribute

__all__ = [
    "STATIC_PAYLOAD_TYPES",
    "TELEPHONE_EVENT",
    "RTPCodec",
    "answer_codecs",
    "codec_info",
    "codec_list",
    "format_key",
    "format_keys",
    "is_dynamic",
]

TELEPHONE_EVENT = "telephone-event"


class RTPCodec(NamedTuple):
    """One RTP payload format: ``payload_type`` (None for a codec not yet bound to a number),
    encoding ``name``, ``clock_rate``, ``channels`` and the ``fmtp`` parameters (or None)."""

    payload_type: int | None
    name: str
    clock_rate: int
    channels: int = 1
    fmtp: str | None = None

    @classmethod
    def from_text(cls, text: str, payload_type: int | None = None) -> RTPCodec:
        """``"opus/48000/2"``, ``"PCMU/8000"`` -> an RTPCodec."""
        parts = text.split("/")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1].isdigit():
            raise ValueError(f"{text!r} is not '<name>/<clock rate>[/<channels>]'")
        channels = 1
        if len(parts) == 3:
            if not parts[2].isdigit():
                raise ValueError(f"{text!r}: channels {parts[2]!r} is not a number")
            channels = int(parts[2])
        return cls(payload_type, parts[0], int(parts[1]), channels)

    @property
    def key(self) -> tuple[str, int, int]:
        """What identifies the codec whatever its payload type: (name in lower case, rate, channels)."""
        return (self.name.lower(), self.clock_rate, self.channels)

    def matches(self, other: RTPCodec) -> bool:
        return self.key == other.key

    def rtpmap(self) -> RTPMap:
        if self.payload_type is None:
            raise ValueError(f"{self.name}/{self.clock_rate} has no payload type")
        return RTPMap(
            self.payload_type, self.name, self.clock_rate, None if self.channels == 1 else str(self.channels)
        )

    def attributes(self) -> list[SDPAttribute]:
        """The ``a=rtpmap`` (and ``a=fmtp`` when there are parameters) lines of this codec."""
        made = [attribute("rtpmap", self.rtpmap())]
        if self.fmtp:
            made.append(SDPAttribute("fmtp", f"{self.payload_type} {self.fmtp}"))
        return made

    def __str__(self) -> str:
        text = f"{self.name}/{self.clock_rate}"
        return text if self.channels == 1 else f"{text}/{self.channels}"


def _static(*rows: tuple[int, str, int, int]) -> dict[int, RTPCodec]:
    return {pt: RTPCodec(pt, name, rate, channels) for pt, name, rate, channels in rows}


#: RFC 3551 §6, tables 4 and 5: payload type -> codec, for the types that need no rtpmap.
STATIC_PAYLOAD_TYPES: dict[int, RTPCodec] = _static(
    (0, "PCMU", 8000, 1),
    (3, "GSM", 8000, 1),
    (4, "G723", 8000, 1),
    (5, "DVI4", 8000, 1),
    (6, "DVI4", 16000, 1),
    (7, "LPC", 8000, 1),
    (8, "PCMA", 8000, 1),
    (9, "G722", 8000, 1),
    (10, "L16", 44100, 2),
    (11, "L16", 44100, 1),
    (12, "QCELP", 8000, 1),
    (13, "CN", 8000, 1),
    (14, "MPA", 90000, 1),
    (15, "G728", 8000, 1),
    (16, "DVI4", 11025, 1),
    (17, "DVI4", 22050, 1),
    (18, "G729", 8000, 1),
    (25, "CelB", 90000, 1),
    (26, "JPEG", 90000, 1),
    (28, "nv", 90000, 1),
    (31, "H261", 90000, 1),
    (32, "MPV", 90000, 1),
    (33, "MP2T", 90000, 1),
    (34, "H263", 90000, 1),
)


def is_dynamic(payload_type: int) -> bool:
    """True for numbers without a static meaning (96-127, and the unassigned ones)."""
    return payload_type not in STATIC_PAYLOAD_TYPES


def _maps(media: Any) -> tuple[dict[str, RTPMap], dict[str, str]]:
    rtpmaps: dict[str, RTPMap] = {}
    fmtps: dict[str, str] = {}
    for item in media.attributes:
        if item.name == "rtpmap":
            rtpmap = item.parsed
            rtpmaps.setdefault(str(rtpmap.payload_type), rtpmap)
        elif item.name == "fmtp":
            fmt, _, parameters = item.value.partition(" ")
            fmtps.setdefault(fmt, parameters)
    return rtpmaps, fmtps


def _codec(fmt: str, rtpmaps: dict[str, RTPMap], fmtps: dict[str, str]) -> RTPCodec | None:
    if not fmt.isdigit():
        return None
    rtpmap = rtpmaps.get(fmt)
    if rtpmap is not None:
        codec = RTPCodec(rtpmap.payload_type, rtpmap.encoding_name, rtpmap.clock_rate, rtpmap.channels)
    else:
        static = STATIC_PAYLOAD_TYPES.get(int(fmt))
        if static is None:
            return None
        codec = static
    return codec._replace(fmtp=fmtps.get(fmt) or None)


def codec_list(media: Any) -> list[RTPCodec]:
    """The codecs of an RTP media description, in ``m=`` order (unknown payload types left out)."""
    if not media.is_rtp:
        return []
    rtpmaps, fmtps = _maps(media)
    codecs = (_codec(fmt, rtpmaps, fmtps) for fmt in media.formats)
    return [codec for codec in codecs if codec is not None]


def codec_info(media: Any, payload_type: int | str) -> RTPCodec | None:
    """The codec of one payload type of ``media`` (listed in its ``m=`` line), or None."""
    fmt = str(payload_type)
    if not media.is_rtp or fmt not in media.formats:
        return None
    return _codec(fmt, *_maps(media))


def format_key(media: Any, fmt: str) -> Any:
    """What identifies format ``fmt`` of ``media`` across payload type numbers: the codec key for
    RTP formats that have a meaning, else the format text itself."""
    if media.is_rtp:
        codec = codec_info(media, fmt)
        if codec is not None:
            return codec.key
    return ("format", fmt)


def format_keys(media: Any) -> dict[str, Any]:
    """:func:`format_key` of every format of ``media`` (reading its attributes once)."""
    if not media.is_rtp:
        return {fmt: ("format", fmt) for fmt in media.formats}
    rtpmaps, fmtps = _maps(media)
    keys: dict[str, Any] = {}
    for fmt in media.formats:
        codec = _codec(fmt, rtpmaps, fmtps)
        keys[fmt] = ("format", fmt) if codec is None else codec.key
    return keys


def answer_codecs(
    offer_media: Any, supported: Iterable[RTPCodec | str], *, telephone_event: bool = True
) -> list[RTPCodec]:
    """The codecs to put in the answer to ``offer_media``.

    ``supported`` lists what we can use, most preferred first (RTPCodec or ``"name/rate[/channels]"``;
    payload types there are ignored). The result is every supported codec the offer has, in our
    order, each with the payload type number and fmtp of the offer (RFC 3264 §6.1: the answer reuses
    the offer's numbers). Then, when ``telephone_event`` is true, the offered telephone-event
    formats whose clock rate is the rate of a chosen codec (one per rate, RFC 4733 §7.1.1);
    telephone-event entries in ``supported`` are ignored. An empty result means the stream must
    be rejected (port 0).
    """
    offered = codec_list(offer_media)
    offered_keys = [codec.key for codec in offered]  # once, not once per supported codec
    chosen: list[RTPCodec] = []
    for want in supported:
        wanted = RTPCodec.from_text(want) if isinstance(want, str) else want
        wanted_key = wanted.key
        if wanted_key[0] == TELEPHONE_EVENT:
            continue
        for codec, key in zip(offered, offered_keys, strict=True):
            if key == wanted_key and codec not in chosen:
                chosen.append(codec)
                break
    if telephone_event and chosen:
        rates = {codec.clock_rate for codec in chosen}
        for codec in offered:
            if codec.name.lower() == TELEPHONE_EVENT and codec.clock_rate in rates:
                rates.discard(codec.clock_rate)
                chosen.append(codec)
    return chosen
