"""Which IP address the host uses to reach the network, and a monitor that notices when it changes.

``default_ip_address(family)`` asks the kernel's routing table which local address a packet to a
public address would leave from: a UDP socket is *connected* to a documentation address
(192.0.2.1 / 2001:db8::1) and its local end is read back. Connecting a UDP socket only selects the
route; no datagram is ever sent. Without a route (no network, or a network namespace with only the
loopback interface) the answer is None.

``NetworkMonitor(clock=..., probe=..., interval=5.0, sender=None)`` calls ``probe()`` (default:
``default_ip_address``) every ``interval`` seconds on ``clock`` (a reactor, or a Twisted ``Clock``
in tests) and, when the answer differs from the previous one, posts

* ``SystemIPAddressDidChange`` with ``old_ip_address`` and ``new_ip_address`` (either may be None:
  the network went away or came back), then
* ``NetworkConditionsDidChange``,

both with ``timestamp``, from ``sender`` (the monitor itself unless one is given; SIPApplication
passes itself). The first answer, read by ``start()``, is the baseline and posts nothing. A probe that
raises is logged and skipped. Everything runs on the clock's thread (the reactor thread).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from sipsimple.notification import NotificationCenter, NotificationData
from sipsimple.util._time import ISOTimestamp

if TYPE_CHECKING:
    from sipsimple.util._time import DelayedCall, ReactorTime

__all__ = ["NetworkMonitor", "default_ip_address"]

log = logging.getLogger(__name__)

#: where the route lookup pretends to go (RFC 5737 / RFC 3849 documentation addresses)
_PROBE_DESTINATIONS: dict[int, str] = {socket.AF_INET: "192.0.2.1", socket.AF_INET6: "2001:db8::1"}


def default_ip_address(family: int = socket.AF_INET) -> str | None:
    """The local address of the default route for ``family``, or None without one (nothing is sent)."""
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((_PROBE_DESTINATIONS[family], 9))
            address = str(sock.getsockname()[0])
    except OSError:
        return None
    return None if address in ("0.0.0.0", "::") else address


class NetworkMonitor:
    """Polls the host's default IP address; see the module documentation."""

    def __init__(
        self,
        *,
        clock: ReactorTime,
        probe: Callable[[], str | None] = default_ip_address,
        interval: float = 5.0,
        sender: object = None,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"the interval must be positive, not {interval!r}")
        self.clock = clock
        self.probe = probe
        self.interval = interval
        self.sender = sender
        #: the last address the probe gave (None: no network, or not started)
        self.ip_address: str | None = None
        self._timer: DelayedCall | None = None
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        """Take the current address as the baseline and check again every ``interval`` seconds."""
        if self._running:
            return
        self._running = True
        self.ip_address = self._ask()
        self._schedule()

    def stop(self) -> None:
        self._running = False
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def check(self) -> bool:
        """Ask the probe now; post the notifications and return True when the address changed."""
        try:
            current = self.probe()
        except Exception:
            log.exception("the IP address probe failed")
            return False
        previous = self.ip_address
        if current == previous:
            return False
        self.ip_address = current
        log.info("the system IP address changed from %s to %s", previous, current)
        self._post("SystemIPAddressDidChange", old_ip_address=previous, new_ip_address=current)
        self._post("NetworkConditionsDidChange")
        return True

    def _ask(self) -> str | None:
        try:
            return self.probe()
        except Exception:
            log.exception("the IP address probe failed")
            return None

    def _schedule(self) -> None:
        self._timer = self.clock.callLater(self.interval, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if not self._running:
            return
        try:
            self.check()
        finally:
            if self._running and self._timer is None:
                self._schedule()

    def _post(self, name: str, **attributes: object) -> None:
        data = NotificationData(timestamp=ISOTimestamp.now(), **attributes)
        sender = self if self.sender is None else self.sender
        NotificationCenter().post_notification(name, sender=sender, data=data)

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"<{type(self).__name__} {state} ip_address={self.ip_address} every {self.interval:g} s>"
