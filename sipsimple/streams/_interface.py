"""`IMediaStream`: what the Session asks of a media stream, and the stream errors."""

from __future__ import annotations

from zope.interface import Attribute, Interface

__all__ = ["IMediaStream", "InvalidStreamError", "MediaStreamError", "UnknownStreamError"]


class MediaStreamError(Exception):
    """Base class of the stream errors."""


class InvalidStreamError(MediaStreamError):
    """``new_from_sdp``: the m= line is of this stream's type but cannot be used (the stream is
    refused with port 0; other stream types are not tried)."""


class UnknownStreamError(MediaStreamError):
    """``new_from_sdp``: the m= line is not of this stream's type (the next type is tried)."""


class IMediaStream(Interface):
    """A media stream the Session negotiates (see docs/streams.md for the life cycle).

    Life cycle notifications, sender the stream: MediaStreamDidInitialize, MediaStreamDidStart,
    MediaStreamDidFail (``reason``), MediaStreamWillEnd, MediaStreamDidEnd."""

    type = Attribute("class attribute: the stream type, e.g. 'audio'")
    priority = Attribute("class attribute: an int; higher types are tried first on incoming offers")
    hold_supported = Attribute("True when the stream can be put on hold")
    on_hold_by_local = Attribute("True while we hold the stream")
    on_hold_by_remote = Attribute("True while the peer holds the stream")
    on_hold = Attribute("on_hold_by_local or on_hold_by_remote")

    def new_from_sdp(account, remote_sdp, stream_index):
        """Classmethod: a stream for media line ``stream_index`` of the remote offer, or None /
        UnknownStreamError when the line is not of this type, InvalidStreamError when it is but
        cannot be taken."""

    def get_local_media(remote_sdp=None, index=0):
        """Our SDPMediaStream: an offer when ``remote_sdp`` is None (the reference's
        ``for_offer=True``), else the answer to ``remote_sdp.media[index]``."""

    def initialize(session, direction):
        """Prepare the stream ('incoming' or 'outgoing' proposal); posts MediaStreamDidInitialize
        or MediaStreamDidFail."""

    def start(local_sdp, remote_sdp, stream_index):
        """Start with the negotiated SDPs; posts MediaStreamDidStart or MediaStreamDidFail."""

    def deactivate():  # type: ignore[misc]  # zope interface methods have no self
        """The stream is about to be removed: its transport closing is no longer an error."""

    def end():  # type: ignore[misc]  # zope interface methods have no self
        """Close the stream: MediaStreamWillEnd at once, MediaStreamDidEnd when closed. Called for
        every stream that was initialised, even after MediaStreamDidFail."""

    def validate_update(remote_sdp, stream_index):
        """True when the peer's new offer for this stream is acceptable (no state may change)."""

    def update(local_sdp, remote_sdp, stream_index):
        """Apply a completed offer/answer exchange."""

    def hold():  # type: ignore[misc]  # zope interface methods have no self
        """Stop media; later get_local_media() calls reflect the hold."""

    def unhold():  # type: ignore[misc]  # zope interface methods have no self
        """Resume media; later get_local_media() calls reflect it."""

    def reset(stream_index):
        """Forget a local proposal that failed for this stream (the SDP goes back to the last
        negotiated one)."""
