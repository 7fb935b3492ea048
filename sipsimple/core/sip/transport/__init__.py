"""The SIP transport layer: UDP, TCP and TLS over IPv4 and IPv6 (RFC 3261 §18).

`TransportManager` listens, sends, reuses connections (including ones the remote side opened, so
responses go back the way requests came), keeps outgoing connections alive with CRLF pings
(RFC 5626), closes idle ones, and hands every received message to the SIP core as a
`ScannedMessage`. On Linux the UDP sockets also report the ICMP errors their datagrams cause
(``on_unreachable``, RFC 3261 §18.4). The policy lives in the sans-IO `ConnectionTable`; the Twisted
protocols around it are thin. See docs/sip-transport.md.
"""

from ._address import STREAM_TRANSPORTS, TRANSPORTS, Transport, TransportAddress
from ._connections import ConnectionTable, Timeouts
from ._errors import (
    ConnectionClosed,
    ConnectionFailed,
    ConnectionRefused,
    DestinationUnreachable,
    MessageTooLarge,
    TLSVerificationFailed,
    TransportError,
)
from ._icmp import ICMPReport
from ._manager import ConnectionInfo, TransportManager
from ._tls import TLSConfigurationError

__all__ = [
    "STREAM_TRANSPORTS",
    "TRANSPORTS",
    "ConnectionClosed",
    "ConnectionFailed",
    "ConnectionInfo",
    "ConnectionRefused",
    "ConnectionTable",
    "DestinationUnreachable",
    "ICMPReport",
    "MessageTooLarge",
    "TLSConfigurationError",
    "TLSVerificationFailed",
    "Timeouts",
    "Transport",
    "TransportAddress",
    "TransportError",
    "TransportManager",
]
