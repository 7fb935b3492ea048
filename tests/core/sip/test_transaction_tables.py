"""Tests of the four transition tables of sipsimple.core.sip.transaction as data, and of every
(state, event) pair against them.

Static checks: every (state, event) pair of a machine is either a row of TABLE, a row of ERRORS
(LocalProtocolError), or a timer event in a state where that timer cannot be running (ignored as
stale: the documented rule). A fixpoint over the table computes which timers may be running in
each state, so a missing timer row or a dead one is found.

Dynamic check: every state is reached by a breadth-first search over concrete events on UDP and
TCP, and from each reached state each event is applied to a fresh copy; the outcome must be what
the table row says (new state, or LocalProtocolError with nothing changed, or nothing at all for
a stale timer). Every pair must be exercised on at least one transport.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from sipsimple.core.sip.transaction import (
    Event,
    InviteClientTransaction,
    InviteServerTransaction,
    LocalProtocolError,
    NonInviteClientTransaction,
    NonInviteServerTransaction,
    Transaction,
)
from sipsimple.core.sip.transaction._base import STRAY, TIMER_OPS, Op, TimerConfig
from sipsimple.core.sip.transaction._events import TIMER_EVENTS

from .test_transaction_driver import AckFactory, ProvisionalFactory, Req, Resp

MACHINES: list[type[Transaction[Any, Any]]] = [
    InviteClientTransaction,
    NonInviteClientTransaction,
    InviteServerTransaction,
    NonInviteServerTransaction,
]
TIMER_OF_EVENT = {event: name for name, event in TIMER_EVENTS.items()}


def factory(machine: type[Transaction[Any, Any]], reliable: bool) -> Callable[[], Transaction[Any, Any]]:
    """A function making a fresh transaction of this machine."""
    if machine is InviteClientTransaction:
        return lambda: InviteClientTransaction(Req("INVITE"), reliable=reliable, build_ack=AckFactory())
    if machine is InviteServerTransaction:
        return lambda: InviteServerTransaction(
            Req("INVITE"), reliable=reliable, build_provisional=ProvisionalFactory()
        )
    return lambda: machine(Req("MESSAGE"), reliable=reliable)  # type: ignore[call-arg]


def runnable_timers(machine: type[Transaction[Any, Any]]) -> dict[enum.Enum, set[str]]:
    """For each state, the timers that may be running in it (a fixpoint over the table)."""
    running: dict[enum.Enum, set[str]] = {state: set() for state in machine.STATES}
    changed = True
    while changed:
        changed = False
        for (state, event), row in machine.TABLE.items():
            if event in TIMER_OF_EVENT and TIMER_OF_EVENT[event] not in running[state]:
                continue  # this row cannot be taken (yet)
            after = set(running[state]) - {TIMER_OF_EVENT.get(event, "")}
            for step in row.steps:
                if step.op is Op.CANCEL:
                    after.discard(step.timer)
                elif step.op in TIMER_OPS:
                    after.add(step.timer)
            if row.target is not machine.TERMINATED and not after <= running[row.target]:
                running[row.target] |= after
                changed = True
    return running


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.__name__)
def test_every_pair_is_in_the_table_or_the_errors_or_a_stale_timer(
    machine: type[Transaction[Any, Any]],
) -> None:
    """Each non-timer (state, event) pair is in exactly one of TABLE and ERRORS; timer events
    have rows exactly where the timer can be running, and never raise."""
    table, errors = machine.TABLE, machine.ERRORS
    assert not set(table) & set(errors)
    for state, event in [*table, *errors]:
        assert state in set(machine.STATES) and event in machine.EVENTS
    running = runnable_timers(machine)
    for state in machine.STATES:
        for event in machine.EVENTS:
            if event in TIMER_OF_EVENT:
                assert (state, event) not in errors
                can_run = TIMER_OF_EVENT[event] in running[state]
                assert ((state, event) in table) == can_run, (state, event)
            else:
                assert (state, event) in table or (state, event) in errors, (state, event)


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.__name__)
def test_terminated_is_final_in_the_tables(machine: type[Transaction[Any, Any]]) -> None:
    """Rows from Terminated stay there and do nothing but report strays; rows into Terminated
    from a live state say why; no row leaves Terminated or returns to the initial state."""
    for (state, _event), row in machine.TABLE.items():
        if state is machine.TERMINATED:
            assert row.target is machine.TERMINATED
            assert all(step == STRAY for step in row.steps)
        elif row.target is machine.TERMINATED:
            assert row.reason
        assert row.target is not machine.INITIAL


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.__name__)
def test_every_timer_started_has_a_value(machine: type[Transaction[Any, Any]]) -> None:
    """Every timer a table starts is defined in TimerConfig and has a row for its event."""
    config = TimerConfig()
    for row in machine.TABLE.values():
        for step in row.steps:
            if step.op in TIMER_OPS:
                config.initial(step.timer, reliable=False)  # KeyError if unknown
                assert TIMER_EVENTS[step.timer] in machine.EVENTS


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.__name__)
def test_linger_is_the_last_step_of_its_row(machine: type[Transaction[Any, Any]]) -> None:
    """linger(X) may turn the row into a move to Terminated, so nothing may follow it."""
    for row in machine.TABLE.values():
        for position, step in enumerate(row.steps):
            if step.op is Op.LINGER:
                assert position == len(row.steps) - 1, row


# -- dynamic: every pair exercised against its row ------------------------------------------------


def concrete_events(machine: type[Transaction[Any, Any]]) -> list[tuple[Event, Callable[[Any], Any]]]:
    """One concrete call for each event the machine knows."""
    original = "INVITE" if "Invite" in machine.__name__ and "NonInvite" not in machine.__name__ else "MESSAGE"
    calls: dict[Event, Callable[[Any], Any]] = {
        Event.START: lambda tx: tx.start(),
        Event.PROVISIONAL: lambda tx: tx.receive_response(Resp(180)),
        Event.SUCCESS: lambda tx: tx.receive_response(Resp(200)),
        Event.FAILURE: lambda tx: tx.receive_response(Resp(486)),
        Event.REQUEST: lambda tx: tx.receive_request(Req(original)),
        Event.ACK: lambda tx: tx.receive_request(Req("ACK")),
        Event.TU_PROVISIONAL: lambda tx: tx.send_response(Resp(180)),
        Event.TU_SUCCESS: lambda tx: tx.send_response(Resp(200)),
        Event.TU_FAILURE: lambda tx: tx.send_response(Resp(486)),
        Event.TRANSPORT_FAILED: lambda tx: tx.transport_failed(),
    }
    for name, event in TIMER_EVENTS.items():
        calls[event] = lambda tx, name=name: tx.timer_fired(name)
    return [(event, calls[event]) for event in sorted(machine.EVENTS, key=lambda e: e.name)]


def replay(
    make: Callable[[], Transaction[Any, Any]], path: Iterable[Callable[[Any], Any]]
) -> Transaction[Any, Any]:
    tx = make()
    for call in path:
        call(tx)
    return tx


def reachable(machine: type[Transaction[Any, Any]], reliable: bool) -> dict[Any, list[Callable[[Any], Any]]]:
    """A shortest path of concrete calls to each reachable (state, running timers) situation."""
    make = factory(machine, reliable)
    events = concrete_events(machine)
    start = make()
    paths: dict[Any, list[Callable[[Any], Any]]] = {(start.state, start.running_timers): []}
    frontier = [[]]  # type: list[list[Callable[[Any], Any]]]
    while frontier:
        next_frontier = []
        for path in frontier:
            for _event, call in events:
                tx = replay(make, path)
                try:
                    call(tx)
                except LocalProtocolError:
                    continue
                situation = (tx.state, tx.running_timers)
                if situation not in paths:
                    paths[situation] = [*path, call]
                    next_frontier.append([*path, call])
        frontier = next_frontier
    return paths


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.__name__)
def test_every_state_event_pair_behaves_as_its_row_says(machine: type[Transaction[Any, Any]]) -> None:
    """From every reachable situation on UDP and TCP, each event gives the row's target state,
    or raises LocalProtocolError leaving state and timers unchanged, or (a timer that is not
    running) gives no actions; every state x event pair is exercised on some transport."""
    exercised: set[tuple[Any, Event]] = set()
    for reliable in (False, True):
        make = factory(machine, reliable)
        for (state, timers), path in reachable(machine, reliable).items():
            for event, call in concrete_events(machine):
                tx = replay(make, path)
                exercised.add((state, event))
                if event in TIMER_OF_EVENT and TIMER_OF_EVENT[event] not in timers:
                    assert call(tx) == []
                    assert (tx.state, tx.running_timers) == (state, timers)
                elif (state, event) in machine.ERRORS:
                    with pytest.raises(LocalProtocolError):
                        call(tx)
                    assert (tx.state, tx.running_timers) == (state, timers)
                else:
                    call(tx)
                    row = machine.TABLE[(state, event)]
                    lingers = any(step.op is Op.LINGER for step in row.steps)
                    expected = machine.TERMINATED if lingers and reliable else row.target
                    assert tx.state is expected, (state, event, tx.state)
    missing = {(s, e) for s in machine.STATES for e in machine.EVENTS} - exercised
    assert not missing, sorted((s.name, e.name) for s, e in missing)


# -- the tables in docs/sip-transactions.md are the code's tables ---------------------------------

DOCS = Path(__file__).resolve().parents[3] / "docs" / "sip-transactions.md"


def render(machine: type[Transaction[Any, Any]]) -> str:
    """The machine's TABLE and ERRORS as the Markdown printed in the docs."""
    order = {state: i for i, state in enumerate(machine.STATES)}
    lines = [
        f"#### {machine.__name__}",
        "",
        "| state | event | next state | steps |",
        "|---|---|---|---|",
    ]
    for (state, event), row in sorted(machine.TABLE.items(), key=lambda kv: (order[kv[0][0]], kv[0][1].name)):
        steps = ", ".join(repr(step) for step in row.steps) or "(none)"
        if row.reason:
            steps += f'; "{row.reason}"'
        lines.append(f"| {state.name} | {event.name} | {row.target.name} | {steps} |")
    lines += ["", "LocalProtocolError:", ""]
    for (state, event), text in sorted(
        machine.ERRORS.items(), key=lambda kv: (order[kv[0][0]], kv[0][1].name)
    ):
        lines.append(f"* {state.name} + {event.name}: {text}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.__name__)
def test_docs_show_the_tables_the_code_runs(machine: type[Transaction[Any, Any]]) -> None:
    """docs/sip-transactions.md contains each machine's table exactly as the code has it
    (regenerate with: python -m tests.core.sip.test_transaction_tables)."""
    assert render(machine) in DOCS.read_text(encoding="utf-8")


if __name__ == "__main__":
    print("\n".join(render(machine) for machine in MACHINES))
