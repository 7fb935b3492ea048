/*
 * stream_bench.c - the baseline of benchmarks/media_cpu.py: what the kernel alone costs to move
 * the same packets over loopback, measured by the plainest C loop (no threads, no epoll, no RTP).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "stream_bench.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int loopback_socket(struct sockaddr_in *bound)
{
    socklen_t length = sizeof *bound;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    memset(bound, 0, sizeof *bound);
    bound->sin_family = AF_INET;
    bound->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)bound, sizeof *bound) < 0 ||
        getsockname(fd, (struct sockaddr *)bound, &length) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

int64_t stream_bench_loopback(unsigned pairs, unsigned rounds, unsigned payload, uint64_t *moved)
{
    int *fds;
    struct sockaddr_in *addrs;
    uint8_t buf[2048];
    unsigned i, r;
    int64_t result;

    *moved = 0;
    if (pairs == 0 || payload > sizeof buf)
        return -EINVAL;
    fds = calloc(2 * pairs, sizeof *fds);
    addrs = calloc(2 * pairs, sizeof *addrs);
    if (fds == NULL || addrs == NULL) {
        free(fds);
        free(addrs);
        return -ENOMEM;
    }
    for (i = 0; i < 2 * pairs; i++)
        fds[i] = -1;
    for (i = 0; i < 2 * pairs; i++) {
        fds[i] = loopback_socket(&addrs[i]);
        if (fds[i] < 0) {
            result = fds[i];
            goto out;
        }
    }
    memset(buf, 0x55, sizeof buf);
    uint64_t start = cpu_ns();
    for (r = 0; r < rounds; r++) {
        /* every call sends one packet each way, then both ends read theirs */
        for (i = 0; i < 2 * pairs; i++)
            if (sendto(fds[i], buf, payload, 0, (struct sockaddr *)&addrs[i ^ 1], sizeof addrs[i]) == (ssize_t)payload)
                (*moved)++;
        for (i = 0; i < 2 * pairs; i++)
            if (recv(fds[i], buf, sizeof buf, MSG_DONTWAIT) > 0)
                (*moved)++;
    }
    result = (int64_t)(cpu_ns() - start);
out:
    for (i = 0; i < 2 * pairs; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    free(addrs);
    return result;
}
