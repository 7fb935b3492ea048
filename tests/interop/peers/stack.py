"""``PeerStack``: starts peers for one scope (a test, a module) and stops all of them at its end.

The pytest fixtures in ``tests/interop/conftest.py`` are function-scoped stacks; a test module that
wants a registrar for all its tests builds its own::

    @pytest.fixture(scope="module")
    def registrar(tmp_path_factory, test_ca):
        with PeerStack(tmp_path_factory, test_ca) as stack:
            yield stack.kamailio(features=("auth",))
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Protocol

from ._process import PeerError
from .baresip import Baresip
from .certs import TestCA
from .dnsmasq import Dnsmasq, Record
from .kamailio import FEATURES, Kamailio
from .sipp import Sipp


class _TempPaths(Protocol):
    def mktemp(self, basename: str, numbered: bool = True) -> Any: ...


class PeerStack:
    """Factories for peers that all stop when the stack closes (in reverse start order)."""

    def __init__(self, tmp_path_factory: _TempPaths, ca: TestCA | None) -> None:
        self.tmp = tmp_path_factory
        self.ca = ca
        self.peers: list[Kamailio | Baresip | Dnsmasq] = []
        self.sipps: list[Sipp] = []

    def __enter__(self) -> PeerStack:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        problems = self.close()
        if problems and kind is None:
            raise PeerError("\n\n".join(problems))

    def kamailio(self, features: Iterable[str] = FEATURES, *, start: bool = True, **options: Any) -> Kamailio:
        """A started :class:`Kamailio` (``features`` from auth, presence, msrp, tls)."""
        instance = Kamailio(self.tmp.mktemp("kamailio"), features, ca=self.ca, **options)
        self.peers.append(instance)
        return instance.start() if start else instance

    def baresip(self, account: Any = "bob", *, start: bool = True, **options: Any) -> Baresip:
        """A started :class:`Baresip` (registered when ``registrar=`` is given)."""
        instance = Baresip(self.tmp.mktemp("baresip"), account, **options)
        self.peers.append(instance)
        return instance.start() if start else instance

    def dnsmasq(
        self, records: Iterable[Record] | None = None, *, start: bool = True, **options: Any
    ) -> Dnsmasq:
        """A started :class:`Dnsmasq` serving ``records`` (default: the example.test zone)."""
        instance = Dnsmasq(self.tmp.mktemp("dnsmasq"), records, **options)
        self.peers.append(instance)
        return instance.start() if start else instance

    def sipp(self) -> Sipp:
        runner = Sipp(self.tmp.mktemp("sipp"))
        self.sipps.append(runner)
        return runner

    def close(self) -> list[str]:
        """Stop everything; returns what went wrong (a peer that died on its own, a stop that hung)."""
        problems = []
        for runner in self.sipps:
            runner.stop_all()
        for peer in reversed(self.peers):
            if peer.process.died:
                problems.append(
                    f"{peer!r} died during the test (status {peer.process.returncode})\n{peer.log_tail()}"
                )
            with contextlib.suppress(Exception):
                peer.stop()
        self.peers.clear()
        return problems
