"""The STUN codec: RFC 5769 test vectors, round trips of every attribute in the table, the parser
three ways (whole, a byte at a time on a stream, with trailing garbage), integrity and fingerprint
checks, the demultiplexing test, and a fuzz test where StunError is the only allowed failure."""

from __future__ import annotations

import struct
from ipaddress import IPv6Address

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipsimple.core.nat.stun import (
    ATTRIBUTES,
    MAGIC_COOKIE,
    Attribute,
    Change,
    ErrorCode,
    Message,
    MessageClass,
    Method,
    StreamParser,
    StunError,
    TransportAddress,
    is_stun,
    long_term_key,
    message_type,
    parse,
    saslprep,
    short_term_key,
    split_type,
    verify_fingerprint,
    verify_integrity,
)


def hexbytes(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


# RFC 5769 (facts typed in from the RFC text). Vectors 2.1-2.3 pad with 0x20, not zero.
TRANSACTION_ID = hexbytes("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae")
SHORT_TERM_PASSWORD = "VOkJxbRl1RmTxUk/WvJxBt"
SAMPLE_REQUEST = hexbytes("""
    00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
    00 24 00 04 6e 00 01 ff
    80 29 00 08 93 2f f9 b1 51 26 3b 36
    00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
    00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
    80 28 00 04 e5 7a 3b cf""")
SAMPLE_IPV4_RESPONSE = hexbytes("""
    01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 08 00 01 a1 47 e1 12 a6 43
    00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
    80 28 00 04 c0 7d 4c 96""")
SAMPLE_IPV6_RESPONSE = hexbytes("""
    01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
    00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
    80 28 00 04 c8 fb 0b 4c""")
LONG_TERM_REQUEST = hexbytes("""
    00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
    00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
    00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41
    00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
    00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66""")
LONG_TERM_USERNAME = "\u30de\u30c8\u30ea\u30c3\u30af\u30b9"
LONG_TERM_PASSWORD = "The\u00adM\u00aatr\u2168"  # SASLprep makes it "TheMatrIX"
RFC5769 = [SAMPLE_REQUEST, SAMPLE_IPV4_RESPONSE, SAMPLE_IPV6_RESPONSE, LONG_TERM_REQUEST]


def zero_padding(data: bytes) -> bytes:
    """The same message with every padding byte set to zero (the canonical form we write)."""
    out, offset = bytearray(data[:20]), 20
    while offset < len(data):
        size = int.from_bytes(data[offset + 2 : offset + 4], "big")
        padded = size + (-size % 4)
        out += data[offset : offset + 4 + size] + bytes(padded - size)
        offset += 4 + padded
    return bytes(out)


# -- RFC 5769 ---------------------------------------------------------------------------------------


def test_the_rfc5769_sample_request_parses_and_its_integrity_and_fingerprint_verify():
    message = parse(SAMPLE_REQUEST)
    assert (message.method, message.message_class) == (Method.BINDING, MessageClass.REQUEST)
    assert message.transaction_id == TRANSACTION_ID
    assert message.get(Attribute.SOFTWARE) == "STUN test client"
    assert message.get(Attribute.PRIORITY) == 0x6E0001FF
    assert message.get(Attribute.ICE_CONTROLLED) == 0x932FF9B151263B36
    assert message.get(Attribute.USERNAME) == "evtj:h6vY"
    assert verify_integrity(SAMPLE_REQUEST, short_term_key(SHORT_TERM_PASSWORD))
    assert not verify_integrity(SAMPLE_REQUEST, short_term_key("VOkJxbRl1RmTxUk/WvJxBu"))
    assert verify_fingerprint(SAMPLE_REQUEST)


@pytest.mark.parametrize(
    ("vector", "mapped"),
    [
        (SAMPLE_IPV4_RESPONSE, ("192.0.2.1", 32853)),
        (SAMPLE_IPV6_RESPONSE, ("2001:db8:1234:5678:11:2233:4455:6677", 32853)),
    ],
)
def test_the_rfc5769_responses_give_their_xor_mapped_address(vector, mapped):
    message = parse(vector)
    assert message.message_class is MessageClass.SUCCESS
    assert message.get(Attribute.SOFTWARE) == "test vector"
    assert message.get(Attribute.XOR_MAPPED_ADDRESS) == mapped
    assert verify_integrity(vector, short_term_key(SHORT_TERM_PASSWORD))
    assert verify_fingerprint(vector)


def test_rebuilding_an_rfc5769_response_reproduces_its_address_integrity_and_fingerprint():
    """Written by us (zero padding), the same attributes give a message that verifies with the same
    password, and the XOR-MAPPED-ADDRESS bytes are those of the RFC."""
    rebuilt = Message(
        Method.BINDING,
        MessageClass.SUCCESS,
        TRANSACTION_ID,
        [(Attribute.SOFTWARE, "test vector"), (Attribute.XOR_MAPPED_ADDRESS, ("192.0.2.1", 32853))],
    ).encode(integrity_key=short_term_key(SHORT_TERM_PASSWORD), fingerprint=True)
    assert rebuilt[20 + 16 : 20 + 16 + 12] == SAMPLE_IPV4_RESPONSE[20 + 16 : 20 + 16 + 12]
    assert verify_integrity(rebuilt, short_term_key(SHORT_TERM_PASSWORD)) and verify_fingerprint(rebuilt)
    assert len(rebuilt) == len(SAMPLE_IPV4_RESPONSE)


def test_the_rfc5769_long_term_request_verifies_with_the_saslprepped_password_and_rebuilds_exactly():
    message = parse(LONG_TERM_REQUEST)
    assert message.get(Attribute.USERNAME) == LONG_TERM_USERNAME
    assert message.get(Attribute.NONCE) == "f//499k954d6OL34oL9FSTvy64sA"
    assert message.get(Attribute.REALM) == "example.org"
    assert saslprep(LONG_TERM_PASSWORD) == "TheMatrIX"
    key = long_term_key(LONG_TERM_USERNAME, "example.org", LONG_TERM_PASSWORD)
    assert key == long_term_key(LONG_TERM_USERNAME, "example.org", "TheMatrIX")
    assert verify_integrity(LONG_TERM_REQUEST, key)
    assert not verify_integrity(
        LONG_TERM_REQUEST, long_term_key(LONG_TERM_USERNAME, "example.org", "thematrix")
    )
    assert not verify_fingerprint(LONG_TERM_REQUEST)  # it has none
    unsigned = Message(message.method, message.message_class, message.transaction_id, message.attributes[:3])
    assert unsigned.encode(integrity_key=key) == LONG_TERM_REQUEST


@pytest.mark.parametrize("vector", RFC5769)
def test_every_rfc5769_vector_round_trips_in_canonical_form(vector):
    assert bytes(parse(vector)) == zero_padding(vector)
    assert bytes(parse(zero_padding(vector))) == zero_padding(vector)


# -- header -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "message_class", "value"),
    [
        (Method.BINDING, MessageClass.REQUEST, 0x0001),
        (Method.BINDING, MessageClass.INDICATION, 0x0011),
        (Method.BINDING, MessageClass.SUCCESS, 0x0101),
        (Method.BINDING, MessageClass.ERROR, 0x0111),
        (Method.ALLOCATE, MessageClass.REQUEST, 0x0003),
        (Method.ALLOCATE, MessageClass.ERROR, 0x0113),
        (Method.SEND, MessageClass.INDICATION, 0x0016),
        (0xFFF, MessageClass.ERROR, 0x3FFF),
    ],
)
def test_the_message_type_interleaves_method_and_class_bits(method, message_class, value):
    assert message_type(method, message_class) == value
    assert split_type(value) == (method, message_class)


@given(st.integers(0, 0xFFF), st.sampled_from(MessageClass))
def test_every_method_and_class_survives_the_type_field(method, message_class):
    assert split_type(message_type(method, message_class)) == (method, message_class)


def test_a_method_wider_than_12_bits_and_a_short_transaction_id_are_refused():
    with pytest.raises(StunError):
        Message(0x1000)
    with pytest.raises(StunError):
        Message(transaction_id=b"short")


def test_a_new_message_gets_a_random_transaction_id_and_a_reply_keeps_it():
    first, second = Message(), Message()
    assert len(first.transaction_id) == 12 and first.transaction_id != second.transaction_id
    reply = first.reply(MessageClass.ERROR, [(Attribute.ERROR_CODE, ErrorCode(400, "Bad Request"))])
    assert (reply.method, reply.transaction_id, reply.message_class) == (
        first.method,
        first.transaction_id,
        MessageClass.ERROR,
    )


# -- attributes -------------------------------------------------------------------------------------

SAMPLE_VALUES = {
    Attribute.MAPPED_ADDRESS: [("198.51.100.7", 1), ("2001:db8::1", 65535)],
    Attribute.CHANGE_REQUEST: [Change.IP | Change.PORT, Change.PORT, Change.NONE],
    Attribute.USERNAME: ["alice:bob", "\u00e9" * 256],
    Attribute.MESSAGE_INTEGRITY: [bytes(range(20))],
    Attribute.ERROR_CODE: [ErrorCode(420, "Unknown Attribute"), ErrorCode(300, ""), ErrorCode(699, "x")],
    Attribute.UNKNOWN_ATTRIBUTES: [(0x0002, 0x7FFF), (0x0003,), ()],
    Attribute.REALM: ["example.org"],
    Attribute.NONCE: ["f//499k954d6OL34oL9FSTvy64sA"],
    # IPv4-mapped IPv6 stays IPv6, written as the ipaddress module writes it
    Attribute.XOR_MAPPED_ADDRESS: [
        ("192.0.2.1", 32853),
        (str(IPv6Address("::ffff:192.0.2.1")), 9),
        ("fe80::1", 0),
    ],
    Attribute.PRIORITY: [0, 0xFFFFFFFF],
    Attribute.USE_CANDIDATE: [True],
    Attribute.SOFTWARE: ["sipsimple 1.0", ""],
    Attribute.ALTERNATE_SERVER: [("203.0.113.9", 3478)],
    Attribute.FINGERPRINT: [0xDEADBEEF],
    Attribute.ICE_CONTROLLED: [0x932FF9B151263B36],
    Attribute.ICE_CONTROLLING: [2**64 - 1],
    Attribute.RESPONSE_ORIGIN: [("127.0.0.2", 3479)],
    Attribute.OTHER_ADDRESS: [("2001:db8::2", 3479)],
}


def test_the_attribute_table_has_one_row_per_known_attribute_and_each_has_samples_here():
    assert set(ATTRIBUTES) == set(Attribute) == set(SAMPLE_VALUES)
    assert all(row.code == code and row.name for code, row in ATTRIBUTES.items())
    assert ATTRIBUTES[Attribute.XOR_MAPPED_ADDRESS].name == "XOR-MAPPED-ADDRESS"


@pytest.mark.parametrize(
    ("code", "value"), [(code, value) for code, values in SAMPLE_VALUES.items() for value in values]
)
def test_each_attribute_value_survives_serialising_and_parsing(code, value):
    message = Message(attributes=[(code, value)])
    data = bytes(message)
    assert len(data) % 4 == 0 and is_stun(data)
    again = parse(data)
    assert again == message and again.get(code) == value
    assert bytes(again) == data


def test_an_unknown_attribute_is_kept_as_bytes_and_written_back_unchanged():
    data = bytes(Message(attributes=[(0x7FF0, b"\x01\x02\x03"), (0xC001, b"")]))
    message = parse(data)
    assert message.get(0x7FF0) == b"\x01\x02\x03" and 0xC001 in message
    assert message.unknown_comprehension_required() == [0x7FF0]
    assert bytes(message) == data
    with pytest.raises(StunError, match="unknown"):
        bytes(Message(attributes=[(0x7FF0, "text")]))


def test_addresses_are_xored_with_the_cookie_and_for_ipv6_the_transaction_id():
    message = Message(transaction_id=TRANSACTION_ID)
    message.add(Attribute.XOR_MAPPED_ADDRESS, ("192.0.2.1", 32853)).add(
        Attribute.MAPPED_ADDRESS, ("192.0.2.1", 32853)
    )
    data = bytes(message)
    assert data[24:32] == hexbytes("00 01 a1 47 e1 12 a6 43")
    assert data[36:44] == hexbytes("00 01 80 55 c0 00 02 01")  # plain: port 32853, 192.0.2.1
    assert TransportAddress("::1", 5).family == 6 and str(TransportAddress("::1", 5)) == "[::1]:5"
    assert str(TransportAddress("192.0.2.1", 5)) == "192.0.2.1:5"


@pytest.mark.parametrize(
    ("code", "value"),
    [
        (Attribute.XOR_MAPPED_ADDRESS, ("not-an-ip", 1)),
        (Attribute.MAPPED_ADDRESS, ("192.0.2.1", 70000)),
        (Attribute.ERROR_CODE, ErrorCode(200, "OK")),
        (Attribute.USERNAME, "x" * 513),
        (Attribute.SOFTWARE, "x" * 764),
        (Attribute.PRIORITY, 2**32),
        (Attribute.PRIORITY, "high"),
    ],
)
def test_values_that_cannot_be_encoded_raise_stun_error(code, value):
    with pytest.raises(StunError):
        bytes(Message(attributes=[(code, value)]))


def attribute_message(code: int, value: bytes) -> bytes:
    body = struct.pack("!HH", code, len(value)) + value + bytes(-len(value) % 4)
    return struct.pack("!HHI", 0x0001, len(body), MAGIC_COOKIE) + TRANSACTION_ID + body


@pytest.mark.parametrize(
    ("code", "value", "complaint"),
    [
        (Attribute.XOR_MAPPED_ADDRESS, bytes((0, 3, 0, 1, 1, 2, 3, 4)), "family"),
        (Attribute.XOR_MAPPED_ADDRESS, bytes((0, 1, 0, 1, 1, 2, 3)), "8 bytes"),
        (Attribute.MAPPED_ADDRESS, bytes((0, 2, 0, 1)) + bytes(4), "20 bytes"),
        (Attribute.ERROR_CODE, bytes((0, 0, 2, 0)), "outside"),
        (Attribute.ERROR_CODE, bytes((0, 0, 4)), "shorter"),
        (Attribute.ERROR_CODE, bytes((0, 0, 4, 100)), "outside"),
        (Attribute.USERNAME, b"\xff\xfe", "UTF-8"),
        (Attribute.USERNAME, b"a" * 513, "longer"),
        (Attribute.UNKNOWN_ATTRIBUTES, b"\x00\x01\x00", "odd"),
        (Attribute.PRIORITY, b"\x00\x00\x01", "4 bytes"),
        (Attribute.CHANGE_REQUEST, b"\x00\x00\x00\x00\x00", "4 bytes"),
        (Attribute.USE_CANDIDATE, b"\x01", "empty"),
        (Attribute.MESSAGE_INTEGRITY, bytes(19), "20 bytes"),
    ],
)
def test_a_malformed_attribute_value_raises_stun_error_saying_what_is_wrong(code, value, complaint):
    with pytest.raises(StunError, match=complaint):
        parse(attribute_message(code, value))


# -- framing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        (lambda d: d[:19], "at least 20"),
        (lambda d: bytes([d[0] | 0x80]) + d[1:], "first two bits"),
        (lambda d: d[:4] + b"\x21\x12\xa4\x43" + d[8:], "cookie"),
        (lambda d: d[:2] + (len(d) - 19).to_bytes(2, "big") + d[4:], "multiple of 4"),
        (lambda d: d[:2] + (len(d) - 16).to_bytes(2, "big") + d[4:], "the header says"),
        (lambda d: d[:-4], "the header says"),
        (lambda d: d + b"\x00\x00\x00\x00", "the header says"),
        (lambda d: d[:2] + (4).to_bytes(2, "big") + d[4:24], "runs past"),
    ],
)
def test_malformed_framing_raises_stun_error(mutate, complaint):
    good = bytes(Message(attributes=[(Attribute.SOFTWARE, "abcdefgh"), (Attribute.PRIORITY, 7)]))
    with pytest.raises(StunError, match=complaint):
        parse(mutate(good))


def test_a_message_with_trailing_garbage_is_refused_whole_and_framed_on_a_stream():
    good = bytes(Message(attributes=[(Attribute.SOFTWARE, "x")]))
    with pytest.raises(StunError):
        parse(good + b"garbage!")
    assert not is_stun(good + b"garbage!")
    parser = StreamParser()
    assert parser.feed(good + b"\x00\x01") == [parse(good)]
    assert parser.pending == 2
    with pytest.raises(StunError, match="does not continue"):
        parser.feed(b"GARBAGE!")


@pytest.mark.parametrize("vector", [zero_padding(v) for v in RFC5769])
def test_a_stream_fed_one_byte_at_a_time_gives_each_message_once_complete(vector):
    parser = StreamParser()
    stream = vector + vector
    found: list[Message] = []
    for index in range(len(stream)):
        found += parser.feed(stream[index : index + 1])
        assert len(found) == (index + 1) // len(vector)
    assert found == [parse(vector), parse(vector)] and parser.pending == 0


def test_attributes_after_message_integrity_are_ignored_except_fingerprint_and_nothing_follows_fingerprint():
    key = b"secret"
    signed = Message(attributes=[(Attribute.USERNAME, "a:b")]).encode(integrity_key=key)
    extra = struct.pack("!HHI", Attribute.PRIORITY, 4, 9)
    tampered = bytearray(signed + extra)
    tampered[2:4] = (len(tampered) - 20).to_bytes(2, "big")
    message = parse(bytes(tampered))
    assert Attribute.PRIORITY not in message and verify_integrity(bytes(tampered), key)
    fingerprinted = Message().encode(fingerprint=True)
    after = bytearray(fingerprinted + extra)
    after[2:4] = (len(after) - 20).to_bytes(2, "big")
    assert [code for code, _ in parse(bytes(after)).attributes] == [Attribute.FINGERPRINT]
    assert not verify_fingerprint(bytes(after))  # FINGERPRINT must be the last attribute


# -- integrity, fingerprint, demultiplexing -----------------------------------------------------------


def test_encode_replaces_stale_integrity_and_fingerprint_and_any_flipped_bit_breaks_them():
    message = Message(
        attributes=[
            (Attribute.USERNAME, "u"),
            (Attribute.MESSAGE_INTEGRITY, bytes(20)),
            (Attribute.FINGERPRINT, 1),
        ]
    )
    data = message.encode(integrity_key=b"k", fingerprint=True)
    assert [code for code, _ in parse(data).attributes] == [
        Attribute.USERNAME,
        Attribute.MESSAGE_INTEGRITY,
        Attribute.FINGERPRINT,
    ]
    assert verify_integrity(data, b"k") and verify_fingerprint(data)
    for index in range(20, len(data) - 4):
        flipped = bytearray(data)
        flipped[index] ^= 0x01
        assert not (verify_integrity(bytes(flipped), b"k") and verify_fingerprint(bytes(flipped)))
    assert not verify_integrity(bytes(Message()), b"k") and not verify_fingerprint(bytes(Message()))
    assert not verify_integrity(b"junk", b"k") and not verify_fingerprint(b"junk")


@pytest.mark.parametrize(
    ("datagram", "expected"),
    [
        (bytes(Message()), True),
        (SAMPLE_REQUEST, True),
        (b"INVITE sip:bob@example.com SIP/2.0\r\n\r\n", False),
        (bytes([0x80, 0x00]) + bytes(18), False),  # RTP version 2
        (bytes(Message())[:19], False),
        (bytes(Message()) + b"\x00", False),
        (bytes(20), False),
    ],
)
def test_is_stun_tells_stun_from_sip_and_rtp(datagram, expected):
    assert is_stun(datagram) is expected


def test_saslprep_maps_normalises_and_refuses_prohibited_characters():
    assert saslprep("I\u00adX") == "IX" and saslprep("\u2168") == "IX" and saslprep("a\u00a0b") == "a b"
    with pytest.raises(StunError):
        saslprep("a\u0007b")  # control character
    with pytest.raises(StunError):
        saslprep("\u0627a")  # right-to-left mixed with left-to-right
    assert saslprep("\u0627\u0628") == "\u0627\u0628"
    assert short_term_key("pass") == b"pass"


# -- fuzz -------------------------------------------------------------------------------------------

FUZZ = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_any(data: bytes) -> None:
    """parse, is_stun and the verifiers may only return or raise StunError."""
    try:
        message = parse(data)
    except StunError:
        pass
    else:
        assert is_stun(data)
        assert parse(bytes(message)) == message  # what we parsed, we can write
    is_stun(data)
    verify_integrity(data, b"key")
    verify_fingerprint(data)
    try:
        StreamParser().feed(data)
    except StunError:
        pass


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_random_bytes_only_raise_stun_error(data):
    check_any(data)


@FUZZ
@given(st.sampled_from(RFC5769), st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=6))
def test_fuzz_mutated_rfc5769_vectors_only_raise_stun_error(vector, edits):
    data = bytearray(vector)
    for position, byte in edits:
        data[position % len(data)] = byte
    check_any(bytes(data))


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=24)), max_size=8))
def test_fuzz_well_framed_messages_with_random_attributes_only_raise_stun_error(attributes):
    body = b"".join(struct.pack("!HH", code, len(v)) + v + bytes(-len(v) % 4) for code, v in attributes)
    data = struct.pack("!HHI", 0x0101, len(body), MAGIC_COOKIE) + TRANSACTION_ID + body
    check_any(data)
