"""Our AES-CM SRTP engine (csrc/srtp_cm.c) against libsrtp (``SRTPSession(engine="libsrtp")``).

What they prove, for AES_CM_128_HMAC_SHA1_80 and _32:
  * the default engine is ours for the AES-CM suites (and libsrtp keeps the AEAD ones);
  * both engines write the same octets for the same RTP and RTCP packets, over payloads of every
    length from 0 to 300 octets (partial, whole and many AES blocks), with CSRCs, a header
    extension and padding, for interleaved SSRCs, and across a rollover of the sequence number;
    and each engine's packets are accepted by the other one (so ours interoperates with whatever
    libsrtp interoperates with), with the RFC model of test_srtp.py as a third opinion;
  * a differential run: the same stream of packets with loss, reordering, late packets, replays,
    tampered packets and jumps of the sequence number gets the same verdict, packet by packet, and
    the same counters, from both engines' inbound sides (and both senders wrote it alike); so do
    random octets (refused as malformed or forged, never a crash), and SRTCP without the E flag is
    refused by both;
  * replayed and tampered packets are refused and counted, for RTP and RTCP; a sender refuses to
    protect a sequence number twice under one key (keystream reuse), as libsrtp does;
  * the per-SSRC table: an outbound source beyond it is refused with E_SOURCES, an inbound one
    replaces the least recently used source and the others keep their replay windows;
  * AES on the CPU's AES instructions and on libcrypto's EVP give the same packets (a child process
    with SIPSIMPLE_SRTP_AESNI=0).
"""

from __future__ import annotations

import json
import os
import random
import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from sipsimple.core.media import _srtp
from sipsimple.core.media._srtp import SRTPError, SRTPSession

from .test_srtp import CM32, CM80, master_key, model_protect_rtcp, model_protect_rtp, rtcp_packet, rtp_packet

SUITES = [CM80, CM32]
needs_our_engine = pytest.mark.skipif(
    os.environ.get("SIPSIMPLE_SRTP_CRYPTO") == "library", reason="SIPSIMPLE_SRTP_CRYPTO=library: libsrtp only"
)


def sender(suite: str, engine: str, key: bytes) -> SRTPSession:
    s = SRTPSession(engine)
    s.set_outbound_key(suite, key)
    return s


def receiver(suite: str, engine: str, key: bytes) -> SRTPSession:
    s = SRTPSession(engine)
    s.set_inbound_key(suite, key)
    return s


def verdict(call, packet: bytes) -> bytes | int:
    """The unprotected packet, or the SRTPError status."""
    try:
        return call(packet)
    except SRTPError as error:
        return error.status


def test_the_default_engine_is_ours_for_aes_cm_and_an_unknown_engine_is_refused():
    assert "sipsimple" in _srtp.crypto_backend() or os.environ.get("SIPSIMPLE_SRTP_CRYPTO") == "library"
    with pytest.raises(SRTPError, match="unknown SRTP engine") as error:
        SRTPSession("nss")
    assert error.value.status == _srtp.E_ARGUMENT


@pytest.mark.parametrize("suite", SUITES)
def test_both_engines_write_the_same_octets_for_every_payload_length(suite):
    key = master_key(suite, fill=0x21)
    ours, theirs = sender(suite, "default", key), sender(suite, "libsrtp", key)
    for length in range(301):
        packet = rtp_packet(1000 + length, payload=bytes((length * 7 + i) & 0xFF for i in range(length)))
        protected = ours.protect_rtp(packet)
        assert protected == theirs.protect_rtp(packet), f"payload of {length} octets"
        if length in (0, 1, 15, 16, 17, 127, 128, 129, 160, 300):
            assert protected == model_protect_rtp(suite, key, packet)
    for length in (0, 4, 20, 99, 200):
        report = rtcp_packet() + bytes(range(length))
        assert ours.protect_rtcp(report) == theirs.protect_rtcp(report)


def header_variants() -> list[bytes]:
    """RTP packets with two CSRCs, with a header extension, with padding, and all three."""
    payload = bytes(range(100))
    csrcs = struct.pack("!II", 0x01020304, 0x05060708)
    extension = struct.pack("!HH", 0xBEDE, 2) + bytes([0x10, 0xAA, 0, 0, 0x21, 0xBB, 0xCC, 0])
    padding = bytes([0, 0, 0, 4])
    base = struct.pack("!HII", 7, 160 * 7, 0x11223344)
    return [
        struct.pack("!BB", 0x82, 8) + base + csrcs + payload,
        struct.pack("!BB", 0x90, 8) + base + extension + payload,
        struct.pack("!BB", 0xA0, 8) + base + payload + padding,
        struct.pack("!BB", 0xB2, 0x88) + base + csrcs + extension + payload + padding,
    ]


@pytest.mark.parametrize("suite", SUITES)
def test_csrcs_header_extensions_and_padding_are_handled_alike(suite):
    key = master_key(suite, fill=0x42)
    for engine_out, engine_in in (("default", "libsrtp"), ("libsrtp", "default")):
        out, back = sender(suite, engine_out, key), receiver(suite, engine_in, key)
        reference = sender(suite, "libsrtp" if engine_out == "default" else "default", key)
        for seq, packet in enumerate(header_variants()):
            packet = packet[:2] + struct.pack("!H", seq) + packet[4:]
            protected = out.protect_rtp(packet)
            assert protected == reference.protect_rtp(packet)
            header_end = len(packet) - 100 - (4 if packet[0] & 0x20 else 0)
            assert protected[:header_end] == packet[:header_end], "headers and extensions stay clear"
            assert back.unprotect_rtp(protected) == packet


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize(("engine_out", "engine_in"), [("default", "libsrtp"), ("libsrtp", "default")])
def test_each_engine_unprotects_the_other_across_a_rollover_with_interleaved_ssrcs(
    suite, engine_out, engine_in
):
    key = master_key(suite, fill=0x17)
    out, back = sender(suite, engine_out, key), receiver(suite, engine_in, key)
    other = sender(suite, "libsrtp" if engine_out == "default" else "default", key)
    for step, seq in enumerate([*range(65500, 65536), *range(40)]):
        for ssrc in (0xCAFEBABE, 0x0BADF00D):
            packet = rtp_packet(seq, ssrc=ssrc, payload=bytes([step & 0xFF]) * 160)
            protected = out.protect_rtp(packet)
            assert protected == other.protect_rtp(packet)
            assert back.unprotect_rtp(protected) == packet
            if seq == 20 and ssrc == 0xCAFEBABE:
                assert protected == model_protect_rtp(suite, key, packet, roc=1)
        if step % 10 == 0:
            report = rtcp_packet(ssrc=0xCAFEBABE)
            srtcp = out.protect_rtcp(report)
            assert srtcp == other.protect_rtcp(report)
            assert back.unprotect_rtcp(srtcp) == report
    index = struct.unpack("!I", srtcp[-14:-10])[0] & 0x7FFFFFFF
    assert index == 8, "the eighth SRTCP packet of the source"
    assert srtcp == model_protect_rtcp(suite, key, rtcp_packet(ssrc=0xCAFEBABE), index)
    stats = back.stats
    assert (stats.rtp_unprotected, stats.rtcp_unprotected) == (152, 8)
    assert stats.auth_failures == stats.replay_failures == stats.malformed == 0


def hostile_stream(suite: str, key: bytes, seed: int) -> list[tuple[str, bytes]]:
    """A peer's SRTP and SRTCP as a bad network and an attacker deliver it: losses, reordering,
    very late packets, duplicates, damaged packets, jumps of the sequence number (one that rolls
    over) and a rollover. Our engine, sending the same packets beside libsrtp, writes the same
    octets."""
    rng = random.Random(seed)
    peer, twin = sender(suite, "libsrtp", key), sender(suite, "default", key)
    sent: list[tuple[str, bytes]] = []
    seqs = [*range(65000, 65536), *range(300), *range(20000, 20100), *range(52000, 52100), *range(100, 150)]
    for i, seq in enumerate(seqs):
        if rng.random() < 0.05:
            continue  # lost
        packet = rtp_packet(seq, payload=bytes([i & 0xFF]) * rng.randint(0, 200))
        sent.append(("rtp", peer.protect_rtp(packet)))
        assert twin.protect_rtp(packet) == sent[-1][1]
        if i % 25 == 0:
            sent.append(("rtcp", peer.protect_rtcp(rtcp_packet())))
            assert twin.protect_rtcp(rtcp_packet()) == sent[-1][1]
    delivered: list[tuple[str, bytes]] = []
    for i, item in enumerate(sent):
        delivered.append(item)
        roll = rng.random()
        if roll < 0.05 and i > 0:
            delivered.append(sent[rng.randrange(max(0, i - 300), i)])  # duplicate or very late
        elif roll < 0.10:
            kind, data = item
            damaged = bytearray(data)
            damaged[rng.randrange(len(damaged))] ^= 1 << rng.randrange(8)
            delivered.insert(len(delivered) - 1, (kind, bytes(damaged)))  # before the genuine one
        elif roll < 0.15 and i > 1:
            delivered[-1], delivered[-2] = delivered[-2], delivered[-1]  # reordered
    return delivered


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("seed", [1, 2])
def test_both_inbound_engines_give_the_same_verdict_on_a_hostile_stream(suite, seed):
    key = master_key(suite, fill=seed)
    ours, theirs = receiver(suite, "default", key), receiver(suite, "libsrtp", key)
    verdicts: Counter[int | str] = Counter()
    for n, (kind, packet) in enumerate(hostile_stream(suite, key, seed)):
        mine = verdict(ours.unprotect_rtp if kind == "rtp" else ours.unprotect_rtcp, packet)
        reference = verdict(theirs.unprotect_rtp if kind == "rtp" else theirs.unprotect_rtcp, packet)
        assert mine == reference, f"packet {n} ({kind})"
        verdicts["ok" if isinstance(mine, bytes) else mine] += 1
    assert verdicts["ok"] > 900 and verdicts[_srtp.E_AUTH] > 20 and verdicts[_srtp.E_REPLAY] > 20
    assert ours.stats == theirs.stats
    assert ours.stats.auth_failures == verdicts[_srtp.E_AUTH]
    assert ours.stats.replay_failures == verdicts[_srtp.E_REPLAY]
    assert ours.stats.malformed == verdicts[_srtp.E_MALFORMED]


@pytest.mark.parametrize("suite", SUITES)
def test_random_octets_get_the_same_refusal_from_both_engines(suite):
    rng = random.Random(7)
    key = master_key(suite, fill=0x31)
    ours, theirs = receiver(suite, "default", key), receiver(suite, "libsrtp", key)
    refusals: Counter[int | bytes] = Counter()
    for n in range(4000):
        packet = bytearray(rng.randbytes(rng.randint(0, 120)))
        if packet:
            packet[0] = 0x80 | (packet[0] & 0x3F)  # version 2, the rest at random
        rtcp = n % 3 == 0
        mine = verdict(ours.unprotect_rtcp if rtcp else ours.unprotect_rtp, bytes(packet))
        assert mine == verdict(theirs.unprotect_rtcp if rtcp else theirs.unprotect_rtp, bytes(packet)), n
        refusals[mine] += 1
    assert set(refusals) == {_srtp.E_MALFORMED, _srtp.E_AUTH}, "nothing random gets through"
    assert ours.stats == theirs.stats


@pytest.mark.parametrize("suite", SUITES)
def test_srtcp_without_the_e_flag_is_refused_by_both_engines(suite):
    key = master_key(suite, fill=0x32)
    srtcp = bytearray(sender(suite, "libsrtp", key).protect_rtcp(rtcp_packet()))
    srtcp[-14] &= 0x7F  # the E flag: "not encrypted", which these suites never send
    for engine in ("default", "libsrtp"):
        s = receiver(suite, engine, key)
        assert verdict(s.unprotect_rtcp, bytes(srtcp)) == _srtp.E_MALFORMED
        assert s.stats.malformed == 1


@pytest.mark.parametrize("suite", SUITES)
def test_replayed_and_tampered_rtp_and_rtcp_from_libsrtp_are_refused_and_counted(suite):
    key = master_key(suite, fill=0x66)
    peer, s = sender(suite, "libsrtp", key), receiver(suite, "default", key)
    packet, report = peer.protect_rtp(rtp_packet(5)), peer.protect_rtcp(rtcp_packet())
    for data, unprotect in ((packet, s.unprotect_rtp), (report, s.unprotect_rtcp)):
        for offset in (1, 9, 13, len(data) - 1):  # header, SSRC, payload, tag
            tampered = bytearray(data)
            tampered[offset] ^= 0x40
            assert verdict(unprotect, bytes(tampered)) == _srtp.E_AUTH
        assert isinstance(verdict(unprotect, data), bytes)
        assert verdict(unprotect, data) == _srtp.E_REPLAY
    stats = s.stats
    counted = (stats.auth_failures, stats.replay_failures, stats.rtp_unprotected, stats.rtcp_unprotected)
    assert counted == (8, 2, 1, 1)


@pytest.mark.parametrize("engine", ["default", "libsrtp"])
def test_a_sender_refuses_to_protect_a_sequence_number_twice(engine):
    s = sender(CM80, engine, master_key(CM80))
    s.protect_rtp(rtp_packet(10))
    s.protect_rtp(rtp_packet(12))
    assert verdict(s.protect_rtp, rtp_packet(10)) == _srtp.E_REPLAY
    assert isinstance(verdict(s.protect_rtp, rtp_packet(11)), bytes), "a late packet never sent is fine"
    assert s.stats.protect_failures == 1


@needs_our_engine
def test_an_outbound_source_beyond_the_table_is_refused():
    s = sender(CM80, "default", master_key(CM80))
    for ssrc in range(1, 9):  # SRTP_CM_SOURCES
        s.protect_rtp(rtp_packet(1, ssrc=ssrc))
    assert verdict(s.protect_rtp, rtp_packet(1, ssrc=9)) == _srtp.E_SOURCES
    assert verdict(s.protect_rtcp, rtcp_packet(ssrc=9)) == _srtp.E_SOURCES
    assert isinstance(verdict(s.protect_rtp, rtp_packet(2, ssrc=8)), bytes)
    assert s.stats.protect_failures == 2


@needs_our_engine
def test_a_new_inbound_source_replaces_the_least_recently_used_one():
    key = master_key(CM80)
    peer, s = sender(CM80, "libsrtp", key), receiver(CM80, "default", key)
    first = {ssrc: peer.protect_rtp(rtp_packet(1, ssrc=ssrc)) for ssrc in range(1, 10)}
    for ssrc in range(1, 9):
        s.unprotect_rtp(first[ssrc])
    s.unprotect_rtp(peer.protect_rtp(rtp_packet(2, ssrc=1)))  # source 1 used again: 2 is now the oldest
    s.unprotect_rtp(first[9])  # a ninth source
    assert [verdict(s.unprotect_rtp, first[ssrc]) for ssrc in (1, 3, 8, 9)] == [_srtp.E_REPLAY] * 4
    assert isinstance(verdict(s.unprotect_rtp, first[2]), bytes), "source 2 was forgotten"


AESNI_SCRIPT = """
import json, sys
from sipsimple.core.media import _srtp
suite, key, packets, reports = json.loads(sys.stdin.read())
s = _srtp.SRTPSession()
s.set_outbound_key(suite, bytes.fromhex(key))
print(_srtp.crypto_backend())
print(json.dumps([s.protect_rtp(bytes.fromhex(p)).hex() for p in packets]
                 + [s.protect_rtcp(bytes.fromhex(r)).hex() for r in reports]))
"""


@needs_our_engine
def test_aes_on_the_cpu_instructions_and_on_libcrypto_give_the_same_packets():
    key = master_key(CM80, fill=0x77)
    packets = [rtp_packet(seq, payload=bytes(range(256)) * 6)[: 12 + seq * 13 % 1500] for seq in range(120)]
    reports = [rtcp_packet() + bytes(range(n)) for n in (0, 7, 130)]
    result = subprocess.run(
        [sys.executable, "-c", AESNI_SCRIPT],
        input=json.dumps([CM80, key.hex(), [p.hex() for p in packets], [r.hex() for r in reports]]),
        env={**os.environ, "SIPSIMPLE_SRTP_AESNI": "0"},
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    backend, listing = result.stdout.splitlines()
    assert "AES-NI" not in backend
    s = sender(CM80, "default", key)
    mine = [s.protect_rtp(p).hex() for p in packets] + [s.protect_rtcp(r).hex() for r in reports]
    assert json.loads(listing) == mine
