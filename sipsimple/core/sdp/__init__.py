"""SDP (RFC 4566) and the offer/answer model (RFC 3264), sans-IO.

=================  ===============================================================================
module             what it holds
=================  ===============================================================================
``model``          SDPSession, SDPMediaStream, SDPConnection, SDPBandwidthInfo (+ Frozen variants)
``attributes``     SDPAttribute, SDPAttributeList (+ Frozen), the table of typed attribute values
``parser``         reading and writing the text form (line tables, RFC 4566 order)
``codecs``         RTP payload types: the static table (RFC 3551), codec lists, answer codec choice
``offer_answer``   the rules: answer checks, directions, the negotiated view of an exchange
``negotiator``     SDPNegotiator, the offer/answer state machine (a table)
=================  ===============================================================================

See docs/sdp.md.
"""

from ._errors import (
    Culprit,
    LocalSDPNegotiationError,
    RemoteSDPNegotiationError,
    SDPNegotiationError,
    SDPParseError,
)
from .attributes import (
    ATTRIBUTES,
    Candidate,
    Crypto,
    Direction,
    FormatParameters,
    FrozenSDPAttribute,
    FrozenSDPAttributeList,
    RTCPAddress,
    RTPMap,
    SDPAttribute,
    SDPAttributeList,
    attribute,
)
from .codecs import STATIC_PAYLOAD_TYPES, RTPCodec, answer_codecs, codec_info, codec_list
from .model import (
    FrozenSDPBandwidthInfo,
    FrozenSDPConnection,
    FrozenSDPMediaStream,
    FrozenSDPSession,
    SDPBandwidthInfo,
    SDPConnection,
    SDPMediaStream,
    SDPSession,
)
from .negotiator import NegotiationEvent, NegotiationState, SDPNegotiator
from .offer_answer import allowed_answer_directions, answer_direction, rejected_media

__all__ = [
    "ATTRIBUTES",
    "STATIC_PAYLOAD_TYPES",
    "Candidate",
    "Crypto",
    "Culprit",
    "Direction",
    "FormatParameters",
    "FrozenSDPAttribute",
    "FrozenSDPAttributeList",
    "FrozenSDPBandwidthInfo",
    "FrozenSDPConnection",
    "FrozenSDPMediaStream",
    "FrozenSDPSession",
    "LocalSDPNegotiationError",
    "NegotiationEvent",
    "NegotiationState",
    "RTCPAddress",
    "RTPCodec",
    "RTPMap",
    "RemoteSDPNegotiationError",
    "SDPAttribute",
    "SDPAttributeList",
    "SDPBandwidthInfo",
    "SDPConnection",
    "SDPMediaStream",
    "SDPNegotiationError",
    "SDPNegotiator",
    "SDPParseError",
    "SDPSession",
    "allowed_answer_directions",
    "answer_codecs",
    "answer_direction",
    "attribute",
    "codec_info",
    "codec_list",
    "rejected_media",
]
