"""SDES: SRTP keys carried in SDP ``a=crypto`` attributes (RFC 4568), sans-IO.

Nothing here touches SDP objects, sockets or clocks: the caller hands in the media line's transport
profile and the values of its ``a=crypto`` attributes, and gets back what to write in its own
media line and the keys to install in an :class:`~sipsimple.core.media._srtp.SRTPSession`.

Rules of the negotiation (``SDESNegotiator``):

* Each side announces the key it *sends* with (RFC 4568 §6.1): our offer carries one crypto line
  per suite for the first ``offer_limit`` (default ``OFFER_LIMIT``, 2) suites we accept, in our
  order of preference, each with its own fresh key and tag 1, 2, ...; the answerer takes the first
  offered line it can honour, answers with the same tag and suite and its own new key. Our outbound
  key is the key of our line, our inbound key the peer's. (Each line is 60-90 bytes: with all four
  suites a multi-codec INVITE passes the 1300 bytes above which a UDP request moves to TCP,
  RFC 3261 §18.1.1, and fails on UDP-only routes. Answers still take any suite we accept, and a
  re-offer keeps the suite in force even when it is not among the first.)
* Key negotiation modes (``account.rtp.encryption.key_negotiation``; ``enabled = False`` is mode
  None):

  ==================  =========================  ==================================================
  mode                our offer                  we accept
  ==================  =========================  ==================================================
  None (disabled)     RTP/AVP, no crypto         plain RTP only; an RTP/SAVP offer is refused
  ``opportunistic``   RTP/AVP + crypto lines     SRTP when the other side sends a usable crypto
                                                 line (in either profile), plain RTP otherwise
  ``sdes_optional``   RTP/SAVP + crypto lines    as opportunistic
  ``sdes_mandatory``  RTP/SAVP + crypto lines    SRTP only: no usable crypto line is an error
  ==================  =========================  ==================================================

  An RTP/SAVP media line without a usable crypto line is always an error (that profile has no
  plain fallback); the caller rejects the stream (port 0) or the offer (488).
* What we cannot honour is refused with the reason (``CryptoAttributeError``): unknown suites or
  suites this libsrtp lacks, MKIs and several keys per line, key lifetimes below 2^31 packets (we do
  not rekey by packet count), key derivation rates other than 0, UNENCRYPTED_SRTP/SRTCP and
  UNAUTHENTICATED_SRTP, unknown mandatory session parameters. In an offer such a line is skipped
  in favour of the next one; in an answer it fails the negotiation.
* Re-INVITEs (RFC 4568 §7.1.4): a re-offer keeps our current key for the suite in use unless
  ``rekey=True``; an answer to a re-offer keeps our key when the suite stays. A peer's key that
  stays the same keeps the inbound context (``inbound_changed`` is False); a new one is a new
  context. ``SRTPSession.set_*_key`` changes nothing for a key it already has, so installing the
  result's keys every time is correct.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_SUITES",
    "KEY_NEGOTIATION_MODES",
    "MIN_LIFETIME",
    "OFFER_LIMIT",
    "SUITES",
    "CryptoAttribute",
    "CryptoAttributeError",
    "KeyParams",
    "SDESError",
    "SDESNegotiator",
    "SDESResult",
    "SRTPKeys",
    "Suite",
    "install_keys",
    "is_secure_profile",
    "plain_profile",
    "secure_profile",
]


class SDESError(ValueError):
    """The negotiation cannot give a usable result; ``reason`` says why in words a user can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CryptoAttributeError(SDESError):
    """An ``a=crypto`` value that is malformed, or that asks for something we cannot honour."""


# ---- the suites ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suite:
    """A crypto suite as RFC 4568 §6.2 / RFC 7714 §14.2 register it: key and salt octets, and the
    longest key lifetime (SRTP packets) the suite allows."""

    name: str
    key_length: int
    salt_length: int
    max_lifetime: int = 2**48

    @property
    def inline_length(self) -> int:
        return self.key_length + self.salt_length


SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite("AES_CM_128_HMAC_SHA1_80", 16, 14),
        Suite("AES_CM_128_HMAC_SHA1_32", 16, 14),
        Suite("AEAD_AES_128_GCM", 16, 12),
        Suite("AEAD_AES_256_GCM", 32, 12),
    )
}

# Widest interoperability first; an application may prefer GCM by passing its own order.
DEFAULT_SUITES = (
    "AES_CM_128_HMAC_SHA1_80",
    "AES_CM_128_HMAC_SHA1_32",
    "AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM",
)
KEY_NEGOTIATION_MODES = ("opportunistic", "sdes_optional", "sdes_mandatory")
#: how many of our suites an offer carries (the two AES_CM suites of RFC 4568 by default)
OFFER_LIMIT = 2
MIN_LIFETIME = 2**31  # shorter lifetimes would need rekeying by packet count during a call
WINDOW_SIZE_MIN = 64


# ---- a=crypto -----------------------------------------------------------------------------------

_TAG = re.compile(r"[0-9]{1,9}\Z")
_SUITE = re.compile(r"[A-Za-z0-9_]+\Z")
_LIFETIME = re.compile(r"(?:2\^([0-9]{1,2})|([0-9]{1,20}))\Z")
_MKI = re.compile(r"([0-9]{1,309}):([0-9]{1,3})\Z")  # a value of at most 128 octets
_NUMBER = re.compile(r"[0-9]{1,10}\Z")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}\Z")


@dataclass(frozen=True)
class KeyParams:
    """One ``inline:<key||salt>[|lifetime][|MKI:length]`` (RFC 4568 §6.1, §9.2)."""

    key: bytes
    lifetime: str | None = None  # as written: "2^31" or "1048576"
    mki: tuple[int, int] | None = None  # (value, length in octets)

    @property
    def lifetime_packets(self) -> int | None:
        match = _LIFETIME.match(self.lifetime or "")
        if match is None:
            return None
        power, packets = match.groups()
        return 2 ** int(power) if power is not None else int(packets)

    @classmethod
    def parse(cls, text: str) -> KeyParams:
        method, colon, info = text.partition(":")
        if not colon or method.lower() != "inline":
            raise CryptoAttributeError(f"key method {method!r} is not supported (only inline:)")
        key_text, *extras = info.split("|")
        if len(extras) > 2:
            raise CryptoAttributeError(f"too many '|' fields in key parameters {text!r}")
        if not _BASE64.match(key_text):
            raise CryptoAttributeError(f"the key {key_text!r} is not base64")
        try:
            key = base64.b64decode(key_text + "=" * (-len(key_text) % 4), validate=True)
        except (binascii.Error, ValueError) as e:
            raise CryptoAttributeError(f"the key {key_text!r} is not base64: {e}") from None
        lifetime, mki = None, None
        for extra in extras:
            if (m := _MKI.match(extra)) and mki is None:
                value, length = int(m.group(1)), int(m.group(2))
                if not 1 <= length <= 128 or value >= 256**length:
                    raise CryptoAttributeError(f"MKI {extra!r}: the value must fit in 1 to 128 octets")
                mki = (value, length)
            elif _LIFETIME.match(extra) and lifetime is None and mki is None:
                lifetime = extra
            else:
                raise CryptoAttributeError(f"{extra!r} is neither a key lifetime nor an MKI")
        return cls(key, lifetime, mki)

    def __str__(self) -> str:
        text = "inline:" + base64.b64encode(self.key).decode("ascii")
        if self.lifetime is not None:
            text += "|" + self.lifetime
        if self.mki is not None:
            text += f"|{self.mki[0]}:{self.mki[1]}"
        return text


def _check_session_param(param: str) -> None:
    name, _, value = param.partition("=")
    if name in ("KDR", "WSH") and not _NUMBER.match(value):
        raise CryptoAttributeError(f"session parameter {param!r} needs a number")
    if name == "KDR" and int(value) > 24:
        raise CryptoAttributeError(f"key derivation rate {param!r} is out of range (0 to 24)")


@dataclass(frozen=True)
class CryptoAttribute:
    """The value of one ``a=crypto`` attribute (RFC 4568 §9.1):
    ``<tag> <crypto-suite> <key-params>[;<key-params>...] [<session-param> ...]``.

    ``str(CryptoAttribute.parse(x)) == x`` for canonical input (single spaces, padded base64).
    """

    tag: int
    suite: str
    keys: tuple[KeyParams, ...]
    session_params: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, value: str | bytes) -> CryptoAttribute:
        if isinstance(value, bytes):
            try:
                value = value.decode("ascii")
            except UnicodeDecodeError:
                raise CryptoAttributeError("a crypto attribute must be ASCII") from None
        text = value.strip()
        if text[:7].lower() == "crypto:":
            text = text[7:]
        parts = text.split()
        if len(parts) < 3:
            raise CryptoAttributeError(
                f"a crypto attribute needs a tag, a suite and key parameters: {value!r}"
            )
        tag, suite, key_text, *params = parts
        if not _TAG.match(tag):
            raise CryptoAttributeError(f"the tag {tag!r} is not 1 to 9 digits")
        if not _SUITE.match(suite):
            raise CryptoAttributeError(f"the crypto suite {suite!r} is not a suite name")
        keys = tuple(KeyParams.parse(k) for k in key_text.split(";"))
        known = SUITES.get(suite.upper())
        if known is not None:
            suite = known.name
            for k in keys:
                if len(k.key) != known.inline_length:
                    raise CryptoAttributeError(
                        f"{suite} needs {known.inline_length} octets of key and salt, the key has {len(k.key)}"
                    )
                if (k.lifetime_packets or 0) > known.max_lifetime:
                    raise CryptoAttributeError(f"key lifetime {k.lifetime} exceeds {suite}'s maximum of 2^48")
        for param in params:
            _check_session_param(param)
        return cls(int(tag), suite, keys, tuple(params))

    def __str__(self) -> str:
        return " ".join(
            [str(self.tag), self.suite, ";".join(str(k) for k in self.keys), *self.session_params]
        )

    @property
    def key(self) -> bytes:
        """The (first) master key || salt."""
        return self.keys[0].key

    def unusable_reason(self, available: Iterable[str]) -> str | None:
        """Why we cannot honour this line (None: we can), given the suites we accept."""
        if self.suite not in SUITES or self.suite not in set(available):
            return f"crypto suite {self.suite} is not supported"
        if len(self.keys) > 1:
            return "several master keys (MKI) are not supported"
        key = self.keys[0]
        if key.mki is not None:
            return "MKI is not supported"
        lifetime = key.lifetime_packets
        if lifetime is not None and lifetime < MIN_LIFETIME:
            return f"a key lifetime of {key.lifetime} packets is too short (we do not rekey by packet count)"
        for param in self.session_params:
            reason = _session_param_reason(param)
            if reason:
                return reason
        return None


def _session_param_reason(param: str) -> str | None:
    name, _, value = param.partition("=")
    if name == "KDR":
        return None if int(value) == 0 else f"key derivation rate {param} is not supported"
    if name in ("UNENCRYPTED_SRTP", "UNENCRYPTED_SRTCP", "UNAUTHENTICATED_SRTP"):
        return f"{name} (weakened SRTP) is not accepted"
    if name == "WSH":
        return None if int(value) >= WINDOW_SIZE_MIN else f"window size hint {param} is below 64"
    if name in ("FEC_ORDER", "FEC_KEY") or name.startswith("-"):
        return None  # we negotiate no FEC; '-' marks parameters that may be ignored (RFC 4568 §6.3.7)
    return f"unknown session parameter {param}"


# ---- negotiation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SRTPKeys:
    """What an SRTPSession needs: ``local_key`` protects what we send, ``remote_key`` unprotects
    what the peer sends (both master key || salt of ``suite``)."""

    suite: str
    tag: int
    local_key: bytes = field(repr=False)
    remote_key: bytes = field(repr=False)


@dataclass(frozen=True)
class SDESResult:
    """One step of the negotiation: the transport profile and ``a=crypto`` values for our media
    line (an offer or an answer; for a processed answer, the profile the answer used and no
    crypto), the keys now in force (None: plain RTP) and which direction's key changed."""

    transport: str
    crypto: tuple[str, ...]
    keys: SRTPKeys | None
    outbound_changed: bool = False
    inbound_changed: bool = False

    @property
    def srtp_active(self) -> bool:
        return self.keys is not None


def is_secure_profile(transport: str) -> bool:
    return transport.upper() in ("RTP/SAVP", "RTP/SAVPF")


def secure_profile(transport: str) -> str:
    return {"RTP/AVP": "RTP/SAVP", "RTP/AVPF": "RTP/SAVPF"}.get(transport.upper(), transport)


def plain_profile(transport: str) -> str:
    return {"RTP/SAVP": "RTP/AVP", "RTP/SAVPF": "RTP/AVPF"}.get(transport.upper(), transport)


def _default_available() -> list[str]:
    from sipsimple.core.media._srtp import available_suites

    return available_suites()


class SDESNegotiator:
    """The SDES side of one RTP stream across its offers and answers (see the module rules).

    ``key_negotiation`` is one of KEY_NEGOTIATION_MODES, or None when encryption is disabled.
    ``suites`` is our order of preference; suites this libsrtp lacks (``available``, by default
    asked of ``_srtp``) are left out. Offers carry the first ``offer_limit`` of them (None: all).
    ``random_bytes`` makes keys (``os.urandom``).
    """

    def __init__(
        self,
        key_negotiation: str | None = "opportunistic",
        suites: Sequence[str] = DEFAULT_SUITES,
        *,
        available: Iterable[str] | None = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
        offer_limit: int | None = OFFER_LIMIT,
    ) -> None:
        if key_negotiation is not None and key_negotiation not in KEY_NEGOTIATION_MODES:
            raise ValueError(f"unknown SRTP key negotiation {key_negotiation!r}")
        unknown = [s for s in suites if s not in SUITES]
        if unknown:
            raise ValueError(f"unknown SRTP crypto suites {unknown}")
        accepted = set(_default_available() if available is None else available)
        self.mode = key_negotiation
        self.suites = tuple(s for s in dict.fromkeys(suites) if s in accepted)
        if key_negotiation is not None and not self.suites:
            raise ValueError("none of the SRTP crypto suites is available")
        self._random_bytes = random_bytes
        self.offer_limit = offer_limit
        self._offered: dict[int, tuple[str, bytes]] | None = None
        self.keys: SRTPKeys | None = None

    @classmethod
    def for_account(cls, account: Any, **kwargs: Any) -> SDESNegotiator:
        """A negotiator following ``account.rtp.encryption`` (``enabled`` and ``key_negotiation``)."""
        encryption = account.rtp.encryption
        return cls(encryption.key_negotiation if encryption.enabled else None, **kwargs)

    @property
    def srtp_active(self) -> bool:
        return self.keys is not None

    def _key_for(self, suite: str, rekey: bool) -> bytes:
        if self.keys is not None and self.keys.suite == suite and not rekey:
            return self.keys.local_key
        key = self._random_bytes(SUITES[suite].inline_length)
        if len(key) != SUITES[suite].inline_length:
            raise ValueError("random_bytes returned the wrong number of octets")
        return key

    def _settle(self, transport: str, crypto: tuple[str, ...], keys: SRTPKeys | None) -> SDESResult:
        old, self.keys = self.keys, keys

        def key(k: SRTPKeys | None, local: bool) -> tuple[str, bytes] | None:
            return None if k is None else (k.suite, k.local_key if local else k.remote_key)

        return SDESResult(
            transport, crypto, keys, key(old, True) != key(keys, True), key(old, False) != key(keys, False)
        )

    # -- we offer --------------------------------------------------------------------------------

    def offered_suites(self) -> tuple[str, ...]:
        """The suites an offer carries: the first ``offer_limit``, and the one in force."""
        limit = len(self.suites) if self.offer_limit is None else max(1, self.offer_limit)
        current = None if self.keys is None else self.keys.suite
        return tuple(s for i, s in enumerate(self.suites) if i < limit or s == current)

    def make_offer(self, transport: str = "RTP/AVP", *, rekey: bool = False) -> SDESResult:
        """Our offer's profile and crypto lines; ``keys`` in the result are those still in force."""
        if self.mode is None:
            self._offered = {}
            return SDESResult(plain_profile(transport), (), self.keys)
        self._offered = {
            tag: (suite, self._key_for(suite, rekey)) for tag, suite in enumerate(self.offered_suites(), 1)
        }
        crypto = tuple(
            str(CryptoAttribute(tag, suite, (KeyParams(key),))) for tag, (suite, key) in self._offered.items()
        )
        profile = plain_profile(transport) if self.mode == "opportunistic" else secure_profile(transport)
        return SDESResult(profile, crypto, self.keys)

    def process_answer(self, transport: str, crypto: Iterable[str | bytes]) -> SDESResult:
        """The answer to our last offer: the keys in force from now on."""
        if self._offered is None:
            raise SDESError("an SDP answer arrived but no offer of ours is outstanding")
        offered, self._offered = self._offered, None
        if self.mode is None:
            if is_secure_profile(transport):
                raise SDESError(f"the answer uses {transport}, which we did not offer")
            return self._settle(transport, (), None)
        lines = [CryptoAttribute.parse(value) for value in crypto]
        if not lines:
            if self.mode == "sdes_mandatory" or is_secure_profile(transport):
                raise SDESError(f"the answer ({transport}) has no crypto attribute but SRTP is required")
            return self._settle(transport, (), None)
        if len(lines) > 1:
            raise SDESError("an answer must carry exactly one crypto attribute (RFC 4568 §7.1.2)")
        line = lines[0]
        if line.tag not in offered or offered[line.tag][0] != line.suite:
            raise SDESError(f"the answer's crypto tag {line.tag} ({line.suite}) is not one we offered")
        reason = line.unusable_reason(self.suites)
        if reason is not None:
            raise CryptoAttributeError(f"the answer's crypto attribute cannot be used: {reason}")
        suite, local_key = offered[line.tag]
        return self._settle(transport, (), SRTPKeys(suite, line.tag, local_key, line.key))

    # -- we answer -------------------------------------------------------------------------------

    def process_offer(
        self, transport: str, crypto: Iterable[str | bytes], *, rekey: bool = False
    ) -> SDESResult:
        """Our answer to an offer: its profile (the offer's), our crypto line, the keys in force."""
        secure = is_secure_profile(transport)
        if self.mode is None:
            if secure:
                raise SDESError(f"SRTP was offered ({transport}) but encryption is disabled")
            return self._settle(transport, (), None)
        reasons = []
        for value in crypto:
            try:
                line = CryptoAttribute.parse(value)
            except CryptoAttributeError as e:
                reasons.append(e.reason)
                continue
            reason = line.unusable_reason(self.suites)
            if reason is None:
                key = self._key_for(line.suite, rekey)
                answer = str(CryptoAttribute(line.tag, line.suite, (KeyParams(key),)))
                return self._settle(transport, (answer,), SRTPKeys(line.suite, line.tag, key, line.key))
            reasons.append(reason)
        if secure or self.mode == "sdes_mandatory":
            why = "; ".join(reasons) if reasons else "the offer has no crypto attribute"
            raise SDESError(
                f"SRTP is required ({transport}, {self.mode}) but no offered key can be used: {why}"
            )
        return self._settle(transport, (), None)


def install_keys(session: Any, keys: SRTPKeys | None) -> tuple[bool, bool]:
    """Put ``keys`` into an SRTPSession (None clears it); returns (outbound, inbound) replaced."""
    if keys is None:
        had = (session.outbound_suite is not None, session.inbound_suite is not None)
        session.clear_keys()
        return had
    inbound = session.set_inbound_key(keys.suite, keys.remote_key)
    outbound = session.set_outbound_key(keys.suite, keys.local_key)
    return (outbound, inbound)
