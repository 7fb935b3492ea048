"""The Twisted side of the STUN procedures: a UDP port on the reactor that drives a sans-IO procedure.

* :func:`stun_binding` sends one Binding request and fires with the :class:`BindingResult`
  (local and mapped address, the response).
* :func:`detect_nat_behaviour` runs :class:`~sipsimple.core.nat.behaviour.NATBehaviourDiscovery`
  and fires with its :class:`~sipsimple.core.nat.behaviour.NATBehaviour`.

Both bind a fresh UDP port on the local address the kernel would use to reach the server (found
with :func:`local_address_towards`, which sends nothing), so a mapped address equal to the local
one means there is no NAT. The reactor (for the port) and the clock (for the timers) are
injectable; each run is bounded by ``timeout`` seconds and its Deferred can be cancelled. Failures
are :class:`StunFailure` with a sentence that says what went wrong.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.internet.protocol import DatagramProtocol

from .behaviour import DETECTION_TIMERS, NATBehaviour, NATBehaviourDiscovery
from .stun import Attribute, Message, StunError, TransportAddress, parse
from .transaction import ClientTransaction, RetransmissionTimers, State

__all__ = ["BindingResult", "StunFailure", "detect_nat_behaviour", "local_address_towards", "stun_binding"]

log = logging.getLogger(__name__)


class StunFailure(Exception):
    """A STUN procedure gave no result (no answer in time, an error response, no route...)."""


class Procedure(Protocol):
    """What the runner drives (NATBehaviourDiscovery has this shape)."""

    @property
    def finished(self) -> bool: ...

    @property
    def deadline(self) -> float | None: ...

    def start(self, now: float) -> None: ...

    def receive(self, datagram: bytes, source: tuple[str, int], now: float) -> bool: ...

    def handle_timer(self, now: float) -> None: ...

    def outgoing(self) -> list[tuple[bytes, TransportAddress]]: ...

    def cancel(self) -> None: ...


@dataclass(frozen=True)
class BindingResult:
    local_address: TransportAddress
    mapped_address: TransportAddress | None
    response: Message


class _Binding:
    """One Binding transaction towards ``server``, in the Procedure shape."""

    def __init__(self, server: TransportAddress, timers: RetransmissionTimers, software: str | None) -> None:
        request = Message()
        if software:
            request.add(Attribute.SOFTWARE, software)
        self.server = server
        self.transaction = ClientTransaction(request, timers=timers)

    @property
    def finished(self) -> bool:
        return self.transaction.finished

    @property
    def deadline(self) -> float | None:
        return self.transaction.deadline

    def start(self, now: float) -> None:
        self.transaction.start(now)

    def receive(self, datagram: bytes, source: tuple[str, int], now: float) -> bool:
        try:
            message = parse(datagram)
        except StunError:
            return False
        return self.transaction.receive(message, now, datagram)

    def handle_timer(self, now: float) -> None:
        self.transaction.handle_timer(now)

    def outgoing(self) -> list[tuple[bytes, TransportAddress]]:
        return [(data, self.server) for data in self.transaction.outgoing()]

    def cancel(self) -> None:
        self.transaction.cancel()


class _Runner(DatagramProtocol):
    """Feeds one procedure from a UDP port and the clock; ``done`` fires with ``conclude(procedure)``."""

    def __init__(
        self,
        make: Callable[[TransportAddress], Procedure],
        clock: Any,
        timeout: float,
        conclude: Callable[[Any], Any],
    ) -> None:
        self.make = make
        self.clock = clock
        self.conclude = conclude
        self.procedure: Procedure | None = None
        self.done: Deferred[Any] = Deferred(lambda _: self._stop())
        self.port: Any = None
        self._timer: Any = None  # IDelayedCall
        self._limit: Any = clock.callLater(timeout, self._give_up, timeout)

    def run(self, local_address: TransportAddress) -> None:
        self.procedure = self.make(local_address)
        self.procedure.start(self.clock.seconds())
        self._step()

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        if self.procedure is not None and not self.done.called:
            self.procedure.receive(datagram, (addr[0], addr[1]), self.clock.seconds())
            self._step()

    def _fire_timer(self) -> None:
        self._timer = None
        if self.procedure is not None:
            self.procedure.handle_timer(self.clock.seconds())
            self._step()

    def _step(self) -> None:
        procedure = self.procedure
        assert procedure is not None
        transport: Any = self.transport
        for data, address in procedure.outgoing():
            try:
                transport.write(data, (address.host, address.port))
            except OSError as error:  # no route, ...: as if the datagram were lost
                log.debug("STUN datagram to %s not sent: %s", address, error)
        if procedure.finished:
            self._stop()
            try:
                result = self.conclude(procedure)
            except StunFailure as failure:
                self.done.errback(failure)
            else:
                self.done.callback(result)
            return
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        deadline = procedure.deadline
        self._timer = None
        if deadline is not None:
            self._timer = self.clock.callLater(max(0.0, deadline - self.clock.seconds()), self._fire_timer)

    def _give_up(self, timeout: float) -> None:
        self._stop()
        self.done.errback(StunFailure(f"no result within {timeout:g} s"))

    def _stop(self) -> None:
        for call in (self._timer, self._limit):
            if call is not None and call.active():
                call.cancel()
        self._timer = None
        if self.procedure is not None and not self.procedure.finished:
            self.procedure.cancel()
        if self.port is not None:
            port, self.port = self.port, None
            port.stopListening()


def local_address_towards(host: str, port: int) -> str:
    """The local IP the kernel picks to reach ``host:port`` (a UDP connect: nothing is sent)."""
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect((host, port))
        return str(probe.getsockname()[0])


def _failed(reason: str) -> Deferred[Any]:
    deferred: Deferred[Any] = Deferred()
    deferred.errback(StunFailure(reason))
    return deferred


def _run(
    make: Callable[[TransportAddress], Procedure],
    server: TransportAddress,
    conclude: Callable[[Any], Any],
    reactor: Any,
    clock: Any,
    interface: str | None,
    timeout: float,
) -> Deferred[Any]:
    if reactor is None:
        from twisted.internet import reactor as default_reactor

        reactor = default_reactor
    clock = reactor if clock is None else clock
    try:
        ipaddress.ip_address(server.host)
        interface = interface or local_address_towards(server.host, server.port)
    except (OSError, ValueError) as error:
        return _failed(f"cannot reach the STUN server {server}: {error}")
    try:  # checked here: a failing listenUDP leaves its socket for the garbage collector
        family = socket.AF_INET6 if ":" in interface else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((interface, 0))
    except OSError as error:
        return _failed(f"cannot open a UDP port on {interface}: {error}")
    runner = _Runner(make, clock, timeout, conclude)
    try:
        runner.port = reactor.listenUDP(0, runner, interface=interface)
    except Exception as error:  # CannotListenError and the like
        runner._stop()
        return _failed(f"cannot open a UDP port on {interface}: {error}")
    host = runner.port.getHost()
    runner.run(TransportAddress(str(ipaddress.ip_address(host.host)), host.port))
    return runner.done


def stun_binding(
    server: tuple[str, int],
    *,
    reactor: Any = None,
    clock: Any = None,
    interface: str | None = None,
    timers: RetransmissionTimers = DETECTION_TIMERS,
    timeout: float = 15.0,
    software: str | None = None,
) -> Deferred[BindingResult]:
    """Send a Binding request to ``server`` (an IP address and a port) and report the mapping."""
    target = TransportAddress(*server)
    local: list[TransportAddress] = []

    def make(address: TransportAddress) -> Procedure:
        local.append(address)
        return _Binding(target, timers, software)

    def conclude(binding: _Binding) -> BindingResult:
        transaction = binding.transaction
        if transaction.state is not State.SUCCEEDED or transaction.response is None:
            raise StunFailure(f"Binding request to {target}: {transaction.reason or transaction.state.value}")
        response = transaction.response
        mapped = response.get(Attribute.XOR_MAPPED_ADDRESS) or response.get(Attribute.MAPPED_ADDRESS)
        return BindingResult(local[0], None if mapped is None else TransportAddress(*mapped), response)

    return _run(make, target, conclude, reactor, clock, interface, timeout)


def detect_nat_behaviour(
    server: tuple[str, int],
    *,
    reactor: Any = None,
    clock: Any = None,
    interface: str | None = None,
    timers: RetransmissionTimers = DETECTION_TIMERS,
    timeout: float = 30.0,
    software: str | None = None,
) -> Deferred[NATBehaviour]:
    """Run the RFC 5780 discovery against ``server`` (an IP address and a port)."""
    target = TransportAddress(*server)

    def make(address: TransportAddress) -> Procedure:
        return NATBehaviourDiscovery(target, address, timers=timers, software=software)

    def conclude(discovery: NATBehaviourDiscovery) -> NATBehaviour:
        if discovery.result is None:
            raise StunFailure(discovery.error or "the NAT behaviour discovery gave no result")
        return discovery.result

    return _run(make, target, conclude, reactor, clock, interface, timeout)
