"""The non-INVITE server transaction (RFC 3261 §17.2.2).

Rules:

* ``start()`` passes the request to the TU and enters Trying. Nothing is sent on its own: a
  non-INVITE server never sends 100 Trying by itself.
* Retransmitted requests are absorbed in Trying (there is nothing to answer with yet) and
  answered with the last response sent in Proceeding and Completed.
* A 1xx from the TU is sent and enters (or stays in) Proceeding.
* A final response (2xx-6xx) from the TU is sent and enters Completed, which lasts Timer J (64*T1
  on unreliable transports; zero on reliable ones: straight to Terminated). The TU may not send
  anything after its final response: LocalProtocolError.
* An ACK never matches a non-INVITE server transaction (§17.2.3), so one routed here is a local
  routing error.
* A transport failure in any live state reports TransportError and terminates.
* Requests after Terminated are given back as :class:`Stray`.
"""

from __future__ import annotations

import enum

from ._base import (
    PASS_UP,
    RESEND_RESPONSE,
    SEND_RESPONSE,
    STRAY,
    TRANSPORT_ERROR,
    Errors,
    ServerTransaction,
    Table,
    TimerConfig,
    Transition,
    linger,
)
from ._events import Event, ReqT, RespT

__all__ = ["NonInviteServerState", "NonInviteServerTransaction"]


class NonInviteServerState(enum.Enum):
    INITIAL = "initial"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    TERMINATED = "terminated"


S = NonInviteServerState
T = Transition
E = Event

FAILED_TRANSPORT = T(S.TERMINATED, (TRANSPORT_ERROR,), "transport error")
FINAL = T(S.COMPLETED, (SEND_RESPONSE, linger("J")))
TU_EVENTS = (E.TU_PROVISIONAL, E.TU_SUCCESS, E.TU_FAILURE)

TABLE: Table = {
    (S.INITIAL, E.START): T(S.TRYING, (PASS_UP,)),
    (S.TRYING, E.REQUEST): T(S.TRYING),  # absorbed: nothing to answer with yet
    (S.TRYING, E.TU_PROVISIONAL): T(S.PROCEEDING, (SEND_RESPONSE,)),
    (S.TRYING, E.TU_SUCCESS): FINAL,
    (S.TRYING, E.TU_FAILURE): FINAL,
    (S.TRYING, E.TRANSPORT_FAILED): FAILED_TRANSPORT,
    (S.PROCEEDING, E.REQUEST): T(S.PROCEEDING, (RESEND_RESPONSE,)),
    (S.PROCEEDING, E.TU_PROVISIONAL): T(S.PROCEEDING, (SEND_RESPONSE,)),
    (S.PROCEEDING, E.TU_SUCCESS): FINAL,
    (S.PROCEEDING, E.TU_FAILURE): FINAL,
    (S.PROCEEDING, E.TRANSPORT_FAILED): FAILED_TRANSPORT,
    (S.COMPLETED, E.REQUEST): T(S.COMPLETED, (RESEND_RESPONSE,)),
    (S.COMPLETED, E.TIMER_J): T(S.TERMINATED, (), "timer J fired"),
    (S.COMPLETED, E.TRANSPORT_FAILED): FAILED_TRANSPORT,
    (S.TERMINATED, E.REQUEST): T(S.TERMINATED, (STRAY,)),
    (S.TERMINATED, E.TRANSPORT_FAILED): T(S.TERMINATED),  # a late report: nothing left to fail
}

NOT_STARTED = "start() was not called: the request has not reached the TU"
ERRORS: Errors = {
    **{(s, E.START): "start() was already called" for s in S if s is not S.INITIAL},
    **{(s, E.ACK): "an ACK never matches a non-INVITE transaction (RFC 3261 §17.2.3)" for s in S},
    **{(S.INITIAL, e): NOT_STARTED for e in (E.REQUEST, E.TRANSPORT_FAILED, *TU_EVENTS)},
    **{(S.COMPLETED, e): "a final response was already sent" for e in TU_EVENTS},
    **{(S.TERMINATED, e): "the transaction is terminated" for e in TU_EVENTS},
}


class NonInviteServerTransaction(ServerTransaction[ReqT, RespT]):
    """Answers a received non-INVITE request (not ACK) on behalf of the TU."""

    STATES = NonInviteServerState
    INITIAL = S.INITIAL
    TERMINATED = S.TERMINATED
    EVENTS = frozenset({E.START, E.REQUEST, E.ACK, *TU_EVENTS, E.TRANSPORT_FAILED, E.TIMER_J})
    TABLE = TABLE
    ERRORS = ERRORS

    def __init__(self, request: ReqT, *, reliable: bool, timers: TimerConfig | None = None) -> None:
        if request.method in ("INVITE", "ACK"):
            raise ValueError(
                f"a non-INVITE server transaction cannot be created for {request.method}"
                " (INVITE has its own machine; an ACK never creates a transaction)"
            )
        super().__init__(request, reliable=reliable, timers=timers)
