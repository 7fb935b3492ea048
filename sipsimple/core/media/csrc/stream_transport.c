/* An RTP transport: UDP sockets on the I/O thread, latching, timeout, STUN hand-up. See
 * stream_transport.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* recvmmsg */
#endif
#include "stream_transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define STUN_MAGIC_COOKIE 0x2112A442u
#define STUN_HEADER 20u
#define ANY_PORT_ATTEMPTS 64u

typedef struct stun_entry {
    uint16_t length;
    uint8_t component;
    socklen_t from_length;
    struct sockaddr_storage from;
    uint8_t data[STREAM_STUN_MAX];
} stun_entry_t;

#define CACHE_LINE 64

/* Counters by the side that writes them (the two sides run on different threads). */
typedef struct tx_counters {
    uint64_t datagrams[2], bytes[2], errors, dropped, transform_failed;
    int last_errno;
} tx_counters_t;

typedef struct rx_counters {
    uint64_t datagrams[2], bytes[2], rtp, rtcp, stun, stun_dropped, ignored, malformed, transform_failed;
    uint64_t no_sink, timeouts, latches;
} rx_counters_t;

struct stream_transport {
    /* fixed at creation */
    netio_t *io;
    const stream_clock_t *clock;
    media_event_queue_t *queue;
    uint64_t source;
    int rtcp_mux;
    int fd[2];                       /* RTP, RTCP (-1 with rtcp-mux or in memory) */
    netio_handle_t *handle[2];       /* handle[0] also carries the timeout timer */
    int memory;

    /* send side, under tx_lock */
    pthread_mutex_t tx_lock __attribute__((aligned(CACHE_LINE)));
    int tx_closed;
    int have_transform;
    stream_transform_t transform;
    stream_transport_t *peer;        /* memory transports */
    uint32_t loss_every, loss_count;
    socklen_t remote_length[2];
    unsigned remote_generation;      /* bumped (atomically) on every change of `remote` */
    tx_counters_t txs;
    struct sockaddr_storage remote[2];

    /* receive side, under rx_lock */
    pthread_mutex_t rx_lock __attribute__((aligned(CACHE_LINE)));
    int rx_closed;
    int have_sink;
    stream_sink_t sink;
    int have_rx_transform;
    stream_transform_t rx_transform;
    rx_counters_t rxs;
    uint64_t timeout_ns;
    uint64_t last_rx_ns;             /* the last RTP packet, or when the timeout was set */
    int timed_out;
    int latching;
    uint32_t latch_packets;
    int rtcp_latched;
    unsigned seen_generation;        /* remote_generation when `known_remote` was copied */
    socklen_t known_remote_length[2];
    socklen_t received_length[2];
    socklen_t candidate_length;
    uint32_t candidate_ssrc;
    uint32_t candidate_count;
    stun_entry_t *stun;              /* ring of STREAM_STUN_QUEUE entries, allocated on first use */
    unsigned stun_head, stun_count;
    int stun_posted;                 /* an event about the waiting datagrams is in the queue */
    struct sockaddr_storage received[2];
    struct sockaddr_storage known_remote[2];
    struct sockaddr_storage candidate;

    /* cold */
    struct sockaddr_storage local[2];
    socklen_t local_length[2];
};

/* ---- addresses ------------------------------------------------------------------------------ */

socklen_t stream_make_address(const char *host, unsigned port, int family, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof *out);
    if (port > 65535)
        return 0;
    if (family != AF_INET6) {
        struct sockaddr_in *sin = (struct sockaddr_in *)out;
        if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
            sin->sin_family = AF_INET;
            sin->sin_port = htons((uint16_t)port);
            return sizeof *sin;
        }
    }
    if (family != AF_INET) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons((uint16_t)port);
            return sizeof *sin6;
        }
    }
    return 0;
}

int stream_address_parts(const struct sockaddr_storage *addr, char *host, size_t host_size)
{
    if (addr->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
        if (inet_ntop(AF_INET, &sin->sin_addr, host, (socklen_t)host_size) == NULL)
            return -1;
        return ntohs(sin->sin_port);
    }
    if (addr->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)addr;
        if (inet_ntop(AF_INET6, &sin6->sin6_addr, host, (socklen_t)host_size) == NULL)
            return -1;
        return ntohs(sin6->sin6_port);
    }
    return -1;
}

static int same_address(const struct sockaddr_storage *a, socklen_t alen, const struct sockaddr_storage *b,
                        socklen_t blen)
{
    if (alen == 0 || blen == 0 || a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const struct sockaddr_in *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a, *y = (const struct sockaddr_in6 *)b;
        return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    return 0;
}

static int same_host(const struct sockaddr_storage *a, socklen_t alen, const struct sockaddr_storage *b,
                     socklen_t blen)
{
    if (alen == 0 || blen == 0 || a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
    return 0;
}

static void set_port(struct sockaddr_storage *addr, unsigned port)
{
    if (addr->ss_family == AF_INET)
        ((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)port);
    else if (addr->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)port);
}

static unsigned get_port(const struct sockaddr_storage *addr)
{
    if (addr->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)addr)->sin_port);
    if (addr->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
    return 0;
}

int stream_is_stun(const uint8_t *buf, size_t length)
{
    if (length < STUN_HEADER || (buf[0] & 0xC0) != 0 || length % 4 != 0)
        return 0;
    uint32_t cookie = ((uint32_t)buf[4] << 24) | ((uint32_t)buf[5] << 16) | ((uint32_t)buf[6] << 8) | buf[7];
    size_t declared = ((size_t)buf[2] << 8) | buf[3];
    return cookie == STUN_MAGIC_COOKIE && declared == length - STUN_HEADER;
}

/* ---- binding -------------------------------------------------------------------------------- */

static int open_bound(const struct sockaddr *local, socklen_t length, unsigned port, int *fd_out)
{
    struct sockaddr_storage addr;
    int fd, one = 1;

    memcpy(&addr, local, length);
    set_port(&addr, port);
    fd = socket(local->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (local->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&addr, length) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    *fd_out = fd;
    return 0;
}

static unsigned bound_port(int fd)
{
    struct sockaddr_storage addr;
    socklen_t length = sizeof addr;
    if (getsockname(fd, (struct sockaddr *)&addr, &length) < 0)
        return 0;
    return get_port(&addr);
}

static int port_taken(int err)
{
    return err == -EADDRINUSE || err == -EACCES;
}

int stream_transport_bind(const struct sockaddr *local, socklen_t local_length, unsigned start,
                          unsigned end, unsigned first, int rtcp_mux, int *fd_rtp, int *fd_rtcp,
                          unsigned *tries)
{
    int rtp = -1, rtcp = -1, err;
    unsigned attempt;

    *fd_rtp = *fd_rtcp = -1;
    *tries = 0;
    if (local_length > sizeof(struct sockaddr_storage) ||
        (local->sa_family != AF_INET && local->sa_family != AF_INET6))
        return -EAFNOSUPPORT;
    if (start == 0 && end == 0) {
        for (attempt = 0; attempt < ANY_PORT_ATTEMPTS; attempt++) {
            (*tries)++;
            err = open_bound(local, local_length, 0, &rtp);
            if (err < 0)
                return err;
            if (rtcp_mux) {
                *fd_rtp = rtp;
                return 0;
            }
            unsigned port = bound_port(rtp);
            if (port % 2 == 0 && port < 65535) {
                (*tries)++;
                err = open_bound(local, local_length, port + 1, &rtcp);
                if (err == 0) {
                    *fd_rtp = rtp;
                    *fd_rtcp = rtcp;
                    return 0;
                }
                if (!port_taken(err)) {
                    close(rtp);
                    return err;
                }
            }
            close(rtp);
        }
        return -EADDRINUSE;
    }
    if (start == 0 || start > end || end > 65535)
        return -EINVAL;
    unsigned pairs = (end - start + 1) / 2;
    if (pairs == 0 && rtcp_mux)
        pairs = 1;
    for (attempt = 0; attempt < pairs; attempt++) {
        unsigned port = start + 2 * ((first + attempt) % pairs);
        (*tries)++;
        err = open_bound(local, local_length, port, &rtp);
        if (err < 0) {
            if (port_taken(err))
                continue;
            return err;
        }
        if (!rtcp_mux) {
            (*tries)++;
            err = open_bound(local, local_length, port + 1, &rtcp);
            if (err < 0) {
                close(rtp);
                rtp = -1;
                if (port_taken(err))
                    continue;
                return err;
            }
        }
        *fd_rtp = rtp;
        *fd_rtcp = rtcp;
        return (int)((first + attempt) % pairs);
    }
    return -EADDRINUSE;
}

/* ---- receiving ------------------------------------------------------------------------------ */

static void post(stream_transport_t *t, uint32_t type, int64_t a, int64_t b)
{
    media_event_post(t->queue, type, t->source, a, b);
}

/* rx_lock held: refresh our copy of the remote addresses when they changed. */
static void refresh_remote(stream_transport_t *t)
{
    unsigned generation = __atomic_load_n(&t->remote_generation, __ATOMIC_ACQUIRE);
    if (generation == t->seen_generation)
        return;
    pthread_mutex_lock(&t->tx_lock);
    memcpy(t->known_remote, t->remote, sizeof t->known_remote);
    memcpy(t->known_remote_length, t->remote_length, sizeof t->known_remote_length);
    t->seen_generation = t->remote_generation;
    pthread_mutex_unlock(&t->tx_lock);
}

static void set_received(stream_transport_t *t, int index, const struct sockaddr_storage *from, socklen_t length,
                         int latched)
{
    memcpy(&t->received[index], from, length);
    t->received_length[index] = length;
    post(t, STREAM_EVENT_ADDRESS, index + 1, latched);
}

/*
 * A valid RTP packet from `from` (rx_lock held). Packets from the remote address we send to are
 * taken at once; another source must send latch_packets packets in a row with one SSRC.
 */
static void observe_rtp_source(stream_transport_t *t, const struct sockaddr_storage *from, socklen_t length,
                               uint32_t ssrc)
{
    if (t->memory || length == 0)
        return;
    if (same_address(from, length, &t->received[0], t->received_length[0])) {
        t->candidate_count = 0; /* the steady state */
        return;
    }
    refresh_remote(t);
    if (same_address(from, length, &t->known_remote[0], t->known_remote_length[0])) {
        t->candidate_count = 0;
        set_received(t, 0, from, length, 1);
        return;
    }
    if (same_address(from, length, &t->candidate, t->candidate_length) && ssrc == t->candidate_ssrc) {
        t->candidate_count++;
    } else {
        memcpy(&t->candidate, from, length);
        t->candidate_length = length;
        t->candidate_ssrc = ssrc;
        t->candidate_count = 1;
    }
    if (t->candidate_count < t->latch_packets)
        return;
    t->candidate_count = 0;
    if (t->latching) {
        pthread_mutex_lock(&t->tx_lock);
        memcpy(&t->remote[0], from, length);
        t->remote_length[0] = length;
        if (!t->rtcp_mux && !t->rtcp_latched) {
            memcpy(&t->remote[1], from, length);
            set_port(&t->remote[1], get_port(from) + 1);
            t->remote_length[1] = length;
        }
        __atomic_store_n(&t->remote_generation, t->remote_generation + 1, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&t->tx_lock);
        STREAM_COUNT(t->rxs.latches);
    }
    set_received(t, 0, from, length, t->latching);
}

/* A valid RTCP packet on the RTCP socket (rx_lock held). */
static void observe_rtcp_source(stream_transport_t *t, const struct sockaddr_storage *from, socklen_t length)
{
    if (t->memory || length == 0 || t->rtcp_mux)
        return;
    if (same_address(from, length, &t->received[1], t->received_length[1]))
        return;
    refresh_remote(t);
    int from_remote = same_address(from, length, &t->known_remote[1], t->known_remote_length[1]);
    /* RTCP follows RTP: it may latch only to the host RTP comes from */
    if (!from_remote && t->latching && same_host(from, length, &t->received[0], t->received_length[0])) {
        pthread_mutex_lock(&t->tx_lock);
        memcpy(&t->remote[1], from, length);
        t->remote_length[1] = length;
        __atomic_store_n(&t->remote_generation, t->remote_generation + 1, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&t->tx_lock);
        t->rtcp_latched = 1;
        set_received(t, 1, from, length, 1);
        return;
    }
    set_received(t, 1, from, length, from_remote);
}

static void queue_stun(stream_transport_t *t, int component, const uint8_t *buf, size_t length,
                       const struct sockaddr_storage *from, socklen_t from_length)
{
    if (length > STREAM_STUN_MAX || t->stun_count == STREAM_STUN_QUEUE) {
        STREAM_COUNT(t->rxs.stun_dropped);
        return;
    }
    if (t->stun == NULL) {
        t->stun = malloc(STREAM_STUN_QUEUE * sizeof *t->stun);
        if (t->stun == NULL) {
            STREAM_COUNT(t->rxs.stun_dropped);
            return;
        }
    }
    stun_entry_t *e = &t->stun[(t->stun_head + t->stun_count) % STREAM_STUN_QUEUE];
    e->length = (uint16_t)length;
    e->component = (uint8_t)component;
    e->from_length = from_length;
    memcpy(&e->from, from, from_length);
    memcpy(e->data, buf, length);
    t->stun_count++;
    STREAM_COUNT(t->rxs.stun);
    /* one event per batch; when the queue was full, the next datagram tries again */
    if (!t->stun_posted)
        t->stun_posted = media_event_post(t->queue, STREAM_EVENT_STUN, t->source, t->stun_count, 0) == 0;
}

/* One datagram (rx_lock held). buf is writable (the transform works in place). */
static void process_datagram(stream_transport_t *t, int component, uint8_t *buf, size_t length,
                             const struct sockaddr_storage *from, socklen_t from_length, uint64_t now)
{
    int index = component - 1;
    rtp_header_t header;

    STREAM_COUNT(t->rxs.datagrams[index]);
    STREAM_COUNT_ADD(t->rxs.bytes[index], length);
    if (t->rx_closed)
        return;
    if (stream_is_stun(buf, length)) {
        queue_stun(t, component, buf, length, from, from_length);
        return;
    }
    if (length < 4 || (buf[0] >> 6) != RTP_VERSION) {
        STREAM_COUNT(t->rxs.ignored);
        return;
    }
    int rtcp = component == STREAM_COMPONENT_RTCP || (t->rtcp_mux && rtp_is_rtcp(buf, length));
    if (t->have_rx_transform && t->rx_transform.unprotect(t->rx_transform.ctx, rtcp, buf, &length) < 0) {
        STREAM_COUNT(t->rxs.transform_failed);
        return;
    }
    if (rtcp) {
        if (length < 8) {
            STREAM_COUNT(t->rxs.malformed);
            return;
        }
        STREAM_COUNT(t->rxs.rtcp);
        if (component == STREAM_COMPONENT_RTCP)
            observe_rtcp_source(t, from, from_length);
        if (t->have_sink)
            t->sink.on_rtcp(t->sink.ctx, buf, length, now);
        else
            STREAM_COUNT(t->rxs.no_sink);
        return;
    }
    if (rtp_parse(buf, length, &header) != RTP_OK) {
        STREAM_COUNT(t->rxs.malformed);
        return;
    }
    STREAM_COUNT(t->rxs.rtp);
    t->last_rx_ns = now;
    if (t->timed_out) {
        t->timed_out = 0;
        if (t->timeout_ns && t->handle[0] && !(t->clock && t->clock->manual))
            netio_set_timer(t->handle[0], now + t->timeout_ns);
    }
    observe_rtp_source(t, from, from_length, header.ssrc);
    if (t->have_sink)
        t->sink.on_rtp(t->sink.ctx, buf, length, &header, now);
    else
        STREAM_COUNT(t->rxs.no_sink);
}

/* One batch (the I/O thread): returns nonzero when the socket may hold more (netio.h). */
static int receive(stream_transport_t *t, int component, uint64_t now)
{
    netio_batch_t *b = netio_batch(t->io);
    int i, n;

    /* what the datagrams will need, loaded during the system call */
    __builtin_prefetch(&t->rx_lock);
    __builtin_prefetch(&t->rxs, 1);
    __builtin_prefetch(&t->received[0]);
    for (i = 0; i < NETIO_BATCH; i++)
        b->msgs[i].msg_hdr.msg_namelen = sizeof b->addrs[i];
    do
        n = recvmmsg(t->fd[component - 1], b->msgs, NETIO_BATCH, MSG_DONTWAIT, NULL);
    while (n < 0 && errno == EINTR);
    if (n < 0) /* drained, or an error (a queued ICMP error...) with datagrams maybe behind it */
        return errno != EAGAIN && errno != EWOULDBLOCK;
    if (n == 0)
        return 0;
    pthread_mutex_lock(&t->rx_lock);
    for (i = 0; i < n; i++) {
        size_t length = b->msgs[i].msg_len;
        if (b->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
            STREAM_COUNT(t->rxs.ignored);
            continue;
        }
        process_datagram(t, component, b->data[i], length, &b->addrs[i], b->msgs[i].msg_hdr.msg_namelen, now);
    }
    pthread_mutex_unlock(&t->rx_lock);
    return n == NETIO_BATCH;
}

static int on_read_rtp(netio_handle_t *h, void *user, uint64_t now)
{
    (void)h;
    return receive(user, STREAM_COMPONENT_RTP, now);
}

static int on_read_rtcp(netio_handle_t *h, void *user, uint64_t now)
{
    (void)h;
    return receive(user, STREAM_COMPONENT_RTCP, now);
}

/* rx_lock held. */
static uint64_t check_timeout(stream_transport_t *t, uint64_t now)
{
    if (t->rx_closed || t->timeout_ns == 0 || t->timed_out)
        return NETIO_NEVER;
    uint64_t due = t->last_rx_ns + t->timeout_ns;
    if (now < due)
        return due;
    t->timed_out = 1;
    STREAM_COUNT(t->rxs.timeouts);
    post(t, STREAM_EVENT_RTP_TIMEOUT, (int64_t)(t->timeout_ns / 1000000u), (int64_t)t->rxs.rtp);
    return NETIO_NEVER;
}

uint64_t stream_transport_service(stream_transport_t *t, uint64_t now_ns)
{
    pthread_mutex_lock(&t->rx_lock);
    uint64_t next = check_timeout(t, now_ns);
    pthread_mutex_unlock(&t->rx_lock);
    return next;
}

static void on_timer(netio_handle_t *h, void *user, uint64_t now)
{
    uint64_t next = stream_transport_service(user, now);
    if (next != NETIO_NEVER)
        netio_set_timer(h, next);
}

/* ---- life cycle ----------------------------------------------------------------------------- */

int stream_transport_create(netio_t *io, int fd_rtp, int fd_rtcp, int rtcp_mux,
                            media_event_queue_t *queue, uint64_t source, const stream_clock_t *clock,
                            stream_transport_t **out)
{
    stream_transport_t *t;
    int err, i;

    *out = NULL;
    if (posix_memalign((void **)&t, CACHE_LINE, sizeof *t) != 0)
        return -ENOMEM;
    memset(t, 0, sizeof *t);
    t->io = io;
    t->clock = clock;
    t->queue = queue;
    t->source = source;
    t->rtcp_mux = rtcp_mux;
    t->fd[0] = fd_rtp;
    t->fd[1] = rtcp_mux ? -1 : fd_rtcp;
    t->memory = fd_rtp < 0;
    t->latching = 1;
    t->latch_packets = 3;
    t->last_rx_ns = stream_clock_now(clock);
    pthread_mutex_init(&t->tx_lock, NULL);
    pthread_mutex_init(&t->rx_lock, NULL);
    for (i = 0; i < 2; i++) {
        if (t->fd[i] >= 0) {
            t->local_length[i] = sizeof t->local[i];
            if (getsockname(t->fd[i], (struct sockaddr *)&t->local[i], &t->local_length[i]) < 0)
                t->local_length[i] = 0;
        }
    }
    if (rtcp_mux && fd_rtcp >= 0 && fd_rtcp != fd_rtp)
        close(fd_rtcp);
    err = netio_add(io, t->fd[0], t->memory ? NULL : on_read_rtp, on_timer, t, &t->handle[0]);
    if (err == 0 && t->fd[1] >= 0)
        err = netio_add(io, t->fd[1], on_read_rtcp, NULL, t, &t->handle[1]);
    if (err < 0) {
        stream_transport_destroy(t);
        return err;
    }
    *out = t;
    return 0;
}

void stream_transport_close(stream_transport_t *t)
{
    stream_transport_t *peer;
    int i;

    pthread_mutex_lock(&t->tx_lock);
    if (t->tx_closed) {
        pthread_mutex_unlock(&t->tx_lock);
        return;
    }
    t->tx_closed = 1;
    t->have_transform = 0;
    peer = t->peer;
    t->peer = NULL;
    pthread_mutex_unlock(&t->tx_lock);
    if (peer != NULL) {
        pthread_mutex_lock(&peer->tx_lock);
        if (peer->peer == t)
            peer->peer = NULL;
        pthread_mutex_unlock(&peer->tx_lock);
    }
    for (i = 0; i < 2; i++) {
        if (t->handle[i] != NULL) {
            netio_remove(t->io, t->handle[i]);
            t->handle[i] = NULL;
        }
    }
    pthread_mutex_lock(&t->rx_lock);
    t->rx_closed = 1;
    t->have_sink = 0;
    t->have_rx_transform = 0;
    pthread_mutex_unlock(&t->rx_lock);
    /* no sender can use the sockets now (tx_closed), and the I/O thread has let go of them */
    for (i = 0; i < 2; i++) {
        if (t->fd[i] >= 0) {
            close(t->fd[i]);
            t->fd[i] = -1;
        }
    }
}

int stream_transport_is_closed(stream_transport_t *t)
{
    pthread_mutex_lock(&t->tx_lock);
    int closed = t->tx_closed;
    pthread_mutex_unlock(&t->tx_lock);
    return closed;
}

void stream_transport_destroy(stream_transport_t *t)
{
    if (t == NULL)
        return;
    stream_transport_close(t);
    free(t->stun);
    pthread_mutex_destroy(&t->tx_lock);
    pthread_mutex_destroy(&t->rx_lock);
    free(t);
}

void stream_transport_link_memory(stream_transport_t *a, stream_transport_t *b)
{
    pthread_mutex_lock(&a->tx_lock);
    a->peer = b;
    pthread_mutex_unlock(&a->tx_lock);
    pthread_mutex_lock(&b->tx_lock);
    b->peer = a;
    pthread_mutex_unlock(&b->tx_lock);
}

void stream_transport_set_loss(stream_transport_t *t, uint32_t every)
{
    pthread_mutex_lock(&t->tx_lock);
    t->loss_every = every;
    t->loss_count = 0;
    pthread_mutex_unlock(&t->tx_lock);
}

/* ---- configuration -------------------------------------------------------------------------- */

void stream_transport_set_remote(stream_transport_t *t, const struct sockaddr *rtp, socklen_t rtp_length,
                                 const struct sockaddr *rtcp, socklen_t rtcp_length)
{
    pthread_mutex_lock(&t->tx_lock);
    memset(t->remote, 0, sizeof t->remote);
    t->remote_length[0] = t->remote_length[1] = 0;
    if (rtp != NULL && rtp_length <= sizeof t->remote[0]) {
        memcpy(&t->remote[0], rtp, rtp_length);
        t->remote_length[0] = rtp_length;
    }
    if (rtcp != NULL && rtcp_length <= sizeof t->remote[1]) {
        memcpy(&t->remote[1], rtcp, rtcp_length);
        t->remote_length[1] = rtcp_length;
    }
    __atomic_store_n(&t->remote_generation, t->remote_generation + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&t->tx_lock);
    pthread_mutex_lock(&t->rx_lock);
    t->rtcp_latched = 0;
    t->candidate_count = 0;
    pthread_mutex_unlock(&t->rx_lock);
}

static socklen_t copy_address(pthread_mutex_t *lock, const struct sockaddr_storage *addr, socklen_t length,
                              struct sockaddr_storage *out)
{
    pthread_mutex_lock(lock);
    memcpy(out, addr, sizeof *out);
    pthread_mutex_unlock(lock);
    return length;
}

socklen_t stream_transport_remote(stream_transport_t *t, int component, struct sockaddr_storage *out)
{
    int index = component == STREAM_COMPONENT_RTCP && !t->rtcp_mux ? 1 : 0;
    pthread_mutex_lock(&t->tx_lock);
    socklen_t length = t->remote_length[index];
    memcpy(out, &t->remote[index], sizeof *out);
    pthread_mutex_unlock(&t->tx_lock);
    return length;
}

socklen_t stream_transport_received(stream_transport_t *t, int component, struct sockaddr_storage *out)
{
    int index = component == STREAM_COMPONENT_RTCP && !t->rtcp_mux ? 1 : 0;
    pthread_mutex_lock(&t->rx_lock);
    socklen_t length = t->received_length[index];
    memcpy(out, &t->received[index], sizeof *out);
    pthread_mutex_unlock(&t->rx_lock);
    return length;
}

socklen_t stream_transport_local(stream_transport_t *t, int component, struct sockaddr_storage *out)
{
    int index = component == STREAM_COMPONENT_RTCP && !t->rtcp_mux ? 1 : 0;
    return copy_address(&t->tx_lock, &t->local[index], t->local_length[index], out);
}

void stream_transport_set_latching(stream_transport_t *t, int latching, uint32_t latch_packets)
{
    pthread_mutex_lock(&t->rx_lock);
    t->latching = latching;
    t->latch_packets = latch_packets ? latch_packets : 1;
    t->candidate_count = 0;
    pthread_mutex_unlock(&t->rx_lock);
}

void stream_transport_set_timeout(stream_transport_t *t, uint64_t timeout_ns)
{
    uint64_t now = stream_clock_now(t->clock);
    pthread_mutex_lock(&t->rx_lock);
    t->timeout_ns = timeout_ns;
    t->timed_out = 0;
    t->last_rx_ns = now;
    int closed = t->rx_closed;
    pthread_mutex_unlock(&t->rx_lock);
    if (!closed && t->handle[0] != NULL && !(t->clock && t->clock->manual))
        netio_set_timer(t->handle[0], timeout_ns ? now + timeout_ns : NETIO_NEVER);
}

int stream_transport_set_sink(stream_transport_t *t, const stream_sink_t *sink)
{
    int status = STREAM_OK;
    pthread_mutex_lock(&t->rx_lock);
    if (t->rx_closed)
        status = STREAM_E_CLOSED;
    else if (t->have_sink && t->sink.ctx != sink->ctx)
        status = STREAM_E_STATE;
    else {
        t->sink = *sink;
        t->have_sink = 1;
    }
    pthread_mutex_unlock(&t->rx_lock);
    return status;
}

void stream_transport_clear_sink(stream_transport_t *t, void *ctx)
{
    pthread_mutex_lock(&t->rx_lock);
    if (t->have_sink && t->sink.ctx == ctx)
        t->have_sink = 0;
    pthread_mutex_unlock(&t->rx_lock);
}

void stream_transport_set_transform(stream_transport_t *t, const stream_transform_t *transform)
{
    pthread_mutex_lock(&t->rx_lock);
    pthread_mutex_lock(&t->tx_lock);
    if (transform != NULL && !t->tx_closed) {
        t->transform = *transform;
        t->rx_transform = *transform;
        t->have_transform = t->have_rx_transform = 1;
    } else {
        t->have_transform = t->have_rx_transform = 0;
    }
    pthread_mutex_unlock(&t->tx_lock);
    pthread_mutex_unlock(&t->rx_lock);
}

/* ---- sending -------------------------------------------------------------------------------- */

/* tx_lock held: hands the datagram to the memory peer's receive path, which works in place: in the
 * sender's own buffer when it is writable and not used after the send (`spare`), else in a copy. */
static void deliver_to_peer(stream_transport_t *t, int component, const uint8_t *data, uint8_t *spare,
                            size_t length)
{
    uint8_t copy[STREAM_MAX_DATAGRAM + STREAM_TRANSFORM_OVERHEAD] __attribute__((aligned(8)));
    static const struct sockaddr_storage none; /* no source address (length 0) */
    stream_transport_t *peer = t->peer;
    uint8_t *buf = spare;

    if (peer == NULL || length > sizeof copy)
        return;
    if (buf == NULL) {
        memcpy(copy, data, length);
        buf = copy;
    }
    pthread_mutex_lock(&peer->rx_lock);
    process_datagram(peer, component, buf, length, &none, 0, stream_clock_now(peer->clock));
    pthread_mutex_unlock(&peer->rx_lock);
}

int stream_transport_send(stream_transport_t *t, int component, uint8_t *buf, size_t length, size_t cap)
{
    int index = component == STREAM_COMPONENT_RTCP && !t->rtcp_mux ? 1 : 0;
    int status = STREAM_OK;

    pthread_mutex_lock(&t->tx_lock);
    if (t->tx_closed) {
        status = STREAM_E_CLOSED;
        goto dropped;
    }
    if (t->memory) {
        if (t->peer == NULL) {
            status = STREAM_E_NO_REMOTE;
            goto dropped;
        }
        if (component == STREAM_COMPONENT_RTP && t->loss_every &&
            ++t->loss_count % t->loss_every == 0)
            goto dropped;
    } else if (t->remote_length[index] == 0) {
        status = STREAM_E_NO_REMOTE;
        goto dropped;
    }
    if (t->have_transform &&
        t->transform.protect(t->transform.ctx, component == STREAM_COMPONENT_RTCP, buf, &length, cap) < 0) {
        STREAM_COUNT(t->txs.transform_failed);
        pthread_mutex_unlock(&t->tx_lock);
        return STREAM_E_TRANSFORM;
    }
    if (t->memory) {
        deliver_to_peer(t, index + 1, buf, buf, length); /* buf is the caller's scratch (see .h) */
    } else {
        ssize_t sent;
        do
            sent = sendto(t->fd[index], buf, length, 0, (struct sockaddr *)&t->remote[index],
                          t->remote_length[index]);
        while (sent < 0 && errno == EINTR);
        if (sent < 0) {
            t->txs.last_errno = errno;
            STREAM_COUNT(t->txs.errors);
            pthread_mutex_unlock(&t->tx_lock);
            return STREAM_E_SEND;
        }
    }
    STREAM_COUNT(t->txs.datagrams[index]);
    STREAM_COUNT_ADD(t->txs.bytes[index], length);
    pthread_mutex_unlock(&t->tx_lock);
    return STREAM_OK;
dropped:
    STREAM_COUNT(t->txs.dropped);
    pthread_mutex_unlock(&t->tx_lock);
    return status;
}

int stream_transport_send_to(stream_transport_t *t, int component, const uint8_t *data, size_t length,
                             const struct sockaddr *to, socklen_t to_length)
{
    int index = component == STREAM_COMPONENT_RTCP && !t->rtcp_mux ? 1 : 0;
    int status = STREAM_OK;

    pthread_mutex_lock(&t->tx_lock);
    if (t->tx_closed) {
        status = STREAM_E_CLOSED;
    } else if (t->memory) {
        deliver_to_peer(t, index + 1, data, NULL, length);
    } else {
        ssize_t sent;
        do
            sent = sendto(t->fd[index], data, length, 0, to, to_length);
        while (sent < 0 && errno == EINTR);
        if (sent < 0) {
            t->txs.last_errno = errno;
            STREAM_COUNT(t->txs.errors);
            status = -errno;
        }
    }
    if (status == STREAM_OK) {
        STREAM_COUNT(t->txs.datagrams[index]);
        STREAM_COUNT_ADD(t->txs.bytes[index], length);
    }
    pthread_mutex_unlock(&t->tx_lock);
    return status;
}

size_t stream_transport_take_stun(stream_transport_t *t, uint8_t *buf, size_t cap, int *component,
                                  struct sockaddr_storage *from, socklen_t *from_length)
{
    size_t length = 0;
    pthread_mutex_lock(&t->rx_lock);
    if (t->stun_count > 0) {
        stun_entry_t *e = &t->stun[t->stun_head];
        length = e->length <= cap ? e->length : cap;
        memcpy(buf, e->data, length);
        *component = e->component;
        memcpy(from, &e->from, sizeof *from);
        *from_length = e->from_length;
        t->stun_head = (t->stun_head + 1) % STREAM_STUN_QUEUE;
        t->stun_count--;
    }
    if (t->stun_count == 0)
        t->stun_posted = 0;
    pthread_mutex_unlock(&t->rx_lock);
    return length;
}

void stream_transport_get_stats(stream_transport_t *t, stream_transport_stats_t *out)
{
    tx_counters_t tx;
    rx_counters_t rx;
    int i;

    pthread_mutex_lock(&t->rx_lock);
    rx = t->rxs;
    pthread_mutex_unlock(&t->rx_lock);
    pthread_mutex_lock(&t->tx_lock);
    tx = t->txs;
    pthread_mutex_unlock(&t->tx_lock);
    memset(out, 0, sizeof *out);
    for (i = 0; i < 2; i++) {
        out->rx_datagrams[i] = rx.datagrams[i];
        out->rx_bytes[i] = rx.bytes[i];
        out->tx_datagrams[i] = tx.datagrams[i];
        out->tx_bytes[i] = tx.bytes[i];
    }
    out->rx_rtp = rx.rtp;
    out->rx_rtcp = rx.rtcp;
    out->rx_stun = rx.stun;
    out->rx_stun_dropped = rx.stun_dropped;
    out->rx_ignored = rx.ignored;
    out->rx_malformed = rx.malformed;
    out->rx_transform_failed = rx.transform_failed;
    out->rx_no_sink = rx.no_sink;
    out->timeouts = rx.timeouts;
    out->latches = rx.latches;
    out->tx_errors = tx.errors;
    out->tx_dropped = tx.dropped;
    out->tx_transform_failed = tx.transform_failed;
    out->last_errno = tx.last_errno;
}
