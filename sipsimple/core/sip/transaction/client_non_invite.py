"""The non-INVITE client transaction (RFC 3261 §17.1.2).

Rules:

* ``start()`` sends the request and enters Trying. On unreliable transports Timer E retransmits
  it at T1, then doubling up to T2 (0.5, 1, 2, 4, 4, ... s with the defaults); Timer F (64*T1)
  gives up in Trying or Proceeding: Timeout, Terminated.
* A 1xx is passed up and enters (or stays in) Proceeding; from then on each Timer E firing
  retransmits and restarts E at T2. Timer F keeps running.
* The first final response (2xx-6xx) is passed up and enters Completed; E and F are cancelled.
  Completed absorbs every later response (retransmissions) without passing it up, so the TU
  sees exactly one final response. Timer K (T4 on unreliable transports; zero on reliable ones:
  straight to Terminated) ends it.
* A transport failure in any live state reports TransportError and terminates.
* Responses after Terminated are given back as :class:`Stray`.
"""

from __future__ import annotations

import enum

from ._base import (
    PASS_UP,
    SEND_REQUEST,
    STRAY,
    TRANSPORT_ERROR,
    ClientTransaction,
    Errors,
    Table,
    TimerConfig,
    Transition,
    cancel,
    double_to_t2,
    linger,
    start,
    t2,
    timeout,
)
from ._events import Event, ReqT, RespT

__all__ = ["NonInviteClientState", "NonInviteClientTransaction"]


class NonInviteClientState(enum.Enum):
    INITIAL = "initial"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    TERMINATED = "terminated"


S = NonInviteClientState
T = Transition
E = Event

FAILED_TRANSPORT = T(S.TERMINATED, (TRANSPORT_ERROR,), "transport error")
TIMED_OUT = T(S.TERMINATED, (timeout("F"),), "timer F fired: no final response")
FINAL = T(S.COMPLETED, (cancel("E"), cancel("F"), PASS_UP, linger("K")))

TABLE: Table = {
    (S.INITIAL, E.START): T(S.TRYING, (SEND_REQUEST, start("E"), start("F"))),
    (S.TRYING, E.TIMER_E): T(S.TRYING, (SEND_REQUEST, double_to_t2("E"))),
    (S.TRYING, E.TIMER_F): TIMED_OUT,
    (S.TRYING, E.PROVISIONAL): T(S.PROCEEDING, (PASS_UP,)),
    (S.TRYING, E.SUCCESS): FINAL,
    (S.TRYING, E.FAILURE): FINAL,
    (S.TRYING, E.TRANSPORT_FAILED): FAILED_TRANSPORT,
    (S.PROCEEDING, E.TIMER_E): T(S.PROCEEDING, (SEND_REQUEST, t2("E"))),
    (S.PROCEEDING, E.TIMER_F): TIMED_OUT,
    (S.PROCEEDING, E.PROVISIONAL): T(S.PROCEEDING, (PASS_UP,)),
    (S.PROCEEDING, E.SUCCESS): FINAL,
    (S.PROCEEDING, E.FAILURE): FINAL,
    (S.PROCEEDING, E.TRANSPORT_FAILED): FAILED_TRANSPORT,
    (S.COMPLETED, E.PROVISIONAL): T(S.COMPLETED),  # absorbed
    (S.COMPLETED, E.SUCCESS): T(S.COMPLETED),  # absorbed (retransmission)
    (S.COMPLETED, E.FAILURE): T(S.COMPLETED),  # absorbed (retransmission)
    (S.COMPLETED, E.TIMER_K): T(S.TERMINATED, (), "timer K fired"),
    (S.COMPLETED, E.TRANSPORT_FAILED): FAILED_TRANSPORT,
    (S.TERMINATED, E.PROVISIONAL): T(S.TERMINATED, (STRAY,)),
    (S.TERMINATED, E.SUCCESS): T(S.TERMINATED, (STRAY,)),
    (S.TERMINATED, E.FAILURE): T(S.TERMINATED, (STRAY,)),
    (S.TERMINATED, E.TRANSPORT_FAILED): T(S.TERMINATED),  # a late report: nothing left to fail
}

ERRORS: Errors = {
    **{(s, E.START): "start() was already called" for s in S if s is not S.INITIAL},
    (S.INITIAL, E.PROVISIONAL): "a response before start(): the request was never sent",
    (S.INITIAL, E.SUCCESS): "a response before start(): the request was never sent",
    (S.INITIAL, E.FAILURE): "a response before start(): the request was never sent",
    (S.INITIAL, E.TRANSPORT_FAILED): "a transport failure before start(): nothing was sent",
}


class NonInviteClientTransaction(ClientTransaction[ReqT, RespT]):
    """Sends a non-INVITE request (not ACK) and follows it to its final response."""

    STATES = NonInviteClientState
    INITIAL = S.INITIAL
    TERMINATED = S.TERMINATED
    EVENTS = frozenset(
        {E.START, E.PROVISIONAL, E.SUCCESS, E.FAILURE, E.TRANSPORT_FAILED, E.TIMER_E, E.TIMER_F, E.TIMER_K}
    )
    TABLE = TABLE
    ERRORS = ERRORS

    def __init__(self, request: ReqT, *, reliable: bool, timers: TimerConfig | None = None) -> None:
        if request.method in ("INVITE", "ACK"):
            raise ValueError(
                f"a non-INVITE client transaction cannot carry {request.method}"
                " (INVITE has its own machine; ACK is never a transaction of its own)"
            )
        super().__init__(request, reliable=reliable, timers=timers)
