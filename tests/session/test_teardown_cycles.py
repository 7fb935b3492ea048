"""An ended call is freed by reference counting: no object of ours is left for the cyclic collector.

Each test runs a call between SIPEngines in this process (AudioStream on both sides, or a fake
stream whose ``session`` is weak like AudioStream's), with Python's cyclic garbage collector
disabled and ``gc.DEBUG_SAVEALL`` set. After the call ended, the
reactor ran what was pending and the engines' own timers (transaction Timer K/J, the ended-record
sweep, 64*T1 for stray 2xx) have fired, ``gc.collect()`` puts into ``gc.garbage`` exactly the
objects that only the collector could free, i.e. those kept alive by reference cycles. None of
them may be ours: Session, its streams and transfer handler, the Invitation, its dialog,
transactions and timers, or a closure or bound method of ours.

The engines' timers are reached by moving the reactor's clock forward (``SkippingLoop``) rather
than by waiting."""

from __future__ import annotations

import gc
import types
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from twisted.python.runtime import seconds as runtime_seconds

from sipsimple.core.sip.headers import ToHeader
from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup import Route
from sipsimple.session import Session
from sipsimple.streams import MediaStreamRegistryBase
from sipsimple.streams.rtp import AudioStream
from tests.streams.fake import FakeStream
from tests.support.reactor import Loop, fresh_reactor

from .focus import Focus, focus_engine

#: how far the clock is moved after a call: past 64*T1 (32 s, RFC 3261 Timers B/F/H/M) and the
#: 5 s of Timer K/J, with room for the ended-transaction records the stack keeps
AFTERMATH = 70.0


class SkippingLoop(Loop):
    """A Loop whose reactor clock can be moved forward: the timers that fall due run at once."""

    def __init__(self, reactor: Any) -> None:
        super().__init__(reactor)
        self.skipped = 0.0
        reactor.seconds = lambda: runtime_seconds() + self.skipped

    def skip(self, total: float, step: float = 0.5) -> None:
        """Move the clock ``total`` seconds forward in ``step``s, running what falls due each time."""
        moved = 0.0
        while moved < total:
            self.skipped += step
            moved += step
            self.reactor.iterate(0)


@pytest.fixture
def loop() -> Iterator[SkippingLoop]:
    """This module's reactor clock can be moved forward (the conftest engines run on it)."""
    with fresh_reactor() as reactor:
        yield SkippingLoop(reactor)


def is_ours(thing: Any) -> bool:
    """An object of the SDK: an instance of a class of ours, or a function, closure cell or bound
    method of ours (the objects of a cycle through a closure are all of builtin types, so the
    function's module is what tells it is ours)."""
    if isinstance(thing, types.MethodType):
        thing = thing.__self__
    if isinstance(thing, types.FunctionType):
        return str(thing.__module__).startswith("sipsimple.")
    if isinstance(thing, types.CellType):
        try:
            return is_ours(thing.cell_contents)
        except ValueError:  # an empty cell
            return False
    return str(getattr(type(thing), "__module__", "")).startswith("sipsimple.")


def describe(found: list[Any]) -> str:
    names = sorted(f"{type(thing).__module__}.{type(thing).__qualname__}" for thing in found)
    return "\n".join(names)


@contextmanager
def cycle_garbage() -> Iterator[list[Any]]:
    """Within the block the collector is off and saves everything it would free; on leaving,
    the list given holds the objects of ours among it. The settings are restored afterwards."""
    gc.collect()  # what earlier tests left is not this call's
    enabled, debug = gc.isenabled(), gc.get_debug()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    ours: list[Any] = []
    try:
        yield ours
        gc.collect()
        ours.extend(thing for thing in gc.garbage if is_ours(thing))
    finally:
        gc.garbage.clear()
        gc.set_debug(debug)
        if enabled:
            gc.enable()


def audio_call(loop: SkippingLoop, alice: Any, bob_engine: Any, manager: Any, sides: Any) -> tuple[Any, Any]:
    """alice's AudioStream call to bob over UDP, up to bob's session in 'incoming' with its stream
    wired to bob's mixer."""
    caller_side, callee_side = sides
    ours = AudioStream(mixer=caller_side.mixer, bridge=caller_side.bridge, codecs=["PCMU"])
    caller = Session(alice)
    route = Route("127.0.0.1", bob_engine.local_address("udp").port, "udp")
    caller.connect(ToHeader(SIPURI("example.test", user="bob")), [route], [ours])
    loop.run_until(lambda: manager.sessions and manager.sessions[0].state == "incoming", what="the call")
    callee = manager.sessions[0]
    (theirs,) = callee.proposed_streams
    theirs.mixer, theirs.bridge = callee_side.mixer, callee_side.bridge
    return caller, callee


def connected(loop: SkippingLoop, alice: Any, bob_engine: Any, manager: Any, sides: Any) -> tuple[Any, Any]:
    caller, callee = audio_call(loop, alice, bob_engine, manager, sides)
    callee.accept(callee.proposed_streams)
    loop.run_until(lambda: caller.state == "connected" and callee.state == "connected", what="both connected")
    return caller, callee


def settle(loop: SkippingLoop, *sessions: Any) -> None:
    """The sessions terminated, then every timer of the engines that this call started ran."""
    loop.run_until(lambda: all(s.state == "terminated" for s in sessions), what="both sessions terminated")
    loop.turn()
    loop.skip(AFTERMATH)


def end_a_connected_call(loop, alice, bob_engine, manager, sides, by: str) -> list[weakref.ref[Any]]:
    """Weak references to what the call was made of: once the caller drops its own references,
    each must be dead without the collector's help."""
    caller, callee = connected(loop, alice, bob_engine, manager, sides)
    parts = [caller, callee, caller._invitation, callee._invitation, *caller.streams, *callee.streams]
    (caller if by == "caller" else callee).end()
    settle(loop, caller, callee)
    assert manager._sessions == {}
    return [weakref.ref(part) for part in parts]


def test_a_call_ended_by_the_caller_leaves_no_cycle_on_either_side(
    loop, alice, bob_engine, audio_manager, sides
):
    """The calling side's end() (BYE out) and the answering side's BYE from the peer."""
    with cycle_garbage() as ours:
        parts = end_a_connected_call(loop, alice, bob_engine, audio_manager, sides, by="caller")
        alive = [ref() for ref in parts if ref() is not None]  # freed by reference counting alone
        assert alive == [], alive
    assert ours == [], describe(ours)


def test_a_call_ended_by_the_callee_leaves_no_cycle_on_either_side(
    loop, alice, bob_engine, audio_manager, sides
):
    """The answering side's end() and the calling side's BYE from the peer."""
    with cycle_garbage() as ours:
        parts = end_a_connected_call(loop, alice, bob_engine, audio_manager, sides, by="callee")
        alive = [ref() for ref in parts if ref() is not None]  # freed by reference counting alone
        assert alive == [], alive
    assert ours == [], describe(ours)


def reject_a_call(loop, alice, bob_engine, manager, sides) -> None:
    caller, callee = audio_call(loop, alice, bob_engine, manager, sides)
    callee.reject(486)
    settle(loop, caller, callee)
    assert caller.start_time is None and callee.start_time is None


def test_a_rejected_call_leaves_no_cycle_on_either_side(loop, alice, bob_engine, audio_manager, sides):
    """bob answers 486 to the INVITE: both sessions fail without having started."""
    with cycle_garbage() as ours:
        reject_a_call(loop, alice, bob_engine, audio_manager, sides)
    assert ours == [], describe(ours)


def cancel_a_ringing_call(loop, alice, bob_engine, manager, sides) -> None:
    caller, callee = audio_call(loop, alice, bob_engine, manager, sides)
    callee.send_ring_indication()
    loop.run_until(lambda: caller._invitation.state == "early", what="the 180")
    caller.end()
    settle(loop, caller, callee)


def test_a_call_cancelled_before_the_answer_leaves_no_cycle_on_either_side(
    loop, alice, bob_engine, audio_manager, sides
):
    """alice ends the ringing call (CANCEL, 487): both sessions fail before an answer."""
    with cycle_garbage() as ours:
        cancel_a_ringing_call(loop, alice, bob_engine, audio_manager, sides)
    assert ours == [], describe(ours)


def call_with_no_common_codec(loop, alice, bob_engine, manager, caller_side) -> None:
    stream = AudioStream(mixer=caller_side.mixer, bridge=caller_side.bridge, codecs=["PCMU"])
    caller = Session(alice)
    route = Route("127.0.0.1", bob_engine.local_address("udp").port, "udp")
    caller.connect(ToHeader(SIPURI("example.test", user="bob")), [route], [stream])
    loop.run_until(lambda: caller.state == "terminated", what="the 488")
    settle(loop, caller)
    assert manager._sessions == {}


def test_a_call_refused_for_its_media_leaves_no_cycle(loop, alice, bob, bob_engine, audio_manager, sides):
    """bob has no codec in common: the SessionManager answers 488 without a Session, the caller's
    session fails with its stream initialised."""
    bob.rtp = types.SimpleNamespace(audio_codec_list=["PCMA"], encryption=None)
    with cycle_garbage() as ours:
        call_with_no_common_codec(loop, alice, bob_engine, audio_manager, sides[0])
    assert ours == [], describe(ours)


def hold_resume_and_end(loop, alice, bob_engine, manager, sides) -> None:
    caller, callee = connected(loop, alice, bob_engine, manager, sides)
    caller.hold()
    loop.run_until(lambda: caller.on_hold and callee.on_hold and caller.state == "connected", what="the hold")
    caller.unhold()
    loop.run_until(lambda: not callee.on_hold and caller.state == "connected", what="the resume")
    caller.end()
    settle(loop, caller, callee)


def test_a_call_held_and_resumed_before_its_end_leaves_no_cycle(
    loop, alice, bob_engine, audio_manager, sides
):
    """Two re-INVITEs (hold, resume) in the dialog before the BYE: their requests go too."""
    with cycle_garbage() as ours:
        hold_resume_and_end(loop, alice, bob_engine, audio_manager, sides)
    assert ours == [], describe(ours)


# -- a call to a conference focus --------------------------------------------------------------


@pytest.fixture
def conf_engine(loop: SkippingLoop) -> Iterator[Any]:
    engine = focus_engine(loop)
    yield engine
    loop.wait(engine.stop())


@pytest.fixture
def focus(conf_engine: Any, registry: MediaStreamRegistryBase) -> Focus:
    return Focus(conf_engine, registry)


@pytest.fixture
def registry() -> MediaStreamRegistryBase:
    """The focus's SessionManager answers with the weak fake stream."""
    registry = MediaStreamRegistryBase()
    registry.add(FakeStream)
    return registry


def join_and_leave_a_conference(loop, alice, focus) -> None:
    session = Session(alice)
    route = Route("127.0.0.1", focus.engine.local_address("udp").port, "udp")
    session.connect(ToHeader(SIPURI("example.test", user="conf")), [route], [FakeStream()])
    loop.run_until(lambda: session.state == "connected", what="the call to the focus")
    handler = session.conference
    loop.run_until(lambda: handler.conference_info is not None, what="the conference state")
    session.end()
    settle(loop, session)
    assert handler.subscription is None and handler.session is session


def test_a_call_to_a_conference_focus_leaves_no_cycle(loop, alice, focus):
    """The ConferenceHandler (session.conference) subscribed to the conference event; after the
    end its subscription is over and it lets go of the session."""
    with cycle_garbage() as ours:
        join_and_leave_a_conference(loop, alice, focus)
    assert ours == [], describe(ours)


# -- proposals: a stream added, then removed ---------------------------------------------------


def add_remove_and_end(loop, alice, bob_engine, bob_manager) -> None:
    caller = Session(alice)
    route = Route("127.0.0.1", bob_engine.local_address("udp").port, "udp")
    caller.connect(ToHeader(SIPURI("example.test", user="bob")), [route], [FakeStream()])
    loop.run_until(
        lambda: bob_manager.sessions and bob_manager.sessions[0].state == "incoming", what="the call"
    )
    callee = bob_manager.sessions[0]
    callee.accept(callee.proposed_streams)
    loop.run_until(lambda: caller.state == "connected" and callee.state == "connected", what="both connected")
    extra = FakeStream()
    caller.add_stream(extra)
    loop.run_until(lambda: callee.state == "received_proposal", what="the proposal")
    callee.accept_proposal(callee.proposed_streams)
    loop.run_until(lambda: len(caller.streams) == 2 and callee.state == "connected", what="the stream added")
    caller.remove_stream(extra)
    loop.run_until(
        lambda: len(callee.streams) == 1 and caller.state == "connected", what="the stream removed"
    )
    callee.end()
    settle(loop, caller, callee)


def test_a_call_that_added_and_removed_a_stream_leaves_no_cycle(loop, alice, bob_engine, bob_manager):
    """Two re-INVITEs made by the Session's proposals (add, then remove a stream) before the end."""
    with cycle_garbage() as ours:
        add_remove_and_end(loop, alice, bob_engine, bob_manager)
    assert ours == [], describe(ours)


# -- a blind transfer ---------------------------------------------------------------------------


def answered(loop, caller, manager, known=()):
    """The manager's new incoming session (not in ``known``), accepted, once both are connected."""

    def incoming() -> Any:
        return next((s for s in manager.sessions if s.state == "incoming" and s not in known), None)

    loop.run_until(incoming, what="an incoming session")
    callee = incoming()
    callee.accept(callee.proposed_streams)
    loop.run_until(lambda: caller.state == "connected" and callee.state == "connected", what="both connected")
    return callee


def transfer_and_end(loop, alice, bob_engine, bob_manager, carol_engine, carol_manager) -> None:
    a_b = Session(alice)
    route = Route("127.0.0.1", bob_engine.local_address("udp").port, "udp")
    a_b.connect(ToHeader(SIPURI("example.test", user="bob")), [route], [FakeStream()])
    b_a = answered(loop, a_b, bob_manager)
    b_a.transfer(SIPURI("127.0.0.1", user="carol", port=carol_engine.local_address("udp").port))
    loop.run_until(lambda: a_b.transfer_handler._incoming is not None, what="the REFER")
    a_b.accept_transfer()
    a_c = a_b.transfer_handler.new_session
    c_a = answered(loop, a_c, carol_manager)
    loop.run_until(lambda: a_b.state == "terminated" and b_a.state == "terminated", what="alice-bob ended")
    a_c.end()
    settle(loop, a_b, b_a, a_c, c_a)


def test_a_blind_transfer_leaves_no_cycle(loop, alice, bob_engine, bob_manager, carol_engine, carol_manager):
    """bob transfers alice to carol (REFER, NOTIFYs, the new call), then alice and carol hang up:
    neither the TransferHandlers nor the sessions they served are left to the collector."""
    with cycle_garbage() as ours:
        transfer_and_end(loop, alice, bob_engine, bob_manager, carol_engine, carol_manager)
    assert ours == [], describe(ours)


# -- a session timer refresh (RFC 4028) --------------------------------------------------------


def refreshed(invitation: Any) -> bool:
    """The invitation's session timer was set again by a refresh, 901 s into the call: the
    refresher's next refresh is 900 s away, the other side's expiry 1768 s (867 s before it)."""
    timers = invitation._timers
    refresh, expiry = timers.remaining("session-refresh"), timers.remaining("session-expiry")
    return (refresh is not None and refresh > 800) or (expiry is not None and expiry > 1000)


def refresh_and_end(loop, alice, bob_engine, manager, sides) -> None:
    caller, callee = connected(loop, alice, bob_engine, manager, sides)
    invitations = (caller._invitation, callee._invitation)
    assert caller._invitation.session_expires == 1800
    loop.skip(901, step=10)  # the refresher's refresh falls due at half the interval
    loop.run_until(lambda: all(refreshed(i) for i in invitations), what="the session refresh")
    caller.end()
    settle(loop, caller, callee)


def test_a_call_refreshed_by_its_session_timer_leaves_no_cycle(loop, alice, bob_engine, audio_manager, sides):
    """The refresher's UPDATE (or re-INVITE) at half the session interval, then the end."""
    with cycle_garbage() as ours:
        refresh_and_end(loop, alice, bob_engine, audio_manager, sides)
    assert ours == [], describe(ours)
