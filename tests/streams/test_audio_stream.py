"""AudioStream (sipsimple.streams.rtp): the interfaces, and real calls between two SIPEngines on
loopback through Session and SessionManager with an AudioStream on each side.

Each side has its own AudioMixer on the null sound devices (driven by the mixer's clock thread)
and its own AudioBridge, injected into the stream; the caller's bridge also holds a WavePlayer
looping a 1000 Hz tone, the callee's one looping 600 Hz. What a side hears is what its stream's
recording (start_recording: a WaveRecorder in the bridge) wrote, measured with Goertzel. Waits
turn the reactor until a condition holds or a bound passes; mixer time is read from the mixers'
tick counters (50 ticks a second).
"""

from __future__ import annotations

import socket
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from zope.interface.verify import verifyClass, verifyObject

from sipsimple.audio import AudioBridge, IAudioPort, WavePlayer
from sipsimple.core.engine import SIPEngine
from sipsimple.core.media._mixer import AudioMixer
from sipsimple.core.sip.headers import ToHeader
from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup import Route
from sipsimple.session import Session, SessionManagerBase
from sipsimple.streams import (
    IMediaStream,
    InvalidStreamError,
    MediaStreamRegistry,
    MediaStreamRegistryBase,
    UnknownStreamError,
)
from sipsimple.streams.rtp import AudioStream
from tests.core.media.mixer_signals import goertzel, pcm, samples, sine
from tests.support.accounts import Accounts, StandInAccount
from tests.support.reactor import Loop, fresh_reactor

RATE = 16000
TONE_CALLER, TONE_CALLEE = 1000.0, 600.0
MEDIA_WAIT = 5.0  # seconds: the bound for audio and DTMF to cross the loopback


class Side:
    """A mixer on the null devices, a bridge, and a WavePlayer looping a tone in the bridge."""

    def __init__(self, engine: SIPEngine, tone: float, tmp_path: Any, name: str) -> None:
        self.mixer = AudioMixer(None, None, RATE, 0, event_queue=engine.media_event_queue)
        self.bridge = AudioBridge(self.mixer)
        path = tmp_path / f"{name}-tone.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(pcm(sine(RATE, 1.0, tone, 8000)))
        self.player = WavePlayer(self.mixer, str(path), loop_count=0)
        self.mixer.start()
        self.player.start()
        self.bridge.add(self.player)

    def ticks(self) -> int:
        return int(self.mixer.statistics["clock_ticks"])

    def close(self) -> None:
        self.player.stop()
        self.mixer.stop()


@pytest.fixture
def loop() -> Iterator[Loop]:
    with fresh_reactor() as reactor:
        yield Loop(reactor)


def _engine(loop: Loop) -> Iterator[SIPEngine]:
    engine = SIPEngine(reactor=loop.reactor)
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=0)
    yield engine
    loop.wait(engine.stop())


@pytest.fixture
def alice_engine(loop: Loop) -> Iterator[SIPEngine]:
    yield from _engine(loop)


@pytest.fixture
def bob_engine(loop: Loop) -> Iterator[SIPEngine]:
    yield from _engine(loop)


@pytest.fixture
def alice(alice_engine: SIPEngine) -> StandInAccount:
    return StandInAccount("alice", alice_engine)


@pytest.fixture
def bob(bob_engine: SIPEngine) -> StandInAccount:
    return StandInAccount("bob", bob_engine)


@pytest.fixture
def bob_manager(bob_engine: SIPEngine, bob: StandInAccount, memory_configuration: Any) -> SessionManagerBase:
    registry = MediaStreamRegistryBase()
    registry.add(AudioStream)
    manager = SessionManagerBase(engine=bob_engine, account_manager=Accounts(bob), registry=registry)
    manager.start()
    return manager


@contextmanager
def both_sides(alice_engine: SIPEngine, bob_engine: SIPEngine, tmp_path: Any) -> Iterator[tuple[Side, Side]]:
    """The audio endpoints of alice (caller tone) and bob (callee tone), closed afterwards."""
    made = (
        Side(alice_engine, TONE_CALLER, tmp_path, "alice"),
        Side(bob_engine, TONE_CALLEE, tmp_path, "bob"),
    )
    try:
        yield made
    finally:
        for side in made:
            side.close()


@pytest.fixture
def sides(alice_engine: SIPEngine, bob_engine: SIPEngine, tmp_path: Any) -> Iterator[tuple[Side, Side]]:
    with both_sides(alice_engine, bob_engine, tmp_path) as made:
        yield made


def named(recorder: Any, name: str, sender: object) -> list[Any]:
    return [n.data for n in recorder.named(name, sender)]


def call(alice: StandInAccount, bob_engine: SIPEngine, stream: AudioStream) -> Session:
    session = Session(alice)
    route = Route("127.0.0.1", bob_engine.local_address("udp").port, "udp")
    session.connect(ToHeader(SIPURI("example.test", user="bob")), [route], [stream])
    return session


def connected_call(loop, alice, bob_engine, bob_manager, sides, **caller_options):
    """Alice calls Bob with an AudioStream, Bob accepts with the AudioStream the manager made."""
    caller_side, callee_side = sides
    # a short codec list keeps the INVITE under the UDP size limit (RFC 3261 §18.1.1: a larger one
    # moves to TCP, on a port the loopback route does not name)
    caller_options.setdefault("codecs", ["PCMU", "PCMA"])
    caller_stream = AudioStream(mixer=caller_side.mixer, bridge=caller_side.bridge, **caller_options)
    caller = call(alice, bob_engine, caller_stream)
    loop.run_until(
        lambda: bob_manager.sessions and bob_manager.sessions[0].state == "incoming", what="the incoming call"
    )
    callee = bob_manager.sessions[0]
    (callee_stream,) = callee.proposed_streams
    callee_stream.mixer, callee_stream.bridge = callee_side.mixer, callee_side.bridge
    callee.accept([callee_stream])
    loop.run_until(lambda: caller.state == "connected" and callee.state == "connected", what="both connected")
    return caller, callee, caller_stream, callee_stream


def run_media(loop: Loop, sides: tuple[Side, Side], seconds: float) -> None:
    """Turn the reactor until both mixers have produced ``seconds`` more audio."""
    targets = [(side, side.ticks() + round(seconds * 50)) for side in sides]
    loop.run_until(
        lambda: all(side.ticks() >= target for side, target in targets), MEDIA_WAIT, what="mixer time"
    )


def tone_levels(path: Any, seconds: float = 0.5) -> tuple[float, float]:
    """(1000 Hz, 600 Hz) levels over the last ``seconds`` of a WAV file."""
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (RATE, 1)
        heard = samples(wav.readframes(wav.getnframes()))
    tail = heard[-round(seconds * RATE) :]
    assert len(tail) == round(seconds * RATE), "the recording is shorter than the measured window"
    return goertzel(tail, RATE, TONE_CALLER), goertzel(tail, RATE, TONE_CALLEE)


def udp_port_is_free(port: int) -> bool:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind(("127.0.0.1", port))
    except OSError:
        return False
    finally:
        probe.close()
    return True


# -- interfaces and registration ---------------------------------------------------------------------


def test_audio_stream_implements_imediastream_and_iaudioport_and_is_registered():
    assert verifyClass(IMediaStream, AudioStream)
    assert verifyClass(IAudioPort, AudioStream)
    stream = AudioStream()
    assert verifyObject(IMediaStream, stream) and verifyObject(IAudioPort, stream)
    assert (AudioStream.type, AudioStream.priority) == ("audio", 1)
    assert AudioStream in MediaStreamRegistry()
    assert (stream.consumer_slot, stream.producer_slot, stream.codec, stream.on_hold) == (
        None,
        None,
        None,
        False,
    )


def test_new_from_sdp_refuses_other_media_and_audio_without_a_common_codec():
    from sipsimple.core.sdp import SDPAttribute, SDPConnection, SDPMediaStream, SDPSession

    def offer(media: str, transport: str, fmt: str, rtpmap: str) -> SDPSession:
        line = SDPMediaStream(
            media, 4000, transport, formats=[fmt], attributes=[SDPAttribute("rtpmap", rtpmap)]
        )
        return SDPSession("127.0.0.1", connection=SDPConnection("127.0.0.1"), media=[line])

    with pytest.raises(UnknownStreamError):
        AudioStream.new_from_sdp(None, offer("video", "RTP/AVP", "96", "96 VP8/90000"), 0)
    with pytest.raises(InvalidStreamError):
        AudioStream.new_from_sdp(None, offer("audio", "RTP/AVP", "96", "96 NOSUCHCODEC/8000"), 0)
    account = SimpleNamespace(rtp=SimpleNamespace(audio_codec_list=["PCMA"], encryption=None))
    with pytest.raises(InvalidStreamError, match="no common audio codec"):
        AudioStream.new_from_sdp(account, offer("audio", "RTP/AVP", "0", "0 PCMU/8000"), 0)
    stream = AudioStream.new_from_sdp(None, offer("audio", "RTP/AVP", "0", "0 PCMU/8000"), 0)
    assert isinstance(stream, AudioStream)


def test_new_from_sdp_refuses_an_srtp_offer_the_account_s_key_negotiation_cannot_take():
    """baresip with ``mediaenc=srtp-mand`` calling an account without encryption: the offer is
    refused here (the SessionManager answers 488) instead of failing later when the answer is
    written; with SDES enabled the same offer makes a stream."""
    from sipsimple.core.sdp import SDPAttribute, SDPConnection, SDPMediaStream, SDPSession

    key = "inline:" + "A" * 40
    line = SDPMediaStream(
        "audio", 4000, "RTP/SAVP", formats=["0"],
        attributes=[SDPAttribute("rtpmap", "0 PCMU/8000"), SDPAttribute("crypto", f"1 AES_CM_128_HMAC_SHA1_80 {key}")],
    )  # fmt: skip
    offer = SDPSession("127.0.0.1", connection=SDPConnection("127.0.0.1"), media=[line])

    def account(enabled: bool) -> SimpleNamespace:
        encryption = SimpleNamespace(enabled=enabled, key_negotiation="sdes_optional")
        return SimpleNamespace(rtp=SimpleNamespace(audio_codec_list=None, encryption=encryption))

    with pytest.raises(InvalidStreamError, match="encryption is disabled"):
        AudioStream.new_from_sdp(account(False), offer, 0)
    assert isinstance(AudioStream.new_from_sdp(account(True), offer, 0), AudioStream)


# -- calls on loopback -------------------------------------------------------------------------------


def test_a_call_carries_each_side_s_tone_to_the_other_and_records_it(
    loop, alice, bob_engine, bob_manager, sides, recorder, tmp_path
):
    caller, callee, ours, theirs = connected_call(
        loop, alice, bob_engine, bob_manager, sides, codecs=["PCMU"]
    )
    assert named(recorder, "SIPSessionDidStart", caller)[0].streams == [ours]
    assert [type(s) for s in callee.streams] == [AudioStream]
    for stream in (ours, theirs):
        assert named(recorder, "MediaStreamDidInitialize", stream) and named(
            recorder, "MediaStreamDidStart", stream
        )
        assert (stream.codec, stream.sample_rate, stream.srtp_active) == ("PCMU", 8000, False)
        assert stream.consumer_slot is not None and stream.consumer_slot == stream.producer_slot
        assert stream in stream.bridge and stream.local_rtp_address == "127.0.0.1"
    assert (ours.remote_rtp_address, ours.remote_rtp_port) == ("127.0.0.1", theirs.local_rtp_port)
    assert (theirs.remote_rtp_address, theirs.remote_rtp_port) == ("127.0.0.1", ours.local_rtp_port)

    files = {ours: tmp_path / "alice.wav", theirs: tmp_path / "bob.wav"}
    for stream, path in files.items():
        stream.start_recording(path)
        assert stream.recording_filename == str(path)
    run_media(loop, sides, 1.5)
    for stream, path in files.items():
        stream.stop_recording()
        assert stream.recording_filename is None
        names = [n.name for n in recorder.notifications if n.sender is stream and "RecordingAudio" in n.name]
        assert names == [
            "AudioStreamWillStartRecordingAudio", "AudioStreamDidStartRecordingAudio",
            "AudioStreamWillStopRecordingAudio", "AudioStreamDidStopRecordingAudio",
        ]  # fmt: skip
        assert named(recorder, "AudioStreamDidStopRecordingAudio", stream)[0].filename == str(path)
    # each recording holds both tones: its own side's player and what the stream brought in
    alice_own, alice_heard = tone_levels(files[ours])
    bob_heard, bob_own = tone_levels(files[theirs])
    assert alice_heard > 1000, f"Alice does not hear Bob's 600 Hz tone (level {alice_heard:.0f})"
    assert bob_heard > 1000, f"Bob does not hear Alice's 1000 Hz tone (level {bob_heard:.0f})"
    assert alice_own > 1000 and bob_own > 1000
    assert ours.statistics["rx"]["packets"] > 25 and theirs.statistics["rx"]["packets"] > 25

    caller.end()
    loop.run_until(lambda: caller.state == "terminated" and callee.state == "terminated", what="both ended")


def test_hold_and_unhold_change_direction_bridge_membership_and_post_the_hold_state(
    loop, alice, bob_engine, bob_manager, sides, recorder
):
    caller, callee, ours, theirs = connected_call(loop, alice, bob_engine, bob_manager, sides)
    caller.hold()
    loop.run_until(lambda: named(recorder, "AudioStreamDidChangeHoldState", theirs), what="remote hold")
    loop.run_until(lambda: named(recorder, "SIPSessionDidChangeHoldState", caller), what="the hold answered")
    local = named(recorder, "AudioStreamDidChangeHoldState", ours)[0]
    remote = named(recorder, "AudioStreamDidChangeHoldState", theirs)[0]
    assert (local.originator, local.on_hold, local.partial) == ("local", True, False)
    assert (remote.originator, remote.on_hold, remote.partial) == ("remote", True, False)
    assert ours.on_hold_by_local and theirs.on_hold_by_remote
    assert (ours._audio.direction, theirs._audio.direction) == ("sendonly", "recvonly")
    assert ours not in ours.bridge and theirs not in theirs.bridge

    caller.unhold()
    loop.run_until(
        lambda: len(named(recorder, "AudioStreamDidChangeHoldState", theirs)) == 2, what="remote unhold"
    )
    loop.run_until(
        lambda: len(named(recorder, "SIPSessionDidChangeHoldState", caller)) == 2, what="the unhold answered"
    )
    assert named(recorder, "AudioStreamDidChangeHoldState", theirs)[1].on_hold is False
    assert not ours.on_hold and not theirs.on_hold
    assert (ours._audio.direction, theirs._audio.direction) == ("sendrecv", "sendrecv")
    assert ours in ours.bridge and theirs in theirs.bridge
    caller.end()
    loop.run_until(lambda: caller.state == "terminated" and callee.state == "terminated", what="both ended")


def test_dtmf_digits_cross_the_call_both_ways(loop, alice, bob_engine, bob_manager, sides, recorder):
    caller, callee, ours, theirs = connected_call(loop, alice, bob_engine, bob_manager, sides)
    run_media(loop, sides, 0.2)
    ours.send_dtmf("5")
    theirs.send_dtmf("#")
    loop.run_until(
        lambda: named(recorder, "AudioStreamGotDTMF", theirs) and named(recorder, "AudioStreamGotDTMF", ours),
        MEDIA_WAIT,
        what="the digits",
    )
    assert [d.digit for d in named(recorder, "AudioStreamGotDTMF", theirs)] == ["5"]
    assert [d.digit for d in named(recorder, "AudioStreamGotDTMF", ours)] == ["#"]
    with pytest.raises(ValueError):
        ours.send_dtmf("X")
    callee.end()
    loop.run_until(lambda: caller.state == "terminated" and callee.state == "terminated", what="both ended")


def test_ending_the_call_ends_both_streams_and_closes_their_rtp_sockets(
    loop, alice, bob_engine, bob_manager, sides, recorder
):
    caller, callee, ours, theirs = connected_call(loop, alice, bob_engine, bob_manager, sides)
    ports = [ours.local_rtp_port, theirs.local_rtp_port]
    assert not any(udp_port_is_free(port) for port in ports)
    caller.end()
    loop.run_until(lambda: caller.state == "terminated" and callee.state == "terminated", what="both ended")
    for stream in (ours, theirs):
        names = [
            n.name for n in recorder.notifications if n.sender is stream and n.name.startswith("MediaStream")
        ]
        assert names[-2:] == ["MediaStreamWillEnd", "MediaStreamDidEnd"]
        assert stream not in stream.bridge and stream.consumer_slot is None
    assert all(udp_port_is_free(port) for port in ports)


def test_an_offer_without_a_common_codec_is_answered_488_by_the_session_manager(
    loop, alice, bob, bob_engine, bob_manager, sides, recorder
):
    bob.rtp = SimpleNamespace(audio_codec_list=["PCMA"], encryption=None)  # type: ignore[attr-defined]
    caller_side, _ = sides
    stream = AudioStream(mixer=caller_side.mixer, bridge=caller_side.bridge, codecs=["PCMU"])
    caller = call(alice, bob_engine, stream)
    loop.run_until(lambda: caller.state == "terminated", what="the 488")
    assert named(recorder, "SIPSessionDidFail", caller)[0].code == 488
    assert not recorder.named("SIPSessionNewIncoming")
    assert named(recorder, "MediaStreamDidEnd", stream)
