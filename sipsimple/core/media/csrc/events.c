/*
 * events.c - the event queue (see events.h): a mutex-protected ring of fixed-size events plus a
 * wake-up descriptor written once per batch.
 *
 * Rules:
 *   - `signalled` is true from the post that starts a batch until the drain that empties the
 *     queue; only the post that sets it writes to the descriptor, so a burst of events costs one
 *     write and one read.
 *   - The drain that empties the queue clears `signalled` and reads the descriptor empty while
 *     holding the lock. A post that set `signalled` but had not yet written when that drain ran
 *     leaves the descriptor readable with an empty queue: the next drain returns nothing. A
 *     spurious wake-up is possible, a lost one is not.
 */
#define _GNU_SOURCE
#include "events.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/eventfd.h>
#endif

typedef struct queue_impl {
    media_event_queue_t head; /* first: the public part */
    pthread_mutex_t lock;
    media_event_t *ring;
    size_t capacity; /* a power of two */
    size_t first;    /* index of the oldest event */
    size_t count;
    int signalled;
    int read_fd;
    int write_fd; /* == read_fd for an eventfd */
    uint64_t dropped;
} queue_impl;

static void wake(queue_impl *q)
{
    ssize_t r;
#ifdef __linux__
    if (q->read_fd == q->write_fd) {
        uint64_t one = 1;
        do {
            r = write(q->write_fd, &one, sizeof(one));
        } while (r < 0 && errno == EINTR);
        return;
    }
#endif
    do {
        r = write(q->write_fd, "!", 1);
    } while (r < 0 && errno == EINTR);
    /* EAGAIN: the pipe is full, so it is readable anyway. */
}

static void clear_wakeups(queue_impl *q)
{
    char buffer[64];
    ssize_t r;
    do {
        r = read(q->read_fd, buffer, sizeof(buffer));
    } while (r > 0 || (r < 0 && errno == EINTR));
}

static int queue_post(media_event_queue_t *queue, const media_event_t *event)
{
    queue_impl *q = (queue_impl *)queue;
    int must_wake;
    pthread_mutex_lock(&q->lock);
    if (q->count == q->capacity) {
        q->dropped++;
        pthread_mutex_unlock(&q->lock);
        return -1;
    }
    q->ring[(q->first + q->count) & (q->capacity - 1)] = *event;
    q->count++;
    must_wake = !q->signalled;
    q->signalled = 1;
    pthread_mutex_unlock(&q->lock);
    if (must_wake)
        wake(q);
    return 0;
}

static int set_flags(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -1;
    flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
        return -1;
    return 0;
}

static int open_wakeup(queue_impl *q)
{
#ifdef __linux__
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd >= 0) {
        q->read_fd = q->write_fd = fd;
        return 0;
    }
#endif
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    if (set_flags(fds[0]) < 0 || set_flags(fds[1]) < 0) {
        int saved = errno;
        close(fds[0]);
        close(fds[1]);
        errno = saved;
        return -1;
    }
    q->read_fd = fds[0];
    q->write_fd = fds[1];
    return 0;
}

media_event_queue_t *media_event_queue_new(size_t capacity)
{
    queue_impl *q;
    size_t size = 16;
    if (capacity == 0 || capacity > ((size_t)1 << 24)) {
        errno = EINVAL;
        return NULL;
    }
    while (size < capacity)
        size <<= 1;
    q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NULL;
    q->ring = calloc(size, sizeof(media_event_t));
    if (q->ring == NULL) {
        free(q);
        return NULL;
    }
    if (open_wakeup(q) < 0) {
        int saved = errno;
        free(q->ring);
        free(q);
        errno = saved;
        return NULL;
    }
    if (pthread_mutex_init(&q->lock, NULL) != 0) {
        if (q->write_fd != q->read_fd)
            close(q->write_fd);
        close(q->read_fd);
        free(q->ring);
        free(q);
        errno = ENOMEM;
        return NULL;
    }
    q->capacity = size;
    q->head.version = MEDIA_EVENT_QUEUE_VERSION;
    q->head.post = queue_post;
    return &q->head;
}

void media_event_queue_free(media_event_queue_t *queue)
{
    queue_impl *q = (queue_impl *)queue;
    if (q == NULL)
        return;
    if (q->write_fd != q->read_fd)
        close(q->write_fd);
    close(q->read_fd);
    pthread_mutex_destroy(&q->lock);
    free(q->ring);
    free(q);
}

int media_event_queue_fd(const media_event_queue_t *queue)
{
    return ((const queue_impl *)queue)->read_fd;
}

size_t media_event_queue_drain(media_event_queue_t *queue, media_event_t *out, size_t max)
{
    queue_impl *q = (queue_impl *)queue;
    size_t n, i;
    pthread_mutex_lock(&q->lock);
    n = q->count < max ? q->count : max;
    for (i = 0; i < n; i++)
        out[i] = q->ring[(q->first + i) & (q->capacity - 1)];
    q->first = (q->first + n) & (q->capacity - 1);
    q->count -= n;
    if (q->count == 0) {
        q->signalled = 0;
        clear_wakeups(q);
    }
    pthread_mutex_unlock(&q->lock);
    return n;
}

size_t media_event_queue_pending(media_event_queue_t *queue)
{
    queue_impl *q = (queue_impl *)queue;
    size_t n;
    pthread_mutex_lock(&q->lock);
    n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}

uint64_t media_event_queue_dropped(media_event_queue_t *queue)
{
    queue_impl *q = (queue_impl *)queue;
    uint64_t n;
    pthread_mutex_lock(&q->lock);
    n = q->dropped;
    pthread_mutex_unlock(&q->lock);
    return n;
}

size_t media_event_queue_capacity(const media_event_queue_t *queue)
{
    return ((const queue_impl *)queue)->capacity;
}
