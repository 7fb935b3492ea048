"""SIP transactions (RFC 3261 §17, RFC 6026): four sans-IO state machines and their matching keys.

A transaction is created with its first message and is driven by calling its event methods; each
returns the list of actions the driver must carry out (send, start/cancel a timer, pass a
message to the TU, report a timeout or transport error, forget the transaction). Nothing here
does I/O or reads a clock. See docs/sip-transactions.md.
"""

from __future__ import annotations

from ._base import TimerConfig, Transaction
from ._events import (
    Action,
    CancelTimer,
    Culprit,
    Event,
    LocalProtocolError,
    PassToTU,
    ProtocolError,
    RemoteProtocolError,
    RequestLike,
    ResponseLike,
    Send,
    StartTimer,
    Stray,
    Terminated,
    Timeout,
    TransportError,
)
from .client_invite import InviteClientState, InviteClientTransaction
from .client_non_invite import NonInviteClientState, NonInviteClientTransaction
from .keys import ClientKey, ServerKey, cancel_target_key, client_key, server_key
from .server_invite import InviteServerState, InviteServerTransaction
from .server_non_invite import NonInviteServerState, NonInviteServerTransaction

__all__ = [
    "Action",
    "CancelTimer",
    "ClientKey",
    "Culprit",
    "Event",
    "InviteClientState",
    "InviteClientTransaction",
    "InviteServerState",
    "InviteServerTransaction",
    "LocalProtocolError",
    "NonInviteClientState",
    "NonInviteClientTransaction",
    "NonInviteServerState",
    "NonInviteServerTransaction",
    "PassToTU",
    "ProtocolError",
    "RemoteProtocolError",
    "RequestLike",
    "ResponseLike",
    "Send",
    "ServerKey",
    "StartTimer",
    "Stray",
    "Terminated",
    "TimerConfig",
    "Timeout",
    "Transaction",
    "TransportError",
    "cancel_target_key",
    "client_key",
    "server_key",
]
