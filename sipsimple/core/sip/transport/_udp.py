"""UDP: one `DatagramProtocol` per listening socket. Each datagram is one message (RFC 3261 §18.3).

On Linux the socket also reports the ICMP errors its datagrams cause (RFC 3261 §18.4):
`enable_error_queue` turns on ``IP_RECVERR``/``IPV6_RECVERR`` and `ErrorQueuePort`, Twisted's UDP
port with three changes, reads the error queue and hands each `ICMPReport` to the endpoint:

* ``doRead``: with the option on, a pending error comes out of ``recvfrom`` once (ECONNREFUSED,
  EHOSTUNREACH...) before the data; Twisted's port would take that for a broken socket. Here it
  means "read the error queue", and reading goes on.
* ``readConnectionLost``: the poll and epoll reactors see an error-only wake-up (POLLERR without
  POLLIN) as the end of the descriptor and stop reading it; the port reads the queue, clears the
  socket error and starts reading again. (The select reactor reports it as readable: ``doRead``.)
* ``write``: a pending error also comes out of the next ``sendto``, whatever its destination, and
  that datagram is not sent; Twisted's port drops it without a word. Here the queue is read (its
  reports are delivered on the next reactor turn, never inside the send) and the datagram is sent
  again once.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import sys
from typing import Any

from twisted.internet import udp
from twisted.internet.error import MessageLengthError
from twisted.internet.interfaces import IHalfCloseableDescriptor, IReactorFDSet
from twisted.internet.protocol import DatagramProtocol
from zope.interface import implementer

from .._scanner import SIPScanError, scan
from ._address import TransportAddress
from ._errors import ConnectionFailed, MessageTooLarge
from ._events import Callbacks, logger
from ._icmp import (
    ERROR_ANCILLARY_SIZE,
    ERROR_PAYLOAD_SIZE,
    IP_RECVERR,
    IPV6_RECVERR,
    ICMPReport,
    parse_error_message,
)

__all__ = ["MAX_DATAGRAM", "ErrorQueuePort", "UDPEndpoint", "adopt_udp_socket", "enable_error_queue"]

#: The largest UDP payload over IPv6 (65535 - 8); IPv4 allows 20 bytes less.
MAX_DATAGRAM = 65527

_BLANK = b"\r\n \t"


class UDPEndpoint(DatagramProtocol):
    """A UDP listening socket: scans what arrives, sends what the manager gives it.

    No state is kept per source: a datagram is scanned, reported and forgotten.
    """

    def __init__(self, callbacks: Callbacks, max_size: int) -> None:
        self.callbacks = callbacks
        self.max_size = max_size
        self.local: TransportAddress | None = None
        self.port: Any = None  # the IListeningPort, set by the manager

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        local = self.local
        if local is None:  # pragma: no cover - Twisted only delivers after listenUDP returned
            return
        if not datagram.strip(_BLANK):
            return  # CRLF keep-alives some user agents send over UDP: nothing to report
        source = TransportAddress("udp", addr[0], addr[1])
        if len(datagram) > self.max_size:
            error: Exception = MessageTooLarge(
                f"datagram of {len(datagram)} bytes or more exceeds the {self.max_size}-byte limit"
            )
            self.callbacks.bad_message(datagram, source, local, error)
            return
        try:
            message = scan(datagram, max_size=self.max_size)
        except SIPScanError as scan_error:
            self.callbacks.bad_message(datagram, source, local, scan_error)
            return
        self.callbacks.message(message, source, local)

    def send(self, data: bytes, destination: TransportAddress) -> TransportAddress:
        """Send one datagram; return the local address. Raises `MessageTooLarge`/`ConnectionFailed`."""
        local = self.local
        transport: Any = self.transport
        if local is None or transport is None:
            raise ConnectionFailed(f"the UDP socket for {destination} is closed")
        try:
            transport.write(data, (destination.host, destination.port))
        except MessageLengthError as error:
            raise MessageTooLarge(
                f"{len(data)} bytes do not fit in a UDP datagram to {destination}"
            ) from error
        except OSError as error:
            raise ConnectionFailed(f"cannot send to {destination}: {error.strerror or error}") from error
        self.callbacks.sent(local, destination, data)
        return local

    def icmp_error(self, report: ICMPReport) -> None:
        """An ICMP error about a datagram this socket sent: a transport failure goes to the
        ``on_unreachable`` callback, anything else (time exceeded, packet too big...) is logged."""
        if report.failure:
            logger.info("a datagram to %s bounced: %s", report.destination, report)
            self.callbacks.unreachable(report)
        else:
            logger.debug("ignoring an error about a datagram to %s: %s", report.destination, report)


# -- the error queue ------------------------------------------------------------------------------

#: recvfrom/recvmsg found nothing (more) to read
_AGAIN = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR})
#: what an earlier datagram's ICMP error looks like when a later send or receive returns it
_ASYNC_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.EHOSTDOWN,
        errno.ENETDOWN,
        errno.EPROTO,
        errno.ENOPROTOOPT,
        errno.EPROTONOSUPPORT,
        errno.EACCES,
    }
)
#: error-queue messages read per wake-up; the rest wait for the next one (the socket stays readable)
_ERRORS_PER_READ = 64
#: errors ``recvfrom`` may return in one ``doRead`` before it gives the other descriptors a turn
_ERRORS_PER_DO_READ = 4


def enable_error_queue(sock: socket.socket) -> bool:
    """Ask Linux to queue the ICMP errors of ``sock``'s datagrams; False where that is not possible
    (another system: the socket then hears nothing of them, as before)."""
    if not sys.platform.startswith("linux"):
        return False
    ipv6 = sock.family == socket.AF_INET6
    try:
        if ipv6:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    except OSError:
        return False
    if ipv6:  # errors about IPv4-mapped destinations come at the IPv4 level
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    return True


@implementer(IHalfCloseableDescriptor)
class ErrorQueuePort(udp.Port):
    """Twisted's UDP port reading the socket's error queue too (see the module docstring); only
    unconnected use (``write`` with an address), as `UDPEndpoint` does."""

    protocol: UDPEndpoint

    def doRead(self) -> None:
        read = failures = 0
        while read < self.maxThroughput:
            try:
                data, addr = self.socket.recvfrom(self.maxPacketSize)
            except OSError as error:
                if error.errno in _AGAIN:
                    return
                failures += 1  # an ICMP error about an earlier datagram; the queue has it
                self.deliver(self.read_error_queue())
                if failures >= _ERRORS_PER_DO_READ:
                    return
                continue
            read += len(data)
            if self.addressFamily == socket.AF_INET6:
                addr = addr[:2]  # drop the flow information and scope
            try:
                self.protocol.datagramReceived(data, addr)
            except Exception:
                logger.exception("handling a datagram from %s failed", addr)

    def readConnectionLost(self, reason: Any) -> None:
        """The reactor saw an error-only wake-up and stopped reading: read the errors, resume."""
        self.deliver(self.read_error_queue())
        try:
            self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)  # clears the socket error
        except OSError:  # pragma: no cover - the socket is open while connected
            pass
        if self.connected:
            self.startReading()

    def writeConnectionLost(self, reason: Any) -> None:  # pragma: no cover - UDP is never half-closed
        self.connectionLost(reason)

    def write(self, datagram: bytes, addr: Any = None) -> None:
        """Send one datagram to ``addr`` (a ``(host, port)`` of the socket's family)."""
        for retry in (False, True):
            try:
                self.socket.sendto(datagram, addr)
                return
            except OSError as error:
                if error.errno == errno.EMSGSIZE:
                    raise MessageLengthError("message too long") from error
                if retry or error.errno not in _ASYNC_ERRNOS:
                    raise
            # Most likely an earlier datagram's ICMP error, which this send consumed instead of
            # sending: read the queue, report it on the next turn, and send again. A second failure
            # is this datagram's own (no route to it, say).
            reports = self.read_error_queue()
            if reports:
                self.reactor.callLater(0, self.deliver, reports)

    def read_error_queue(self) -> list[ICMPReport]:
        """Read (at most `_ERRORS_PER_READ`) messages from the error queue; return their reports."""
        reports: list[ICMPReport] = []
        for _ in range(_ERRORS_PER_READ):
            try:
                data, ancdata, flags, address = self.socket.recvmsg(
                    ERROR_PAYLOAD_SIZE, ERROR_ANCILLARY_SIZE, socket.MSG_ERRQUEUE
                )
            except OSError:
                break  # EAGAIN: empty (or the socket is closed)
            report = parse_error_message(data, ancdata, flags, address)
            if report is not None:
                reports.append(report)
        return reports

    def deliver(self, reports: list[ICMPReport]) -> None:
        for report in reports:
            try:
                self.protocol.icmp_error(report)
            except Exception:
                logger.exception("handling %s failed", report)


def adopt_udp_socket(reactor: Any, sock: socket.socket, endpoint: UDPEndpoint, packet_size: int) -> Any:
    """Hand a bound, non-blocking UDP socket to the reactor as ``endpoint``'s port; on Linux with a
    file-descriptor reactor it reports ICMP errors (`ErrorQueuePort`). The caller closes ``sock``:
    the port keeps a duplicate of the descriptor."""
    family = sock.family
    if IReactorFDSet.providedBy(reactor) and enable_error_queue(sock):
        # what reactor.adoptDatagramPort does, with our port class
        port = ErrorQueuePort._fromListeningDescriptor(
            reactor, sock.fileno(), family, endpoint, maxPacketSize=packet_size
        )
        port.startListening()
        return port
    return reactor.adoptDatagramPort(sock.fileno(), family, endpoint, maxPacketSize=packet_size)
