"""``AudioTransport``: the SDP face of one RTP audio stream (see docs/media-audio-transport.md).

It turns an SDP offer or answer into the plain parameters of an
:class:`~sipsimple.core.media._stream.AudioStreamPort` and back: ``get_local_media()`` writes our
``m=audio`` description (codecs in ``Engine.codecs`` order, telephone-event, ptime, direction,
rtcp-mux, SDES crypto lines), ``start()`` reads the negotiated pair (codec, ptime, remote address,
telephone-event payload type, SRTP keys), creates the stream port and adds it to the mixer;
``update_sdp()`` applies a re-INVITE, ``update_direction()`` a hold.

Payload type numbers are kept per direction: the stream sends with the numbers of the peer's SDP
and accepts those of ours (RFC 3264 §5.1), for the codec, telephone-event and comfort noise alike.
With ``enable_silence_detection`` the stream stops sending while the input is silent: Opus uses
its own DTX; codecs with an 8000 Hz RTP clock (PCMU, PCMA, G.722, GSM, Speex narrowband) send
RFC 3389 comfort noise, so ``CN/8000`` (payload type 13) is offered and answered. It is off by
default, as in the reference: a softphone user expects the far end to hear the room, not a
generated noise, unless bandwidth matters more.

The RTPTransport stays the caller's: ``stop()`` removes the stream from the mixer but does not close
the transport.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sipsimple.core._errors import SIPCoreError, SIPCoreInvalidStateError
from sipsimple.core.media.sdes import (
    DEFAULT_SUITES,
    SDESError,
    SDESNegotiator,
    SRTPKeys,
    install_keys,
    is_secure_profile,
)
from sipsimple.core.sdp import (
    Direction,
    RTPCodec,
    SDPAttribute,
    SDPConnection,
    SDPMediaStream,
    answer_codecs,
    codec_list,
)

__all__ = ["AudioTransport", "AudioTransportError", "NoCommonCodecError"]

TELEPHONE_EVENT = "telephone-event"
COMFORT_NOISE = RTPCodec(13, "CN", 8000)  # RFC 3551 static payload type 13
DEFAULT_DTMF_PAYLOAD_TYPE = 101
#: fmtp we put on our own codec lines (what we want to receive)
OUR_FMTP = {"opus": "useinbandfec=1"}
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


class AudioTransportError(SIPCoreError):
    """The SDP cannot be used for an audio stream; ``code`` is the SIP status to answer an offer
    with (488 Not Acceptable Here)."""

    code = 488

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NoCommonCodecError(AudioTransportError):
    """The offer (or answer) has no codec we can use."""


@dataclass(frozen=True)
class _Negotiated:
    codec: RTPCodec
    payload_type: int  # the peer's number: what we send with
    fmtp: str | None
    ptime: int
    dtmf_payload_type: int | None
    direction: Direction
    remote_address: str | None
    remote_port: int | None
    remote_rtcp_port: int | None
    receive_payload_type: int | None = None  # our number: what we accept (None: payload_type)
    receive_dtmf_payload_type: int | None = None
    cn_payload_type: int | None = None
    receive_cn_payload_type: int | None = None

    @property
    def stream_key(self) -> tuple[Any, ...]:
        """What the stream port is made of: a change re-creates it."""
        return (
            self.codec.key,
            self.payload_type,
            self.fmtp,
            self.ptime,
            self.dtmf_payload_type,
            self.receive_payload_type,
            self.receive_dtmf_payload_type,
            self.cn_payload_type,
            self.receive_cn_payload_type,
        )


def _engine_codecs() -> list[str]:
    from sipsimple.core.engine import Engine

    return list(Engine().codecs)


def _codec_table() -> list[Any]:
    from sipsimple.core.media._codecs import available_codecs

    return list(available_codecs())


@functools.lru_cache(maxsize=64)  # the engine's codec table is fixed; every call asks the same
def _supported_codecs(wanted: tuple[str, ...], our_fmtp: tuple[tuple[str, str], ...]) -> tuple[RTPCodec, ...]:
    table = _codec_table()
    fmtps = dict(our_fmtp)
    result: list[RTPCodec] = []
    for name in wanted:
        for info in table:
            if info.name.lower() == name:
                codec = RTPCodec(info.payload_type, info.name, info.rtp_clock_rate, info.channels)
                result.append(codec._replace(fmtp=fmtps.get(name)))
    return tuple(result)


def _is_dtmf(codec: RTPCodec) -> bool:
    return codec.name.lower() == TELEPHONE_EVENT


def _is_cn(codec: RTPCodec) -> bool:
    return codec.key == COMFORT_NOISE.key


def _is_media(codec: RTPCodec) -> bool:
    """An audio codec, not one of the formats that travel beside it."""
    return not _is_dtmf(codec) and not _is_cn(codec)


def _uses_cn(codecs: Iterable[RTPCodec]) -> bool:
    """Whether comfort noise goes with these codecs: CN/8000 serves codecs with an 8000 Hz RTP
    clock; Opus has DTX of its own."""
    return any(_is_media(c) and c.clock_rate == COMFORT_NOISE.clock_rate for c in codecs)


def _payload_type_of(codecs: Iterable[RTPCodec], wanted: Any) -> int | None:
    return next((c.payload_type for c in codecs if wanted(c)), None)


def _codec_frame_durations(codec: RTPCodec) -> tuple[float, ...]:
    from sipsimple.core.media._codecs import find_codec

    info = find_codec(codec.name, _native_rate(codec))
    return tuple(info.frame_durations)


def _native_rate(codec: RTPCodec) -> int:
    """The codec's PCM rate (G.722 is 16 kHz behind its 8000 RTP clock, RFC 3551 §4.5.2)."""
    return _native_rate_of(codec.name.lower(), codec.clock_rate)


@functools.lru_cache(maxsize=64)  # the engine's codec table is fixed
def _native_rate_of(name: str, clock_rate: int) -> int:
    for info in _codec_table():
        if info.name.lower() == name and info.rtp_clock_rate == clock_rate:
            return int(info.clock_rate)
    return clock_rate


def _ptime_of(media: Any) -> int | None:
    value = media.attributes.getfirst("ptime", None)
    if value is None:
        return None
    try:
        ptime = float(value)
    except ValueError:
        return None
    return int(ptime) if ptime > 0 else None


def _direction_of(session: Any, index: int) -> Direction:
    return Direction(session.direction_of(index))


class AudioTransport:
    """One RTP audio stream negotiated through SDP, played through ``mixer``.

    ``codecs`` is the list of codec names in our order of preference (default: ``Engine().codecs``);
    ``srtp_mode`` is None (plain RTP) or one of ``opportunistic``, ``sdes_optional``,
    ``sdes_mandatory``. When ``remote_sdp`` is given (an incoming offer) its stream ``sdp_index``
    is checked at once, so an unusable offer fails here (``AudioTransportError``, answer 488).
    """

    def __init__(
        self,
        mixer: Any,
        rtp_transport: Any,
        remote_sdp: Any = None,
        sdp_index: int = 0,
        enable_silence_detection: bool = False,
        codecs: Iterable[str] | None = None,
        ptime: int = 20,
        srtp_mode: str | None = None,
        *,
        srtp_suites: Sequence[str] = DEFAULT_SUITES,
        dtmf_payload_type: int = DEFAULT_DTMF_PAYLOAD_TYPE,
    ) -> None:
        self.mixer = mixer
        self.transport = rtp_transport
        self.enable_silence_detection = enable_silence_detection
        self.codecs = list(_engine_codecs() if codecs is None else codecs)
        self._ptime = ptime
        self.srtp_mode = srtp_mode
        self._default_dtmf_pt = dtmf_payload_type
        self._sdes = SDESNegotiator(srtp_mode, srtp_suites)
        self._role: str | None = None  # "offer" / "answer": what our last local media was
        #: every payload type our SDP has bound in this session, by codec key (RFC 3264 §8.3.2)
        self._payload_types: dict[tuple[str, int, int], int] = {}
        self._wanted = Direction.SENDRECV
        self._negotiated: _Negotiated | None = None
        self._srtp_session: Any = None
        self.port: Any = None
        self.slot: int | None = None
        self.remote_sdp = remote_sdp
        self.sdp_index = sdp_index
        if remote_sdp is not None:
            self._answer_codecs(remote_sdp.media[sdp_index])

    # -- our codecs --------------------------------------------------------------------------------

    def supported_codecs(self) -> list[RTPCodec]:
        """Our codecs as SDP formats, in preference order, each with its payload type and fmtp."""
        wanted = tuple(name.lower() for name in self.codecs)
        return list(_supported_codecs(wanted, tuple(OUR_FMTP.items())))

    def _offer_codecs(self) -> list[RTPCodec]:
        codecs = self.supported_codecs()
        used = {c.payload_type for c in codecs}
        rates: list[int] = []
        for codec in codecs:
            if codec.clock_rate not in rates:
                rates.append(codec.clock_rate)
        events: list[RTPCodec] = []
        next_pt = self._default_dtmf_pt
        for rate in rates:
            while next_pt in used:
                next_pt = next_pt + 1 if next_pt < 127 else 96
            used.add(next_pt)
            events.append(RTPCodec(next_pt, TELEPHONE_EVENT, rate, 1, "0-16"))
        extra = [COMFORT_NOISE] if self.enable_silence_detection and _uses_cn(codecs) else []
        return codecs + extra + events

    def _keep_payload_types(self, codecs: list[RTPCodec]) -> list[RTPCodec]:
        """A re-offer must not bind a payload type number to another codec than before in this
        session (RFC 3264 §8.3.2): a codec we (or the peer's offer we answered) numbered already
        keeps that number, and a codec seen for the first time gets its own number unless another
        codec had it, then a free dynamic one (96-127)."""
        bound = self._payload_types
        if not bound:
            return codecs
        kept = [c._replace(payload_type=bound[c.key]) if c.key in bound else c for c in codecs]
        taken = set(bound.values()) | {c.payload_type for c in kept if c.key in bound}
        result: list[RTPCodec] = []
        for codec in kept:
            if codec.key not in bound:
                if codec.payload_type in taken:
                    free = next((pt for pt in range(96, 128) if pt not in taken), None)
                    if free is None:
                        continue  # no number left for a codec the peer never saw: leave it out
                    codec = codec._replace(payload_type=free)
                taken.add(codec.payload_type)
            result.append(codec)
        return result

    def _answer_codecs(self, offer_media: Any) -> list[RTPCodec]:
        if offer_media.port == 0:
            raise AudioTransportError("the audio stream was offered with port 0 (disabled)")
        if not offer_media.is_rtp:
            raise AudioTransportError(f"the audio stream uses {offer_media.transport}, not RTP")
        chosen = answer_codecs(offer_media, self.supported_codecs())
        if not chosen:
            offered = ", ".join(str(c) for c in codec_list(offer_media) if _is_media(c)) or "none"
            raise NoCommonCodecError(
                f"no common audio codec (offered: {offered}; ours: {', '.join(self.codecs)})"
            )
        if self.enable_silence_detection and _uses_cn(chosen):
            chosen.extend(c for c in codec_list(offer_media) if _is_cn(c))
        ours = {name.lower(): fmtp for name, fmtp in OUR_FMTP.items()}
        return [c._replace(fmtp=ours.get(c.name.lower(), c.fmtp)) for c in chosen]

    # -- SDP ---------------------------------------------------------------------------------------

    def get_local_media(
        self,
        remote_sdp: Any = None,
        index: int = 0,
        direction: str | Direction | None = None,
        *,
        rekey: bool = False,
    ) -> SDPMediaStream:
        """Our ``m=audio`` description: an offer, or with ``remote_sdp`` the answer to its stream
        ``index``. ``direction`` (default: the one of the last ``update_direction()``) is what we
        want; an answer limits it by what the offer allows. With SRTP in force our key is kept
        across re-INVITEs unless ``rekey`` is true."""
        wanted = self._wanted if direction is None else Direction(direction)
        address = self.transport.local_rtp_address
        port = self.transport.local_rtp_port
        if address is None or port is None:
            raise AudioTransportError("the RTP transport has no local address (memory transport?)")
        try:
            if remote_sdp is None:
                codecs = self._keep_payload_types(self._offer_codecs())
                sdes = self._sdes.make_offer("RTP/AVP", rekey=rekey)
                self._role = "offer"
            else:
                offer_media = remote_sdp.media[index]
                codecs = self._answer_codecs(offer_media)
                sdes = self._sdes.process_offer(
                    offer_media.transport, offer_media.attributes.getall("crypto"), rekey=rekey
                )
                wanted = wanted & _direction_of(remote_sdp, index).mirror()
                self._role = "answer"
        except SDESError as e:
            raise AudioTransportError(e.reason) from None
        for codec in codecs:
            if codec.payload_type is not None:
                self._payload_types.setdefault(codec.key, codec.payload_type)
        attributes: list[Any] = []
        for codec in codecs:
            attributes.extend(codec.attributes())
        if self.transport.rtcp_mux and (
            remote_sdp is None or "rtcp-mux" in remote_sdp.media[index].attributes
        ):
            attributes.append(SDPAttribute("rtcp-mux", ""))
        attributes.extend(SDPAttribute("crypto", line) for line in sdes.crypto)
        attributes.append(SDPAttribute("ptime", str(self._ptime)))
        media = SDPMediaStream(
            "audio",
            port,
            sdes.transport,
            formats=[str(c.payload_type) for c in codecs],
            connection=SDPConnection(address, address_type="IP6" if ":" in address else "IP4"),
            attributes=attributes,
        )
        media.direction = wanted
        return media

    def validate_offer(self, remote_sdp: Any, index: int) -> None:
        """Whether a new offer (a re-INVITE) for stream ``index`` could be answered: a codec in
        common and SRTP keys our ``srtp_mode`` accepts; ``AudioTransportError`` (488) if not.
        Nothing changes: the SRTP check runs on a throw-away negotiator."""
        media = remote_sdp.media[index]
        self._answer_codecs(media)
        probe = SDESNegotiator(self.srtp_mode, self._sdes.suites)
        try:
            probe.process_offer(media.transport, media.attributes.getall("crypto"))
        except SDESError as e:
            raise AudioTransportError(e.reason) from None

    def _negotiate(self, local_sdp: Any, remote_sdp: Any, index: int) -> _Negotiated:
        local_media, remote_media = local_sdp.media[index], remote_sdp.media[index]
        if remote_media.port == 0 or local_media.port == 0:
            raise AudioTransportError("the audio stream was rejected (port 0)")
        local_codecs = codec_list(local_media)
        remote_codecs = codec_list(remote_media)
        answer, other = (
            (local_codecs, remote_codecs) if self._role == "answer" else (remote_codecs, local_codecs)
        )
        other_keys = {c.key: c for c in other}
        chosen: RTPCodec | None = None
        for codec in answer:
            if _is_media(codec) and codec.key in other_keys:
                chosen = codec
                break
        if chosen is None:
            raise NoCommonCodecError("the offer and the answer have no audio codec in common")
        key, rate = chosen.key, chosen.clock_rate
        remote_codec = next(c for c in remote_codecs if c.key == key)
        local_codec = next(c for c in local_codecs if c.key == key)

        def dtmf_at_rate(c: RTPCodec) -> bool:
            return _is_dtmf(c) and c.clock_rate == rate

        dtmf = _payload_type_of(remote_codecs, dtmf_at_rate)
        receive_dtmf = _payload_type_of(local_codecs, dtmf_at_rate)
        if dtmf is None or receive_dtmf is None:
            dtmf = receive_dtmf = None
        cn = receive_cn = None
        if rate == COMFORT_NOISE.clock_rate:
            cn = _payload_type_of(remote_codecs, _is_cn)
            receive_cn = _payload_type_of(local_codecs, _is_cn)
            if cn is None or receive_cn is None:
                cn = receive_cn = None
        ptime = _ptime_of(remote_media) or self._ptime
        if ptime not in _codec_frame_durations(chosen):
            ptime = self._ptime if self._ptime in _codec_frame_durations(chosen) else 20
        connection = remote_sdp.connection_of(index)
        remote_address = None if connection is None or connection.is_null else connection.host
        remote_port: int | None = remote_media.port
        rtcp_port: int | None = None
        if "rtcp-mux" in remote_media.attributes and "rtcp-mux" in local_media.attributes:
            rtcp_port = remote_media.port
        elif "rtcp" in remote_media.attributes:
            rtcp_port = next(a.parsed.port for a in remote_media.attributes if a.name == "rtcp")
        direction = _direction_of(local_sdp, index) & remote_sdp.effective_direction_of(index).mirror()
        if remote_address is None:
            remote_port = rtcp_port = None
        assert remote_codec.payload_type is not None
        return _Negotiated(
            codec=chosen,
            payload_type=remote_codec.payload_type,
            fmtp=remote_codec.fmtp,
            ptime=ptime,
            dtmf_payload_type=dtmf,
            direction=direction,
            remote_address=remote_address,
            remote_port=remote_port,
            remote_rtcp_port=rtcp_port,
            receive_payload_type=local_codec.payload_type,
            receive_dtmf_payload_type=receive_dtmf,
            cn_payload_type=cn,
            receive_cn_payload_type=receive_cn,
        )

    def _settle_srtp(self, remote_sdp: Any, index: int) -> None:
        remote_media = remote_sdp.media[index]
        try:
            if self._role == "offer":
                self._sdes.process_answer(remote_media.transport, remote_media.attributes.getall("crypto"))
                self._role = None
            elif self._role is None and is_secure_profile(remote_media.transport) and self._sdes.keys is None:
                raise AudioTransportError(f"the remote stream uses {remote_media.transport} without keys")
        except SDESError as e:
            raise AudioTransportError(e.reason) from None
        self._install(self._sdes.keys)

    def _install(self, keys: SRTPKeys | None) -> None:
        if keys is None:
            if self._srtp_session is not None:
                self.transport.set_srtp(None)
                self._srtp_session = None
            return
        if self._srtp_session is None:
            from sipsimple.core.media._srtp import SRTPSession

            self._srtp_session = SRTPSession()
            install_keys(self._srtp_session, keys)
            self.transport.set_srtp(self._srtp_session)
        else:
            install_keys(self._srtp_session, keys)

    # -- the stream --------------------------------------------------------------------------------

    def _make_port(self, negotiated: _Negotiated) -> Any:
        from sipsimple.core.media._stream import AudioStreamPort

        codec = negotiated.codec
        opus = codec.name.lower() == "opus"
        sample_rate = None
        if opus:
            rate = int(self.mixer.sample_rate)
            sample_rate = rate if rate in OPUS_RATES else 48000
        return AudioStreamPort(
            self.transport,
            codec.name,
            _native_rate(codec),
            payload_type=negotiated.payload_type,
            ptime=negotiated.ptime,
            fmtp=negotiated.fmtp,
            sample_rate=sample_rate,
            frame_time=int(self.mixer.frame_time),
            direction=str(negotiated.direction),
            dtmf_payload_type=negotiated.dtmf_payload_type,
            dtx=True if (opus and self.enable_silence_detection) else None,
            receive_payload_type=negotiated.receive_payload_type,
            receive_dtmf_payload_type=negotiated.receive_dtmf_payload_type,
            cn_payload_type=negotiated.cn_payload_type,
            receive_cn_payload_type=negotiated.receive_cn_payload_type,
            silence_detection=self.enable_silence_detection and negotiated.cn_payload_type is not None,
        )

    def _apply_remote(self, negotiated: _Negotiated) -> None:
        self.transport.set_remote(
            negotiated.remote_address, negotiated.remote_port, negotiated.remote_rtcp_port
        )

    def start(self, local_sdp: Any, remote_sdp: Any, sdp_index: int, timeout: float = 30) -> None:
        """Starts the stream negotiated by ``local_sdp`` and ``remote_sdp`` (stream ``sdp_index``):
        installs SRTP keys, creates the stream port and adds it to the mixer (``slot``).
        ``timeout`` is the RTP inactivity timeout in seconds (0: none)."""
        if self.port is not None:
            raise SIPCoreInvalidStateError("the audio transport was already started")
        negotiated = self._negotiate(local_sdp, remote_sdp, sdp_index)
        self._settle_srtp(remote_sdp, sdp_index)
        self._apply_remote(negotiated)
        self.transport.timeout = timeout
        port = self._make_port(negotiated)
        self.slot = self.mixer.add_port(port.port_capsule(), port)
        self.port = port
        port.start()
        self._negotiated = negotiated
        self.sdp_index = sdp_index
        self.remote_sdp = remote_sdp

    def update_sdp(self, local_sdp: Any, remote_sdp: Any, index: int) -> None:
        """Applies a completed re-INVITE exchange: a new codec (or ptime, fmtp, telephone-event)
        re-creates the stream port, in the same connections of the mixer but possibly another
        ``slot``; new SRTP keys rekey, unchanged ones keep the contexts; address and direction follow."""
        if self.port is None:
            raise SIPCoreInvalidStateError("the audio transport is not started")
        negotiated = self._negotiate(local_sdp, remote_sdp, index)
        self._settle_srtp(remote_sdp, index)
        self._apply_remote(negotiated)
        old = self._negotiated
        assert old is not None
        if old.stream_key == negotiated.stream_key:
            self.port.direction = str(negotiated.direction)
        else:
            self._replace_port(negotiated)
        self._negotiated = negotiated
        self.remote_sdp = remote_sdp
        self.sdp_index = index

    def _replace_port(self, negotiated: _Negotiated) -> None:
        old_slot = self.slot
        assert old_slot is not None
        connections = [c for c in self.mixer.connected_slots if old_slot in c]
        new = self._make_port(negotiated)
        self.port.stop(bye=False)
        self.mixer.remove_port(old_slot)
        slot = self.mixer.add_port(new.port_capsule(), new)
        for src, dst in connections:
            self.mixer.connect_slots(slot if src == old_slot else src, slot if dst == old_slot else dst)
        self.port, self.slot = new, slot
        new.start()

    def update_direction(self, direction: str | Direction) -> None:
        """What we want to do now (hold: sendonly or inactive); the stream follows at once, within
        what the remote side allows, and ``get_local_media()`` offers it from now on."""
        self._wanted = Direction(direction)
        if self.port is not None and self._negotiated is not None and self.remote_sdp is not None:
            remote = self.remote_sdp.effective_direction_of(self.sdp_index).mirror()
            self.port.direction = str(self._wanted & remote)

    def send_dtmf(self, digit: str) -> None:
        if self.port is None:
            raise SIPCoreInvalidStateError("the audio transport is not started")
        if self.port.dtmf_payload_type is None:
            raise AudioTransportError("the remote side did not negotiate telephone-event")
        self.port.send_dtmf(digit)

    def stop(self) -> None:
        """Stops the stream and removes it from the mixer (idempotent; the RTPTransport stays open)."""
        port, slot = self.port, self.slot
        self.port = self.slot = None
        if port is not None:
            port.stop()
        if slot is not None:
            self.mixer.remove_port(slot)

    # -- attributes --------------------------------------------------------------------------------

    @property
    def is_started(self) -> bool:
        return self.port is not None

    @property
    def codec(self) -> str | None:
        return None if self._negotiated is None else self._negotiated.codec.name

    @property
    def sample_rate(self) -> int | None:
        return None if self._negotiated is None else _native_rate(self._negotiated.codec)

    @property
    def ptime(self) -> int:
        """The packet time we send with: the negotiated one once started, else the configured one."""
        return self._ptime if self._negotiated is None else self._negotiated.ptime

    @property
    def direction(self) -> str | None:
        """The stream's direction now (None before ``start()``)."""
        return None if self.port is None else str(self.port.direction)

    @property
    def srtp_active(self) -> bool:
        return self._srtp_session is not None and bool(self.transport.srtp_active)

    @property
    def srtp_suite(self) -> str | None:
        keys = self._sdes.keys
        return None if keys is None else keys.suite

    @property
    def srtp_keys(self) -> SRTPKeys | None:
        """The SDES keys negotiated last (suite, tag, our key, the peer's key), or None."""
        return self._sdes.keys

    @property
    def local_rtp_address(self) -> str | None:
        return self.transport.local_rtp_address

    @property
    def local_rtp_port(self) -> int | None:
        return self.transport.local_rtp_port

    @property
    def remote_rtp_address(self) -> str | None:
        return self.transport.remote_rtp_address

    @property
    def remote_rtp_port(self) -> int | None:
        return self.transport.remote_rtp_port

    @property
    def remote_rtp_address_received(self) -> str | None:
        return self.transport.remote_rtp_address_received

    @property
    def statistics(self) -> dict[str, Any] | None:
        """The stream port's statistics (docs/media-stream.md), or None when not started."""
        return None if self.port is None else dict(self.port.statistics)
