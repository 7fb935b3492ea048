"""``AudioStream``: the audio media of a Session, an RTPTransport and an AudioTransport in the mixer.

Life cycle (the Session drives it, see docs/streams.md): ``initialize`` binds the RTP socket and
builds the AudioTransport, ``get_local_media`` writes our ``m=audio``, ``start`` starts the stream
port and puts the stream in its bridge, ``update`` applies re-INVITEs (hold, codec switch),
``end`` takes it out and closes the socket. The stream is an IAudioPort whose two slots are the
AudioTransport's one slot; while it is started and not on hold it is a member of ``bridge``,
or, when it was given none, wired to the SIPApplication's voice bridge from outside (``_attach``):
each call hears the local party and is heard by it, calls do not hear each other. An
AudioConference takes the stream over with ``join_bridge``/``leave_bridge``: while in a conference
the stream is a member of the conference's bridge only, and gets its own wiring back when it leaves.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from datetime import datetime
from typing import Any

from zope.interface import implementer

from sipsimple.audio import AudioBridge, IAudioPort, WaveRecorder, post_slots_changed
from sipsimple.core._errors import SIPCoreError
from sipsimple.core.media.audio_transport import AudioTransport, AudioTransportError
from sipsimple.notification import Notification, NotificationCenter, NotificationData
from sipsimple.streams import InvalidStreamError, MediaStreamRegistrar, UnknownStreamError
from sipsimple.util import ISOTimestamp

from . import _environment as environment

__all__ = ["AudioStream"]

DTMF_DIGITS = frozenset("0123456789ABCD*#")
HELD_DIRECTIONS = ("sendonly", "inactive")


def _remote_holds(remote_sdp: Any, index: int) -> bool:
    """True when the peer's description of stream ``index`` says it does not want to receive."""
    return str(remote_sdp.effective_direction_of(index)) in HELD_DIRECTIONS


@implementer(IAudioPort)
class AudioStream(metaclass=MediaStreamRegistrar):
    """Audio over RTP. ``mixer`` defaults (at ``initialize``) to the running SIPApplication's
    voice mixer; without a ``bridge`` the stream is wired to its voice bridge as an outside party
    (a recording gives the stream a bridge of its own); ``engine`` to the account's; ``codecs``,
    ``srtp_mode``, ``port_range`` and ``rtp_timeout`` to the account's and SIPSimpleSettings.rtp;
    ``silence_detection`` (send nothing while the input is silent: Opus DTX or RFC 3389 comfort
    noise) to SIPSimpleSettings.audio.silence_detection. Everything runs on the Twisted thread."""

    type = "audio"
    priority = 1
    hold_supported = True

    def __init__(
        self,
        *,
        mixer: Any = None,
        bridge: Any = None,
        engine: Any = None,
        codecs: list[str] | None = None,
        srtp_mode: str | None = None,
        port_range: Any = None,
        rtp_timeout: int | None = None,
        local_address: str | None = None,
        clock: Any = None,
        silence_detection: bool | None = None,
    ) -> None:
        self.mixer = mixer
        self.silence_detection = silence_detection
        self.bridge = bridge
        self.engine = engine
        self.codecs = codecs
        self.srtp_mode = srtp_mode
        self.port_range = port_range
        self.rtp_timeout = rtp_timeout
        self.local_address = local_address
        self.clock = clock  # the RTPTransport's clock (timeouts, RTCP); None: the monotonic clock
        self._session_ref: weakref.ref[Any] | None = None  # see the ``session`` property
        self.on_hold_by_local = False
        self.on_hold_by_remote = False
        self._account: Any = None
        self._rtp: Any = None
        self._audio: AudioTransport | None = None
        self._recorder: WaveRecorder | None = None
        self._started = False
        self._ended = False
        self._deactivated = False
        self._observing = False
        self._local_party: Any = None  # the application's voice bridge, when no bridge was given
        self._attached: set[tuple[int, int]] = set()  # our mixer connections to the local party
        self._own_bridge: AudioBridge | None = None  # made by start_recording when there was none
        self._conference_bridge: AudioBridge | None = None  # set by join_bridge (AudioConference)
        self._recorder_bridge: AudioBridge | None = None  # where the recorder is a member
        self._rtp_parameters: tuple[Any, ...] | None = None

    # -- IMediaStream: class side -----------------------------------------------------------------

    @classmethod
    def new_from_sdp(cls, account: Any, remote_sdp: Any, stream_index: int) -> AudioStream:
        """A stream for an ``m=audio`` RTP line we have a codec for. Another media type is an
        UnknownStreamError; audio we cannot take (not RTP, port 0, no common codec, SRTP keys the
        account's key negotiation refuses) an InvalidStreamError (the SessionManager then answers
        488 if nothing else is offered)."""
        media = remote_sdp.media[stream_index]
        if media.media != "audio":
            raise UnknownStreamError(f"media type {media.media!r} is not audio")
        account = getattr(account, "account", account)  # a Session may be given for its account
        codecs = environment.account_codecs(account)
        srtp_mode = environment.account_srtp_mode(account)
        try:
            probe = AudioTransport(None, None, codecs=codecs, srtp_mode=srtp_mode)
            probe.validate_offer(remote_sdp, stream_index)  # codecs, and SRTP keys (RTP/SAVP unkeyable: 488)
        except AudioTransportError as error:
            raise InvalidStreamError(error.reason) from None
        stream = cls(codecs=codecs)
        stream._account = account
        return stream

    # -- attributes -------------------------------------------------------------------------------

    @property
    def session(self) -> Any:
        """The Session the stream was initialized for (None before). The session owns its streams,
        so this back-pointer is a weak reference: a stream and its ended session are freed as
        soon as nothing else refers to them, without waiting for the cyclic garbage collector.
        It reads None once the session itself is gone."""
        ref = self._session_ref
        return None if ref is None else ref()

    @session.setter
    def session(self, session: Any) -> None:
        self._session_ref = None if session is None else weakref.ref(session)

    @property
    def on_hold(self) -> bool:
        return self.on_hold_by_local or self.on_hold_by_remote

    @property
    def consumer_slot(self) -> int | None:
        return None if self._audio is None else self._audio.slot

    @property
    def producer_slot(self) -> int | None:
        return None if self._audio is None else self._audio.slot

    @property
    def is_started(self) -> bool:
        return self._started and not self._ended

    @property
    def codec(self) -> str | None:
        return None if self._audio is None else self._audio.codec

    @property
    def sample_rate(self) -> int | None:
        return None if self._audio is None else self._audio.sample_rate

    @property
    def srtp_active(self) -> bool:
        return self._audio is not None and self._audio.is_started and self._audio.srtp_active

    @property
    def srtp_suite(self) -> str | None:
        return None if self._audio is None else self._audio.srtp_suite

    ice_active = False  # ICE is not implemented
    local_rtp_candidate_type = None
    remote_rtp_candidate_type = None

    @property
    def local_rtp_address(self) -> str | None:
        return None if self._rtp is None else self._rtp.local_rtp_address

    @property
    def local_rtp_port(self) -> int | None:
        return None if self._rtp is None else self._rtp.local_rtp_port

    @property
    def remote_rtp_address(self) -> str | None:
        return None if self._rtp is None else self._rtp.remote_rtp_address

    @property
    def remote_rtp_port(self) -> int | None:
        return None if self._rtp is None else self._rtp.remote_rtp_port

    @property
    def remote_rtp_address_sdp(self) -> str | None:
        return None if self._rtp is None else self._rtp.remote_rtp_address_sdp

    @property
    def remote_rtp_port_sdp(self) -> int | None:
        return None if self._rtp is None else self._rtp.remote_rtp_port_sdp

    @property
    def remote_rtp_address_received(self) -> str | None:
        return None if self._rtp is None else self._rtp.remote_rtp_address_received

    @property
    def remote_rtp_port_received(self) -> int | None:
        return None if self._rtp is None else self._rtp.remote_rtp_port_received

    @property
    def recording_filename(self) -> str | None:
        return None if self._recorder is None else os.fspath(self._recorder.filename)

    @property
    def statistics(self) -> dict[str, Any] | None:
        return None if self._audio is None else self._audio.statistics

    # -- IMediaStream: life cycle -----------------------------------------------------------------

    def initialize(self, session: Any, direction: str) -> None:
        """Binds the RTP socket (engine address, rtp port range) and builds the AudioTransport;
        MediaStreamDidInitialize, or MediaStreamDidFail with the reason."""
        account = getattr(session, "account", None) or self._account
        self._account = account
        try:
            self.session = session  # (a weak reference: a session-like object must allow one)
            self._setup(account)
        except Exception as error:  # any set-up failure is the stream's failure, reported as such
            self._post("MediaStreamDidFail", reason=str(error) or type(error).__name__)
            return
        self._post("MediaStreamDidInitialize")

    def _setup(self, account: Any) -> None:
        from sipsimple.core.media._stream import RTPTransport, default_io_thread

        engine = self.engine = self.engine if self.engine is not None else environment.engine_of(account)
        if self.mixer is None:
            self.mixer, app_bridge = environment.application_audio(engine)
            if self.bridge is None:
                self._local_party = app_bridge  # heard and hearing from outside: see _attach()
        if self.mixer is None:
            raise AudioTransportError("there is no audio mixer (the SIPApplication is not running)")
        if self._conference_bridge is not None and self._conference_bridge.mixer is not self.mixer:
            raise AudioTransportError("the stream's audio conference uses another mixer")
        if self.port_range is None or self.rtp_timeout is None:
            port_range, timeout = environment.rtp_settings()
            self.port_range = port_range if self.port_range is None else self.port_range
            self.rtp_timeout = timeout if self.rtp_timeout is None else self.rtp_timeout
        if self.codecs is None:
            self.codecs = environment.account_codecs(account)
        if self.srtp_mode is None:
            self.srtp_mode = environment.account_srtp_mode(account)
        address = self.local_address or engine.ip_address or "127.0.0.1"
        self._rtp = RTPTransport(
            address,
            self.port_range,
            io_thread=default_io_thread(),
            event_queue=engine.media_event_queue,
            clock=self.clock,
        )
        if self.silence_detection is None:
            self.silence_detection = environment.silence_detection()
        self._audio = AudioTransport(
            self.mixer,
            self._rtp,
            enable_silence_detection=self.silence_detection,
            codecs=self.codecs,
            srtp_mode=self.srtp_mode,
        )
        self._observe(True)

    def get_local_media(self, remote_sdp: Any = None, index: int = 0) -> Any:
        if self._audio is None:
            raise AudioTransportError("the audio stream is not initialized")
        return self._audio.get_local_media(remote_sdp, index)

    def start(self, local_sdp: Any, remote_sdp: Any, stream_index: int) -> None:
        """Starts the stream port and joins the bridge; MediaStreamDidStart or MediaStreamDidFail."""
        assert self._audio is not None
        try:
            self._audio.start(local_sdp, remote_sdp, stream_index, timeout=self.rtp_timeout or 0)
        except Exception as error:  # a negotiation the transport refuses fails the stream
            self._post("MediaStreamDidFail", reason=str(error) or type(error).__name__)
            return
        self._started = True
        self.on_hold_by_remote = _remote_holds(remote_sdp, stream_index)
        post_slots_changed(self, None, self._audio.slot, None, self._audio.slot)
        self._follow_bridge()
        self._rtp_parameters = self._current_rtp_parameters()
        self._post("AudioStreamDidChangeRTPParameters")
        self._post("MediaStreamDidStart")

    def validate_update(self, remote_sdp: Any, stream_index: int) -> bool:
        media = remote_sdp.media[stream_index]
        if media.media != "audio" or media.port == 0:
            return False
        try:
            if self._audio is not None:
                self._audio.validate_offer(remote_sdp, stream_index)  # codecs and SRTP keys
            else:
                AudioTransport(self.mixer, self._rtp, remote_sdp, stream_index, codecs=self.codecs)
        except AudioTransportError:
            return False
        return True

    def update(self, local_sdp: Any, remote_sdp: Any, stream_index: int) -> None:
        """Applies a re-INVITE: new codec (a new slot, AudioPortDidChangeSlots), direction, and the
        peer's hold (AudioStreamDidChangeHoldState, originator 'remote')."""
        if self._audio is None or not self._started:
            return
        old_slot = self._audio.slot
        self._attach(False)  # while the old slot is ours; _follow_bridge() below wires the new one
        self._audio.update_sdp(local_sdp, remote_sdp, stream_index)
        self._follow_bridge()
        post_slots_changed(self, old_slot, self._audio.slot, old_slot, self._audio.slot)
        parameters = self._current_rtp_parameters()
        if parameters != self._rtp_parameters:
            self._rtp_parameters = parameters
            self._post("AudioStreamDidChangeRTPParameters")
        held = _remote_holds(remote_sdp, stream_index)
        if held != self.on_hold_by_remote:
            self.on_hold_by_remote = held
            self._follow_bridge()
            self._post("AudioStreamDidChangeHoldState", originator="remote", on_hold=held, partial=False)

    def hold(self) -> None:
        self._set_local_hold(True)

    def unhold(self) -> None:
        self._set_local_hold(False)

    def _set_local_hold(self, held: bool) -> None:
        if held == self.on_hold_by_local:
            return
        self.on_hold_by_local = held
        if self._audio is not None:
            self._audio.update_direction("sendonly" if held else "sendrecv")
        self._follow_bridge()
        self._post("AudioStreamDidChangeHoldState", originator="local", on_hold=held, partial=False)

    def reset(self, stream_index: int) -> None:
        """A local proposal failed: the negotiated direction is the last one again."""
        if self._audio is not None and self._audio.remote_sdp is not None:
            self.on_hold_by_remote = _remote_holds(self._audio.remote_sdp, self._audio.sdp_index)

    def deactivate(self) -> None:
        self._deactivated = True

    def end(self) -> None:
        """MediaStreamWillEnd, then recording stopped, bridge left, stream port stopped, RTP socket
        closed, MediaStreamDidEnd. A second call does nothing."""
        if self._ended:
            return
        self._ended = True
        self._post("MediaStreamWillEnd")
        if self._recorder is not None:
            self.stop_recording()
        self._disconnect()  # from the conference's bridge too; the conference lists us until remove()
        if self._own_bridge is not None:  # its slots and connections go with it now, not at a GC
            if self._local_party in self._own_bridge:
                self._own_bridge.remove(self._local_party)
            self.bridge = self._own_bridge = None
        self._observe(False)
        if self._audio is not None:
            old_slot = self._audio.slot
            self._audio.stop()
            post_slots_changed(self, old_slot, None, old_slot, None)
        if self._rtp is not None:
            self._rtp.close()
        self._post("MediaStreamDidEnd")

    # -- AudioConference -------------------------------------------------------------------------

    def join_bridge(self, bridge: AudioBridge) -> None:
        """Called by AudioConference.add: from now on the stream is a member of ``bridge`` (while
        started and not on hold, its own or the peer's) and of nothing else: no longer wired to the
        voice bridge nor a member of its own bridge. A recording in progress moves with it and
        records the conference's mix. ValueError if it is already in a conference or ``bridge``
        uses another mixer than the stream."""
        if self._conference_bridge is not None:
            raise ValueError(f"{self!r} is already part of an audio conference")
        if self.mixer is not None and bridge.mixer is not self.mixer:
            raise ValueError(f"{self!r} uses another mixer than the audio conference")
        self._disconnect()
        self._conference_bridge = bridge
        self._follow_bridge()
        self._place_recorder()

    def leave_bridge(self) -> None:
        """Called by AudioConference.remove (or when the conference is dropped): out of the
        conference's bridge and back to the stream's own wiring (its bridge, or the voice bridge
        from outside). A recording in progress follows (see start_recording). Harmless when the
        stream is in no conference or has ended."""
        if self._conference_bridge is None:
            return
        self._disconnect()
        self._conference_bridge = None
        if self._recorder is not None:
            self._make_own_bridge()
        self._follow_bridge()
        self._place_recorder()

    @property
    def _active_bridge(self) -> AudioBridge | None:
        """The bridge the stream is a member of while it plays: the conference's, else its own."""
        return self._conference_bridge if self._conference_bridge is not None else self.bridge

    # -- DTMF and recording -----------------------------------------------------------------------

    def send_dtmf(self, digit: str) -> None:
        """Sends one DTMF digit (0-9, A-D, * or #) as a telephone-event (RFC 4733)."""
        if not isinstance(digit, str) or len(digit) != 1 or digit.upper() not in DTMF_DIGITS:
            raise ValueError(f"invalid DTMF digit: {digit!r}")
        if not self.is_started or self._audio is None:
            raise RuntimeError("the audio stream is not started")
        self._audio.send_dtmf(digit.upper())

    def start_recording(self, filename: str | os.PathLike[str] | None = None) -> None:
        """Records what the stream's bridge hears (both sides) into a WAV file; only while started.
        Without ``filename`` a name made of the session's parties and the time is used. In an
        AudioConference the recorder is a member of the conference's bridge, so it records the
        whole conference (every member and the local party); it moves with the stream when the
        stream joins or leaves a conference, into a bridge of its own if it had none."""
        if not self.is_started:
            raise RuntimeError("the audio stream is not started")
        if self._recorder is not None:
            return
        name = os.fspath(filename) if filename is not None else self._default_recording_name()
        if self._conference_bridge is None:
            self._make_own_bridge()
        self._post("AudioStreamWillStartRecordingAudio", filename=name)
        recorder = WaveRecorder(self.mixer, name)
        try:
            recorder.start()
        except Exception as error:
            self._post("AudioStreamDidStopRecordingAudio", filename=name, reason=str(error))
            raise
        self._recorder = recorder
        self._place_recorder()
        self._post("AudioStreamDidStartRecordingAudio", filename=name)

    def stop_recording(self) -> None:
        recorder = self._recorder
        if recorder is None:
            return
        name = os.fspath(recorder.filename)
        self._post("AudioStreamWillStopRecordingAudio", filename=name)
        self._recorder = None
        try:
            self._place_recorder(recorder)
            recorder.stop()
        finally:
            self._post("AudioStreamDidStopRecordingAudio", filename=name)

    def _make_own_bridge(self) -> None:
        """A recording mixes the peer and the local party: a stream wired to the voice bridge from
        outside gets a bridge of its own holding the voice bridge (nothing to do otherwise)."""
        if self.bridge is not None or self._local_party is None:
            return
        self._disconnect()
        self.bridge = self._own_bridge = AudioBridge(self.mixer)
        self._own_bridge.add(self._local_party)
        self._follow_bridge()

    def _place_recorder(self, stopping: WaveRecorder | None = None) -> None:
        """Makes the recorder a member of the active bridge (``stopping``: takes it out of any)."""
        recorder = stopping if stopping is not None else self._recorder
        target = None if stopping is not None else self._active_bridge
        current = self._recorder_bridge
        if recorder is None or current is target:
            return
        if current is not None and recorder in current:
            current.remove(recorder)
        if target is not None:
            target.add(recorder)
        self._recorder_bridge = target

    def _default_recording_name(self) -> str:
        remote = getattr(getattr(getattr(self.session, "remote_identity", None), "uri", None), "user", None)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        return os.path.join(environment.recordings_directory(), f"{stamp}-{remote or 'call'}.wav")

    # -- internals --------------------------------------------------------------------------------

    def _current_rtp_parameters(self) -> tuple[Any, ...]:
        """What AudioStreamDidChangeRTPParameters reports a change of (codec, rate, addresses, SRTP)."""
        audio = self._audio
        if audio is None:
            return ()
        keys = audio.srtp_keys
        return (
            audio.codec, audio.sample_rate, audio.ptime, self.remote_rtp_address_sdp,
            self.remote_rtp_port_sdp, audio.srtp_active, None if keys is None else keys.local_key,
            None if keys is None else keys.remote_key,
        )  # fmt: skip

    def _follow_bridge(self) -> None:
        """In the active bridge (the conference's, else its own; or attached to the local party
        when it has none) while started and not on hold, out of it otherwise."""
        bridge = self._active_bridge
        if self.is_started and not self.on_hold:
            if bridge is not None and self not in bridge:
                bridge.add(self)
            self._attach(bridge is None)
        else:
            self._disconnect()

    def _disconnect(self) -> None:
        """Out of every bridge and path: the conference's bridge, its own, the voice bridge."""
        self._attach(False)
        for bridge in (self._conference_bridge, self.bridge):
            if bridge is not None and self in bridge:
                bridge.remove(self)

    def _attach(self, attach: bool) -> None:
        """Without a bridge of its own the stream is wired straight to the application's voice
        bridge, as an outside party: two mixer connections (our slot to its input, its output to
        our slot) and no slot or observer of a bridge per call. The calls hear the local party
        (the device, what the application plays in its voice bridge) and are heard by it, but not
        each other; a bridge holding every call would cost N² connections."""
        party, slot = self._local_party, None if self._audio is None else self._audio.slot
        wanted: set[tuple[int, int]] = set()
        if attach and party is not None and slot is not None:
            ends = ((slot, party.consumer_slot), (party.producer_slot, slot))
            wanted = {pair for pair in ends if None not in pair}
        for pair in self._attached - wanted:
            with contextlib.suppress(SIPCoreError):  # a freed slot took the connection with it
                self.mixer.disconnect_slots(*pair)
        for pair in wanted - self._attached:
            self.mixer.connect_slots(*pair)
        self._attached = wanted

    def _observe(self, observe: bool) -> None:
        if observe == self._observing:
            return
        self._observing = observe
        center = NotificationCenter()
        if observe:
            center.add_observer(self, name="AudioStreamPortGotDTMF")
            center.add_observer(self, name="RTPTransportDidTimeout", sender=self._rtp)
        else:
            center.discard_observer(self, name="AudioStreamPortGotDTMF")
            center.discard_observer(self, name="RTPTransportDidTimeout", sender=self._rtp)

    def handle_notification(self, notification: Notification) -> None:
        if notification.name == "AudioStreamPortGotDTMF":
            if self._audio is not None and notification.sender is self._audio.port:
                self._post("AudioStreamGotDTMF", digit=getattr(notification.data, "digit", None))
        elif notification.name == "RTPTransportDidTimeout" and not self._deactivated:
            self._post("AudioStreamDidTimeout")

    def _post(self, name: str, **data: Any) -> None:
        NotificationCenter().post_notification(
            name, sender=self, data=NotificationData(timestamp=ISOTimestamp.now(), **data)
        )

    def __repr__(self) -> str:
        state = "ended" if self._ended else "started" if self._started else "new"
        return f"<{type(self).__name__} {self.codec or '-'} {state}>"
