/*
 * codec_batch.c - media_codec_encode_batch() / media_codec_decode_batch() (codec.h): only calls
 * through the codec tables, so that the mixer's extension, which runs its ports' batches
 * (tick_batch.c), can link this file without the codecs themselves.
 */
#include "codec.h"

/* Batches: the jobs of one codec are gathered at the front of what is left (swapping), handed to
 * its batch entry in one call, and the rest is done the same way; codecs without a batch form
 * get one call per job. A job without a state gets MEDIA_CODEC_EINVAL. */
#define GATHER(type, jobs, count, start, codec)                                                    \
    do {                                                                                           \
        size_t end_ = (start) + 1;                                                                 \
        for (size_t j_ = end_; j_ < (count); j_++) {                                               \
            if ((jobs)[j_].state != NULL && (jobs)[j_].state->codec == (codec)) {                  \
                type swap_ = (jobs)[end_];                                                         \
                (jobs)[end_++] = (jobs)[j_];                                                       \
                (jobs)[j_] = swap_;                                                                \
            }                                                                                      \
        }                                                                                          \
        run = end_ - (start);                                                                      \
    } while (0)

void media_codec_encode_batch(media_codec_encode_job *jobs, size_t count)
{
    size_t i = 0, run;
    while (i < count) {
        media_codec_encode_job *job = &jobs[i];
        if (job->state == NULL) {
            job->result = MEDIA_CODEC_EINVAL;
            i++;
        } else if (job->state->codec->encode_batch == NULL) {
            job->result = media_codec_encode(job->state, job->pcm, job->n, job->out, job->cap);
            i++;
        } else {
            const media_codec *codec = job->state->codec;
            GATHER(media_codec_encode_job, jobs, count, i, codec);
            codec->encode_batch(jobs + i, run);
            i += run;
        }
    }
}

void media_codec_decode_batch(media_codec_decode_job *jobs, size_t count)
{
    size_t i = 0, run;
    while (i < count) {
        media_codec_decode_job *job = &jobs[i];
        if (job->state == NULL) {
            job->result = MEDIA_CODEC_EINVAL;
            i++;
        } else if (job->state->codec->decode_batch == NULL) {
            job->result = media_codec_decode(job->state, job->payload, job->len, job->pcm, job->cap);
            i++;
        } else {
            const media_codec *codec = job->state->codec;
            GATHER(media_codec_decode_job, jobs, count, i, codec);
            codec->decode_batch(jobs + i, run);
            i += run;
        }
    }
}
