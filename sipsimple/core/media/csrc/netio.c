/* The media engine's network I/O thread: see netio.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* pthread_setname_np */
#endif
#include "netio.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

struct netio_handle {
    netio_t *io;
    int fd;
    netio_read_fn on_read;
    netio_timer_fn on_timer;
    void *user;
    uint64_t deadline; /* under io->lock */
    size_t heap_index; /* position in io->heap, NOT_QUEUED when it has no deadline */
    netio_handle_t *prev, *next; /* the list of handles, under io->lock */
    netio_handle_t *again;       /* the list of handles to read again (I/O thread only) */
    int queued_again;            /* in that list */
};

#define NOT_QUEUED SIZE_MAX

typedef struct netio_call_rec {
    netio_call_fn fn;
    void *arg;
    int done;
    struct netio_call_rec *next;
} netio_call_rec;

struct netio {
    int epfd;
    int wakefd;   /* eventfd: calls and stop */
    int timerfd;
    pthread_t thread;
    int running;  /* the thread was started and not joined */
    int stopping;
    pthread_mutex_t lock;
    pthread_cond_t done;
    netio_handle_t *handles;
    uint32_t handle_count;
    uint64_t armed;          /* the timerfd's deadline, NETIO_NEVER when disarmed */
    netio_call_rec *calls, *calls_tail;
    netio_handle_t **heap;   /* binary min-heap of the handles with a deadline, under lock */
    size_t heap_len, heap_cap;
    netio_handle_t **due;    /* scratch for the timer pass (I/O thread) */
    size_t due_cap;
    netio_handle_t *again;   /* handles whose socket may still hold data (I/O thread only) */
    netio_handle_t **again_tail;
    netio_stats_t stats;     /* counters written by the thread; read with relaxed loads */
    netio_batch_t batch;
    /* epoll data pointers that are not handles */
    char wake_tag, timer_tag;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define COUNT(field) __atomic_store_n(&(field), (field) + 1, __ATOMIC_RELAXED)

/* The netio_t whose thread this is (NULL on other threads). */
static __thread netio_t *current_io;

/* Arms the timerfd for `deadline` (lock held). */
static void arm(netio_t *io, uint64_t deadline)
{
    struct itimerspec spec;
    memset(&spec, 0, sizeof spec);
    if (deadline != NETIO_NEVER) {
        if (deadline == 0)
            deadline = 1; /* a zero it_value would disarm */
        spec.it_value.tv_sec = (time_t)(deadline / 1000000000u);
        spec.it_value.tv_nsec = (long)(deadline % 1000000000u);
    }
    timerfd_settime(io->timerfd, TFD_TIMER_ABSTIME, &spec, NULL);
    io->armed = deadline;
}

static void wake(netio_t *io)
{
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(io->wakefd, &one, sizeof one);
    while (n < 0 && errno == EINTR);
}

/* ---- the deadline heap (io->lock held) ---- */

static void heap_place(netio_t *io, size_t i, netio_handle_t *h)
{
    io->heap[i] = h;
    h->heap_index = i;
}

static void sift_up(netio_t *io, size_t i)
{
    netio_handle_t *h = io->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (io->heap[parent]->deadline <= h->deadline)
            break;
        heap_place(io, i, io->heap[parent]);
        i = parent;
    }
    heap_place(io, i, h);
}

static void sift_down(netio_t *io, size_t i)
{
    netio_handle_t *h = io->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= io->heap_len)
            break;
        if (child + 1 < io->heap_len && io->heap[child + 1]->deadline < io->heap[child]->deadline)
            child++;
        if (h->deadline <= io->heap[child]->deadline)
            break;
        heap_place(io, i, io->heap[child]);
        i = child;
    }
    heap_place(io, i, h);
}

static void heap_remove(netio_t *io, netio_handle_t *h)
{
    size_t i = h->heap_index;
    if (i == NOT_QUEUED)
        return;
    h->heap_index = NOT_QUEUED;
    netio_handle_t *last = io->heap[--io->heap_len];
    if (i == io->heap_len)
        return;
    heap_place(io, i, last);
    sift_down(io, i);
    sift_up(io, last->heap_index);
}

/* Returns 0, or -1 when the heap cannot grow (the deadline is then dropped). */
static int heap_set(netio_t *io, netio_handle_t *h, uint64_t deadline)
{
    if (deadline == NETIO_NEVER) {
        heap_remove(io, h);
        h->deadline = NETIO_NEVER;
        return 0;
    }
    if (h->heap_index == NOT_QUEUED) {
        if (io->heap_len == io->heap_cap) {
            size_t cap = io->heap_cap * 2 + 16;
            netio_handle_t **heap = realloc(io->heap, cap * sizeof *heap);
            if (heap == NULL)
                return -1;
            io->heap = heap;
            io->heap_cap = cap;
        }
        h->deadline = deadline;
        heap_place(io, io->heap_len++, h);
        sift_up(io, h->heap_index);
        return 0;
    }
    uint64_t old = h->deadline;
    h->deadline = deadline;
    if (deadline < old)
        sift_up(io, h->heap_index);
    else
        sift_down(io, h->heap_index);
    return 0;
}

static uint64_t heap_earliest(const netio_t *io)
{
    return io->heap_len ? io->heap[0]->deadline : NETIO_NEVER;
}

static void run_calls(netio_t *io)
{
    for (;;) {
        pthread_mutex_lock(&io->lock);
        netio_call_rec *call = io->calls;
        if (call != NULL) {
            io->calls = call->next;
            if (io->calls == NULL)
                io->calls_tail = NULL;
        }
        pthread_mutex_unlock(&io->lock);
        if (call == NULL)
            return;
        call->fn(call->arg);
        COUNT(io->stats.calls);
        pthread_mutex_lock(&io->lock);
        call->done = 1;
        pthread_cond_broadcast(&io->done);
        pthread_mutex_unlock(&io->lock);
    }
}

static void run_timers(netio_t *io)
{
    uint64_t now = now_ns();
    size_t count = 0, i;

    pthread_mutex_lock(&io->lock);
    if (io->due_cap < io->heap_len) {
        size_t cap = io->heap_len * 2 + 16;
        netio_handle_t **due = realloc(io->due, cap * sizeof *due);
        if (due != NULL) {
            io->due = due;
            io->due_cap = cap;
        }
    }
    while (io->heap_len && io->heap[0]->deadline <= now && count < io->due_cap) {
        netio_handle_t *h = io->heap[0];
        heap_set(io, h, NETIO_NEVER); /* the callback sets the next deadline */
        if (h->on_timer != NULL)
            io->due[count++] = h;
    }
    pthread_mutex_unlock(&io->lock);
    /* handles are removed only by calls, which run after this pass: the pointers stay valid */
    for (i = 0; i < count; i++) {
        netio_handle_t *h = io->due[i];
        h->on_timer(h, h->user, now);
        COUNT(io->stats.timers);
    }
    pthread_mutex_lock(&io->lock);
    arm(io, heap_earliest(io));
    pthread_mutex_unlock(&io->lock);
}

/* With a few hundred sockets ready at once, each handle and its owner's state (a transport) are
 * cold: their first cache lines are requested one handle ahead, so that the loads of one overlap
 * the work on the previous (the handle itself two ahead). */
static inline void prefetch_ahead(const netio_t *io, const void *ptr)
{
    if (ptr != &io->wake_tag && ptr != &io->timer_tag)
        __builtin_prefetch(((const netio_handle_t *)ptr)->user);
}

/* One batch from the handle's socket; queued to be read again when it may hold more. */
static void read_handle(netio_t *io, netio_handle_t *h, uint64_t now)
{
    int more = h->on_read(h, h->user, now);
    COUNT(io->stats.reads);
    if (more && !h->queued_again) {
        h->queued_again = 1;
        h->again = NULL;
        *io->again_tail = h;
        io->again_tail = &h->again;
    }
}

/* The handles queued before this round get one more batch each (those still full go to the back). */
static void read_again(netio_t *io, uint64_t now)
{
    netio_handle_t *h = io->again;
    io->again = NULL;
    io->again_tail = &io->again;
    while (h != NULL) {
        netio_handle_t *next = h->again;
        h->queued_again = 0;
        read_handle(io, h, now);
        h = next;
    }
}

static void forget_again(netio_t *io, netio_handle_t *h)
{
    netio_handle_t **link = &io->again;
    if (!h->queued_again)
        return;
    while (*link != NULL && *link != h)
        link = &(*link)->again;
    if (*link == h) {
        *link = h->again;
        if (io->again_tail == &h->again)
            io->again_tail = link;
    }
    h->queued_again = 0;
}

static void *thread_main(void *arg)
{
    netio_t *io = arg;
    struct epoll_event events[NETIO_EVENTS];
    sigset_t all;

    current_io = io;
    /* SCHED_BATCH: a datagram does not preempt the thread that sent it (the mixer's, sending a
     * tick's packets) when both share a core; the batch is read once that thread sleeps */
    struct sched_param param;
    memset(&param, 0, sizeof param);
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (;;) {
        int blocking = io->again == NULL; /* else only a look: sockets wait to be read again */
        int n = epoll_wait(io->epfd, events, NETIO_EVENTS, blocking ? -1 : 0);
        int timers = 0, i;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break; /* cannot happen with a valid epfd */
        }
        if (blocking)
            COUNT(io->stats.wakeups);
        netio_handle_t *again = io->again;
        uint64_t now = n > 0 || again != NULL ? now_ns() : 0;
        for (i = 0; i < n; i++) {
            void *ptr = events[i].data.ptr;
            /* the next handles' memory on its way while this one is read (see prefetch_ahead) */
            if (i + 2 < n)
                __builtin_prefetch(events[i + 2].data.ptr);
            if (i + 1 < n)
                prefetch_ahead(io, events[i + 1].data.ptr);
            if (ptr == &io->wake_tag) {
                uint64_t value;
                while (read(io->wakefd, &value, sizeof value) < 0 && errno == EINTR)
                    ;
            } else if (ptr == &io->timer_tag) {
                uint64_t expirations;
                while (read(io->timerfd, &expirations, sizeof expirations) < 0 && errno == EINTR)
                    ;
                timers = 1;
            } else {
                read_handle(io, ptr, now);
            }
        }
        if (again != NULL)
            read_again(io, now);
        if (timers)
            run_timers(io);
        run_calls(io);
        pthread_mutex_lock(&io->lock);
        int stopping = io->stopping;
        pthread_mutex_unlock(&io->lock);
        if (stopping)
            break;
    }
    run_calls(io); /* nobody waits forever on a call posted while stopping */
    return NULL;
}

int netio_create(netio_t **out)
{
    struct epoll_event ev;
    netio_t *io = calloc(1, sizeof *io);
    int err;

    *out = NULL;
    if (io == NULL)
        return -ENOMEM;
    io->epfd = io->wakefd = io->timerfd = -1;
    io->armed = NETIO_NEVER;
    io->again_tail = &io->again;
    for (int i = 0; i < NETIO_BATCH; i++) {
        io->batch.iov[i].iov_base = io->batch.data[i];
        io->batch.iov[i].iov_len = NETIO_DATAGRAM;
        io->batch.msgs[i].msg_hdr.msg_name = &io->batch.addrs[i];
        io->batch.msgs[i].msg_hdr.msg_namelen = sizeof io->batch.addrs[i];
        io->batch.msgs[i].msg_hdr.msg_iov = &io->batch.iov[i];
        io->batch.msgs[i].msg_hdr.msg_iovlen = 1;
    }
    pthread_mutex_init(&io->lock, NULL);
    pthread_cond_init(&io->done, NULL);
    io->epfd = epoll_create1(EPOLL_CLOEXEC);
    io->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    io->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (io->epfd < 0 || io->wakefd < 0 || io->timerfd < 0)
        goto fail;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.ptr = &io->wake_tag;
    if (epoll_ctl(io->epfd, EPOLL_CTL_ADD, io->wakefd, &ev) < 0)
        goto fail;
    ev.data.ptr = &io->timer_tag;
    if (epoll_ctl(io->epfd, EPOLL_CTL_ADD, io->timerfd, &ev) < 0)
        goto fail;
    err = pthread_create(&io->thread, NULL, thread_main, io);
    if (err != 0) {
        errno = err;
        goto fail;
    }
    pthread_setname_np(io->thread, "sipsimple-rtp");
    io->running = 1;
    *out = io;
    return 0;
fail:
    err = errno ? errno : ENOMEM;
    netio_destroy(io);
    return -err;
}

void netio_destroy(netio_t *io)
{
    if (io == NULL)
        return;
    if (io->running) {
        pthread_mutex_lock(&io->lock);
        io->stopping = 1;
        pthread_mutex_unlock(&io->lock);
        wake(io);
        pthread_join(io->thread, NULL);
        pthread_mutex_lock(&io->lock);
        io->running = 0;
        pthread_mutex_unlock(&io->lock);
    }
    while (io->handles != NULL) {
        netio_handle_t *h = io->handles;
        io->handles = h->next;
        free(h);
    }
    if (io->epfd >= 0)
        close(io->epfd);
    if (io->wakefd >= 0)
        close(io->wakefd);
    if (io->timerfd >= 0)
        close(io->timerfd);
    free(io->due);
    free(io->heap);
    pthread_cond_destroy(&io->done);
    pthread_mutex_destroy(&io->lock);
    free(io);
}

int netio_on_thread(const netio_t *io)
{
    return current_io == io;
}

int netio_add(netio_t *io, int fd, netio_read_fn on_read, netio_timer_fn on_timer, void *user,
              netio_handle_t **out)
{
    netio_handle_t *h;

    *out = NULL;
    if (fd >= 0 && on_read == NULL)
        return -EINVAL;
    h = calloc(1, sizeof *h);
    if (h == NULL)
        return -ENOMEM;
    h->io = io;
    h->fd = fd;
    h->on_read = on_read;
    h->on_timer = on_timer;
    h->user = user;
    h->deadline = NETIO_NEVER;
    h->heap_index = NOT_QUEUED;
    pthread_mutex_lock(&io->lock);
    h->next = io->handles;
    if (io->handles != NULL)
        io->handles->prev = h;
    io->handles = h;
    io->handle_count++;
    pthread_mutex_unlock(&io->lock);
    if (fd >= 0) {
        struct epoll_event ev;
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN | EPOLLET;
        ev.data.ptr = h;
        if (epoll_ctl(io->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            int err = errno;
            pthread_mutex_lock(&io->lock);
            if (h->prev)
                h->prev->next = h->next;
            else
                io->handles = h->next;
            if (h->next)
                h->next->prev = h->prev;
            io->handle_count--;
            pthread_mutex_unlock(&io->lock);
            free(h);
            return -err;
        }
    }
    *out = h;
    return 0;
}

static void remove_call(void *arg)
{
    netio_handle_t *h = arg;
    netio_t *io = h->io;
    if (h->fd >= 0)
        epoll_ctl(io->epfd, EPOLL_CTL_DEL, h->fd, NULL);
    forget_again(io, h);
    pthread_mutex_lock(&io->lock);
    heap_remove(io, h);
    if (h->prev)
        h->prev->next = h->next;
    else
        io->handles = h->next;
    if (h->next)
        h->next->prev = h->prev;
    io->handle_count--;
    pthread_mutex_unlock(&io->lock);
    free(h);
}

void netio_remove(netio_t *io, netio_handle_t *handle)
{
    if (handle != NULL)
        netio_call(io, remove_call, handle);
}

void netio_set_timer(netio_handle_t *h, uint64_t deadline_ns)
{
    netio_t *io = h->io;
    pthread_mutex_lock(&io->lock);
    heap_set(io, h, deadline_ns);
    /* a sooner deadline re-arms at once (on the I/O thread, during the timer pass, the earliest
     * deadline is re-armed afterwards anyway) */
    if (deadline_ns < io->armed)
        arm(io, deadline_ns);
    pthread_mutex_unlock(&io->lock);
}

int netio_call(netio_t *io, netio_call_fn fn, void *arg)
{
    netio_call_rec call;

    if (netio_on_thread(io)) {
        fn(arg);
        return 0;
    }
    call.fn = fn;
    call.arg = arg;
    call.done = 0;
    call.next = NULL;
    pthread_mutex_lock(&io->lock);
    if (!io->running || io->stopping) {
        pthread_mutex_unlock(&io->lock);
        fn(arg); /* no thread to race with (or it is about to stop and run no more callbacks) */
        return 0;
    }
    if (io->calls_tail)
        io->calls_tail->next = &call;
    else
        io->calls = &call;
    io->calls_tail = &call;
    pthread_mutex_unlock(&io->lock);
    wake(io);
    pthread_mutex_lock(&io->lock);
    while (!call.done)
        pthread_cond_wait(&io->done, &io->lock);
    pthread_mutex_unlock(&io->lock);
    return 0;
}

netio_batch_t *netio_batch(netio_t *io)
{
    return &io->batch;
}

void netio_get_stats(netio_t *io, netio_stats_t *out)
{
    out->wakeups = __atomic_load_n(&io->stats.wakeups, __ATOMIC_RELAXED);
    out->reads = __atomic_load_n(&io->stats.reads, __ATOMIC_RELAXED);
    out->timers = __atomic_load_n(&io->stats.timers, __ATOMIC_RELAXED);
    out->calls = __atomic_load_n(&io->stats.calls, __ATOMIC_RELAXED);
    pthread_mutex_lock(&io->lock);
    out->handles = io->handle_count;
    pthread_mutex_unlock(&io->lock);
}
