"""An in-process DNS server for the lookup tests: records from a table, and on demand the faults a
real server can show (garbage, truncation, SERVFAIL, silence), on UDP and TCP of one address.

It runs in a thread of its own with plain sockets and a selector (no reactor), so it serves the
lookups of a test's fresh reactor and those of a SIPApplication's Twisted thread alike. Messages are
parsed and built with dnspython. Several servers can share one port on different loopback addresses
(127.0.0.1, 127.0.0.2, ...), which is what the NS-first tests need: the lookup asks every nameserver
on the port it was configured with.

Answers: the records of the queried name and type, following CNAMEs in the table (up to
``MAX_CNAMES`` steps, so a loop gives a chain dnspython refuses); a name known with other types only
is an empty NOERROR answer, an unknown name NXDOMAIN. ``authoritative`` sets the AA flag.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

__all__ = ["FAULTS", "ZoneServer"]

MAX_CNAMES = 20
#: what a server can be told to do for a name instead of answering properly: garbage (dnspython
#: ignores it over UDP, as it would a spoofed packet), a truncated UDP answer (then a good one over
#: TCP), a truncated UDP answer then garbage over TCP, truncated answers on both, SERVFAIL, REFUSED,
#: no answer at all
FAULTS = ("garble", "truncate", "garble-tcp", "truncate-always", "servfail", "refuse", "drop")

Records = dict[tuple[str, str], list[str]]


def _key(name: str) -> str:
    return name.rstrip(".").lower()


@dataclass
class ZoneServer:
    """``ZoneServer(records, host="127.0.0.1", port=0)``; ``start()`` binds UDP and TCP on one port.

    ``records``: ``{(name, type): ["rdata text", ...]}``; ``faults``: ``{name: fault}`` with a fault
    from `FAULTS`; ``queries`` records ``(name, type, "udp"/"tcp")`` of every query received.
    """

    records: Records
    host: str = "127.0.0.1"
    port: int = 0
    ttl: int = 300
    authoritative: bool = True
    faults: dict[str, str] = field(default_factory=dict)
    queries: list[tuple[str, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.records = {(_key(name), rdtype.upper()): texts for (name, rdtype), texts in self.records.items()}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._selector: selectors.BaseSelector | None = None
        self._lock = threading.Lock()

    # -- life cycle -----------------------------------------------------------------------------

    def start(self) -> ZoneServer:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            udp.bind((self.host, self.port))
            self.port = udp.getsockname()[1]
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((self.host, self.port))
            tcp.listen(8)
        except OSError:
            udp.close()
            tcp.close()
            raise
        self._selector = selectors.DefaultSelector()
        self._selector.register(udp, selectors.EVENT_READ, "udp")
        self._selector.register(tcp, selectors.EVENT_READ, "listen")
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name=f"zone-server {self.host}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise AssertionError(f"the DNS server on {self.host}:{self.port} did not stop in {timeout} s")
            self._thread = None

    def __enter__(self) -> ZoneServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<ZoneServer {self.host}:{self.port} {len(self.records)} rrsets>"

    def queried(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return list(self.queries)

    # -- the loop -------------------------------------------------------------------------------

    def _serve(self) -> None:
        assert self._selector is not None
        selector = self._selector
        try:
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.05):
                    sock: socket.socket = key.fileobj  # type: ignore[assignment]
                    if key.data == "udp":
                        self._on_datagram(sock)
                    elif key.data == "listen":
                        connection, _ = sock.accept()
                        connection.settimeout(2.0)
                        selector.register(connection, selectors.EVENT_READ, "tcp")
                    else:
                        selector.unregister(sock)
                        with contextlib.closing(sock):
                            self._on_stream(sock)
        finally:
            for key in list(selector.get_map().values()):
                with contextlib.suppress(OSError):
                    key.fileobj.close()  # type: ignore[union-attr]
            selector.close()

    def _on_datagram(self, sock: socket.socket) -> None:
        try:
            wire, peer = sock.recvfrom(65535)
        except OSError:
            return
        reply = self._reply(wire, "udp")
        if reply is not None:
            with contextlib.suppress(OSError):
                sock.sendto(reply, peer)

    def _on_stream(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError, struct.error):
            for wire in _frames(sock):
                reply = self._reply(wire, "tcp")
                if reply is None:
                    return
                sock.sendall(struct.pack("!H", len(reply)) + reply)

    # -- answers --------------------------------------------------------------------------------

    def _reply(self, wire: bytes, transport: str) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
            question = query.question[0]
        except Exception:
            return None
        name, rdtype = _key(question.name.to_text()), dns.rdatatype.to_text(question.rdtype)
        with self._lock:
            self.queries.append((name, rdtype, transport))
        fault = self.faults.get(name)
        if fault == "drop":
            return None
        if fault == "garble" or (fault == "garble-tcp" and transport == "tcp"):
            return wire[:2] + b"\x81\x80\x00\x01garbage that is not a DNS message"
        response = dns.message.make_response(query)
        if self.authoritative:
            response.flags |= dns.flags.AA
        if fault in ("servfail", "refuse"):
            response.set_rcode(dns.rcode.SERVFAIL if fault == "servfail" else dns.rcode.REFUSED)
            return response.to_wire()
        if fault == "truncate-always" or (fault in ("truncate", "garble-tcp") and transport == "udp"):
            response.flags |= dns.flags.TC
            return response.to_wire()
        self._answer(response, name, rdtype)
        return response.to_wire()

    def _answer(self, response: dns.message.Message, name: str, rdtype: str) -> None:
        for _ in range(MAX_CNAMES):
            texts = self.records.get((name, rdtype))
            if texts is not None:
                response.answer.append(self._rrset(name, rdtype, texts))
                return
            cname = self.records.get((name, "CNAME"))
            if cname is None:
                break
            response.answer.append(self._rrset(name, "CNAME", cname[:1]))
            name = _key(cname[0])
        if not response.answer and not any(known == name for known, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)

    def _rrset(self, name: str, rdtype: str, texts: list[str]) -> dns.rrset.RRset:
        return dns.rrset.from_text_list(name + ".", self.ttl, dns.rdataclass.IN, rdtype, texts)


def _frames(sock: socket.socket) -> Iterator[bytes]:
    """Length-prefixed DNS messages from a TCP connection until it closes."""
    while True:
        header = _exactly(sock, 2)
        if header is None:
            return
        body = _exactly(sock, struct.unpack("!H", header)[0])
        if body is None:
            return
        yield body


def _exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data
