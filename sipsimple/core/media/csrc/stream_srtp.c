/* SRTP as a packet transform of the RTP transport: see stream_srtp.h.
 *
 * The transform's context is the SRTP session itself, not the adapter: the transport holds the
 * transform by value, so a packet's first memory access outside the transport is the session's
 * own (which it needs anyway) instead of the adapter's, one cache miss fewer per packet with
 * hundreds of streams. The function table is the same for every session (the _srtp extension's
 * one table), kept here once. */
#include "stream_srtp.h"

static const media_srtp_api *srtp_api;

static int srtp_protect(void *ctx, int rtcp, uint8_t *buf, size_t *length, size_t cap)
{
    const media_srtp_api *api = __atomic_load_n(&srtp_api, __ATOMIC_ACQUIRE);
    media_srtp_t *session = ctx;
    int n = rtcp ? api->protect_rtcp(session, buf, *length, cap) : api->protect_rtp(session, buf, *length, cap);
    if (n < 0)
        return n;
    *length = (size_t)n;
    return 0;
}

static int srtp_unprotect(void *ctx, int rtcp, uint8_t *buf, size_t *length)
{
    const media_srtp_api *api = __atomic_load_n(&srtp_api, __ATOMIC_ACQUIRE);
    media_srtp_t *session = ctx;
    int n = rtcp ? api->unprotect_rtcp(session, buf, *length) : api->unprotect_rtp(session, buf, *length);
    if (n < 0)
        return n;
    *length = (size_t)n;
    return 0;
}

void stream_srtp_init(stream_srtp_t *adapter, const media_srtp_api *api, media_srtp_t *session)
{
    __atomic_store_n(&srtp_api, api, __ATOMIC_RELEASE);
    adapter->transform.ctx = session;
    adapter->transform.protect = srtp_protect;
    adapter->transform.unprotect = srtp_unprotect;
}
