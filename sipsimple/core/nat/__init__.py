"""NAT traversal, sans-IO: STUN (RFC 5389) messages and client transactions, NAT behaviour
discovery (RFC 5780), and the thin Twisted runners around them. ICE and TURN build on these.

=====================  ==========================================================================
module                 what it holds
=====================  ==========================================================================
``stun``               the message codec: header, attribute table, integrity, fingerprint (RFC 5389)
``transaction``        the client transaction and its retransmission timers (RFC 5389 §7.2)
``behaviour``          NAT mapping/filtering discovery (RFC 5780 §4.3, §4.4) and the NAT type names
``runner``             a UDP port on the reactor driving a Binding request or the discovery
``detection``          the application's ``local_nat_type``: STUN servers of an account, then runner
=====================  ==========================================================================

See docs/nat.md.
"""

from .behaviour import (
    BLOCKED,
    NO_NAT,
    OPEN_INTERNET,
    UDP_FIREWALL,
    Filtering,
    Mapping,
    NATBehaviour,
    NATBehaviourDiscovery,
)
from .stun import (
    ATTRIBUTES,
    MAGIC_COOKIE,
    Attribute,
    Change,
    ErrorCode,
    Message,
    MessageClass,
    Method,
    StreamParser,
    StunError,
    TransportAddress,
    is_stun,
    long_term_key,
    parse,
    saslprep,
    short_term_key,
    verify_fingerprint,
    verify_integrity,
)
from .transaction import ClientTransaction, LocalProtocolError, RetransmissionTimers

__all__ = [
    "ATTRIBUTES",
    "BLOCKED",
    "MAGIC_COOKIE",
    "NO_NAT",
    "OPEN_INTERNET",
    "UDP_FIREWALL",
    "Attribute",
    "Change",
    "ClientTransaction",
    "ErrorCode",
    "Filtering",
    "LocalProtocolError",
    "Mapping",
    "Message",
    "MessageClass",
    "Method",
    "NATBehaviour",
    "NATBehaviourDiscovery",
    "RetransmissionTimers",
    "StreamParser",
    "StunError",
    "TransportAddress",
    "is_stun",
    "long_term_key",
    "parse",
    "saslprep",
    "short_term_key",
    "verify_fingerprint",
    "verify_integrity",
]
