"""SRTP sessions (sipsimple.core.media._srtp over csrc/srtp_ctx.c: our AES-CM engine, libsrtp2).

What they prove:
  * an independent Python model of SRTP (the `cryptography` package's AES, the standard library's
    HMAC-SHA1) reproduces the RFC 3711 Appendix B.2 AES-CM keystream, the B.3 key derivation and the
    RFC 7714 §16.1.1 AEAD_AES_128_GCM packet, all typed in from the RFCs;
  * our session produces exactly the model's SRTP and SRTCP packets for every suite, on both
    engines (ours for AES-CM by default, libsrtp): AES-CM with 80- and 32-bit tags (SRTCP keeping
    80 bits), AES-GCM 128 and 256; so the wire format interoperates with any other RFC
    implementation (test_srtp_engines.py compares the two engines in depth);
  * protect → unprotect round-trips RTP and RTCP for every suite; tampered, replayed, truncated and
    foreign packets are refused with the right status and counted, never fatal;
  * the rollover counter advances across sequence number 65535 (the packet after the wrap is the
    model's packet with ROC 1);
  * rekeying mid-stream swaps contexts: the same key again keeps the context (replay window and
    ROC), a new inbound key still accepts in-flight packets of the previous key for a while;
  * the C function table and session capsule are what another extension will use.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import hmac
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sipsimple.core import SIPCoreError
from sipsimple.core.media import _srtp
from sipsimple.core.media._srtp import SRTPError, SRTPSession

CM80, CM32, GCM128, GCM256 = _srtp.SUITE_NAMES
AVAILABLE = _srtp.available_suites()
needs_gcm = pytest.mark.skipif(GCM128 not in AVAILABLE, reason="this libsrtp build has no AES-GCM")

# RFC 3711 Appendix B.3
RFC_MASTER_KEY = bytes.fromhex("E1F97A0D3E018BE0D64FA32C06DE4139")
RFC_MASTER_SALT = bytes.fromhex("0EC675AD498AFEEBB6960B3AABE6")


# ---- the model ----------------------------------------------------------------------------------


def aes_cm(key: bytes, iv: int, length: int) -> bytes:
    """AES in counter mode from a 128-bit IV (RFC 3711 §4.1.1): the block counter is IV + i."""
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv.to_bytes(16, "big"))).encryptor()
    return encryptor.update(bytes(length)) + encryptor.finalize()


def xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream, strict=False))


def kdf(master_key: bytes, master_salt: bytes, label: int, length: int) -> bytes:
    """RFC 3711 §4.3.1 with key derivation rate 0: x = (label || r = 0) XOR master salt, then the
    AES-CM PRF of §4.3.3 with IV x * 2^16. A 96-bit GCM salt is padded with zeros on the right to
    the 112 bits of the PRF input (RFC 7714 §11)."""
    salt = int.from_bytes(master_salt.ljust(14, b"\0"), "big")
    x = salt ^ (label << 48)
    return aes_cm(master_key, x << 16, length)


def session_keys(suite: str, master: bytes, rtcp: bool = False) -> tuple[bytes, bytes, bytes]:
    """(cipher key, auth key, salt) for SRTP (labels 0, 1, 2) or SRTCP (3, 4, 5)."""
    gcm = suite.startswith("AEAD")
    key_length = 32 if suite == GCM256 else 16
    salt_length = 12 if gcm else 14
    key, salt = master[:key_length], master[key_length:]
    assert len(salt) == salt_length
    base = 3 if rtcp else 0
    return (
        kdf(key, salt, base, key_length),
        b"" if gcm else kdf(key, salt, base + 1, 20),
        kdf(key, salt, base + 2, salt_length),
    )


def model_protect_rtp(suite: str, master: bytes, packet: bytes, roc: int = 0) -> bytes:
    """The SRTP packet for an RTP packet with a 12-octet header (RFC 3711 §3.1, RFC 7714 §8)."""
    cipher_key, auth_key, salt = session_keys(suite, master)
    header, payload = packet[:12], packet[12:]
    seq, ssrc = struct.unpack("!H", packet[2:4])[0], struct.unpack("!I", packet[8:12])[0]
    if suite.startswith("AEAD"):
        iv = (int.from_bytes(salt, "big") ^ ((ssrc << 48) | (roc << 16) | seq)).to_bytes(12, "big")
        return header + AESGCM(cipher_key).encrypt(iv, payload, header)
    index = (roc << 16) | seq
    iv = (int.from_bytes(salt, "big") << 16) ^ (ssrc << 64) ^ (index << 16)
    encrypted = header + xor(payload, aes_cm(cipher_key, iv, len(payload)))
    tag = hmac.new(auth_key, encrypted + struct.pack("!I", roc), hashlib.sha1).digest()
    return encrypted + tag[: 4 if suite == CM32 else 10]


def model_protect_rtcp(suite: str, master: bytes, packet: bytes, index: int) -> bytes:
    """The SRTCP packet (RFC 3711 §3.4: E flag set, 31-bit index; RFC 7714 §9 for GCM)."""
    cipher_key, auth_key, salt = session_keys(suite, master, rtcp=True)
    header, payload = packet[:8], packet[8:]
    ssrc = struct.unpack("!I", packet[4:8])[0]
    trailer = struct.pack("!I", 0x80000000 | index)
    if suite.startswith("AEAD"):
        iv = (int.from_bytes(salt, "big") ^ ((ssrc << 48) | index)).to_bytes(12, "big")
        return header + AESGCM(cipher_key).encrypt(iv, payload, header + trailer) + trailer
    iv = (int.from_bytes(salt, "big") << 16) ^ (ssrc << 64) ^ (index << 16)
    encrypted = header + xor(payload, aes_cm(cipher_key, iv, len(payload))) + trailer
    return encrypted + hmac.new(auth_key, encrypted, hashlib.sha1).digest()[:10]


def rtp_packet(seq: int, ssrc: int = 0xCAFEBABE, payload: bytes = b"\xab" * 160, pt: int = 0) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, 0xDECAFBAD + 160 * seq, ssrc) + payload


def rtcp_packet(ssrc: int = 0xCAFEBABE) -> bytes:
    """A sender report with one report block (RFC 3550 §6.4.1)."""
    sender_info = struct.pack("!IIIII", 0xE0000000, 0x12345678, 0xDECAFBAD, 50, 8000)
    block = struct.pack("!IIIIII", 0x11223344, 0x01000002, 0x0001F00D, 12, 0xAABBCCDD, 0x00010000)
    body = struct.pack("!I", ssrc) + sender_info + block
    return struct.pack("!BBH", 0x81, 200, (4 + len(body)) // 4 - 1) + body


def master_key(suite: str, fill: int = 0) -> bytes:
    info = _srtp.suite_info(suite)
    return bytes((fill + i * 7) & 0xFF for i in range(info.key_length + info.salt_length))


def session(suite: str, key: bytes | None = None) -> SRTPSession:
    """A session that sends and receives with one key (loopback)."""
    s = SRTPSession()
    key = master_key(suite) if key is None else key
    s.set_outbound_key(suite, key)
    s.set_inbound_key(suite, key)
    return s


def status_of(call, *args) -> int:
    with pytest.raises(SRTPError) as error:
        call(*args)
    return error.value.status


# ---- the model against the RFCs -----------------------------------------------------------------


def test_the_model_aes_cm_keystream_is_rfc3711_appendix_b2():
    session_key = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
    iv = int("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000", 16)
    stream = aes_cm(session_key, iv, 16 * 0xFF02)
    block = [stream[16 * i : 16 * i + 16].hex().upper() for i in (0, 1, 0xFEFF, 0xFF00, 0xFF01)]
    assert block == [
        "E03EAD0935C95E80E166B16DD92B4EB4",
        "D23513162B02D0F72A43A2FE4A5F97AB",
        "EC8CDF7398607CB0F2D21675EA9EA1E4",
        "362B7C3C6773516318A077D7FC5073AE",
        "6A2CC3787889374FBEB4C81B17BA6C44",
    ]


def test_the_model_key_derivation_is_rfc3711_appendix_b3():
    assert kdf(RFC_MASTER_KEY, RFC_MASTER_SALT, 0, 16).hex().upper() == "C61E7A93744F39EE10734AFE3FF7A087"
    assert kdf(RFC_MASTER_KEY, RFC_MASTER_SALT, 2, 14).hex().upper() == "30CBBC08863D8C85D49DB34A9AE1"
    assert (
        kdf(RFC_MASTER_KEY, RFC_MASTER_SALT, 1, 20).hex().upper()
        == "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"
    )


def test_the_model_gcm_packet_is_rfc7714_section_16_1_1():
    key = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    salt = int("517569642070726f2071756f", 16)
    packet = bytes.fromhex("8040f17b8041f8d35501a0b2") + b"Gallia est omnis divisa in partes tres"
    seq, ssrc, roc = 0xF17B, 0x5501A0B2, 0
    iv = (salt ^ ((ssrc << 48) | (roc << 16) | seq)).to_bytes(12, "big")
    assert iv.hex() == "51753c6580c2726f20718414"
    protected = packet[:12] + AESGCM(key).encrypt(iv, packet[12:], packet[:12])
    assert protected.hex() == (
        "8040f17b8041f8d35501a0b2"
        "f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833"
        "899d7f27beb16a9152cf765ee4390cce"
    )


# ---- the engines against the model --------------------------------------------------------------


@pytest.mark.parametrize("engine", ["default", "libsrtp"])
@pytest.mark.parametrize("suite", [CM80, CM32])
def test_both_engines_protect_rtp_with_the_rfc3711_keys_exactly_as_the_model(suite, engine):
    s = SRTPSession(engine)
    s.set_outbound_key(suite, RFC_MASTER_KEY + RFC_MASTER_SALT)
    for seq in (0, 1, 0x1234):
        packet = rtp_packet(seq, payload=bytes(range(48)))
        assert s.protect_rtp(packet) == model_protect_rtp(suite, RFC_MASTER_KEY + RFC_MASTER_SALT, packet)


@pytest.mark.parametrize("engine", ["default", "libsrtp"])
@pytest.mark.parametrize("suite", _srtp.SUITE_NAMES)
def test_every_available_suite_matches_the_model_for_rtp_and_rtcp(suite, engine):
    if suite not in AVAILABLE:
        pytest.skip(f"this libsrtp build has no {suite}")
    key = master_key(suite, fill=0x5A)
    s = SRTPSession(engine)
    s.set_outbound_key(suite, key)
    packet = rtp_packet(0xBEEF)
    protected = s.protect_rtp(packet)
    assert len(protected) == len(packet) + _srtp.suite_info(suite).rtp_tail
    assert protected == model_protect_rtp(suite, key, packet)
    report = rtcp_packet()
    srtcp = s.protect_rtcp(report)
    assert len(srtcp) == len(report) + _srtp.suite_info(suite).rtcp_tail
    # where the index sits depends on the suite; read it back from the model's layout
    trailer_at = len(report) + (16 if suite.startswith("AEAD") else 0)
    index = struct.unpack("!I", srtcp[trailer_at : trailer_at + 4])[0]
    assert index & 0x80000000, "the E flag: SRTCP is encrypted"
    assert srtcp == model_protect_rtcp(suite, key, report, index & 0x7FFFFFFF)


@needs_gcm
def test_a_gcm_packet_built_by_the_model_is_accepted_by_libsrtp():
    key = master_key(GCM256, fill=3)
    s = SRTPSession()
    s.set_inbound_key(GCM256, key)
    packet = rtp_packet(77, ssrc=0x5501A0B2, payload=b"Gallia est omnis divisa in partes tres")
    assert s.unprotect_rtp(model_protect_rtp(GCM256, key, packet)) == packet


def test_the_rollover_counter_advances_across_sequence_number_65535():
    key = master_key(CM80, fill=9)
    sender, receiver = SRTPSession(), SRTPSession()
    sender.set_outbound_key(CM80, key)
    receiver.set_inbound_key(CM80, key)
    for seq in [*range(65530, 65536), *range(6)]:
        packet = rtp_packet(seq)
        protected = sender.protect_rtp(packet)
        assert receiver.unprotect_rtp(protected) == packet
        if seq == 3:
            assert protected == model_protect_rtp(CM80, key, packet, roc=1)
            assert protected != model_protect_rtp(CM80, key, packet, roc=0)
    assert receiver.stats.rtp_unprotected == 12
    assert receiver.stats.auth_failures == 0


LIBRARY_BACKEND_SCRIPT = """
import sys
from sipsimple.core.media import _srtp
s = _srtp.SRTPSession()
s.set_outbound_key(sys.argv[1], bytes.fromhex(sys.argv[2]))
print(_srtp.crypto_backend())
print(s.protect_rtp(bytes.fromhex(sys.argv[3])).hex())
print(s.protect_rtcp(bytes.fromhex(sys.argv[4])).hex())
"""


@pytest.mark.skipif(
    os.environ.get("SIPSIMPLE_SRTP_CRYPTO") == "library", reason="OpenSSL back end switched off"
)
def test_aes_cm_and_hmac_sha1_run_on_openssl_and_match_libsrtps_own_implementation():
    assert "OpenSSL" in _srtp.crypto_backend()
    for suite in (CM80, CM32, GCM128):
        if suite not in AVAILABLE:
            continue
        key, packet, report = master_key(suite, fill=0x33), rtp_packet(0xFFFF), rtcp_packet()
        result = subprocess.run(
            [sys.executable, "-c", LIBRARY_BACKEND_SCRIPT, suite, key.hex(), packet.hex(), report.hex()],
            env={**os.environ, "SIPSIMPLE_SRTP_CRYPTO": "library"},
            cwd=Path(__file__).resolve().parents[3],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        backend, srtp, srtcp = result.stdout.splitlines()
        assert "OpenSSL" not in backend
        s = SRTPSession()
        s.set_outbound_key(suite, key)
        assert s.protect_rtp(packet).hex() == srtp
        assert s.protect_rtcp(report).hex() == srtcp


# ---- round trips and refusals -------------------------------------------------------------------


def test_this_libsrtp_build_reports_what_it_supports():
    assert _srtp.library_version().startswith("libsrtp")
    assert {CM80, CM32} <= set(AVAILABLE), "the AES-CM suites are in every libsrtp"
    assert set(AVAILABLE) <= set(_srtp.SUITE_NAMES)
    assert [info.name for info in _srtp.suites()] == list(_srtp.SUITE_NAMES)
    assert _srtp.suite_info("aead_aes_256_gcm") == _srtp.suites()[3]
    assert (_srtp.suite_info(CM80).key_length, _srtp.suite_info(CM80).salt_length) == (16, 14)
    assert (_srtp.suite_info(GCM256).key_length, _srtp.suite_info(GCM256).salt_length) == (32, 12)


@pytest.mark.parametrize("suite", AVAILABLE)
def test_protect_then_unprotect_round_trips_rtp_and_rtcp(suite):
    s = session(suite)
    for seq in range(100, 150):
        packet = rtp_packet(seq, payload=bytes([seq & 0xFF]) * (seq % 7 + 1) * 20)
        protected = s.protect_rtp(packet)
        assert protected[12:] != packet[12:] + protected[len(packet) :], "the payload is encrypted"
        assert s.unprotect_rtp(protected) == packet
    for _ in range(5):
        report = rtcp_packet()
        assert s.unprotect_rtcp(s.protect_rtcp(report)) == report
    stats = s.stats
    assert (stats.rtp_protected, stats.rtp_unprotected, stats.rtcp_protected, stats.rtcp_unprotected) == (
        50,
        50,
        5,
        5,
    )
    assert stats.auth_failures == stats.replay_failures == stats.malformed == 0
    assert (stats.outbound_suite, stats.inbound_suite) == (suite, suite)


@pytest.mark.parametrize("suite", AVAILABLE)
@pytest.mark.parametrize("where", ["header", "payload", "tag"])
def test_a_tampered_packet_is_rejected_and_counted(suite, where):
    s = session(suite)
    protected = bytearray(s.protect_rtp(rtp_packet(10)))
    offset = {"header": 1, "payload": 20, "tag": len(protected) - 1}[where]
    protected[offset] ^= 0x01
    assert status_of(s.unprotect_rtp, bytes(protected)) == _srtp.E_AUTH
    assert s.stats.auth_failures == 1
    # the genuine packet still passes: a forgery does not poison the replay window
    protected[offset] ^= 0x01
    assert s.unprotect_rtp(bytes(protected)) == rtp_packet(10)


@pytest.mark.parametrize("suite", AVAILABLE)
def test_a_tampered_srtcp_packet_is_rejected_and_counted(suite):
    s = session(suite)
    protected = bytearray(s.protect_rtcp(rtcp_packet()))
    protected[12] ^= 0x80
    assert status_of(s.unprotect_rtcp, bytes(protected)) == _srtp.E_AUTH
    assert s.stats.auth_failures == 1


@pytest.mark.parametrize("suite", AVAILABLE)
def test_replayed_packets_are_rejected_and_counted(suite):
    s = session(suite)
    first, second = s.protect_rtp(rtp_packet(1000)), s.protect_rtp(rtp_packet(1001))
    report = s.protect_rtcp(rtcp_packet())
    assert s.unprotect_rtp(second) == rtp_packet(1001)
    assert s.unprotect_rtp(first) == rtp_packet(1000), "reordering inside the window is fine"
    assert status_of(s.unprotect_rtp, first) == _srtp.E_REPLAY
    assert status_of(s.unprotect_rtp, second) == _srtp.E_REPLAY
    assert s.unprotect_rtcp(report) == rtcp_packet()
    assert status_of(s.unprotect_rtcp, report) == _srtp.E_REPLAY
    assert s.stats.replay_failures == 3


def test_packets_older_than_the_replay_window_are_rejected():
    s = session(CM80)
    old = s.protect_rtp(rtp_packet(5))
    for seq in range(6, 6 + 300):
        s.unprotect_rtp(s.protect_rtp(rtp_packet(seq)))
    assert status_of(s.unprotect_rtp, old) == _srtp.E_REPLAY


def test_malformed_and_foreign_packets_are_counted_never_fatal():
    s = session(CM80)
    assert status_of(s.unprotect_rtp, b"\x80\x00\x00") == _srtp.E_MALFORMED
    assert status_of(s.unprotect_rtp, b"\x40" + bytes(40)) == _srtp.E_MALFORMED  # version 1
    assert status_of(s.unprotect_rtcp, b"\x81\xc8") == _srtp.E_MALFORMED
    assert status_of(s.unprotect_rtp, rtp_packet(3)[:14]) in (_srtp.E_MALFORMED, _srtp.E_AUTH)
    # a packet protected with another key
    stranger = session(CM80, key=master_key(CM80, fill=0x77))
    assert status_of(s.unprotect_rtp, stranger.protect_rtp(rtp_packet(4))) == _srtp.E_AUTH
    stats = s.stats
    assert stats.malformed + stats.auth_failures == 5
    assert s.unprotect_rtp(s.protect_rtp(rtp_packet(5))) == rtp_packet(5)


def test_without_keys_every_packet_is_refused():
    s = SRTPSession()
    assert not s.active
    assert status_of(s.protect_rtp, rtp_packet(1)) == _srtp.E_NO_KEY
    assert status_of(s.unprotect_rtp, rtp_packet(1)) == _srtp.E_NO_KEY
    assert s.stats.protect_failures == 1
    assert s.stats.other_failures == 1
    s.set_outbound_key(CM80, master_key(CM80))
    s.set_inbound_key(CM80, master_key(CM80))
    assert s.active
    s.clear_keys()
    assert (s.outbound_suite, s.inbound_suite, s.active) == (None, None, False)
    assert status_of(s.protect_rtcp, rtcp_packet()) == _srtp.E_NO_KEY


def test_bad_keys_and_suites_are_refused_with_a_reason():
    s = SRTPSession()
    with pytest.raises(SRTPError, match="30 octets") as error:
        s.set_outbound_key(CM80, bytes(29))
    assert error.value.status == _srtp.E_ARGUMENT
    with pytest.raises(SRTPError, match="unknown SRTP crypto suite"):
        s.set_inbound_key("F8_128_HMAC_SHA1_80", bytes(30))
    with pytest.raises(TypeError):
        s.set_inbound_key(CM80, "not bytes")
    assert issubclass(SRTPError, SIPCoreError)
    assert s.outbound_suite is None


def test_protect_refuses_a_packet_that_is_not_rtp():
    s = session(CM80)
    assert status_of(s.protect_rtp, b"\x80\x00") == _srtp.E_MALFORMED
    assert s.stats.protect_failures == 1
    assert s.tail_room() == 10 and s.tail_room(rtcp=True) == 14
    assert SRTPSession().tail_room() == _srtp.MAX_RTP_TAIL


# ---- rekeying -----------------------------------------------------------------------------------


def test_installing_the_same_key_again_keeps_the_context():
    s = session(CM80)
    packet = s.protect_rtp(rtp_packet(1))
    assert s.unprotect_rtp(packet) == rtp_packet(1)
    assert s.set_inbound_key(CM80, master_key(CM80)) is False
    assert s.set_outbound_key(CM80, master_key(CM80)) is False
    # same context: the replay window remembers the packet
    assert status_of(s.unprotect_rtp, packet) == _srtp.E_REPLAY
    assert (s.stats.inbound_rekeys, s.stats.outbound_rekeys) == (0, 0)


def test_an_outbound_rekey_mid_stream_switches_keys_between_packets():
    old, new = master_key(CM80, 1), master_key(CM80, 2)
    sender, old_receiver, new_receiver = SRTPSession(), SRTPSession(), SRTPSession()
    sender.set_outbound_key(CM80, old)
    old_receiver.set_inbound_key(CM80, old)
    new_receiver.set_inbound_key(CM80, new)
    assert old_receiver.unprotect_rtp(sender.protect_rtp(rtp_packet(1))) == rtp_packet(1)
    assert sender.set_outbound_key(CM80, new) is True
    packet = sender.protect_rtp(rtp_packet(2))
    assert new_receiver.unprotect_rtp(packet) == rtp_packet(2)
    assert status_of(old_receiver.unprotect_rtp, packet) == _srtp.E_AUTH
    assert sender.stats.outbound_rekeys == 1


@pytest.mark.parametrize("new_suite", AVAILABLE)
def test_an_inbound_rekey_still_accepts_packets_of_the_previous_key_in_flight(new_suite):
    old_key, new_key = master_key(CM80, 1), master_key(new_suite, 2)
    peer_old, peer_new = SRTPSession(), SRTPSession()
    peer_old.set_outbound_key(CM80, old_key)
    peer_new.set_outbound_key(new_suite, new_key)
    s = SRTPSession()
    s.set_inbound_key(CM80, old_key)
    assert s.unprotect_rtp(peer_old.protect_rtp(rtp_packet(1))) == rtp_packet(1)
    in_flight = [peer_old.protect_rtp(rtp_packet(seq)) for seq in (2, 3)]
    assert s.set_inbound_key(new_suite, new_key) is True
    assert s.unprotect_rtp(in_flight[0]) == rtp_packet(2)
    assert s.unprotect_rtp(peer_new.protect_rtp(rtp_packet(4))) == rtp_packet(4)
    assert s.unprotect_rtp(in_flight[1]) == rtp_packet(3)
    assert status_of(s.unprotect_rtp, in_flight[1]) == _srtp.E_REPLAY, "the old context keeps its window"
    stats = s.stats
    assert (stats.unprotected_with_previous_key, stats.inbound_rekeys, stats.inbound_suite) == (
        2,
        1,
        new_suite,
    )


def test_the_previous_inbound_key_is_dropped_once_the_new_one_is_established():
    old_key, new_key = master_key(CM80, 1), master_key(CM80, 2)
    peer_old, peer_new = session(CM80, old_key), session(CM80, new_key)
    s = SRTPSession()
    s.set_inbound_key(CM80, old_key)
    late = peer_old.protect_rtp(rtp_packet(10))
    s.set_inbound_key(CM80, new_key)
    for seq in range(20, 20 + 64):  # MEDIA_SRTP_FALLBACK_PACKETS
        s.unprotect_rtp(peer_new.protect_rtp(rtp_packet(seq)))
    assert status_of(s.unprotect_rtp, late) == _srtp.E_AUTH
    assert s.stats.unprotected_with_previous_key == 0


def test_a_second_rekey_forgets_the_key_before_the_previous_one():
    keys = [master_key(CM80, n) for n in range(3)]
    peers = [session(CM80, k) for k in keys]
    s = SRTPSession()
    s.set_inbound_key(CM80, keys[0])
    first = peers[0].protect_rtp(rtp_packet(1))
    s.set_inbound_key(CM80, keys[1])
    s.set_inbound_key(CM80, keys[2])
    assert status_of(s.unprotect_rtp, first) == _srtp.E_AUTH
    assert s.unprotect_rtp(peers[1].protect_rtp(rtp_packet(2))) == rtp_packet(2)
    assert s.stats.inbound_rekeys == 2


# ---- what other extensions use ------------------------------------------------------------------


def test_the_session_capsule_keeps_its_session_alive():
    s = session(CM80)
    capsule = s.capsule()
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    assert get(capsule, _srtp.SESSION_CAPSULE_NAME.encode()) is not None
    del s
    gc.collect()
    assert get(capsule, _srtp.SESSION_CAPSULE_NAME.encode()) is not None


def api_function(index: int, restype, *argtypes):
    """The index-th function pointer of media_srtp_api (after the unsigned version)."""
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    table = get(_srtp._C_API, _srtp.API_CAPSULE_NAME.encode())
    assert ctypes.c_uint.from_address(table).value == 1, "MEDIA_SRTP_API_VERSION"
    pointer = ctypes.c_void_p.from_address(table + 8 + 8 * index).value
    return ctypes.CFUNCTYPE(restype, *argtypes)(pointer)


def test_the_function_table_protects_in_place_on_a_session_from_a_capsule():
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    s = session(GCM128 if GCM128 in AVAILABLE else CM80)
    pointer = get(s.capsule(), _srtp.SESSION_CAPSULE_NAME.encode())
    # 10: protect_rtp(s, buf, length, capacity); 11: unprotect_rtp(s, buf, length)
    protect = api_function(
        10, ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t
    )
    unprotect = api_function(11, ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t)
    packet = rtp_packet(42)
    buf = ctypes.create_string_buffer(packet, len(packet) + _srtp.MAX_RTP_TAIL)
    n = protect(pointer, buf, len(packet), len(buf))
    assert n == len(packet) + s.tail_room()
    assert buf.raw[:n] != packet + buf.raw[len(packet) : n]
    assert unprotect(pointer, buf, n) == len(packet)
    assert buf.raw[: len(packet)] == packet
    assert protect(pointer, buf, len(packet), len(packet) + 3) == -4  # MEDIA_SRTP_E_SPACE
