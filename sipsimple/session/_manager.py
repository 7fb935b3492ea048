"""`SessionManager`: takes incoming INVITEs, builds their streams through the MediaStreamRegistry,
keeps the list of live sessions and ends them all on stop."""

from __future__ import annotations

import logging
from typing import Any

from sipsimple.notification import Notification, NotificationCenter
from sipsimple.streams import InvalidStreamError, MediaStreamRegistry, UnknownStreamError
from sipsimple.util import Singleton

from ._session import Session

__all__ = ["SessionManager", "SessionManagerBase", "streams_from_offer"]

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


class SessionManagerBase:
    """The manager without the singleton: ``engine``, ``account_manager`` and ``registry`` can be
    given (tests); by default the process-wide ones are used when ``start()`` runs."""

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
        if remote is None:
            invitation.send_response(488, "Offer Required")  # late offers: a later slice
            return
        found = streams_from_offer(account, remote, list(range(len(remote.media))), self.registry)
        if not found:
            invitation.send_response(488)
            return
        slots: list[Any] = [found.get(index) for index in range(len(remote.media))]
        session = Session(account, engine=self.engine)
        session.manager = self
        replaced = getattr(invitation, "replaced_invitation", None)
        if replaced is not None:  # RFC 3891: the session whose dialog the INVITE names
            session.replaced_session = next((s for s in self.sessions if s._invitation is replaced), None)
        session._init_incoming(invitation, list(found.values()), slots, data.headers or {})

    def _find_account(self, invitation: Any) -> Any:
        manager = self.account_manager
        account = manager.find_account(invitation.request_uri)
        if account is None:
            to = getattr(invitation.local_identity, "uri", None)
            account = manager.find_account(to) if to is not None else None
        return account


class SessionManager(SessionManagerBase, metaclass=Singleton):
    """The process-wide SessionManager (started and stopped by SIPApplication)."""
