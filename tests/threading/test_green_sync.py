"""Event, Queue and Command between green threads, on a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsimple.threading.green import (
    Command,
    Event,
    GreenHub,
    GreenTimeout,
    InterruptCommand,
    NotInGreenThreadError,
    Queue,
    call_in_green_thread,
    sleep,
)

from .conftest import FakeReactor

# -- Event -------------------------------------------------------------------------------------


def test_event_wakes_every_waiter_with_the_value_in_wait_order(reactor: FakeReactor, hub: GreenHub) -> None:
    """All green threads waiting on an Event get the sent value, in the order they started waiting."""
    event: Event[str] = Event()
    got: list[tuple[int, str]] = []
    for n in range(50):
        call_in_green_thread(lambda n=n: got.append((n, event.wait())))
    reactor.advance(0)
    assert got == [] and not event.ready()
    event.send("go")
    assert event.ready()
    reactor.advance(0)
    assert got == [(n, "go") for n in range(50)]


def test_event_wait_after_send_returns_at_once_even_on_the_hub(hub: GreenHub) -> None:
    """Once sent, wait() returns the value immediately, also outside green threads."""
    event: Event[int] = Event()
    event.send(3)
    assert event.wait() == 3
    assert event.wait(timeout=0) == 3


def test_event_wait_unsent_on_the_hub_is_refused(hub: GreenHub) -> None:
    """Waiting on an unsent Event outside a green thread raises NotInGreenThreadError."""
    with pytest.raises(NotInGreenThreadError):
        Event().wait()


def test_event_send_exception_is_raised_in_every_waiter(reactor: FakeReactor, hub: GreenHub) -> None:
    """send_exception() makes every waiter (present and later) raise it; a class is instantiated."""
    event: Event[None] = Event()
    caught: list[BaseException] = []

    def waiter() -> None:
        try:
            event.wait()
        except ConnectionError as exc:
            caught.append(exc)

    call_in_green_thread(waiter)
    call_in_green_thread(waiter)
    reactor.advance(0)
    event.send_exception(ConnectionResetError)
    reactor.advance(0)
    call_in_green_thread(waiter)
    reactor.advance(0)
    assert len(caught) == 3
    assert all(isinstance(exc, ConnectionResetError) for exc in caught)


def test_event_wait_timeout_affects_only_that_waiter(reactor: FakeReactor, hub: GreenHub) -> None:
    """A waiter with a timeout gets GreenTimeout; a patient waiter still gets the value later."""
    event: Event[str] = Event()
    outcome: list[object] = []

    def impatient() -> None:
        try:
            event.wait(timeout=2)
        except GreenTimeout:
            outcome.append("timed out")

    def patient() -> None:
        outcome.append(event.wait())

    call_in_green_thread(impatient)
    call_in_green_thread(patient)
    reactor.advance(0)
    reactor.advance(2)
    assert outcome == ["timed out"]
    assert reactor.getDelayedCalls() == []
    event.send("finally")
    reactor.advance(0)
    assert outcome == ["timed out", "finally"]


def test_event_send_twice_is_an_error_until_reset(reactor: FakeReactor, hub: GreenHub) -> None:
    """A second send() raises; after reset() the event waits again and can be sent anew."""
    event: Event[int] = Event()
    event.send(1)
    with pytest.raises(RuntimeError):
        event.send(2)
    event.reset()
    assert not event.ready()
    got: list[int] = []
    call_in_green_thread(lambda: got.append(event.wait()))
    reactor.advance(0)
    assert got == []
    event.send(2)
    reactor.advance(0)
    assert got == [2]


# -- Queue -------------------------------------------------------------------------------------


def test_queue_is_fifo_and_counts_its_items(hub: GreenHub) -> None:
    """Items come out in the order put; qsize() and len() count them; get() with items never blocks."""
    queue: Queue[int] = Queue()
    for n in range(3):
        queue.put(n)
    assert queue.qsize() == len(queue) == 3
    assert [queue.get(), queue.wait(), queue.get(timeout=0)] == [0, 1, 2]
    assert queue.empty()


def test_queue_serves_waiting_getters_in_order(reactor: FakeReactor, hub: GreenHub) -> None:
    """Several green threads blocked in get() receive put items in the order they started waiting."""
    queue: Queue[str] = Queue()
    got: list[tuple[int, str]] = []
    for n in range(3):
        call_in_green_thread(lambda n=n: got.append((n, queue.get())))
    reactor.advance(0)
    for item in "xyz":
        queue.put(item)
    assert queue.qsize() == 0  # handed straight to the getters
    reactor.advance(0)
    assert got == [(0, "x"), (1, "y"), (2, "z")]


def test_queue_get_timeout_loses_no_item(reactor: FakeReactor, hub: GreenHub) -> None:
    """A getter that timed out raises GreenTimeout; an item put afterwards stays for the next get()."""
    queue: Queue[str] = Queue()
    outcome: list[object] = []

    def getter() -> None:
        try:
            queue.get(timeout=1)
        except GreenTimeout:
            outcome.append("timed out")

    call_in_green_thread(getter)
    reactor.advance(0)
    reactor.advance(1)
    queue.put("kept")
    assert outcome == ["timed out"]
    assert queue.qsize() == 1 and queue.get() == "kept"
    assert reactor.getDelayedCalls() == []


@pytest.mark.parametrize("put_first", [True, False])
def test_queue_item_and_timeout_in_the_same_tick_go_to_one_place(
    reactor: FakeReactor, hub: GreenHub, put_first: bool
) -> None:
    """An item put at the getter's deadline reaches the getter or stays queued, never lost or doubled."""
    queue: Queue[str] = Queue()
    outcome: list[object] = []

    def getter() -> None:
        try:
            outcome.append(queue.get(timeout=1))
        except GreenTimeout:
            outcome.append("timed out")

    if put_first:  # the put timer is due first (the fake clock keeps insertion order for ties)
        reactor.callLater(1, queue.put, "racing")
    call_in_green_thread(getter)
    reactor.advance(0)
    if not put_first:
        reactor.callLater(1, queue.put, "racing")
    reactor.advance(1)
    if put_first:
        assert outcome == ["racing"] and queue.qsize() == 0
    else:
        assert outcome == ["timed out"] and queue.get() == "racing"
    assert reactor.getDelayedCalls() == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["put", "get", "tick"]), max_size=40))
def test_queue_delivers_items_in_put_order_for_any_interleaving(operations: list[str]) -> None:
    """Whatever the interleaving of puts, getters and reactor turns, the k-th get() gets the k-th item."""
    reactor = FakeReactor()
    hub = GreenHub(reactor)
    queue: Queue[int] = Queue()
    received: dict[int, int] = {}
    puts = getters = 0
    for operation in operations:
        if operation == "put":
            queue.put(puts)
            puts += 1
        elif operation == "get":
            # Green threads start in the order requested, so getter n is the n-th to call get().
            hub.call_in_green_thread(lambda n=getters: received.__setitem__(n, queue.get()))
            getters += 1
        else:
            reactor.advance(0)
    reactor.advance(0)
    served = min(puts, getters)
    assert received == {n: n for n in range(served)}
    assert queue.qsize() == puts - served


# -- Command -----------------------------------------------------------------------------------


def test_command_carries_name_keywords_event_and_timestamp() -> None:
    """Keyword arguments become attributes; event and timestamp default to fresh values."""
    before = datetime.now(UTC)
    command = Command("connect", uri="sip:alice@example.com", port=5060)
    assert command.name == "connect"
    assert command.uri == "sip:alice@example.com" and command.port == 5060
    assert isinstance(command.event, Event) and not command.event.ready()
    assert before <= command.timestamp <= datetime.now(UTC)
    fixed = datetime(2024, 1, 1, tzinfo=UTC)
    shared = Event()
    assert Command("x", event=shared, timestamp=fixed).timestamp == fixed
    assert Command("x", event=shared).event is shared
    assert "uri='sip:alice@example.com'" in repr(command)


def test_command_keywords_may_not_hide_its_methods() -> None:
    """A keyword named like a Command method is rejected rather than silently shadowing it."""
    with pytest.raises(TypeError):
        Command("x", signal=1)


def test_command_signal_and_signal_error_reach_the_waiting_sender(
    reactor: FakeReactor, hub: GreenHub
) -> None:
    """A worker green thread answers commands from its queue; senders get results or exceptions."""
    commands: Queue[Command] = Queue()
    answers: list[object] = []

    def worker() -> None:
        while True:
            command = commands.get()
            sleep(1)
            if command.name == "add":
                command.signal(command.a + command.b)
            elif command.name == "interrupt":
                command.signal_error(InterruptCommand("stopped"))
            else:
                command.signal_error(ValueError(f"unknown command {command.name}"))
                return

    def sender(command: Command) -> None:
        commands.put(command)
        try:
            answers.append(command.wait())
        except Exception as exc:
            answers.append(type(exc))

    call_in_green_thread(worker)
    call_in_green_thread(sender, Command("add", a=2, b=3))
    call_in_green_thread(sender, Command("interrupt"))
    call_in_green_thread(sender, Command("quit"))
    reactor.advance(0)
    assert answers == []
    for _ in range(3):
        reactor.advance(1)
    assert answers == [5, InterruptCommand, ValueError]
