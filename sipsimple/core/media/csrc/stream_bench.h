/* stream_bench.h - baselines for benchmarks/media_cpu.py (see stream_bench.c). */
#ifndef SIPSIMPLE_MEDIA_STREAM_BENCH_H
#define SIPSIMPLE_MEDIA_STREAM_BENCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * `pairs` pairs of UDP sockets on 127.0.0.1; `rounds` times, every socket sends one datagram of
 * `payload` bytes to its partner, then every socket reads one. Returns the CPU time of the calling
 * thread in ns (or a negative errno); *moved counts the datagrams sent plus those received.
 */
int64_t stream_bench_loopback(unsigned pairs, unsigned rounds, unsigned payload, uint64_t *moved);

#ifdef __cplusplus
}
#endif
#endif
