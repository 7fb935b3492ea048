/* Comfort noise (RFC 3389): see cn.h. */
#include "cn.h"

#include <math.h>
#include <string.h>

#define LEVEL_FLOOR (-127.0)

double cn_level_db(const int16_t *pcm, size_t n)
{
    double energy = 0.0;
    size_t i;

    if (n == 0)
        return LEVEL_FLOOR;
    for (i = 0; i < n; i++)
        energy += (double)pcm[i] * pcm[i];
    energy /= (double)n;
    if (energy <= 0.0)
        return LEVEL_FLOOR;
    double db = 10.0 * log10(energy / (CN_FULL_SCALE * CN_FULL_SCALE));
    return db < LEVEL_FLOOR ? LEVEL_FLOOR : db;
}

uint8_t cn_level_byte(double db)
{
    double level = floor(-db + 0.5);
    if (level < 0.0)
        return 0;
    if (level > CN_LEVEL_SILENCE)
        return CN_LEVEL_SILENCE;
    return (uint8_t)level;
}

double cn_level_rms(uint8_t level)
{
    if ((level & 0x7f) >= CN_LEVEL_SILENCE)
        return 0.0;
    return CN_FULL_SCALE * pow(10.0, -(double)(level & 0x7f) / 20.0);
}

int cn_parse(const uint8_t *payload, size_t length, cn_params_t *out)
{
    unsigned i;

    memset(out, 0, sizeof *out);
    if (payload == NULL || length == 0)
        return -1;
    out->level = payload[0] & 0x7f;
    out->order = length - 1 > CN_MAX_ORDER ? CN_MAX_ORDER : (unsigned)(length - 1);
    for (i = 0; i < out->order; i++)
        out->k[i] = ((double)payload[1 + i] - 127.0) / 128.0;
    return 0;
}

size_t cn_write(uint8_t *out, size_t cap, uint8_t level)
{
    if (cap == 0)
        return 0;
    out[0] = level & 0x7f;
    return 1;
}

void cn_generator_init(cn_generator_t *g, uint64_t seed)
{
    memset(g, 0, sizeof *g);
    g->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
    g->level = CN_LEVEL_SILENCE;
}

void cn_generator_set(cn_generator_t *g, const cn_params_t *p)
{
    double a[CN_MAX_ORDER + 1] = {0}, previous[CN_MAX_ORDER + 1];
    double power_ratio = 1.0;
    unsigned m, i;

    /* step-up recursion: a_m = k_m, a_i += k_m * a_(m-i) */
    for (m = 1; m <= p->order; m++) {
        double k = p->k[m - 1];
        memcpy(previous, a, sizeof a);
        for (i = 1; i < m; i++)
            a[i] = previous[i] + k * previous[m - i];
        a[m] = k;
        power_ratio *= 1.0 - k * k;
    }
    if (p->order != g->order)
        memset(g->history, 0, sizeof g->history);
    memcpy(g->a, a, sizeof a);
    g->order = p->order;
    g->level = p->level;
    /* a uniform variable on [-1, 1) has a variance of 1/3 */
    g->gain = cn_level_rms(p->level) * sqrt(power_ratio * 3.0);
}

/* uniform on [-1, 1): the same 53 bits as cn_random_unit, scaled (exactly: powers of two) */
static double uniform(cn_generator_t *g)
{
    return 2.0 * cn_random_unit(&g->rng) - 1.0;
}

void cn_generate(cn_generator_t *g, int16_t *pcm, size_t n)
{
    size_t i;
    unsigned j;

    if (g->gain <= 0.0) {
        memset(pcm, 0, n * sizeof *pcm);
        return;
    }
    for (i = 0; i < n; i++) {
        double y = g->gain * uniform(g);
        for (j = 0; j < g->order; j++)
            y -= g->a[j + 1] * g->history[j];
        if (g->order) {
            memmove(g->history + 1, g->history, (g->order - 1) * sizeof *g->history);
            g->history[0] = y;
        }
        double r = floor(y + 0.5);
        pcm[i] = (int16_t)(r > 32767.0 ? 32767 : r < -32768.0 ? -32768 : r);
    }
}

void cn_vad_init(cn_vad_t *v, unsigned packet_ms)
{
    memset(v, 0, sizeof *v);
    if (packet_ms == 0)
        packet_ms = 20;
    v->block_packets = (CN_VAD_BLOCK_MS + packet_ms - 1) / packet_ms;
    v->hangover = (CN_HANGOVER_MS + packet_ms - 1) / packet_ms;
    v->current = 0.0;
}

int cn_vad_update(cn_vad_t *v, double level_db)
{
    unsigned i;

    if (v->in_block == 0 || level_db < v->current)
        v->current = level_db;
    v->floor = v->current;
    for (i = 0; i < v->filled; i++)
        if (v->blocks[i] < v->floor)
            v->floor = v->blocks[i];
    if (++v->in_block == v->block_packets) {
        v->blocks[v->next] = v->current;
        v->next = (v->next + 1) % CN_VAD_BLOCKS;
        if (v->filled < CN_VAD_BLOCKS)
            v->filled++;
        v->in_block = 0;
    }
    if (level_db > v->floor + CN_SPEECH_MARGIN || level_db > CN_SPEECH_ALWAYS) {
        v->hang_left = v->hangover;
        v->speech = 1;
    } else if (v->hang_left > 0) {
        v->hang_left--;
        v->speech = 1;
    } else {
        v->speech = 0;
    }
    return v->speech;
}
