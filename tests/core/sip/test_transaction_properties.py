"""Property tests (hypothesis) for the four machines of sipsimple.core.sip.transaction.

Each machine is checked twice over, on UDP and TCP. Systematically: from every reachable
(state, running timers) situation, every event, then all timers run out. Randomly: each example
drives a fresh transaction to a random reachable situation and applies a random sequence of
events (responses with random codes 100-699, request retransmissions and ACKs, TU responses,
timer firings: due ones via the fake clock, early firings of running ones, and direct firings of
any timer name, stale or not; transport failures and repeated start() calls), then all timers
run out.

Invariants checked on every step (by the Driver): timers are started only when not running and
cancelled only when running, the driver's and the machine's running timers agree, nothing but
Stray follows Terminated, no timer is left at Terminated, Terminated comes at most once.
Checked here: the only exception is LocalProtocolError, only for local misuse, and it changes
nothing; in every live state exactly the timers that bound it (and retransmit, on UDP) are
running; per machine, the outcome rules listed in each test's docstring.

Each test also proves that every (state, event) pair of the machine's TABLE and ERRORS went
through these checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsimple.core.sip.transaction import (
    Event,
    InviteClientState,
    InviteClientTransaction,
    InviteServerState,
    InviteServerTransaction,
    LocalProtocolError,
    NonInviteClientState,
    NonInviteClientTransaction,
    NonInviteServerState,
    NonInviteServerTransaction,
    PassToTU,
    Send,
    Timeout,
    Transaction,
)
from sipsimple.core.sip.transaction._events import TIMER_EVENTS

from .test_transaction_driver import AckFactory, Driver, ProvisionalFactory, Req, Resp

EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

codes = st.sampled_from([(100, 199), (200, 299), (300, 699)]).flatmap(lambda r: st.integers(*r))
delays = st.sampled_from(["short"] * 4 + ["long", "any"]).flatmap(
    lambda kind: {
        "short": st.sampled_from([0.0, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0]),
        "long": st.sampled_from([5.0, 16.0, 32.0, 40.0]),
        "any": st.floats(0, 40, allow_nan=False),
    }[kind]
)
ARGUMENTS: dict[str, st.SearchStrategy[Any]] = {
    "respond": codes,
    "tu": codes,
    "advance": delays,
    "fire running": st.integers(0, 3),
    "fire": st.sampled_from([*TIMER_EVENTS, "nonsense"]),
    "transport": st.none(),
    "start": st.none(),
}


def op_lists(requests: list[str] | None = None) -> st.SearchStrategy[list[tuple[str, Any]]]:
    """Sequences in which the machine's own messages are frequent, time moves now and then, and
    transport failures, stray timer names and repeated start() calls are rare. ``requests``:
    the methods a server receives (None for a client, which receives responses)."""
    if requests is None:
        weighted = ["respond"] * 6
        arguments = ARGUMENTS
    else:
        weighted = ["request"] * 3 + ["tu"] * 4
        arguments = {**ARGUMENTS, "request": st.sampled_from(requests)}
    weighted += ["advance"] * 3 + ["fire running", "fire", "transport", "start"]
    op = st.sampled_from(weighted).flatmap(lambda kind: st.tuples(st.just(kind), arguments[kind]))
    return st.lists(op, max_size=40)


# The timers that must be running in each live state on UDP (A, E, G are dropped on TCP): every
# retransmitting state keeps retransmitting and every state but the "waiting for the TU/peer"
# ones is bounded by a timer.
REQUIRED_TIMERS: dict[Any, set[str]] = {
    InviteClientState.CALLING: {"A", "B"},
    InviteClientState.PROCEEDING: set(),
    InviteClientState.COMPLETED: {"D"},
    InviteClientState.ACCEPTED: {"M"},
    NonInviteClientState.TRYING: {"E", "F"},
    NonInviteClientState.PROCEEDING: {"E", "F"},
    NonInviteClientState.COMPLETED: {"K"},
    InviteServerState.PROCEEDING: set(),
    InviteServerState.COMPLETED: {"G", "H"},
    InviteServerState.CONFIRMED: {"I"},
    InviteServerState.ACCEPTED: {"L"},
    NonInviteServerState.TRYING: set(),
    NonInviteServerState.PROCEEDING: set(),
    NonInviteServerState.COMPLETED: {"J"},
}


@dataclass
class Harness:
    """Applies ops through a Driver and keeps what the invariants need."""

    tx: Transaction[Any, Any]
    acks: AckFactory = field(default_factory=AckFactory)
    driver: Driver = field(init=False)
    tu_accepted: list[Resp] = field(default_factory=list)  # TU responses that did not raise
    op_of_log: list[str] = field(default_factory=list)  # for each driver.log entry, the op kind

    pairs: set[tuple[Any, Event]] = field(default_factory=set)  # (state, event) the table saw

    def __post_init__(self) -> None:
        self.driver = Driver(self.tx)
        handle = self.tx._handle

        def spy(event: Event, message: Any) -> Any:
            self.pairs.add((self.tx.state, event))
            return handle(event, message)

        self.tx._handle = spy  # type: ignore[method-assign]

    def apply(self, kind: str, argument: Any) -> None:
        tx, driver = self.tx, self.driver
        before = (tx.state, tx.running_timers, len(driver.log))
        try:
            if kind == "advance":
                driver.advance(argument)
            elif kind == "fire running":  # a running timer fires early (a driver race)
                if driver.due:
                    name = sorted(driver.due)[argument % len(driver.due)]
                    del driver.due[name]
                    driver.run(tx.timer_fired(name))
            elif kind == "fire":
                was_running = argument in driver.due
                driver.due.pop(argument, None)  # fired early, as a driver race could
                actions = driver.run(tx.timer_fired(argument))
                assert was_running or actions == []
            elif kind == "transport":
                driver.transport_failed()
            elif kind == "start":
                driver.start()
            elif kind == "respond":
                driver.respond(Resp(argument))
            elif kind == "request":
                driver.request(Req(argument))
            elif kind == "tu":
                response = Resp(argument)
                driver.tu_send(response)
                self.tu_accepted.append(response)
        except LocalProtocolError:
            local_misuse = (
                kind in ("start", "tu")
                or before[0] is tx.INITIAL
                or (kind == "request" and argument == "ACK" and isinstance(tx, NonInviteServerTransaction))
            )
            assert local_misuse, f"{kind} {argument} raised in {before[0]}"
            assert (tx.state, tx.running_timers, len(driver.log)) == before
        self.op_of_log.extend([kind] * (len(driver.log) - len(self.op_of_log)))
        if tx.state in REQUIRED_TIMERS:
            required = REQUIRED_TIMERS[tx.state] - ({"A", "E", "G"} if tx.reliable else set())
            assert required <= tx.running_timers, f"{tx.state} without timers {required - tx.running_timers}"
            assert tx.running_timers - required <= {"trying"}, f"{tx.state} with {tx.running_timers}"

    def run(self, ops: list[tuple[str, Any]]) -> bool:
        """Apply the ops, run the timers out; False if the transaction was never started."""
        for kind, argument in ops:
            self.apply(kind, argument)
        self.apply("advance", 10_000.0)
        assert not self.driver.due
        if self.tx.state is self.tx.INITIAL:
            assert self.driver.log == []
            return False
        return True

    def index(self, predicate: Any) -> int | None:
        """The log position of the first action matching predicate, or None."""
        return next((i for i, (_, a) in enumerate(self.driver.log) if predicate(a)), None)


Op = tuple[str, Any]


def alphabet(requests: list[str] | None) -> list[Op]:
    """One concrete op for every event a machine knows (timers fired directly, running or not)."""
    ops: list[Op] = [("start", None), ("transport", None), *(("fire", name) for name in TIMER_EVENTS)]
    if requests is None:
        return ops + [("respond", code) for code in (180, 200, 486)]
    return ops + [("request", method) for method in requests] + [("tu", code) for code in (180, 200, 486)]


def situations(make: Callable[[bool], Harness], reliable: bool, ops: list[Op]) -> list[list[Op]]:
    """A shortest op path to each reachable (state, running timers) situation (breadth first)."""
    first = make(reliable).tx
    paths: dict[Any, list[Op]] = {(first.state, first.running_timers): []}
    frontier: list[list[Op]] = [[]]
    while frontier:
        next_frontier = []
        for path in frontier:
            for op in ops:
                harness = make(reliable)
                for kind, argument in [*path, op]:
                    harness.apply(kind, argument)
                key = (harness.tx.state, harness.tx.running_timers)
                if key not in paths:
                    paths[key] = [*path, op]
                    next_frontier.append(paths[key])
        frontier = next_frontier
    return list(paths.values())


def explore(
    machine: type[Transaction[Any, Any]],
    make: Callable[[bool], Harness],
    requests: list[str] | None,
    check: Callable[[Harness], None],
) -> None:
    """Check the invariants, first systematically: from every reachable situation on UDP and TCP,
    every event, then the timers run out; then over random sequences (hypothesis) that start
    from a random reachable situation. Finally prove every pair of TABLE and ERRORS was seen."""
    seen: set[tuple[Any, Event]] = set()
    ops = alphabet(requests)
    starts = {reliable: situations(make, reliable, ops) for reliable in (False, True)}

    def run(reliable: bool, sequence: list[Op]) -> None:
        harness = make(reliable)
        if harness.run(sequence):
            check(harness)
        seen.update(harness.pairs)

    for reliable, paths in starts.items():
        for path in paths:
            for op in ops:
                run(reliable, [*path, op])

    @EXAMPLES
    @given(reliable=st.booleans(), where=st.integers(0, 10**6), tail=op_lists(requests))
    def run_random(reliable: bool, where: int, tail: list[Op]) -> None:
        paths = starts[reliable]
        run(reliable, [*paths[where % len(paths)], *tail])

    run_random()
    missing = (set(machine.TABLE) | set(machine.ERRORS)) - seen
    assert not missing, sorted((state.name, event.name) for state, event in missing)


def client_outcome_checks(h: Harness, invite: bool) -> None:
    driver, tx = h.driver, h.tx
    passed = driver.passed_up()
    finals = [r for r in passed if r.status_code >= 200]
    non_2xx = [r for r in passed if r.status_code >= 300]
    timeouts, transport_errors = driver.timeouts(), driver.transport_errors()
    assert len(timeouts) <= 1 and len(transport_errors) <= 1
    assert not (timeouts and finals), "a transaction both timed out and completed"
    if invite:
        assert len(non_2xx) <= 1
        assert not (non_2xx and len(finals) > len(non_2xx)), "the TU saw a 2xx and a non-2xx"
    else:
        assert len(finals) <= 1, "more than one final response passed up"
    if tx.terminated:
        assert timeouts or finals or transport_errors, "terminated without an outcome"
    else:
        assert invite and tx.state is InviteClientState.PROCEEDING and not finals and not timeouts
    # sends: the request, or (INVITE) the one ACK, only after a non-2xx final was passed up
    for message in driver.sent():
        assert message is tx.request or (invite and message is tx.ack)
    assert len(h.acks.calls) <= 1
    if invite and tx.ack is not None:
        first_ack = h.index(lambda a: isinstance(a, Send) and a.message is tx.ack)
        first_failure = h.index(lambda a: isinstance(a, PassToTU) and a.message.status_code >= 300)
        assert first_failure is not None and first_ack is not None and first_failure < first_ack
    # retransmissions stop at the first response (INVITE) / final response (non-INVITE)
    cutoff = 100 if invite else 200
    first_answer = h.index(lambda a: isinstance(a, PassToTU) and a.message.status_code >= cutoff)
    if first_answer is not None:
        later = [a for _, a in driver.log[first_answer:] if isinstance(a, Send)]
        assert all(a.message is not tx.request for a in later)
    if tx.reliable:
        assert [m for m in driver.sent() if m is tx.request] == [tx.request]
    # nothing reaches the TU after a timeout
    first_timeout = h.index(lambda a: isinstance(a, Timeout))
    if first_timeout is not None:
        assert not any(isinstance(a, PassToTU) for _, a in driver.log[first_timeout:])


def test_invite_client_invariants() -> None:
    """INVITE client: at most one Timeout, never with a final response; the TU never sees both
    a 2xx and a non-2xx; at most one non-2xx; ACK built once and sent only after a non-2xx;
    no INVITE retransmission after any response; left alive only in Proceeding with no timer."""

    def make(reliable: bool) -> Harness:
        acks = AckFactory()
        return Harness(InviteClientTransaction(Req("INVITE"), reliable=reliable, build_ack=acks), acks)

    explore(InviteClientTransaction, make, None, lambda h: client_outcome_checks(h, invite=True))


def test_non_invite_client_invariants() -> None:
    """Non-INVITE client: at most one final response passed up, exactly one outcome (final,
    Timeout or transport error) and always terminated once timers run out; no retransmission
    after the final response; exactly one send on a reliable transport."""

    def make(reliable: bool) -> Harness:
        return Harness(NonInviteClientTransaction(Req("OPTIONS"), reliable=reliable))

    explore(NonInviteClientTransaction, make, None, lambda h: client_outcome_checks(h, invite=False))


def server_send_checks(h: Harness, provisionals: ProvisionalFactory | None) -> None:
    driver, tx = h.driver, h.tx
    accepted = {id(r) for r in h.tu_accepted}
    built = [r for r in driver.sent() if id(r) not in accepted]
    assert all(r.label == "built by the transaction" and r.status_code == 100 for r in built)
    if provisionals is not None:
        assert len(provisionals.calls) <= 1
        if provisionals.calls:  # the 100 was built before the TU answered anything
            first_auto = h.index(lambda a: isinstance(a, Send) and id(a.message) not in accepted)
            first_tu = h.index(lambda a: isinstance(a, Send) and id(a.message) in accepted)
            assert first_auto is not None and (first_tu is None or first_auto < first_tu)
    else:
        assert not built
    # the TU's request reaches it exactly once, first
    passed = driver.passed_up()
    assert passed and passed[0] is tx.request
    assert all(m.method == "ACK" for m in passed[1:])


def invite_server_checks(h: Harness) -> None:
    tx, driver = h.tx, h.driver
    server_send_checks(h, tx._build_provisional)  # type: ignore[attr-defined]
    finals = [r for r in h.tu_accepted if r.status_code >= 200]
    first_final = h.index(lambda a: isinstance(a, Send) and a.message.status_code >= 200)
    if first_final is not None:
        final = driver.log[first_final][1].message
        for i, (_, action) in enumerate(driver.log[first_final:], first_final):
            if isinstance(action, Send):
                if final.status_code >= 300:
                    assert action.message is final
                else:
                    assert 200 <= action.message.status_code < 300 and h.op_of_log[i] == "tu"
    if len(driver.passed_up()) > 1:
        assert finals and 200 <= finals[0].status_code < 300
    timeouts = driver.timeouts()
    assert len(timeouts) <= 1
    if timeouts:
        assert finals and finals[0].status_code >= 300
    if not tx.terminated:
        assert tx.state is InviteServerState.PROCEEDING and not finals


def test_invite_server_invariants() -> None:
    """INVITE server: sends only TU responses or the one factory-built 100 (before any TU
    response); after a non-2xx only that response is re-sent; after a 2xx only TU 2xx are sent;
    ACKs reach the TU only after a 2xx; Timeout only after a non-2xx and at most once; alive
    after the timers run out only in Proceeding, before any final response."""

    def make(reliable: bool) -> Harness:
        tx = InviteServerTransaction(Req("INVITE"), reliable=reliable, build_provisional=ProvisionalFactory())
        return Harness(tx)

    explore(InviteServerTransaction, make, ["INVITE", "ACK"], invite_server_checks)


def non_invite_server_checks(h: Harness) -> None:
    tx, driver = h.tx, h.driver
    server_send_checks(h, None)
    assert driver.passed_up() == [tx.request]
    finals = [r for r in h.tu_accepted if r.status_code >= 200]
    assert len(finals) <= 1
    if finals:
        position = h.index(lambda a: isinstance(a, Send) and a.message is finals[0])
        assert position is not None
        assert all(a.message is finals[0] for _, a in driver.log[position:] if isinstance(a, Send))
    assert driver.timeouts() == []
    if not tx.terminated:
        assert tx.state in (NonInviteServerState.TRYING, NonInviteServerState.PROCEEDING)
        assert not finals


def test_non_invite_server_invariants() -> None:
    """Non-INVITE server: never sends anything the TU did not give it; at most one final
    response accepted from the TU and, after it, only that response is sent; the request
    reaches the TU once; never a Timeout; alive after the timers run out only while waiting for
    the TU (Trying/Proceeding)."""

    def make(reliable: bool) -> Harness:
        return Harness(NonInviteServerTransaction(Req("MESSAGE"), reliable=reliable))

    explore(NonInviteServerTransaction, make, ["MESSAGE", "ACK"], non_invite_server_checks)
