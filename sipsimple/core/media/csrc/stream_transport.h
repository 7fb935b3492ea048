/*
 * stream_transport.h - an RTP transport: the UDP socket pair (or one rtcp-mux socket) of a media
 * stream, owned by the engine's I/O thread (netio.h).
 *
 * Receiving (I/O thread, no GIL): each datagram is classified as STUN (RFC 5389: two zero bits,
 * the magic cookie, a length that matches; queued for Python), RTCP (the RTCP socket, or RFC 5761
 * packet types on an rtcp-mux socket), RTP (version 2 and a header that parses) or something else
 * (counted, dropped). A transform (SRTP) unprotects RTP/RTCP before anything else looks at it.
 * RTP and RTCP then go to the sink, the audio stream attached to the transport.
 *
 * Symmetric RTP (latching): the transport learns where RTP comes from. A source other than the
 * remote address must send `latch_packets` valid RTP packets in a row with the same SSRC before
 * it is taken as the new received address; with latching on, the transport then also sends there
 * (RTCP: to the next port up, unless rtcp-mux, until RTCP itself arrives from that host). Both are
 * reported with STREAM_EVENT_ADDRESS.
 *
 * RTP timeout: when no RTP has arrived for `timeout` (from when it was set, or from the last
 * packet), STREAM_EVENT_RTP_TIMEOUT is posted once; the next RTP packet re-arms it.
 *
 * Sending: any thread. The mixer's thread sends RTP directly (sendto() on the non-blocking
 * socket, under the transport's send lock, which nothing holds for long: no queue, no wake-up of
 * another thread per packet); the I/O thread sends RTCP; Python sends STUN datagrams.
 *
 * Memory transports (no sockets) deliver what they send to their peer synchronously, on the
 * sending thread, through the same receive path: the no-network benchmark and deterministic tests.
 *
 * Locks: `rx_lock` covers the receive side (sink, latching, timeout, STUN queue, transform
 * unprotect), `tx_lock` the send side (remote addresses, sockets, transform protect). Order:
 * rx_lock before tx_lock (latching); a memory transport holds its tx_lock while delivering into
 * its peer's rx_lock, and memory transports do not latch, so there is no cycle.
 */
#ifndef SIPSIMPLE_MEDIA_STREAM_TRANSPORT_H
#define SIPSIMPLE_MEDIA_STREAM_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "events.h"
#include "netio.h"
#include "rtp.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct stream_transport stream_transport_t;

/* Where received RTP and RTCP go (the audio stream). Called with the transport's rx_lock held. */
typedef struct stream_sink {
    void *ctx;
    void (*on_rtp)(void *ctx, const uint8_t *packet, size_t length, const rtp_header_t *header,
                   uint64_t now_ns);
    void (*on_rtcp)(void *ctx, const uint8_t *packet, size_t length, uint64_t now_ns);
} stream_sink_t;

typedef struct stream_transport_stats {
    uint64_t rx_datagrams[2];     /* per component (RTP socket, RTCP socket) */
    uint64_t rx_bytes[2];
    uint64_t rx_rtp;              /* valid RTP packets */
    uint64_t rx_rtcp;
    uint64_t rx_stun;
    uint64_t rx_stun_dropped;     /* the STUN queue was full or the datagram too large */
    uint64_t rx_ignored;          /* neither RTP/RTCP nor STUN */
    uint64_t rx_malformed;        /* version 2 but the RTP header does not parse */
    uint64_t rx_transform_failed; /* unprotect() refused (SRTP authentication, replay) */
    uint64_t rx_no_sink;          /* RTP/RTCP while no stream was attached */
    uint64_t tx_datagrams[2];
    uint64_t tx_bytes[2];
    uint64_t tx_errors;           /* sendto() failed */
    uint64_t tx_dropped;          /* no remote address yet, closed, or the loss pattern */
    uint64_t tx_transform_failed;
    uint64_t timeouts;
    uint64_t latches;
    int last_errno;               /* of the last failed sendto() */
} stream_transport_stats_t;

#define STREAM_STUN_QUEUE 16u
#define STREAM_STUN_MAX 1280u     /* larger STUN datagrams are dropped (ICE messages are ~100-600) */

/*
 * Opens and binds the sockets: an even port p for RTP and p + 1 for RTCP (only p with rtcp_mux),
 * from the pairs of [start, end], beginning with pair index `first` and wrapping; a port in use
 * (EADDRINUSE, EACCES) moves to the next pair, at most once round the range. start = end = 0: ports
 * the kernel chooses (RTCP still on p + 1; a bounded number of attempts). `local` gives the family
 * and address (its port is ignored). Returns the pair index used (>= 0) or a negative errno
 * (-EADDRINUSE: the range is exhausted); *tries counts the ports tried.
 */
int stream_transport_bind(const struct sockaddr *local, socklen_t local_length, unsigned start,
                          unsigned end, unsigned first, int rtcp_mux, int *fd_rtp, int *fd_rtcp,
                          unsigned *tries);

/*
 * Creates a transport over bound sockets (fd_rtcp = -1 with rtcp_mux), or a memory transport (both
 * -1; link two with stream_transport_link_memory). The transport owns the descriptors from here.
 * `clock` (may be NULL: monotonic) must outlive it; with a manual clock no timer is armed on the
 * I/O thread and the caller drives stream_transport_service(). Returns 0 or a negative errno.
 */
int stream_transport_create(netio_t *io, int fd_rtp, int fd_rtcp, int rtcp_mux,
                            media_event_queue_t *queue, uint64_t source, const stream_clock_t *clock,
                            stream_transport_t **out);
/* Closes (if not yet) and frees. */
void stream_transport_destroy(stream_transport_t *t);
/* Stops receiving and sending, unregisters from the I/O thread (synchronous) and closes the
 * sockets. Idempotent. */
void stream_transport_close(stream_transport_t *t);
int stream_transport_is_closed(stream_transport_t *t);

void stream_transport_link_memory(stream_transport_t *a, stream_transport_t *b);
/* Memory transports: drop every `every`-th RTP packet sent (0: none), for loss tests. */
void stream_transport_set_loss(stream_transport_t *t, uint32_t every);

/* The remote addresses (from SDP). rtcp may be NULL (rtcp-mux, or not known). */
void stream_transport_set_remote(stream_transport_t *t, const struct sockaddr *rtp, socklen_t rtp_length,
                                 const struct sockaddr *rtcp, socklen_t rtcp_length);
/* Where we send (component 1/2) and where it comes from; returns 0 when not known. */
socklen_t stream_transport_remote(stream_transport_t *t, int component, struct sockaddr_storage *out);
socklen_t stream_transport_received(stream_transport_t *t, int component, struct sockaddr_storage *out);
socklen_t stream_transport_local(stream_transport_t *t, int component, struct sockaddr_storage *out);

/* latch_packets: consecutive packets that move the received address (>= 1); latching: also send
 * there. */
void stream_transport_set_latching(stream_transport_t *t, int latching, uint32_t latch_packets);
/* 0 disables the timeout. Starts counting now. */
void stream_transport_set_timeout(stream_transport_t *t, uint64_t timeout_ns);
/* Timers for a manual clock: checks the timeout at now_ns; returns the next deadline. */
uint64_t stream_transport_service(stream_transport_t *t, uint64_t now_ns);

/* Attaches the stream: STREAM_OK, STREAM_E_STATE when another stream is attached, STREAM_E_CLOSED.
 * Detaching (only the sink with that ctx) is synchronous with the receive path: when it returns,
 * no callback of the sink runs. */
int stream_transport_set_sink(stream_transport_t *t, const stream_sink_t *sink);
void stream_transport_clear_sink(stream_transport_t *t, void *ctx);
/* Install (NULL: remove) a transform; see stream.h for its rules. */
void stream_transport_set_transform(stream_transport_t *t, const stream_transform_t *transform);

/*
 * Sends an RTP (component 1) or RTCP (component 2) packet to the remote address, through the
 * transform. buf must have cap >= length + STREAM_TRANSFORM_OVERHEAD (the transform works in
 * place). Its content is undefined afterwards (a memory transport's peer receives in it, without a
 * copy). Returns STREAM_OK or a negative STREAM_E_* status.
 */
int stream_transport_send(stream_transport_t *t, int component, uint8_t *buf, size_t length, size_t cap);
/* Sends a datagram as it is (no transform) from the component's socket to `to` (STUN, ICE). */
int stream_transport_send_to(stream_transport_t *t, int component, const uint8_t *data, size_t length,
                             const struct sockaddr *to, socklen_t to_length);

/* Takes the oldest queued STUN datagram: returns its length (0: none), its component and source. */
size_t stream_transport_take_stun(stream_transport_t *t, uint8_t *buf, size_t cap, int *component,
                                  struct sockaddr_storage *from, socklen_t *from_length);

void stream_transport_get_stats(stream_transport_t *t, stream_transport_stats_t *out);

/* RFC 5389 §6 demultiplexing test (sipsimple.core.nat.stun.is_stun). */
int stream_is_stun(const uint8_t *buf, size_t length);

/* Builds a sockaddr for a numeric IPv4/IPv6 address; family 0 = either. Returns its length or 0. */
socklen_t stream_make_address(const char *host, unsigned port, int family, struct sockaddr_storage *out);
/* Writes the numeric host of `addr` to host (>= 46 bytes) and returns the port (-1: not IP). */
int stream_address_parts(const struct sockaddr_storage *addr, char *host, size_t host_size);

#ifdef __cplusplus
}
#endif
#endif
