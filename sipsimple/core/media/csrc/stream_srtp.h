/*
 * stream_srtp.h - SRTP as an RTP transport's packet transform (stream.h): an adapter from
 * stream_transform_t to the function table of the _srtp extension (srtp_ctx.h), so that the
 * stream links nothing of libsrtp. The transport's rules (protect serialised under its send lock,
 * unprotect on the receiving thread) are the ones srtp_ctx.h asks for.
 */
#ifndef SIPSIMPLE_MEDIA_STREAM_SRTP_H
#define SIPSIMPLE_MEDIA_STREAM_SRTP_H

#include "srtp_ctx.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct stream_srtp {
    stream_transform_t transform; /* ctx is the session, the table is kept once (see stream_srtp.c) */
} stream_srtp_t;

/* Fills `adapter` for `session`; install &adapter->transform on the transport. The session must
 * stay valid until the transform is removed (stream_transport_set_transform(NULL)); the transport
 * copies the transform, and `api` must be the _srtp extension's table (there is one per process). */
void stream_srtp_init(stream_srtp_t *adapter, const media_srtp_api *api, media_srtp_t *session);

#ifdef __cplusplus
}
#endif
#endif
