"""The SRTP C layer without Python: what the RTP stream extension will do from its native threads.

What it proves: csrc/srtp_ctx.c and srtp_cm.c build into a plain C program (libsrtp2, libcrypto and
pthreads, no Python) that calls everything through the function table the ``_C_API`` capsule holds
(``media_srtp_api_table()``), on our AES-CM engine (with AES-NI, and with libcrypto's AES when
SIPSIMPLE_SRTP_AESNI=0) and on libsrtp with its own crypto; in it one thread protects 100,000 RTP packets (and an RTCP packet
every 100) on a session's outbound side while a second thread unprotects them on the same
session's inbound side, concurrently; meanwhile a third thread rekeys twice (inbound first, then
outbound, as an SDES re-INVITE does), once just after the sequence number wrapped. Every packet
comes back intact: no authentication failure, no replay, packets of the previous key in flight
accepted by the fallback context.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sipsimple.core.media import _srtp

CSRC = Path(_srtp.__file__).resolve().parent / "csrc"

PROGRAM = r"""
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "srtp_ctx.h"

#define N 100000
#define RING 64
#define SLOT 256
#define REKEY_1 33333
#define REKEY_2 65600  /* just after the sequence number wrapped */

static const media_srtp_api *api;
static media_srtp_t *session;
static uint8_t ring[RING][SLOT];
static int ring_length[RING];
static atomic_long produced, consumed, rtcp_ok, bad_payload, failures, first_failure_status;

static void make_rtp(uint8_t *p, long k)
{
    p[0] = 0x80; p[1] = 0;
    p[2] = (uint8_t)(k >> 8); p[3] = (uint8_t)k;
    uint32_t ts = (uint32_t)(k * 160);
    p[4] = ts >> 24; p[5] = ts >> 16; p[6] = ts >> 8; p[7] = ts;
    p[8] = 0x12; p[9] = 0x34; p[10] = 0x56; p[11] = 0x78;
    memset(p + 12, (int)(k * 31 & 0xff), 160);
}

static void make_rtcp(uint8_t *p)
{
    static const uint8_t rr[8] = {0x80, 201, 0, 1, 0x12, 0x34, 0x56, 0x78};
    memcpy(p, rr, 8);
}

static void *sender(void *arg)
{
    uint8_t rtcp[64];
    (void)arg;
    for (long k = 0; k < N; k++) {
        while (atomic_load(&produced) - atomic_load(&consumed) >= RING)
            sched_yield();
        uint8_t *slot = ring[k % RING];
        make_rtp(slot, k);
        ring_length[k % RING] = api->protect_rtp(session, slot, 172, SLOT);
        if (k % 100 == 0) {
            make_rtcp(rtcp);
            int n = api->protect_rtcp(session, rtcp, 8, sizeof rtcp);
            if (n > 0 && api->unprotect_rtcp(session, rtcp, (size_t)n) == 8)
                atomic_fetch_add(&rtcp_ok, 1);
        }
        atomic_fetch_add(&produced, 1);
    }
    return NULL;
}

static void *receiver(void *arg)
{
    uint8_t expected[172];
    (void)arg;
    for (long k = 0; k < N; k++) {
        while (atomic_load(&produced) <= k)
            sched_yield();
        uint8_t *slot = ring[k % RING];
        int n = ring_length[k % RING] > 0 ? api->unprotect_rtp(session, slot, (size_t)ring_length[k % RING])
                                          : ring_length[k % RING];
        if (n < 0) {
            if (atomic_fetch_add(&failures, 1) == 0)
                atomic_store(&first_failure_status, n);
        } else {
            make_rtp(expected, k);
            if (n != 172 || memcmp(slot, expected, 172) != 0)
                atomic_fetch_add(&bad_payload, 1);
        }
        atomic_fetch_add(&consumed, 1);
    }
    return NULL;
}

static void key_of(uint8_t *key, int fill)
{
    for (int i = 0; i < 30; i++)
        key[i] = (uint8_t)(fill + 13 * i);
}

static void rekey_at(long when, int fill)
{
    uint8_t key[30];
    while (atomic_load(&produced) < when)
        sched_yield();
    key_of(key, fill);
    /* SDES order: the new inbound key is known (and installed) before the peer switches */
    if (api->set_key(session, MEDIA_SRTP_INBOUND, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80, key, 30) != 1 ||
        api->set_key(session, MEDIA_SRTP_OUTBOUND, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80, key, 30) != 1)
        printf("rekey failed\n");
}

int main(void)
{
    pthread_t a, b;
    media_srtp_stats st;
    uint8_t key[30];
    api = media_srtp_api_table();
    if (api->version != MEDIA_SRTP_API_VERSION || api->init() != 0 || api->create(&session) != 0)
        return 1;
    key_of(key, 1);
    api->set_key(session, MEDIA_SRTP_OUTBOUND, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80, key, 30);
    api->set_key(session, MEDIA_SRTP_INBOUND, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80, key, 30);
    pthread_create(&b, NULL, receiver, NULL);
    pthread_create(&a, NULL, sender, NULL);
    rekey_at(REKEY_1, 2);
    rekey_at(REKEY_2, 3);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    api->get_stats(session, &st);
    printf("failures %ld first %ld bad %ld rtcp %ld unprotected %llu previous %llu rekeys %u/%u\n",
           atomic_load(&failures), atomic_load(&first_failure_status), atomic_load(&bad_payload),
           atomic_load(&rtcp_ok), (unsigned long long)st.rtp_unprotected,
           (unsigned long long)st.unprotected_with_previous_key, st.outbound_rekeys, st.inbound_rekeys);
    printf("backend: %s\n", media_srtp_crypto_backend());
    api->destroy(session);
    return 0;
}
"""


def cpu_has_aes() -> bool:
    """Whether this x86-64 CPU has the AES instructions (where srtp_cm.c uses them)."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(line.startswith("flags") and " aes " in f"{line} " for line in cpuinfo.splitlines())


def pkg_config(*args: str) -> list[str]:
    command = ["pkg-config", *args, "libsrtp2", "libcrypto"]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.split()


@pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("pkg-config") is None, reason="needs gcc")
@pytest.mark.parametrize(
    ("backend", "environment"),
    [
        ("openssl", {}),
        ("openssl", {"SIPSIMPLE_SRTP_AESNI": "0"}),
        ("library", {"SIPSIMPLE_SRTP_CRYPTO": "library"}),
    ],
)
def test_the_c_layer_protects_unprotects_and_rekeys_on_native_threads_without_python(
    tmp_path, backend, environment
):
    source = tmp_path / "native_srtp.c"
    source.write_text(PROGRAM)
    binary = tmp_path / "native_srtp"
    subprocess.run(
        [
            "gcc",
            "-O2",
            "-Wall",
            "-Werror",
            "-pthread",
            "-I",
            str(CSRC),
            *pkg_config("--cflags"),
            str(source),
            str(CSRC / "srtp_ctx.c"),
            str(CSRC / "srtp_cm.c"),
            "-o",
            str(binary),
            *pkg_config("--libs"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    result = subprocess.run(
        [str(binary)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **environment},
    )
    words = result.stdout.splitlines()[0].split()
    figures = dict(zip(words[0::2], words[1::2], strict=False))
    assert ("OpenSSL" in result.stdout) == (backend == "openssl"), result.stdout
    aesni = backend == "openssl" and not environment and cpu_has_aes()
    assert ("AES-NI" in result.stdout) == aesni, result.stdout
    assert "rekey failed" not in result.stdout, result.stdout
    assert figures["failures"] == "0", result.stdout
    assert figures["bad"] == "0", result.stdout
    assert figures["unprotected"] == "100000"
    assert figures["rtcp"] == "1000"
    assert figures["rekeys"] == "2/2"
