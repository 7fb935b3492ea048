"""Errors a send can fail with. Every one is a `TransportError` with a reason a person can act on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._icmp import ICMPReport

__all__ = [
    "ConnectionClosed",
    "ConnectionFailed",
    "ConnectionRefused",
    "DestinationUnreachable",
    "MessageTooLarge",
    "TLSVerificationFailed",
    "TransportError",
]


class TransportError(Exception):
    """A message could not be handed to the network."""


class ConnectionFailed(TransportError):
    """No connection could be made (refused, unreachable, timed out, TLS handshake failed), or there
    is no listener to send a datagram from."""


class ConnectionRefused(ConnectionFailed):
    """The remote end turned the connection down before anything was written: a TCP reset to our
    SYN (nothing listens there) or an ICMP unreachable. RFC 3261 §18.1.1 retries a request over UDP
    on this error when it went over TCP only for its size."""


class DestinationUnreachable(ConnectionRefused):
    """An ICMP error said a UDP datagram we sent cannot be delivered (RFC 3261 §18.4): nothing listens
    on the port, or no route leads to the host. ``report`` is the `ICMPReport` it came from (its
    ``destination`` is where the datagram was going)."""

    def __init__(self, report: ICMPReport) -> None:
        super().__init__(str(report))  # "port unreachable (ICMP from 192.0.2.1)"
        self.report = report


class TLSVerificationFailed(ConnectionFailed):
    """The server's certificate did not verify (untrusted chain, or not issued for the SIP domain)."""


class ConnectionClosed(TransportError):
    """The connection closed (or the manager stopped) before the message was written, or there is no
    connection to reuse when the caller asked not to open one."""


class MessageTooLarge(TransportError):
    """The message is larger than the configured limit or than a datagram can carry."""
