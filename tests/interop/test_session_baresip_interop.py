"""Audio calls between a sipsimple Account and baresip 1.0, both registered with Kamailio (auth on).

Our side is a SIPApplicationBase on its own Twisted thread (null sound devices, 16 kHz mixer) with
two accounts registered with Kamailio: alice over UDP and carol over TCP (one per transport, so no
re-registration between tests); baresip is bob, started per test with that test's transport,
``mediaenc`` and codecs. Each side plays a known signal and records what it receives:

* we play ``TONES_TO_BARESIP`` (a WavePlayer connected straight to the stream's mixer slot) and
  record with ``AudioStream.start_recording`` on a bridge of the test's that holds only the stream,
  so our file has what came in over RTP and nothing of our own signal;
* baresip plays ``TONES_TO_US`` from a WAV file (``aufile``) and its ``sndfile`` module writes what
  it decoded (``dump-*-dec.wav``). baresip limitations met: aufile only takes a file at exactly
  ``ausrc_srate``, and baresip 1.0's 16 kHz -> 8 kHz resampler removes tones above ~1.5 kHz, so
  baresip's source is written at the codec's own rate and channels (configs/baresip/config-audio).

A recording is cut into 100 ms blocks. Every frequency used is a multiple of 10 Hz, so over one block
the tones are orthogonal and the share of a block's energy that the expected tones explain is exact
(a least-squares fit: no alignment and no resampling needed); its square root is the correlation of
the block with its best fit by the expected tones. A recording passes when enough blocks carry audio
(``MIN_AUDIO_SECONDS``), the median correlation of those blocks reaches the codec's floor
(``CORRELATION_FLOOR``), every expected tone is there at about its level, and the other side's
tones are not (what was received, not what was sent).

The matrix, in full in both directions (36 calls, about two minutes): transport (UDP, TCP) x SRTP
(off; SDES optional: baresip ``mediaenc=srtp`` with our ``sdes_optional``; SDES mandatory: baresip
``srtp-mand`` with our ``sdes_mandatory``) x codec (PCMU, G722, opus). When we call, we offer
OUR_OFFER and baresip has only the codec under test; when baresip dials us (ctrl_tcp ``dial``), it
offers BARESIP_OFFER and our account has only that codec, and the SessionManager's incoming session
is accepted by ``Answerer``. Also: our ``opportunistic`` mode against baresip with and without SRTP,
the two SRTP mismatches (488 both ways), and DTMF and hold/resume both ways in an SRTP call. Each
call carries about ``CALL_SECONDS`` of audio; the codec, ``srtp_active`` and the RTP counters of
our stream are checked, and baresip's log says whether it ran SRTP. The whole file: 43 tests,
about 2.5 minutes on two cores.
"""

from __future__ import annotations

import math
import re
import wave
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sipsimple.account import Account
from sipsimple.audio import AudioBridge, WavePlayer
from sipsimple.core.sip.headers import ToHeader
from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup import Route
from sipsimple.notification import Notification, NotificationCenter
from sipsimple.session import Session
from sipsimple.storage import MemoryStorage
from sipsimple.streams.rtp import AudioStream
from tests.support.notifications import NotificationRecorder
from tests.support.wait import wait_for

from .peers._process import LOOPBACK
from .peers.baresip import Baresip
from .peers.kamailio import Kamailio
from .peers.stack import PeerStack
from .test_account_interop import running_application

pytestmark = pytest.mark.interop

WAIT = 15.0
CALL_SECONDS = 2.5  # audio carried by each call, once both sides run
RATE = 16000  # our mixer and both source files
BLOCK = 0.1  # seconds per analysed block (a whole number of periods of every tone)
TONES_TO_BARESIP = (500.0, 1300.0, 2100.0)
TONES_TO_US = (350.0, 900.0, 1700.0)
AMPLITUDE = 3000.0  # per tone
MIN_AUDIO_SECONDS = 1.5
#: Median per-block correlation of a recording with its fit by the expected tones. Measured here
#: (both directions, with and without SRTP): PCMU and G722 1.000 on both sides; opus 1.000 in what
#: we hear, 0.96 in what baresip hears (Opus keeps how a signal sounds, not its exact waveform).
CORRELATION_FLOOR = {"PCMU": 0.95, "G722": 0.95, "opus": 0.9}
#: baresip's name of each codec, and the rate and channels of its source file (the codec's own)
BARESIP_CODECS = {
    "PCMU": ("PCMU/8000/1", 8000, 1),
    "G722": ("G722/16000/1", 16000, 1),
    "opus": ("opus/48000/2", 48000, 2),
}
#: what we offer when we call baresip (which takes one of them)
OUR_OFFER = ["opus", "G722", "PCMU"]
#: what baresip offers when it dials us (our account then has only the codec under test)
BARESIP_OFFER = "PCMU/8000/1,PCMA/8000/1,G722/16000/1,opus/48000/2"
#: our mode -> baresip's mediaenc (None: plain RTP on both sides)
SRTP_MODES = {
    "off": (None, None),
    "sdes-optional": ("sdes_optional", "srtp"),
    "sdes-mandatory": ("sdes_mandatory", "srtp-mand"),
}
USERS = {"udp": "alice", "tcp": "carol"}  # our account per transport (bob is baresip)


# -- signals ------------------------------------------------------------------------------------------


def tones(frequencies: tuple[float, ...], seconds: float, rate: int = RATE) -> array:
    """The sum of ``frequencies`` at AMPLITUDE each; a whole number of 100 ms periods long, so it
    loops without a seam."""
    count = round(seconds / BLOCK) * round(BLOCK * rate)
    steps = [2 * math.pi * frequency / rate for frequency in frequencies]
    return array("h", (round(sum(AMPLITUDE * math.sin(step * i) for step in steps)) for i in range(count)))


def write_wav(path: Path, values: array, rate: int = RATE, channels: int = 1) -> Path:
    """A 16-bit WAV file of ``values`` (the same samples on every channel)."""
    if channels > 1:
        values = array("h", (x for x in values for _ in range(channels)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(values.tobytes())
    return path


def read_wav(path: Path) -> tuple[array, int]:
    """The first channel of a 16-bit WAV file and its rate."""
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2, f"{path}: not 16-bit PCM"
        channels, rate = wav.getnchannels(), wav.getframerate()
        values = array("h", wav.readframes(wav.getnframes()))
    return (values[::channels] if channels > 1 else values), rate


@dataclass(frozen=True)
class Heard:
    """What a recording holds, measured over its blocks with audio."""

    rate: int
    audio_seconds: float
    correlation: float  # median over the blocks with audio
    levels: dict[float, float]  # median amplitude of each probed frequency

    def describe(self) -> str:
        levels = ", ".join(f"{f:.0f} Hz: {a:.0f}" for f, a in sorted(self.levels.items()))
        return f"{self.audio_seconds:.1f} s of audio at {self.rate} Hz, correlation {self.correlation:.3f}; {levels}"


def _amplitude(block: array, rate: int, frequency: float) -> tuple[float, float]:
    """(amplitude of ``frequency`` in ``block``, energy it explains); exact for whole periods."""
    step = 2 * math.pi * frequency / rate
    c = sum(x * math.cos(step * i) for i, x in enumerate(block))
    s = sum(x * math.sin(step * i) for i, x in enumerate(block))
    n = len(block)
    a, b = 2 * c / n, 2 * s / n
    return math.hypot(a, b), n * (a * a + b * b) / 2


def analyse(path: Path, expected: tuple[float, ...], other: tuple[float, ...]) -> Heard:
    values, rate = read_wav(path)
    size = round(BLOCK * rate)
    correlations: list[float] = []
    levels: dict[float, list[float]] = {f: [] for f in expected + other}
    for start in range(0, len(values) - size + 1, size):
        block = values[start : start + size]
        energy = float(sum(x * x for x in block))
        if energy / size < (AMPLITUDE / 4) ** 2:  # silence, or close to it
            continue
        explained = 0.0
        for frequency in expected + other:
            amplitude, part = _amplitude(block, rate, frequency)
            levels[frequency].append(amplitude)
            if frequency in expected:
                explained += part
        correlations.append(math.sqrt(min(1.0, explained / energy)))
    return Heard(
        rate,
        len(correlations) * BLOCK,
        _median(correlations),
        {f: _median(a) for f, a in levels.items()},
    )


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


def assert_heard(
    heard: Heard, expected: tuple[float, ...], other: tuple[float, ...], codec: str, who: str
) -> None:
    detail = f"{who} ({codec}): {heard.describe()}"
    assert heard.audio_seconds >= MIN_AUDIO_SECONDS, f"too little audio: {detail}"
    assert heard.correlation >= CORRELATION_FLOOR[codec], f"below the {codec} floor: {detail}"
    for frequency in expected:
        assert heard.levels[frequency] > AMPLITUDE / 3, f"{frequency:.0f} Hz missing: {detail}"
    for frequency in other:
        assert heard.levels[frequency] < AMPLITUDE / 10, (
            f"{frequency:.0f} Hz (the sent signal) heard: {detail}"
        )


# -- our side -----------------------------------------------------------------------------------------


@dataclass
class Ours:
    """The running application, its accounts (one per transport) and the Kamailio they use."""

    application: Any
    kamailio: Kamailio
    accounts: dict[str, Any]
    recorder: NotificationRecorder

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        return self.application.twisted_thread.call_and_wait(function, *args, timeout=WAIT)


@pytest.fixture(scope="module")
def registrar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kamailio]:
    with PeerStack(tmp_path_factory, None) as stack:
        yield stack.kamailio(features=("auth",))


SETTINGS = {
    "SIPSimpleSettings": {
        "sip": {"transport_list": ["udp", "tcp"]},
        "logs": {"trace_sip": "true"},  # SIPEngineSIPTrace: what our INVITEs looked like
        "audio": {
            "input_device": None,
            "output_device": None,
            "alert_device": None,
            "sample_rate": str(RATE),
            "echo_canceller": {"enabled": "false"},
        },
    }
}


@pytest.fixture(scope="module")
def ours(registrar: Kamailio) -> Iterator[Ours]:
    recorder = NotificationRecorder()
    center = NotificationCenter()
    center.add_observer(recorder)
    try:
        with running_application() as application:
            storage = MemoryStorage()
            storage.configuration_backend.save(SETTINGS)
            application.start(storage)
            wait_for(
                lambda: recorder.named("SIPApplicationDidStart"),
                what="the application to start",
                timeout=WAIT,
            )

            def create() -> dict[str, Any]:
                accounts = {}
                for transport, user in USERS.items():
                    account: Any = Account(f"{user}@example.test")
                    account.auth.password = registrar.users[user].password
                    account.sip.outbound_proxy = f"127.0.0.1:{registrar.sip_port};transport={transport}"
                    account.enabled = True
                    account.save()
                    accounts[transport] = account
                return accounts

            accounts = application.twisted_thread.call_and_wait(create, timeout=WAIT)
            wait_for(
                lambda: {"alice", "carol"} <= set(registrar.location()),
                what="both accounts registered",
                timeout=WAIT,
            )
            yield Ours(application, registrar, accounts, recorder)
    finally:
        center.discard_observer(recorder)


class Answerer:
    """Accepts every incoming session with the audio stream the SessionManager built, on the
    ``bridge`` of the current test (set before baresip dials). The mixer is given too: a stream
    left to find it looks for the SIPApplication singleton, not this SIPApplicationBase."""

    def __init__(self, ours: Ours) -> None:
        self.ours = ours
        self.bridge: Any = None
        self.sessions: list[Any] = []

    def handle_notification(self, notification: Notification) -> None:
        session: Any = notification.sender
        streams = [s for s in notification.data.streams if isinstance(s, AudioStream)]  # type: ignore[attr-defined]
        self.sessions.append(session)
        self.ours.application.engine.reactor.callLater(0, self._accept, session, streams)

    def _accept(self, session: Any, streams: list[AudioStream]) -> None:
        for stream in streams:
            stream.mixer, stream.bridge = self.ours.application.voice_audio_mixer, self.bridge
        session.accept(streams)


@pytest.fixture
def answerer(ours: Ours) -> Iterator[Answerer]:
    instance = Answerer(ours)
    NotificationCenter().add_observer(instance, name="SIPSessionNewIncoming")
    try:
        yield instance
    finally:
        NotificationCenter().discard_observer(instance, name="SIPSessionNewIncoming")


def configure(ours: Ours, transport: str, codecs: list[str] | None, srtp: str | None) -> Any:
    """The account for ``transport`` with the SRTP mode and ``codecs`` (None: every codec)."""

    def change() -> Any:
        account = ours.accounts[transport]
        account.rtp.audio_codec_list = codecs
        account.rtp.encryption.enabled = srtp is not None
        if srtp is not None:
            account.rtp.encryption.key_negotiation = srtp
        account.save()
        return account

    return ours.call(change)


def start_baresip(
    baresip: Callable[..., Baresip], registrar: Kamailio, tmp_path: Path, transport: str, codec: str,
    mediaenc: str | None, only: bool,
) -> tuple[Baresip, Path]:  # fmt: skip
    """baresip as bob, with the SRTP mode, its source at ``codec``'s rate and channels, and only
    that codec (``only``) or all four."""
    name, rate, channels = BARESIP_CODECS[codec]
    source = write_wav(tmp_path / "baresip-source.wav", tones(TONES_TO_US, 15.0, rate), rate, channels)
    recordings = tmp_path / "baresip-recordings"
    recordings.mkdir()
    params = {"audio_codecs": name if only else BARESIP_OFFER}
    if mediaenc is not None:
        params["mediaenc"] = mediaenc
    peer = baresip(
        "bob", registrar=registrar, transport=transport, account_params=params, config="config-audio",
        config_values={
            "AUDIO_FILE": str(source), "SND_PATH": str(recordings), "SRATE": str(rate), "CHANNELS": str(channels),
        },
    )  # fmt: skip
    return peer, recordings


def play_and_record(ours: Ours, stream: AudioStream, source: Path, recording: Path) -> WavePlayer:
    """Our signal into the stream's slot (not through a bridge: our recording must not have it),
    and ``start_recording`` on the stream's own bridge."""

    def setup() -> WavePlayer:
        mixer = ours.application.voice_audio_mixer
        player = WavePlayer(mixer, str(source), loop_count=0)
        player.start()
        mixer.connect_slots(player.producer_slot, stream.consumer_slot)
        stream.start_recording(recording)
        return player

    return ours.call(setup)


# -- the calls ------------------------------------------------------------------------------------------

CODECS = list(BARESIP_CODECS)
TRANSPORTS = list(USERS)


def session_failure(ours: Ours, session: Any) -> str | None:
    failed = [n.data for n in ours.recorder.named("SIPSessionDidFail", sender=session)]
    return f"{failed[0].code} {failed[0].reason} ({failed[0].failure_reason})" if failed else None


def carry_audio(ours: Ours, stream: AudioStream, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """Plays our signal and records until about CALL_SECONDS of packets came in; returns our
    recording and the stream's statistics."""
    source = write_wav(tmp_path / "our-source.wav", tones(TONES_TO_BARESIP, 1.0))
    recording = tmp_path / "we-heard.wav"
    player = play_and_record(ours, stream, source, recording)
    target = round(CALL_SECONDS * 50)
    wait_for(
        lambda: ((stream.statistics or {}).get("rx") or {}).get("packets", 0) >= target,
        what=f"{target} RTP packets from baresip",
        timeout=CALL_SECONDS + WAIT,
    )
    statistics = ours.call(
        lambda: {**stream.statistics, "codec": stream.codec, "srtp_active": stream.srtp_active}  # type: ignore[dict-item]
    )
    ours.call(stream.stop_recording)
    ours.call(player.stop)
    return recording, statistics


def received_invite(peer: Baresip) -> tuple[str, str]:
    """How the (last) INVITE baresip received travelled: (Kamailio to baresip, us to Kamailio: the
    transport of the bottom Via)."""
    local = f"{LOOPBACK}:{peer.sip_port}"
    invite = [m for m in peer.trace() if m.method == "INVITE" and m.destination == local][-1]
    vias = re.findall(r"(?im)^Via:\s*SIP/2\.0/(\w+)", invite.text)
    return invite.transport.lower(), vias[-1].lower()


def sent_invite_transport(peer: Baresip) -> str:
    """The transport of the INVITE baresip sent to Kamailio."""
    local = f"{LOOPBACK}:{peer.sip_port}"
    return [m for m in peer.trace() if m.method == "INVITE" and m.destination != local][-1].transport.lower()


def check_invite_transport(ours: Ours, peer: Baresip, transport: str) -> None:
    """Kamailio reached baresip over ``transport``, and we reached Kamailio over the transport our
    Via names, which is ``transport`` except for a large UDP request: RFC 3261 §18.1.1 sends one over
    1300 bytes over TCP, and our engine compares an upper bound of the size taken before the Via is
    added, so it may switch up to 100 bytes earlier. Measured: ~1180 bytes for our authenticated
    three-codec INVITE without SRTP, ~1360 with SDES (a known limitation: Kamailio listens on TCP
    too, so the call works, but on a UDP-only route it would not)."""
    sent = [
        n.data
        for n in ours.recorder.named("SIPEngineSIPTrace", received=False)
        if bytes(n.data.data).startswith(b"INVITE ")
    ][-1]
    last_hop, first_hop = received_invite(peer)
    assert last_hop == transport
    assert first_hop == sent.transport.lower()
    if transport == "tcp" or len(sent.data) <= 1200:
        assert first_hop == transport, f"a {len(sent.data)}-byte INVITE went over {first_hop}"
    elif len(sent.data) > 1300:
        assert first_hop == "tcp", f"a {len(sent.data)}-byte INVITE went over {first_hop}"


def call_closed(peer: Baresip) -> bool:
    return any(event.get("type") == "CALL_CLOSED" for event in peer.control.poll_events(0.05))  # type: ignore[union-attr]


def check_call(
    peer: Baresip, statistics: dict[str, Any], codec: str, encrypted: bool, recording: Path, recordings: Path
) -> None:
    """The codec and SRTP on both sides, the packets we received, and what each side heard."""
    assert (statistics["codec"] or "").lower() == codec.lower()
    assert statistics["srtp_active"] is encrypted
    assert statistics["rx"]["packets"] >= round(CALL_SECONDS * 50) and statistics["tx"]["packets"] > 0
    assert ("SRTP is Enabled" in peer.process.log_text()) is encrypted
    assert_heard(
        analyse(recording, TONES_TO_US, TONES_TO_BARESIP), TONES_TO_US, TONES_TO_BARESIP, codec, "we"
    )
    wait_for(lambda: call_closed(peer), what="baresip to close the call (and its recordings)", timeout=WAIT)
    (theirs,) = recordings.glob("dump-*-dec.wav")
    heard = analyse(theirs, TONES_TO_BARESIP, TONES_TO_US)
    assert_heard(heard, TONES_TO_BARESIP, TONES_TO_US, codec, "baresip")


def we_call(
    ours: Ours, registrar: Kamailio, baresip: Callable[..., Baresip], tmp_path: Path, transport: str,
    codec: str, our_mode: str | None, mediaenc: str | None,
) -> None:  # fmt: skip
    """We call baresip (it has only ``codec``, we offer OUR_OFFER), both play and record, we hang up."""
    peer, recordings = start_baresip(baresip, registrar, tmp_path, transport, codec, mediaenc, only=True)
    account = configure(ours, transport, OUR_OFFER, our_mode)
    mixer = ours.application.voice_audio_mixer
    stream = AudioStream(mixer=mixer, bridge=ours.call(AudioBridge, mixer))

    def connect() -> Session:
        session = Session(account)
        route = Route("127.0.0.1", registrar.sip_port, transport)
        session.connect(ToHeader(SIPURI("example.test", user="bob")), [route], [stream])
        return session

    session = ours.call(connect)
    wait_for(
        lambda: session.state == "connected" or session_failure(ours, session),
        what="baresip to answer",
        timeout=WAIT,
    )
    assert session_failure(ours, session) is None, session_failure(ours, session)
    assert session.transport == transport
    check_invite_transport(ours, peer, transport)
    recording, statistics = carry_audio(ours, stream, tmp_path)
    ours.call(session.end)
    wait_for(lambda: session.state == "terminated", what="the BYE to be answered", timeout=WAIT)
    assert ours.recorder.named("SIPSessionDidEnd", sender=session)[0].data.originator == "local"
    encrypted = our_mode is not None and mediaenc is not None
    check_call(peer, statistics, codec, encrypted, recording, recordings)


def baresip_calls(
    ours: Ours, registrar: Kamailio, baresip: Callable[..., Baresip], answerer: Answerer, tmp_path: Path,
    transport: str, codec: str, our_mode: str | None, mediaenc: str | None,
) -> None:  # fmt: skip
    """baresip dials us (offering BARESIP_OFFER, we take only ``codec``), the Answerer accepts, both
    play and record, baresip hangs up."""
    peer, recordings = start_baresip(baresip, registrar, tmp_path, transport, codec, mediaenc, only=False)
    configure(ours, transport, [codec], our_mode)
    answerer.bridge = ours.call(AudioBridge, ours.application.voice_audio_mixer)
    peer.command("dial", f"sip:{USERS[transport]}@example.test")
    wait_for(lambda: answerer.sessions, what="baresip's INVITE", timeout=WAIT)
    (session,) = answerer.sessions
    wait_for(
        lambda: session.state == "connected" or session_failure(ours, session),
        what="our answer to take",
        timeout=WAIT,
    )
    assert session_failure(ours, session) is None, session_failure(ours, session)
    assert session.transport == transport and session.direction == "incoming"
    assert sent_invite_transport(peer) == transport
    (stream,) = session.streams
    recording, statistics = carry_audio(ours, stream, tmp_path)
    peer.command("hangup")
    wait_for(lambda: session.state == "terminated", what="baresip's BYE", timeout=WAIT)
    assert ours.recorder.named("SIPSessionDidEnd", sender=session)[0].data.originator == "remote"
    encrypted = our_mode is not None and mediaenc is not None
    check_call(peer, statistics, codec, encrypted, recording, recordings)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("srtp", list(SRTP_MODES))
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_we_call_baresip_and_each_side_hears_the_other(
    ours, registrar, baresip, tmp_path, transport, srtp, codec
):
    we_call(ours, registrar, baresip, tmp_path, transport, codec, *SRTP_MODES[srtp])


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("srtp", list(SRTP_MODES))
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_baresip_calls_us_our_session_manager_answers_and_each_side_hears_the_other(
    ours, registrar, baresip, answerer, tmp_path, transport, srtp, codec
):
    baresip_calls(ours, registrar, baresip, answerer, tmp_path, transport, codec, *SRTP_MODES[srtp])


@pytest.mark.parametrize(("mediaenc", "encrypted"), [("srtp", True), (None, False)], ids=["srtp", "plain"])
@pytest.mark.parametrize("direction", ["we-call", "baresip-calls"])
def test_opportunistic_srtp_encrypts_with_a_baresip_that_has_srtp_and_falls_back_to_rtp_otherwise(
    ours, registrar, baresip, answerer, tmp_path, direction, mediaenc, encrypted
):
    """Our ``opportunistic`` mode offers RTP/AVP with crypto lines and takes them when offered in
    RTP/AVP: SRTP with baresip's ``mediaenc=srtp`` (which does the same), plain RTP without it (the
    SRTP state on both sides is checked in check_call)."""
    if direction == "we-call":
        we_call(ours, registrar, baresip, tmp_path, "udp", "PCMU", "opportunistic", mediaenc)
    else:
        baresip_calls(ours, registrar, baresip, answerer, tmp_path, "udp", "PCMU", "opportunistic", mediaenc)


# -- SRTP mismatches ----------------------------------------------------------------------------------


def test_our_mandatory_srtp_offer_to_a_baresip_without_srtp_fails_the_session_with_488(
    ours, registrar, baresip, tmp_path
):
    start_baresip(baresip, registrar, tmp_path, "udp", "PCMU", None, only=True)
    account = configure(ours, "udp", ["PCMU"], "sdes_mandatory")
    mixer = ours.application.voice_audio_mixer
    stream = AudioStream(mixer=mixer, bridge=ours.call(AudioBridge, mixer))

    def connect() -> Session:
        session = Session(account)
        route = Route("127.0.0.1", registrar.sip_port, "udp")
        session.connect(ToHeader(SIPURI("example.test", user="bob")), [route], [stream])
        return session

    session = ours.call(connect)
    wait_for(lambda: session.state == "terminated", what="the call to fail", timeout=WAIT)
    (failed,) = [n.data for n in ours.recorder.named("SIPSessionDidFail", sender=session)]
    assert (failed.originator, failed.code) == ("local", 488)
    assert not ours.recorder.named("SIPSessionDidStart", sender=session)
    assert ours.recorder.named("MediaStreamDidEnd", sender=stream)


def test_a_mandatory_srtp_offer_from_baresip_to_an_account_without_srtp_is_answered_488(
    ours, registrar, baresip, answerer, tmp_path
):
    """Found here: the SessionManager used to take the RTP/SAVP offer, and the session then hung
    in 'accepting' when its answer could not be written; now the offer is refused up front."""
    peer, _ = start_baresip(baresip, registrar, tmp_path, "udp", "PCMU", "srtp-mand", only=True)
    configure(ours, "udp", ["PCMU"], None)
    peer.command("dial", f"sip:{USERS['udp']}@example.test")
    wait_for(lambda: call_closed(peer), what="baresip's call to be refused", timeout=WAIT)
    (closed,) = [e for e in peer.control.events if e.get("type") == "CALL_CLOSED"]  # type: ignore[union-attr]
    assert closed["param"] == "488 Not Acceptable Here"
    assert answerer.sessions == []


def baresip_events(peer: Baresip, kind: str) -> list[dict[str, Any]]:
    return [e for e in peer.control.poll_events(0.05) if e.get("type") == kind]  # type: ignore[union-attr]


def test_dtmf_and_hold_cross_both_ways_in_an_srtp_call_with_baresip(ours, registrar, baresip, tmp_path):
    """RFC 4733 digits each way (baresip's CALL_DTMF_START event; our AudioStreamGotDTMF), our hold
    and unhold (re-INVITEs that keep the SDES keys: baresip's packets come back), and baresip's
    hold and resume (AudioStreamDidChangeHoldState from the remote side)."""
    peer, _ = start_baresip(baresip, registrar, tmp_path, "udp", "PCMU", "srtp-mand", only=True)
    account = configure(ours, "udp", OUR_OFFER, "sdes_mandatory")
    mixer = ours.application.voice_audio_mixer
    stream = AudioStream(mixer=mixer, bridge=ours.call(AudioBridge, mixer))

    def connect() -> Session:
        session = Session(account)
        route = Route("127.0.0.1", registrar.sip_port, "udp")
        session.connect(ToHeader(SIPURI("example.test", user="bob")), [route], [stream])
        return session

    def received() -> int:
        return int(((stream.statistics or {}).get("rx") or {}).get("packets", 0))

    def hold_states(name: str) -> list[tuple[str, bool]]:
        sender = session if name.startswith("SIPSession") else stream
        return [(n.data.originator, n.data.on_hold) for n in ours.recorder.named(name, sender=sender)]

    session = ours.call(connect)
    wait_for(
        lambda: session.state == "connected" or session_failure(ours, session),
        what="baresip to answer",
        timeout=WAIT,
    )
    assert stream.srtp_active
    wait_for(lambda: received() >= 25, what="baresip's audio", timeout=WAIT)

    ours.call(stream.send_dtmf, "5")
    wait_for(
        lambda: baresip_events(peer, "CALL_DTMF_START"), what="baresip to receive our digit", timeout=WAIT
    )
    assert [e["param"] for e in baresip_events(peer, "CALL_DTMF_START")] == ["5"]
    assert peer.command("sndcode", "7")["ok"]
    wait_for(
        lambda: ours.recorder.named("AudioStreamGotDTMF", sender=stream), what="baresip's digit", timeout=WAIT
    )
    assert [n.data.digit for n in ours.recorder.named("AudioStreamGotDTMF", sender=stream)] == ["7"]

    ours.call(session.hold)
    wait_for(lambda: len(hold_states("SIPSessionDidChangeHoldState")) == 1, what="our hold", timeout=WAIT)
    ours.call(session.unhold)
    wait_for(lambda: len(hold_states("SIPSessionDidChangeHoldState")) == 2, what="our unhold", timeout=WAIT)
    assert hold_states("SIPSessionDidChangeHoldState") == [("local", True), ("local", False)]
    resumed = received()
    wait_for(lambda: received() >= resumed + 25, what="baresip's audio after our unhold", timeout=WAIT)

    assert peer.command("hold")["ok"]
    wait_for(
        lambda: ("remote", True) in hold_states("AudioStreamDidChangeHoldState"),
        what="baresip's hold",
        timeout=WAIT,
    )
    assert session.on_hold and stream.on_hold_by_remote
    assert peer.command("resume")["ok"]
    wait_for(
        lambda: ("remote", False) in hold_states("AudioStreamDidChangeHoldState"),
        what="baresip's resume",
        timeout=WAIT,
    )
    assert not session.on_hold and stream.srtp_active
    resumed = received()
    wait_for(lambda: received() >= resumed + 25, what="baresip's audio after its resume", timeout=WAIT)
    assert session.state == "connected"
    ours.call(session.end)
    wait_for(lambda: session.state == "terminated", what="the BYE to be answered", timeout=WAIT)
