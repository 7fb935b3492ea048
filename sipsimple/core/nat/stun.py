"""STUN messages (RFC 5389): the wire codec, sans-IO.

A message is a 20-byte header (two zero bits, a 14-bit type mixing method and class, the length of
the attributes, the magic cookie 0x2112A442, a 96-bit transaction id) followed by attributes, each a
type, a length and a value padded with zeros to a multiple of four bytes.

* :func:`parse` turns one datagram into a :class:`Message`; ``bytes(message)`` gives it back, and
  ``bytes(parse(x)) == x`` for every canonical message (zero padding). Malformed input raises
  :class:`StunError` (a ValueError) and nothing else.
* Attributes live in one table, :data:`ATTRIBUTES` (code, name, decoder, encoder): the value of an
  attribute is a Python object (:class:`TransportAddress`, :class:`ErrorCode`, str, int, ...);
  attributes the table does not know are kept as raw bytes and serialised unchanged.
* :meth:`Message.encode` appends MESSAGE-INTEGRITY (HMAC-SHA1) and FINGERPRINT (CRC-32 xor
  0x5354554e); :func:`verify_integrity` and :func:`verify_fingerprint` check a received datagram.
  Keys: :func:`short_term_key`, :func:`long_term_key` (with :func:`saslprep`).
* :func:`is_stun` is the quick test that tells STUN from SIP/RTP on a shared socket.
* :class:`StreamParser` frames messages on a stream transport (TCP) by their length field.

Attributes that follow MESSAGE-INTEGRITY (other than FINGERPRINT) and anything after FINGERPRINT
are ignored on parsing, as RFC 5389 §15.4 and §15.5 say.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
import os
import stringprep
import struct
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "ATTRIBUTES",
    "MAGIC_COOKIE",
    "Attribute",
    "AttributeType",
    "Change",
    "ErrorCode",
    "Message",
    "MessageClass",
    "Method",
    "StreamParser",
    "StunError",
    "TransportAddress",
    "is_stun",
    "long_term_key",
    "parse",
    "saslprep",
    "short_term_key",
    "verify_fingerprint",
    "verify_integrity",
]

MAGIC_COOKIE = 0x2112A442
FINGERPRINT_XOR = 0x5354554E
HEADER_SIZE = 20
_HEADER = struct.Struct("!HHI12s")
_ATTRIBUTE_HEADER = struct.Struct("!HH")
_COOKIE_BYTES = MAGIC_COOKIE.to_bytes(4, "big")
_INTEGRITY_SIZE = 20  # HMAC-SHA1
_MAX_MESSAGE = HEADER_SIZE + 0xFFFC  # the length field is 16 bits and a multiple of 4


class StunError(ValueError):
    """The bytes are not a well-formed STUN message (the text says what is wrong), or a value
    cannot be encoded."""


class MessageClass(enum.IntEnum):
    REQUEST = 0b00
    INDICATION = 0b01
    SUCCESS = 0b10
    ERROR = 0b11


class Method(enum.IntEnum):
    """STUN methods: Binding (RFC 5389) and those TURN (RFC 5766) adds."""

    BINDING = 0x001
    ALLOCATE = 0x003
    REFRESH = 0x004
    SEND = 0x006
    DATA = 0x007
    CREATE_PERMISSION = 0x008
    CHANNEL_BIND = 0x009


def message_type(method: int, message_class: int) -> int:
    """The 14-bit type: method bits M0-M11 with the class bits C0 (bit 4) and C1 (bit 8) between."""
    if not 0 <= method <= 0xFFF:
        raise StunError(f"method {method:#x} does not fit in 12 bits")
    return (
        (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((message_class & 1) << 4)
        | ((message_class & 2) << 7)
    )


def split_type(value: int) -> tuple[int, MessageClass]:
    """(method, class) of a 14-bit message type."""
    method = (value & 0x000F) | ((value & 0x00E0) >> 1) | ((value & 0x3E00) >> 2)
    return method, MessageClass(((value >> 4) & 1) | ((value >> 7) & 2))


class TransportAddress(NamedTuple):
    """An IP address (text, IPv6 compressed, no brackets) and a port; compares equal to a tuple."""

    host: str
    port: int

    @property
    def family(self) -> int:
        """4 or 6."""
        return 6 if ":" in self.host else 4

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class ErrorCode(NamedTuple):
    """ERROR-CODE: a code from 300 to 699 and a reason phrase."""

    code: int
    reason: str = ""


class Change(enum.IntFlag):
    """The flags of CHANGE-REQUEST (RFC 5780 §7.2)."""

    NONE = 0
    PORT = 0x2
    IP = 0x4


class Attribute(enum.IntEnum):
    """Attribute type codes the codec knows (the table :data:`ATTRIBUTES` has one row each)."""

    MAPPED_ADDRESS = 0x0001
    CHANGE_REQUEST = 0x0003
    USERNAME = 0x0006
    MESSAGE_INTEGRITY = 0x0008
    ERROR_CODE = 0x0009
    UNKNOWN_ATTRIBUTES = 0x000A
    REALM = 0x0014
    NONCE = 0x0015
    XOR_MAPPED_ADDRESS = 0x0020
    PRIORITY = 0x0024
    USE_CANDIDATE = 0x0025
    SOFTWARE = 0x8022
    ALTERNATE_SERVER = 0x8023
    FINGERPRINT = 0x8028
    ICE_CONTROLLED = 0x8029
    ICE_CONTROLLING = 0x802A
    RESPONSE_ORIGIN = 0x802B
    OTHER_ADDRESS = 0x802C


def comprehension_required(code: int) -> bool:
    """Types 0x0000-0x7FFF must be understood by the receiver (RFC 5389 §15)."""
    return code < 0x8000


# -- value codecs ---------------------------------------------------------------------------------
# A decoder gets (value bytes, transaction id) and returns a Python value or raises StunError;
# an encoder does the reverse (the transaction id is for the XOR-ed addresses).

_FAMILIES = {1: 4, 2: 16}


def _decode_address(value: bytes, transaction_id: bytes, xor: bool = False) -> TransportAddress:
    if len(value) < 4 or value[1] not in _FAMILIES:
        raise StunError("an address attribute has an unknown family")
    size = _FAMILIES[value[1]]
    if len(value) != 4 + size:
        raise StunError(f"an address attribute of family {value[1]} must be {4 + size} bytes long")
    port = int.from_bytes(value[2:4], "big")
    raw = value[4:]
    if xor:
        port ^= MAGIC_COOKIE >> 16
        mask = (_COOKIE_BYTES + transaction_id)[:size]
        raw = bytes(a ^ b for a, b in zip(raw, mask, strict=True))
    host = str(ipaddress.IPv4Address(raw) if size == 4 else ipaddress.IPv6Address(raw))
    return TransportAddress(host, port)


def _encode_address(value: Any, transaction_id: bytes, xor: bool = False) -> bytes:
    host, port = value
    try:
        address = ipaddress.ip_address(str(host).strip("[]"))
    except ValueError:
        raise StunError(f"{host!r} is not an IP address") from None
    if not 0 <= int(port) <= 0xFFFF:
        raise StunError(f"port {port!r} out of range")
    raw, family = address.packed, (1 if address.version == 4 else 2)
    if xor:
        port = int(port) ^ (MAGIC_COOKIE >> 16)
        mask = (_COOKIE_BYTES + transaction_id)[: len(raw)]
        raw = bytes(a ^ b for a, b in zip(raw, mask, strict=True))
    return bytes((0, family)) + int(port).to_bytes(2, "big") + raw


def _decode_xor_address(value: bytes, transaction_id: bytes) -> TransportAddress:
    return _decode_address(value, transaction_id, xor=True)


def _encode_xor_address(value: Any, transaction_id: bytes) -> bytes:
    return _encode_address(value, transaction_id, xor=True)


def _text(limit: int) -> tuple[Callable[[bytes, bytes], str], Callable[[Any, bytes], bytes]]:
    def decode(value: bytes, _: bytes) -> str:
        if len(value) > limit:
            raise StunError(f"a text attribute is longer than {limit} bytes")
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise StunError("a text attribute is not UTF-8") from None

    def encode(value: Any, _: bytes) -> bytes:
        data = value if isinstance(value, bytes) else str(value).encode("utf-8")
        if len(data) > limit:
            raise StunError(f"a text attribute is longer than {limit} bytes")
        return data

    return decode, encode


def _unsigned(size: int) -> tuple[Callable[[bytes, bytes], int], Callable[[Any, bytes], bytes]]:
    def decode(value: bytes, _: bytes) -> int:
        if len(value) != size:
            raise StunError(f"attribute must be {size} bytes long, not {len(value)}")
        return int.from_bytes(value, "big")

    def encode(value: Any, _: bytes) -> bytes:
        try:
            return int(value).to_bytes(size, "big")
        except (OverflowError, TypeError, ValueError):
            raise StunError(f"{value!r} does not fit in {size} unsigned bytes") from None

    return decode, encode


def _decode_error(value: bytes, _: bytes) -> ErrorCode:
    if len(value) < 4:
        raise StunError("ERROR-CODE is shorter than 4 bytes")
    code_class, number = value[2] & 0x07, value[3]
    if not 3 <= code_class <= 6 or number > 99:
        raise StunError(f"ERROR-CODE {code_class}{number:02d} is outside 300-699")
    return ErrorCode(code_class * 100 + number, _TEXT_763[0](value[4:], b""))


def _encode_error(value: Any, _: bytes) -> bytes:
    code, reason = (value, "") if isinstance(value, int) else value
    if not 300 <= code <= 699:
        raise StunError(f"error code {code} is outside 300-699")
    return bytes((0, 0, code // 100, code % 100)) + _TEXT_763[1](reason, b"")


def _decode_unknown(value: bytes, _: bytes) -> tuple[int, ...]:
    if len(value) % 2:
        raise StunError("UNKNOWN-ATTRIBUTES has an odd length")
    return tuple(int.from_bytes(value[i : i + 2], "big") for i in range(0, len(value), 2))


def _encode_unknown(value: Any, _: bytes) -> bytes:
    return b"".join(int(code).to_bytes(2, "big") for code in value)


def _decode_change(value: bytes, _: bytes) -> Change:
    if len(value) != 4:
        raise StunError("CHANGE-REQUEST must be 4 bytes long")
    return Change(int.from_bytes(value, "big"))


def _encode_change(value: Any, _: bytes) -> bytes:
    return int(value).to_bytes(4, "big")


def _decode_flag(value: bytes, _: bytes) -> bool:
    if value:
        raise StunError("a flag attribute must be empty")
    return True


def _encode_flag(value: Any, _: bytes) -> bytes:
    return b""


def _decode_integrity(value: bytes, _: bytes) -> bytes:
    if len(value) != _INTEGRITY_SIZE:
        raise StunError("MESSAGE-INTEGRITY must be 20 bytes long")
    return value


def _encode_raw(value: Any, _: bytes) -> bytes:
    return bytes(value)


_TEXT_513 = _text(512)  # USERNAME: less than 513 bytes
_TEXT_763 = _text(763)  # REALM, NONCE, SOFTWARE, reason phrases: at most 763 bytes
_U32 = _unsigned(4)
_U64 = _unsigned(8)


@dataclass(frozen=True)
class AttributeType:
    """One row of the attribute table."""

    code: int
    name: str
    decode: Callable[[bytes, bytes], Any]
    encode: Callable[[Any, bytes], bytes]


_ADDRESS = (_decode_address, _encode_address)
_XOR_ADDRESS = (_decode_xor_address, _encode_xor_address)

ATTRIBUTES: dict[int, AttributeType] = {
    row.code: row
    for row in (
        AttributeType(Attribute.MAPPED_ADDRESS, "MAPPED-ADDRESS", *_ADDRESS),
        AttributeType(Attribute.CHANGE_REQUEST, "CHANGE-REQUEST", _decode_change, _encode_change),
        AttributeType(Attribute.USERNAME, "USERNAME", *_TEXT_513),
        AttributeType(Attribute.MESSAGE_INTEGRITY, "MESSAGE-INTEGRITY", _decode_integrity, _encode_raw),
        AttributeType(Attribute.ERROR_CODE, "ERROR-CODE", _decode_error, _encode_error),
        AttributeType(Attribute.UNKNOWN_ATTRIBUTES, "UNKNOWN-ATTRIBUTES", _decode_unknown, _encode_unknown),
        AttributeType(Attribute.REALM, "REALM", *_TEXT_763),
        AttributeType(Attribute.NONCE, "NONCE", *_TEXT_763),
        AttributeType(Attribute.XOR_MAPPED_ADDRESS, "XOR-MAPPED-ADDRESS", *_XOR_ADDRESS),
        AttributeType(Attribute.PRIORITY, "PRIORITY", *_U32),
        AttributeType(Attribute.USE_CANDIDATE, "USE-CANDIDATE", _decode_flag, _encode_flag),
        AttributeType(Attribute.SOFTWARE, "SOFTWARE", *_TEXT_763),
        AttributeType(Attribute.ALTERNATE_SERVER, "ALTERNATE-SERVER", *_ADDRESS),
        AttributeType(Attribute.FINGERPRINT, "FINGERPRINT", *_U32),
        AttributeType(Attribute.ICE_CONTROLLED, "ICE-CONTROLLED", *_U64),
        AttributeType(Attribute.ICE_CONTROLLING, "ICE-CONTROLLING", *_U64),
        AttributeType(Attribute.RESPONSE_ORIGIN, "RESPONSE-ORIGIN", *_ADDRESS),
        AttributeType(Attribute.OTHER_ADDRESS, "OTHER-ADDRESS", *_ADDRESS),
    )
}


def attribute_name(code: int) -> str:
    row = ATTRIBUTES.get(code)
    return row.name if row is not None else f"0x{code:04X}"


# -- messages -------------------------------------------------------------------------------------


def _walk(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(offset, type, value) of each attribute of a whole message (header checked); StunError."""
    if len(data) < HEADER_SIZE:
        raise StunError(f"a STUN message is at least 20 bytes, got {len(data)}")
    first, length, cookie, _ = _HEADER.unpack_from(data)
    if first & 0xC000:
        raise StunError("the first two bits of a STUN message must be zero")
    if cookie != MAGIC_COOKIE:
        raise StunError("no STUN magic cookie")
    if length % 4:
        raise StunError(f"the message length {length} is not a multiple of 4")
    if HEADER_SIZE + length != len(data):
        raise StunError(f"the header says {HEADER_SIZE + length} bytes, the datagram has {len(data)}")
    offset = HEADER_SIZE
    while offset < len(data):
        if offset + 4 > len(data):
            raise StunError(f"an attribute header is cut off at byte {offset}")
        code, size = _ATTRIBUTE_HEADER.unpack_from(data, offset)
        end = offset + 4 + size
        if end > len(data):
            raise StunError(f"attribute {attribute_name(code)} runs past the end of the message")
        yield offset, code, data[offset + 4 : end]
        offset += 4 + size + (-size % 4)


def _padded(code: int, value: bytes) -> bytes:
    if len(value) > 0xFFFF:
        raise StunError(f"attribute {attribute_name(code)} is too long")
    return _ATTRIBUTE_HEADER.pack(code, len(value)) + value + bytes(-len(value) % 4)


class Message:
    """A STUN message: ``method``, ``message_class``, ``transaction_id`` (12 bytes, random when not
    given) and ``attributes``, an ordered list of ``(code, value)`` pairs."""

    __slots__ = ("attributes", "message_class", "method", "transaction_id")

    def __init__(
        self,
        method: int = Method.BINDING,
        message_class: int = MessageClass.REQUEST,
        transaction_id: bytes | None = None,
        attributes: Iterable[tuple[int, Any]] = (),
    ) -> None:
        if transaction_id is None:
            transaction_id = os.urandom(12)
        if len(transaction_id) != 12:
            raise StunError("a transaction id is 12 bytes")
        message_type(method, message_class)  # range check
        self.method = Method(method) if method in Method._value2member_map_ else method
        self.message_class = MessageClass(message_class)
        self.transaction_id = bytes(transaction_id)
        self.attributes: list[tuple[int, Any]] = list(attributes)

    # -- attributes -------------------------------------------------------------------------------
    def get(self, code: int, default: Any = None) -> Any:
        """The value of the first attribute ``code``, or ``default``."""
        for key, value in self.attributes:
            if key == code:
                return value
        return default

    def get_all(self, code: int) -> list[Any]:
        return [value for key, value in self.attributes if key == code]

    def add(self, code: int, value: Any = True) -> Message:
        """Append an attribute; returns the message so calls chain."""
        self.attributes.append((code, value))
        return self

    def __contains__(self, code: object) -> bool:
        return any(key == code for key, _ in self.attributes)

    def unknown_comprehension_required(self) -> list[int]:
        """Codes of the comprehension-required attributes this codec does not know."""
        return [key for key, _ in self.attributes if comprehension_required(key) and key not in ATTRIBUTES]

    def reply(
        self, message_class: int = MessageClass.SUCCESS, attributes: Iterable[tuple[int, Any]] = ()
    ) -> Message:
        """A response to this request: same method and transaction id."""
        return Message(self.method, message_class, self.transaction_id, attributes)

    # -- wire -------------------------------------------------------------------------------------
    @classmethod
    def parse(cls, data: bytes) -> Message:
        """One whole message (a datagram); raises StunError when it is malformed."""
        data = bytes(data)
        attributes: list[tuple[int, Any]] = []
        transaction_id = data[8:20]
        after_integrity = False
        for _, code, value in _walk(data):
            if code == Attribute.FINGERPRINT:
                attributes.append((code, ATTRIBUTES[code].decode(value, transaction_id)))
                break  # nothing may follow FINGERPRINT
            if after_integrity:
                continue  # RFC 5389 §15.4: ignored
            row = ATTRIBUTES.get(code)
            attributes.append((code, value if row is None else row.decode(value, transaction_id)))
            after_integrity = code == Attribute.MESSAGE_INTEGRITY
        method, message_class = split_type(int.from_bytes(data[0:2], "big"))
        return cls(method, message_class, transaction_id, attributes)

    def _attribute_bytes(self, code: int, value: Any) -> bytes:
        row = ATTRIBUTES.get(code)
        if row is None:
            if not isinstance(value, bytes | bytearray):
                raise StunError(f"attribute {attribute_name(code)} is unknown: give its value as bytes")
            return _padded(code, bytes(value))
        return _padded(code, row.encode(value, self.transaction_id))

    def _header(self, length: int) -> bytes:
        if HEADER_SIZE + length > _MAX_MESSAGE:
            raise StunError("the message is too long")
        return _HEADER.pack(
            message_type(self.method, self.message_class), length, MAGIC_COOKIE, self.transaction_id
        )

    def __bytes__(self) -> bytes:
        body = b"".join(self._attribute_bytes(code, value) for code, value in self.attributes)
        return self._header(len(body)) + body

    def encode(self, *, integrity_key: bytes | None = None, fingerprint: bool = False) -> bytes:
        """The message with MESSAGE-INTEGRITY (when ``integrity_key`` is given) and FINGERPRINT
        (when asked) computed and appended; such attributes already in the list are left out."""
        skip = (Attribute.MESSAGE_INTEGRITY, Attribute.FINGERPRINT)
        body = b"".join(
            self._attribute_bytes(code, value) for code, value in self.attributes if code not in skip
        )
        if integrity_key is not None:
            digest = hmac.new(integrity_key, self._header(len(body) + 24) + body, hashlib.sha1).digest()
            body += _padded(Attribute.MESSAGE_INTEGRITY, digest)
        if fingerprint:
            crc = zlib.crc32(self._header(len(body) + 8) + body) ^ FINGERPRINT_XOR
            body += _padded(Attribute.FINGERPRINT, crc.to_bytes(4, "big"))
        return self._header(len(body)) + body

    # -- value semantics --------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (self.method, self.message_class, self.transaction_id, self.attributes) == (
            other.method,
            other.message_class,
            other.transaction_id,
            other.attributes,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        method = self.method.name if isinstance(self.method, Method) else f"{self.method:#x}"
        attributes = ", ".join(f"{attribute_name(code)}={value!r}" for code, value in self.attributes)
        return f"<STUN {method} {self.message_class.name} {self.transaction_id.hex()} [{attributes}]>"


def parse(data: bytes) -> Message:
    """:meth:`Message.parse`."""
    return Message.parse(data)


def is_stun(datagram: bytes) -> bool:
    """Quick demultiplexing test for a socket shared with SIP or RTP: two leading zero bits, the
    magic cookie, and a length field that matches the datagram."""
    return (
        len(datagram) >= HEADER_SIZE
        and datagram[0] & 0xC0 == 0
        and datagram[4:8] == _COOKIE_BYTES
        and int.from_bytes(datagram[2:4], "big") == len(datagram) - HEADER_SIZE
        and len(datagram) % 4 == 0
    )


# -- integrity and fingerprint --------------------------------------------------------------------


def _locate(datagram: bytes, code: int) -> tuple[int, bytes] | None:
    try:
        for offset, key, value in _walk(bytes(datagram)):
            if key == code:
                return offset, value
    except StunError:
        return None
    return None


def verify_integrity(datagram: bytes, key: bytes) -> bool:
    """True when ``datagram`` carries a MESSAGE-INTEGRITY that ``key`` produced (RFC 5389 §15.4)."""
    found = _locate(datagram, Attribute.MESSAGE_INTEGRITY)
    if found is None or len(found[1]) != _INTEGRITY_SIZE:
        return False
    offset, value = found
    covered = bytearray(datagram[:offset])
    covered[2:4] = (offset - HEADER_SIZE + 24).to_bytes(2, "big")
    expected = hmac.new(key, bytes(covered), hashlib.sha1).digest()
    return hmac.compare_digest(expected, value)


def verify_fingerprint(datagram: bytes) -> bool:
    """True when ``datagram`` ends with a correct FINGERPRINT (RFC 5389 §15.5)."""
    found = _locate(datagram, Attribute.FINGERPRINT)
    if found is None or len(found[1]) != 4 or found[0] + 8 != len(datagram):
        return False
    offset, value = found
    expected = zlib.crc32(bytes(datagram[:offset])) ^ FINGERPRINT_XOR
    return expected == int.from_bytes(value, "big")


_PROHIBITED = (
    stringprep.in_table_c12,
    stringprep.in_table_c21,
    stringprep.in_table_c22,
    stringprep.in_table_c3,
    stringprep.in_table_c4,
    stringprep.in_table_c5,
    stringprep.in_table_c6,
    stringprep.in_table_c7,
    stringprep.in_table_c8,
    stringprep.in_table_c9,
)


def saslprep(text: str) -> str:
    """SASLprep (RFC 4013, with unassigned code points allowed): map, NFKC, prohibit, check bidi.

    Raises StunError for a prohibited character or a bad mix of text directions."""
    mapped = "".join(
        " " if stringprep.in_table_c12(ch) else ch for ch in text if not stringprep.in_table_b1(ch)
    )
    result = unicodedata.normalize("NFKC", mapped)
    for ch in result:
        if any(table(ch) for table in _PROHIBITED):
            raise StunError(f"character U+{ord(ch):04X} is not allowed in a SASLprep string")
    if any(stringprep.in_table_d1(ch) for ch in result):
        if any(stringprep.in_table_d2(ch) for ch in result):
            raise StunError("a SASLprep string mixes right-to-left and left-to-right characters")
        if not (stringprep.in_table_d1(result[0]) and stringprep.in_table_d1(result[-1])):
            raise StunError("a right-to-left SASLprep string must start and end with such a character")
    return result


def short_term_key(password: str) -> bytes:
    """The MESSAGE-INTEGRITY key of short-term credentials (ICE): SASLprep(password) in UTF-8."""
    return saslprep(password).encode("utf-8")


def long_term_key(username: str, realm: str, password: str) -> bytes:
    """The key of long-term credentials (TURN): MD5(username ":" realm ":" SASLprep(password))."""
    return hashlib.md5(f"{username}:{realm}:{saslprep(password)}".encode(), usedforsecurity=False).digest()


# -- streams --------------------------------------------------------------------------------------


class StreamParser:
    """Frames STUN messages on a stream transport (TCP, TLS) by their length field.

    ``feed(data)`` returns the messages completed by ``data``; a partial one waits for more. Bytes
    that cannot start a STUN message raise StunError (the stream cannot be resynchronised).
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """How many bytes wait for the rest of their message."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        messages = []
        while len(self._buffer) >= 8:
            if self._buffer[0] & 0xC0 or self._buffer[4:8] != _COOKIE_BYTES:
                raise StunError("the stream does not continue with a STUN message")
            size = HEADER_SIZE + int.from_bytes(self._buffer[2:4], "big")
            if len(self._buffer) < size:
                break
            chunk = bytes(self._buffer[:size])
            del self._buffer[:size]
            messages.append(Message.parse(chunk))
        return messages
