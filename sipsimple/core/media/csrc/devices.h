/*
 * devices.h - ports that stand in for sound devices or move audio to and from files and memory.
 *
 *   null port      - source that is always silent, sink that discards (the null sound device);
 *   WAV player     - source reading a 16-bit PCM WAV file (its own rate and channels; the mixer
 *                    converts), looping loop_count times (0 = forever) with pause_ms of silence
 *                    between loops; posts `end_event` once done, MEDIA_EVENT_WAV_ERROR on a read
 *                    error. Used by the core WaveFile and as the file input device;
 *   WAV recorder   - sink writing a WAV file atomically (wav.h); posts MEDIA_EVENT_RECORDER_ERROR
 *                    once when a write fails. Used by RecordingWaveFile and the file output device;
 *   loopback port  - what is put into it on one tick comes out of it on the next (MixerPort);
 *   memory port    - source playing a buffer once or in a loop, sink recording into a bounded
 *                    buffer (tests, tools, benchmarks).
 *
 * All are driven by the mixer's clock thread; the functions other than get/put are for the
 * controlling thread, called while the port is not in a mixer, except where a lock is noted.
 * Events carry `tag` in their second argument (b) so that Python can tell a stale event from one
 * about the current playback.
 */
#ifndef SIPSIMPLE_MEDIA_DEVICES_H
#define SIPSIMPLE_MEDIA_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "port.h"
#include "wav.h"

#ifdef __cplusplus
extern "C" {
#endif

/* -- null --------------------------------------------------------------------------------- */
void media_null_port_init(media_port_t *port, uint32_t clock_rate, uint32_t samples_per_frame);

/* -- WAV player ----------------------------------------------------------------------------- */
typedef struct media_wav_player media_wav_player_t;

/* Returns WAV_OK or a WAV_E* code; *saved_errno is set for WAV_EOPEN/WAV_EIO. */
int media_wav_player_open(const char *path, uint32_t frame_ms, uint32_t loop_count, uint32_t pause_ms,
                          media_wav_player_t **out, int *saved_errno);
void media_wav_player_close(media_wav_player_t *player);
media_port_t *media_wav_player_port(media_wav_player_t *player);
void media_wav_player_set_events(media_wav_player_t *player, media_event_queue_t *queue, uint64_t source,
                                 uint32_t end_event, int64_t tag);
uint64_t media_wav_player_frames(const media_wav_player_t *player); /* frames in the file */

/* -- WAV recorder --------------------------------------------------------------------------- */
typedef struct media_wav_recorder media_wav_recorder_t;

int media_wav_recorder_open(const char *path, uint32_t clock_rate, uint32_t channels, uint32_t frame_ms,
                            media_wav_recorder_t **out, int *saved_errno);
/* Finishes the file (header, fsync, rename) and frees the recorder: WAV_OK or a WAV_E* code. */
int media_wav_recorder_close(media_wav_recorder_t *recorder, int *saved_errno);
media_port_t *media_wav_recorder_port(media_wav_recorder_t *recorder);
void media_wav_recorder_set_events(media_wav_recorder_t *recorder, media_event_queue_t *queue,
                                   uint64_t source, int64_t tag);
uint64_t media_wav_recorder_frames(const media_wav_recorder_t *recorder);

/* -- loopback ------------------------------------------------------------------------------- */
typedef struct media_loopback media_loopback_t;

media_loopback_t *media_loopback_create(uint32_t clock_rate, uint32_t samples_per_frame);
void media_loopback_destroy(media_loopback_t *loopback);
media_port_t *media_loopback_port(media_loopback_t *loopback);

/* -- memory --------------------------------------------------------------------------------- */
typedef struct media_memory_port media_memory_port_t;

/* `play` (play_frames frames, copied) is played once, or forever with `loop`; with play == NULL
 * the port is not a source. With `sink`, up to record_frames frames are kept (the rest are counted
 * as dropped); without, the port is not a sink. */
media_memory_port_t *media_memory_port_create(uint32_t clock_rate, uint32_t channels,
                                              uint32_t samples_per_frame, const int16_t *play,
                                              size_t play_frames, int loop, int sink, size_t record_frames);
void media_memory_port_destroy(media_memory_port_t *port);
media_port_t *media_memory_port_port(media_memory_port_t *port);
/* Locked: safe while the port is in a running mixer. */
size_t media_memory_port_recorded(media_memory_port_t *port); /* frames recorded so far */
/* Copies out up to max_frames recorded frames and forgets them; returns how many. */
size_t media_memory_port_take(media_memory_port_t *port, int16_t *out, size_t max_frames);
size_t media_memory_port_played(media_memory_port_t *port);   /* frames played so far */
uint64_t media_memory_port_dropped(media_memory_port_t *port); /* frames not recorded (full) */

#ifdef __cplusplus
}
#endif

#endif
