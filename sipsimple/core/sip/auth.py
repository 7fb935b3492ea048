"""SIP digest authentication (RFC 3261 §22, RFC 7616, RFC 8760, RFC 2617), sans-IO.

The module reads challenge header values and request facts and returns ``Authorization`` /
``Proxy-Authorization`` header values. It opens no socket, reads no clock and logs nothing.

How the request layer uses it after a 401 or 407::

    challenges = [c for value in header_values for c in parse_challenges(value)]
    for challenge in select_challenges(challenges):  # the strongest usable challenge per realm
        if not client.can_answer(challenge) or not policy.should_retry(challenge, proxy=is_407):
            ...  # report failure
        header_value = client.authorize(challenge, method, request_uri, body)

Keep one ``DigestClient`` per account: it holds the credentials and the per-(realm, nonce) state
(client nonce and nonce count), so answering a remembered challenge again uses the next ``nc``.
Make one ``RetryPolicy`` per logical request (a request and its re-sends with new CSeq numbers).

Retry rules (the state machine ``RETRY_TRANSITIONS`` below, per (proxy?, realm) of one request):

1. The first challenge for a realm is answered (state UNANSWERED -> ANSWERED). Credentials sent
   pre-emptively from a remembered challenge do not count as an answer in this request, so a
   server that forgot its nonce gets one fresh answer.
2. A new challenge for a realm already answered in this request, without ``stale=true``, means
   the server refused the credentials (wrong user name or password): do not retry (-> FAILED).
   The caller reports the failure; there is no retry storm.
3. A challenge with ``stale=true`` for an answered realm means only the nonce expired: retry with
   the new nonce, not counted as a failure, but at most ``max_stale_retries`` times in a row so a
   broken server cannot make the client loop.
4. Proxy (407) and server (401) realms are tracked separately, so a proxy and a registrar that
   both challenge are both answered. A FAILED realm stays failed.
5. The caller re-sends only if ``should_retry`` is true for every challenge it selected.

Decisions:

* Algorithms: MD5, MD5-sess, SHA-256, SHA-256-sess, SHA-512-256, SHA-512-256-sess. SHA-512/256
  comes from hashlib when OpenSSL provides it; otherwise a small pure-Python SHA-512/256
  (FIPS 180-4) is used, so the algorithm is always supported. ``SHA512_256_BACKEND`` says which.
* Non-ASCII user names are sent as UTF-8 inside the quoted string, as SIP's grammar allows
  (RFC 3261 §25.1 ``qdtext`` includes UTF8-NONASCII), and hashed as UTF-8. ``username*`` is an
  HTTP form (RFC 7616 §3.4.4) that SIP servers do not expect, so it is never sent; it is accepted
  by ``parse_credentials``. User names with control characters are rejected with AuthError.
* No qop in the challenge: RFC 2069 answer (no cnonce, no nc); ``-sess`` then cannot be answered.
  qop ``auth`` is preferred over ``auth-int`` when both are offered.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
import re
import secrets
import struct
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from urllib.parse import unquote_to_bytes

__all__ = [
    "RETRY_TRANSITIONS",
    "SHA512_256_BACKEND",
    "SUPPORTED_ALGORITHMS",
    "AuthError",
    "Challenge",
    "DigestClient",
    "DigestCredentials",
    "DigestServer",
    "RealmState",
    "RetryEvent",
    "RetryPolicy",
    "Verdict",
    "format_challenges",
    "parse_challenges",
    "parse_credentials",
    "select_challenge",
    "select_challenges",
]


class AuthError(ValueError):
    """A challenge or credentials value that is malformed or cannot be answered; the message says why."""


# --------------------------------------------------------------------------------------------
# Hash functions

_MASK64 = (1 << 64) - 1


def _first_primes(count: int) -> list[int]:
    primes: list[int] = []
    candidate = 2
    while len(primes) < count:
        if all(candidate % p for p in primes if p * p <= candidate):
            primes.append(candidate)
        candidate += 1
    return primes


def _integer_cube_root(n: int) -> int:
    x = 1 << -(-n.bit_length() // 3)  # at or above the root, so Newton's method descends to the floor
    while True:
        y = (2 * x + n // (x * x)) // 3
        if y >= x:
            return x
        x = y


@cache
def _sha512_constants() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """SHA-512 round constants and initial hash value, derived as FIPS 180-4 §4.2.3 and §5.3.5 define them."""
    primes = _first_primes(80)
    rounds = tuple(_integer_cube_root(p << 192) & _MASK64 for p in primes)
    initial = tuple(math.isqrt(p << 128) & _MASK64 for p in primes[:8])
    return rounds, initial


def _rotr(x: int, n: int) -> int:
    return ((x >> n) | (x << (64 - n))) & _MASK64


def _sha512_blocks(state: Sequence[int], data: bytes) -> list[int]:
    rounds, _ = _sha512_constants()
    padded = data + b"\x80" + b"\x00" * ((111 - len(data)) % 128) + (len(data) * 8).to_bytes(16, "big")
    h = list(state)
    for offset in range(0, len(padded), 128):
        w = list(struct.unpack(">16Q", padded[offset : offset + 128]))
        for t in range(16, 80):
            s0 = _rotr(w[t - 15], 1) ^ _rotr(w[t - 15], 8) ^ (w[t - 15] >> 7)
            s1 = _rotr(w[t - 2], 19) ^ _rotr(w[t - 2], 61) ^ (w[t - 2] >> 6)
            w.append((w[t - 16] + s0 + w[t - 7] + s1) & _MASK64)
        a, b, c, d, e, f, g, hh = h
        for t in range(80):
            t1 = hh + (_rotr(e, 14) ^ _rotr(e, 18) ^ _rotr(e, 41)) + ((e & f) ^ (~e & g)) + rounds[t] + w[t]
            t2 = (_rotr(a, 28) ^ _rotr(a, 34) ^ _rotr(a, 39)) + ((a & b) ^ (a & c) ^ (b & c))
            hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & _MASK64, c, b, a, (t1 + t2) & _MASK64
        h = [(x + y) & _MASK64 for x, y in zip(h, (a, b, c, d, e, f, g, hh), strict=True)]
    return h


@cache
def _sha512_256_initial() -> tuple[int, ...]:
    """The SHA-512/256 initial hash value, generated as FIPS 180-4 §5.3.6 describes."""
    _, initial = _sha512_constants()
    return tuple(_sha512_blocks([x ^ 0xA5A5A5A5A5A5A5A5 for x in initial], b"SHA-512/256"))


def _sha512_256_python(data: bytes) -> bytes:
    """SHA-512/256 in pure Python, for OpenSSL builds whose hashlib lacks it."""
    return struct.pack(">4Q", *_sha512_blocks(_sha512_256_initial(), data)[:4])


def _sha512_256_hashlib(data: bytes) -> bytes:
    return hashlib.new("sha512_256", data).digest()


try:
    _sha512_256_hashlib(b"")
except ValueError:  # pragma: no cover - depends on the OpenSSL build
    _sha512_256: Callable[[bytes], bytes] = _sha512_256_python
    SHA512_256_BACKEND = "python"
else:
    _sha512_256 = _sha512_256_hashlib
    SHA512_256_BACKEND = "hashlib"


def _sha512_256_current(data: bytes) -> bytes:
    return _sha512_256(data)


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@dataclass(frozen=True)
class _Algorithm:
    name: str  # the RFC spelling, e.g. "SHA-256-sess"
    digest: Callable[[bytes], bytes]
    session: bool
    strength: int

    @property
    def family(self) -> str:
        return self.name.removesuffix("-sess")

    def hex(self, data: bytes | str) -> str:
        return self.digest(data.encode("utf-8") if isinstance(data, str) else data).hex()


_ALGORITHMS: dict[str, _Algorithm] = {
    row.name.upper(): row
    for row in (
        _Algorithm("MD5", _md5, False, 1),
        _Algorithm("MD5-sess", _md5, True, 1),
        _Algorithm("SHA-256", _sha256, False, 2),
        _Algorithm("SHA-256-sess", _sha256, True, 2),
        _Algorithm("SHA-512-256", _sha512_256_current, False, 3),
        _Algorithm("SHA-512-256-sess", _sha512_256_current, True, 3),
    )
}

#: Upper-case names of the algorithms this module can answer, strongest first.
SUPPORTED_ALGORITHMS: tuple[str, ...] = tuple(sorted(_ALGORITHMS, key=lambda n: -_ALGORITHMS[n].strength))
_QOPS = ("auth", "auth-int")


def _base_ha1(algorithm: _Algorithm, username: str, realm: str, password: str) -> str:
    return algorithm.hex(f"{username}:{realm}:{password}")


def _response(
    algorithm: _Algorithm,
    base_ha1: str,
    *,
    nonce: str,
    cnonce: str | None,
    nc: str | None,
    qop: str | None,
    method: str,
    uri: str,
    body: bytes,
) -> str:
    ha1 = algorithm.hex(f"{base_ha1}:{nonce}:{cnonce}") if algorithm.session else base_ha1
    a2 = f"{method}:{uri}:{algorithm.hex(body)}" if qop == "auth-int" else f"{method}:{uri}"
    if qop is None:
        return algorithm.hex(f"{ha1}:{nonce}:{algorithm.hex(a2)}")
    return algorithm.hex(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{algorithm.hex(a2)}")


# --------------------------------------------------------------------------------------------
# Header syntax (RFC 7235 §2.1, RFC 3261 §25.1)

_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_WHITESPACE = " \t\r\n"
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*(?=[ \t\r\n]*(?:,|\Z))")
_BAD_TEXT = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
_TOKEN_VALUED = frozenset({"algorithm", "stale", "userhash", "charset", "qop", "nc"})
_NC = re.compile(r"[0-9a-fA-F]{8}")


def _check_text(what: str, value: str) -> None:
    if _BAD_TEXT.search(value):
        raise AuthError(f"{what} contains a control character or a lone surrogate")


def _is_token(value: str) -> bool:
    return bool(value) and all(ch in _TCHAR for ch in value)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _format_param(name: str, value: str) -> str:
    return f"{name}={value}" if name in _TOKEN_VALUED and _is_token(value) else f"{name}={_quote(value)}"


@dataclass
class _Item:
    """One challenge or credentials value as written: scheme, then a token68 or parameters."""

    scheme: str
    token68: str | None = None
    params: list[tuple[str, str]] = field(default_factory=list)


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_whitespace(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def token(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _TCHAR:
            self.pos += 1
        if self.pos == start:
            raise AuthError(f"expected a token at offset {start}, found {self.peek()!r}")
        return self.text[start : self.pos]

    def quoted_string(self) -> str:
        start = self.pos
        self.pos += 1  # the opening quote
        chars: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\":
                self.pos += 1
                ch = self.peek()
                if not ch:
                    break
            elif ch == '"':
                self.pos += 1
                return "".join(chars)
            if _BAD_TEXT.match(ch):
                raise AuthError(f"control character in the quoted string at offset {self.pos}")
            chars.append(ch)
            self.pos += 1
        raise AuthError(f"unterminated quoted string starting at offset {start}")


def _read_items(value: str) -> list[_Item]:
    """Split a header value into challenges (or credentials) at the scheme boundaries."""
    reader = _Reader(value)
    items: list[_Item] = []
    last = "start"  # what came before: start, comma, scheme, token68 or value
    while True:
        reader.skip_whitespace()
        if not reader.peek():
            break
        if reader.peek() == ",":  # list separator; empty list elements are allowed
            reader.pos += 1
            last = "comma" if items else "start"
            continue
        start = reader.pos
        name = reader.token()
        reader.skip_whitespace()
        if reader.peek() == "=":
            if not items or last not in ("scheme", "comma") or items[-1].token68 is not None:
                raise AuthError(f"parameter {name!r} at offset {start} does not follow a scheme")
            reader.pos += 1
            reader.skip_whitespace()
            param_value = reader.quoted_string() if reader.peek() == '"' else reader.token()
            items[-1].params.append((name.lower(), param_value))
            last = "value"
            reader.skip_whitespace()
            if reader.peek() not in (",", ""):
                raise AuthError(f"expected ',' after parameter {name!r}, found {reader.peek()!r}")
            continue
        if last not in ("start", "comma"):
            raise AuthError(f"expected '=' after {name!r} at offset {start}")
        if reader.pos == start + len(name) and reader.peek() not in (",", ""):
            raise AuthError(f"expected whitespace after the scheme {name!r}")
        items.append(_Item(name.lower()))
        last = "scheme"
        match = _TOKEN68.match(value, reader.pos)
        if match and reader.pos > start + len(name):
            items[-1].token68 = match.group()
            reader.pos = match.end()
            last = "token68"
    if not items:
        raise AuthError("empty header value")
    return items


def _param_map(item: _Item) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in item.params:
        if name in params:
            raise AuthError(f"parameter {name!r} appears twice")
        params[name] = value
    return params


def _flag(params: Mapping[str, str], name: str) -> bool:
    return params.get(name, "false").lower() == "true"


def _required(params: Mapping[str, str], name: str, what: str) -> str:
    try:
        return params[name]
    except KeyError:
        raise AuthError(f"{what} has no {name}") from None


def _algorithm_spelling(name: str) -> str:
    row = _ALGORITHMS.get(name)
    return row.name if row else name


# --------------------------------------------------------------------------------------------
# Challenges


@dataclass(frozen=True)
class Challenge:
    """One parsed ``WWW-Authenticate``/``Proxy-Authenticate`` challenge.

    ``params`` holds every parameter as received (names lower-case, values unquoted); it is not
    part of equality. For schemes other than Digest only ``scheme``, ``token68`` and ``params`` mean
    anything.
    """

    scheme: str
    realm: str = ""
    nonce: str = ""
    opaque: str | None = None
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    stale: bool = False
    domain: tuple[str, ...] = ()
    userhash: bool = False
    token68: str | None = None
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scheme", self.scheme.lower())
        object.__setattr__(self, "algorithm", self.algorithm.upper())
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def is_digest(self) -> bool:
        return self.scheme == "digest"

    def serialize(self) -> str:
        """The challenge as a header value (canonical parameter order; unknown parameters last)."""
        if not self.is_digest:
            if self.token68 is not None:
                return f"{self.scheme} {self.token68}"
            if not self.params:
                return self.scheme
            return f"{self.scheme} " + ", ".join(_format_param(n, v) for n, v in self.params.items())
        parts = [_format_param("realm", self.realm)]
        if self.domain:
            parts.append(_format_param("domain", " ".join(self.domain)))
        parts.append(_format_param("nonce", self.nonce))
        if self.opaque is not None:
            parts.append(_format_param("opaque", self.opaque))
        if self.stale:
            parts.append("stale=true")
        parts.append(_format_param("algorithm", _algorithm_spelling(self.algorithm)))
        if self.qop:
            parts.append(f"qop={_quote(','.join(self.qop))}")
        if self.userhash:
            parts.append("userhash=true")
        parts.extend(_format_param(n, v) for n, v in self.params.items() if n not in _CHALLENGE_FIELDS)
        return "Digest " + ", ".join(parts)

    def __str__(self) -> str:
        return self.serialize()


_CHALLENGE_FIELDS = frozenset({"realm", "domain", "nonce", "opaque", "stale", "algorithm", "qop", "userhash"})


def _challenge(item: _Item) -> Challenge:
    params = _param_map(item)
    if item.scheme != "digest":
        return Challenge(item.scheme, realm=params.get("realm", ""), token68=item.token68, params=params)
    if item.token68 is not None:
        raise AuthError("a Digest challenge has parameters, not a token68")
    return Challenge(
        "digest",
        realm=_required(params, "realm", "Digest challenge"),
        nonce=_required(params, "nonce", "Digest challenge"),
        opaque=params.get("opaque"),
        algorithm=params.get("algorithm", "MD5"),
        qop=tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip()),
        stale=_flag(params, "stale"),
        domain=tuple(params.get("domain", "").split()),
        userhash=_flag(params, "userhash"),
        params=params,
    )


def parse_challenges(value: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate``/``Proxy-Authenticate`` value; it may hold several challenges.

    Raises AuthError for bad syntax or a Digest challenge without realm or nonce.
    """
    return [_challenge(item) for item in _read_items(value)]


def format_challenges(challenges: Iterable[Challenge]) -> str:
    """One header value holding all the challenges."""
    return ", ".join(c.serialize() for c in challenges)


def _unusable(challenge: Challenge) -> str | None:
    """Why this module cannot answer the challenge, or None."""
    if not challenge.is_digest:
        return f"scheme {challenge.scheme!r} is not Digest"
    algorithm = _ALGORITHMS.get(challenge.algorithm)
    if algorithm is None:
        return f"algorithm {challenge.algorithm!r} is not supported"
    if challenge.qop and not set(challenge.qop) & set(_QOPS):
        return f"none of the offered qop values {challenge.qop} is supported"
    if not challenge.qop and algorithm.session:
        return f"{algorithm.name} needs a qop to carry the client nonce, and the challenge offers none"
    return None


def select_challenges(challenges: Iterable[Challenge]) -> list[Challenge]:
    """The strongest answerable Digest challenge for each realm, in order of first appearance."""
    best: dict[str, Challenge] = {}
    for challenge in challenges:
        if _unusable(challenge) is not None:
            continue
        current = best.get(challenge.realm)
        if current is None or _strength(challenge) > _strength(current):
            best[challenge.realm] = challenge
    return list(best.values())


def select_challenge(challenges: Iterable[Challenge]) -> Challenge | None:
    """The challenge with the strongest supported algorithm (first one on a tie), or None."""
    usable = [c for c in challenges if _unusable(c) is None]
    return max(usable, key=_strength, default=None)


def _strength(challenge: Challenge) -> int:
    return _ALGORITHMS[challenge.algorithm].strength


# --------------------------------------------------------------------------------------------
# Credentials


@dataclass(frozen=True)
class DigestCredentials:
    """One parsed ``Authorization``/``Proxy-Authorization`` Digest value.

    ``nc`` is kept as the 8 hex digits that were sent, since the response hash covers that text.
    ``uri`` may be absent (MSRP relays, RFC 4976, leave it out). The response is left out of the repr.
    """

    username: str
    realm: str
    nonce: str
    uri: str | None
    response: str = field(repr=False)
    algorithm: str = "MD5"
    cnonce: str | None = None
    opaque: str | None = None
    qop: str | None = None
    nc: str | None = None
    userhash: bool = False
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "algorithm", self.algorithm.upper())
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def nonce_count(self) -> int | None:
        return None if self.nc is None else int(self.nc, 16)

    def serialize(self) -> str:
        """The credentials as a header value, parameters in a fixed order."""
        parts = [
            _format_param("username", self.username),
            _format_param("realm", self.realm),
            _format_param("nonce", self.nonce),
        ]
        if self.uri is not None:
            parts.append(_format_param("uri", self.uri))
        parts.append(_format_param("response", self.response))
        parts.append(_format_param("algorithm", _algorithm_spelling(self.algorithm)))
        if self.cnonce is not None:
            parts.append(_format_param("cnonce", self.cnonce))
        if self.opaque is not None:
            parts.append(_format_param("opaque", self.opaque))
        if self.qop is not None:
            parts.append(_format_param("qop", self.qop))
        if self.nc is not None:
            parts.append(f"nc={self.nc}")
        if self.userhash:
            parts.append("userhash=true")
        return "Digest " + ", ".join(parts)

    def __str__(self) -> str:
        return self.serialize()


def _extended_value(value: str) -> str:
    """Decode an RFC 8187 ext-value such as ``UTF-8''J%C3%A4s%C3%B8n``."""
    match = re.fullmatch(
        r"([A-Za-z0-9!#$&+\-^_`{}~]+)'[A-Za-z0-9\-]*'((?:%[0-9A-Fa-f]{2}|[A-Za-z0-9!#$&+\-.^_`|~])*)", value
    )
    if match is None:
        raise AuthError("username* is not an RFC 8187 extended value")
    charset = match.group(1).lower()
    if charset not in ("utf-8", "iso-8859-1"):
        raise AuthError(f"username* uses the unsupported charset {charset!r}")
    try:
        text = unquote_to_bytes(match.group(2)).decode(charset)
    except UnicodeDecodeError:
        raise AuthError("username* is not valid UTF-8") from None
    _check_text("username*", text)
    return text


def parse_credentials(value: str) -> DigestCredentials:
    """Parse one ``Authorization``/``Proxy-Authorization`` value holding Digest credentials.

    Raises AuthError for bad syntax, another scheme, or missing/invalid parameters.
    """
    items = _read_items(value)
    if len(items) != 1:
        raise AuthError(f"expected one credentials value, found {len(items)}")
    item = items[0]
    if item.scheme != "digest":
        raise AuthError(f"scheme {item.scheme!r} is not Digest")
    if item.token68 is not None:
        raise AuthError("Digest credentials have parameters, not a token68")
    params = _param_map(item)
    if "username*" in params:
        if "username" in params:
            raise AuthError("credentials have both username and username*")
        username = _extended_value(params["username*"])
    else:
        username = _required(params, "username", "Digest credentials")
    qop = params.get("qop")
    nc = params.get("nc")
    cnonce = params.get("cnonce")
    if qop is not None:
        qop = qop.lower()
        if nc is None or cnonce is None:
            raise AuthError("credentials with qop need both nc and cnonce")
    if nc is not None and not _NC.fullmatch(nc):
        raise AuthError(f"nc must be 8 hex digits, not {nc!r}")
    return DigestCredentials(
        username=username,
        realm=_required(params, "realm", "Digest credentials"),
        nonce=_required(params, "nonce", "Digest credentials"),
        uri=params.get("uri"),
        response=_required(params, "response", "Digest credentials"),
        algorithm=params.get("algorithm", "MD5"),
        cnonce=cnonce,
        opaque=params.get("opaque"),
        qop=qop,
        nc=nc,
        userhash=_flag(params, "userhash"),
        params=params,
    )


# --------------------------------------------------------------------------------------------
# Client


@dataclass
class _NonceState:
    cnonce: str
    count: int = 0


def _default_cnonce() -> str:
    return secrets.token_hex(16)


def _check_method(method: str) -> None:
    if not _is_token(method):
        raise AuthError(f"method {method!r} is not a token")


class DigestClient:
    """Answers Digest challenges for one user.

    ``realm='*'`` answers any realm; otherwise only that realm. Instead of a password a
    precomputed ``ha1`` (hex of H(username:realm:password) under ``ha1_algorithm``, MD5 or SHA-256
    or SHA-512-256) may be given, with an explicit realm; it answers only that algorithm family.
    ``cnonce_source`` makes client nonces (injected in tests). The password is never shown.
    """

    def __init__(
        self,
        username: str,
        password: str | None = None,
        *,
        realm: str = "*",
        ha1: str | None = None,
        ha1_algorithm: str = "MD5",
        cnonce_source: Callable[[], str] = _default_cnonce,
        max_nonces: int = 64,
    ) -> None:
        _check_text("user name", username)
        if (password is None) == (ha1 is None):
            raise AuthError("give a password or an HA1, not both or neither")
        if password is not None:
            try:
                password.encode("utf-8")
            except UnicodeEncodeError:
                raise AuthError("the password cannot be encoded as UTF-8") from None
        self._ha1_algorithm: _Algorithm | None = None
        if ha1 is not None:
            row = _ALGORITHMS.get(ha1_algorithm.upper())
            if row is None or row.session:
                raise AuthError(
                    f"ha1_algorithm must be one of MD5, SHA-256, SHA-512-256, not {ha1_algorithm!r}"
                )
            if realm == "*":
                raise AuthError("an HA1 belongs to one realm: give the realm")
            if not re.fullmatch(r"[0-9a-fA-F]+", ha1) or len(ha1) != 2 * len(row.digest(b"")):
                raise AuthError(f"ha1 is not a {row.name} hex digest")
            self._ha1_algorithm = row
        self.username = username
        self.realm = realm
        self._password = password
        self._ha1 = ha1.lower() if ha1 is not None else None
        self._cnonce_source = cnonce_source
        self._max_nonces = max_nonces
        self._nonces: OrderedDict[tuple[str, str], _NonceState] = OrderedDict()

    def __repr__(self) -> str:
        return f"DigestClient(username={self.username!r}, realm={self.realm!r})"

    def _unanswerable(self, challenge: Challenge) -> str | None:
        reason = _unusable(challenge)
        if reason is not None:
            return reason
        if self.realm not in ("*", challenge.realm):
            return f"no credentials for realm {challenge.realm!r}"
        if self._password is None:
            assert self._ha1_algorithm is not None
            if _ALGORITHMS[challenge.algorithm].family != self._ha1_algorithm.name:
                return f"the stored HA1 is for {self._ha1_algorithm.name}, not {challenge.algorithm}"
        return None

    def can_answer(self, challenge: Challenge) -> bool:
        """Whether ``authorize`` would answer this challenge."""
        return self._unanswerable(challenge) is None

    def nonce_count(self, challenge: Challenge) -> int:
        """How many times the challenge's (realm, nonce) has been answered so far."""
        state = self._nonces.get((challenge.realm, challenge.nonce))
        return state.count if state else 0

    def authorize(self, challenge: Challenge, method: str, uri: str, body: bytes = b"") -> str:
        """The ``Authorization``/``Proxy-Authorization`` value answering ``challenge`` for this request.

        Each call for the same (realm, nonce) uses the next nonce count. Raises AuthError when the
        challenge cannot be answered (other scheme, unsupported algorithm or qop, other realm).
        """
        reason = self._unanswerable(challenge)
        if reason is not None:
            raise AuthError(reason)
        _check_method(method)
        _check_text("request URI", uri)
        algorithm = _ALGORITHMS[challenge.algorithm]
        qop = next((q for q in _QOPS if q in challenge.qop), None)
        cnonce = nc = None
        if qop is not None:
            state = self._nonce_state(challenge)
            state.count += 1
            cnonce, nc = state.cnonce, f"{state.count:08x}"
        if self._password is not None:
            base_ha1 = _base_ha1(algorithm, self.username, challenge.realm, self._password)
        else:
            assert self._ha1 is not None
            base_ha1 = self._ha1
        response = _response(
            algorithm,
            base_ha1,
            nonce=challenge.nonce,
            cnonce=cnonce,
            nc=nc,
            qop=qop,
            method=method,
            uri=uri,
            body=body,
        )
        username = self.username
        if challenge.userhash:
            username = algorithm.hex(f"{self.username}:{challenge.realm}")
        return DigestCredentials(
            username=username,
            realm=challenge.realm,
            nonce=challenge.nonce,
            uri=uri,
            response=response,
            algorithm=challenge.algorithm,
            cnonce=cnonce,
            opaque=challenge.opaque,
            qop=qop,
            nc=nc,
            userhash=challenge.userhash,
        ).serialize()

    def _nonce_state(self, challenge: Challenge) -> _NonceState:
        key = (challenge.realm, challenge.nonce)
        state = self._nonces.get(key)
        if state is None:
            cnonce = self._cnonce_source()
            _check_text("cnonce", cnonce)
            state = self._nonces[key] = _NonceState(cnonce)
            while len(self._nonces) > self._max_nonces:
                self._nonces.popitem(last=False)
        self._nonces.move_to_end(key)
        return state


# --------------------------------------------------------------------------------------------
# Retry policy


class RealmState(enum.Enum):
    UNANSWERED = "unanswered"  # no challenge for this realm answered in this request yet
    ANSWERED = "answered"  # credentials were computed for a challenge received in this request
    FAILED = "failed"  # the server refused them; do not try again


class RetryEvent(enum.Enum):
    CHALLENGE = "challenge"  # a challenge without stale=true
    STALE = "stale"  # stale=true, within max_stale_retries
    STALE_OVER_LIMIT = "stale over limit"  # stale=true once too often


#: (state, event) -> (next state, retry?). Rules in the module docstring.
RETRY_TRANSITIONS: Mapping[tuple[RealmState, RetryEvent], tuple[RealmState, bool]] = MappingProxyType(
    {
        (RealmState.UNANSWERED, RetryEvent.CHALLENGE): (RealmState.ANSWERED, True),
        (RealmState.UNANSWERED, RetryEvent.STALE): (RealmState.ANSWERED, True),
        (RealmState.UNANSWERED, RetryEvent.STALE_OVER_LIMIT): (RealmState.ANSWERED, True),
        (RealmState.ANSWERED, RetryEvent.CHALLENGE): (RealmState.FAILED, False),
        (RealmState.ANSWERED, RetryEvent.STALE): (RealmState.ANSWERED, True),
        (RealmState.ANSWERED, RetryEvent.STALE_OVER_LIMIT): (RealmState.FAILED, False),
        (RealmState.FAILED, RetryEvent.CHALLENGE): (RealmState.FAILED, False),
        (RealmState.FAILED, RetryEvent.STALE): (RealmState.FAILED, False),
        (RealmState.FAILED, RetryEvent.STALE_OVER_LIMIT): (RealmState.FAILED, False),
    }
)


class RetryPolicy:
    """Decides whether a request that got a 401/407 should be sent again with credentials.

    One instance per logical request; see the module docstring for the rules.
    """

    def __init__(self, max_stale_retries: int = 2) -> None:
        self.max_stale_retries = max_stale_retries
        self._states: dict[tuple[bool, str], RealmState] = {}
        self._stale_in_a_row: dict[tuple[bool, str], int] = {}

    def state(self, realm: str, *, proxy: bool = False) -> RealmState:
        return self._states.get((proxy, realm), RealmState.UNANSWERED)

    def should_retry(self, challenge: Challenge, *, proxy: bool = False) -> bool:
        """Record a challenge from a 401 (``proxy=False``) or 407 (``proxy=True``); True means answer it.

        Call it only for challenges received in this request, after ``select_challenges``.
        """
        key = (proxy, challenge.realm)
        state = self._states.get(key, RealmState.UNANSWERED)
        stale_count = self._stale_in_a_row.get(key, 0)
        if not challenge.stale:
            event = RetryEvent.CHALLENGE
        elif state is RealmState.ANSWERED and stale_count >= self.max_stale_retries:
            event = RetryEvent.STALE_OVER_LIMIT
        else:
            event = RetryEvent.STALE
        new_state, retry = RETRY_TRANSITIONS[state, event]
        self._states[key] = new_state
        counts_as_stale_retry = event is RetryEvent.STALE and state is RealmState.ANSWERED
        self._stale_in_a_row[key] = stale_count + 1 if counts_as_stale_retry else 0
        return retry


# --------------------------------------------------------------------------------------------
# Server side (tests and the in-process test registrar)


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    STALE = "stale"  # the response is right but the nonce expired or is unknown: challenge with stale=true
    REJECTED = "rejected"


@dataclass
class _IssuedNonce:
    issued_at: float
    seen_nc: set[int] = field(default_factory=set)


class DigestServer:
    """Issues Digest challenges and checks credentials against them.

    ``lookup_password(username)`` returns the password or None; ``nonce_source()`` makes nonces;
    ``clock()`` gives the time in seconds. Nonces live ``nonce_lifetime`` seconds and each nonce
    count is accepted once. Giving ``usernames`` turns on ``userhash=true`` and lets hashed user
    names be resolved. Without qop, a nonce may be used until it expires (RFC 2069 has no nc).
    """

    def __init__(
        self,
        realm: str,
        lookup_password: Callable[[str], str | None],
        nonce_source: Callable[[], str],
        clock: Callable[[], float],
        *,
        algorithms: Sequence[str] = ("SHA-256", "MD5"),
        qop: Sequence[str] = ("auth", "auth-int"),
        nonce_lifetime: float = 300.0,
        usernames: Collection[str] | None = None,
        opaque: str | None = None,
    ) -> None:
        self.realm = realm
        self.algorithms = tuple(a.upper() for a in algorithms)
        for name in self.algorithms:
            if name not in _ALGORITHMS:
                raise AuthError(f"algorithm {name!r} is not supported")
        self.qop = tuple(q.lower() for q in qop)
        if not set(self.qop) <= set(_QOPS):
            raise AuthError(f"qop values must be among {_QOPS}")
        if not self.qop and any(_ALGORITHMS[name].session for name in self.algorithms):
            raise AuthError("-sess algorithms need a qop")
        self.nonce_lifetime = nonce_lifetime
        self.opaque = opaque
        self._lookup_password = lookup_password
        self._nonce_source = nonce_source
        self._clock = clock
        self._usernames = tuple(usernames) if usernames is not None else None
        self._nonces: dict[str, _IssuedNonce] = {}

    def __repr__(self) -> str:
        return f"DigestServer(realm={self.realm!r}, algorithms={self.algorithms!r})"

    def challenge(self, stale: bool = False) -> str:
        """A new nonce, offered once per configured algorithm, as one header value."""
        now = self._clock()
        for nonce in [
            n for n, issued in self._nonces.items() if now - issued.issued_at > self.nonce_lifetime
        ]:
            del self._nonces[nonce]
        nonce = self._nonce_source()
        self._nonces[nonce] = _IssuedNonce(now)
        return format_challenges(
            Challenge(
                "digest",
                realm=self.realm,
                nonce=nonce,
                opaque=self.opaque,
                algorithm=name,
                qop=self.qop,
                stale=stale,
                userhash=self._usernames is not None,
            )
            for name in self.algorithms
        )

    def verify(self, value: str, method: str, uri: str, body: bytes = b"") -> bool:
        """Whether ``value`` is valid, current, not replayed credentials for this request."""
        return self.check(value, method, uri, body) is Verdict.ACCEPTED

    def check(self, value: str, method: str, uri: str, body: bytes = b"") -> Verdict:
        """Like ``verify``, but tells a stale nonce (answer with ``challenge(stale=True)``) from a refusal."""
        try:
            credentials = parse_credentials(value)
        except AuthError:
            return Verdict.REJECTED
        algorithm = _ALGORITHMS.get(credentials.algorithm)
        if (
            algorithm is None
            or credentials.algorithm not in self.algorithms
            or credentials.realm != self.realm
            or credentials.uri != uri
            or credentials.opaque != self.opaque
            or (credentials.qop not in self.qop if self.qop else credentials.qop is not None)
        ):
            return Verdict.REJECTED
        username = self._username(credentials, algorithm)
        if username is None:
            return Verdict.REJECTED
        password = self._lookup_password(username)
        if password is None:
            return Verdict.REJECTED
        expected = _response(
            algorithm,
            _base_ha1(algorithm, username, self.realm, password),
            nonce=credentials.nonce,
            cnonce=credentials.cnonce,
            nc=credentials.nc,
            qop=credentials.qop,
            method=method,
            uri=uri,
            body=body,
        )
        if not hmac.compare_digest(expected.encode(), credentials.response.lower().encode("utf-8")):
            return Verdict.REJECTED
        issued = self._nonces.get(credentials.nonce)
        if issued is None or self._clock() - issued.issued_at > self.nonce_lifetime:
            self._nonces.pop(credentials.nonce, None)
            return Verdict.STALE
        count = credentials.nonce_count
        if count is not None:
            if count in issued.seen_nc:
                return Verdict.REJECTED
            issued.seen_nc.add(count)
        return Verdict.ACCEPTED

    def _username(self, credentials: DigestCredentials, algorithm: _Algorithm) -> str | None:
        if not credentials.userhash:
            return credentials.username
        if self._usernames is None:
            return None
        for name in self._usernames:
            hashed = algorithm.hex(f"{name}:{self.realm}").encode()
            if hmac.compare_digest(hashed, credentials.username.lower().encode("utf-8")):
                return name
        return None
