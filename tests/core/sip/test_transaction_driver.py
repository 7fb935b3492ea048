"""The test driver for sipsimple.core.sip.transaction, and tests proving the driver itself works.

The driver plays the part the Twisted layer will play: it executes the actions a transaction
returns against a fake clock (timer name -> due time), fires due timers in time order on
``advance(dt)``, and records every action with the time it was given. It also checks, on every
action, the bookkeeping rules all machines promise: a timer is only started when not running,
only cancelled when running, nothing but Stray after Terminated, no timer left at Terminated, and
the driver's view of running timers equals the machine's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from sipsimple.core.sip.transaction import (
    Action,
    CancelTimer,
    NonInviteClientTransaction,
    PassToTU,
    Send,
    StartTimer,
    Stray,
    Terminated,
    Timeout,
    TimerConfig,
    Transaction,
    TransportError,
)


@dataclass(eq=False)
class Req:
    """An opaque request: only ``method`` is read by the machines. Compared by identity."""

    method: str
    label: str = ""


@dataclass(eq=False)
class Resp:
    """An opaque response: only ``status_code`` is read by the machines. Compared by identity."""

    status_code: int
    label: str = ""


@dataclass
class AckFactory:
    """The injected ``build_ack``: records each call."""

    calls: list[tuple[Req, Resp]] = field(default_factory=list)

    def __call__(self, request: Req, response: Resp) -> Req:
        self.calls.append((request, response))
        return Req("ACK", f"ACK for {response.status_code}")


@dataclass
class ProvisionalFactory:
    """The injected ``build_provisional``: records each call."""

    calls: list[tuple[Req, int]] = field(default_factory=list)

    def __call__(self, request: Req, code: int) -> Resp:
        self.calls.append((request, code))
        return Resp(code, "built by the transaction")


class Driver:
    """Runs a transaction against a fake clock and records what it asks for."""

    def __init__(self, transaction: Transaction[Any, Any]) -> None:
        self.tx = transaction
        self.now = 0.0
        self.due: dict[str, float] = {}
        self.log: list[tuple[float, Action]] = []
        self.terminated = False

    # -- executing actions --

    def run(self, actions: list[Action]) -> list[Action]:
        for action in actions:
            assert not self.terminated or isinstance(action, Stray), f"{action} after Terminated"
            self.log.append((self.now, action))
            if isinstance(action, StartTimer):
                assert action.name not in self.due, f"timer {action.name} started twice"
                assert action.delay >= 0
                self.due[action.name] = self.now + action.delay
            elif isinstance(action, CancelTimer):
                assert action.name in self.due, f"timer {action.name} cancelled while not running"
                del self.due[action.name]
            elif isinstance(action, Terminated):
                assert not self.due, f"timers {sorted(self.due)} left running at Terminated"
                self.terminated = True
        assert set(self.due) == self.tx.running_timers
        assert self.terminated == self.tx.terminated
        return actions

    def advance(self, seconds: float) -> None:
        """Move the clock on, firing every timer that falls due, earliest first."""
        end = self.now + seconds
        while True:
            pending = sorted((due, name) for name, due in self.due.items() if due <= end)
            if not pending:
                break
            self.now, name = pending[0]
            del self.due[name]
            self.run(self.tx.timer_fired(name))
        self.now = end

    def drain(self, limit: float = 10_000.0) -> None:
        """Fire timers until none is left (or the limit passes)."""
        self.advance(limit)

    # -- events --

    def start(self) -> list[Action]:
        return self.run(self.tx.start())

    def respond(self, response: Resp) -> list[Action]:
        """A response arrives from the network (client transactions)."""
        return self.run(self.tx.receive_response(response))  # type: ignore[attr-defined]

    def request(self, request: Req) -> list[Action]:
        """A request arrives from the network (server transactions)."""
        return self.run(self.tx.receive_request(request))  # type: ignore[attr-defined]

    def tu_send(self, response: Resp) -> list[Action]:
        """The TU answers (server transactions)."""
        return self.run(self.tx.send_response(response))  # type: ignore[attr-defined]

    def transport_failed(self) -> list[Action]:
        return self.run(self.tx.transport_failed())

    # -- what happened --

    def of(self, kind: type) -> list[tuple[float, Any]]:
        return [(t, a) for t, a in self.log if isinstance(a, kind)]

    def sent(self) -> list[Any]:
        return [a.message for _, a in self.of(Send)]

    def send_times(self) -> list[float]:
        return [t for t, _ in self.of(Send)]

    def passed_up(self) -> list[Any]:
        return [a.message for _, a in self.of(PassToTU)]

    def terminated_at(self) -> float | None:
        times = [t for t, _ in self.of(Terminated)]
        return times[0] if times else None

    def timeouts(self) -> list[tuple[float, Timeout]]:
        return self.of(Timeout)

    def transport_errors(self) -> list[tuple[float, TransportError]]:
        return self.of(TransportError)

    def started(self, name: str) -> list[float]:
        """The delays timer ``name`` was started with, in order."""
        return [a.delay for _, a in self.of(StartTimer) if a.name == name]


def test_driver_fires_timers_in_due_order_and_skips_cancelled_ones() -> None:
    """advance() fires E before F when both fall due, and a cancelled timer never fires."""
    driver = Driver(NonInviteClientTransaction(Req("OPTIONS"), reliable=False))
    driver.start()
    driver.advance(0.5)  # E fires: second send, E restarted at 1 s
    assert driver.send_times() == [0.0, 0.5]
    driver.respond(Resp(200))  # cancels E and F
    assert "E" not in driver.due and "F" not in driver.due
    driver.advance(100)
    assert driver.send_times() == [0.0, 0.5]
    assert driver.terminated_at() == 5.5  # Timer K = T4 after the 200 at t=0.5


def test_driver_rejects_an_action_after_terminated() -> None:
    """The driver's Terminated-is-final check can fail: a Send after Terminated is caught."""
    driver = Driver(NonInviteClientTransaction(Req("OPTIONS"), reliable=True))
    driver.start()
    driver.respond(Resp(200))
    assert driver.terminated
    with pytest.raises(AssertionError, match="after Terminated"):
        driver.run([Send(Req("OPTIONS"))])


def test_timer_config_default_is_rfc_3261_table_4() -> None:
    """The defaults are T1=500 ms, T2=4 s, T4=5 s, D=32 s and the 200 ms trying delay."""
    assert TimerConfig() == TimerConfig(t1=0.5, t2=4.0, t4=5.0, d=32.0, trying=0.2)
