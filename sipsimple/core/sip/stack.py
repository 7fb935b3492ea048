"""The SIP stack's transaction layer: it drives the sans-IO transactions with a reactor and a transport.

``SIPStack`` sits between the transports (``receive`` is their ``on_message``) and the transaction
users (the Engine and its request objects):

* ``send_request(request, destination, listener)`` stamps the top Via (sent-by of our listener for
  the transport actually used, a fresh branch, ``rport``), creates the client transaction and runs
  it. The listener hears ``response_received``, ``timed_out``, ``transport_failed`` and
  ``terminated``.
* A request that went over TCP only because of its size (RFC 3261 §18.1.1: over 1300 bytes, to a
  UDP destination) and whose connection was refused before anything came back is sent again, once,
  over UDP as a new client transaction: same request and CSeq, a new top Via (``UDP``, a fresh
  branch). The listener hears the new transaction's events and nothing of the refused one.
* ``destination_unreachable(report)`` is the transports' ``on_unreachable``: an ICMP error about a
  request sent over UDP (RFC 3261 §18.4) fails every UDP client transaction to that host and port
  still waiting for its final response, with ``DestinationUnreachable``; errors about responses
  fail nothing.
* A received request that matches a server transaction is a retransmission and goes to it. A new
  one gets a server transaction and is handed to ``on_request(server_transaction)``; the TU answers
  with ``server_transaction.send_response(response)``. A CANCEL is answered by its own transaction
  and reported with ``on_cancel(invite_transaction, cancel_transaction)`` (481 when nothing
  matches). An ACK for a 2xx matches no transaction and goes to ``on_request`` bare
  (``server_transaction`` is then a ``StatelessRequest``), as do responses nothing claims to
  ``on_stray_response`` (an INVITE 2xx from another fork, a 2xx retransmission).
* Received requests get ``received``/``rport`` on their top Via (RFC 3261 §18.2.1, RFC 3581);
  responses go where §18.2.2 and RFC 3581 say: the connection the request came on, or the source
  address and port.
* Requests without the core headers a server needs are answered 400 statelessly when a Via allows
  it, and dropped otherwise.

Timers run on the injected reactor (``callLater``), so tests drive them with a ``Clock``.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet.defer import Deferred

from sipsimple.core.sip._grammar import SIPParseError
from sipsimple.core.sip.headers import HEADER_TABLE, MaxForwardsHeader, ViaHeader, mutable
from sipsimple.core.sip.ids import new_branch
from sipsimple.core.sip.message import (
    SIPMessage,
    SIPRequest,
    SIPResponse,
    from_scanned,
    make_ack,
    make_response,
)
from sipsimple.core.sip.transaction import (
    CancelTimer,
    InviteClientState,
    InviteClientTransaction,
    InviteServerState,
    InviteServerTransaction,
    LocalProtocolError,
    NonInviteClientState,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    PassToTU,
    ProtocolError,
    Send,
    StartTimer,
    Stray,
    Terminated,
    Timeout,
    TimerConfig,
    TransportError,
    cancel_target_key,
    client_key,
    server_key,
)
from sipsimple.core.sip.transaction.ended import AckRule, EndedTransactions, PassAck, Resend
from sipsimple.core.sip.transport import (
    ConnectionRefused,
    DestinationUnreachable,
    ICMPReport,
    TransportAddress,
)
from sipsimple.core.sip.uri import BaseSIPURI

__all__ = [
    "ClientListener",
    "ClientTransaction",
    "SIPStack",
    "ServerTransaction",
    "StatelessRequest",
]

log = logging.getLogger(__name__)

_REQUIRED_HEADERS = ("Via", "From", "To", "Call-ID", "CSeq")
_SINGLE_HEADERS = ("From", "To", "Call-ID", "CSeq", "Max-Forwards", "Content-Type")


class Transport(Protocol):
    """What the stack needs from the transport layer (TransportManager provides it)."""

    @property
    def listeners(self) -> tuple[TransportAddress, ...]: ...

    def transport_for(
        self, destination: TransportAddress, size: int, *, is_request: bool = False
    ) -> TransportAddress: ...

    def send(
        self,
        data: bytes,
        destination: TransportAddress,
        *,
        tls_name: str | None = None,
        is_request: bool = False,
        new_connection: bool = True,
        size_switch: bool = True,
    ) -> Deferred[TransportAddress]: ...


class ClientListener(Protocol):
    def response_received(self, transaction: ClientTransaction, response: SIPResponse) -> None: ...

    def timed_out(self, transaction: ClientTransaction) -> None: ...

    def transport_failed(self, transaction: ClientTransaction, error: BaseException | None) -> None: ...

    def terminated(self, transaction: ClientTransaction) -> None: ...


#: transaction action -> the driver method that carries it out
_ACTION_HANDLERS: dict[type, str] = {
    Send: "_on_send",
    StartTimer: "_on_start_timer",
    CancelTimer: "_on_cancel_timer",
    PassToTU: "_on_pass_to_tu",
    Timeout: "_on_timeout",
    TransportError: "_on_transport_error",
    Terminated: "_on_terminated",
    Stray: "_on_stray",
}


class _Driven(ABC):
    """Runs a transaction's actions: sends, timers on the reactor, and the hand-off to the TU."""

    def __init__(self, stack: SIPStack, machine: Any) -> None:
        self.stack = stack
        self.machine = machine
        self._timers: dict[str, Any] = {}
        self._wire: tuple[SIPMessage, bytes] | None = None
        self.terminated = False

    def _run(self, actions: list[Any]) -> None:
        for action in actions:
            getattr(self, _ACTION_HANDLERS[type(action)])(action)

    def _call(self, event: str, *args: Any) -> None:
        try:
            actions = getattr(self.machine, event)(*args)
        except ProtocolError as e:
            log.warning("%r: %s (%s)", self, e, e.culprit.value)
            raise
        self._run(actions)

    def _bytes(self, message: SIPMessage) -> bytes:
        if self._wire is None or self._wire[0] is not message:
            self._wire = (message, message.to_bytes())
        return self._wire[1]

    def _on_start_timer(self, action: StartTimer) -> None:
        self._timers[action.name] = self.stack.reactor.callLater(action.delay, self._timer_fired, action.name)

    def _on_cancel_timer(self, action: CancelTimer) -> None:
        call = self._timers.pop(action.name, None)
        if call is not None and call.active():
            call.cancel()

    def _timer_fired(self, name: str) -> None:
        self._timers.pop(name, None)
        self._call("timer_fired", name)

    def _on_terminated(self, action: Terminated) -> None:
        self.terminated = True
        for call in self._timers.values():
            if call.active():
                call.cancel()
        self._timers.clear()
        self._forget()

    def _on_stray(self, action: Stray) -> None:
        self.stack._stray(action.message)

    @abstractmethod
    def _forget(self) -> None: ...

    def _transport_failed(self, failure: Any) -> None:
        if not self.terminated:
            self._failure = failure.value if hasattr(failure, "value") else failure
            self._call("transport_failed")


#: client transaction states in which nothing has come back from the peer yet
_UNANSWERED = frozenset({InviteClientState.CALLING, NonInviteClientState.TRYING})
#: client transaction states that still wait for a final response (an ICMP error can fail them)
_AWAITING_FINAL = frozenset(
    {
        InviteClientState.CALLING,
        InviteClientState.PROCEEDING,
        NonInviteClientState.TRYING,
        NonInviteClientState.PROCEEDING,
    }
)


class ClientTransaction(_Driven):
    """A request we sent and the responses it gets.

    ``moved_from`` is the UDP destination a request was moved away from by the size rule of RFC 3261
    §18.1.1 (None when it goes where it was sent); ``size_switch=False`` keeps a large request on UDP
    (the retry after that move failed). ``retried_as`` is the transaction that took over.
    """

    def __init__(
        self,
        stack: SIPStack,
        request: SIPRequest,
        destination: TransportAddress,
        listener: ClientListener,
        tls_name: str | None,
        *,
        moved_from: TransportAddress | None = None,
        size_switch: bool = True,
    ) -> None:
        self.request = request
        self.destination = destination
        self.listener = listener
        self.tls_name = tls_name
        self.moved_from = moved_from
        self.size_switch = size_switch
        self.retried_as: ClientTransaction | None = None
        self._failure: BaseException | None = None
        self._failed_unanswered = False
        reliable = destination.transport != "udp"
        if request.method == "INVITE":
            machine: Any = InviteClientTransaction(
                request, reliable=reliable, build_ack=make_ack, timers=stack.timers
            )
        else:
            machine = NonInviteClientTransaction(request, reliable=reliable, timers=stack.timers)
        super().__init__(stack, machine)
        self.key = client_key(request.get("Via").branch, request.method)

    def _on_send(self, action: Send) -> None:
        data, send = self._bytes(action.message), self.stack.transport.send
        if self.size_switch:
            deferred = send(data, self.destination, tls_name=self.tls_name, is_request=True)
        else:
            deferred = send(
                data, self.destination, tls_name=self.tls_name, is_request=True, size_switch=False
            )
        deferred.addErrback(self._transport_failed)

    def _transport_failed(self, failure: Any) -> None:
        self._failed_unanswered = self.machine.state in _UNANSWERED
        super()._transport_failed(failure)

    def _on_pass_to_tu(self, action: PassToTU) -> None:
        self.listener.response_received(self, action.message)

    def _on_timeout(self, action: Timeout) -> None:
        self.listener.timed_out(self)

    def _on_transport_error(self, action: TransportError) -> None:
        self.retried_as = self.stack._retry_over_udp(self)
        if self.retried_as is None:
            self.listener.transport_failed(self, self._failure)

    @property
    def may_retry_over_udp(self) -> bool:
        """Whether RFC 3261 §18.1.1 asks for this failed transaction to be sent again over UDP: it went
        over TCP only for its size, the connection was refused (a reset, an ICMP unreachable), and
        nothing came back from the peer (so the request never reached it)."""
        return (
            self.moved_from is not None
            and self._failed_unanswered
            and isinstance(self._failure, ConnectionRefused)
        )

    def _forget(self) -> None:
        self.stack._client_transactions.pop(self.key, None)
        if self.retried_as is None:  # else the listener hears the end of the retry instead
            self.listener.terminated(self)

    def __repr__(self) -> str:
        return f"<ClientTransaction {self.request.method} to {self.destination}>"


class _SentResponse:
    """What a server transaction keeps of a response it sent: its status code and its bytes."""

    __slots__ = ("data", "status_code")

    def __init__(self, status_code: int, data: bytes) -> None:
        self.status_code = status_code
        self.data = data


class _MethodOnly:
    """What a non-INVITE server transaction machine needs of its request."""

    __slots__ = ("method",)

    def __init__(self, method: str) -> None:
        self.method = method


#: the timers whose start means a server transaction has only a passive job left: answering or
#: absorbing retransmissions (J: non-INVITE Completed, L: INVITE Accepted, I: INVITE Confirmed)
_LINGER_TIMERS = frozenset({"J", "L", "I"})


class ServerTransaction(_Driven):
    """A request we received; the TU answers with ``send_response``.

    A server transaction lives on after its final response to answer retransmissions (Timer J,
    and Timer L for an INVITE: 32 s on UDP). That job needs only the bytes of the response and
    where they go, so when it starts the stack moves it to its table of ended transactions
    (``transaction.ended``) and lets go of this object and its machine: ``request`` is None after
    the final response, and this object only keeps what an INVITE's TU needs to send its 2xx
    again (RFC 3261 §13.3.1.4) while Timer L runs.
    """

    def __init__(
        self, stack: SIPStack, request: SIPRequest, source: TransportAddress, local: TransportAddress
    ) -> None:
        self.request: SIPRequest | None = request
        self.method = request.method
        self.source = source
        self.local = local
        self._failure: BaseException | None = None
        self._destination: TransportAddress | None = None
        reliable = source.transport != "udp"
        if request.method == "INVITE":
            machine: Any = InviteServerTransaction(
                request,
                reliable=reliable,
                build_provisional=make_response,
                timers=stack.timers,
            )
        else:
            machine = NonInviteServerTransaction(
                _MethodOnly(request.method), reliable=reliable, timers=stack.timers
            )
        super().__init__(stack, machine)
        via = request.get("Via")
        self.key = server_key(via.branch, via.host, via.port, request.method)
        #: called once, when the stack lets go of this object: the transaction terminated, or its
        #: remaining passive job moved to the stack's table of ended transactions
        self.on_terminated: Callable[[ServerTransaction], None] | None = None
        #: called once, when the first final response went (so that what only matters until then,
        #: a CANCEL handler, is let go at once instead of with the transaction 32 s later)
        self.on_answered: Callable[[ServerTransaction], None] | None = None
        self._linger: tuple[str, float] | None = None  # a linger timer the machine just started
        self._final_code = 0  # the status code of the final response, once the machine is gone

    @property
    def answered(self) -> bool:
        """Whether a final response was sent."""
        if self.machine is None:
            return True
        last = self.machine.last_response
        return last is not None and last.status_code >= 200

    @property
    def ended(self) -> bool:
        """Whether the machine's work is done and its passive remainder (answering or absorbing
        retransmissions) lives in the stack's table of ended transactions, or is over."""
        return self.machine is None

    def send_response(self, response: SIPResponse) -> None:
        """Send a response from the TU (provisional, then one final)."""
        if self.request is None and self.method != "INVITE":  # an INVITE's 2xx is sent again by its TU
            raise ValueError(f"{self!r} has already sent its final response")
        if self.machine is None:
            self._send_after_end(response)
            return
        self._call("send_response", _SentResponse(response.code, response.to_bytes()))
        if response.code >= 200:
            self.request = None
            if self.machine is not None and self.method == "INVITE":  # its machine only builds a 100
                self.machine.request = _MethodOnly("INVITE")  # from it, never after this
            on_answered, self.on_answered = self.on_answered, None
            if on_answered is not None:
                on_answered(self)

    def _send_after_end(self, response: SIPResponse) -> None:
        """The TU's response once the machine is gone: an INVITE's 2xx sent again while Timer L
        runs (RFC 6026 §8.7: Accepted sends it); anything else breaks the rules, as the machine said."""
        if self._final_code >= 300:
            raise LocalProtocolError(f"{self!r}: a non-2xx final response was already sent")
        if not 200 <= response.code < 300:
            raise LocalProtocolError(f"{self!r}: a 2xx was already sent; only 2xx retransmissions may follow")
        if self.key is None or self.key not in self.stack._ended:
            raise LocalProtocolError(
                f"{self!r}: the transaction is terminated; send 2xx retransmissions directly"
            )
        assert self._destination is not None
        self.stack.transport.send(response.to_bytes(), self._destination, new_connection=False).addErrback(
            self._transport_failed
        )

    def _on_start_timer(self, action: StartTimer) -> None:
        if action.name in _LINGER_TIMERS:
            self._linger = (action.name, action.delay)  # handed over once the actions ran
        else:
            super()._on_start_timer(action)

    def _call(self, event: str, *args: Any) -> None:
        super()._call(event, *args)
        if self._linger is not None:
            self._hand_over(*self._linger)

    def _hand_over(self, timer: str, lifetime: float) -> None:
        """The machine entered Completed (non-INVITE), Accepted or Confirmed (INVITE): keep a record
        of what answering retransmissions needs in the stack's ended table, and drop the machine
        and everything it holds. The stack no longer refers to this object."""
        machine = self.machine
        last = machine.last_response
        self._final_code = last.status_code if last is not None else 0
        if self.key is not None:
            if timer == "J":
                to = self._destination
                assert to is not None  # the final response went there
                self.stack._keep_ended(
                    self.key, lifetime, last.data, (to.transport, to.host, to.port), AckRule.REFUSE
                )
            elif machine.state is InviteServerState.ACCEPTED:
                self.stack._keep_ended(self.key, lifetime, None, None, AckRule.PASS)
            else:  # Confirmed
                self.stack._keep_ended(self.key, lifetime, None, None, AckRule.ABSORB)
        self._linger = None
        self.machine = None
        self._wire = None
        for call in self._timers.values():  # none should be left; be sure nothing fires
            if call.active():
                call.cancel()
        self._timers.clear()
        self._forget()

    def _transport_failed(self, failure: Any) -> None:
        if self.machine is None:  # the response went out after the hand-over, and failed
            self._failure = failure.value if hasattr(failure, "value") else failure
            log.info("%r: transport failed: %s", self, self._failure)
            if self.key is not None:
                self.stack._ended.discard(self.key)
            return
        super()._transport_failed(failure)

    def _on_send(self, action: Send) -> None:
        message = action.message
        data = message.data if isinstance(message, _SentResponse) else self._bytes(message)
        if self._destination is None:
            assert self.request is not None
            self._destination = self.stack.response_destination(self.request, self.source)
        self.stack.transport.send(data, self._destination, new_connection=False).addErrback(
            self._transport_failed
        )

    def _on_pass_to_tu(self, action: PassToTU) -> None:
        if action.message.method == "ACK":
            self.stack._deliver_ack(self, action.message)

    def _on_timeout(self, action: Timeout) -> None:
        log.info("%r: no ACK for the final response (Timer %s)", self, action.timer)

    def _on_transport_error(self, action: TransportError) -> None:
        log.info("%r: transport failed: %s", self, self._failure)

    def _forget(self) -> None:
        if self.stack._server_transactions.get(self.key) is self:
            del self.stack._server_transactions[self.key]
        on_terminated, self.on_terminated = self.on_terminated, None
        if on_terminated is not None:
            on_terminated(self)

    def __repr__(self) -> str:
        return f"<ServerTransaction {self.method} from {self.source}>"


class StatelessRequest:
    """A request that belongs to no transaction (an ACK for a 2xx): it cannot be answered."""

    def __init__(self, request: SIPRequest, source: TransportAddress, local: TransportAddress) -> None:
        self.request = request
        self.source = source
        self.local = local

    @property
    def method(self) -> str:
        return self.request.method


#: The most our Via (``Via: SIP/2.0/UDP [IPv6]:65535;branch=z9hG4bK<24 hex>;rport``, 111 bytes),
#: a Max-Forwards, a Content-Length and the empty line add to a request.
_ADDED_BY_SENDING = 160


def _size_once_sent(request: SIPRequest) -> int:
    """An upper bound of the request's size on the wire once ``stamp_via`` has added its headers:
    what the UDP->TCP switch of RFC 3261 section 18.1.1 (requests over 1300 bytes) compares."""
    start_line = len(request.method) + len(request.request_uri) + 12  # two spaces, "SIP/2.0", CRLF
    # ": " and CRLF; a value in bytes (a display name may be UTF-8)
    headers = sum(len(name) + len(value.encode()) + 4 for name, value in request.headers)
    return start_line + headers + len(request.body) + _ADDED_BY_SENDING


class SIPStack:
    def __init__(
        self,
        reactor: Any,
        transport: Transport,
        *,
        on_request: Callable[[ServerTransaction | StatelessRequest], None],
        on_cancel: Callable[[ServerTransaction, ServerTransaction], None] | None = None,
        on_stray_response: Callable[[SIPResponse], None] | None = None,
        on_ack: Callable[[ServerTransaction, SIPRequest], None] | None = None,
        timers: TimerConfig | None = None,
    ) -> None:
        self.reactor = reactor
        self.transport = transport
        self.timers = timers or TimerConfig()
        self.on_request = on_request
        self.on_cancel = on_cancel
        self.on_stray_response = on_stray_response
        self.on_ack = on_ack
        self._client_transactions: dict[Any, ClientTransaction] = {}
        self._server_transactions: dict[Any, ServerTransaction] = {}
        #: server transactions that only absorb retransmissions now, as small records
        self._ended = EndedTransactions()
        self._sweep: Any = None  # the DelayedCall that expires the next ended records

    # sending ------------------------------------------------------------------------------------

    def local_address(self, transport: str, family_host: str) -> TransportAddress | None:
        """Our listener for ``transport`` in the address family of ``family_host``."""
        want_v6 = ":" in family_host
        for address in self.transport.listeners:
            if address.transport == transport and (":" in address.host) == want_v6:
                return address
        return None

    def stamp_via(self, request: SIPRequest, destination: TransportAddress) -> TransportAddress:
        """Put our Via on top of ``request`` for ``destination``; returns the destination actually used."""
        used = self.transport.transport_for(destination, _size_once_sent(request), is_request=True)
        request.add("Via", [self._our_via(used)], first=True)
        if "Max-Forwards" not in request:
            request.add("Max-Forwards", MaxForwardsHeader(70))
        return used

    def _our_via(self, used: TransportAddress) -> ViaHeader:
        """A Via with a fresh branch naming our listener for ``used`` (ValueError when there is none)."""
        local = self.local_address(used.transport, used.host)
        if local is None and used.is_stream:
            # A client needs no listener of its own on TCP/TLS: responses come back on the
            # connection. The Via still needs an address: the one of another transport will do.
            local = self.local_address("tcp", used.host) or self.local_address("udp", used.host)
        if local is None:
            raise ValueError(f"no listener to put in the Via for {used}")
        return ViaHeader(
            used.transport.upper(), local.host, local.port, {"branch": new_branch(), "rport": None}
        )

    def send_request(
        self,
        request: SIPRequest,
        destination: TransportAddress,
        listener: ClientListener,
        *,
        tls_name: str | None = None,
        stamp_via: bool = True,
    ) -> ClientTransaction:
        moved_from = None
        if stamp_via:
            used = self.stamp_via(request, destination)
            if used.transport != destination.transport:  # the size rule moved it (RFC 3261 §18.1.1)
                moved_from = destination
            destination = used
        transaction = ClientTransaction(self, request, destination, listener, tls_name, moved_from=moved_from)
        self._start_client(transaction)
        return transaction

    def _start_client(self, transaction: ClientTransaction) -> None:
        self._client_transactions[transaction.key] = transaction
        transaction._call("start")

    def _retry_over_udp(self, failed: ClientTransaction) -> ClientTransaction | None:
        """RFC 3261 §18.1.1: a request moved from UDP to TCP for its size whose connection was refused
        goes again over UDP, whatever its size, once. It is a new client transaction (a new Via and
        branch, retransmissions on Timer A/E) of the same request with the same CSeq, since the first
        one never reached the peer (as the failover of RFC 3263 §4.3 does). None when it does not
        apply or there is no UDP listener for the Via."""
        destination = failed.moved_from
        if destination is None or not failed.may_retry_over_udp:
            return None
        try:
            via = self._our_via(destination)
        except ValueError:
            return None
        request = failed.request
        request.set("Via", [via, *request.via[1:]])
        log.info("%r: %s; sending it again over UDP (RFC 3261 section 18.1.1)", failed, failed._failure)
        retry = ClientTransaction(
            self, request, destination, failed.listener, failed.tls_name, size_switch=False
        )
        self._start_client(retry)
        return retry

    def destination_unreachable(self, report: ICMPReport) -> int:
        """The transports' ``on_unreachable`` (RFC 3261 §18.4): an ICMP error says a datagram sent to
        ``report.destination`` cannot be delivered. Every UDP client transaction to that address that
        still waits for its final response fails at once with `DestinationUnreachable` (its TU then
        tries the next target, RFC 3263 §4.3, or reports 503), instead of retransmitting until Timer
        B/F. An error about a response fails nothing: its server transaction keeps to its timers.
        Returns how many transactions failed."""
        if report.about_response:
            log.debug("ignoring %s about a response to %s", report, report.destination)
            return 0
        destination = report.destination
        doomed = [
            transaction
            for transaction in self._client_transactions.values()
            if transaction.destination == destination
            and not transaction.terminated
            and transaction.machine.state in _AWAITING_FINAL
        ]
        if doomed:
            log.info("%s: %s; failing %d transaction(s) to it", destination, report, len(doomed))
        for transaction in doomed:  # each one leaves the table as it fails: the list is a copy
            if not transaction.terminated:
                transaction._transport_failed(DestinationUnreachable(report))
        return len(doomed)

    def send_stateless(
        self, request: SIPRequest, destination: TransportAddress, *, tls_name: str | None = None
    ) -> Deferred[TransportAddress]:
        """Send a request outside any transaction (the ACK for a 2xx, RFC 3261 §13.2.2.4)."""
        return self.transport.send(request.to_bytes(), destination, tls_name=tls_name, is_request=True)

    # receiving ----------------------------------------------------------------------------------

    def receive(self, scanned: Any, source: TransportAddress, local: TransportAddress) -> None:
        """The transports' ``on_message``."""
        message = from_scanned(scanned)
        try:
            if isinstance(message, SIPResponse):
                self._receive_response(message)
            else:
                self._receive_request(message, source, local)
        except SIPParseError as e:
            log.info("dropping a message from %s with a malformed header: %s", source, e)
        except ProtocolError:
            pass  # already logged by the transaction driver

    def _receive_response(self, response: SIPResponse) -> None:
        via = response.get("Via")
        cseq = response.cseq
        if via is None or cseq is None:
            return
        transaction = self._client_transactions.get(client_key(via.branch, cseq.method))
        if transaction is None:
            self._stray(response)
        else:
            transaction._call("receive_response", response)

    def _stray(self, message: Any) -> None:
        if isinstance(message, SIPResponse) and self.on_stray_response is not None:
            self.on_stray_response(message)

    def _receive_request(
        self, request: SIPRequest, source: TransportAddress, local: TransportAddress
    ) -> None:
        problem = self._check_request(request)
        if problem is not None:
            code, reason = problem
            if request.method != "ACK" and "Via" in request:
                self._reject_stateless(request, source, code, reason)
            return
        self._stamp_received(request, source)
        via = request.get("Via")
        key = server_key(via.branch, via.host, via.port, request.method)
        existing = self._server_transactions.get(key) if key is not None else None
        if existing is not None:
            existing._call("receive_request", request)
            return
        if key is not None and self._ended and self._answer_ended(key, request, source, local):
            return
        if request.method == "ACK":
            self.on_request(StatelessRequest(request, source, local))
            return
        transaction = ServerTransaction(self, request, source, local)
        if transaction.key is not None:
            self._server_transactions[transaction.key] = transaction
        transaction._call("start")
        if request.method == "CANCEL":
            target_key = cancel_target_key(via.branch, via.host, via.port)
            target = self._server_transactions.get(target_key)
            if target is not None and not target.terminated and self.on_cancel is not None:
                transaction.send_response(make_response(request, 200))
                self.on_cancel(target, transaction)
            elif target is None and target_key in self._ended:  # answered: the CANCEL changes nothing
                transaction.send_response(make_response(request, 200))
            else:
                transaction.send_response(make_response(request, 481))
            return
        self.on_request(transaction)

    def _answer_ended(
        self, key: Any, request: SIPRequest, source: TransportAddress, local: TransportAddress
    ) -> bool:
        """A request matching an ended server transaction: answered, absorbed or (an ACK for our 2xx
        that kept the INVITE's branch, RFC 6026 §8.7) passed on. False when nothing matches."""
        verdict = self._ended.receive(key, request.method == "ACK", self.reactor.seconds())
        if verdict is None:
            return False
        if isinstance(verdict, Resend):  # the final response again
            transport, host, port = verdict.destination
            self.transport.send(
                verdict.data, TransportAddress(transport, host, port), new_connection=False
            ).addErrback(self._resend_failed, key)
        elif verdict is PassAck:
            self.on_request(StatelessRequest(request, source, local))
        return True  # else Absorb

    def _resend_failed(self, failure: Any, key: Any) -> None:
        log.info("re-sending a final response failed: %s", failure.getErrorMessage())
        self._ended.discard(key)  # a transport error ends the transaction (RFC 3261 §17.2.4)

    def _keep_ended(
        self, key: Any, lifetime: float, data: bytes | None, destination: Any, ack: AckRule
    ) -> None:
        self._ended.add(key, self.reactor.seconds(), lifetime, data=data, destination=destination, ack=ack)
        self._schedule_sweep()

    #: how much later than due an ended record may be dropped, so that one sweep takes many
    _SWEEP_SLACK = 0.1

    def _schedule_sweep(self) -> None:
        due = self._ended.next_deadline()
        call = self._sweep
        if call is not None and call.active():
            if due is not None and call.getTime() <= due + self._SWEEP_SLACK:  # soon enough
                return
            call.cancel()
        self._sweep = None
        if due is not None:
            now = self.reactor.seconds()
            # at ``due``, but not sooner than the slack from now nor later than the slack past due
            at = min(max(due, now + self._SWEEP_SLACK), due + self._SWEEP_SLACK)
            self._sweep = self.reactor.callLater(max(at - now, 0.0), self._expire_ended)

    def _expire_ended(self) -> None:
        self._sweep = None
        self._ended.expire(self.reactor.seconds())
        self._schedule_sweep()

    def _check_request(self, request: SIPRequest) -> tuple[int, str] | None:
        """Why a request cannot be served (status code and reason), or None (RFC 3261 §8.2, RFC 4475).

        The headers every request needs must be there once and parse; every other header of a type
        the stack knows must parse too, so a malformed request is refused as a whole instead of
        failing later half-way through its handling.
        """
        for name in _REQUIRED_HEADERS:
            if name not in request:
                return 400, f"Missing {name} header"
        for name in _SINGLE_HEADERS:
            if request.count(name) > 1:
                return 400, f"More than one {name} header"
        try:
            for name in request.names():
                if name in HEADER_TABLE:
                    request.get_all(name)
            uri = request.uri
        except SIPParseError as e:
            return 400, f"Malformed header: {e}"[:120]
        if request.cseq.method != request.method:
            return 400, "CSeq method does not match the request method"
        if not isinstance(uri, BaseSIPURI):
            return 416, "Unsupported URI Scheme"
        if uri.headers:
            return 400, "Request-URI with headers"  # allowed in URIs, never in a Request-URI (§19.1.5)
        return None

    def _stamp_received(self, request: SIPRequest, source: TransportAddress) -> None:
        vias = request.via
        top = vias[0]
        needs_received = top.host.strip("[]").lower() != source.host.lower()
        needs_rport = top.rport is True
        if not (needs_received or needs_rport):
            return
        stamped = mutable(top)
        if needs_received:
            stamped.received = source.host
        if needs_rport:
            stamped.rport = source.port
        request.set("Via", [stamped, *vias[1:]])

    def _reject_stateless(
        self, request: SIPRequest, source: TransportAddress, code: int, reason: str
    ) -> None:
        try:
            response = make_response(request, code, reason)
            data = response.to_bytes()
        except SIPParseError:
            return
        try:
            destination = self.response_destination(request, source)
        except SIPParseError:
            destination = source  # the Via is what is broken: answer where the request came from
        self.transport.send(data, destination, new_connection=False).addErrback(lambda _: None)

    def response_destination(self, request: SIPRequest, source: TransportAddress) -> TransportAddress:
        """Where a response to ``request`` goes (RFC 3261 §18.2.2, RFC 3581): back on the connection
        it came on (TCP/TLS), else to the received address and the rport (or Via) port."""
        if source.transport != "udp":
            return source
        via = request.get("Via")
        rport = via.rport
        port = rport if isinstance(rport, int) and not isinstance(rport, bool) else via.port or 5060
        return TransportAddress("udp", via.received or source.host, port)

    def _deliver_ack(self, transaction: ServerTransaction, ack: SIPRequest) -> None:
        if self.on_ack is not None:
            self.on_ack(transaction, ack)

    # bookkeeping --------------------------------------------------------------------------------

    @property
    def transaction_count(self) -> int:
        """Client and server transactions not yet terminated, ended ones included."""
        return len(self._client_transactions) + len(self._server_transactions) + len(self._ended)
