"""`SessionManager`: takes incoming INVITEs, builds their streams through the MediaStreamRegistry,
keeps the list of live sessions and ends them all on stop."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sipsimple.notification import Notification, NotificationCenter
from sipsimple.streams import InvalidStreamError, MediaStreamRegistry, UnknownStreamError
from sipsimple.util import Singleton

from ._session import Session

__all__ = ["SessionManager", "SessionManagerBase", "streams_for_late_offer", "streams_from_offer"]

log = logging.getLogger(__name__)


def streams_from_offer(
    account: Any, remote_sdp: Any, indexes: list[int], registry: Any = None
) -> dict[int, Any]:
    """For each media line in ``indexes``, the first stream type (priority order) that takes it."""
    registry = MediaStreamRegistry() if registry is None else registry
    streams: dict[int, Any] = {}
    for index in indexes:
        if remote_sdp.media[index].port == 0:
            continue
        for cls in registry:
            try:
                stream = cls.new_from_sdp(account, remote_sdp, index)
            except UnknownStreamError:
                continue
            except InvalidStreamError as error:
                log.info("media line %d refused by %s: %s", index, cls.__name__, error)
                break
            if stream is not None:
                streams[index] = stream
                break
    return streams


def streams_for_late_offer(registry: Any = None, types: Iterable[str] = ("audio",)) -> list[Any]:
    """The streams we would offer to an INVITE without SDP: for each stream type in ``types``, a
    new stream of the first registered class of that type (priority order), made without
    arguments (its settings come from the account when it is initialised). A type nothing
    registered provides, or whose class cannot be made that way, is left out."""
    registry = MediaStreamRegistry() if registry is None else registry
    classes = list(registry)
    streams = []
    for kind in types:
        cls = next((c for c in classes if getattr(c, "type", None) == kind), None)
        if cls is None:
            continue
        try:
            streams.append(cls())
        except Exception as error:  # a stream class whose constructor needs arguments
            log.info("no %s stream for a late offer: %s() failed: %s", kind, cls.__name__, error)
    return streams


class SessionManagerBase:
    """The manager without the singleton: ``engine``, ``account_manager`` and ``registry`` can be
    given (tests); by default the process-wide ones are used when ``start()`` runs.

    ``late_offer_types``: the stream types proposed (SIPSessionNewIncoming ``streams``) for an
    INVITE without SDP, where we make the offer (docs/session.md, "Late offer")."""

    late_offer_types: tuple[str, ...] = ("audio",)

    def __init__(self, engine: Any = None, account_manager: Any = None, registry: Any = None) -> None:
        self.engine = engine
        self.account_manager = account_manager
        self.registry = registry
        self._sessions: dict[Session, None] = {}  # insertion-ordered set: O(1) add and remove
        self._started = False

    @property
    def sessions(self) -> list[Session]:
        """A copy of the list of live sessions (neither None nor terminated)."""
        return [session for session in self._sessions if session.state not in (None, "terminated")]

    def start(self) -> None:
        """Take incoming INVITEs (SIPApplication calls this after the AccountManager started)."""
        from sipsimple.core.primitives.invitation import install_invitation_handler

        if self._started:
            return
        if self.engine is None:
            from sipsimple.core.engine import Engine

            self.engine = Engine()
        if self.account_manager is None:
            from sipsimple.account import AccountManager

            self.account_manager = AccountManager()
        self._started = True
        install_invitation_handler(self.engine, self._new_invitation)

    def stop(self) -> None:
        """End every live session (SIPApplication calls this before the accounts stop)."""
        self._started = False
        for session in list(self.sessions):
            session.end()

    def _add(self, session: Session) -> None:
        self._sessions[session] = None

    def _remove(self, session: Session) -> None:
        self._sessions.pop(session, None)

    def _new_invitation(self, invitation: Any) -> None:
        NotificationCenter().add_observer(self, name="SIPInvitationChangedState", sender=invitation)

    def handle_notification(self, notification: Notification) -> None:
        invitation: Any = notification.sender
        data: Any = notification.data
        NotificationCenter().discard_observer(self, name="SIPInvitationChangedState", sender=invitation)
        if data.state != "incoming":
            return
        if not self._started:
            invitation.send_response(480)
            return
        account = self._find_account(invitation)
        if account is None:
            invitation.send_response(404, "No Such Account")
            return
        remote = invitation.sdp.proposed_remote
        if remote is None:  # a late offer (RFC 3261 §13.2.1): we offer in the 2xx, see accept()
            streams = streams_for_late_offer(self.registry, self.late_offer_types)
            self._new_session(invitation, account, streams, list(streams), data)
            return
        found = streams_from_offer(account, remote, list(range(len(remote.media))), self.registry)
        if not found:
            invitation.send_response(488)
            return
        slots: list[Any] = [found.get(index) for index in range(len(remote.media))]
        self._new_session(invitation, account, list(found.values()), slots, data)

    def _new_session(
        self, invitation: Any, account: Any, streams: list[Any], slots: list[Any], data: Any
    ) -> None:
        session = Session(account, engine=self.engine)
        session.manager = self
        replaced = getattr(invitation, "replaced_invitation", None)
        if replaced is not None:  # RFC 3891: the session whose dialog the INVITE names
            session.replaced_session = next((s for s in self.sessions if s._invitation is replaced), None)
        session._init_incoming(invitation, streams, slots, data.headers or {})

    def _find_account(self, invitation: Any) -> Any:
        manager = self.account_manager
        account = manager.find_account(invitation.request_uri)
        if account is None:
            to = getattr(invitation.local_identity, "uri", None)
            account = manager.find_account(to) if to is not None else None
        return account


class SessionManager(SessionManagerBase, metaclass=Singleton):
    """The process-wide SessionManager (started and stopped by SIPApplication)."""
