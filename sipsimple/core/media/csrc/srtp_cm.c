/*
 * SRTP/SRTCP with AES-128-CM and HMAC-SHA1 (RFC 3711) over libcrypto: see srtp_cm.h.
 *
 * Per packet this costs the AES-CM keystream and HMAC-SHA1, nothing else of note:
 *   - AES: with AES-NI (x86-64, checked once at run time) our own counter mode over the CPU's AES
 *     round instructions, eight blocks in flight, round keys inside the context; otherwise one
 *     EVP_EncryptUpdate in ECB mode over the counter blocks, XORed into the payload. Either way
 *     there is no cipher re-initialisation for each packet's IV.
 *   - HMAC-SHA1 resumes from the chaining values after the inner and outer key pads, computed once
 *     per key (libcrypto's SHA1_* functions, which use the CPU's SHA extensions; deprecated in
 *     OpenSSL 3 in favour of EVP but part of its ABI, and EVP_MAC spends about as long again in
 *     parameter look-ups and context copies). The rollover counter that RTP authentication
 *     appends is written into the tail room (protect) or over the tag, saved first (unprotect), so
 *     the MAC reads one contiguous buffer.
 * With hundreds of streams a context is rarely still in the CPU's nearer caches when its next
 * packet comes: what a packet reads of it (the keys, then the source) sits in the first few cache
 * lines of one aligned allocation, all prefetched at once when the call starts.
 *
 * RFC 3711 in short, for the reader:
 *   - key derivation (§4.3, key derivation rate 0): x = master salt XOR (label << 48), session key
 *     material = AES-CM keystream of the master key from IV x << 16; labels 0/1/2 give the SRTP
 *     cipher key, authentication key (20 octets) and salt (14), 3/4/5 the SRTCP ones;
 *   - AES-CM (§4.1.1): IV = (salt << 16) XOR (SSRC << 64) XOR (index << 16), block i of keystream
 *     = AES(IV + i); RTP's index is ROC << 16 | SEQ, SRTCP's the 31-bit index of its trailer;
 *   - SRTP packet = header || encrypted payload || tag, tag = HMAC(header || payload || ROC);
 *   - SRTCP packet = first header and SSRC (8 octets) || encrypted rest || E-flag|index || tag,
 *     tag = HMAC(all before the tag).
 */
#define _GNU_SOURCE
#include "srtp_cm.h"

#include <endian.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "srtp_ctx.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AESNI 1
#define AESNI __attribute__((target("aes,sse2")))
#else
#define HAVE_AESNI 0
#endif

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <openssl/sha.h>

#define BLOCK 16
#define CHUNK (16 * BLOCK)   /* keystream is made this many octets at a time */
#define MAX_CRYPT (0x10000u * BLOCK) /* the 16-bit block counter of one packet */
#define RTCP_TAG 10
#define RTCP_TRAILER 4       /* E flag + 31-bit SRTCP index */
#define RTP_WINDOW_WORDS (MEDIA_SRTP_REPLAY_WINDOW / 64)
#define RTCP_WINDOW 128
#define MAX_INDEX ((UINT64_C(1) << 48) - 1)
#define MAX_RTCP_INDEX 0x7FFFFFFFu

/* ---- libcrypto ---------------------------------------------------------------------------- */

static EVP_CIPHER *aes_128_ecb;
static int use_aesni;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_cipher(void)
{
    const char *choice = getenv("SIPSIMPLE_SRTP_AESNI");
    aes_128_ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
#if HAVE_AESNI
    use_aesni = __builtin_cpu_supports("aes") && !(choice != NULL && strcmp(choice, "0") == 0);
#else
    (void)choice;
#endif
}

int srtp_cm_available(void)
{
    pthread_once(&fetch_once, fetch_cipher);
    return aes_128_ecb != NULL;
}

int srtp_cm_uses_aesni(void)
{
    return srtp_cm_available() && use_aesni;
}

static EVP_CIPHER_CTX *new_ecb(const uint8_t key[SRTP_CM_KEY_LENGTH])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx != NULL && (EVP_EncryptInit_ex2(ctx, aes_128_ecb, key, NULL, NULL) != 1 ||
                        EVP_CIPHER_CTX_set_padding(ctx, 0) != 1)) {
        EVP_CIPHER_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

/* whether two tags differ, in time that does not depend on where (no early exit) */
static inline int tags_differ(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++) {
        d |= a[i] ^ b[i];
        __asm__("" : "+r"(d)); /* keeps the compiler from turning the loop into a search */
    }
    return d != 0;
}

static inline uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return be32toh(v);
}

static inline void put32(uint8_t *p, uint32_t v)
{
    v = htobe32(v);
    memcpy(p, &v, 4);
}

/* ---- one set of session keys (SRTP or SRTCP) ----------------------------------------------- */

typedef struct keys {
    uint8_t round_keys[11 * BLOCK] __attribute__((aligned(16))); /* AES-NI: the expanded cipher key */
    uint64_t salt_hi, salt_lo; /* the IV's two big-endian halves for SSRC 0, index 0, block 0 */
    uint32_t inner[5], outer[5]; /* SHA-1 chaining values after the inner / outer HMAC pad */
    EVP_CIPHER_CTX *ecb;       /* without AES-NI: AES-128 keyed with the session cipher key */
} keys;

#if HAVE_AESNI
/* FIPS 197 §5.2 with the CPU's key generation assist: the 11 round keys of AES-128 */
static AESNI void aesni_expand(keys *k, const uint8_t key[SRTP_CM_KEY_LENGTH])
{
    __m128i *rk = (__m128i *)k->round_keys, x = _mm_loadu_si128((const __m128i *)key), t;
    rk[0] = x;
#define EXPAND(i, rcon)                                                                            \
    t = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(x, rcon), 0xFF);                               \
    x = _mm_xor_si128(x, _mm_slli_si128(x, 4));                                                    \
    x = _mm_xor_si128(x, _mm_slli_si128(x, 4));                                                    \
    x = _mm_xor_si128(x, _mm_slli_si128(x, 4));                                                    \
    rk[i] = x = _mm_xor_si128(x, t)
    /* the round constant is an immediate operand of the instruction: one expansion per round */
    EXPAND(1, 0x01);
    EXPAND(2, 0x02);
    EXPAND(3, 0x04);
    EXPAND(4, 0x08);
    EXPAND(5, 0x10);
    EXPAND(6, 0x20);
    EXPAND(7, 0x40);
    EXPAND(8, 0x80);
    EXPAND(9, 0x1B);
    EXPAND(10, 0x36);
#undef EXPAND
}

/* `n` (a constant once inlined) counter blocks through the ten rounds, side by side */
static inline __attribute__((always_inline)) AESNI void aesni_blocks(const __m128i *rk, __m128i *b, int n)
{
#pragma GCC unroll 8
    for (int i = 0; i < n; i++)
        b[i] = _mm_xor_si128(b[i], rk[0]);
    for (int r = 1; r < 10; r++) {
#pragma GCC unroll 8
        for (int i = 0; i < n; i++)
            b[i] = _mm_aesenc_si128(b[i], rk[r]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < n; i++)
        b[i] = _mm_aesenclast_si128(b[i], rk[10]);
}

static AESNI void aesni_ctr(const keys *k, uint64_t hi, uint64_t lo, uint8_t *data, size_t length)
{
    const __m128i *rk = (const __m128i *)k->round_keys;
    const long long top = (long long)htobe64(hi);
    uint64_t counter = 0;
    __m128i b[8];
    while (length >= 8 * BLOCK) {
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
            b[i] = _mm_set_epi64x((long long)htobe64(lo | counter++), top);
        aesni_blocks(rk, b, 8);
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            __m128i *p = (__m128i *)(data + i * BLOCK);
            _mm_storeu_si128(p, _mm_xor_si128(_mm_loadu_si128(p), b[i]));
        }
        data += 8 * BLOCK;
        length -= 8 * BLOCK;
    }
    while (length > 0) {
        uint8_t stream[4 * BLOCK];
        size_t n = length < sizeof stream ? length : sizeof stream, i = 0;
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            b[j] = _mm_set_epi64x((long long)htobe64(lo | counter++), top);
        aesni_blocks(rk, b, 4);
        for (; i + BLOCK <= n; i += BLOCK) {
            __m128i *p = (__m128i *)(data + i);
            _mm_storeu_si128(p, _mm_xor_si128(_mm_loadu_si128(p), b[i / BLOCK]));
        }
        if (i < n) {
            _mm_storeu_si128((__m128i *)stream, b[i / BLOCK]);
            for (size_t j = 0; i + j < n; j++)
                data[i + j] ^= stream[j];
        }
        data += n;
        length -= n;
    }
}
#endif

/* data ^= AES-CM keystream for (ssrc, index); length < MAX_CRYPT */
static int cm_crypt(const keys *k, uint32_t ssrc, uint64_t index, uint8_t *data, size_t length)
{
    uint8_t stream[CHUNK];
    const uint64_t hi = htobe64(k->salt_hi ^ ssrc), lo = k->salt_lo ^ (index << 16);
    uint64_t counter = 0;
#if HAVE_AESNI
    if (k->ecb == NULL) {
        aesni_ctr(k, k->salt_hi ^ ssrc, lo, data, length);
        return MEDIA_SRTP_OK;
    }
#endif
    while (length > 0) {
        size_t n = length < CHUNK ? length : CHUNK, blocks = (n + BLOCK - 1) / BLOCK, i;
        int out;
        for (i = 0; i < blocks; i++) {
            uint64_t low = htobe64(lo | counter++);
            memcpy(stream + i * BLOCK, &hi, 8);
            memcpy(stream + i * BLOCK + 8, &low, 8);
        }
        if (EVP_EncryptUpdate(k->ecb, stream, &out, stream, (int)(blocks * BLOCK)) != 1)
            return MEDIA_SRTP_E_LIBRARY;
        for (i = 0; i + 8 <= n; i += 8) {
            uint64_t a, b;
            memcpy(&a, data + i, 8);
            memcpy(&b, stream + i, 8);
            a ^= b;
            memcpy(data + i, &a, 8);
        }
        for (; i < n; i++)
            data[i] ^= stream[i];
        data += n;
        length -= n;
    }
    return MEDIA_SRTP_OK;
}

/* a SHA-1 context that has hashed one block (an HMAC pad) leaving chaining values h */
static inline void sha1_resume(SHA_CTX *ctx, const uint32_t h[5])
{
    ctx->h0 = h[0];
    ctx->h1 = h[1];
    ctx->h2 = h[2];
    ctx->h3 = h[3];
    ctx->h4 = h[4];
    ctx->Nl = 8 * SHA_CBLOCK;
    ctx->Nh = 0;
    ctx->num = 0;
}

static void sha1_pad_state(uint32_t h[5], const uint8_t pad[SHA_CBLOCK])
{
    SHA_CTX ctx;
    SHA1_Init(&ctx);
    SHA1_Update(&ctx, pad, SHA_CBLOCK);
    h[0] = ctx.h0;
    h[1] = ctx.h1;
    h[2] = ctx.h2;
    h[3] = ctx.h3;
    h[4] = ctx.h4;
    OPENSSL_cleanse(&ctx, sizeof ctx);
}

static inline void sha1_digest(const SHA_CTX *ctx, uint8_t digest[SHA_DIGEST_LENGTH])
{
    put32(digest, ctx->h0);
    put32(digest + 4, ctx->h1);
    put32(digest + 8, ctx->h2);
    put32(digest + 12, ctx->h3);
    put32(digest + 16, ctx->h4);
}

/* HMAC-SHA1 (RFC 2104) of data. SHA-1's padding (FIPS 180-4 §5.1.1) is written here and every
 * SHA1_Update gets whole blocks, which libcrypto hashes straight from the buffer: no SHA1_Final,
 * whose copies and wiping of the context cost as much as a tenth of a packet. */
static void hmac(const keys *k, const uint8_t *data, size_t length, uint8_t digest[SHA_DIGEST_LENGTH])
{
    uint8_t tail[2 * SHA_CBLOCK];
    size_t whole = length / SHA_CBLOCK * SHA_CBLOCK, rest = length - whole;
    size_t padded = rest + 9 <= SHA_CBLOCK ? SHA_CBLOCK : 2 * SHA_CBLOCK;
    uint64_t bits = htobe64((uint64_t)(SHA_CBLOCK + length) * 8); /* the pad block counts */
    SHA_CTX ctx;

    sha1_resume(&ctx, k->inner);
    if (whole > 0)
        SHA1_Update(&ctx, data, whole);
    memcpy(tail, data + whole, rest);
    tail[rest] = 0x80;
    memset(tail + rest + 1, 0, padded - rest - 9);
    memcpy(tail + padded - 8, &bits, 8);
    SHA1_Update(&ctx, tail, padded);

    /* the outer hash: one block, the inner digest and its padding */
    sha1_digest(&ctx, tail);
    tail[SHA_DIGEST_LENGTH] = 0x80;
    memset(tail + SHA_DIGEST_LENGTH + 1, 0, SHA_CBLOCK - SHA_DIGEST_LENGTH - 9);
    bits = htobe64((uint64_t)(SHA_CBLOCK + SHA_DIGEST_LENGTH) * 8);
    memcpy(tail + SHA_CBLOCK - 8, &bits, 8);
    sha1_resume(&ctx, k->outer);
    SHA1_Update(&ctx, tail, SHA_CBLOCK);
    sha1_digest(&ctx, digest);
}

/* RFC 3711 §4.3.1/§4.3.3 with key derivation rate 0: `length` (≤ 32) octets for `label` */
static int derive(EVP_CIPHER_CTX *prf, const uint8_t salt[SRTP_CM_SALT_LENGTH], int label, uint8_t *out,
                  size_t length)
{
    uint8_t blocks[2 * BLOCK];
    size_t count = (length + BLOCK - 1) / BLOCK;
    int n, ok;
    for (size_t b = 0; b < count; b++) {
        memcpy(blocks + b * BLOCK, salt, SRTP_CM_SALT_LENGTH);
        blocks[b * BLOCK + 7] ^= (uint8_t)label;
        blocks[b * BLOCK + 14] = 0;
        blocks[b * BLOCK + 15] = (uint8_t)b;
    }
    ok = EVP_EncryptUpdate(prf, blocks, &n, blocks, (int)(count * BLOCK)) == 1;
    memcpy(out, blocks, length);
    OPENSSL_cleanse(blocks, sizeof blocks);
    return ok ? MEDIA_SRTP_OK : MEDIA_SRTP_E_LIBRARY;
}

static int make_keys(keys *k, EVP_CIPHER_CTX *prf, const uint8_t salt[SRTP_CM_SALT_LENGTH], int rtcp)
{
    uint8_t cipher_key[SRTP_CM_KEY_LENGTH], auth_key[SHA_DIGEST_LENGTH], session_salt[16], pad[SHA_CBLOCK];
    int base = rtcp ? 3 : 0, status;
    uint64_t half;

    memset(session_salt, 0, sizeof session_salt);
    status = derive(prf, salt, base, cipher_key, sizeof cipher_key);
    if (status == MEDIA_SRTP_OK)
        status = derive(prf, salt, base + 1, auth_key, sizeof auth_key);
    if (status == MEDIA_SRTP_OK)
        status = derive(prf, salt, base + 2, session_salt, SRTP_CM_SALT_LENGTH);
#if HAVE_AESNI
    if (status == MEDIA_SRTP_OK && use_aesni)
        aesni_expand(k, cipher_key);
    else
#endif
    if (status == MEDIA_SRTP_OK && (k->ecb = new_ecb(cipher_key)) == NULL)
        status = MEDIA_SRTP_E_NO_MEMORY;
    if (status == MEDIA_SRTP_OK) {
        memcpy(&half, session_salt, 8);
        k->salt_hi = be64toh(half);
        memcpy(&half, session_salt + 8, 8); /* octets 14 and 15 are zero: the block counter */
        k->salt_lo = be64toh(half);
        memset(pad, 0x36, sizeof pad);
        for (size_t i = 0; i < sizeof auth_key; i++)
            pad[i] ^= auth_key[i];
        sha1_pad_state(k->inner, pad);
        for (size_t i = 0; i < sizeof pad; i++)
            pad[i] ^= 0x36 ^ 0x5c;
        sha1_pad_state(k->outer, pad);
    }
    OPENSSL_cleanse(cipher_key, sizeof cipher_key);
    OPENSSL_cleanse(auth_key, sizeof auth_key);
    OPENSSL_cleanse(session_salt, sizeof session_salt);
    OPENSSL_cleanse(pad, sizeof pad);
    return status;
}

/* ---- per-SSRC state --------------------------------------------------------------------------- */

typedef struct source {
    uint64_t stamp;                    /* last use, for LRU; 0: a free slot */
    uint64_t index;                    /* RTP: the highest packet index (ROC << 16 | SEQ) */
    uint64_t window[RTP_WINDOW_WORDS]; /* RTP: bit k set = index - k seen */
    uint64_t rtcp_window[2];           /* inbound SRTCP: bit i set = rtcp_start + i seen */
    uint32_t rtcp_start;               /* inbound: the SRTCP window's start; outbound: last index sent */
    uint32_t ssrc;
} source;

/* laid out for the RTP path: its keys, then these fields, then the first source (the usual one) */
struct srtp_cm {
    keys rtp;
    int outbound;
    unsigned rtp_tag;
    unsigned last; /* slot of the source used last: the usual hit */
    uint64_t clock;
    source sources[SRTP_CM_SOURCES];
    keys rtcp;
};

#define CACHE_LINE 64
#define HOT_LINES ((offsetof(srtp_cm_t, sources) + 2 * sizeof(source) + CACHE_LINE - 1) / CACHE_LINE)

static inline void prefetch(const srtp_cm_t *c)
{
    for (size_t i = 0; i < HOT_LINES; i++)
        __builtin_prefetch((const char *)c + i * CACHE_LINE);
}

static source *find(srtp_cm_t *c, uint32_t ssrc)
{
    source *s = &c->sources[c->last];
    if (s->stamp != 0 && s->ssrc == ssrc)
        return s;
    for (unsigned i = 0; i < SRTP_CM_SOURCES; i++) {
        s = &c->sources[i];
        if (s->stamp != 0 && s->ssrc == ssrc) {
            c->last = i;
            return s;
        }
    }
    return NULL;
}

/* a slot for a new source: a free one, else (evict) the least recently used, else NULL */
static source *slot_for(srtp_cm_t *c, int evict)
{
    unsigned best = 0;
    for (unsigned i = 0; i < SRTP_CM_SOURCES; i++) {
        if (c->sources[i].stamp == 0) {
            best = i;
            goto found;
        }
        if (c->sources[i].stamp < c->sources[best].stamp)
            best = i;
    }
    if (!evict)
        return NULL;
found:
    c->last = best;
    return &c->sources[best];
}

/* outbound: the source of `ssrc`, a free slot taken for it if it is new; NULL when all are taken */
static source *sending_source(srtp_cm_t *c, uint32_t ssrc)
{
    source *s = find(c, ssrc);
    if (s == NULL && (s = slot_for(c, 0)) != NULL) {
        memset(s, 0, sizeof *s);
        s->ssrc = ssrc;
        s->stamp = ++c->clock;
    }
    return s;
}

/* inbound: the source of `ssrc`, or `fresh` set up for it; a slot is only given to a new source
 * once one of its packets has passed the MAC (keep_source) */
static source *receiving_source(srtp_cm_t *c, uint32_t ssrc, source *fresh)
{
    source *s = find(c, ssrc);
    if (s == NULL) {
        memset(fresh, 0, sizeof *fresh);
        fresh->ssrc = ssrc;
        s = fresh;
    }
    return s;
}

static source *keep_source(srtp_cm_t *c, source *s, const source *fresh)
{
    if (s == fresh) {
        s = slot_for(c, 1);
        *s = *fresh;
    }
    return s;
}

/* The index of a packet with sequence number `seq`, and its distance from the highest one, as
 * libsrtp estimates them (RFC 3711 §3.3.1; ROC 0 while the highest index is at most 2^15). */
static uint64_t estimate(uint64_t local, uint16_t seq, int64_t *delta)
{
    uint64_t roc = local >> 16;
    int64_t local_seq = (int64_t)(local & 0xFFFF);
    if (local <= 0x8000) {
        *delta = (int64_t)seq - (int64_t)local;
        return seq;
    }
    if (local_seq < 0x8000 && (int64_t)seq - local_seq > 0x8000) {
        *delta = (int64_t)seq - local_seq - 0x10000;
        roc -= 1;
    } else if (local_seq >= 0x8000 && local_seq - 0x8000 > (int64_t)seq) {
        *delta = (int64_t)seq - local_seq + 0x10000;
        roc += 1;
    } else {
        *delta = (int64_t)seq - local_seq;
    }
    return roc << 16 | seq;
}

static int rtp_check(const source *s, int64_t delta)
{
    uint64_t k;
    if (delta > 0)
        return MEDIA_SRTP_OK;
    k = (uint64_t)-delta;
    if (k >= MEDIA_SRTP_REPLAY_WINDOW || (s->window[k / 64] >> (k % 64)) & 1)
        return MEDIA_SRTP_E_REPLAY;
    return MEDIA_SRTP_OK;
}

static void rtp_add(source *s, int64_t delta)
{
    if (delta > 0) {
        uint64_t d = (uint64_t)delta, words = d / 64;
        unsigned bits = (unsigned)(d % 64);
        for (int i = RTP_WINDOW_WORDS - 1; i >= 0; i--) {
            uint64_t v = 0;
            if ((uint64_t)i >= words && d < MEDIA_SRTP_REPLAY_WINDOW) {
                v = s->window[i - words] << bits;
                if (bits != 0 && (uint64_t)i > words)
                    v |= s->window[i - words - 1] >> (64 - bits);
            }
            s->window[i] = v;
        }
        s->window[0] |= 1;
        s->index += d;
    } else {
        uint64_t k = (uint64_t)-delta;
        s->window[k / 64] |= UINT64_C(1) << (k % 64);
    }
}

/* inbound SRTCP, as libsrtp: the window is [rtcp_start, rtcp_start + 128) */
static int rtcp_check(const source *s, uint32_t index)
{
    uint32_t d;
    if ((uint64_t)index >= (uint64_t)s->rtcp_start + RTCP_WINDOW)
        return MEDIA_SRTP_OK;
    if (index < s->rtcp_start)
        return MEDIA_SRTP_E_REPLAY;
    d = index - s->rtcp_start;
    return (s->rtcp_window[d / 64] >> (d % 64)) & 1 ? MEDIA_SRTP_E_REPLAY : MEDIA_SRTP_OK;
}

static void rtcp_add(source *s, uint32_t index)
{
    uint32_t d = index - s->rtcp_start;
    if (d >= RTCP_WINDOW) {
        uint32_t shift = d - (RTCP_WINDOW - 1);
        if (shift >= RTCP_WINDOW) {
            s->rtcp_window[0] = s->rtcp_window[1] = 0;
        } else if (shift >= 64) {
            s->rtcp_window[0] = s->rtcp_window[1] >> (shift - 64);
            s->rtcp_window[1] = 0;
        } else if (shift > 0) {
            s->rtcp_window[0] = s->rtcp_window[0] >> shift | s->rtcp_window[1] << (64 - shift);
            s->rtcp_window[1] >>= shift;
        }
        s->rtcp_start += shift;
        d = RTCP_WINDOW - 1;
    }
    s->rtcp_window[d / 64] |= UINT64_C(1) << (d % 64);
}

/* ---- contexts --------------------------------------------------------------------------------- */

int srtp_cm_create(srtp_cm_t **out, int outbound, unsigned rtp_tag_length, const uint8_t key[SRTP_CM_KEY_LENGTH],
                   const uint8_t salt[SRTP_CM_SALT_LENGTH])
{
    srtp_cm_t *c;
    EVP_CIPHER_CTX *prf;
    int status;
    if (out == NULL || key == NULL || salt == NULL || (rtp_tag_length != 4 && rtp_tag_length != 10))
        return MEDIA_SRTP_E_ARGUMENT;
    *out = NULL;
    if (!srtp_cm_available())
        return MEDIA_SRTP_E_UNSUPPORTED;
    if ((c = aligned_alloc(CACHE_LINE, (sizeof *c + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE)) == NULL)
        return MEDIA_SRTP_E_NO_MEMORY;
    memset(c, 0, sizeof *c);
    c->outbound = outbound != 0;
    c->rtp_tag = rtp_tag_length;
    if ((prf = new_ecb(key)) == NULL) {
        free(c);
        return MEDIA_SRTP_E_NO_MEMORY;
    }
    status = make_keys(&c->rtp, prf, salt, 0);
    if (status == MEDIA_SRTP_OK)
        status = make_keys(&c->rtcp, prf, salt, 1);
    EVP_CIPHER_CTX_free(prf);
    if (status != MEDIA_SRTP_OK) {
        srtp_cm_destroy(c);
        return status;
    }
    *out = c;
    return MEDIA_SRTP_OK;
}

void srtp_cm_destroy(srtp_cm_t *c)
{
    if (c == NULL)
        return;
    EVP_CIPHER_CTX_free(c->rtp.ecb);
    EVP_CIPHER_CTX_free(c->rtcp.ecb);
    OPENSSL_cleanse(c, sizeof *c);
    free(c);
}

/* the RTP header's length (fixed part, CSRCs, extension), or 0 if it does not fit in `length` */
static size_t rtp_header_length(const uint8_t *p, size_t length)
{
    size_t header = 12 + 4 * (size_t)(p[0] & 0x0F);
    if (length < 12 || (p[0] >> 6) != 2 || header > length)
        return 0;
    if (p[0] & 0x10) {
        if (header + 4 > length)
            return 0;
        header += 4 + 4 * (size_t)(p[header + 2] << 8 | p[header + 3]);
        if (header > length)
            return 0;
    }
    return header;
}

/* ---- the packet path ------------------------------------------------------------------------ */

int srtp_cm_protect_rtp(srtp_cm_t *c, uint8_t *p, size_t length, size_t capacity)
{
    uint8_t digest[SHA_DIGEST_LENGTH];
    size_t header;
    uint32_t ssrc;
    uint64_t index;
    int64_t delta;
    source *s;
    int status;

    if (c == NULL || p == NULL || !c->outbound)
        return MEDIA_SRTP_E_ARGUMENT;
    prefetch(c);
    if ((header = rtp_header_length(p, length)) == 0 || length - header >= MAX_CRYPT)
        return MEDIA_SRTP_E_MALFORMED;
    if (capacity < length + c->rtp_tag || length > INT_MAX - 16)
        return MEDIA_SRTP_E_SPACE;
    ssrc = get32(p + 8);
    if ((s = sending_source(c, ssrc)) == NULL)
        return MEDIA_SRTP_E_SOURCES;
    index = estimate(s->index, (uint16_t)(p[2] << 8 | p[3]), &delta);
    if (index > MAX_INDEX)
        return MEDIA_SRTP_E_KEY_EXPIRED;
    if ((status = rtp_check(s, delta)) < 0) /* never the same index twice under one key */
        return status;
    if ((status = cm_crypt(&c->rtp, ssrc, index, p + header, length - header)) < 0)
        return status;
    rtp_add(s, delta);
    s->stamp = ++c->clock;
    put32(p + length, (uint32_t)(index >> 16)); /* the ROC, authenticated but not sent */
    hmac(&c->rtp, p, length + 4, digest);
    memcpy(p + length, digest, c->rtp_tag);
    return (int)(length + c->rtp_tag);
}

int srtp_cm_unprotect_rtp(srtp_cm_t *c, uint8_t *p, size_t length)
{
    uint8_t digest[SHA_DIGEST_LENGTH], tag[RTCP_TAG];
    size_t header, body;
    uint32_t ssrc;
    uint64_t index;
    int64_t delta;
    source fresh, *s;
    int status;

    if (c == NULL || p == NULL || c->outbound)
        return MEDIA_SRTP_E_ARGUMENT;
    prefetch(c);
    if (length < 12 + c->rtp_tag || length > INT_MAX)
        return MEDIA_SRTP_E_MALFORMED;
    body = length - c->rtp_tag;
    if ((header = rtp_header_length(p, body)) == 0 || body - header >= MAX_CRYPT)
        return MEDIA_SRTP_E_MALFORMED;
    ssrc = get32(p + 8);
    s = receiving_source(c, ssrc, &fresh);
    index = estimate(s->index, (uint16_t)(p[2] << 8 | p[3]), &delta);
    if (index > MAX_INDEX)
        return MEDIA_SRTP_E_KEY_EXPIRED;
    if ((status = rtp_check(s, delta)) < 0)
        return status;
    /* the tag gives way to the ROC while the MAC runs, then comes back */
    memcpy(tag, p + body, c->rtp_tag);
    put32(p + body, (uint32_t)(index >> 16));
    hmac(&c->rtp, p, body + 4, digest);
    memcpy(p + body, tag, c->rtp_tag);
    if (tags_differ(digest, tag, c->rtp_tag))
        return MEDIA_SRTP_E_AUTH;
    if ((status = cm_crypt(&c->rtp, ssrc, index, p + header, body - header)) < 0)
        return status;
    s = keep_source(c, s, &fresh);
    rtp_add(s, delta);
    s->stamp = ++c->clock;
    return (int)body;
}

int srtp_cm_protect_rtcp(srtp_cm_t *c, uint8_t *p, size_t length, size_t capacity)
{
    uint8_t digest[SHA_DIGEST_LENGTH];
    uint32_t ssrc, index;
    source *s;
    int status;

    if (c == NULL || p == NULL || !c->outbound)
        return MEDIA_SRTP_E_ARGUMENT;
    prefetch(c);
    if (length < 8 || (p[0] >> 6) != 2 || length - 8 >= MAX_CRYPT)
        return MEDIA_SRTP_E_MALFORMED;
    if (capacity < length + RTCP_TRAILER + RTCP_TAG || length > INT_MAX - 32)
        return MEDIA_SRTP_E_SPACE;
    ssrc = get32(p + 4);
    if ((s = sending_source(c, ssrc)) == NULL)
        return MEDIA_SRTP_E_SOURCES;
    s->stamp = ++c->clock;
    if (s->rtcp_start >= MAX_RTCP_INDEX)
        return MEDIA_SRTP_E_KEY_EXPIRED;
    index = s->rtcp_start + 1; /* the first SRTCP index is 1, as libsrtp sends */
    if ((status = cm_crypt(&c->rtcp, ssrc, index, p + 8, length - 8)) < 0)
        return status;
    s->rtcp_start = index;
    put32(p + length, 0x80000000u | index);
    hmac(&c->rtcp, p, length + RTCP_TRAILER, digest);
    memcpy(p + length + RTCP_TRAILER, digest, RTCP_TAG);
    return (int)(length + RTCP_TRAILER + RTCP_TAG);
}

int srtp_cm_unprotect_rtcp(srtp_cm_t *c, uint8_t *p, size_t length)
{
    uint8_t digest[SHA_DIGEST_LENGTH];
    size_t body;
    uint32_t ssrc, trailer, index;
    source fresh, *s;
    int status;

    if (c == NULL || p == NULL || c->outbound)
        return MEDIA_SRTP_E_ARGUMENT;
    prefetch(c);
    if (length < 8 + RTCP_TRAILER + RTCP_TAG || length > INT_MAX || (p[0] >> 6) != 2)
        return MEDIA_SRTP_E_MALFORMED;
    body = length - RTCP_TRAILER - RTCP_TAG;
    if (body - 8 >= MAX_CRYPT)
        return MEDIA_SRTP_E_MALFORMED;
    ssrc = get32(p + 4);
    trailer = get32(p + body);
    index = trailer & MAX_RTCP_INDEX;
    if (!(trailer & 0x80000000u)) /* the E flag: we keyed for encrypted SRTCP, as libsrtp refuses too */
        return MEDIA_SRTP_E_MALFORMED;
    s = receiving_source(c, ssrc, &fresh);
    if ((status = rtcp_check(s, index)) < 0)
        return status;
    hmac(&c->rtcp, p, body + RTCP_TRAILER, digest);
    if (tags_differ(digest, p + body + RTCP_TRAILER, RTCP_TAG))
        return MEDIA_SRTP_E_AUTH;
    if ((status = cm_crypt(&c->rtcp, ssrc, index, p + 8, body - 8)) < 0)
        return status;
    s = keep_source(c, s, &fresh);
    rtcp_add(s, index);
    s->stamp = ++c->clock;
    return (int)body;
}

#pragma GCC diagnostic pop
