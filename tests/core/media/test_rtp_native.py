"""The C layer without Python: what the RTP stream extension will do from its native threads.

What they prove:
  * csrc/{rtp,rtcp,jbuf,dtmf}.c build into a plain C program (no Python at all) in which one
    thread packetises, parses and inserts into a jitter buffer while another pulls frames from
    it concurrently, and every frame comes out in order; telephone-events and reception
    statistics work there too;
  * the function table exported in the ``_C_API`` capsule is callable from foreign code (ctypes
    here, which releases the GIL around each call).
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import pytest

from sipsimple.core.media import _rtp

CSRC = Path(_rtp.__file__).resolve().parent / "csrc"

PROGRAM = r"""
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "dtmf.h"
#include "jbuf.h"
#include "rtcp.h"
#include "rtp.h"

#define N 3000
#define MS 1000000ULL

static jbuf_t *jb;
static atomic_int produced, consumed;

static void *producer(void *arg)
{
    rtp_sender_t s;
    rtcp_rx_stats_t st;
    uint8_t payload[160], packet[200];
    rtp_header_t h;
    (void)arg;
    rtp_sender_init(&s, 0, 8000);
    rtcp_rx_init(&st, s.ssrc, 8000);
    for (int k = 0; k < N; k++) {
        while (atomic_load(&produced) - atomic_load(&consumed) > 20)
            sched_yield();
        memset(payload, k & 0xff, sizeof payload);
        int n = rtp_sender_write(&s, packet, sizeof packet, -1, payload, sizeof payload, 160, k * 20 * MS);
        if (n != 172 || rtp_parse(packet, (size_t)n, &h) != RTP_OK)
            return (void *)1;
        if (rtcp_rx_update(&st, h.sequence, h.timestamp, k * 20 * MS, h.payload_length, 0) > RTCP_RX_PROBATION)
            return (void *)2;
        jbuf_put(jb, packet + h.payload_offset, h.payload_length, h.sequence, h.timestamp, h.ssrc, 0, 0,
                 k * 20 * MS);
        atomic_fetch_add(&produced, 1);
    }
    return rtcp_rx_lost(&st) == 0 && rtcp_rx_jitter(&st) == 0 ? NULL : (void *)3;
}

static void *consumer(void *arg)
{
    uint8_t out[1500];
    jbuf_frame_t f;
    long *frames = arg;
    for (int k = 0; k < N; k++) {
        while (atomic_load(&produced) <= k)
            sched_yield();
        if (jbuf_get(jb, k * 20 * MS + 10 * MS, out, sizeof out, &f) == JBUF_FRAME && out[0] == (k & 0xff) &&
            f.length == 160)
            (*frames)++;
        atomic_fetch_add(&consumed, 1);
    }
    return NULL;
}

static int dtmf_check(void)
{
    const char *digits = "0123456789*#ABCD";
    dtmf_sender_t s;
    dtmf_receiver_t r;
    dtmf_packet_t p;
    dtmf_event_t ev[2];
    char got[32] = {0};
    int n = 0;
    dtmf_sender_init(&s, 8000, 50);
    dtmf_receiver_init(&r, 8000, 300);
    for (const char *c = digits; *c; c++)
        dtmf_sender_queue(&s, (uint8_t)dtmf_event_from_char(*c), 100, 10);
    for (uint32_t t = 0; dtmf_sender_busy(&s); t += 160)
        if (dtmf_sender_tick(&s, t, 160, &p) == DTMF_TX_PACKET) {
            int k = dtmf_receiver_put(&r, p.payload, 4, p.timestamp, t * 125000ULL, ev);
            for (int i = 0; i < k; i++)
                got[n++] = dtmf_char_from_event(ev[i].event);
        }
    return strcmp(got, digits) == 0;
}

int main(void)
{
    jbuf_config_t c;
    pthread_t a, b;
    void *ra;
    long frames = 0;
    jbuf_config_default(&c, 8000, 160);
    jb = jbuf_create(&c);
    pthread_create(&b, NULL, consumer, &frames);
    pthread_create(&a, NULL, producer, NULL);
    pthread_join(a, &ra);
    pthread_join(b, NULL);
    jbuf_destroy(jb);
    printf("frames %ld producer %ld dtmf %d\n", frames, (long)ra, dtmf_check());
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_the_c_layer_runs_on_two_native_threads_without_python(tmp_path):
    source = tmp_path / "native_rtp.c"
    source.write_text(PROGRAM)
    binary = tmp_path / "native_rtp"
    sources = [str(CSRC / f"{name}.c") for name in ("rtp", "rtcp", "jbuf", "dtmf")]
    subprocess.run(
        [
            "gcc",
            "-O2",
            "-Wall",
            "-Werror",
            "-pthread",
            "-I",
            str(CSRC),
            str(source),
            *sources,
            "-o",
            str(binary),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    result = subprocess.run([str(binary)], check=True, capture_output=True, text=True, timeout=60)
    # the first frame waits for its delay (NOT_YET at 10 ms is fine), every other one plays
    frames = int(result.stdout.split()[1])
    assert frames >= 3000 - 1, result.stdout
    assert "producer 0 " in result.stdout
    assert result.stdout.strip().endswith("dtmf 1")


def api_function(offset_index: int, restype, *argtypes):
    """The offset_index-th function pointer of media_rtp_api (after the unsigned version)."""
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    table = get(_rtp._C_API, _rtp.API_CAPSULE_NAME.encode())
    pointer = ctypes.c_void_p.from_address(table + 8 + 8 * offset_index).value
    return ctypes.CFUNCTYPE(restype, *argtypes)(pointer)


def test_the_function_table_is_callable_from_foreign_code():
    # index 1 is rtp_is_rtcp(const uint8_t *, size_t); index 17 rtcp_rtt_ns(uint32, uint32, uint32)
    is_rtcp = api_function(1, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t)
    assert is_rtcp(b"\x80\xc9\x00\x01\x00\x00\x00\x01", 8) == 1
    assert is_rtcp(b"\x80\x00\x00\x01", 4) == 0
    rtt = api_function(17, ctypes.c_int64, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32)
    assert rtt(0xB7108000, 0xB7052000, 0x00054000) == 6_125_000_000
