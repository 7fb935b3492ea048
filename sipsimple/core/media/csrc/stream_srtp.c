/* SRTP as a packet transform of the RTP transport: see stream_srtp.h. */
#include "stream_srtp.h"

static int srtp_protect(void *ctx, int rtcp, uint8_t *buf, size_t *length, size_t cap)
{
    stream_srtp_t *a = ctx;
    int n = rtcp ? a->api->protect_rtcp(a->session, buf, *length, cap)
                 : a->api->protect_rtp(a->session, buf, *length, cap);
    if (n < 0)
        return n;
    *length = (size_t)n;
    return 0;
}

static int srtp_unprotect(void *ctx, int rtcp, uint8_t *buf, size_t *length)
{
    stream_srtp_t *a = ctx;
    int n = rtcp ? a->api->unprotect_rtcp(a->session, buf, *length)
                 : a->api->unprotect_rtp(a->session, buf, *length);
    if (n < 0)
        return n;
    *length = (size_t)n;
    return 0;
}

void stream_srtp_init(stream_srtp_t *adapter, const media_srtp_api *api, media_srtp_t *session)
{
    adapter->api = api;
    adapter->session = session;
    adapter->transform.ctx = adapter;
    adapter->transform.protect = srtp_protect;
    adapter->transform.unprotect = srtp_unprotect;
}
