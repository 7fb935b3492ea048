"""Dialog identifiers (RFC 3261 §12) and the table that finds the dialog a message belongs to.

A dialog is identified by the Call-ID, the local tag and the remote tag. The same dialog is seen
from the two ends with the tags swapped, so which header holds which tag depends on the
direction of the message:

* a request we receive carries our tag in To and the peer's in From;
* a response to a request we sent carries our tag in From and the peer's in To.

A missing remote tag (an RFC 2543 peer, §12.1.2/§12.2.2) is the empty string. A request whose To
has no tag is not within a dialog and has no dialog identifier.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sipsimple.core.sip.transaction import LocalProtocolError

if TYPE_CHECKING:
    from ._dialog import Dialog

__all__ = ["DialogID", "DialogTable", "notify_matches", "request_dialog_id", "response_dialog_id"]


@dataclass(frozen=True, slots=True)
class DialogID:
    """``(call_id, local_tag, remote_tag)``, from our side; hashable and compared exactly."""

    call_id: str
    local_tag: str
    remote_tag: str

    def __str__(self) -> str:
        return f"{self.call_id};local-tag={self.local_tag};remote-tag={self.remote_tag}"


def _tag(header: Any) -> str | None:
    return None if header is None else header.tag


def request_dialog_id(request: Any) -> DialogID | None:
    """The identifier of the dialog a received request claims to be in (None: out of dialog)."""
    call_id = request.call_id
    local_tag = _tag(request.get("To"))
    if call_id is None or not local_tag:
        return None
    return DialogID(call_id, local_tag, _tag(request.get("From")) or "")


def response_dialog_id(response: Any) -> DialogID | None:
    """The identifier of the dialog a response to one of our requests is in (None: no From tag)."""
    call_id = response.call_id
    local_tag = _tag(response.get("From"))
    if call_id is None or not local_tag:
        return None
    return DialogID(call_id, local_tag, _tag(response.get("To")) or "")


class DialogTable(MutableMapping[DialogID, "Dialog"]):
    """The live dialogs by :class:`DialogID`, with lookup from received messages.

    The Engine routes a received in-dialog request with ``for_request``: when the request's To
    has a tag and no dialog matches, RFC 3261 §12.2.2 says to answer 481.
    """

    def __init__(self) -> None:
        self._dialogs: dict[DialogID, Dialog] = {}

    def __getitem__(self, key: DialogID) -> Dialog:
        return self._dialogs[key]

    def __setitem__(self, key: DialogID, dialog: Dialog) -> None:
        if key != dialog.id:
            raise LocalProtocolError(f"dialog {dialog.id} stored under the identifier {key}")
        self._dialogs[key] = dialog

    def __delitem__(self, key: DialogID) -> None:
        del self._dialogs[key]

    def __iter__(self) -> Iterator[DialogID]:
        return iter(self._dialogs)

    def __len__(self) -> int:
        return len(self._dialogs)

    def add(self, dialog: Dialog) -> None:
        """Store ``dialog`` under its id; a second dialog with the same id is a LocalProtocolError."""
        if dialog.id in self._dialogs and self._dialogs[dialog.id] is not dialog:
            raise LocalProtocolError(f"a dialog {dialog.id} is already in the table")
        self._dialogs[dialog.id] = dialog

    def discard(self, dialog: Dialog) -> None:
        """Remove ``dialog`` if it is the one stored under its id."""
        if self._dialogs.get(dialog.id) is dialog:
            del self._dialogs[dialog.id]

    def for_request(self, request: Any) -> Dialog | None:
        """The dialog a received request belongs to, or None (out of dialog, or unknown)."""
        key = request_dialog_id(request)
        return None if key is None else self._dialogs.get(key)

    def for_response(self, response: Any) -> Dialog | None:
        """The dialog a response to one of our requests belongs to, or None."""
        key = response_dialog_id(response)
        return None if key is None else self._dialogs.get(key)

    def remove_terminated(self) -> list[Dialog]:
        """Drop the terminated dialogs and return them."""
        gone = [dialog for dialog in self._dialogs.values() if dialog.terminated]
        for dialog in gone:
            del self._dialogs[dialog.id]
        return gone

    def __repr__(self) -> str:
        return f"<DialogTable with {len(self._dialogs)} dialogs>"


def notify_matches(request: Any, notify: Any) -> bool:
    """True when ``notify`` (received) is for our SUBSCRIBE or REFER ``request`` (RFC 6665
    §4.1.2.4, RFC 3515 §2.4.4), so that it may create a dialog before the 2xx comes.

    Same Call-ID, its To tag our From tag, and the same event: the SUBSCRIBE's Event package and
    ``id`` (case-insensitive package, exact id); for a REFER, the ``refer`` package with no id or
    the REFER's CSeq number as id.
    """
    if notify.method != "NOTIFY" or notify.call_id != request.call_id:
        return False
    our_tag = _tag(request.get("From"))
    if not our_tag or _tag(notify.get("To")) != our_tag:
        return False
    event = notify.get("Event")
    if event is None:
        return False
    if request.method == "REFER":
        return event.event.lower() == "refer" and event.id in (None, str(request.cseq.number))
    wanted = request.get("Event")
    return wanted is not None and event.event.lower() == wanted.event.lower() and event.id == wanted.id
