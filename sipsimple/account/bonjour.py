"""``BonjourServices``: publish a client's SIP contacts with mDNS/DNS-SD and discover its neighbours.

This is the machinery a ``BonjourAccount`` owns; the account passes itself as ``sender`` so the
notifications below come from it.

What is published. One DNS-SD service per transport that has a contact URI:
``_sipuri._udp.local.`` (udp), ``_sipuri._tcp.local.`` (tcp) and ``_sipuris._tcp.local.`` (tls). The
service instance is named after ``instance_id`` (a random hex string unless given), so the name does
not change when the display name or the contact does. Its TXT record carries ``txtvers=1``,
``contact`` (the contact URI), ``name`` (the display name, UTF-8), ``instance`` (the instance id) and
``host`` (this machine's host name). The same three types are browsed; a service whose ``instance``
is our own is ours and never reported as a neighbour.

Neighbours. A neighbour is one service of another instance, identified by a
`BonjourServiceDescription` (service name, type, domain): a peer publishing udp, tcp and tls is
three neighbours, as in the reference. Every neighbour notification carries it twice, as
``neighbour`` and as ``service_description`` (the reference's two spellings of the same datum).

Threads. Zeroconf calls block (registration probes the network for about a second) or run in
zeroconf's own threads, so none of them runs on the reactor thread: `start`, `update_registrations`
and `stop` read what they need on the calling (reactor) thread and queue the zeroconf work on the
named worker thread ``thread_name`` (one queue, so the three steps always happen in order).
Neighbours are resolved in zeroconf's browser threads. Every notification, and the table of known
neighbours, lives on the reactor thread: results are handed over with ``reactor.callFromThread``
(``call_in_twisted_thread`` when no reactor is given).

Notifications (sender: ``sender``; each has ``timestamp``):

* ``BonjourAccountWillRegister`` (``transport``), then ``BonjourAccountRegistrationDidSucceed``
  (``name``: the registered service name, ``transport``) or ``BonjourAccountRegistrationDidFail``
  (``reason``, ``transport``);
* ``BonjourAccountRegistrationUpdateDidFail`` (``reason``, ``transport``) from `update_registrations`;
* ``BonjourAccountRegistrationDidEnd`` (``transport``) when `stop` withdrew a service;
* ``BonjourAccountWillInitateDiscovery`` (``transport``; the reference's spelling), then
  ``BonjourAccountDiscoveryDidFail`` (``reason``, ``transport``) if browsing cannot start;
* ``BonjourAccountDiscoveryFailure`` (``error``, ``transport``) when a neighbour cannot be resolved
  or publishes unusable data;
* ``BonjourAccountDidAddNeighbour`` / ``BonjourAccountDidUpdateNeighbour`` (``neighbour``,
  ``service_description``, ``display_name``, ``host``, ``uri``: a ``FrozenSIPURI``) and
  ``BonjourAccountDidRemoveNeighbour`` (``neighbour``, ``service_description``). `stop` removes every
  known neighbour, so an observer's list ends empty.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred
from zeroconf import (
    Error as ZeroconfError,
)
from zeroconf import (
    InterfaceChoice,
    IPVersion,
    ServiceBrowser,
    ServiceInfo,
    ServiceStateChange,
    Zeroconf,
)

from sipsimple.core.sip.uri import BaseSIPURI, FrozenSIPURI, SIPParseError
from sipsimple.notification import NotificationCenter, NotificationData
from sipsimple.threading import call_in_thread, call_in_twisted_thread
from sipsimple.util import ISOTimestamp

__all__ = ["SERVICE_TYPES", "TRANSPORTS", "BonjourNeighbour", "BonjourServiceDescription", "BonjourServices"]

log = logging.getLogger(__name__)

TRANSPORTS = ("udp", "tcp", "tls")
SERVICE_TYPES = {"udp": "_sipuri._udp.local.", "tcp": "_sipuri._tcp.local.", "tls": "_sipuris._tcp.local."}
_DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061}
_TRANSPORT_OF_TYPE = {service_type: transport for transport, service_type in SERVICE_TYPES.items()}
RESOLVE_TIMEOUT_MS = 3000  # how long one neighbour's SRV/TXT/A records are waited for
REGISTER_TIMEOUT = 10.0  # seconds: probing and announcing one service normally takes about 1.7 s


@dataclass(frozen=True)
class BonjourServiceDescription:
    """Identifies one neighbour service: full service name (``<instance>.<type>``), type and domain."""

    name: str
    type: str
    domain: str = "local."


@dataclass(frozen=True)
class BonjourNeighbour:
    """What a neighbour publishes: its description, display name, host name and contact URI."""

    description: BonjourServiceDescription
    display_name: str
    host: str
    uri: FrozenSIPURI


class _BadService(Exception):
    """A neighbour's service could not be resolved or publishes unusable data."""


class BonjourServices:
    """Publishes ``contact()`` over mDNS for each transport and reports neighbours (see module doc).

    ``contact`` is called on the thread that calls `start` / `update_registrations` and returns
    ``{transport: SIPURI}`` for the transports to publish (missing ones are not published).
    ``interfaces``: IPv4 addresses to use (None: all interfaces). ``reactor``: the reactor whose
    thread receives the notifications (its ``callFromThread`` is used; None: the SDK's Twisted
    thread). ``notification_center`` defaults to the process-wide one.
    """

    def __init__(
        self,
        sender: object,
        contact: Callable[[], Mapping[str, BaseSIPURI]],
        display_name: str = "",
        *,
        interfaces: Sequence[str] | None = None,
        instance_id: str | None = None,
        transports: Sequence[str] = TRANSPORTS,
        hostname: str | None = None,
        reactor: Any = None,
        notification_center: NotificationCenter | None = None,
        thread_name: str = "bonjour",
    ) -> None:
        unknown = set(transports) - set(TRANSPORTS)
        if unknown:
            raise ValueError(f"unknown transports {sorted(unknown)}; use {TRANSPORTS}")
        self.sender = sender
        self.contact = contact
        self.display_name = display_name
        self.interfaces = list(interfaces) if interfaces is not None else None
        self.instance_id = instance_id or uuid.uuid4().hex
        self.transports = tuple(transports)
        self.hostname = hostname or socket.gethostname()
        self.thread_name = thread_name
        self._reactor = reactor
        self._center = notification_center if notification_center is not None else NotificationCenter()
        # reactor-thread state
        self._active = False
        self._generation = 0
        self._neighbours: dict[BonjourServiceDescription, BonjourNeighbour] = {}
        # worker-thread state
        self._zeroconf: Zeroconf | None = None
        self._registered: dict[str, ServiceInfo] = {}
        self._browsers: list[ServiceBrowser] = []

    # -- public API (reactor thread) ---------------------------------------------------------------
    @property
    def active(self) -> bool:
        """True between `start` and `stop`."""
        return self._active

    @property
    def neighbours(self) -> dict[BonjourServiceDescription, BonjourNeighbour]:
        """The neighbours known now (a copy), by description."""
        return dict(self._neighbours)

    def start(self) -> Deferred[None]:
        """Publish the contacts and start browsing; the Deferred fires when both were attempted."""
        done: Deferred[None] = Deferred()
        if self._active:
            done.callback(None)
            return done
        self._active = True
        self._generation += 1
        contacts, display_name = self._snapshot()
        call_in_thread(
            self.thread_name, self._start_in_worker, self._generation, contacts, display_name, done
        )
        return done

    def update_registrations(self) -> Deferred[None]:
        """Republish after a change of ``display_name`` or of the contacts; no-op when not active."""
        done: Deferred[None] = Deferred()
        if not self._active:
            done.callback(None)
            return done
        contacts, display_name = self._snapshot()
        call_in_thread(self.thread_name, self._update_in_worker, contacts, display_name, done)
        return done

    def stop(self) -> Deferred[None]:
        """Withdraw the services, stop browsing and close zeroconf; the Deferred fires when done."""
        done: Deferred[None] = Deferred()
        if not self._active:
            done.callback(None)
            return done
        self._active = False
        neighbours, self._neighbours = self._neighbours, {}
        for description in neighbours:
            self._post_now(
                "BonjourAccountDidRemoveNeighbour", neighbour=description, service_description=description
            )
        call_in_thread(self.thread_name, self._stop_in_worker, done)
        return done

    # -- helpers ------------------------------------------------------------------------------------
    def _snapshot(self) -> tuple[dict[str, str], str]:
        contacts = {
            transport: str(uri) for transport, uri in self.contact().items() if transport in self.transports
        }
        return contacts, self.display_name

    def _in_reactor(self, func: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        if self._reactor is None:
            call_in_twisted_thread(func, *args, **kwargs)
        else:
            self._reactor.callFromThread(func, *args, **kwargs)

    def _post_now(self, notification: str, /, **attributes: Any) -> None:
        data = NotificationData(timestamp=ISOTimestamp.now(), **attributes)
        self._center.post_notification(notification, sender=self.sender, data=data)

    def _post(self, notification: str, /, **attributes: Any) -> None:
        """Post from any thread: the notification is delivered on the reactor thread."""
        self._in_reactor(self._post_now, notification, **attributes)

    def _service_info(self, transport: str, contact: str, display_name: str) -> ServiceInfo:
        uri = FrozenSIPURI.parse(contact)
        service_type = SERVICE_TYPES[transport]
        addresses: list[str] = []
        try:
            if ipaddress.ip_address(uri.host).version == 4:
                addresses = [uri.host]
        except ValueError:  # a host name: publish the interface addresses instead
            addresses = [address for address in self.interfaces or () if _is_ipv4(address)]
        return ServiceInfo(
            service_type,
            f"{self.instance_id}.{service_type}",
            port=uri.port or _DEFAULT_PORTS[transport],
            properties={
                "txtvers": "1",
                "contact": contact,
                "name": display_name,
                "instance": self.instance_id,
                "host": self.hostname,
            },
            server=f"{self.instance_id}.local.",
            parsed_addresses=addresses,
        )

    # -- worker thread ------------------------------------------------------------------------------
    def _start_in_worker(
        self, generation: int, contacts: dict[str, str], display_name: str, done: Deferred[None]
    ) -> None:
        try:
            interfaces = self.interfaces if self.interfaces is not None else InterfaceChoice.All
            try:
                _check_interfaces(self.interfaces or ())
                self._zeroconf = Zeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
            except (OSError, ValueError, ZeroconfError) as error:
                where = ", ".join(self.interfaces) if self.interfaces is not None else "all interfaces"
                reason = f"mDNS cannot run on {where}: {error}"
                for transport in contacts:
                    self._post("BonjourAccountRegistrationDidFail", reason=reason, transport=transport)
                for transport in self.transports:
                    self._post("BonjourAccountDiscoveryDidFail", reason=reason, transport=transport)
                return
            self._register(contacts, display_name)
            for transport in self.transports:
                self._browse(generation, transport)
        finally:
            self._in_reactor(done.callback, None)

    def _register(self, contacts: Mapping[str, str], display_name: str) -> None:
        """Publish one service per transport, probing for all of them at once.

        The blocking ``register_service`` probes and announces for about 1.7 s, one service after
        the other; here the probes run together on zeroconf's event loop and this worker waits for
        all of them.
        """
        zeroconf = self._zeroconf
        assert zeroconf is not None and zeroconf.loop is not None
        infos: dict[str, ServiceInfo] = {}
        for transport, contact in contacts.items():
            self._post("BonjourAccountWillRegister", transport=transport)
            try:
                infos[transport] = self._service_info(transport, contact, display_name)
            except (SIPParseError, ValueError) as error:
                reason = f"cannot publish {contact} with mDNS: {error}"
                self._post("BonjourAccountRegistrationDidFail", reason=reason, transport=transport)

        async def register(info: ServiceInfo) -> None:
            announcing = await zeroconf.async_register_service(info)
            await announcing

        async def register_all() -> list[BaseException | None]:
            attempts = (asyncio.wait_for(register(info), REGISTER_TIMEOUT) for info in infos.values())
            return await asyncio.gather(*attempts, return_exceptions=True)

        try:
            outcomes = asyncio.run_coroutine_threadsafe(register_all(), zeroconf.loop).result()
        except RuntimeError as error:  # the event loop is gone
            outcomes = [error] * len(infos)
        for (transport, info), outcome in zip(infos.items(), outcomes, strict=True):
            if outcome is None:
                self._registered[transport] = info
                self._post("BonjourAccountRegistrationDidSucceed", name=info.name, transport=transport)
            else:
                detail = "no answer from the mDNS engine" if isinstance(outcome, TimeoutError) else outcome
                reason = f"cannot publish {info.name} with mDNS: {detail or type(outcome).__name__}"
                self._post("BonjourAccountRegistrationDidFail", reason=reason, transport=transport)

    def _browse(self, generation: int, transport: str) -> None:
        assert self._zeroconf is not None
        self._post("BonjourAccountWillInitateDiscovery", transport=transport)
        handler = functools.partial(self._on_state_change, generation)
        try:
            browser = ServiceBrowser(self._zeroconf, SERVICE_TYPES[transport], handlers=[handler])
        except (OSError, ValueError, ZeroconfError) as error:
            reason = f"cannot browse {SERVICE_TYPES[transport]}: {error or type(error).__name__}"
            self._post("BonjourAccountDiscoveryDidFail", reason=reason, transport=transport)
            return
        self._browsers.append(browser)

    def _update_in_worker(self, contacts: dict[str, str], display_name: str, done: Deferred[None]) -> None:
        try:
            if self._zeroconf is None:
                return  # start failed; it already said why
            new: dict[str, str] = {}
            for transport in self.transports:
                contact, current = contacts.get(transport), self._registered.get(transport)
                if contact is None and current is not None:
                    self._unregister(transport)
                elif contact is not None and current is None:
                    new[transport] = contact
                elif contact is not None and current is not None:
                    self._update(transport, current, contact, display_name)
            if new:
                self._register(new, display_name)
        finally:
            self._in_reactor(done.callback, None)

    def _update(self, transport: str, current: ServiceInfo, contact: str, display_name: str) -> None:
        assert self._zeroconf is not None
        try:
            info = self._service_info(transport, contact, display_name)
            if info.properties == current.properties and info.port == current.port:
                return
            self._zeroconf.update_service(info)
        except (SIPParseError, OSError, ValueError, ZeroconfError) as error:
            reason = f"cannot republish {contact} with mDNS: {error or type(error).__name__}"
            self._post("BonjourAccountRegistrationUpdateDidFail", reason=reason, transport=transport)
            return
        self._registered[transport] = info

    def _unregister(self, transport: str) -> None:
        assert self._zeroconf is not None
        info = self._registered.pop(transport)
        try:
            self._zeroconf.unregister_service(info)
        except (OSError, ZeroconfError) as error:  # the service is gone with the socket anyway
            log.warning("withdrawing %s failed: %s", info.name, error)
        self._post("BonjourAccountRegistrationDidEnd", transport=transport)

    def _stop_in_worker(self, done: Deferred[None]) -> None:
        try:
            browsers, self._browsers = self._browsers, []
            for browser in browsers:
                browser.cancel()
            if self._zeroconf is not None:
                for transport in list(self._registered):
                    self._unregister(transport)
                self._zeroconf.close()
                self._zeroconf = None
        finally:
            self._in_reactor(done.callback, None)

    # -- zeroconf browser threads -------------------------------------------------------------------
    def _on_state_change(
        self,
        generation: int,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        description = BonjourServiceDescription(name, service_type)
        if state_change is ServiceStateChange.Removed:
            self._in_reactor(self._neighbour_gone, generation, description)
            return
        try:
            neighbour = self._resolve(zeroconf, description)
        except _BadService as error:
            transport = _TRANSPORT_OF_TYPE.get(service_type, service_type)
            self._post("BonjourAccountDiscoveryFailure", error=str(error), transport=transport)
            return
        if neighbour is not None:
            self._in_reactor(self._neighbour_seen, generation, neighbour)

    def _resolve(self, zeroconf: Zeroconf, description: BonjourServiceDescription) -> BonjourNeighbour | None:
        """The neighbour behind ``description``; None for our own services."""
        try:
            info = zeroconf.get_service_info(description.type, description.name, timeout=RESOLVE_TIMEOUT_MS)
        except (OSError, ZeroconfError) as error:
            raise _BadService(f"resolving {description.name} failed: {error}") from error
        if info is None:
            raise _BadService(f"{description.name} did not answer within {RESOLVE_TIMEOUT_MS} ms")
        properties = {
            key.decode("utf-8", "replace"): (value or b"").decode("utf-8", "replace")
            for key, value in info.properties.items()
        }
        if properties.get("instance") == self.instance_id:
            return None
        contact = properties.get("contact")
        if not contact:
            raise _BadService(f"{description.name} publishes no contact URI")
        try:
            uri = FrozenSIPURI.parse(contact)
        except SIPParseError as error:
            raise _BadService(
                f"{description.name} publishes a bad contact URI {contact!r}: {error}"
            ) from error
        host = properties.get("host") or (info.server or "").removesuffix(".local.").removesuffix(".")
        return BonjourNeighbour(description, properties.get("name", ""), host, uri)

    # -- reactor thread: the neighbour table ---------------------------------------------------------
    def _neighbour_seen(self, generation: int, neighbour: BonjourNeighbour) -> None:
        if not self._active or generation != self._generation:
            return  # stopped (or restarted) since this was resolved
        previous = self._neighbours.get(neighbour.description)
        if previous == neighbour:
            return
        self._neighbours[neighbour.description] = neighbour
        name = "BonjourAccountDidAddNeighbour" if previous is None else "BonjourAccountDidUpdateNeighbour"
        self._post_now(
            name,
            neighbour=neighbour.description,
            service_description=neighbour.description,
            display_name=neighbour.display_name,
            host=neighbour.host,
            uri=neighbour.uri,
        )

    def _neighbour_gone(self, generation: int, description: BonjourServiceDescription) -> None:
        if not self._active or generation != self._generation:
            return
        if self._neighbours.pop(description, None) is not None:
            self._post_now(
                "BonjourAccountDidRemoveNeighbour", neighbour=description, service_description=description
            )


def _is_ipv4(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 4
    except ValueError:
        return False


def _check_interfaces(addresses: Sequence[str]) -> None:
    """Raise OSError/ValueError unless every address is an IPv4 address of this machine.

    Checked before zeroconf sees them: its constructor leaks the socket it had bound when joining
    the multicast group on a missing interface fails.
    """
    for address in addresses:
        if not _is_ipv4(address):
            raise ValueError(f"{address!r} is not an IPv4 address")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((address, 0))
            except OSError as error:
                raise OSError(error.errno, f"{address} is not an address of this machine") from error
