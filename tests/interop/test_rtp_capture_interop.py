"""Issue 5 acceptance: an independent decoder (Wireshark's tshark) reads our RTP and RTCP.

A PCMU stream runs between two RTPTransports on 127.0.0.1 (A plays a tone, B plays silence back;
both send RTCP every 0.3 s) while dumpcap captures stream B's RTP and RTCP ports on ``lo`` for a
bounded time. tshark then decodes the file with those ports forced to RTP/RTCP and the test checks
what it reports: no malformed packet, per direction one SSRC with consecutive sequence numbers and
timestamps advancing by 160 (20 ms at 8000 Hz), and sender/receiver reports whose sender SSRC is
the RTP SSRC of that side and whose report blocks are about the other side's SSRC.

Runs in the interop namespace (capturing needs the root of ``unshare -n``); skipped when tshark or
dumpcap is not installed (Debian package ``tshark``, bootstrap group ``peers``).
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import time
from collections import defaultdict
from itertools import pairwise

import pytest

from sipsimple.core.media._mixer import AudioMixer, MemoryPort
from sipsimple.core.media._stream import AudioStreamPort, IOThread, RTPTransport
from sipsimple.core.media.events import dispatch_pending
from tests.core.media.mixer_signals import pcm, sine
from tests.support.wait import wait_for

pytestmark = pytest.mark.interop

LOCALHOST = "127.0.0.1"
RATE = 16000
TSHARK, DUMPCAP = shutil.which("tshark"), shutil.which("dumpcap")


def ssrc_text(ssrc: int) -> str:
    """An SSRC as tshark prints it."""
    return f"0x{ssrc:08x}"


def fields(capture, decode: list[str], display_filter: str, names: list[str]) -> list[dict[str, str]]:
    command = [TSHARK, "-n", "-r", str(capture)]
    for rule in decode:
        command += ["-d", rule]
    command += ["-Y", display_filter, "-T", "fields", "-E", "separator=|", "-E", "occurrence=a"]
    for name in names:
        command += ["-e", name]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return [dict(zip(names, line.split("|"), strict=True)) for line in result.stdout.splitlines()]


@pytest.mark.skipif(
    TSHARK is None or DUMPCAP is None, reason="tshark/dumpcap not installed (Debian package tshark)"
)
def test_tshark_decodes_our_pcmu_stream_and_rtcp_without_complaint(tmp_path):
    io_thread = IOThread()
    queue = io_thread.event_queue
    ta = RTPTransport(LOCALHOST, io_thread=io_thread)
    tb = RTPTransport(LOCALHOST, io_thread=io_thread)
    ta.set_remote(LOCALHOST, tb.local_rtp_port, tb.local_rtcp_port)
    tb.set_remote(LOCALHOST, ta.local_rtp_port, ta.local_rtcp_port)
    a = AudioStreamPort(ta, "PCMU", rtcp_interval=0.3)
    b = AudioStreamPort(tb, "PCMU", rtcp_interval=0.3)
    mixer_a = AudioMixer(None, None, RATE, 0, event_queue=queue)
    mixer_b = AudioMixer(None, None, RATE, 0, event_queue=queue)
    tone = MemoryPort(mixer_a, pcm(sine(RATE, 1.0, 1000.0, 8000)), loop=True)
    tone.start()
    slot_a = mixer_a.add_port(a.port_capsule(), a)
    slot_b = mixer_b.add_port(b.port_capsule(), b)
    mixer_a.connect_slots(tone.slot, slot_a)
    capture = tmp_path / "stream.pcapng"
    log = tmp_path / "dumpcap.log"
    rtp_port, rtcp_port = tb.local_rtp_port, tb.local_rtcp_port
    with open(log, "w") as err:
        dumpcap = subprocess.Popen(
            [DUMPCAP, "-q", "-i", "lo", "-f", f"udp port {rtp_port} or udp port {rtcp_port}",
             "-a", "duration:20", "-w", str(capture)],
            stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    try:
        wait_for(lambda: "Capturing on" in log.read_text() or dumpcap.poll() is not None, "dumpcap to start")
        assert dumpcap.poll() is None, log.read_text()
        a.start()
        b.start()
        mixer_a.start()
        mixer_b.start()
        # 150 sent, at least 100 asserted captured: dumpcap (another process) may miss a datagram at
        # either edge of the capture (seen once in CI: 99 of the first 100); the sequence checks
        # below still prove that what it captured is contiguous.
        wait_for(lambda: a.statistics["tx"]["packets"] >= 150, "150 packets from A")
        wait_for(
            lambda: a.statistics["rtcp"]["received"] >= 3 and b.statistics["rtcp"]["received"] >= 3, "RTCP"
        )
        mixer_a.stop()
        mixer_b.stop()
        a.stop(bye=True)
        b.stop(bye=True)
        ssrc_a, ssrc_b = a.statistics["tx"]["ssrc"], b.statistics["tx"]["ssrc"]
        sent_a, sent_b = a.statistics["tx"]["packets"], b.statistics["tx"]["packets"]
        time.sleep(0.3)  # lets dumpcap (another process) write the last datagrams; no timer of ours
    finally:
        dumpcap.terminate()
        dumpcap.wait(10)
        mixer_a.remove_port(slot_a)
        mixer_b.remove_port(slot_b)
        tone.stop()
        ta.close()
        tb.close()
        dispatch_pending(queue)
        gc.collect()
        io_thread.stop()
    assert capture.exists() and os.path.getsize(capture) > 0, log.read_text()
    decode = [f"udp.port=={rtp_port},rtp", f"udp.port=={rtcp_port},rtcp"]

    malformed = fields(capture, decode, "_ws.malformed || _ws.expert.severity == error", ["frame.number"])
    assert malformed == []

    rtp = fields(
        capture, decode, "rtp",
        ["udp.srcport", "udp.dstport", "rtp.version", "rtp.p_type", "rtp.ssrc", "rtp.seq", "rtp.timestamp"],
    )  # fmt: skip
    directions: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for packet in rtp:
        directions[packet["udp.dstport"] == str(rtp_port), packet["rtp.ssrc"]].append(packet)
    assert sorted(directions) == sorted([(True, ssrc_text(ssrc_a)), (False, ssrc_text(ssrc_b))]), list(
        directions
    )
    from_a = directions[True, ssrc_text(ssrc_a)]
    assert len(from_a) >= 100 and len(from_a) <= sent_a
    for packets in directions.values():
        assert {p["rtp.version"] for p in packets} == {"2"} and {p["rtp.p_type"] for p in packets} == {"0"}
        seqs = [int(p["rtp.seq"]) for p in packets]
        stamps = [int(p["rtp.timestamp"]) for p in packets]
        assert all((y - x) % 65536 == 1 for x, y in pairwise(seqs)), seqs
        assert all((y - x) % 2**32 == 160 for x, y in pairwise(stamps)), stamps

    rtcp = fields(
        capture, decode, "rtcp.pt == 200 || rtcp.pt == 201",
        ["udp.srcport", "rtcp.pt", "rtcp.senderssrc", "rtcp.ssrc.identifier", "rtcp.ssrc.high_seq",
         "rtcp.sender.packetcount"],
    )  # fmt: skip
    reports = defaultdict(list)
    for report in rtcp:
        reports[report["udp.srcport"] == str(rtcp_port)].append(report)  # True: from B
    assert reports[False] and reports[True], rtcp
    last_seq = {from_b: int(directions[not from_b, ssrc_text(s)][-1]["rtp.seq"]) for from_b, s in
                ((False, ssrc_a), (True, ssrc_b))}  # fmt: skip
    about_the_other = 0
    for from_b, sender, other in ((False, ssrc_a, ssrc_b), (True, ssrc_b, ssrc_a)):
        for report in reports[from_b]:
            assert set(report["rtcp.pt"].split(",")) <= {"200", "201", "202", "203"}, (
                report
            )  # SR/RR, SDES, BYE
            assert report["rtcp.senderssrc"] == ssrc_text(sender), report
            identifiers = [i for i in report["rtcp.ssrc.identifier"].split(",") if i]
            high = [int(h) for h in report["rtcp.ssrc.high_seq"].split(",") if h]
            blocks, chunks = identifiers[: len(high)], identifiers[len(high) :]  # report blocks, then SDES
            assert set(blocks) <= {ssrc_text(other)} and set(chunks) <= {ssrc_text(sender)}, report
            # never beyond what the other side sent (16 bits here, so compared modulo 2**16)
            assert all((last_seq[not from_b] - h) % 65536 < 1000 for h in high), report
            about_the_other += len(blocks)
            if report["rtcp.sender.packetcount"]:  # an SR: it never claims more than its side sent
                sent = sent_b if from_b else sent_a
                assert int(report["rtcp.sender.packetcount"]) <= sent, report
    assert any("200" in r["rtcp.pt"].split(",") for r in reports[False])  # A sends: sender reports
    assert about_the_other >= 2  # each side reported on the other's stream
