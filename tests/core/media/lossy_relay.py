"""A small UDP relay on 127.0.0.1 for the media acceptance tests: it sits between two RTP
transports (one relay per component, RTP or RTCP) and drops the datagrams going from A to B that
its ``drop`` policy picks.

Both transports are pointed at the relay's one socket; a datagram from A's address goes to B, any
other goes to A (so B's latching sees the relay, which is where it sends anyway). The thread stops
when ``close()`` is called or after ``limit`` datagrams, whichever comes first, and every wait is
a bounded ``select``.
"""

from __future__ import annotations

import random
import select
import socket
import threading
from collections.abc import Callable

LOCALHOST = "127.0.0.1"

#: A drop policy: called with each datagram from A (in order), True drops it.
DropPolicy = Callable[[bytes], bool]


def never(_data: bytes) -> bool:
    return False


def seeded_loss(rate: float, seed: int = 5) -> DropPolicy:
    """Drops each datagram with probability ``rate``, from a seeded generator (repeatable)."""
    rng = random.Random(seed)
    return lambda _data: rng.random() < rate


def rtp_payload_type(data: bytes) -> int | None:
    return data[1] & 0x7F if len(data) >= 12 and data[0] >> 6 == 2 else None


def rtp_payload(data: bytes) -> bytes:
    """The payload of an RTP packet (after CSRCs and a header extension; no padding handling)."""
    offset = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10 and len(data) >= offset + 4:
        offset += 4 + 4 * int.from_bytes(data[offset + 2 : offset + 4], "big")
    return data[offset:]


def drop_end_packets(payload_type: int, keep_last_of: Callable[[int], bool]) -> DropPolicy:
    """An RFC 4733 policy: of each event's (usually three) end packets, drop all but the last when
    ``keep_last_of(event)`` is True, else drop only the first. Never all of them, so every digit
    still has one end packet."""
    seen: dict[int, int] = {}  # RTP timestamp (one per event) -> end packets seen

    def drop(data: bytes) -> bool:
        if rtp_payload_type(data) != payload_type:
            return False
        payload = rtp_payload(data)
        if len(payload) < 4 or not payload[1] & 0x80:
            return False
        timestamp = int.from_bytes(data[4:8], "big")
        count = seen[timestamp] = seen.get(timestamp, 0) + 1
        return count < 3 if keep_last_of(payload[0]) else count == 1

    return drop


class LossyRelay:
    """Forwards datagrams between ``a`` and ``b``; ``drop`` decides for each one from ``a``."""

    def __init__(
        self, a: tuple[str, int], b: tuple[str, int], drop: DropPolicy = never, limit: int = 50000
    ) -> None:
        self.a, self.b, self.drop, self.limit = a, b, drop, limit
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOCALHOST, 0))
        self.port: int = self.sock.getsockname()[1]
        self.forwarded = self.dropped = 0
        self.dropped_packets: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lossy-relay", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set() and self.forwarded + self.dropped < self.limit:
            if not select.select([self.sock], [], [], 0.05)[0]:
                continue
            try:
                data, source = self.sock.recvfrom(65536)
            except OSError:
                continue
            if source == self.a:
                if self.drop(data):
                    self.dropped += 1
                    self.dropped_packets.append(data)
                    continue
                target = self.b
            else:
                target = self.a
            try:
                self.sock.sendto(data, target)
            except OSError:
                pass  # the peer closed: nothing to forward to
            self.forwarded += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
