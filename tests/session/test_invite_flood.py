"""An INVITE flood: 1,000 calls in bounded bursts against a SessionManager, written as raw UDP
datagrams by the test (unique Call-IDs, a PCMU offer each).

Once the manager answers every call with an AudioStream (a real RTPTransport and AudioTransport in
a mixer on the null devices) and the test hangs them all up with BYE; once nobody answers and the
calls end by CANCEL from the caller, by ``Session.end()`` (603) and by ``SessionManager.stop()``.
Afterwards every Session is terminated and collected, the manager lists none, the engine holds no
transaction, dialog or stray handler once the transaction timers ran, no file descriptor is left
open, and the memory traced across the last bursts stays bounded.

The engine's reactor clock is shifted forward by the test (``ShiftedClock``) to let the transaction
timers (Timer J, 64*T1, and friends) run out without waiting for them.
"""

from __future__ import annotations

import gc
import os
import socket
import tracemalloc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from twisted.python.runtime import seconds as runtime_seconds

from sipsimple.core.engine import SIPEngine
from sipsimple.core.media._mixer import AudioMixer
from sipsimple.core.primitives.invitation._base import _DIALOGS
from sipsimple.notification import Notification, NotificationCenter
from sipsimple.session import SessionManagerBase
from sipsimple.streams import MediaStreamRegistryBase
from sipsimple.streams.rtp import AudioStream
from tests.session.test_bad_input import RawMessage, RawPeer, pcmu_offer
from tests.support.accounts import Accounts, StandInAccount
from tests.support.reactor import Loop, fresh_reactor

CALLS = 1000
BURST = 50  # INVITEs sent before the test waits for their outcome
BURST_WAIT = 20.0  # seconds: the most one burst may take on a loaded 2-core machine
MEMORY_BOUND = 1_500_000  # bytes the traced memory may grow between the early and the last bursts

pytestmark = pytest.mark.slow


class ShiftedClock:
    """The reactor's clock plus an offset the test moves forward (``advance``)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return runtime_seconds() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class Tally:
    """Counts the sessions the manager announced and keeps weak references to them."""

    def __init__(self) -> None:
        self.sessions: list[weakref.ref[Any]] = []
        self.incoming: list[Any] = []  # not yet handled by the test (strong, until handled)
        self.names: dict[str, int] = {}

    def handle_notification(self, notification: Notification) -> None:
        self.names[notification.name] = self.names.get(notification.name, 0) + 1
        if notification.name == "SIPSessionNewIncoming":
            self.sessions.append(weakref.ref(notification.sender))
            self.incoming.append(notification.sender)

    def live(self) -> list[Any]:
        return [s for s in (ref() for ref in self.sessions) if s is not None]


class Flood:
    """The callee side (engine, manager, mixer) and the raw caller."""

    def __init__(self, loop: Loop, engine: SIPEngine, manager: SessionManagerBase, mixer: AudioMixer) -> None:
        self.loop = loop
        self.engine = engine
        self.manager = manager
        self.mixer = mixer
        self.port = engine.local_address("udp").port
        self.raw = RawPeer(loop)
        self.rtp_sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rtp_sink.bind(("127.0.0.1", 0))
        self.tally = Tally()
        NotificationCenter().add_observer(self.tally, name="SIPSessionNewIncoming")
        NotificationCenter().add_observer(self.tally, name="SIPSessionDidStart")
        NotificationCenter().add_observer(self.tally, name="SIPSessionDidEnd")
        NotificationCenter().add_observer(self.tally, name="SIPSessionDidFail")

    def close(self) -> None:
        self.raw.close()
        self.rtp_sink.close()

    def invite_burst(self, count: int) -> list[dict[str, str]]:
        offer = pcmu_offer(self.rtp_sink.getsockname()[1])
        return [self.raw.invite(self.port, offer) for _ in range(count)]

    def responses(self, calls: list[dict[str, str]], method: str, wanted: Any) -> dict[str, RawMessage]:
        """Turn the reactor until each call got a response to ``method`` that ``wanted(code)``."""
        ids = {c["call_id"] for c in calls}
        found: dict[str, RawMessage] = {}

        def complete() -> bool:
            self.raw.drain()
            kept = []
            for message in self.raw.inbox:
                if message.is_request or message.code < 200 or message.get("call-id") not in ids:
                    continue  # provisional responses, and what belongs to earlier bursts
                if message.method == method and wanted(message.code):
                    found.setdefault(message.get("call-id"), message)
                else:
                    kept.append(message)  # another response of this burst, for a later wait
            self.raw.inbox[:] = kept
            return len(found) == len(ids)

        self.loop.run_until(complete, BURST_WAIT, what=f"{len(ids)} responses to {method}")
        return found

    def take_incoming(self, count: int) -> list[Any]:
        self.loop.run_until(lambda: len(self.tally.incoming) >= count, BURST_WAIT, what=f"{count} sessions")
        taken, self.tally.incoming = self.tally.incoming[:count], self.tally.incoming[count:]
        return taken

    def answer(self, sessions: list[Any]) -> None:
        for session in sessions:
            (stream,) = session.proposed_streams
            stream.mixer = self.mixer
            session.accept([stream])

    def settle(self) -> None:
        """Let the transaction timers run out (64*T1 and T4 are far below 200 s)."""
        for _ in range(3):
            self.engine.reactor.seconds.advance(100.0)  # type: ignore[attr-defined]
            self.loop.turn(10)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def leftovers(flood: Flood) -> dict[str, Any]:
    engine = flood.engine
    return {
        "transactions": engine.stack.transaction_count,
        "dialog handlers": len(engine._dialog_handlers),
        "stray handlers": len(engine._stray_handlers),
        "cancel handlers": len(engine._cancel_handlers),
        "invitations": len([key for key in _DIALOGS if key[0] == id(engine)]),
        "sessions": len(flood.manager.sessions) + len(flood.manager._sessions),
        "mixer slots": flood.mixer.used_slot_count,
    }


CLEAN = {
    "transactions": 0, "dialog handlers": 0, "stray handlers": 0, "cancel handlers": 0, "invitations": 0,
    "sessions": 0, "mixer slots": 0,
}  # fmt: skip


@pytest.fixture
def flood(memory_configuration) -> Iterator[Flood]:
    with fresh_reactor() as reactor:
        reactor.seconds = ShiftedClock()  # type: ignore[method-assign]
        loop = Loop(reactor)
        engine = SIPEngine(reactor=reactor)
        engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=None)
        bob = StandInAccount("bob", engine)
        registry = MediaStreamRegistryBase()
        registry.add(AudioStream)
        manager = SessionManagerBase(engine=engine, account_manager=Accounts(bob), registry=registry)
        manager.start()
        mixer = AudioMixer(None, None, 8000, 0, event_queue=engine.media_event_queue)
        mixer.start()
        made = Flood(loop, engine, manager, mixer)
        try:
            yield made
        finally:
            made.close()
            manager.stop()
            mixer.stop()
            loop.wait(engine.stop())


def answered_round(flood: Flood, count: int) -> None:
    """``count`` INVITEs, each answered 200 with an AudioStream, ACKed, then hung up with BYE."""
    calls = flood.invite_burst(count)
    sessions = flood.take_incoming(count)
    flood.answer(sessions)
    oks = flood.responses(calls, "INVITE", lambda code: code == 200)
    for call in calls:
        flood.raw.ack(call, oks[call["call_id"]])
    flood.loop.run_until(lambda: all(s.state == "connected" for s in sessions), BURST_WAIT, what="connected")
    assert all(s.streams[0].srtp_active is False and s.streams[0].codec == "PCMU" for s in sessions)
    for call in calls:
        flood.raw.bye(call)
    flood.responses(calls, "BYE", lambda code: code == 200)
    flood.loop.run_until(lambda: all(s.state == "terminated" for s in sessions), BURST_WAIT, what="ended")


def unanswered_round(flood: Flood, count: int) -> None:
    """``count`` INVITEs nobody answers: half are CANCELled by the caller, half ended by the
    application (603); every final response is ACKed."""
    calls = flood.invite_burst(count)
    sessions = flood.take_incoming(count)
    by_call = {s._invitation.call_id: s for s in sessions}
    half = count // 2
    for call in calls[:half]:
        flood.raw.cancel(call)
    flood.responses(calls[:half], "CANCEL", lambda code: code == 200)
    for call in calls[half:]:
        by_call[call["call_id"]].end()
    finals = flood.responses(calls, "INVITE", lambda code: code >= 300)
    for call in calls:
        flood.raw.ack(call, finals[call["call_id"]])
    assert {finals[c["call_id"]].code for c in calls[:half]} == {487}
    assert {finals[c["call_id"]].code for c in calls[half:]} == {603}
    flood.loop.run_until(lambda: all(s.state == "terminated" for s in sessions), BURST_WAIT, what="ended")


def run_flood(flood: Flood, one_round: Any) -> None:
    one_round(flood, 2)  # warm-up: the RTP I/O thread, the codec tables, the parsers' caches
    flood.settle()
    gc.collect()
    fds = open_fds()
    tracemalloc.start()
    try:
        early = None
        for done in range(0, CALLS, BURST):
            one_round(flood, BURST)
            if done == 3 * BURST:  # a few bursts in: every cache and free list has grown
                flood.settle()
                gc.collect()
                early = tracemalloc.get_traced_memory()[0]
        flood.settle()
        gc.collect()
        late = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert leftovers(flood) == CLEAN
    assert open_fds() == fds, "file descriptors leaked"
    assert flood.tally.live() == [], "sessions are still referenced after they ended"
    assert early is not None
    assert late - early < MEMORY_BOUND, f"traced memory grew by {late - early} bytes over the last bursts"


def test_a_thousand_answered_calls_hung_up_by_bye_leave_nothing_behind(flood):
    run_flood(flood, answered_round)
    names = flood.tally.names
    assert (
        names["SIPSessionNewIncoming"]
        == names["SIPSessionDidStart"]
        == names["SIPSessionDidEnd"]
        == CALLS + 2
    )
    assert "SIPSessionDidFail" not in names
    assert flood.engine.is_running


def test_a_thousand_unanswered_calls_cancelled_or_ended_leave_nothing_behind(flood):
    run_flood(flood, unanswered_round)
    names = flood.tally.names
    assert names["SIPSessionNewIncoming"] == names["SIPSessionDidFail"] == CALLS + 2
    assert "SIPSessionDidStart" not in names


def test_calls_nobody_answered_are_ended_by_the_manager_s_stop(flood):
    calls = flood.invite_burst(BURST)
    sessions = flood.take_incoming(BURST)
    flood.manager.stop()
    finals = flood.responses(calls, "INVITE", lambda code: code >= 300)
    for call in calls:
        flood.raw.ack(call, finals[call["call_id"]])
    assert {message.code for message in finals.values()} == {603}
    flood.loop.run_until(lambda: all(s.state == "terminated" for s in sessions), BURST_WAIT, what="ended")
    sessions.clear()  # the test's own references
    flood.settle()
    gc.collect()
    assert leftovers(flood) == CLEAN
    assert flood.tally.live() == []
