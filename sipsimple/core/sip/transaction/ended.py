"""Server transactions whose work is done, kept as small records while they absorb retransmissions.

Once a server transaction has sent its final response and nothing more can come from its TU, the
RFC leaves it one passive job for a fixed time (RFC 3261 §17.2, RFC 6026):

* a non-INVITE in Completed answers every retransmitted request with its final response, until
  Timer J (64*T1 on unreliable transports);
* an INVITE in Accepted (it sent a 2xx) absorbs retransmitted INVITEs and passes an ACK that
  matches it to the TU, until Timer L (64*T1); re-sending the 2xx is the TU's job;
* an INVITE in Confirmed (its non-2xx was acknowledged) absorbs INVITEs and ACKs, until Timer I
  (T4 on unreliable transports).

The full machine and its driver are many objects (under load, thousands of them for 32 s, which
the cyclic garbage collector walks again and again). :class:`EndedTransactions` keeps, per key,
one plain tuple of what that job needs: the response's bytes and where they go (nothing for the
INVITE states, which answer nothing), what to do with an ACK, and the deadline. Records with one
lifetime expire in the order they were added, so a queue per lifetime is the expiry wheel: no timer
per record. Sans-IO: the caller passes the time in and sends what it is told to.

Memory: a key that is a tuple (a ``ServerKey``) is stored as a plain tuple, and a record is a plain
tuple of numbers, bytes and the destination; when the destination is a plain tuple of strings and
numbers too, the cyclic garbage collector stops tracking the record after its first pass over it,
so thousands of records cost it nothing. (It never untracks instances of tuple subclasses such as
named tuples.)

Rules:

* :meth:`add` stores a record until ``now + lifetime``; adding a key again replaces its record.
* :meth:`receive` classifies a request that matched a record: :data:`Absorb` (drop it),
  :class:`Resend` (send these bytes there), :data:`PassAck` (hand the ACK to the TU); ``None``
  when no live record matches (a record past its deadline is already gone for matching).
* :meth:`expire` drops every record whose deadline is reached and returns their keys;
  :meth:`next_deadline` says when the next one is due (``None``: nothing stored).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Hashable
from typing import Any, NamedTuple

__all__ = ["AckRule", "Absorb", "EndedTransactions", "PassAck", "Resend"]


class AckRule(enum.Enum):
    """What an ACK matching an ended INVITE transaction is."""

    REFUSE = "not an INVITE: an ACK never matches"  # a non-INVITE record (an ACK cannot reach it)
    ABSORB = "absorbed (Confirmed: the ACK for our non-2xx, retransmitted)"
    PASS = "passed to the TU (Accepted: an ACK for our 2xx that reused the INVITE's branch)"


class Resend(NamedTuple):
    """Send ``data`` to ``destination`` again (the stored final response)."""

    data: bytes
    destination: Any


class _Verdict(enum.Enum):
    ABSORB = "absorb"
    PASS_ACK = "pass the ACK to the TU"


#: the request is a retransmission with nothing to answer: drop it
Absorb = _Verdict.ABSORB
#: the request is an ACK the TU must see (RFC 6026 §8.7)
PassAck = _Verdict.PASS_ACK


#: what a record does with an ACK, as a number (an enum member would keep the record tracked)
_ACK_CODES = {AckRule.REFUSE: 0, AckRule.ABSORB: 1, AckRule.PASS: 2}
_PASS = _ACK_CODES[AckRule.PASS]

#: a record: (deadline, the final response to send again or None, its destination, ACK code)
_Record = tuple[float, bytes | None, Any, int]


class EndedTransactions:
    """The ended server transactions, by matching key (see the module rules)."""

    __slots__ = ("_queues", "_records")

    def __init__(self) -> None:
        self._records: dict[Hashable, _Record] = {}
        self._queues: dict[float, deque[tuple[float, Hashable]]] = {}  # lifetime -> (deadline, key)

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, key: object) -> bool:
        return key in self._records

    def add(
        self,
        key: Hashable,
        now: float,
        lifetime: float,
        *,
        data: bytes | None = None,
        destination: Any = None,
        ack: AckRule = AckRule.REFUSE,
    ) -> None:
        """Keep ``key`` until ``now + lifetime``: answer its retransmissions with ``data`` sent to
        ``destination`` (``None``: absorb them); ``ack`` says what a matching ACK is."""
        if lifetime <= 0:
            raise ValueError(f"a record needs a positive lifetime, not {lifetime!r}")
        if (data is None) != (destination is None):
            raise ValueError("data and destination go together")
        deadline = now + lifetime
        if type(key) is not tuple and isinstance(key, tuple):
            key = tuple(key)  # equal and hashed alike, and untracked by the collector
        self._records[key] = (deadline, data, destination, _ACK_CODES[ack])
        queue = self._queues.get(lifetime)
        if queue is None:
            queue = self._queues[lifetime] = deque()
        queue.append((deadline, key))

    def discard(self, key: Hashable) -> None:
        """Forget ``key`` now (its queue entry is skipped when it comes due)."""
        self._records.pop(key, None)

    def receive(self, key: Hashable, is_ack: bool, now: float) -> Resend | _Verdict | None:
        """What to do with a received request whose matching key is ``key``."""
        record = self._records.get(key)
        if record is None:
            return None
        deadline, data, destination, ack = record
        if deadline <= now:
            return None
        if is_ack:
            # Confirmed: absorbed; REFUSE cannot happen (an ACK has the key of an INVITE)
            return PassAck if ack == _PASS else Absorb
        if data is None:
            return Absorb
        return Resend(data, destination)

    def expire(self, now: float) -> list[Hashable]:
        """Drop the records whose deadline is ``now`` or earlier; their keys."""
        gone: list[Hashable] = []
        records = self._records
        for lifetime, queue in list(self._queues.items()):
            while queue and queue[0][0] <= now:
                deadline, key = queue.popleft()
                record = records.get(key)
                if record is not None and record[0] == deadline:  # not replaced since
                    del records[key]
                    gone.append(key)
            if not queue:
                del self._queues[lifetime]
        return gone

    def next_deadline(self) -> float | None:
        """When :meth:`expire` next has something to do; ``None`` when nothing is stored.

        A replaced or discarded record may leave an entry behind, so the time can come early
        (expire then finds nothing); it is never late."""
        heads = [queue[0][0] for queue in self._queues.values() if queue]
        return min(heads) if heads else None
