/*
 * tick_batch.c - running the codec work collected during a mixer tick (see tick_batch.h).
 */
#include "tick_batch.h"

#include <stdlib.h>
#include <string.h>

int tick_batch_init(tick_batch_t *batch, size_t capacity)
{
    memset(batch, 0, sizeof *batch);
    batch->decode = calloc(capacity ? capacity : 1, sizeof *batch->decode);
    batch->encode = calloc(capacity ? capacity : 1, sizeof *batch->encode);
    batch->decode_done = calloc(capacity ? capacity : 1, sizeof *batch->decode_done);
    batch->encode_done = calloc(capacity ? capacity : 1, sizeof *batch->encode_done);
    if (!batch->decode || !batch->encode || !batch->decode_done || !batch->encode_done) {
        tick_batch_free(batch);
        return -1;
    }
    batch->capacity = capacity;
    return 0;
}

void tick_batch_free(tick_batch_t *batch)
{
    free(batch->decode);
    free(batch->encode);
    free(batch->decode_done);
    free(batch->encode_done);
    memset(batch, 0, sizeof *batch);
}

/* The codec layer may reorder the jobs (it groups them by codec): results go back to the entries
 * by `user`, and the owners hear of them in the order they queued. The count is reset before the
 * `done` calls, which must not queue again. */
static void finish(tick_batch_entry_t *entries, size_t count)
{
    for (size_t i = 0; i < count; i++)
        entries[i].done(entries[i].owner, entries[i].result);
}

size_t tick_batch_run_decodes(tick_batch_t *batch)
{
    size_t count = batch->n_decode;
    if (count == 0)
        return 0;
    media_codec_decode_batch(batch->decode, count);
    for (size_t i = 0; i < count; i++)
        batch->decode_done[(uintptr_t)batch->decode[i].user].result = batch->decode[i].result;
    batch->n_decode = 0;
    finish(batch->decode_done, count);
    return count;
}

size_t tick_batch_run_encodes(tick_batch_t *batch)
{
    size_t count = batch->n_encode;
    if (count == 0)
        return 0;
    media_codec_encode_batch(batch->encode, count);
    for (size_t i = 0; i < count; i++)
        batch->encode_done[(uintptr_t)batch->encode[i].user].result = batch->encode[i].result;
    batch->n_encode = 0;
    finish(batch->encode_done, count);
    return count;
}
