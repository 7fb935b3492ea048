"""A STUN client transaction (RFC 5389 §7.2), sans-IO.

Rules of the machine:

* ``start(now)`` sends the request. Over UDP it is sent again when the deadline passes, the
  interval starting at RTO and doubling after every send, ``Rc`` sends in all; after the last one
  the transaction waits ``Rm`` x RTO more and then times out (RFC 5389 §7.2.1: with RTO 500 ms,
  Rc 7 and Rm 16 the sends are at 0, 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 s and the timeout at
  39.5 s). Over a reliable transport it is sent once and times out after ``Ti`` (39.5 s).
* A success or error response with the transaction id and method of the request ends it
  (Succeeded, Failed). A success response that carries a comprehension-required attribute the
  codec does not know fails it (§7.3.3). With an ``integrity_key`` a response whose
  MESSAGE-INTEGRITY does not verify is discarded and the transaction keeps waiting (§10.1.3).
* ``cancel()`` ends it at once (Cancelled).
* The end states are final: late or repeated responses and timers are ignored there.
* Starting twice, or feeding a timer or a response before the start, is the caller's mistake
  (:class:`LocalProtocolError`).

The driver calls ``start``, ``receive`` and ``handle_timer`` with the time (seconds on any
monotonic clock), sends what :meth:`ClientTransaction.outgoing` returns, and calls
``handle_timer`` again at :attr:`ClientTransaction.deadline`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .stun import Attribute, ErrorCode, Message, MessageClass, attribute_name, verify_integrity

__all__ = [
    "ClientTransaction",
    "Event",
    "LocalProtocolError",
    "RetransmissionTimers",
    "State",
]


class LocalProtocolError(RuntimeError):
    """The caller drove the transaction in a way the machine does not allow."""


@dataclass(frozen=True)
class RetransmissionTimers:
    """RTO (seconds), Rc (sends over UDP), Rm (final wait, in RTOs) and Ti (reliable timeout)."""

    rto: float = 0.5
    rc: int = 7
    rm: int = 16
    ti: float = 39.5

    def __post_init__(self) -> None:
        if self.rto <= 0 or self.rc < 1 or self.rm < 1 or self.ti <= 0:
            raise ValueError(f"invalid STUN retransmission timers {self}")

    def send_times(self) -> list[float]:
        """When each send happens, counted from the first (UDP)."""
        return [self.rto * (2**i - 1) for i in range(self.rc)]

    def timeout(self) -> float:
        """When an unanswered transaction gives up, counted from the first send (UDP)."""
        return self.send_times()[-1] + self.rm * self.rto


class State(enum.Enum):
    IDLE = "idle"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed out"
    CANCELLED = "cancelled"


class Event(enum.Enum):
    START = "start"
    RETRANSMIT = "retransmit"  # a deadline passed with sends left
    GIVE_UP = "give up"  # a deadline passed after the last send
    SUCCESS = "success response"
    ERROR = "error response"
    CANCEL = "cancel"


FINAL = frozenset({State.SUCCEEDED, State.FAILED, State.TIMED_OUT, State.CANCELLED})

TABLE: dict[tuple[State, Event], State] = {
    (State.IDLE, Event.START): State.WAITING,
    (State.IDLE, Event.CANCEL): State.CANCELLED,
    (State.WAITING, Event.RETRANSMIT): State.WAITING,
    (State.WAITING, Event.GIVE_UP): State.TIMED_OUT,
    (State.WAITING, Event.SUCCESS): State.SUCCEEDED,
    (State.WAITING, Event.ERROR): State.FAILED,
    (State.WAITING, Event.CANCEL): State.CANCELLED,
}
# Ignored: whatever reaches an end state other than START.
IGNORED = frozenset((state, event) for state in FINAL for event in Event if event is not Event.START)
# The rest is the caller's mistake.
ERRORS: dict[tuple[State, Event], str] = {
    (state, event): f"{event.value} is not allowed while the transaction is {state.value}"
    for state in State
    for event in Event
    if (state, event) not in TABLE and (state, event) not in IGNORED
}


class ClientTransaction:
    """One request and its retransmissions; see the module documentation."""

    def __init__(
        self,
        request: Message,
        *,
        timers: RetransmissionTimers | None = None,
        reliable: bool = False,
        integrity_key: bytes | None = None,
        fingerprint: bool = False,
    ) -> None:
        if request.message_class is not MessageClass.REQUEST:
            raise ValueError("a client transaction sends a request")
        self.request = request
        self.timers = timers or RetransmissionTimers()
        self.reliable = reliable
        self.integrity_key = integrity_key
        self.data = request.encode(integrity_key=integrity_key, fingerprint=fingerprint)
        self.state = State.IDLE
        self.sends = 0
        self.deadline: float | None = None
        self.response: Message | None = None
        #: why the transaction failed or timed out (a sentence), else None
        self.reason: str | None = None
        self._outbox: list[bytes] = []

    @property
    def transaction_id(self) -> bytes:
        return self.request.transaction_id

    @property
    def finished(self) -> bool:
        return self.state in FINAL

    @property
    def error_code(self) -> ErrorCode | None:
        """The ERROR-CODE of an error response."""
        return None if self.response is None else self.response.get(Attribute.ERROR_CODE)

    def outgoing(self) -> list[bytes]:
        """The datagrams to send now (each call empties the list)."""
        out, self._outbox = self._outbox, []
        return out

    # -- events -----------------------------------------------------------------------------------
    def start(self, now: float) -> None:
        self._apply(Event.START)
        self._send(now)

    def cancel(self) -> None:
        if self._apply(Event.CANCEL):
            self._finish(None)

    def handle_timer(self, now: float) -> None:
        """Call at (or after) :attr:`deadline`; earlier calls do nothing."""
        if self.state is State.IDLE:
            raise LocalProtocolError(ERRORS[(State.IDLE, Event.RETRANSMIT)])
        if self.deadline is None or now < self.deadline:
            return
        last = self.reliable or self.sends >= self.timers.rc
        if not self._apply(Event.GIVE_UP if last else Event.RETRANSMIT):
            return
        if last:
            waited = self.timers.ti if self.reliable else self.timers.timeout()
            self._finish(f"no response after {self.sends} send(s) and {waited:g} s")
        else:
            self._send(now)

    def receive(self, message: Message, now: float, datagram: bytes | None = None) -> bool:
        """Offer a received message; True when it is a response of this transaction (even a late
        one), False otherwise. ``datagram`` (the received bytes) is needed with an integrity key."""
        if (
            message.transaction_id != self.request.transaction_id
            or message.method != self.request.method
            or message.message_class not in (MessageClass.SUCCESS, MessageClass.ERROR)
        ):
            return False
        if self.state is State.IDLE:
            raise LocalProtocolError("a response arrived for a transaction that has not started")
        if self.integrity_key is not None and (
            datagram is None or not verify_integrity(datagram, self.integrity_key)
        ):
            return False  # §10.1.3: discarded as if it had never come
        reason = None
        if message.message_class is MessageClass.ERROR:
            event = Event.ERROR
            error = message.get(Attribute.ERROR_CODE)
            reason = f"error response {error.code} {error.reason}".rstrip() if error else "error response"
        elif unknown := message.unknown_comprehension_required():
            event = Event.ERROR
            reason = "the response has unknown attributes " + ", ".join(attribute_name(c) for c in unknown)
        else:
            event = Event.SUCCESS
        if self._apply(event):
            self.response = message
            self._finish(reason)
        return True

    # -- the machine ------------------------------------------------------------------------------
    def _apply(self, event: Event) -> bool:
        """Move along the table; False when the event is ignored, LocalProtocolError when illegal."""
        key = (self.state, event)
        if key in IGNORED:
            return False
        if key in ERRORS:
            raise LocalProtocolError(ERRORS[key])
        self.state = TABLE[key]
        return True

    def _send(self, now: float) -> None:
        self._outbox.append(self.data)
        self.sends += 1
        if self.reliable:
            self.deadline = now + self.timers.ti
        elif self.sends < self.timers.rc:
            self.deadline = now + self.timers.rto * 2 ** (self.sends - 1)
        else:
            self.deadline = now + self.timers.rm * self.timers.rto

    def _finish(self, reason: str | None) -> None:
        self.deadline = None
        self.reason = reason
        self._outbox.clear()
