/*
 * SRTP for one RTP session (RFC 3711, RFC 7714): an outbound context that protects what we send
 * and an inbound context that unprotects what we receive, each keyed separately (SDES gives each
 * side its own sending key, RFC 4568 §6.1). The AES-CM suites run on our own packet engine over
 * libcrypto (srtp_cm.h); the AEAD suites, and every suite of a session switched to
 * MEDIA_SRTP_ENGINE_LIBSRTP, run on libsrtp2.
 *
 * Threads. media_srtp_protect_rtp()/_rtcp() may be called from any one thread at a time and
 * media_srtp_unprotect_rtp()/_rtcp() from any one (other) thread at a time, without the GIL; each
 * direction has its own mutex, held for one packet. media_srtp_set_key() may be called from any
 * thread while packets flow: the new libsrtp context is built before the lock is taken and swapped
 * in between two packets, the old one is freed after the lock is released. The libsrtp contexts
 * are never shared between directions, so a protect and an unprotect run in parallel.
 *
 * Rekeying rules:
 *   - installing the key a direction already has (same suite, same bytes) changes nothing: the
 *     context keeps its rollover counter and replay window (a re-INVITE that keeps the keys);
 *   - a new inbound key keeps the previous inbound context as a fallback: a packet that fails to
 *     authenticate with the new key is tried with the old one (packets still in flight, or a peer
 *     that switches a little later than we do), until the new key has authenticated
 *     MEDIA_SRTP_FALLBACK_PACKETS packets or the next rekey.
 *
 * Buffers: protect works in place and needs tail room after the packet (media_srtp_tail_room());
 * MEDIA_SRTP_MAX_RTP_TAIL / MEDIA_SRTP_MAX_RTCP_TAIL cover every suite. Buffers should be 4-byte
 * aligned. All functions return a non-negative length or count on success and a negative
 * MEDIA_SRTP_E_* status otherwise; failed unprotects are counted in the statistics, never fatal.
 */
#ifndef SIPSIMPLE_MEDIA_SRTP_CTX_H
#define SIPSIMPLE_MEDIA_SRTP_CTX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* crypto suites, numbered as we please (the SDES names are in media_srtp_suite_info) */
enum {
    MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80 = 1,
    MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32 = 2,
    MEDIA_SRTP_AEAD_AES_128_GCM = 3,
    MEDIA_SRTP_AEAD_AES_256_GCM = 4,
};
#define MEDIA_SRTP_SUITE_COUNT 4

enum { MEDIA_SRTP_OUTBOUND = 0, MEDIA_SRTP_INBOUND = 1 };

/* statuses */
#define MEDIA_SRTP_OK 0
#define MEDIA_SRTP_E_ARGUMENT (-1)    /* unknown suite or direction, wrong key length, NULL */
#define MEDIA_SRTP_E_UNSUPPORTED (-2) /* this libsrtp build lacks the suite */
#define MEDIA_SRTP_E_NO_KEY (-3)      /* the direction has no key yet */
#define MEDIA_SRTP_E_SPACE (-4)       /* not enough tail room after the packet */
#define MEDIA_SRTP_E_MALFORMED (-5)   /* too short, or not RTP/RTCP version 2 */
#define MEDIA_SRTP_E_AUTH (-6)        /* authentication failed: forged, damaged or wrong key */
#define MEDIA_SRTP_E_REPLAY (-7)      /* seen before, or older than the replay window */
#define MEDIA_SRTP_E_KEY_EXPIRED (-8) /* the key reached its packet limit (2^48 RTP, 2^31 RTCP) */
#define MEDIA_SRTP_E_NO_MEMORY (-9)
#define MEDIA_SRTP_E_INIT (-10)       /* srtp_init() failed */
#define MEDIA_SRTP_E_LIBRARY (-11)    /* any other libsrtp or libcrypto failure */
#define MEDIA_SRTP_E_SOURCES (-12)    /* outbound: more SSRCs under one key than srtp_cm.h keeps */

/* who runs a session's packets (media_srtp_set_engine) */
enum {
    MEDIA_SRTP_ENGINE_DEFAULT = 0, /* ours for AES-CM, libsrtp for AEAD (libsrtp for all with
                                      SIPSIMPLE_SRTP_CRYPTO=library in the environment) */
    MEDIA_SRTP_ENGINE_LIBSRTP = 1, /* libsrtp for every suite (the cross-check) */
};

#define MEDIA_SRTP_MAX_KEY_LENGTH 46   /* master key + salt: 32 + 14 (we use at most 32 + 12) */
#define MEDIA_SRTP_MAX_RTP_TAIL 16     /* authentication tag (GCM) */
#define MEDIA_SRTP_MAX_RTCP_TAIL 20    /* E flag + SRTCP index (4) + tag (16) */
#define MEDIA_SRTP_REPLAY_WINDOW 256   /* packets (RFC 3711 §3.3.2: at least 64) */
#define MEDIA_SRTP_FALLBACK_PACKETS 64 /* see "Rekeying rules" */
#define MEDIA_SRTP_FALLBACK_MAX_PACKET 2048

typedef struct media_srtp_suite_info {
    int suite;
    const char *name;        /* as SDES writes it: "AES_CM_128_HMAC_SHA1_80" */
    unsigned key_length;     /* master key octets */
    unsigned salt_length;    /* master salt octets */
    unsigned rtp_tail;       /* octets protect_rtp adds */
    unsigned rtcp_tail;      /* octets protect_rtcp adds */
} media_srtp_suite_info;

typedef struct media_srtp_stats {
    uint64_t rtp_protected, rtcp_protected;
    uint64_t rtp_unprotected, rtcp_unprotected;
    uint64_t unprotected_with_previous_key; /* of the above: packets the fallback context accepted */
    uint64_t auth_failures;                 /* inbound, RTP and RTCP */
    uint64_t replay_failures;
    uint64_t malformed;
    uint64_t other_failures;                /* inbound: no key, key expired, library errors */
    uint64_t protect_failures;              /* outbound: every refusal */
    uint32_t outbound_rekeys, inbound_rekeys; /* keys installed that replaced another one */
    int outbound_suite, inbound_suite;        /* 0: no key */
} media_srtp_stats;

typedef struct media_srtp media_srtp_t;

/* srtp_init() once per process (pthread_once); every other function calls it too */
int media_srtp_init(void);
const char *media_srtp_library_version(void);
/* who does AES-128-CM and HMAC-SHA1 for libsrtp (see srtp_ctx.c): OpenSSL's text, or libsrtp's own */
const char *media_srtp_crypto_backend(void);
const char *media_srtp_strerror(int status);

/* the suite's facts, or NULL for an unknown number; find by SDES name (any case) -> suite or 0 */
const media_srtp_suite_info *media_srtp_suite_info_get(int suite);
int media_srtp_suite_by_name(const char *name, size_t length);
/* 1 if this libsrtp build can run the suite (tried once at init), 0 if not, <0 unknown suite */
int media_srtp_suite_available(int suite);
/* the tail room protect needs for the direction's current suite (the maximum when no key) */
size_t media_srtp_tail_room(media_srtp_t *s, int rtcp);

int media_srtp_create(media_srtp_t **out);
void media_srtp_destroy(media_srtp_t *s); /* no packet function may run concurrently */
/* which engine the keys installed from now on use (not in the function table: tests, benchmarks) */
int media_srtp_set_engine(media_srtp_t *s, int engine);
/* key = master key || master salt, exactly key_length + salt_length octets.
 * Returns 1 if a new context was swapped in, 0 if that key was already installed. */
int media_srtp_set_key(media_srtp_t *s, int direction, int suite, const uint8_t *key, size_t length);
int media_srtp_clear_key(media_srtp_t *s, int direction); /* back to "no key" (drops the fallback) */

/* in place; return the new length */
int media_srtp_protect_rtp(media_srtp_t *s, uint8_t *packet, size_t length, size_t capacity);
int media_srtp_unprotect_rtp(media_srtp_t *s, uint8_t *packet, size_t length);
int media_srtp_protect_rtcp(media_srtp_t *s, uint8_t *packet, size_t length, size_t capacity);
int media_srtp_unprotect_rtcp(media_srtp_t *s, uint8_t *packet, size_t length);

void media_srtp_get_stats(media_srtp_t *s, media_srtp_stats *out);

/*
 * All of the above as a table of function pointers, for another extension (the RTP stream) that
 * calls them from its native threads without linking libsrtp itself. The _srtp extension exports
 * it in the PyCapsule MEDIA_SRTP_API_CAPSULE (module attribute _C_API); an SRTPSession object hands
 * out its media_srtp_t in a capsule named MEDIA_SRTP_SESSION_CAPSULE that keeps the object alive.
 */
#define MEDIA_SRTP_API_VERSION 1u
#define MEDIA_SRTP_API_CAPSULE "sipsimple.core.media._srtp._C_API"
#define MEDIA_SRTP_SESSION_CAPSULE "sipsimple.core.media.media_srtp_t"

typedef struct media_srtp_api {
    unsigned version;
    int (*init)(void);
    const char *(*strerror)(int status);
    const media_srtp_suite_info *(*suite_info)(int suite);
    int (*suite_by_name)(const char *name, size_t length);
    int (*suite_available)(int suite);
    size_t (*tail_room)(media_srtp_t *s, int rtcp);
    int (*create)(media_srtp_t **out);
    void (*destroy)(media_srtp_t *s);
    int (*set_key)(media_srtp_t *s, int direction, int suite, const uint8_t *key, size_t length);
    int (*clear_key)(media_srtp_t *s, int direction);
    int (*protect_rtp)(media_srtp_t *s, uint8_t *packet, size_t length, size_t capacity);
    int (*unprotect_rtp)(media_srtp_t *s, uint8_t *packet, size_t length);
    int (*protect_rtcp)(media_srtp_t *s, uint8_t *packet, size_t length, size_t capacity);
    int (*unprotect_rtcp)(media_srtp_t *s, uint8_t *packet, size_t length);
    void (*get_stats)(media_srtp_t *s, media_srtp_stats *out);
} media_srtp_api;

const media_srtp_api *media_srtp_api_table(void);

#ifdef __cplusplus
}
#endif

#endif
