"""``SIPApplication``: starts and stops the SDK's parts in order.

``SIPApplication()`` is the process-wide singleton of the reference API; ``SIPApplicationBase`` is
the same class without the singleton, with its parts injectable (Twisted thread, engine,
AccountManager, engine options) so tests can run it on a fresh reactor.

``start(storage)``, on the calling thread: starts the ConfigurationManager with
``storage.configuration_backend`` (its ConfigurationError propagates and ``start`` may be called
again), then the Twisted thread (a reactor the application already runs is adopted), and returns.
On the reactor thread it then posts ``SIPApplicationWillStart``, starts the Engine from
``SIPSimpleSettings`` (ports, ``sip.transport_list``, ``tls.*``, ``user_agent``,
``logs.trace_sip``; when TLS cannot start, ``SIPApplicationFailedToStartTLS`` with ``error`` and the
engine runs without it), installs the incoming SUBSCRIBE/REFER handlers, starts the AccountManager
and posts ``SIPApplicationDidStart``. An error there posts ``SIPApplicationGotFatalError``
(``error``, ``traceback``) and the application stops. After DidStart the NAT type is detected in the
background (``local_nat_type``, ``SIPApplicationDidDetectNATType``; see docs/nat.md).

While running it follows ``SIPSimpleSettings`` changes: ``sip.udp_port``/``tcp_port``/``tls_port``,
``sip.transport_list`` and ``tls.*`` restart only the transports they affect (``Engine.set_udp_port``
and the rest; the accounts registered over a moved transport register again), and the DNS
resolver's transports follow. A port that cannot be bound keeps the old listener and posts
``SIPApplicationFailedToChangeTransport`` (``transport``, ``port``, ``error``); TLS that cannot start
posts ``SIPApplicationFailedToStartTLS`` as at start. Its ``network_monitor`` (a
``sipsimple.util._network.NetworkMonitor`` polling every ``network_check_interval`` seconds) posts
``SystemIPAddressDidChange`` and ``NetworkConditionsDidChange`` (sender: the application) when the
host's default IP address changes; unless ``engine_options`` pins ``ip_address`` the engine then
moves its listeners to the new address (and starts on the monitor's address), and the accounts
register again.

``stop()`` returns at once; on the reactor thread it posts ``SIPApplicationWillEnd``, stops the
AccountManager (accounts unregister, each bounded), stops the Engine, posts
``SIPApplicationDidEnd`` and stops the Twisted thread it started. Every wait is bounded by
``stop_timeout`` seconds, so DidEnd comes even when the network is gone.
Every notification has ``timestamp``; the sender is the application.

Audio (sipsimple/application_audio.py): right after the Engine starts, the voice and alert
``AudioMixer``/``AudioDevice``/``AudioBridge`` are made from ``SIPSimpleSettings.audio`` and exposed
as ``voice_audio_mixer``, ``voice_audio_device``, ``voice_audio_bridge`` and the ``alert_`` ones
(None while the application does not run); they follow the audio settings and the system's sound
devices, ``rtp.audio_codec_list`` sets ``Engine.codecs``, and they are stopped before the Engine.
"""

from __future__ import annotations

import logging
import traceback
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import Deferred

from sipsimple.application_audio import ApplicationAudio, audio_attribute
from sipsimple.configuration import ConfigurationManager
from sipsimple.core.engine import EngineError
from sipsimple.notification import NotificationCenter, NotificationData
from sipsimple.util import ISOTimestamp, Singleton

if TYPE_CHECKING:
    from sipsimple.account import AccountManagerBase
    from sipsimple.core.engine import SIPEngine
    from sipsimple.notification import Notification
    from sipsimple.threading import TwistedThread
    from sipsimple.util._network import NetworkMonitor

__all__ = ["SIPApplication", "SIPApplicationBase", "SIPApplicationError"]

log = logging.getLogger(__name__)

_STOPPED, _STARTING, _RUNNING, _STOPPING = "stopped", "starting", "running", "stopping"


class Storage(Protocol):
    """The static type of ``ISIPSimpleStorage`` providers (FileStorage, MemoryStorage)."""

    @property
    def configuration_backend(self) -> Any: ...


class SIPApplicationError(Exception):
    """The application cannot do what was asked (already started, ...)."""


class SIPApplicationBase:
    """SIPApplication without the singleton; see the module documentation."""

    def __init__(
        self,
        *,
        twisted_thread: TwistedThread | None = None,
        engine: SIPEngine | None = None,
        account_manager: AccountManagerBase | None = None,
        engine_options: dict[str, Any] | None = None,
        stop_timeout: float = 10.0,
        dns_nameservers: list[str] | None = None,
        dns_port: int = 53,
        network_monitor: NetworkMonitor | None = None,
        network_check_interval: float = 5.0,
        audio_mixer_factory: Any = None,
        session_manager: Any = None,
    ) -> None:
        self._twisted_thread = twisted_thread
        self._network_monitor = network_monitor
        if network_monitor is not None and network_monitor.sender is None:
            network_monitor.sender = self  # its notifications come from the application
        #: seconds between two looks at the host's IP address (when the monitor is made here)
        self.network_check_interval = network_check_interval
        #: the DNS servers for RFC 3263 lookups (None: the system's, watched for changes)
        self.dns_nameservers = dns_nameservers
        self.dns_port = dns_port
        self._engine = engine
        self._account_manager = account_manager
        self._session_manager = session_manager
        #: extra keyword arguments for ``Engine.start`` (e.g. ``ip_address``), over the settings
        self.engine_options = dict(engine_options or {})
        self.stop_timeout = stop_timeout
        self._state = _STOPPED
        self._ended = False
        self.storage: Storage | None = None
        #: the NAT type detected after start (sipsimple.core.nat, docs/nat.md); None until then
        self.local_nat_type: str | None = None
        self._nat_detection: Any = None
        #: builds the AudioMixers (None: ``AudioMixer``); tests inject their own
        self.audio_mixer_factory = audio_mixer_factory
        self._audio: ApplicationAudio | None = None

    voice_audio_mixer = audio_attribute("voice_audio_mixer")
    voice_audio_device = audio_attribute("voice_audio_device")
    voice_audio_bridge = audio_attribute("voice_audio_bridge")
    alert_audio_mixer = audio_attribute("alert_audio_mixer")
    alert_audio_device = audio_attribute("alert_audio_device")
    alert_audio_bridge = audio_attribute("alert_audio_bridge")

    # -- parts ----------------------------------------------------------------------------------

    @property
    def twisted_thread(self) -> TwistedThread:
        if self._twisted_thread is None:
            from sipsimple.threading import get_twisted_thread

            self._twisted_thread = get_twisted_thread()
        return self._twisted_thread

    @property
    def engine(self) -> SIPEngine:
        if self._engine is None:
            from sipsimple.core.engine import Engine

            self._engine = Engine()
        return self._engine

    @property
    def account_manager(self) -> AccountManagerBase:
        if self._account_manager is None:
            from sipsimple.account import AccountManager

            self._account_manager = AccountManager()
        return self._account_manager

    @property
    def session_manager(self) -> Any:
        """Takes incoming INVITEs for the accounts (docs/session.md); a fresh ``SessionManagerBase``
        unless one was given (SIPApplication uses the SessionManager singleton)."""
        if self._session_manager is None:
            from sipsimple.session import SessionManagerBase

            self._session_manager = SessionManagerBase()
        return self._session_manager

    @property
    def network_monitor(self) -> NetworkMonitor:
        """Watches the host's default IP address while the application runs (see the module doc)."""
        if self._network_monitor is None:
            from sipsimple.util._network import NetworkMonitor

            self._network_monitor = NetworkMonitor(
                clock=self.engine.reactor, interval=self.network_check_interval, sender=self
            )
        return self._network_monitor

    @property
    def running(self) -> bool:
        """True from ``start()`` until ``stop()`` is called."""
        return self._state in (_STARTING, _RUNNING)

    # -- start ----------------------------------------------------------------------------------

    def start(self, storage: Storage) -> None:
        if self._state != _STOPPED:
            raise SIPApplicationError(f"the application is {self._state}")
        if self._ended:
            raise SIPApplicationError("a stopped application cannot start again (its reactor cannot)")
        configuration = ConfigurationManager()
        configuration.start(storage.configuration_backend)  # its errors propagate; start again later
        self.storage = storage
        self._state = _STARTING
        try:
            self.twisted_thread.start()
        except BaseException:
            self._state = _STOPPED
            configuration.stop()
            raise
        self.twisted_thread.call(self._start_components)

    def _start_components(self) -> None:
        if self._state != _STARTING:
            return  # stop() came first
        self._post("SIPApplicationWillStart")
        try:
            self.network_monitor.start()
            self._start_engine()
            self._start_audio()
            from sipsimple.core.primitives import install_incoming_handlers

            install_incoming_handlers(self.engine)
            manager = self.account_manager
            if manager.engine is None:
                manager.engine = self.engine
            if manager.resolver is None:
                manager.resolver = self._route_resolver()
            manager.start()
            self._start_sessions()
            self._follow_changes(True)
        except Exception as error:
            log.exception("the application could not start")
            self._post("SIPApplicationGotFatalError", error=error, traceback=traceback.format_exc())
            self._state = _RUNNING
            self.stop()
            return
        self._state = _RUNNING
        self._post("SIPApplicationDidStart")
        self._detect_nat_type()

    def _start_sessions(self) -> None:
        """The SessionManager takes incoming INVITEs once the accounts run (docs/session.md)."""
        sessions = self.session_manager
        if sessions.engine is None:
            sessions.engine = self.engine
        if sessions.account_manager is None:
            sessions.account_manager = self.account_manager
        sessions.start()

    def _stop_sessions(self) -> None:
        """End every session before the accounts stop."""
        if self._session_manager is not None:
            self._session_manager.stop()

    def _detect_nat_type(self) -> None:
        """Detect ``local_nat_type`` in the background against the default account's STUN servers;
        ``SIPApplicationDidDetectNATType`` (``nat_type``, ``behaviour``) tells the result."""
        from sipsimple.core.nat.detection import LocalNATTypeDetection
        from sipsimple.core.sip.uri import SIPURI
        from sipsimple.lookup import DNSLookup
        from sipsimple.threading.green import GreenHub

        lookup = DNSLookup(hub=GreenHub.for_twisted_thread(self.twisted_thread))

        def detected(behaviour: Any) -> None:
            self.local_nat_type = behaviour.nat_type
            self._post("SIPApplicationDidDetectNATType", nat_type=behaviour.nat_type, behaviour=behaviour)

        self._nat_detection = LocalNATTypeDetection(
            self.engine.reactor,
            self.account_manager.default_account,
            lambda domain: lookup.lookup_service(SIPURI(host=domain), "stun").as_deferred(),
            detected,
        )
        self._nat_detection.start()

    def _route_resolver(self) -> Any:
        """RFC 3263 lookups (NAPTR, SRV, A/AAAA) for the accounts' registrars, over the transports the
        engine listens on, in the order of ``SIPSimpleSettings.sip.transport_list``."""
        from sipsimple.configuration.settings import SIPSimpleSettings
        from sipsimple.lookup import DNSLookup, DNSManager, DNSRouteResolver
        from sipsimple.threading.green import GreenHub

        DNSManager().start(self.engine.reactor, nameservers=self.dns_nameservers, port=self.dns_port)
        settings: Any = SIPSimpleSettings()
        transports = [
            str(name)
            for name in settings.sip.transport_list
            if self.engine.local_address(str(name)) is not None
        ]
        return DNSRouteResolver(transports, DNSLookup(hub=GreenHub.for_twisted_thread(self.twisted_thread)))

    def engine_start_options(self) -> dict[str, Any]:
        """``Engine.start`` keyword arguments from SIPSimpleSettings (and ``engine_options``)."""
        from sipsimple.configuration.settings import SIPSimpleSettings

        settings: Any = SIPSimpleSettings()
        transports = {str(name) for name in settings.sip.transport_list}
        tls = settings.tls
        options: dict[str, Any] = {
            "udp_port": settings.sip.udp_port if "udp" in transports else None,
            "tcp_port": settings.sip.tcp_port if "tcp" in transports else None,
            "tls_port": settings.sip.tls_port if "tls" in transports else None,
            "tls_verify_server": tls.verify_server,
            "tls_ca_file": None if tls.ca_list is None else tls.ca_list.normalized,
            "tls_cert_file": None if tls.certificate is None else tls.certificate.normalized,
            "tls_privkey_file": None if tls.certificate is None else tls.certificate.normalized,
            "tls_timeout": tls.timeout,
            "user_agent": settings.user_agent,
            "trace_sip": settings.logs.trace_sip,
        }
        options.update(self.engine_options)
        return options

    def _start_engine(self) -> None:
        options = self.engine_start_options()
        if "ip_address" not in options and self.network_monitor.ip_address is not None:
            options["ip_address"] = self.network_monitor.ip_address
        try:
            self.engine.start(**options)
        except EngineError as error:
            if options.get("tls_port") is None:
                raise
            options["tls_port"] = None
            self.engine.start(**options)  # without TLS; if this fails too, it is fatal
            log.error("TLS could not start: %s", error.__cause__ or error)
            self._post("SIPApplicationFailedToStartTLS", error=error.__cause__ or error)

    def _start_audio(self) -> None:
        options = {} if self.audio_mixer_factory is None else {"mixer_factory": self.audio_mixer_factory}
        self._audio = ApplicationAudio(self.engine, self.twisted_thread.call, **options)
        self._audio.start()

    def _stop_audio(self) -> None:
        if self._audio is not None:
            self._audio.stop()
            self._audio = None

    # -- run-time changes -----------------------------------------------------------------------

    def _follow_changes(self, follow: bool) -> None:
        from sipsimple.configuration.settings import SIPSimpleSettings

        center = NotificationCenter()
        for name, sender in (
            ("CFGSettingsObjectDidChange", SIPSimpleSettings()),
            ("SystemIPAddressDidChange", self),
        ):
            if follow:
                center.add_observer(self, name=name, sender=sender)
            else:
                center.discard_observer(self, name=name, sender=sender)

    def handle_notification(self, notification: Notification) -> None:
        self.twisted_thread.call(self._handle_change, notification)

    def _handle_change(self, notification: Notification) -> None:
        if self._state != _RUNNING or not self.engine.is_running:
            return
        data: Any = notification.data
        if notification.name == "CFGSettingsObjectDidChange":
            self._apply_transport_settings(set(data.modified))
        elif notification.name == "SystemIPAddressDidChange" and "ip_address" not in self.engine_options:
            if data.new_ip_address is None:
                return  # no network: the listeners stay where they are until one comes back
            try:
                self.engine.set_ip_address(data.new_ip_address)
            except EngineError as error:
                log.error("the transports cannot move to %s: %s", data.new_ip_address, error)

    def _apply_transport_settings(self, modified: set[str]) -> None:
        """Restart the transports a settings change affects: a changed port, or a transport that
        ``sip.transport_list`` turns on or off; any ``tls.*`` change also reconfigures TLS (on the port
        it has, unless that changed). Then the resolver's transports follow."""
        tls_changed = any(name.startswith("tls.") for name in modified)
        if not tls_changed and not any(name.startswith("sip.") for name in modified):
            return
        options = self.engine_start_options()
        for transport in ("udp", "tcp", "tls"):
            wanted, current = options[f"{transport}_port"], self.engine.local_address(transport)
            if f"sip.{transport}_port" in modified or (wanted is None) != (current is None):
                self._set_transport(transport, wanted, options)
            elif transport == "tls" and tls_changed:
                self._set_transport(transport, None if current is None else current.port, options)
        resolver: Any = self.account_manager.resolver
        if hasattr(resolver, "supported_transports"):
            from sipsimple.configuration.settings import SIPSimpleSettings

            settings: Any = SIPSimpleSettings()
            listening = [str(name) for name in settings.sip.transport_list]
            resolver.supported_transports = [name for name in listening if self.engine.local_address(name)]

    def _set_transport(self, transport: str, port: int | None, options: dict[str, Any]) -> None:
        engine = self.engine
        try:
            if transport == "tls":
                engine.set_tls_options(
                    port=port,
                    verify_server=options["tls_verify_server"],
                    ca_file=options["tls_ca_file"],
                    cert_file=options["tls_cert_file"],
                    privkey_file=options["tls_privkey_file"],
                    timeout=options["tls_timeout"],
                )
            else:
                getattr(engine, f"set_{transport}_port")(port)
        except EngineError as error:
            log.error("the %s transport cannot change: %s", transport, error.__cause__ or error)
            if transport == "tls":
                self._post("SIPApplicationFailedToStartTLS", error=error.__cause__ or error)
            else:
                self._post(
                    "SIPApplicationFailedToChangeTransport", transport=transport, port=port, error=error
                )

    # -- stop -----------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop everything; returns at once, ``SIPApplicationDidEnd`` says when it is done."""
        if self._state in (_STOPPED, _STOPPING):
            return
        self._state = _STOPPING
        self.twisted_thread.call(self._stop_components)

    def _stop_components(self) -> None:
        self._post("SIPApplicationWillEnd")
        self._follow_changes(False)
        self.network_monitor.stop()
        if self._nat_detection is not None:
            self._nat_detection.cancel()
        reactor = self.engine.reactor
        self._stop_sessions()
        stopping: Deferred[Any] = self.account_manager.stop()
        stopping.addTimeout(self.stop_timeout, reactor)
        stopping.addErrback(lambda failure: log.warning("accounts did not stop in time: %s", failure.value))

        def stop_engine(_: object) -> Deferred[Any]:
            self._stop_audio()
            ending: Deferred[Any] = self.engine.stop()
            ending.addTimeout(self.stop_timeout, reactor)
            return ending.addErrback(lambda failure: log.warning("engine stop: %s", failure.value))

        stopping.addCallback(stop_engine)
        stopping.addBoth(self._stopped)

    def _stopped(self, _: object) -> None:
        from sipsimple.lookup import DNSManager

        DNSManager().stop()
        self._state = _STOPPED
        self._ended = True
        self._post("SIPApplicationDidEnd")
        self.twisted_thread.stop()  # on the reactor thread: stops the reactor (an adopted one stays)

    def _post(self, name: str, **attributes: Any) -> None:
        data = NotificationData(timestamp=ISOTimestamp.now(), **attributes)
        NotificationCenter().post_notification(name, sender=self, data=data)


class SIPApplication(SIPApplicationBase, metaclass=Singleton):
    """The process-wide application (Engine, AccountManager and Twisted thread singletons).

    The audio attributes of the reference (``voice_audio_mixer``/``_bridge``/``_device`` and the
    ``alert_`` ones) are described in the module documentation.
    """

    def __init__(self) -> None:
        from sipsimple.session import SessionManager

        super().__init__(session_manager=SessionManager())
