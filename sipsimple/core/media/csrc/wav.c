/*
 * wav.c - RIFF/WAVE 16-bit PCM reader and atomic writer (see wav.h).
 */
#define _GNU_SOURCE
#include "wav.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HEADER_SIZE 44u
#define FORMAT_PCM 1u
#define FORMAT_EXTENSIBLE 0xFFFEu
#define IO_BUFFER 65536

const char *wav_strerror(int status)
{
    switch (status) {
    case WAV_OK: return "success";
    case WAV_EOPEN: return "the file cannot be opened";
    case WAV_EIO: return "read or write error";
    case WAV_ENOTRIFF: return "not a RIFF file";
    case WAV_ENOTWAVE: return "a RIFF file but not a WAVE file";
    case WAV_ENOFMT: return "no fmt chunk before the audio data";
    case WAV_EFORMAT: return "the audio is not linear PCM (compressed or floating point)";
    case WAV_EBITS: return "only 16 bits per sample are supported";
    case WAV_ECHANNELS: return "only mono and stereo are supported";
    case WAV_ERATE: return "the sample rate is outside 8000..192000 Hz";
    case WAV_EBLOCKALIGN: return "the block alignment does not match the channels and sample size";
    case WAV_ENODATA: return "no data chunk";
    case WAV_ETRUNCATED: return "the file is truncated inside a header";
    case WAV_ETOOBIG: return "the audio data would exceed the 4 GiB limit of a WAVE file";
    case WAV_EFRAME: return "the sample rate does not divide into whole audio frames";
    case WAV_EFMTSIZE: return "the fmt chunk is too short for its format";
    default: return "unknown WAV error";
    }
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
static void swap16(int16_t *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (int16_t)(((uint16_t)x[i] >> 8) | ((uint16_t)x[i] << 8));
}
#define HOST_IS_BIG_ENDIAN 1
#else
#define HOST_IS_BIG_ENDIAN 0
#endif

/* -- reader ---------------------------------------------------------------------------------- */

static int parse_fmt(wav_reader_t *r, const uint8_t *b, uint32_t size)
{
    uint32_t tag = get16(b), channels = get16(b + 2), rate = get32(b + 4);
    uint32_t block_align = get16(b + 12), bits = get16(b + 14);
    if (tag == FORMAT_EXTENSIBLE) {
        /* cbSize(2) validBits(2) channelMask(4) then the sub-format GUID, whose first two bytes
         * are the format tag. */
        if (size < 40)
            return WAV_EFMTSIZE;
        tag = get16(b + 24);
    }
    if (tag != FORMAT_PCM)
        return WAV_EFORMAT;
    if (bits != 16)
        return WAV_EBITS;
    if (channels < 1 || channels > 2)
        return WAV_ECHANNELS;
    if (rate < WAV_MIN_RATE || rate > WAV_MAX_RATE)
        return WAV_ERATE;
    if (block_align != channels * 2)
        return WAV_EBLOCKALIGN;
    r->rate = rate;
    r->channels = channels;
    return WAV_OK;
}

static int read_header(wav_reader_t *r, uint64_t file_size)
{
    uint8_t b[40];
    uint64_t pos = 12;
    int have_fmt = 0, status;
    size_t n = fread(b, 1, 12, r->file);
    if (n < 4 || memcmp(b, "RIFF", 4) != 0)
        return WAV_ENOTRIFF;
    if (n < 12)
        return WAV_ETRUNCATED;
    if (memcmp(b + 8, "WAVE", 4) != 0)
        return WAV_ENOTWAVE;
    for (;;) {
        uint32_t size;
        uint64_t skip;
        n = fread(b, 1, 8, r->file);
        if (n == 0)
            return have_fmt ? WAV_ENODATA : WAV_ENOFMT;
        if (n < 8)
            return WAV_ETRUNCATED;
        pos += 8;
        size = get32(b + 4);
        if (memcmp(b, "fmt ", 4) == 0) {
            uint32_t want = size < sizeof(b) ? size : (uint32_t)sizeof(b);
            if (size < 16)
                return WAV_EFMTSIZE;
            if (fread(b, 1, want, r->file) != want)
                return WAV_ETRUNCATED;
            if ((status = parse_fmt(r, b, size)) != WAV_OK)
                return status;
            have_fmt = 1;
            pos += want;
            skip = (uint64_t)size - want + (size & 1u);
        } else if (memcmp(b, "data", 4) == 0) {
            uint64_t bytes = size, available = file_size > pos ? file_size - pos : 0;
            if (!have_fmt)
                return WAV_ENOFMT;
            if (size == 0xFFFFFFFFu || bytes > available)
                bytes = available;
            r->data_offset = pos;
            r->frames = bytes / (r->channels * 2u);
            return WAV_OK;
        } else {
            skip = (uint64_t)size + (size & 1u);
        }
        if (skip && fseeko(r->file, (off_t)skip, SEEK_CUR) != 0)
            return WAV_ETRUNCATED;
        pos += skip;
    }
}

int wav_reader_open(wav_reader_t *r, const char *path)
{
    struct stat st;
    int status;
    memset(r, 0, sizeof(*r));
    r->file = fopen(path, "rbe");
    if (r->file == NULL) {
        r->saved_errno = errno;
        return WAV_EOPEN;
    }
    setvbuf(r->file, NULL, _IOFBF, IO_BUFFER);
    if (fstat(fileno(r->file), &st) != 0)
        st.st_mode = 0, r->saved_errno = errno;
    else if (!S_ISREG(st.st_mode))
        r->saved_errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    if (r->saved_errno) {
        fclose(r->file);
        r->file = NULL;
        return WAV_EOPEN;
    }
    status = read_header(r, (uint64_t)st.st_size);
    if (status == WAV_OK && fseeko(r->file, (off_t)r->data_offset, SEEK_SET) != 0) {
        r->saved_errno = errno;
        status = WAV_EIO;
    }
    if (status != WAV_OK) {
        if (ferror(r->file)) {
            r->saved_errno = errno;
            status = WAV_EIO;
        }
        fclose(r->file);
        r->file = NULL;
    }
    return status;
}

long wav_reader_read(wav_reader_t *r, int16_t *pcm, size_t frames)
{
    size_t got;
    if (r->position >= r->frames)
        return 0;
    if (frames > r->frames - r->position)
        frames = (size_t)(r->frames - r->position);
    got = fread(pcm, r->channels * 2u, frames, r->file);
    if (got < frames) {
        if (ferror(r->file)) {
            r->saved_errno = errno;
            return WAV_EIO;
        }
        r->frames = r->position + got; /* the file shrank under us: stop here */
    }
#if HOST_IS_BIG_ENDIAN
    swap16(pcm, got * r->channels);
#endif
    r->position += got;
    return (long)got;
}

int wav_reader_rewind(wav_reader_t *r)
{
    if (fseeko(r->file, (off_t)r->data_offset, SEEK_SET) != 0) {
        r->saved_errno = errno;
        return WAV_EIO;
    }
    r->position = 0;
    return WAV_OK;
}

void wav_reader_close(wav_reader_t *r)
{
    if (r->file)
        fclose(r->file);
    r->file = NULL;
}

/* -- writer ---------------------------------------------------------------------------------- */

static void make_header(uint8_t *h, uint32_t rate, uint32_t channels, uint64_t frames)
{
    uint32_t data = (uint32_t)(frames * channels * 2u);
    memcpy(h, "RIFF", 4);
    put32(h + 4, 36u + data);
    memcpy(h + 8, "WAVEfmt ", 8);
    put32(h + 16, 16);
    put16(h + 20, FORMAT_PCM);
    put16(h + 22, channels);
    put32(h + 24, rate);
    put32(h + 28, rate * channels * 2u);
    put16(h + 32, channels * 2u);
    put16(h + 34, 16);
    memcpy(h + 36, "data", 4);
    put32(h + 40, data);
}

static int open_temp(wav_writer_t *w)
{
    static unsigned counter;
    size_t len = strlen(w->path) + 32;
    struct timespec ts;
    if ((w->temp_path = malloc(len)) == NULL) {
        w->saved_errno = ENOMEM;
        return -1;
    }
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        snprintf(w->temp_path, len, "%s.tmp%x%lx", w->path,
                 (unsigned)getpid() ^ __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED),
                 (unsigned long)ts.tv_nsec);
        fd = open(w->temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            if ((w->file = fdopen(fd, "wb")) == NULL) {
                w->saved_errno = errno;
                close(fd);
                unlink(w->temp_path);
                return -1;
            }
            return 0;
        }
        if (errno != EEXIST) {
            w->saved_errno = errno;
            return -1;
        }
    }
    w->saved_errno = EEXIST;
    return -1;
}

static void writer_free(wav_writer_t *w)
{
    free(w->path);
    free(w->temp_path);
    w->path = w->temp_path = NULL;
    w->file = NULL;
}

int wav_writer_open(wav_writer_t *w, const char *path, uint32_t rate, uint32_t channels)
{
    uint8_t h[HEADER_SIZE];
    memset(w, 0, sizeof(*w));
    if (rate < WAV_MIN_RATE || rate > WAV_MAX_RATE)
        return WAV_ERATE;
    if (channels < 1 || channels > 2)
        return WAV_ECHANNELS;
    w->rate = rate;
    w->channels = channels;
    if ((w->path = strdup(path)) == NULL) {
        w->saved_errno = ENOMEM;
        return WAV_EOPEN;
    }
    if (open_temp(w) != 0) {
        writer_free(w);
        return WAV_EOPEN;
    }
    setvbuf(w->file, NULL, _IOFBF, IO_BUFFER);
    make_header(h, rate, channels, 0);
    if (fwrite(h, 1, HEADER_SIZE, w->file) != HEADER_SIZE) {
        w->saved_errno = errno;
        wav_writer_abort(w);
        return WAV_EIO;
    }
    return WAV_OK;
}

int wav_writer_write(wav_writer_t *w, const int16_t *pcm, size_t frames)
{
    uint64_t limit = (0xFFFFFFFFu - 36u) / (w->channels * 2u);
    if (w->file == NULL)
        return WAV_EIO;
    if (w->frames + frames > limit)
        return WAV_ETOOBIG;
#if HOST_IS_BIG_ENDIAN
    int16_t chunk[512];
    size_t values = frames * w->channels, done = 0;
    while (done < values) {
        size_t k = values - done < 512 ? values - done : 512;
        memcpy(chunk, pcm + done, k * 2);
        swap16(chunk, k);
        if (fwrite(chunk, 2, k, w->file) != k) {
            w->saved_errno = errno;
            return WAV_EIO;
        }
        done += k;
    }
#else
    if (fwrite(pcm, w->channels * 2u, frames, w->file) != frames) {
        w->saved_errno = errno;
        return WAV_EIO;
    }
#endif
    w->frames += frames;
    return WAV_OK;
}

int wav_writer_close(wav_writer_t *w)
{
    uint8_t h[HEADER_SIZE];
    int status = WAV_OK;
    if (w->file == NULL) {
        writer_free(w);
        return WAV_EIO;
    }
    make_header(h, w->rate, w->channels, w->frames);
    if (fseeko(w->file, 0, SEEK_SET) != 0 || fwrite(h, 1, HEADER_SIZE, w->file) != HEADER_SIZE ||
        fflush(w->file) != 0 || fsync(fileno(w->file)) != 0) {
        w->saved_errno = errno;
        status = WAV_EIO;
    }
    if (fclose(w->file) != 0 && status == WAV_OK) {
        w->saved_errno = errno;
        status = WAV_EIO;
    }
    w->file = NULL;
    if (status == WAV_OK && rename(w->temp_path, w->path) != 0) {
        w->saved_errno = errno;
        status = WAV_EIO;
    }
    if (status != WAV_OK)
        unlink(w->temp_path);
    writer_free(w);
    return status;
}

void wav_writer_abort(wav_writer_t *w)
{
    if (w->file) {
        fclose(w->file);
        unlink(w->temp_path);
    }
    writer_free(w);
}
