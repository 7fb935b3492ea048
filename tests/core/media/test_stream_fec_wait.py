"""The Opus jitter buffer waits one packet for in-band FEC only when the peer sends FEC.

RFC 7587's ``useinbandfec=1`` in the peer's fmtp (the ``fmtp`` an AudioStreamPort is given) says
that the peer takes FEC; our own offers say it too and our encoder then adds FEC, so a peer that
says it is taken to send FEC as well. Only then is the jitter buffer's minimum delay one packet
longer, so that the packet after a loss is there in time to rebuild it; without it no 20 ms are
spent waiting for FEC that never comes. The streams run on memory transports in one mixer ticked
by the test (tests/core/media/test_stream.py's MemoryCall).
"""

from __future__ import annotations

import pytest

from tests.core.media.test_stream import MemoryCall


def target_ms(call: MemoryCall) -> float:
    return call.b.statistics["jitter_buffer"]["target_delay"]


def test_a_peer_that_says_useinbandfec_costs_one_packet_of_delay_and_one_that_does_not_costs_none(
    make_memory_call,
):
    plain = make_memory_call("opus", sample_rate=16000)
    waiting = make_memory_call("opus", sample_rate=16000, b={"fmtp": "useinbandfec=1"})
    for call in (plain, waiting):
        call.run(2.0)
    # at least one packet more, and never less than a packet and 10 ms in all
    assert target_ms(waiting) >= max(target_ms(plain) + 20.0, 30.0) - 0.1
    for call in (plain, waiting):
        assert call.b.statistics["rx"]["concealed"] == 0  # a clean network either way


def test_without_the_wait_fec_the_peer_sends_anyway_is_rarely_in_time_and_losses_are_concealed(
    make_memory_call,
):
    """a sends FEC but b was not told: the packet after a loss arrives after its turn to be
    rebuilt, so the loss is concealed by the decoder's PLC instead (and nothing was delayed)."""
    call = make_memory_call("opus", sample_rate=16000, a={"fec": True, "packet_loss": 20})
    call.ta._set_loss(5)
    call.run(3.0)
    rx = call.b.statistics["rx"]
    assert rx["concealed"] > 20 and rx["recovered"] == 0


def test_an_explicit_jitter_minimum_is_kept_as_given(make_memory_call):
    call = make_memory_call("opus", sample_rate=16000, b={"fmtp": "useinbandfec=1", "jitter_min_delay": 40})
    call.run(1.0)
    assert target_ms(call) == pytest.approx(40.0, abs=0.1)
