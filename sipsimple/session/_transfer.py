"""Call transfer for a `Session`: `TransferHandler` (one per started session, both roles) and
`TransferInfo` (what a session created by a transfer knows about it). See docs/session.md.

Transferor (``Session.transfer``): the Invitation sends a REFER in the session's dialog; its
outcome and the transferee's NOTIFYs become SIPSessionTransferDidStart, ...GotProgress (each
provisional status of the referred call), then ...DidEnd (a 2xx) or ...DidFail (``code``,
``reason``). After a successful transfer the handler ends the transferor's session itself.

Transferee (the peer's REFER): SIPSessionTransferNewIncoming, then the application calls
``accept_transfer`` or ``reject_transfer``. Accepting creates a new outgoing Session to the
target with streams of the same types as the current ones, ``transfer_info`` set, and the
``Replaces`` and ``Referred-By`` of the Refer-To passed on in its INVITE. The new call's
progress goes back to the transferor as sipfrag NOTIFYs. When it starts, SIPSessionTransferDidEnd
is posted and the original session is ended once the final NOTIFY was answered (or at once when
the transferor is gone); when it fails, SIPSessionTransferDidFail is posted and the original
session stays up.

Everything runs on the reactor thread, like the Session.
"""

from __future__ import annotations

import inspect
import ipaddress
import logging
import weakref
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, maybeDeferred

from sipsimple.core.sip._grammar import SIPParseError
from sipsimple.core.sip.headers import Header, ToHeader
from sipsimple.core.sip.headers._base import parse_name_addr
from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup import Route
from sipsimple.notification import Notification, NotificationCenter, NotificationData
from sipsimple.util import ISOTimestamp

from ._state import SessionStateError

__all__ = ["TransferHandler", "TransferInfo", "default_routes"]

log = logging.getLogger(__name__)

#: The core notifications a handler follows on its session's Invitation.
CORE_NAMES = (
    "SIPInvitationTransferNewIncoming",
    "SIPInvitationTransferDidStart",
    "SIPInvitationTransferGotNotify",
    "SIPInvitationTransferDidEnd",
    "SIPInvitationTransferDidFail",
)

#: The new session's notifications the transferee's handler follows.
CALL_NAMES = ("SIPSessionGotProvisionalResponse", "SIPSessionDidStart", "SIPSessionDidFail")

#: Attributes copied from a stream to the stream of the same type made for the transferred call,
#: when that type's constructor takes them.
STREAM_SETTINGS = (
    "account", "mixer", "bridge", "engine", "codecs", "srtp_mode", "port_range", "rtp_timeout",
    "local_address", "silence_detection",
)  # fmt: skip


class TransferInfo:
    """What a session created by accepting a transfer knows about it.

    ``referred_by``: the transferor's identity (the REFER's Referred-By, else the original
    session's remote URI), as text; ``transfer_source``: the same as a URI when it parses;
    ``transfer_destination``: the target URI (without the Replaces of an attended transfer);
    ``replaced_dialog_id``: the ``Replaces`` header the new INVITE carries (attended transfer),
    None for a blind one; ``original_session``: the Session that received the REFER."""

    def __init__(
        self,
        referred_by: str | None = None,
        replaced_dialog_id: Any = None,
        transfer_source: Any = None,
        transfer_destination: Any = None,
        original_session: Any = None,
    ) -> None:
        self.referred_by = referred_by
        self.replaced_dialog_id = replaced_dialog_id
        self.transfer_source = transfer_source
        self.transfer_destination = transfer_destination
        self.original_session = original_session

    def __repr__(self) -> str:
        return f"<TransferInfo {self.transfer_source} -> {self.transfer_destination}>"


def default_routes(session: Any, uri: Any) -> Deferred[list[Route]]:
    """Where the transferred call goes first: the account's outbound proxy when set, else the
    target; an IP address is used as it is, a domain through ``DNSLookup`` (RFC 3263)."""
    proxy = getattr(getattr(session.account, "sip", None), "outbound_proxy", None)
    if proxy is not None:
        uri = SIPURI(proxy.host, port=proxy.port, parameters={"transport": proxy.transport})
    transport = str(uri.parameters.get("transport") or session.transport or "udp").lower()
    try:
        ipaddress.ip_address(str(uri.host).strip("[]"))
    except ValueError:
        from sipsimple.lookup import DNSLookup

        return DNSLookup().lookup_sip_proxy(uri, [transport]).as_deferred()
    return maybeDeferred(lambda: [Route(str(uri.host).strip("[]"), uri.port, transport)])


def new_stream_like(stream: Any) -> Any:
    """A fresh stream of ``stream``'s type, with the settings its constructor takes copied over."""
    cls = type(stream)
    try:
        parameters = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return cls()
    settings = {
        name: getattr(stream, name)
        for name in STREAM_SETTINGS
        if name in parameters and hasattr(stream, name)
    }
    return cls(**settings)


def _uri_in(text: str | None) -> Any:
    """The SIP URI inside a name-addr such as ``"Bob" <sip:bob@example.com>;x=y`` (None if none)."""
    if not text:
        return None
    try:
        _, inner, _ = parse_name_addr(text.strip(" \t"))
        return SIPURI.parse(inner)
    except SIPParseError:  # not a name-addr with a SIP URI: the text is all we have
        return None


class TransferHandler:
    """Drives both roles of call transfer for one session (see the module documentation).

    ``routes_for(session, uri)`` gives the routes of the transferred call (a list or a Deferred
    of one; default ``default_routes``); ``session_factory(account, engine)`` makes that call's
    Session (default: the original session's class)."""

    def __init__(
        self,
        session: Any,
        routes_for: Callable[[Any, Any], Any] | None = None,
        session_factory: Callable[..., Any] | None = None,
    ) -> None:
        self._session = weakref.ref(session)  # the session owns its handler: see ``session``
        self.routes_for = routes_for or default_routes
        self.session_factory = session_factory or type(session)
        self._new_session: weakref.ref[Any] | None = None  # see ``new_session``
        self._holding_call: Any = None  # the new call, held while we may still act on it
        self._following_call = False  # the new call's notifications are observed
        self._stopped = False
        self._invitation = session._invitation
        self._incoming: dict[str, Any] | None = None  # the offered transfer's refer_to/referred_by
        self._outgoing = False  # our REFER is running
        self._succeeded = False  # transferee: the new call started
        self._core_done = True  # transferee: the core transfer is over (no NOTIFY left to send)
        center = NotificationCenter()
        for name in CORE_NAMES:
            center.add_observer(self, name=name, sender=self._invitation)

    @property
    def session(self) -> Any:
        """The session this handler serves. A weak reference, so that an ended session and its
        handler are freed without the cyclic garbage collector; the session lives as long as the
        handler needs it (it is observed while it runs, and a transferred call's ``transfer_info``
        refers to it), so this is None only for a handler kept after its session was freed."""
        return self._session()

    @property
    def new_session(self) -> Any:
        """The transferee's call to the target (None before ``accept_transfer``). Its
        ``transfer_info.original_session`` refers back to our session, which owns this handler,
        so the handler holds it strongly only while it may still act on it: until the original
        session ended and the new call started or failed (``_release_when_idle``)."""
        return None if self._new_session is None else self._new_session()

    @new_session.setter
    def new_session(self, session: Any) -> None:
        self._new_session = None if session is None else weakref.ref(session)
        self._holding_call = session

    def _release_when_idle(self) -> None:
        if self._stopped and not self._following_call:
            self._holding_call = None

    def __repr__(self) -> str:
        return f"<TransferHandler of {self.session!r}>"

    def _post(self, name: str, **attributes: Any) -> None:
        data = NotificationData(timestamp=ISOTimestamp.now(), **attributes)
        NotificationCenter().post_notification(name, sender=self.session, data=data)

    # -- the application's calls -------------------------------------------------------------------

    def transfer(self, target_uri: Any, replaced_session: Any = None) -> None:
        session = self.session
        if session is None or session.state != "connected":
            state = "freed" if session is None else session.state
            raise SessionStateError(f"cannot transfer a session in state {state!r}")
        if self._outgoing:
            raise SessionStateError("a transfer is already in progress")
        replaced = None
        if replaced_session is not None:
            replaced = getattr(replaced_session._invitation, "dialog_id", None)
            if replaced is None:
                raise SessionStateError("the replaced session has no dialog")
        self._invitation.transfer(target_uri, replaced)
        self._outgoing = True
        local = self.session.local_identity
        self._post("SIPSessionTransferNewOutgoing", transfer_destination=target_uri,
                   transfer_source=None if local is None else local.uri)  # fmt: skip

    def accept_transfer(self) -> None:
        offer = self._incoming
        if offer is None or self.new_session is not None:
            raise SessionStateError("there is no transfer to accept")
        self._invitation.accept_transfer()
        self._core_done = False
        target = offer["refer_to"].uri
        replaces = target.headers.get("Replaces")
        destination = SIPURI.new(target)
        destination.headers = {}
        extra: list[Any] = []
        if replaces:
            extra.append(Header("Replaces", replaces))
        if offer["referred_by"]:
            extra.append(Header("Referred-By", offer["referred_by"]))
        session = self.session
        new = self.session_factory(session.account, engine=session.engine)
        new.manager = session.manager
        new.transfer_info = TransferInfo(
            referred_by=offer["referred_by"], replaced_dialog_id=replaces,
            transfer_source=offer["source"], transfer_destination=destination, original_session=session,
        )  # fmt: skip
        self.new_session = new
        self._following_call = True
        center = NotificationCenter()
        for name in CALL_NAMES:
            center.add_observer(self, name=name, sender=new)
        streams = [new_stream_like(stream) for stream in session.streams]

        def connect(routes: list[Route]) -> None:
            if not routes:
                self._call_failed(404, "No route to the transfer target")
                return
            new.connect(ToHeader(destination), routes, streams, extra_headers=extra)

        def no_route(failure: Any) -> None:
            self._call_failed(404, f"No route to the transfer target: {failure.getErrorMessage()}")

        deferred = maybeDeferred(self.routes_for, session, destination)
        deferred.addCallbacks(connect, no_route)
        deferred.addErrback(lambda failure: log.error("%r: %s", self, failure.getTraceback()))

    def reject_transfer(self, code: int = 486, reason: str | None = None) -> None:
        if self._incoming is None or self.new_session is not None:
            raise SessionStateError("there is no transfer to reject")
        self._invitation.reject_transfer(code, reason)

    # -- notifications -----------------------------------------------------------------------------

    def handle_notification(self, notification: Notification) -> None:
        handler = getattr(self, "_NH_" + notification.name, None)
        if handler is not None:
            handler(notification.data)

    def _NH_SIPInvitationTransferNewIncoming(self, data: Any) -> None:
        referred_by = data.referred_by
        source = _uri_in(referred_by)
        if source is None:
            remote = self.session.remote_identity
            source = None if remote is None else remote.uri
            referred_by = referred_by or (None if source is None else f"<{source}>")
        self._incoming = {"refer_to": data.refer_to, "referred_by": referred_by, "source": source}
        self.new_session = None
        self._succeeded = False
        destination = SIPURI.new(data.refer_to.uri)
        destination.headers = {}
        self._post("SIPSessionTransferNewIncoming", transfer_destination=destination, transfer_source=source)

    def _NH_SIPInvitationTransferDidStart(self, data: Any) -> None:
        self._post("SIPSessionTransferDidStart")

    def _NH_SIPInvitationTransferGotNotify(self, data: Any) -> None:
        if not data.final and data.code is not None:
            self._post("SIPSessionTransferGotProgress", code=data.code, reason=data.reason)

    def _NH_SIPInvitationTransferDidEnd(self, data: Any) -> None:
        if data.role == "referee":
            self._core_finished()
            return
        self._outgoing = False
        if data.code is not None and 200 <= data.code < 300:
            self._post("SIPSessionTransferDidEnd")
            self.session.end()  # the transferee has its new call: ours is over (as Blink does)
        else:
            self._post("SIPSessionTransferDidFail", code=data.code, reason=data.reason)

    def _NH_SIPInvitationTransferDidFail(self, data: Any) -> None:
        if data.role == "referrer":
            self._outgoing = False
            self._post("SIPSessionTransferDidFail", code=data.code, reason=data.reason)
        elif self.new_session is None:  # rejected (or never answered) before a call was made
            self._incoming = None
            self._post("SIPSessionTransferDidFail", code=data.code, reason=data.reason)
        else:  # the referrer is gone: the new call goes on without NOTIFYs
            self._core_finished()

    def _NH_SIPSessionGotProvisionalResponse(self, data: Any) -> None:
        self._notify(data.code, data.reason)

    def _NH_SIPSessionDidStart(self, data: Any) -> None:
        self._forget_call()
        self._succeeded = True
        self._notify(200, "OK")
        self._post("SIPSessionTransferDidEnd")
        if self._core_done:
            self._end_original()

    def _NH_SIPSessionDidFail(self, data: Any) -> None:
        code = data.code or 500
        self._call_failed(code, data.reason or data.failure_reason or "Transfer failed")

    # -- the transferee's call ---------------------------------------------------------------------

    def _call_failed(self, code: int, reason: str) -> None:
        self._forget_call()
        self._notify(code if code >= 300 else 500, reason)
        self._incoming = None
        self._post("SIPSessionTransferDidFail", code=code, reason=reason)

    def _notify(self, code: int, reason: str | None) -> None:
        if self._core_done or self._invitation.incoming_transfer_state != "active":
            return
        try:
            self._invitation.notify_transfer_progress(code, reason)
        except Exception as error:  # the final status went already, or the dialog is gone
            log.info("%r: no NOTIFY for %s: %s", self, code, error)

    def _core_finished(self) -> None:
        self._core_done = True
        if self._succeeded:
            self._end_original()

    def _end_original(self) -> None:
        self._incoming = None
        if self.session.state not in (None, "terminating", "terminated"):
            self.session.end()

    def _forget_call(self) -> None:
        if self.new_session is not None:
            center = NotificationCenter()
            for name in CALL_NAMES:
                center.discard_observer(self, name=name, sender=self.new_session)
        self._following_call = False
        self._release_when_idle()

    def stop(self) -> None:
        """Stop following the session's Invitation (the session ended); a transferred call in
        progress is still followed until it starts or fails."""
        center = NotificationCenter()
        for name in CORE_NAMES:
            center.discard_observer(self, name=name, sender=self._invitation)
        self._core_done = True
        self._stopped = True
        self._release_when_idle()
