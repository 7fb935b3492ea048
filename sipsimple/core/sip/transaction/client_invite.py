"""The INVITE client transaction (RFC 3261 §17.1.1, with the Accepted state of RFC 6026).

Rules:

* ``start()`` sends the INVITE and enters Calling. On unreliable transports Timer A retransmits
  it at T1, 2*T1, 4*T1, ... (no cap); Timer B (64*T1) gives up: Timeout, Terminated.
* A 1xx stops the retransmissions and Timer B and enters Proceeding; every 1xx is passed up. The
  transaction itself never times out in Proceeding: the TU decides (CANCEL, its own timer C).
* A 2xx enters Accepted (RFC 6026): the 2xx is passed up; the TU/dialog builds and sends the ACK
  for it, outside this transaction. Every further 2xx (retransmissions, other forks) is passed up
  too so the TU can ACK it again. Timer M (64*T1) ends the state.
* A 3xx-6xx is passed up, and the transaction sends an ACK built by the injected
  ``build_ack(invite, response)`` and enters Completed. Retransmissions of the final response are
  answered with the same ACK object and are not passed up. Timer D (>= 32 s on unreliable
  transports, zero on reliable ones: straight to Terminated) ends the state.
* Late 1xx in Completed/Accepted and 3xx-6xx in Accepted are discarded. A 2xx in Completed (a
  forked branch answered after another failed) is given back as :class:`Stray` for the core.
* A transport failure in any live state reports TransportError and terminates.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from ._base import (
    PASS_UP,
    SEND_ACK,
    SEND_REQUEST,
    STRAY,
    TRANSPORT_ERROR,
    ClientTransaction,
    Errors,
    Op,
    Table,
    TimerConfig,
    Transition,
    cancel,
    double,
    linger,
    start,
    timeout,
)
from ._events import Action, Event, Message, ReqT, RespT, Send

__all__ = ["InviteClientState", "InviteClientTransaction"]


class InviteClientState(enum.Enum):
    INITIAL = "initial"
    CALLING = "calling"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    ACCEPTED = "accepted"
    TERMINATED = "terminated"


S = InviteClientState
T = Transition
E = Event

FAILED_TRANSPORT = T(S.TERMINATED, (TRANSPORT_ERROR,), "transport error")

TABLE: Table = {
    (S.INITIAL, E.START): T(S.CALLING, (SEND_REQUEST, start("A"), start("B"))),
    (S.CALLING, E.TIMER_A): T(S.CALLING, (SEND_REQUEST, double("A"))),
    (S.CALLING, E.TIMER_B): T(S.TERMINATED, (timeout("B"),), "timer B fired: no response"),
    (S.CALLING, E.PROVISIONAL): T(S.PROCEEDING, (cancel("A"), cancel("B"), PASS_UP)),
    (S.CALLING, E.SUCCESS): T(S.ACCEPTED, (cancel("A"), cancel("B"), PASS_UP, start("M"))),
    (S.CALLING, E.FAILURE): T(S.COMPLETED, (cancel("A"), cancel("B"), PASS_UP, SEND_ACK, linger("D"))),
    (S.CALLING, E.TRANSPORT_FAILED): FAILED_TRANSPORT,
    (S.PROCEEDING, E.PROVISIONAL): T(S.PROCEEDING, (PASS_UP,)),
    (S.PROCEEDING, E.SUCCESS): T(S.ACCEPTED, (PASS_UP, start("M"))),
    (S.PROCEEDING, E.FAILURE): T(S.COMPLETED, (PASS_UP, SEND_ACK, linger("D"))),
    (S.PROCEEDING, E.TRANSPORT_FAILED): FAILED_TRANSPORT,
    (S.COMPLETED, E.PROVISIONAL): T(S.COMPLETED),  # late 1xx: discarded
    (S.COMPLETED, E.SUCCESS): T(S.COMPLETED, (STRAY,)),  # another fork answered: the core's business
    (S.COMPLETED, E.FAILURE): T(S.COMPLETED, (SEND_ACK,)),  # retransmitted final: re-ACK
    (S.COMPLETED, E.TIMER_D): T(S.TERMINATED, (), "timer D fired"),
    (S.COMPLETED, E.TRANSPORT_FAILED): FAILED_TRANSPORT,
    (S.ACCEPTED, E.PROVISIONAL): T(S.ACCEPTED),  # late 1xx: discarded
    (S.ACCEPTED, E.SUCCESS): T(S.ACCEPTED, (PASS_UP,)),  # the TU re-ACKs it
    (S.ACCEPTED, E.FAILURE): T(S.ACCEPTED),  # discarded (RFC 6026)
    (S.ACCEPTED, E.TIMER_M): T(S.TERMINATED, (), "timer M fired"),
    (S.ACCEPTED, E.TRANSPORT_FAILED): FAILED_TRANSPORT,
    (S.TERMINATED, E.PROVISIONAL): T(S.TERMINATED, (STRAY,)),
    (S.TERMINATED, E.SUCCESS): T(S.TERMINATED, (STRAY,)),
    (S.TERMINATED, E.FAILURE): T(S.TERMINATED, (STRAY,)),
    (S.TERMINATED, E.TRANSPORT_FAILED): T(S.TERMINATED),  # a late report: nothing left to fail
}

ERRORS: Errors = {
    **{(s, E.START): "start() was already called" for s in S if s is not S.INITIAL},
    (S.INITIAL, E.PROVISIONAL): "a response before start(): the INVITE was never sent",
    (S.INITIAL, E.SUCCESS): "a response before start(): the INVITE was never sent",
    (S.INITIAL, E.FAILURE): "a response before start(): the INVITE was never sent",
    (S.INITIAL, E.TRANSPORT_FAILED): "a transport failure before start(): nothing was sent",
}


class InviteClientTransaction(ClientTransaction[ReqT, RespT]):
    """Sends an INVITE and follows it to its final response (see the module rules)."""

    STATES = InviteClientState
    INITIAL = S.INITIAL
    TERMINATED = S.TERMINATED
    EVENTS = frozenset(
        {E.START, E.PROVISIONAL, E.SUCCESS, E.FAILURE, E.TRANSPORT_FAILED}
        | {E.TIMER_A, E.TIMER_B, E.TIMER_D, E.TIMER_M}
    )
    TABLE = TABLE
    ERRORS = ERRORS

    def __init__(
        self,
        request: ReqT,
        *,
        reliable: bool,
        build_ack: Callable[[ReqT, RespT], ReqT],
        timers: TimerConfig | None = None,
    ) -> None:
        if request.method != "INVITE":
            raise ValueError(f"an INVITE client transaction needs an INVITE, not {request.method}")
        super().__init__(request, reliable=reliable, timers=timers)
        self._build_ack = build_ack
        self._ack: ReqT | None = None

    @property
    def ack(self) -> ReqT | None:
        """The ACK sent for the non-2xx final response, once there is one."""
        return self._ack

    def _machine_step(self, op: Op, message: Message, actions: list[Action]) -> None:
        if op is Op.SEND_ACK:
            if self._ack is None:
                self._ack = self._build_ack(self.request, message)
            actions.append(Send(self._ack))
        else:
            super()._machine_step(op, message, actions)
