"""A fake IMediaStream for the session tests: posts its life cycle notifications synchronously,
answers with an RTP-looking line of its own ``type`` and follows hold with sendonly/inactive."""

from __future__ import annotations

import weakref
from typing import Any

from zope.interface import implementer

from sipsimple.core.sdp import SDPAttribute, SDPMediaStream
from sipsimple.notification import NotificationCenter, NotificationData
from sipsimple.streams import IMediaStream, UnknownStreamError
from sipsimple.util import ISOTimestamp


@implementer(IMediaStream)
class FakeStream:
    """Not made with MediaStreamRegistrar on purpose: importing it must not put a fake stream in
    the process-wide MediaStreamRegistry, which the interop tests' SIPApplication uses (the tests
    that want it give a registry of their own)."""

    type = "fakeaudio"
    priority = 5
    port = 40000
    fail_on: str | None = None  # 'initialize' or 'start': post MediaStreamDidFail instead

    def __init__(self, account: Any = None) -> None:
        self.account = account
        self.hold_supported = True
        self.on_hold_by_local = False
        self.on_hold_by_remote = False
        self.calls: list[str] = []
        self._session_ref: weakref.ref[Any] | None = None

    @property
    def session(self) -> Any:
        """Weak, like AudioStream's: the session owns its streams."""
        return None if self._session_ref is None else self._session_ref()

    @session.setter
    def session(self, session: Any) -> None:
        self._session_ref = None if session is None else weakref.ref(session)

    @property
    def on_hold(self) -> bool:
        return self.on_hold_by_local or self.on_hold_by_remote

    @classmethod
    def new_from_sdp(cls, account: Any, remote_sdp: Any, stream_index: int) -> FakeStream:
        if remote_sdp.media[stream_index].media != "audio":
            raise UnknownStreamError("not audio")
        return cls(account)

    def _post(self, name: str, **data: Any) -> None:
        NotificationCenter().post_notification(
            name, sender=self, data=NotificationData(timestamp=ISOTimestamp.now(), **data)
        )

    def get_local_media(self, remote_sdp: Any = None, index: int = 0) -> SDPMediaStream:
        media = SDPMediaStream(
            "audio", self.port, "RTP/AVP", formats=["0"], attributes=[SDPAttribute("rtpmap", "0 PCMU/8000")]
        )
        if remote_sdp is None:
            media.direction = "sendonly" if self.on_hold_by_local else "sendrecv"
        else:
            offered = remote_sdp.media[index].direction
            want = {"sendonly": "recvonly", "inactive": "inactive", "recvonly": "sendonly"}.get(
                offered, "sendrecv"
            )
            if self.on_hold_by_local:
                want = {"sendrecv": "sendonly", "recvonly": "inactive"}.get(want, want)
            media.direction = want
        return media

    def initialize(self, session: Any, direction: str) -> None:
        self.calls.append(f"initialize {direction}")
        self.session = session
        if self.fail_on == "initialize":
            self._post("MediaStreamDidFail", reason="cannot initialize")
        else:
            self._post("MediaStreamDidInitialize")

    def start(self, local_sdp: Any, remote_sdp: Any, stream_index: int) -> None:
        self.calls.append(f"start {stream_index}")
        self.update(local_sdp, remote_sdp, stream_index)
        if self.fail_on == "start":
            self._post("MediaStreamDidFail", reason="cannot start")
        else:
            self._post("MediaStreamDidStart")

    def deactivate(self) -> None:
        self.calls.append("deactivate")

    def end(self) -> None:
        self.calls.append("end")
        self._post("MediaStreamWillEnd")
        self._post("MediaStreamDidEnd")

    def validate_update(self, remote_sdp: Any, stream_index: int) -> bool:
        return True

    def update(self, local_sdp: Any, remote_sdp: Any, stream_index: int) -> None:
        direction = remote_sdp.media[stream_index].direction
        self.on_hold_by_remote = direction in ("sendonly", "inactive")

    def hold(self) -> None:
        self.on_hold_by_local = True

    def unhold(self) -> None:
        self.on_hold_by_local = False

    def reset(self, stream_index: int) -> None:
        self.calls.append("reset")
