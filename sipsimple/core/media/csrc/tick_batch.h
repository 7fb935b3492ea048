/*
 * tick_batch.h - codec work that the ports of a mixer hand over during one tick, run together.
 *
 * Some codecs code several streams faster in one pass than one after the other (G.722: four
 * streams in the lanes of one set of vector registers, codec.h encode_batch/decode_batch). A mixer
 * tick asks every source port for a frame and gives every sink port one, stream by stream; a port
 * whose codec has a batch form can instead leave its decode or encode here, with a function to
 * finish the frame or packet once the codec has run. The mixer runs the batch between its phases
 * (mixer.c, media_mixer_tick):
 *
 *   1. every source port's get_frame_batch(): a port may queue a decode into the mixer's buffer
 *      for it, which is then filled only after step 2;
 *   2. tick_batch_run_decodes(): all queued decodes, then each port's `done` in queue order;
 *   3. mixing, then every sink port's put_frame_batch(): a port may queue an encode (of PCM in its
 *      own memory: the frame it was given is the mixer's and changes as soon as it returns);
 *   4. tick_batch_run_encodes(): all queued encodes, then each `done` (which sends the packet).
 *
 * Everything happens on the mixer's thread with the mixer's lock held, so the states and buffers
 * that a job names stay valid until its `done` has run: a port is only freed after it has left
 * the mixer, which waits for the tick. A batch holds at most one job per direction per slot; when
 * it is full, tick_batch_queue_* returns -1 and the port does the work itself, as without a batch.
 */
#ifndef SIPSIMPLE_MEDIA_TICK_BATCH_H
#define SIPSIMPLE_MEDIA_TICK_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called after the job ran with its result (what encode()/decode() returned). */
typedef void (*tick_batch_done_fn)(void *owner, int result);

typedef struct tick_batch_entry {
    tick_batch_done_fn done;
    void *owner;
    int result;
} tick_batch_entry_t;

typedef struct tick_batch {
    size_t capacity; /* jobs per direction */
    size_t n_decode, n_encode;
    media_codec_decode_job *decode;
    media_codec_encode_job *encode;
    tick_batch_entry_t *decode_done, *encode_done; /* by queue position (the jobs' `user`) */
} tick_batch_t;

/* 0, or -1 when out of memory. */
int tick_batch_init(tick_batch_t *batch, size_t capacity);
void tick_batch_free(tick_batch_t *batch);
/* Both return how many jobs ran. */
size_t tick_batch_run_decodes(tick_batch_t *batch);
size_t tick_batch_run_encodes(tick_batch_t *batch);

/* Queue a job (its `result` and `user` are set by the batch); 0, or -1 when the batch is full.
 * Inline: ports live in other extensions than the mixer that owns the batch. */
static inline int tick_batch_queue_decode(tick_batch_t *batch, const media_codec_decode_job *job,
                                          tick_batch_done_fn done, void *owner)
{
    size_t i = batch->n_decode;
    if (i >= batch->capacity)
        return -1;
    batch->decode[i] = *job;
    batch->decode[i].result = 0;
    batch->decode[i].user = (void *)(uintptr_t)i;
    batch->decode_done[i].done = done;
    batch->decode_done[i].owner = owner;
    batch->n_decode = i + 1;
    return 0;
}

static inline int tick_batch_queue_encode(tick_batch_t *batch, const media_codec_encode_job *job,
                                          tick_batch_done_fn done, void *owner)
{
    size_t i = batch->n_encode;
    if (i >= batch->capacity)
        return -1;
    batch->encode[i] = *job;
    batch->encode[i].result = 0;
    batch->encode[i].user = (void *)(uintptr_t)i;
    batch->encode_done[i].done = done;
    batch->encode_done[i].owner = owner;
    batch->n_encode = i + 1;
    return 0;
}

#ifdef __cplusplus
}
#endif

#endif
