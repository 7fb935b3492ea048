"""The engine under the four machines: timer values, the step language of the tables, the runner.

Each machine module declares a ``State`` enum and two tables:

* ``TABLE[(state, event)] -> Transition(target, steps, reason)``: what happens;
* ``ERRORS[(state, event)] -> text``: what the local side must not do (raises LocalProtocolError).

The runner (:class:`Transaction`) does, for every event:

1. a timer event for a timer that is not running is ignored (stale: cancelled, already fired, or
   never started) and gives no actions; a running timer is marked as no longer running;
2. ``ERRORS`` is consulted first (raise, state unchanged), then ``TABLE``;
3. the steps run in order, each adding actions; the state becomes ``target``;
4. on entering Terminated every timer still running is cancelled and ``Terminated(reason)`` is
   the last action. A terminated machine gives nothing but :class:`Stray` afterwards.

Steps (a small, closed language, so the tables stay data):

* ``start(X)``: start timer X at its initial value (TimerConfig); skipped when X is not used on
  this transport (A, E, G on reliable transports; the trying timer when disabled);
* ``double(X)``, ``double_to_t2(X)``, ``t2(X)``: restart X at twice its last value, at
  min(2x, T2), or at T2 (the retransmission back-offs of §17.1.1.2, §17.1.2.2, §17.2.1);
* ``cancel(X)``: cancel X if it is running;
* ``linger(X)``: start X, whose firing ends a Completed/Confirmed state; when X is zero (D, I,
  J, K on reliable transports) the machine goes straight to Terminated instead;
* message steps: send the request, send the ACK, send/re-send a response, send the 100, pass the
  event's message to the TU, report it as stray, report a timeout or a transport error.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Generic, NamedTuple

from ._events import (
    TIMER_EVENTS,
    Action,
    CancelTimer,
    Event,
    LocalProtocolError,
    Message,
    PassToTU,
    RemoteProtocolError,
    ReqT,
    RespT,
    Send,
    StartTimer,
    Stray,
    Terminated,
    Timeout,
    TransportError,
)

__all__ = ["ClientTransaction", "ServerTransaction", "TimerConfig", "Transaction"]


# -- timer values -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """T1, T2, T4 and the timers derived from them (RFC 3261 Table 4, RFC 6026), in seconds.

    ``d`` is Timer D on unreliable transports; RFC 3261 §17.1.1.2 requires at least 32 s there
    (a shorter value is accepted for tests). ``trying`` is how long an INVITE server transaction
    waits for the TU before it sends 100 Trying itself (§17.2.1: 200 ms); ``None`` disables it.
    """

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    d: float = 32.0
    trying: float | None = 0.2

    def __post_init__(self) -> None:
        if not (self.t1 > 0 and math.isfinite(self.t1)):
            raise ValueError(f"T1 must be a positive number of seconds, not {self.t1!r}")
        if not (self.t2 >= self.t1 and math.isfinite(self.t2)):
            raise ValueError(f"T2 must be at least T1 ({self.t1}), not {self.t2!r}")
        for name in ("t4", "d", "trying"):
            value = getattr(self, name)
            if value is not None and not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a non-negative number of seconds, not {value!r}")

    def initial(self, name: str, reliable: bool) -> float | None:
        """The initial value of timer ``name``; ``None`` when it is not used on this transport."""
        unreliable_value, reliable_value = _DERIVED[name](self)
        return reliable_value if reliable else unreliable_value


# Table 4 of RFC 3261 (+ L and M from RFC 6026): name -> (value on UDP, value on TCP/TLS).
_DERIVED: dict[str, Callable[[TimerConfig], tuple[float | None, float | None]]] = {
    "A": lambda c: (c.t1, None),
    "B": lambda c: (64 * c.t1, 64 * c.t1),
    "D": lambda c: (c.d, 0.0),
    "E": lambda c: (c.t1, None),
    "F": lambda c: (64 * c.t1, 64 * c.t1),
    "G": lambda c: (c.t1, None),
    "H": lambda c: (64 * c.t1, 64 * c.t1),
    "I": lambda c: (c.t4, 0.0),
    "J": lambda c: (64 * c.t1, 0.0),
    "K": lambda c: (c.t4, 0.0),
    "L": lambda c: (64 * c.t1, 64 * c.t1),
    "M": lambda c: (64 * c.t1, 64 * c.t1),
    "trying": lambda c: (c.trying, c.trying),
}


# -- the step language --------------------------------------------------------------------------


class Op(enum.Enum):
    START = "start"
    DOUBLE = "double"
    DOUBLE_TO_T2 = "double, capped at T2"
    T2 = "restart at T2"
    CANCEL = "cancel"
    LINGER = "linger"
    SEND_REQUEST = "send the request"
    SEND_ACK = "send the ACK"
    SEND_RESPONSE = "send the TU's response"
    RESEND_RESPONSE = "re-send the last response"
    SEND_TRYING = "send 100 Trying"
    PASS_UP = "pass to the TU"
    STRAY = "report as stray"
    TIMEOUT = "report a timeout"
    TRANSPORT_ERROR = "report a transport error"


class Step(NamedTuple):
    op: Op
    timer: str = ""

    def __repr__(self) -> str:
        return f"{self.op.name}({self.timer})" if self.timer else self.op.name


class Transition(NamedTuple):
    target: enum.Enum
    steps: tuple[Step, ...] = ()
    reason: str = ""  # why the transaction ends, when target is Terminated


def start(timer: str) -> Step:
    return Step(Op.START, timer)


def double(timer: str) -> Step:
    return Step(Op.DOUBLE, timer)


def double_to_t2(timer: str) -> Step:
    return Step(Op.DOUBLE_TO_T2, timer)


def t2(timer: str) -> Step:
    return Step(Op.T2, timer)


def cancel(timer: str) -> Step:
    return Step(Op.CANCEL, timer)


def linger(timer: str) -> Step:
    return Step(Op.LINGER, timer)


def timeout(timer: str) -> Step:
    """Report that ``timer`` (B, F, H) fired: the transaction failed."""
    return Step(Op.TIMEOUT, timer)


SEND_REQUEST = Step(Op.SEND_REQUEST)
SEND_ACK = Step(Op.SEND_ACK)
SEND_RESPONSE = Step(Op.SEND_RESPONSE)
RESEND_RESPONSE = Step(Op.RESEND_RESPONSE)
SEND_TRYING = Step(Op.SEND_TRYING)
PASS_UP = Step(Op.PASS_UP)
STRAY = Step(Op.STRAY)
TRANSPORT_ERROR = Step(Op.TRANSPORT_ERROR)

TIMER_OPS = frozenset({Op.START, Op.DOUBLE, Op.DOUBLE_TO_T2, Op.T2, Op.CANCEL, Op.LINGER})

Table = Mapping[tuple[enum.Enum, Event], Transition]
Errors = Mapping[tuple[enum.Enum, Event], str]


def status_class(code: int) -> str | None:
    """'1xx', '2xx' or 'final' (3xx-6xx) for a valid status code, else None."""
    if not isinstance(code, int) or isinstance(code, bool) or not 100 <= code <= 699:
        return None
    return "1xx" if code < 200 else "2xx" if code < 300 else "final"


# -- the runner ---------------------------------------------------------------------------------


class Transaction(Generic[ReqT, RespT]):
    """Runs one machine's table. Subclasses set the class attributes and the message steps."""

    STATES: ClassVar[type[enum.Enum]]
    INITIAL: ClassVar[enum.Enum]
    TERMINATED: ClassVar[enum.Enum]
    EVENTS: ClassVar[frozenset[Event]]
    TABLE: ClassVar[Table]
    ERRORS: ClassVar[Errors]

    def __init__(self, request: ReqT, *, reliable: bool, timers: TimerConfig | None = None) -> None:
        self.request: ReqT = request
        self.reliable = bool(reliable)
        self.timers = timers if timers is not None else TimerConfig()
        self._state: enum.Enum = self.INITIAL
        self._running: dict[str, float] = {}  # running timer -> the delay it was started with
        self._last_delay: dict[str, float] = {}  # timer -> the delay it was last started with

    def __repr__(self) -> str:
        method = getattr(self.request, "method", "?")
        return f"<{type(self).__name__} {method} {self._state.name} reliable={self.reliable}>"

    @property
    def state(self) -> enum.Enum:
        return self._state

    @property
    def terminated(self) -> bool:
        return self._state is self.TERMINATED

    @property
    def running_timers(self) -> frozenset[str]:
        """The timers this transaction has started and neither cancelled nor seen fire."""
        return frozenset(self._running)

    # -- events common to every machine --

    def start(self) -> list[Action]:
        """The first event: a client sends its request, a server hands its request to the TU."""
        return self._handle(Event.START, self.request)

    def timer_fired(self, name: str) -> list[Action]:
        """Timer ``name`` expired. A timer that is not running (cancelled, fired, never
        started, or unknown) is ignored and gives no actions."""
        if name not in self._running:
            return []
        del self._running[name]
        return self._handle(TIMER_EVENTS[name], None)

    def transport_failed(self) -> list[Action]:
        """The transport could not deliver something this transaction sent (§17.1.4, §17.2.4)."""
        return self._handle(Event.TRANSPORT_FAILED, None)

    # -- the runner --

    def _handle(self, event: Event, message: Message) -> list[Action]:
        key = (self._state, event)
        error = self.ERRORS.get(key)
        if error is not None:
            raise LocalProtocolError(
                f"{type(self).__name__} in state {self._state.name}: {event.value}: {error}"
            )
        transition = self.TABLE[key]
        was_terminated = self._state is self.TERMINATED
        target, reason = transition.target, transition.reason
        actions: list[Action] = []
        for step in transition.steps:
            if step.op is Op.LINGER and self.timers.initial(step.timer, self.reliable) == 0:
                target = self.TERMINATED
                reason = f"timer {step.timer} is zero" + (" on a reliable transport" if self.reliable else "")
            elif step.op in TIMER_OPS:
                self._timer_step(step, actions)
            else:
                self._message_step(step, message, actions)
        self._state = target
        if target is self.TERMINATED and not was_terminated:
            actions.extend(CancelTimer(name) for name in sorted(self._running))
            self._running.clear()
            actions.append(Terminated(reason))
        return actions

    def _timer_step(self, step: Step, actions: list[Action]) -> None:
        name, op = step.timer, step.op
        if op is Op.CANCEL:
            if self._running.pop(name, None) is not None:
                actions.append(CancelTimer(name))
            return
        if op is Op.START or op is Op.LINGER:
            delay = self.timers.initial(name, self.reliable)
            if delay is None:
                return
        elif op is Op.DOUBLE:
            delay = 2 * self._last_delay[name]
        elif op is Op.DOUBLE_TO_T2:
            delay = min(2 * self._last_delay[name], self.timers.t2)
        else:  # Op.T2
            delay = self.timers.t2
        assert name not in self._running, f"the table restarts running timer {name}"
        self._running[name] = self._last_delay[name] = delay
        actions.append(StartTimer(name, delay))

    def _message_step(self, step: Step, message: Message, actions: list[Action]) -> None:
        op = step.op
        if op is Op.PASS_UP:
            actions.append(PassToTU(message))
        elif op is Op.STRAY:
            actions.append(Stray(message))
        elif op is Op.TIMEOUT:
            actions.append(Timeout(step.timer))
        elif op is Op.TRANSPORT_ERROR:
            actions.append(TransportError())
        else:
            self._machine_step(op, message, actions)

    def _machine_step(self, op: Op, message: Message, actions: list[Action]) -> None:
        raise AssertionError(f"{type(self).__name__} has no step {op}")  # pragma: no cover


class ClientTransaction(Transaction[ReqT, RespT]):
    """A client transaction: created with the request to send, fed the responses that match."""

    def receive_response(self, response: RespT) -> list[Action]:
        """A response matching this transaction (keys.client_key) arrived from the transport."""
        kind = status_class(response.status_code)
        if kind is None:
            raise RemoteProtocolError(f"status code {response.status_code!r} is outside 100-699")
        event = {"1xx": Event.PROVISIONAL, "2xx": Event.SUCCESS, "final": Event.FAILURE}[kind]
        return self._handle(event, response)

    def _machine_step(self, op: Op, message: Message, actions: list[Action]) -> None:
        if op is Op.SEND_REQUEST:
            actions.append(Send(self.request))
        else:
            super()._machine_step(op, message, actions)


class ServerTransaction(Transaction[ReqT, RespT]):
    """A server transaction: created with the received request, fed its retransmissions and the
    TU's responses."""

    def __init__(self, request: ReqT, *, reliable: bool, timers: TimerConfig | None = None) -> None:
        super().__init__(request, reliable=reliable, timers=timers)
        self._last_response: RespT | None = None

    @property
    def last_response(self) -> RespT | None:
        """The last response sent; what a retransmitted request is answered with."""
        return self._last_response

    def receive_request(self, request: ReqT) -> list[Action]:
        """A request matching this transaction (keys.server_key) arrived: a retransmission of
        the original request, or (INVITE only) the ACK for a non-2xx final response."""
        if request.method == "ACK":
            event = Event.ACK
        elif request.method == self.request.method:
            event = Event.REQUEST
        else:
            raise LocalProtocolError(
                f"a {request.method} request was routed to a {self.request.method} server transaction"
            )
        return self._handle(event, request)

    def send_response(self, response: RespT) -> list[Action]:
        """The TU answers the request with ``response``."""
        kind = status_class(response.status_code)
        if kind is None:
            raise LocalProtocolError(f"the TU sent status code {response.status_code!r}, outside 100-699")
        event = {"1xx": Event.TU_PROVISIONAL, "2xx": Event.TU_SUCCESS, "final": Event.TU_FAILURE}[kind]
        return self._handle(event, response)

    def _machine_step(self, op: Op, message: Message, actions: list[Action]) -> None:
        if op is Op.SEND_RESPONSE:
            self._last_response = message
            actions.append(Send(message))
        elif op is Op.RESEND_RESPONSE:
            if self._last_response is not None:
                actions.append(Send(self._last_response))
        else:
            super()._machine_step(op, message, actions)
