"""The rules of the offer/answer model (RFC 3264) as functions over frozen sessions.

The negotiator (:mod:`.negotiator`) decides *when* each step may happen; this module decides
whether an SDP is an acceptable offer or answer, and what an exchange agreed on.

Answers (:func:`check_answer`), RFC 3264 §6:

* as many ``m=`` lines as the offer, matched by position, each of the offer's media type;
* a stream offered with port 0 is answered with port 0;
* an accepted stream (port not 0 on both sides) shares at least one format with the offer, RTP
  formats being matched by codec (name, clock rate, channels) when the numbers differ.

Those three hold for the peer's answers too (else RemoteSDPNegotiationError). Our own answers
must also (LocalSDPNegotiationError): keep the offer's ``t=`` line, list only offered formats
(with the offer's payload type numbers for RTP, RFC 3264 §6.1), and take a direction the offer
allows: sendonly is answered recvonly or inactive, recvonly with sendonly or inactive, inactive
with inactive, sendrecv with anything (:func:`answer_direction` computes one).

Offers: a new offer keeps every ``m=`` line of the same side's previous SDP (a removed stream
keeps its slot, with port 0; RFC 3264 §8) and, for our own offers and answers, a dynamic payload
type keeps the codec it had in our previous SDP for that stream (RFC 3264 §8.3.2).

The negotiated view (:func:`negotiated`): for each stream, port 0 on either side makes it port 0
on both; otherwise the common formats, in the answer's order, each side with its own numbers
(rtpmap/fmtp lines of the other formats dropped), and explicit media-level directions: the
answer's, limited by what the offer allows, and its mirror for the offerer. A ``c=`` of 0.0.0.0
(RFC 2543 hold) counts as "do not send to me" (RFC 3264 §8.4). Session-level direction
attributes are folded into the streams.
"""

from __future__ import annotations

from typing import Any

from ._errors import LocalSDPNegotiationError, RemoteSDPNegotiationError, SDPNegotiationError
from .attributes import DIRECTION_NAMES, Direction, SDPAttribute
from .codecs import codec_info, format_keys, is_dynamic
from .model import FrozenSDPMediaStream, FrozenSDPSession, SDPMediaStream

__all__ = [
    "ORIGIN_FIELDS",
    "allowed_answer_directions",
    "answer_direction",
    "check_answer",
    "check_new_sdp",
    "common_formats",
    "negotiated",
    "rejected_media",
    "same_content",
]

#: the fields of the o= line
ORIGIN_FIELDS = frozenset({"user", "id", "version", "net_type", "address_type", "address"})


def _error(local: bool, message: str) -> SDPNegotiationError:
    return LocalSDPNegotiationError(message) if local else RemoteSDPNegotiationError(message)


def answer_direction(offered: Direction | str, wanted: Direction | str = Direction.SENDRECV) -> Direction:
    """The direction to answer with: what we want, limited by what the offer allows."""
    return Direction(wanted) & Direction(offered).mirror()


def allowed_answer_directions(offered: Direction | str) -> frozenset[Direction]:
    """The directions an answer to a stream offered as ``offered`` may take (RFC 3264 §6.1)."""
    limit = Direction(offered).mirror()
    return frozenset(direction for direction in Direction if direction & limit is direction)


def rejected_media(offer_media: Any) -> SDPMediaStream:
    """The answer to an offered stream we do not take: port 0, the offer's media type, transport
    and formats, no attributes (RFC 3264 §6, §8.2)."""
    return SDPMediaStream(offer_media.media, 0, offer_media.transport, formats=list(offer_media.formats))


def same_content(one: Any, other: Any) -> bool:
    """True when two sessions differ at most in their o= line."""
    return _content_key(one) == _content_key(other)


def _content_key(session: Any) -> tuple[Any, ...]:
    key = session._key()
    return tuple(value for name, value in zip(session._fields, key, strict=True) if name not in ORIGIN_FIELDS)


def common_formats(offer_media: Any, answer_media: Any) -> list[tuple[str, str]]:
    """(answer format, offer format) pairs of the formats both list, in the answer's order.

    RTP formats match by codec when the numbers differ (the same number is preferred); other
    formats match by text, and ``*`` (MSRP and friends) matches anything.
    """
    if not offer_media.is_rtp or not answer_media.is_rtp:
        if "*" in offer_media.formats:
            return [(fmt, fmt) for fmt in answer_media.formats]
        return [(fmt, fmt) for fmt in answer_media.formats if fmt in offer_media.formats or fmt == "*"]
    offer_keys = format_keys(offer_media)
    answer_keys = format_keys(answer_media)
    by_key: dict[Any, str] = {}
    for fmt, key in offer_keys.items():
        by_key.setdefault(key, fmt)
    pairs: list[tuple[str, str]] = []
    used: set[str] = set()
    for fmt in answer_media.formats:
        key = answer_keys[fmt]
        if offer_keys.get(fmt) == key and fmt not in used:
            match: str | None = fmt
        else:
            match = by_key.get(key)
            if match in used:
                match = None
        if match is not None:
            used.add(match)
            pairs.append((fmt, match))
    return pairs


def check_answer(offer: FrozenSDPSession, answer: FrozenSDPSession, *, local: bool) -> None:
    """Raise unless ``answer`` answers ``offer`` (our answer when ``local``, else the peer's)."""
    who = "our answer" if local else "the answer"
    if len(answer.media) != len(offer.media):
        raise _error(
            local,
            f"{who} has {len(answer.media)} m= lines and the offer {len(offer.media)}; "
            "an answer has one for each offered stream (RFC 3264 §6)",
        )
    if local and (answer.start_time, answer.stop_time) != (offer.start_time, offer.stop_time):
        raise _error(local, "our answer's t= line differs from the offer's (RFC 3264 §6)")
    for index, (offered, answered) in enumerate(zip(offer.media, answer.media, strict=True)):
        if answered.media != offered.media:
            raise _error(
                local,
                f"stream {index}: {who} has media type {answered.media!r} for an offered "
                f"{offered.media!r} stream (RFC 3264 §6.1)",
            )
        if offered.port == 0:
            if local and answered.port != 0:
                raise _error(local, f"stream {index}: a stream offered with port 0 is answered with port 0")
            continue
        if answered.port == 0:
            continue
        pairs = common_formats(offered, answered)
        if not pairs:
            raise _error(
                local,
                f"stream {index}: {who} accepts the stream without any offered format; "
                "with nothing in common the stream is rejected with port 0 (RFC 3264 §6.1)",
            )
        if local:
            _check_own_answer_stream(index, offer, answer, pairs)


def _check_own_answer_stream(
    index: int, offer: FrozenSDPSession, answer: FrozenSDPSession, pairs: list[tuple[str, str]]
) -> None:
    answered = answer.media[index]
    extra = [fmt for fmt in answered.formats if fmt not in {answer_fmt for answer_fmt, _ in pairs}]
    if extra:
        raise LocalSDPNegotiationError(
            f"stream {index}: our answer lists formats the offer does not have: {' '.join(extra)}"
        )
    if answered.is_rtp:
        renumbered = [answer_fmt for answer_fmt, offer_fmt in pairs if answer_fmt != offer_fmt]
        if renumbered:
            raise LocalSDPNegotiationError(
                f"stream {index}: our answer gives payload types {' '.join(renumbered)} to codecs the "
                "offer numbered otherwise; keep the offer's numbers (RFC 3264 §6.1)"
            )
    direction = answer.direction_of(index)
    offered_direction = offer.direction_of(index)
    if direction not in allowed_answer_directions(offered_direction):
        raise LocalSDPNegotiationError(
            f"stream {index}: {direction} does not answer a {offered_direction} stream; "
            f"use {answer_direction(offered_direction, direction)} (RFC 3264 §6.1)"
        )


def check_new_sdp(previous: FrozenSDPSession | None, new: FrozenSDPSession, *, local: bool) -> None:
    """Raise unless ``new`` may follow ``previous``, the same side's last SDP (RFC 3264 §8)."""
    if previous is None:
        return
    who = "our" if local else "the peer's"
    if len(new.media) < len(previous.media):
        raise _error(
            local,
            f"{who} new SDP has {len(new.media)} m= lines where the previous one had "
            f"{len(previous.media)}; a removed stream keeps its slot with port 0 (RFC 3264 §8)",
        )
    if not local:
        return
    for index, (old, current) in enumerate(zip(previous.media, new.media, strict=False)):
        if 0 in (old.port, current.port) or old.media != current.media or not (old.is_rtp and current.is_rtp):
            continue
        for fmt in current.formats:
            if not fmt.isdigit() or not is_dynamic(int(fmt)) or fmt not in old.formats:
                continue
            before, now = codec_info(old, fmt), codec_info(current, fmt)
            if before is not None and now is not None and before.key != now.key:
                raise LocalSDPNegotiationError(
                    f"stream {index}: payload type {fmt} was {before} and is now {now}; a dynamic "
                    "payload type keeps its codec for the whole session (RFC 3264 §8.3.2)"
                )


def _with_formats(media: Any, formats: list[str]) -> list[Any]:
    """The stream's attributes without the rtpmap/fmtp lines of formats not in ``formats``."""
    kept = set(formats)
    return [
        item
        for item in media.attributes
        if item.name not in ("rtpmap", "fmtp") or item.value.partition(" ")[0] in kept
    ]


def _with_direction(attributes: list[Any], direction: Direction) -> list[Any]:
    return [item for item in attributes if item.name not in DIRECTION_NAMES] + [
        SDPAttribute(direction.value, "")
    ]


def negotiated(
    offer: FrozenSDPSession, answer: FrozenSDPSession
) -> tuple[FrozenSDPSession, FrozenSDPSession]:
    """The offer and the answer as agreed: (negotiated offer, negotiated answer). See the module text."""
    offer_media: list[FrozenSDPMediaStream] = []
    answer_media: list[FrozenSDPMediaStream] = []
    for index, (offered, answered) in enumerate(zip(offer.media, answer.media, strict=True)):
        if offered.port == 0 or answered.port == 0:
            offer_media.append(offered.replace(port=0))
            answer_media.append(answered.replace(port=0))
            continue
        pairs = common_formats(offered, answered)
        answer_formats = [answer_fmt for answer_fmt, _ in pairs]
        offer_formats = [offer_fmt for _, offer_fmt in pairs]
        answer_direction_ = (
            answer.effective_direction_of(index) & offer.effective_direction_of(index).mirror()
        )
        offer_media.append(
            offered.replace(
                formats=offer_formats,
                attributes=_with_direction(_with_formats(offered, offer_formats), answer_direction_.mirror()),
            )
        )
        answer_media.append(
            answered.replace(
                formats=answer_formats,
                attributes=_with_direction(_with_formats(answered, answer_formats), answer_direction_),
            )
        )
    return _settled(offer, offer_media), _settled(answer, answer_media)


def _settled(session: FrozenSDPSession, media: list[FrozenSDPMediaStream]) -> FrozenSDPSession:
    attributes = [item for item in session.attributes if item.name not in DIRECTION_NAMES]
    return session.replace(attributes=attributes, media=media)
