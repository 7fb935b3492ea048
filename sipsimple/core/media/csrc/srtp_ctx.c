/*
 * SRTP session pair (see srtp_ctx.h for the threading and rekeying rules).
 *
 * Engines. A direction's context under one key is either ours (srtp_cm.c: AES_CM_128_HMAC_SHA1_80
 * and _32, the suites SDES peers offer first) or libsrtp's (the AEAD suites; every suite when the
 * session was switched to MEDIA_SRTP_ENGINE_LIBSRTP, or for the whole process with
 * SIPSIMPLE_SRTP_CRYPTO=library). Ours exists for speed: libsrtp spends about as long finding the
 * stream, updating its key limit and re-initialising the cipher for every packet's IV as the
 * cryptography itself; both produce the same packets (tests/core/media/test_srtp_engines.py).
 *
 * Every libsrtp status goes through status_of(), the one place that maps them to ours. The
 * crypto policies are filled from the constants of <srtp2/crypto_types.h> rather than through
 * libsrtp's srtp_crypto_policy_set_aes_gcm_*() helpers, so a libsrtp built without GCM still
 * loads this code; whether a suite really runs is found out once, at init, by creating a
 * context with it.
 *
 * Crypto back end. libsrtp does the SRTP work (packet formats, key derivation, rollover counter,
 * replay database) and calls its cipher and MAC through tables of function pointers. Debian
 * builds libsrtp2 over NSS, whose PKCS #11 layer allocates, locks and looks up a hash table on
 * every packet: ~3 us to protect a 172-byte packet with AES-CM + HMAC-SHA1. At init we give
 * libsrtp AES-128 in counter mode and HMAC-SHA1 over OpenSSL's libcrypto instead, through
 * libsrtp's own srtp_replace_cipher_type()/srtp_replace_auth_type() (which first run a known
 * answer test: RFC 3711 B.2 and RFC 2202). SIPSIMPLE_SRTP_CRYPTO=library in the environment
 * keeps libsrtp's built-in implementations.
 */
#define _GNU_SOURCE
#include "srtp_ctx.h"
#include "srtp_cm.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <srtp2/auth.h>
#include <srtp2/cipher.h>
#include <srtp2/crypto_types.h>
#include <srtp2/srtp.h>

static const media_srtp_suite_info SUITES[MEDIA_SRTP_SUITE_COUNT] = {
    /* RFC 4568 §6.2.1: SRTCP keeps the 80-bit tag with the 32-bit SRTP suite; 4 octets of
     * E flag + SRTCP index precede the tag (RFC 3711 §3.4) */
    {MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80, "AES_CM_128_HMAC_SHA1_80", 16, 14, 10, 14},
    {MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32, "AES_CM_128_HMAC_SHA1_32", 16, 14, 4, 14},
    /* RFC 7714 §12: 12-octet salt, 16-octet tag on both */
    {MEDIA_SRTP_AEAD_AES_128_GCM, "AEAD_AES_128_GCM", 16, 12, 16, 20},
    {MEDIA_SRTP_AEAD_AES_256_GCM, "AEAD_AES_256_GCM", 32, 12, 16, 20},
};

/* ---- process-wide initialisation ------------------------------------------------------------ */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_status = MEDIA_SRTP_E_INIT;
static int suite_works[MEDIA_SRTP_SUITE_COUNT + 1];

static void quiet_log(srtp_log_level_t level, const char *message, void *data)
{
    /* libsrtp reports every failed packet at error level; we count them instead */
    (void)level;
    (void)message;
    (void)data;
}

static int status_of(srtp_err_status_t status, int bad_param)
{
    switch (status) {
    case srtp_err_status_ok:
        return MEDIA_SRTP_OK;
    case srtp_err_status_auth_fail:
    case srtp_err_status_cipher_fail: /* AEAD tag mismatch in some crypto back ends */
        return MEDIA_SRTP_E_AUTH;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
        return MEDIA_SRTP_E_REPLAY;
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err:
    case srtp_err_status_cant_check: /* SRTCP without the E flag where we keyed for encryption */
        return bad_param;
    case srtp_err_status_alloc_fail:
        return MEDIA_SRTP_E_NO_MEMORY;
    case srtp_err_status_key_expired:
    case srtp_err_status_pkt_idx_old:
    case srtp_err_status_pkt_idx_adv:
        return MEDIA_SRTP_E_KEY_EXPIRED;
    case srtp_err_status_init_fail:
        return MEDIA_SRTP_E_INIT;
    default:
        return MEDIA_SRTP_E_LIBRARY;
    }
}

static void fill_crypto_policy(srtp_crypto_policy_t *p, int suite, int rtcp)
{
    memset(p, 0, sizeof *p);
    p->sec_serv = sec_serv_conf_and_auth;
    switch (suite) {
    case MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80:
    case MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32:
        p->cipher_type = SRTP_AES_ICM_128;
        p->cipher_key_len = SRTP_AES_ICM_128_KEY_LEN_WSALT;
        p->auth_type = SRTP_HMAC_SHA1;
        p->auth_key_len = 20;
        p->auth_tag_len = (suite == MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32 && !rtcp) ? 4 : 10;
        break;
    case MEDIA_SRTP_AEAD_AES_128_GCM:
    case MEDIA_SRTP_AEAD_AES_256_GCM:
        p->cipher_type = suite == MEDIA_SRTP_AEAD_AES_128_GCM ? SRTP_AES_GCM_128 : SRTP_AES_GCM_256;
        p->cipher_key_len = suite == MEDIA_SRTP_AEAD_AES_128_GCM ? SRTP_AES_GCM_128_KEY_LEN_WSALT
                                                                 : SRTP_AES_GCM_256_KEY_LEN_WSALT;
        p->auth_type = SRTP_NULL_AUTH;
        p->auth_key_len = 0;
        p->auth_tag_len = 16;
        break;
    }
}

static int create_libsrtp(srtp_t *out, int direction, int suite, const uint8_t *key)
{
    srtp_policy_t policy;
    unsigned char key_copy[MEDIA_SRTP_MAX_KEY_LENGTH];
    const media_srtp_suite_info *info = &SUITES[suite - 1];
    int status;

    memset(&policy, 0, sizeof policy);
    policy.ssrc.type = direction == MEDIA_SRTP_OUTBOUND ? ssrc_any_outbound : ssrc_any_inbound;
    fill_crypto_policy(&policy.rtp, suite, 0);
    fill_crypto_policy(&policy.rtcp, suite, 1);
    memcpy(key_copy, key, info->key_length + info->salt_length);
    policy.key = key_copy;
    policy.window_size = MEDIA_SRTP_REPLAY_WINDOW;
    policy.allow_repeat_tx = 0;
    policy.next = NULL;
    status = status_of(srtp_create(out, &policy), MEDIA_SRTP_E_UNSUPPORTED);
    explicit_bzero(key_copy, sizeof key_copy);
    if (status != MEDIA_SRTP_OK)
        *out = NULL;
    return status;
}

/* ---- AES-128-CM and HMAC-SHA1 over libcrypto, for libsrtp's crypto kernel -------------------- */

static EVP_CIPHER *aes_128_ctr;
static const char *crypto_backend = "libsrtp's own";
static int process_engine = MEDIA_SRTP_ENGINE_DEFAULT; /* LIBSRTP: every session runs on libsrtp */

typedef struct icm_state {
    EVP_CIPHER_CTX *ctx;
    uint8_t offset[16]; /* master/session salt, then two zero octets: the counter is offset ^ IV */
} icm_state;

typedef struct icm_cipher {
    srtp_cipher_t cipher;
    icm_state state;
} icm_cipher;

static const srtp_cipher_type_t ossl_aes_icm_128;

static srtp_err_status_t icm_alloc(srtp_cipher_t **out, int key_length, int tag_length)
{
    icm_cipher *c;
    (void)tag_length;
    if (key_length != SRTP_AES_ICM_128_KEY_LEN_WSALT)
        return srtp_err_status_bad_param;
    if ((c = calloc(1, sizeof *c)) == NULL)
        return srtp_err_status_alloc_fail;
    if ((c->state.ctx = EVP_CIPHER_CTX_new()) == NULL) {
        free(c);
        return srtp_err_status_alloc_fail;
    }
    c->cipher.type = &ossl_aes_icm_128;
    c->cipher.state = &c->state;
    c->cipher.key_len = key_length;
    c->cipher.algorithm = SRTP_AES_ICM_128;
    *out = &c->cipher;
    return srtp_err_status_ok;
}

static srtp_err_status_t icm_dealloc(srtp_cipher_t *cipher)
{
    icm_cipher *c = (icm_cipher *)cipher;
    EVP_CIPHER_CTX_free(c->state.ctx);
    explicit_bzero(c, sizeof *c);
    free(c);
    return srtp_err_status_ok;
}

static srtp_err_status_t icm_init(void *state, const uint8_t *key)
{
    icm_state *st = state;
    memset(st->offset, 0, sizeof st->offset);
    memcpy(st->offset, key + SRTP_AES_128_KEY_LEN, SRTP_SALT_LEN);
    return EVP_EncryptInit_ex2(st->ctx, aes_128_ctr, key, NULL, NULL) == 1 ? srtp_err_status_ok
                                                                            : srtp_err_status_init_fail;
}

static srtp_err_status_t icm_set_iv(void *state, uint8_t *iv, srtp_cipher_direction_t direction)
{
    icm_state *st = state;
    uint8_t counter[16];
    (void)direction;
    for (int i = 0; i < 16; i++)
        counter[i] = st->offset[i] ^ iv[i];
    return EVP_EncryptInit_ex2(st->ctx, NULL, NULL, counter, NULL) == 1 ? srtp_err_status_ok
                                                                         : srtp_err_status_cipher_fail;
}

static srtp_err_status_t icm_crypt(void *state, uint8_t *buffer, unsigned int *length)
{
    icm_state *st = state;
    int out;
    if (*length > INT_MAX)
        return srtp_err_status_bad_param;
    return EVP_EncryptUpdate(st->ctx, buffer, &out, buffer, (int)*length) == 1 ? srtp_err_status_ok
                                                                                : srtp_err_status_cipher_fail;
}

/* RFC 3711 Appendix B.2: session key, session salt, IV 0 -> the first two keystream blocks */
static const uint8_t icm_test_key[SRTP_AES_ICM_128_KEY_LEN_WSALT] = {
    0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd};
static uint8_t icm_test_iv[16];
static const uint8_t icm_test_plaintext[32];
static const uint8_t icm_test_keystream[32] = {
    0xe0, 0x3e, 0xad, 0x09, 0x35, 0xc9, 0x5e, 0x80, 0xe1, 0x66, 0xb1, 0x6d, 0xd9, 0x2b, 0x4e, 0xb4,
    0xd2, 0x35, 0x13, 0x16, 0x2b, 0x02, 0xd0, 0xf7, 0x2a, 0x43, 0xa2, 0xfe, 0x4a, 0x5f, 0x97, 0xab};
static const srtp_cipher_test_case_t icm_test = {
    SRTP_AES_ICM_128_KEY_LEN_WSALT, icm_test_key, icm_test_iv, 32, icm_test_plaintext, 32,
    icm_test_keystream, 0, NULL, 0, NULL};

static const srtp_cipher_type_t ossl_aes_icm_128 = {
    icm_alloc, icm_dealloc, icm_init, NULL, icm_crypt, icm_crypt, icm_set_iv, NULL,
    "AES-128 counter mode (sipsimple, libcrypto)", &icm_test, SRTP_AES_ICM_128};

/* HMAC-SHA1 (RFC 2104) over libcrypto's SHA-1 block function: the states after the key's inner
 * and outer pads are computed once per key, and a packet costs two copies of a SHA_CTX, the hash
 * of the packet and of the inner digest. The EVP_MAC route spends about as long again in
 * parameter look-ups and context duplication on every packet. (The SHA1_* functions are
 * deprecated in OpenSSL 3 in favour of EVP, but remain part of its ABI.) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <openssl/sha.h>

typedef struct hmac_auth {
    srtp_auth_t auth;
    SHA_CTX inner_start, outer_start; /* after the padded key */
    SHA_CTX inner;                    /* the packet being authenticated */
} hmac_auth;

static const srtp_auth_type_t ossl_hmac_sha1;

static srtp_err_status_t hmac_alloc(srtp_auth_t **out, int key_length, int tag_length)
{
    hmac_auth *a;
    if (key_length < 0 || key_length > 20 || tag_length < 0 || tag_length > 20)
        return srtp_err_status_bad_param;
    if ((a = calloc(1, sizeof *a)) == NULL)
        return srtp_err_status_alloc_fail;
    a->auth.type = &ossl_hmac_sha1;
    a->auth.state = a;
    a->auth.out_len = tag_length;
    a->auth.key_len = key_length;
    a->auth.prefix_len = 0;
    *out = &a->auth;
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_dealloc(srtp_auth_t *auth)
{
    hmac_auth *a = (hmac_auth *)auth;
    explicit_bzero(a, sizeof *a);
    free(a);
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_init(void *state, const uint8_t *key, int key_length)
{
    hmac_auth *a = state;
    uint8_t pad[SHA_CBLOCK];
    if (key_length < 0 || key_length > SHA_CBLOCK)
        return srtp_err_status_auth_fail;
    memset(pad, 0x36, sizeof pad);
    for (int i = 0; i < key_length; i++)
        pad[i] ^= key[i];
    SHA1_Init(&a->inner_start);
    SHA1_Update(&a->inner_start, pad, sizeof pad);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] ^= 0x36 ^ 0x5c;
    SHA1_Init(&a->outer_start);
    SHA1_Update(&a->outer_start, pad, sizeof pad);
    explicit_bzero(pad, sizeof pad);
    a->inner = a->inner_start;
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_start(void *state)
{
    hmac_auth *a = state;
    a->inner = a->inner_start;
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_update(void *state, const uint8_t *buffer, int length)
{
    hmac_auth *a = state;
    if (length < 0)
        return srtp_err_status_auth_fail;
    SHA1_Update(&a->inner, buffer, (size_t)length);
    return srtp_err_status_ok;
}

static srtp_err_status_t hmac_compute(void *state, const uint8_t *buffer, int length, int tag_length,
                                      uint8_t *tag)
{
    hmac_auth *a = state;
    uint8_t digest[SHA_DIGEST_LENGTH];
    SHA_CTX outer;
    if (tag_length < 0 || tag_length > SHA_DIGEST_LENGTH || length < 0)
        return srtp_err_status_auth_fail;
    SHA1_Update(&a->inner, buffer, (size_t)length);
    SHA1_Final(digest, &a->inner);
    outer = a->outer_start;
    SHA1_Update(&outer, digest, sizeof digest);
    SHA1_Final(digest, &outer);
    memcpy(tag, digest, (size_t)tag_length);
    explicit_bzero(digest, sizeof digest);
    return srtp_err_status_ok;
}
#pragma GCC diagnostic pop

/* RFC 2202 §3, test case 1 */
static const uint8_t hmac_test_key[20] = {0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
                                          0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b};
static const uint8_t hmac_test_data[8] = {'H', 'i', ' ', 'T', 'h', 'e', 'r', 'e'};
static const uint8_t hmac_test_tag[20] = {0xb6, 0x17, 0x31, 0x86, 0x55, 0x05, 0x72, 0x64, 0xe2, 0x8b,
                                          0xc0, 0xb6, 0xfb, 0x37, 0x8c, 0x8e, 0xf1, 0x46, 0xbe, 0x00};
static const srtp_auth_test_case_t hmac_test = {20, hmac_test_key, 8, hmac_test_data, 20, hmac_test_tag, NULL};

static const srtp_auth_type_t ossl_hmac_sha1 = {
    hmac_alloc,  hmac_dealloc, hmac_init, hmac_compute, hmac_update, hmac_start,
    "HMAC-SHA1 (sipsimple, libcrypto)", &hmac_test, SRTP_HMAC_SHA1};

static void install_crypto(void)
{
    const char *choice = getenv("SIPSIMPLE_SRTP_CRYPTO");
    if (choice != NULL && strcmp(choice, "library") == 0) {
        process_engine = MEDIA_SRTP_ENGINE_LIBSRTP;
        return;
    }
    aes_128_ctr = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
    if (aes_128_ctr == NULL)
        return;
    /* each runs the type's known answer test first and refuses the type if it fails */
    if (srtp_replace_cipher_type(&ossl_aes_icm_128, SRTP_AES_ICM_128) != srtp_err_status_ok)
        return;
    if (srtp_replace_auth_type(&ossl_hmac_sha1, SRTP_HMAC_SHA1) != srtp_err_status_ok) {
        crypto_backend = OPENSSL_VERSION_TEXT " (AES-128-CM); libsrtp's own HMAC-SHA1";
        return;
    }
    crypto_backend = OPENSSL_VERSION_TEXT " (AES-128-CM, HMAC-SHA1)";
}

static char backend_text[256];

const char *media_srtp_crypto_backend(void)
{
    media_srtp_init();
    return backend_text[0] != '\0' ? backend_text : crypto_backend;
}

static void init_library(void)
{
    static const uint8_t probe_key[MEDIA_SRTP_MAX_KEY_LENGTH] = {1};
    srtp_install_log_handler(quiet_log, NULL);
    init_status = status_of(srtp_init(), MEDIA_SRTP_E_INIT);
    if (init_status != MEDIA_SRTP_OK)
        return;
    install_crypto();
    if (process_engine == MEDIA_SRTP_ENGINE_DEFAULT && srtp_cm_available())
        snprintf(backend_text, sizeof backend_text,
                 "AES-CM: sipsimple's SRTP (AES %s, SHA-1 of " OPENSSL_VERSION_TEXT "); others: libsrtp, %s",
                 srtp_cm_uses_aesni() ? "on AES-NI" : "of OpenSSL", crypto_backend);
    for (int suite = 1; suite <= MEDIA_SRTP_SUITE_COUNT; suite++) {
        srtp_t probe;
        suite_works[suite] = create_libsrtp(&probe, MEDIA_SRTP_OUTBOUND, suite, probe_key) == MEDIA_SRTP_OK;
        if (suite_works[suite])
            srtp_dealloc(probe);
    }
}

int media_srtp_init(void)
{
    if (pthread_once(&init_once, init_library) != 0)
        return MEDIA_SRTP_E_INIT;
    return init_status;
}

const char *media_srtp_library_version(void)
{
    return srtp_get_version_string();
}

const char *media_srtp_strerror(int status)
{
    switch (status) {
    case MEDIA_SRTP_OK:
        return "success";
    case MEDIA_SRTP_E_ARGUMENT:
        return "invalid argument (unknown suite or direction, or a key of the wrong length)";
    case MEDIA_SRTP_E_UNSUPPORTED:
        return "this libsrtp build does not support the crypto suite";
    case MEDIA_SRTP_E_NO_KEY:
        return "no key installed for this direction";
    case MEDIA_SRTP_E_SPACE:
        return "not enough room after the packet for the SRTP trailer";
    case MEDIA_SRTP_E_MALFORMED:
        return "malformed packet (too short, or not version 2)";
    case MEDIA_SRTP_E_AUTH:
        return "authentication failed";
    case MEDIA_SRTP_E_REPLAY:
        return "replayed or too old packet";
    case MEDIA_SRTP_E_KEY_EXPIRED:
        return "the key reached its packet limit";
    case MEDIA_SRTP_E_NO_MEMORY:
        return "out of memory";
    case MEDIA_SRTP_E_INIT:
        return "libsrtp failed to initialise";
    case MEDIA_SRTP_E_LIBRARY:
        return "libsrtp or libcrypto error";
    case MEDIA_SRTP_E_SOURCES:
        return "too many SSRCs sending under one key";
    default:
        return "unknown SRTP status";
    }
}

const media_srtp_suite_info *media_srtp_suite_info_get(int suite)
{
    if (suite < 1 || suite > MEDIA_SRTP_SUITE_COUNT)
        return NULL;
    return &SUITES[suite - 1];
}

int media_srtp_suite_by_name(const char *name, size_t length)
{
    if (name == NULL)
        return 0;
    for (int i = 0; i < MEDIA_SRTP_SUITE_COUNT; i++)
        if (strlen(SUITES[i].name) == length && strncasecmp(SUITES[i].name, name, length) == 0)
            return SUITES[i].suite;
    return 0;
}

int media_srtp_suite_available(int suite)
{
    int status;
    if (suite < 1 || suite > MEDIA_SRTP_SUITE_COUNT)
        return MEDIA_SRTP_E_ARGUMENT;
    if ((status = media_srtp_init()) < 0)
        return status;
    return suite_works[suite];
}

/* ---- sessions ------------------------------------------------------------------------------ */

/* one direction under one key: ours (AES-CM) or libsrtp's; both NULL: no key */
typedef struct context {
    srtp_cm_t *cm;
    srtp_t lib;
} context;

static int context_create(context *c, int engine, int direction_, int suite, const uint8_t *key)
{
    c->cm = NULL;
    c->lib = NULL;
    if (engine == MEDIA_SRTP_ENGINE_DEFAULT && process_engine == MEDIA_SRTP_ENGINE_DEFAULT && srtp_cm_available() &&
        (suite == MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80 || suite == MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32))
        return srtp_cm_create(&c->cm, direction_ == MEDIA_SRTP_OUTBOUND,
                              suite == MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32 ? 4 : 10, key, key + SRTP_CM_KEY_LENGTH);
    return create_libsrtp(&c->lib, direction_, suite, key);
}

static int context_live(const context *c)
{
    return c->cm != NULL || c->lib != NULL;
}

static void context_free(context *c)
{
    srtp_cm_destroy(c->cm);
    if (c->lib != NULL)
        srtp_dealloc(c->lib);
    c->cm = NULL;
    c->lib = NULL;
}

/* -> new length or status */
static int context_protect(context *c, uint8_t *packet, size_t length, size_t capacity, int rtcp)
{
    int len = (int)length, status;
    if (c->cm != NULL)
        return rtcp ? srtp_cm_protect_rtcp(c->cm, packet, length, capacity)
                    : srtp_cm_protect_rtp(c->cm, packet, length, capacity);
    status = status_of(rtcp ? srtp_protect_rtcp(c->lib, packet, &len) : srtp_protect(c->lib, packet, &len),
                       MEDIA_SRTP_E_MALFORMED);
    return status == MEDIA_SRTP_OK ? len : status;
}

static int context_unprotect(context *c, uint8_t *packet, size_t length, int rtcp)
{
    int len = (int)length, status;
    if (c->cm != NULL)
        return rtcp ? srtp_cm_unprotect_rtcp(c->cm, packet, length) : srtp_cm_unprotect_rtp(c->cm, packet, length);
    status = status_of(rtcp ? srtp_unprotect_rtcp(c->lib, packet, &len) : srtp_unprotect(c->lib, packet, &len),
                       MEDIA_SRTP_E_MALFORMED);
    return status == MEDIA_SRTP_OK ? len : status;
}

/* what a packet touches first (two cache lines: the lock, the contexts, the usual counters), then
 * the failure counters and the key */
typedef struct direction {
    pthread_mutex_t lock;          /* held for one packet, or for a context swap */
    context current;               /* no key when not live */
    context previous;              /* inbound only: the context before the last rekey */
    int suite;
    unsigned authenticated;        /* packets the current context accepted (up to the fallback limit) */
    uint64_t rtp_ok, rtcp_ok, with_previous;
    uint64_t auth_failures, replay_failures, malformed, other_failures;
    uint32_t rekeys;
    unsigned key_length;
    uint8_t key[MEDIA_SRTP_MAX_KEY_LENGTH];
} __attribute__((aligned(64))) direction;

struct media_srtp {
    pthread_mutex_t control;       /* serialises set_key/clear_key/set_engine; never taken per packet */
    int engine;                    /* MEDIA_SRTP_ENGINE_* for the next keys */
    direction dir[2];
};

int media_srtp_create(media_srtp_t **out)
{
    media_srtp_t *s;
    int status;
    if (out == NULL)
        return MEDIA_SRTP_E_ARGUMENT;
    *out = NULL;
    if ((status = media_srtp_init()) < 0)
        return status;
    if ((s = aligned_alloc(64, (sizeof *s + 63) / 64 * 64)) == NULL)
        return MEDIA_SRTP_E_NO_MEMORY;
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->control, NULL);
    s->engine = MEDIA_SRTP_ENGINE_DEFAULT;
    for (int d = 0; d < 2; d++)
        pthread_mutex_init(&s->dir[d].lock, NULL);
    *out = s;
    return MEDIA_SRTP_OK;
}

static void forget(direction *d, context *retired)
{
    /* with d->lock held: detach both contexts (freed by the caller after unlocking) */
    retired[0] = d->current;
    retired[1] = d->previous;
    memset(&d->current, 0, sizeof d->current);
    memset(&d->previous, 0, sizeof d->previous);
    d->suite = 0;
    d->key_length = 0;
    explicit_bzero(d->key, sizeof d->key);
}

static void dealloc_all(context *contexts, int count)
{
    for (int i = 0; i < count; i++)
        context_free(&contexts[i]);
}

void media_srtp_destroy(media_srtp_t *s)
{
    if (s == NULL)
        return;
    for (int d = 0; d < 2; d++) {
        context retired[2];
        forget(&s->dir[d], retired);
        dealloc_all(retired, 2);
        pthread_mutex_destroy(&s->dir[d].lock);
    }
    pthread_mutex_destroy(&s->control);
    explicit_bzero(s, sizeof *s);
    free(s);
}

int media_srtp_set_key(media_srtp_t *s, int direction_, int suite, const uint8_t *key, size_t length)
{
    const media_srtp_suite_info *info = media_srtp_suite_info_get(suite);
    context fresh, retired[2];
    direction *d;
    int status;

    if (s == NULL || key == NULL || info == NULL ||
        (direction_ != MEDIA_SRTP_OUTBOUND && direction_ != MEDIA_SRTP_INBOUND) ||
        length != info->key_length + info->salt_length)
        return MEDIA_SRTP_E_ARGUMENT;
    if ((status = media_srtp_suite_available(suite)) <= 0)
        return status < 0 ? status : MEDIA_SRTP_E_UNSUPPORTED;
    d = &s->dir[direction_];
    memset(retired, 0, sizeof retired);

    pthread_mutex_lock(&s->control);
    /* only set_key/clear_key write the key fields, and they hold the control mutex */
    if (context_live(&d->current) && d->suite == suite && d->key_length == length && memcmp(d->key, key, length) == 0) {
        pthread_mutex_unlock(&s->control);
        return 0;
    }
    status = context_create(&fresh, s->engine, direction_, suite, key);
    if (status == MEDIA_SRTP_OK) {
        pthread_mutex_lock(&d->lock);
        if (direction_ == MEDIA_SRTP_INBOUND) {
            retired[0] = d->previous;
            d->previous = d->current;
        } else {
            retired[0] = d->current;
        }
        if (context_live(&d->current))
            d->rekeys++;
        d->current = fresh;
        d->suite = suite;
        d->key_length = (unsigned)length;
        memcpy(d->key, key, length);
        d->authenticated = 0;
        pthread_mutex_unlock(&d->lock);
        dealloc_all(retired, 1);
        status = 1;
    }
    pthread_mutex_unlock(&s->control);
    return status;
}

int media_srtp_set_engine(media_srtp_t *s, int engine)
{
    if (s == NULL || (engine != MEDIA_SRTP_ENGINE_DEFAULT && engine != MEDIA_SRTP_ENGINE_LIBSRTP))
        return MEDIA_SRTP_E_ARGUMENT;
    pthread_mutex_lock(&s->control);
    s->engine = engine;
    pthread_mutex_unlock(&s->control);
    return MEDIA_SRTP_OK;
}

int media_srtp_clear_key(media_srtp_t *s, int direction_)
{
    context retired[2];
    direction *d;
    if (s == NULL || (direction_ != MEDIA_SRTP_OUTBOUND && direction_ != MEDIA_SRTP_INBOUND))
        return MEDIA_SRTP_E_ARGUMENT;
    d = &s->dir[direction_];
    pthread_mutex_lock(&s->control);
    pthread_mutex_lock(&d->lock);
    forget(d, retired);
    pthread_mutex_unlock(&d->lock);
    dealloc_all(retired, 2);
    pthread_mutex_unlock(&s->control);
    return MEDIA_SRTP_OK;
}

size_t media_srtp_tail_room(media_srtp_t *s, int rtcp)
{
    size_t room = rtcp ? MEDIA_SRTP_MAX_RTCP_TAIL : MEDIA_SRTP_MAX_RTP_TAIL;
    if (s != NULL) {
        direction *d = &s->dir[MEDIA_SRTP_OUTBOUND];
        pthread_mutex_lock(&d->lock);
        if (d->suite != 0)
            room = rtcp ? SUITES[d->suite - 1].rtcp_tail : SUITES[d->suite - 1].rtp_tail;
        pthread_mutex_unlock(&d->lock);
    }
    return room;
}

/* ---- the packet path ----------------------------------------------------------------------- */

static int protect(media_srtp_t *s, uint8_t *packet, size_t length, size_t capacity, int rtcp)
{
    direction *d;
    int status;
    if (s == NULL || packet == NULL)
        return MEDIA_SRTP_E_ARGUMENT;
    d = &s->dir[MEDIA_SRTP_OUTBOUND];
    pthread_mutex_lock(&d->lock);
    if (!context_live(&d->current)) {
        status = MEDIA_SRTP_E_NO_KEY;
    } else if (length < (rtcp ? 8u : 12u) || (packet[0] >> 6) != 2) {
        status = MEDIA_SRTP_E_MALFORMED;
    } else {
        const media_srtp_suite_info *info = &SUITES[d->suite - 1];
        size_t tail = rtcp ? info->rtcp_tail : info->rtp_tail;
        if (length > (size_t)INT_MAX - tail || capacity < length + tail) {
            status = MEDIA_SRTP_E_SPACE;
        } else {
            status = context_protect(&d->current, packet, length, capacity, rtcp);
            if (status >= 0) {
                if (rtcp)
                    d->rtcp_ok++;
                else
                    d->rtp_ok++;
            }
        }
    }
    if (status < 0)
        d->other_failures++; /* the outbound direction's "failures" are protect failures */
    pthread_mutex_unlock(&d->lock);
    return status;
}

static int unprotect(media_srtp_t *s, uint8_t *packet, size_t length, int rtcp)
{
    uint8_t saved[MEDIA_SRTP_FALLBACK_MAX_PACKET];
    direction *d;
    int status;
    if (s == NULL || packet == NULL)
        return MEDIA_SRTP_E_ARGUMENT;
    d = &s->dir[MEDIA_SRTP_INBOUND];
    pthread_mutex_lock(&d->lock);
    if (!context_live(&d->current)) {
        status = MEDIA_SRTP_E_NO_KEY;
    } else if (length < (rtcp ? 8u : 12u) || length > INT_MAX || (packet[0] >> 6) != 2) {
        status = MEDIA_SRTP_E_MALFORMED;
    } else {
        int fallback = context_live(&d->previous) && d->authenticated < MEDIA_SRTP_FALLBACK_PACKETS &&
                       length <= sizeof saved;
        if (fallback)
            memcpy(saved, packet, length);
        status = context_unprotect(&d->current, packet, length, rtcp);
        if (status >= 0) {
            if (d->authenticated < MEDIA_SRTP_FALLBACK_PACKETS)
                d->authenticated++;
        } else if (status == MEDIA_SRTP_E_AUTH && fallback) {
            int old;
            memcpy(packet, saved, length);
            old = context_unprotect(&d->previous, packet, length, rtcp);
            if (old >= 0)
                d->with_previous++;
            if (old >= 0 || old == MEDIA_SRTP_E_REPLAY)
                status = old;
        }
        if (status >= 0) {
            if (rtcp)
                d->rtcp_ok++;
            else
                d->rtp_ok++;
        }
    }
    switch (status) {
    case MEDIA_SRTP_E_AUTH:
        d->auth_failures++;
        break;
    case MEDIA_SRTP_E_REPLAY:
        d->replay_failures++;
        break;
    case MEDIA_SRTP_E_MALFORMED:
        d->malformed++;
        break;
    default:
        if (status < 0)
            d->other_failures++;
    }
    pthread_mutex_unlock(&d->lock);
    return status;
}

int media_srtp_protect_rtp(media_srtp_t *s, uint8_t *packet, size_t length, size_t capacity)
{
    return protect(s, packet, length, capacity, 0);
}

int media_srtp_protect_rtcp(media_srtp_t *s, uint8_t *packet, size_t length, size_t capacity)
{
    return protect(s, packet, length, capacity, 1);
}

int media_srtp_unprotect_rtp(media_srtp_t *s, uint8_t *packet, size_t length)
{
    return unprotect(s, packet, length, 0);
}

int media_srtp_unprotect_rtcp(media_srtp_t *s, uint8_t *packet, size_t length)
{
    return unprotect(s, packet, length, 1);
}

void media_srtp_get_stats(media_srtp_t *s, media_srtp_stats *out)
{
    direction *o, *i;
    memset(out, 0, sizeof *out);
    if (s == NULL)
        return;
    o = &s->dir[MEDIA_SRTP_OUTBOUND];
    i = &s->dir[MEDIA_SRTP_INBOUND];
    pthread_mutex_lock(&o->lock);
    out->rtp_protected = o->rtp_ok;
    out->rtcp_protected = o->rtcp_ok;
    out->protect_failures = o->other_failures;
    out->outbound_rekeys = o->rekeys;
    out->outbound_suite = o->suite;
    pthread_mutex_unlock(&o->lock);
    pthread_mutex_lock(&i->lock);
    out->rtp_unprotected = i->rtp_ok;
    out->rtcp_unprotected = i->rtcp_ok;
    out->unprotected_with_previous_key = i->with_previous;
    out->auth_failures = i->auth_failures;
    out->replay_failures = i->replay_failures;
    out->malformed = i->malformed;
    out->other_failures = i->other_failures;
    out->inbound_rekeys = i->rekeys;
    out->inbound_suite = i->suite;
    pthread_mutex_unlock(&i->lock);
}

/* ---- the function table -------------------------------------------------------------------- */

static const media_srtp_api API = {
    MEDIA_SRTP_API_VERSION,
    media_srtp_init,
    media_srtp_strerror,
    media_srtp_suite_info_get,
    media_srtp_suite_by_name,
    media_srtp_suite_available,
    media_srtp_tail_room,
    media_srtp_create,
    media_srtp_destroy,
    media_srtp_set_key,
    media_srtp_clear_key,
    media_srtp_protect_rtp,
    media_srtp_unprotect_rtp,
    media_srtp_protect_rtcp,
    media_srtp_unprotect_rtcp,
    media_srtp_get_stats,
};

const media_srtp_api *media_srtp_api_table(void)
{
    return &API;
}
