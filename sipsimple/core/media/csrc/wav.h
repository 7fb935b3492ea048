/*
 * wav.h - RIFF/WAVE files with 16-bit PCM, mono or stereo: a reader and an atomic writer.
 *
 * Reader: accepts WAVE_FORMAT_PCM (1) and WAVE_FORMAT_EXTENSIBLE (0xFFFE) with the PCM sub-format,
 * 16 bits per sample, 1 or 2 channels, 8000..192000 Hz. Chunks other than "fmt " and "data" are
 * skipped (with their pad byte). A "data" size larger than the file (or 0xFFFFFFFF, as streaming
 * writers leave it) is cut to what the file holds. Anything else is refused with a WAV_E* code that
 * wav_strerror() turns into a sentence.
 *
 * Writer: writes into a temporary file next to the target ("<path>.tmp<random>") with a canonical
 * 44-byte header; wav_writer_close() fixes the sizes in the header, flushes, syncs and renames it
 * to the target, so the target is either absent/old or complete. wav_writer_abort() removes it.
 *
 * Samples in memory are int16 in host byte order; in the file, little-endian.
 */
#ifndef SIPSIMPLE_MEDIA_WAV_H
#define SIPSIMPLE_MEDIA_WAV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    WAV_OK = 0,
    WAV_EOPEN = -1,       /* the file cannot be opened or created (see saved_errno) */
    WAV_EIO = -2,         /* a read or write failed (see saved_errno) */
    WAV_ENOTRIFF = -3,    /* no RIFF header */
    WAV_ENOTWAVE = -4,    /* a RIFF file of another form than WAVE */
    WAV_ENOFMT = -5,      /* no "fmt " chunk before the data */
    WAV_EFORMAT = -6,     /* not PCM (compressed or float) */
    WAV_EBITS = -7,       /* not 16 bits per sample */
    WAV_ECHANNELS = -8,   /* not 1 or 2 channels */
    WAV_ERATE = -9,       /* sample rate outside 8000..192000 Hz */
    WAV_EBLOCKALIGN = -10, /* block align / byte rate inconsistent with the format */
    WAV_ENODATA = -11,    /* no "data" chunk */
    WAV_ETRUNCATED = -12, /* the file ends inside a header or chunk header */
    WAV_ETOOBIG = -13,    /* the data would exceed the 4 GiB RIFF limit */
    WAV_EFRAME = -14,     /* the sample rate does not divide into whole frames */
    WAV_EFMTSIZE = -15,   /* the "fmt " chunk is too short for its format */
};

#define WAV_MIN_RATE 8000u
#define WAV_MAX_RATE 192000u

const char *wav_strerror(int status);

typedef struct wav_reader {
    FILE *file;
    uint32_t rate;
    uint32_t channels;
    uint64_t data_offset; /* byte offset of the first sample */
    uint64_t frames;      /* sample frames in the data chunk */
    uint64_t position;    /* next frame to read */
    int saved_errno;
} wav_reader_t;

int wav_reader_open(wav_reader_t *reader, const char *path);
/* Reads up to `frames` frames; returns the number read (0 at the end) or WAV_EIO. */
long wav_reader_read(wav_reader_t *reader, int16_t *pcm, size_t frames);
int wav_reader_rewind(wav_reader_t *reader);
void wav_reader_close(wav_reader_t *reader);

typedef struct wav_writer {
    FILE *file;
    char *path;
    char *temp_path;
    uint32_t rate;
    uint32_t channels;
    uint64_t frames;
    int saved_errno;
} wav_writer_t;

int wav_writer_open(wav_writer_t *writer, const char *path, uint32_t rate, uint32_t channels);
int wav_writer_write(wav_writer_t *writer, const int16_t *pcm, size_t frames);
int wav_writer_close(wav_writer_t *writer); /* finishes and renames; the writer is closed either way */
void wav_writer_abort(wav_writer_t *writer); /* removes the temporary file */

#ifdef __cplusplus
}
#endif

#endif
