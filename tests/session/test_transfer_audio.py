"""A blind transfer with real AudioStreams: alice calls bob, bob transfers alice to carol, and the
call alice's SIPSimple makes to carol carries alice's tone (mixers on the null devices, each side
with its own bridge and a looping tone; what carol hears is measured in her recording)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sipsimple.core.engine import SIPEngine
from sipsimple.core.sip.headers import ToHeader
from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup import Route
from sipsimple.session import Session, SessionManagerBase
from sipsimple.streams import MediaStreamRegistryBase
from sipsimple.streams.rtp import AudioStream
from tests.session.conftest import Accounts, StandInAccount
from tests.streams.test_audio_stream import TONE_CALLEE, TONE_CALLER, Side, run_media, tone_levels


@pytest.fixture
def audio_registry() -> MediaStreamRegistryBase:
    registry = MediaStreamRegistryBase()
    registry.add(AudioStream)
    return registry


def _manager(
    engine: SIPEngine, account: StandInAccount, registry: MediaStreamRegistryBase
) -> SessionManagerBase:
    manager = SessionManagerBase(engine=engine, account_manager=Accounts(account), registry=registry)
    manager.start()
    return manager


@pytest.fixture
def sides(alice_engine, bob_engine, carol_engine, tmp_path) -> Iterator[dict[str, Side]]:
    made = {
        "alice": Side(alice_engine, TONE_CALLER, tmp_path, "alice"),
        "bob": Side(bob_engine, TONE_CALLEE, tmp_path, "bob"),
        "carol": Side(carol_engine, TONE_CALLEE, tmp_path, "carol"),
    }
    yield made
    for side in made.values():
        side.close()


def named(recorder: Any, name: str, sender: object) -> list[Any]:
    return [n.data for n in recorder.named(name) if n.sender is sender]


def incoming(loop, manager) -> Session:
    loop.run_until(lambda: [s for s in manager.sessions if s.state == "incoming"], what="an incoming call")
    return next(s for s in manager.sessions if s.state == "incoming")


def accept_with(session: Session, side: Side) -> AudioStream:
    (stream,) = session.proposed_streams
    stream.mixer, stream.bridge = side.mixer, side.bridge
    session.accept([stream])
    return stream


def test_a_blind_transfer_with_audio_streams_brings_alice_s_audio_to_carol(
    loop, alice, bob_engine, bob, carol_engine, carol, audio_registry, sides, memory_configuration, recorder,
    tmp_path,
):  # fmt: skip
    bob_manager = _manager(bob_engine, bob, audio_registry)
    carol_manager = _manager(carol_engine, carol, audio_registry)
    ours = AudioStream(mixer=sides["alice"].mixer, bridge=sides["alice"].bridge, codecs=["PCMU", "PCMA"])
    a_b = Session(alice)
    route = Route("127.0.0.1", bob_engine.local_address("udp").port, "udp")
    a_b.connect(ToHeader(SIPURI("example.test", user="bob")), [route], [ours])
    b_a = incoming(loop, bob_manager)
    accept_with(b_a, sides["bob"])
    loop.run_until(lambda: a_b.state == "connected" and b_a.state == "connected", what="alice-bob up")

    b_a.transfer(SIPURI("127.0.0.1", user="carol", port=carol_engine.local_address("udp").port))
    loop.run_until(lambda: named(recorder, "SIPSessionTransferNewIncoming", a_b), what="the REFER")
    a_b.accept_transfer()
    a_c = a_b.transfer_handler.new_session
    (new_stream,) = a_c.proposed_streams
    assert type(new_stream) is AudioStream and new_stream is not ours
    assert (new_stream.mixer, new_stream.bridge, new_stream.codecs) == (
        ours.mixer,
        ours.bridge,
        ["PCMU", "PCMA"],
    )
    c_a = incoming(loop, carol_manager)
    theirs = accept_with(c_a, sides["carol"])
    loop.run_until(lambda: a_c.state == "connected" and c_a.state == "connected", what="alice-carol up")
    loop.run_until(lambda: a_b.state == "terminated" and b_a.state == "terminated", what="alice-bob ended")
    assert named(recorder, "SIPSessionTransferDidEnd", b_a) and named(
        recorder, "SIPSessionTransferDidEnd", a_b
    )
    assert ours._ended and not new_stream._ended  # the old stream ended with its session

    path = tmp_path / "carol.wav"
    theirs.start_recording(path)
    run_media(loop, (sides["alice"], sides["carol"]), 1.0)
    theirs.stop_recording()
    heard, _own = tone_levels(path)
    assert heard > 1000, f"carol does not hear alice's tone after the transfer (level {heard:.0f})"
    assert new_stream.codec == "PCMU" and theirs.statistics["rx"]["packets"] > 25

    a_c.end()
    loop.run_until(lambda: c_a.state == "terminated", what="the end of alice-carol")
