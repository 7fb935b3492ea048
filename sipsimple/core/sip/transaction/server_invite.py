"""The INVITE server transaction (RFC 3261 §17.2.1, with the Accepted state of RFC 6026).

Rules:

* ``start()`` passes the INVITE to the TU and enters Proceeding. It also starts the ``trying``
  timer (200 ms by default); if it fires before the TU has sent any response, the transaction
  sends a 100 built by the injected ``build_provisional(invite, 100)``. Any response from the TU
  cancels the timer, so the 100 is only sent for a TU that is slow to answer.
* Every response from the TU is sent and remembered. A retransmitted INVITE is answered with the
  last response sent (in Proceeding and Completed); before any response it is absorbed.
* A 3xx-6xx from the TU enters Completed: on unreliable transports Timer G re-sends it at T1,
  doubling up to T2; Timer H (64*T1) gives up waiting for the ACK: Timeout, Terminated. The ACK
  enters Confirmed (absorbed, not passed up), where further ACKs and INVITEs are absorbed until
  Timer I (T4 on unreliable transports; zero on reliable ones: straight to Terminated).
* A 2xx from the TU enters Accepted (RFC 6026): retransmitting the 2xx is the TU's job, and each
  2xx the TU hands over in Accepted is sent. Retransmitted INVITEs are absorbed; an ACK that
  reaches the transaction is passed up. Timer L (64*T1) ends the state.
* After a final response the TU may not send a non-2xx or a 1xx: LocalProtocolError. An ACK in
  Proceeding (no final response yet) is given back as :class:`Stray`.
* A transport failure in any live state reports TransportError and terminates.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from ._base import (
    PASS_UP,
    RESEND_RESPONSE,
    SEND_RESPONSE,
    SEND_TRYING,
    STRAY,
    TRANSPORT_ERROR,
    Errors,
    Op,
    ServerTransaction,
    Table,
    TimerConfig,
    Transition,
    cancel,
    double_to_t2,
    linger,
    start,
    timeout,
)
from ._events import Action, Event, Message, ReqT, RespT

__all__ = ["InviteServerState", "InviteServerTransaction"]


class InviteServerState(enum.Enum):
    INITIAL = "initial"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    ACCEPTED = "accepted"
    TERMINATED = "terminated"


S = InviteServerState
T = Transition
E = Event

FAILED_TRANSPORT = T(S.TERMINATED, (TRANSPORT_ERROR,), "transport error")
TU_EVENTS = (E.TU_PROVISIONAL, E.TU_SUCCESS, E.TU_FAILURE)

TABLE: Table = {
    (S.INITIAL, E.START): T(S.PROCEEDING, (PASS_UP, start("trying"))),
    (S.PROCEEDING, E.REQUEST): T(S.PROCEEDING, (RESEND_RESPONSE,)),
    (S.PROCEEDING, E.ACK): T(S.PROCEEDING, (STRAY,)),  # nothing to acknowledge yet
    (S.PROCEEDING, E.TIMER_TRYING): T(S.PROCEEDING, (SEND_TRYING,)),
    (S.PROCEEDING, E.TU_PROVISIONAL): T(S.PROCEEDING, (cancel("trying"), SEND_RESPONSE)),
    (S.PROCEEDING, E.TU_SUCCESS): T(S.ACCEPTED, (cancel("trying"), SEND_RESPONSE, start("L"))),
    (S.PROCEEDING, E.TU_FAILURE): T(S.COMPLETED, (cancel("trying"), SEND_RESPONSE, start("G"), start("H"))),
    (S.PROCEEDING, E.TRANSPORT_FAILED): FAILED_TRANSPORT,
    (S.COMPLETED, E.REQUEST): T(S.COMPLETED, (RESEND_RESPONSE,)),
    (S.COMPLETED, E.ACK): T(S.CONFIRMED, (cancel("G"), cancel("H"), linger("I"))),
    (S.COMPLETED, E.TIMER_G): T(S.COMPLETED, (RESEND_RESPONSE, double_to_t2("G"))),
    (S.COMPLETED, E.TIMER_H): T(S.TERMINATED, (timeout("H"),), "timer H fired: no ACK"),
    (S.COMPLETED, E.TRANSPORT_FAILED): FAILED_TRANSPORT,
    (S.CONFIRMED, E.REQUEST): T(S.CONFIRMED),  # absorbed
    (S.CONFIRMED, E.ACK): T(S.CONFIRMED),  # absorbed
    (S.CONFIRMED, E.TIMER_I): T(S.TERMINATED, (), "timer I fired"),
    (S.CONFIRMED, E.TRANSPORT_FAILED): FAILED_TRANSPORT,
    (S.ACCEPTED, E.REQUEST): T(S.ACCEPTED),  # absorbed: the TU retransmits its 2xx
    (S.ACCEPTED, E.ACK): T(S.ACCEPTED, (PASS_UP,)),
    (S.ACCEPTED, E.TU_SUCCESS): T(S.ACCEPTED, (SEND_RESPONSE,)),  # the TU's 2xx retransmission
    (S.ACCEPTED, E.TIMER_L): T(S.TERMINATED, (), "timer L fired"),
    (S.ACCEPTED, E.TRANSPORT_FAILED): FAILED_TRANSPORT,
    (S.TERMINATED, E.REQUEST): T(S.TERMINATED, (STRAY,)),
    (S.TERMINATED, E.ACK): T(S.TERMINATED, (STRAY,)),
    (S.TERMINATED, E.TRANSPORT_FAILED): T(S.TERMINATED),  # a late report: nothing left to fail
}

NOT_STARTED = "start() was not called: the INVITE has not reached the TU"
ERRORS: Errors = {
    **{(s, E.START): "start() was already called" for s in S if s is not S.INITIAL},
    **{(S.INITIAL, e): NOT_STARTED for e in (E.REQUEST, E.ACK, E.TRANSPORT_FAILED, *TU_EVENTS)},
    **{
        (s, e): "a non-2xx final response was already sent"
        for s in (S.COMPLETED, S.CONFIRMED)
        for e in TU_EVENTS
    },
    (S.ACCEPTED, E.TU_PROVISIONAL): "a 2xx was already sent; only 2xx retransmissions may follow",
    (S.ACCEPTED, E.TU_FAILURE): "a 2xx was already sent; only 2xx retransmissions may follow",
    **{
        (S.TERMINATED, e): "the transaction is terminated; send 2xx retransmissions directly"
        for e in TU_EVENTS
    },
}


class InviteServerTransaction(ServerTransaction[ReqT, RespT]):
    """Answers a received INVITE on behalf of the TU (see the module rules)."""

    STATES = InviteServerState
    INITIAL = S.INITIAL
    TERMINATED = S.TERMINATED
    EVENTS = frozenset(
        {E.START, E.REQUEST, E.ACK, *TU_EVENTS, E.TRANSPORT_FAILED}
        | {E.TIMER_TRYING, E.TIMER_G, E.TIMER_H, E.TIMER_I, E.TIMER_L}
    )
    TABLE = TABLE
    ERRORS = ERRORS

    def __init__(
        self,
        request: ReqT,
        *,
        reliable: bool,
        build_provisional: Callable[[ReqT, int], RespT],
        timers: TimerConfig | None = None,
    ) -> None:
        if request.method != "INVITE":
            raise ValueError(f"an INVITE server transaction needs an INVITE, not {request.method}")
        super().__init__(request, reliable=reliable, timers=timers)
        self._build_provisional = build_provisional

    def _machine_step(self, op: Op, message: Message, actions: list[Action]) -> None:
        if op is Op.SEND_TRYING:
            super()._machine_step(Op.SEND_RESPONSE, self._build_provisional(self.request, 100), actions)
        else:
            super()._machine_step(op, message, actions)
