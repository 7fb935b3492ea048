"""Vocabulary shared by the four transaction machines: events in, actions out, errors, messages.

* **Messages are opaque.** A machine reads ``method`` from a request and ``status_code`` from a
  response and nothing else (:class:`RequestLike`, :class:`ResponseLike`). Anything that needs
  header knowledge (building the ACK for a non-2xx final response, building a 100 Trying) is a
  function the caller injects.
* **Events** are what happens to a transaction: the first call (``start``), a message from the
  remote side, a response from the local TU, a timer firing, a transport failure. Each event
  method of a machine classifies its input into one :class:`Event` and looks the pair
  ``(state, event)`` up in the machine's table.
* **Actions** are what the driver must do, in order: transmit, (re)start or cancel a named timer,
  hand a message to the TU, report a timeout or a transport error, forget the transaction, or
  treat a message as a stray. They are returned by the event methods; a machine never calls out.
* **Errors**: an event that the RFC rules out raises :class:`ProtocolError`, whose ``culprit``
  says who broke the rules. The state of the machine is unchanged when it raises.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias, TypeVar

__all__ = [
    "Action",
    "CancelTimer",
    "Culprit",
    "Event",
    "LocalProtocolError",
    "Message",
    "PassToTU",
    "ProtocolError",
    "RemoteProtocolError",
    "RequestLike",
    "ResponseLike",
    "Send",
    "StartTimer",
    "Stray",
    "Terminated",
    "Timeout",
    "TransportError",
    "TIMER_EVENTS",
]


# -- messages -----------------------------------------------------------------------------------


class RequestLike(Protocol):
    """What a machine needs from a request: its method (case-sensitive, RFC 3261 §7.1)."""

    @property
    def method(self) -> str: ...


class ResponseLike(Protocol):
    """What a machine needs from a response: its status code (100-699)."""

    @property
    def status_code(self) -> int: ...


ReqT = TypeVar("ReqT", bound=RequestLike)
RespT = TypeVar("RespT", bound=ResponseLike)

#: A message carried by an action: the caller's own request/response object (or one its factory
#: built), handed back untouched. The transaction layer never looks inside it.
Message: TypeAlias = Any


# -- errors -------------------------------------------------------------------------------------


class Culprit(enum.Enum):
    """Who broke the protocol rules."""

    LOCAL = "local"  # our TU or the driver: e.g. a second final response, an event before start()
    REMOTE = "remote"  # the peer: e.g. a status code outside 100-699


class ProtocolError(Exception):
    """An event that RFC 3261 §17 rules out for the state the transaction is in."""

    culprit: Culprit

    def __init__(self, message: str, culprit: Culprit) -> None:
        super().__init__(message)
        self.culprit = culprit


class LocalProtocolError(ProtocolError):
    """The local TU or the driver misused the transaction."""

    def __init__(self, message: str) -> None:
        super().__init__(message, Culprit.LOCAL)


class RemoteProtocolError(ProtocolError):
    """The remote side sent something no compliant peer sends."""

    def __init__(self, message: str) -> None:
        super().__init__(message, Culprit.REMOTE)


# -- events -------------------------------------------------------------------------------------


class Event(enum.Enum):
    """Everything that can happen to a transaction, after classification of the input."""

    START = "start"
    # a response from the remote side (client transactions), by class
    PROVISIONAL = "1xx received"
    SUCCESS = "2xx received"
    FAILURE = "3xx-6xx received"
    # a request from the remote side (server transactions)
    REQUEST = "request retransmission received"
    ACK = "ACK received"
    # a response from the local TU (server transactions), by class
    TU_PROVISIONAL = "1xx from TU"
    TU_SUCCESS = "2xx from TU"
    TU_FAILURE = "3xx-6xx from TU"
    TRANSPORT_FAILED = "transport failed"
    TIMER_A = "timer A fired"
    TIMER_B = "timer B fired"
    TIMER_D = "timer D fired"
    TIMER_E = "timer E fired"
    TIMER_F = "timer F fired"
    TIMER_G = "timer G fired"
    TIMER_H = "timer H fired"
    TIMER_I = "timer I fired"
    TIMER_J = "timer J fired"
    TIMER_K = "timer K fired"
    TIMER_L = "timer L fired"
    TIMER_M = "timer M fired"
    TIMER_TRYING = "trying timer fired"


#: Timer name (as used in StartTimer/CancelTimer/timer_fired) -> the event its firing is.
TIMER_EVENTS: dict[str, Event] = {
    "A": Event.TIMER_A,
    "B": Event.TIMER_B,
    "D": Event.TIMER_D,
    "E": Event.TIMER_E,
    "F": Event.TIMER_F,
    "G": Event.TIMER_G,
    "H": Event.TIMER_H,
    "I": Event.TIMER_I,
    "J": Event.TIMER_J,
    "K": Event.TIMER_K,
    "L": Event.TIMER_L,
    "M": Event.TIMER_M,
    "trying": Event.TIMER_TRYING,
}


# -- actions ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Transmit ``message`` on the transaction's transport (to the peer it was created for)."""

    message: Message


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Arrange for ``timer_fired(name)`` to be called ``delay`` seconds from now.

    A machine only starts a timer that is not running, so the driver never has two of one name.
    """

    name: str
    delay: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Cancel the running timer ``name``; it must not fire any more."""

    name: str


@dataclass(frozen=True, slots=True)
class PassToTU:
    """Hand ``message`` to the transaction user (a response for a client, a request for a server)."""

    message: Message


@dataclass(frozen=True, slots=True)
class Timeout:
    """Timer ``timer`` (B, F or H) fired: the transaction failed; a client TU reports 408."""

    timer: str


@dataclass(frozen=True, slots=True)
class TransportError:
    """The transport reported a failure; the TU treats it like a 503 (RFC 3261 §8.1.3.1)."""


@dataclass(frozen=True, slots=True)
class Terminated:
    """The transaction is over: drop it from the matching table. Always the last action."""

    reason: str


@dataclass(frozen=True, slots=True)
class Stray:
    """``message`` arrived but this transaction does not consume it.

    Given for any message delivered after Terminated, and for a 2xx to an INVITE whose
    transaction already completed with a non-2xx final response (a forked branch answered). The
    driver handles it as if no transaction had matched (RFC 3261 §18.1.2 / §18.2.1): a stray 2xx
    to an INVITE goes to the core for its dialog/ACK logic, anything else is logged and dropped.
    """

    message: Message


Action: TypeAlias = Send | StartTimer | CancelTimer | PassToTU | Timeout | TransportError | Terminated | Stray
