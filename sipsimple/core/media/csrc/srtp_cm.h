/*
 * srtp_cm.h - SRTP and SRTCP with AES-128 in counter mode and HMAC-SHA1 (RFC 3711), our own
 * packet engine over OpenSSL's libcrypto, for the two SDES suites AES_CM_128_HMAC_SHA1_80 and
 * AES_CM_128_HMAC_SHA1_32. srtp_ctx.c runs it in place of libsrtp for those suites (libsrtp keeps
 * the AEAD suites and serves as the cross-check in the tests).
 *
 * One srtp_cm_t is one direction under one master key: it protects (outbound) or unprotects
 * (inbound), RTP and RTCP. It is not locked: the caller serialises the calls (srtp_ctx.c holds the
 * direction's mutex). Nothing allocates per packet.
 *
 * What it keeps, per SSRC (up to SRTP_CM_SOURCES of them under one key):
 *   - the 48-bit RTP packet index (ROC << 16 | SEQ) of the highest packet and a replay window of
 *     MEDIA_SRTP_REPLAY_WINDOW packets below it. A packet's index is estimated from its sequence
 *     number as RFC 3711 §3.3.1 says, with libsrtp's rule for a new source: until the index passes
 *     2^15 the rollover counter is taken to be 0. The outbound side keeps the same window, so a
 *     sequence number is never protected twice under one key (keystream reuse);
 *   - for SRTCP: the last index sent (outbound; the first is 1) or a 128-index replay window
 *     (inbound), as libsrtp keeps them.
 * An inbound source is remembered only once one of its packets has authenticated; when the table is
 * full the least recently used source is forgotten. An outbound source is remembered from its first
 * packet and never forgotten (that would restart its index and reuse keystream): a source beyond
 * the table is refused (MEDIA_SRTP_E_SOURCES).
 *
 * Functions return the new packet length, or a negative MEDIA_SRTP_E_* status (srtp_ctx.h). Unprotect
 * checks, in this order: the packet's shape (MALFORMED; for SRTCP also a clear E flag: the suites
 * encrypt SRTCP), the replay window (REPLAY), the tag (AUTH); a refused packet is left as it came.
 */
#ifndef SIPSIMPLE_MEDIA_SRTP_CM_H
#define SIPSIMPLE_MEDIA_SRTP_CM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SRTP_CM_KEY_LENGTH 16
#define SRTP_CM_SALT_LENGTH 14
#define SRTP_CM_SOURCES 8

typedef struct srtp_cm srtp_cm_t;

/* 1 once libcrypto gave us AES-128-ECB, 0 if it cannot (then srtp_ctx.c keeps libsrtp) */
int srtp_cm_available(void);
/* 1 if AES runs on the CPU's AES instructions (x86-64 AES-NI, unless SIPSIMPLE_SRTP_AESNI=0 was in
 * the environment at the first use), 0 if on libcrypto's EVP AES-128-ECB */
int srtp_cm_uses_aesni(void);

/* rtp_tag_length: 10 (_80) or 4 (_32); SRTCP always carries 10 (RFC 4568 §6.2.1). */
int srtp_cm_create(srtp_cm_t **out, int outbound, unsigned rtp_tag_length,
                   const uint8_t key[SRTP_CM_KEY_LENGTH], const uint8_t salt[SRTP_CM_SALT_LENGTH]);
void srtp_cm_destroy(srtp_cm_t *c);

int srtp_cm_protect_rtp(srtp_cm_t *c, uint8_t *packet, size_t length, size_t capacity);
int srtp_cm_unprotect_rtp(srtp_cm_t *c, uint8_t *packet, size_t length);
int srtp_cm_protect_rtcp(srtp_cm_t *c, uint8_t *packet, size_t length, size_t capacity);
int srtp_cm_unprotect_rtcp(srtp_cm_t *c, uint8_t *packet, size_t length);

#ifdef __cplusplus
}
#endif
#endif
