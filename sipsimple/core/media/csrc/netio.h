/*
 * netio.h - the media engine's network I/O thread: one epoll loop that owns the RTP/RTCP sockets
 * and the timers of the streams, without Python.
 *
 * A netio_t is one native thread (all signals blocked, never the GIL) waiting in epoll_wait() on:
 *   - the registered handles' sockets: when one is readable, its on_read() runs on this thread.
 *     The sockets are edge-triggered (the kernel does not poll every socket again on the next
 *     epoll_wait() to find it drained): on_read() reads one batch and returns nonzero when data
 *     may remain (a full batch, or an error that is not EAGAIN); it is then called again after the
 *     other ready handles have had their batch, as long as it says so (one batch per handle per
 *     round: a busy socket does not starve the others);
 *   - a timerfd armed (absolute, CLOCK_MONOTONIC) at the earliest handle deadline: every handle
 *     whose deadline has passed gets on_timer() and sets its next deadline;
 *   - an eventfd that other threads write to hand it work: netio_call() runs a function on the
 *     thread between two batches of events and waits for it.
 *
 * Removing a handle is such a call, so once netio_remove() returns no callback of that handle is
 * running or will run: its owner may free what the callbacks use. Handles are added from any
 * thread; netio_remove() and netio_call() must not be called from the callbacks themselves.
 *
 * The per-packet path takes no lock of netio's: epoll_wait() returns the handles' pointers, and the
 * handle's callback does the rest. The lock protects the timer list and the call queue only.
 */
#ifndef SIPSIMPLE_MEDIA_NETIO_H
#define SIPSIMPLE_MEDIA_NETIO_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NETIO_NEVER UINT64_MAX
#define NETIO_BATCH 16           /* datagrams per recvmmsg() */
#define NETIO_EVENTS 256         /* ready sockets per epoll_wait(): a tick's packets of many streams */
#define NETIO_DATAGRAM 2048      /* bytes per datagram buffer (STREAM_MAX_DATAGRAM) */

typedef struct netio netio_t;
typedef struct netio_handle netio_handle_t;

/* Returns nonzero when the socket may still hold data (see above). */
typedef int (*netio_read_fn)(netio_handle_t *handle, void *user, uint64_t now_ns);
typedef void (*netio_timer_fn)(netio_handle_t *handle, void *user, uint64_t now_ns);
typedef void (*netio_call_fn)(void *arg);

/* Receive buffers for on_read(): one set per netio_t, used only on its thread. The message headers
 * point at their iov, address and data; a reader resets msg_namelen before each recvmmsg(). */
typedef struct netio_batch {
    struct mmsghdr msgs[NETIO_BATCH];
    struct iovec iov[NETIO_BATCH];
    struct sockaddr_storage addrs[NETIO_BATCH];
    uint8_t data[NETIO_BATCH][NETIO_DATAGRAM] __attribute__((aligned(8)));
} netio_batch_t;

typedef struct netio_stats {
    uint64_t wakeups;  /* returns from a blocking epoll_wait() (the thread had slept) */
    uint64_t reads;    /* on_read() calls */
    uint64_t timers;   /* on_timer() calls */
    uint64_t calls;    /* netio_call() functions run */
    uint32_t handles;  /* registered now */
} netio_stats_t;

/* Starts the thread. Returns 0 or a negative errno value. */
int netio_create(netio_t **out);
/* Stops and joins the thread, then frees. Handles still registered are freed without callbacks. */
void netio_destroy(netio_t *io);
/* 1 on the I/O thread itself. */
int netio_on_thread(const netio_t *io);

/*
 * Registers a handle: fd (non-blocking; -1 for a timer-only handle) is watched for reading with
 * on_read (may be NULL when fd is -1); on_timer (may be NULL) runs when the deadline set with
 * netio_set_timer() passes. Returns 0 or a negative errno value.
 */
int netio_add(netio_t *io, int fd, netio_read_fn on_read, netio_timer_fn on_timer, void *user,
              netio_handle_t **out);
/* Unregisters and frees the handle (does not close its fd). Synchronous, see above. */
void netio_remove(netio_t *io, netio_handle_t *handle);
/* Any thread. deadline_ns on CLOCK_MONOTONIC; NETIO_NEVER for none. */
void netio_set_timer(netio_handle_t *handle, uint64_t deadline_ns);
/* Runs fn(arg) on the I/O thread and returns when it has run (at once when called on the thread,
 * or on the caller's thread when the I/O thread is not running). Returns 0 or -errno. */
int netio_call(netio_t *io, netio_call_fn fn, void *arg);
/* The receive buffers (I/O thread only). */
netio_batch_t *netio_batch(netio_t *io);
void netio_get_stats(netio_t *io, netio_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
