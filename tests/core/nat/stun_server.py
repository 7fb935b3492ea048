"""A small in-process RFC 5780 STUN server for tests: UDP on two loopback addresses and two ports.

It answers Binding requests with XOR-MAPPED-ADDRESS, RESPONSE-ORIGIN and OTHER-ADDRESS, honours
CHANGE-REQUEST by answering from the socket with the other IP and/or port, and can be told to
stay silent (``silent = True``) or to ignore CHANGE-REQUEST. Built on our own codec, so it checks
the runner, not the codec (the interop suite checks the codec against coturn).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.protocol import DatagramProtocol

from sipsimple.core.nat.stun import Attribute, Change, MessageClass, StunError, TransportAddress, parse

HOSTS = ("127.0.0.1", "127.0.0.2")


class _Socket(DatagramProtocol):
    def __init__(self, server: FakeSTUNServer, address: TransportAddress) -> None:
        self.server = server
        self.address = address

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.server.received.append((datagram, TransportAddress(addr[0], addr[1]), self.address))
        if not self.server.silent:
            self.server.answer(datagram, TransportAddress(addr[0], addr[1]), self.address)


class FakeSTUNServer:
    """``start()`` binds 127.0.0.1 and 127.0.0.2 on two ports; ``primary``/``other`` addresses."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.silent = False
        self.honour_change = True
        self.received: list[tuple[bytes, TransportAddress, TransportAddress]] = []
        self.sockets: dict[TransportAddress, _Socket] = {}
        self.ports: list[Any] = []
        self.primary = self.other = TransportAddress(HOSTS[0], 0)

    def start(self) -> FakeSTUNServer:
        from twisted.internet.error import CannotListenError

        for _ in range(50):
            ports: list[int] = []
            try:
                for _ in range(2):
                    ports.append(self._listen(HOSTS[0], 0))
                    self._listen(HOSTS[1], ports[-1])
            except CannotListenError:
                self.stop()
                continue
            self.primary = TransportAddress(HOSTS[0], ports[0])
            self.other = TransportAddress(HOSTS[1], ports[1])
            return self
        raise RuntimeError("no pair of free UDP ports on 127.0.0.1 and 127.0.0.2")

    def _listen(self, host: str, port: int) -> int:
        protocol = _Socket(self, TransportAddress(host, 0))
        listening = self.reactor.listenUDP(port, protocol, interface=host)
        protocol.address = TransportAddress(host, listening.getHost().port)
        self.sockets[protocol.address] = protocol
        self.ports.append(listening)
        return protocol.address.port

    def stop(self) -> None:
        for port in self.ports:
            port.stopListening()
        self.ports.clear()
        self.sockets.clear()

    def _flip(self, address: TransportAddress, change: Change) -> TransportAddress:
        host, port = address
        if change & Change.IP:
            host = HOSTS[1] if host == HOSTS[0] else HOSTS[0]
        if change & Change.PORT:
            port = self.other.port if port == self.primary.port else self.primary.port
        return TransportAddress(host, port)

    def answer(self, datagram: bytes, source: TransportAddress, to: TransportAddress) -> None:
        try:
            request = parse(datagram)
        except StunError:
            return
        change = request.get(Attribute.CHANGE_REQUEST, Change.NONE)
        origin = self._flip(to, change) if self.honour_change else to
        response = request.reply(
            MessageClass.SUCCESS,
            [
                (Attribute.XOR_MAPPED_ADDRESS, source),
                (Attribute.RESPONSE_ORIGIN, origin),
                (Attribute.OTHER_ADDRESS, self._flip(origin, Change.IP | Change.PORT)),
            ],
        )
        self.sockets[origin].transport.write(response.encode(fingerprint=True), source)  # type: ignore[union-attr]
