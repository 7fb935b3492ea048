"""The Session's re-INVITEs: hold/unhold, adding and removing streams, the peer's proposals.

A local proposal is one re-INVITE at a time (``_local``: what it was for). hold()/unhold() while
another exchange runs is remembered and sent when the session is back to 'connected' and no
re-INVITE is in progress either way. A hold re-INVITE the peer refused is undone on our streams;
one dropped for re-INVITE glare (491: the core takes the peer's re-INVITE during its retry wait,
RFC 3261 §14.1) is sent again once the peer's exchange is over.

A re-INVITE of the peer without SDP asks us for an offer (RFC 3264 §8, a refresh or third-party
call control): our current streams are offered in the 200 (each stream's own offer, so a hold of
ours stays in it) and the answer in the ACK is applied to them (``_offer_answered``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from ._sdp import answer_sdp, offer_sdp, stream_is_rejected
from ._state import SessionStateError
from ._waiter import StreamFailure

log = logging.getLogger(__name__)


def _remote_holds(streams: Iterable[Any]) -> list[bool]:
    """Whether the peer holds each of ``streams`` that can be held (compared before and after an
    exchange to tell whether the peer's hold changed)."""
    return [stream.on_hold_by_remote for stream in streams if stream.hold_supported]


class ProposalMixin:
    _local: tuple[str, list[Any]] | None
    _remote_new: list[Any]
    _hold_wanted: bool | None
    _pending_remote: tuple[str, list[Any], Any] | None
    _local_done_call: tuple[Any, tuple[int, str | None]] | None
    _offer_out: list[bool] | None

    def _init_proposals(self) -> None:
        self._local = None
        self._remote_new = []
        self._pending_remote = None
        self._local_done_call = None  # our answered proposal, handled on the next reactor turn
        self._offer_out = None  # our offer in a 2xx to an offerless re-INVITE: the remote hold flags

    # -- hold ------------------------------------------------------------------------------------

    def hold(self) -> None:
        """Put the streams that support hold on hold (re-INVITE as soon as possible)."""
        self._hold_wanted = True
        self._apply_pending_hold()

    def unhold(self) -> None:
        """Take the streams off hold (re-INVITE as soon as possible)."""
        self._hold_wanted = False
        self._apply_pending_hold()

    def _apply_pending_hold(self) -> None:
        s: Any = self
        if self._hold_wanted is None or s.state != "connected":
            return
        if s._invitation is None or s._invitation.sub_state != "normal":
            return  # a re-INVITE either way is in progress: sent once it is over
        if self._pending_remote is not None or self._local_done_call is not None:
            return  # an exchange that just ended is not applied yet: sent once it is
        if self._offer_out is not None:
            return  # our offer in a 2xx waits for the answer in its ACK: sent once it came
        wanted, self._hold_wanted = self._hold_wanted, None
        streams = [
            stream for stream in s.streams if stream.hold_supported and stream.on_hold_by_local != wanted
        ]
        if not streams:
            return
        for stream in streams:
            stream.hold() if wanted else stream.unhold()
        self._propose("hold", streams)

    # -- our proposals ---------------------------------------------------------------------------

    def add_stream(self, stream: Any) -> None:
        """Propose ``stream`` to the peer (SIPSessionGotProposal, then accepted or rejected)."""
        s: Any = self
        if s.state != "connected":
            raise SessionStateError(f"cannot add a stream in state {s.state!r}")
        s._move("propose")
        s.proposed_streams = [stream]
        s._post("SIPSessionGotProposal", originator="local", streams=[stream])
        s._initialize([stream], "outgoing", lambda failure: self._add_initialized(stream, failure))

    def _add_initialized(self, stream: Any, failure: StreamFailure | None) -> None:
        s: Any = self
        if s.state != "sending_proposal":
            return
        if failure is not None:
            s._end_streams([stream])
            s._move("proposal_done")
            s.proposed_streams = None
            s._post("SIPSessionHadProposalFailure", failure_reason=failure.reason, streams=[stream])
            return
        s._slots.append(stream)
        self._local = ("add", [stream])
        s._invitation.send_reinvite(sdp=offer_sdp(s._address(), s._slots, s._invitation.sdp.active_local))

    def remove_stream(self, stream: Any) -> None:
        """Stop ``stream`` and tell the peer (its m= line gets port 0)."""
        s: Any = self
        if s.state != "connected" or stream not in s.streams:
            raise SessionStateError(f"cannot remove {stream!r} in state {s.state!r}")
        stream.deactivate()
        index = s._index(stream)
        local = s._invitation.sdp.active_local
        s._slots[index] = _port_zero(local.media[index])
        s.streams.remove(stream)
        s._end_streams([stream])
        self._propose("remove", [stream], post=False)

    def _propose(self, kind: str, streams: list[Any], post: bool = False) -> None:
        s: Any = self
        s._move("propose")
        self._local = (kind, streams)
        s._invitation.send_reinvite(sdp=offer_sdp(s._address(), s._slots, s._invitation.sdp.active_local))

    def cancel_proposal(self) -> None:
        """Withdraw our pending proposal (SIPSessionGotRejectProposal with code 487 follows)."""
        s: Any = self
        if s.state != "sending_proposal":
            raise SessionStateError(f"no proposal of ours to cancel in state {s.state!r}")
        s._invitation.cancel_reinvite()

    def _sub_state_changed(self, data: Any) -> None:
        s: Any = self
        if data.sub_state == "received_proposal":
            self._received_proposal(data)
        elif data.sub_state == "normal" and data.prev_sub_state == "sending_proposal":
            answer = (data.code or 0, data.reason)
            self._local_done_call = (s.reactor.callLater(0, self._local_done, *answer), answer)
        elif data.sub_state == "normal" and data.prev_sub_state == "received_proposal":
            s.reactor.callLater(0, self._remote_done, data.code or 0)
        elif data.sub_state == data.prev_sub_state == "sending_proposal" and data.code:
            # a 101-199 to our re-INVITE (the core's reported sub-state loop)
            s._post("SIPSessionGotProvisionalResponse", code=data.code, reason=data.reason)

    def _local_done(self, code: int, reason: str | None) -> None:
        s: Any = self
        self._local_done_call = None
        if self._local is None or s.state != "sending_proposal":
            return
        kind, streams = self._local
        self._local = None
        local, remote = s._invitation.sdp.active_local, s._invitation.sdp.active_remote
        accepted = 200 <= code < 300
        if kind == "add":
            stream = streams[0]
            index = s._index(stream)
            if not accepted or stream_is_rejected(remote, index):
                s._slots[index] = _port_zero(local.media[index]) if accepted else None
                if s._slots[-1] is None:
                    s._slots.pop()
                s._end_streams([stream])
                self._proposal_finished()
                s._post(
                    "SIPSessionGotRejectProposal",
                    originator="local",
                    code=code,
                    reason=reason,
                    streams=[stream],
                )
                return
            self._update_streams(local, remote)
            self._start_added([stream], "local", local, remote)
            return
        if kind == "hold" and not accepted:
            self._undo_hold(streams, retry=code == 491)
        self._update_streams(local, remote)
        self._proposal_finished()
        if kind == "remove":
            s._post("SIPSessionDidRenegotiateStreams", action="remove", streams=list(streams))
        elif accepted:
            self._post_hold("local")

    def _undo_hold(self, streams: list[Any], retry: bool) -> None:
        """Our hold/unhold re-INVITE failed: the streams go back to what was negotiated. After a
        glare drop (``retry``) the wish stays and is sent again, unless the application changed it."""
        s: Any = self
        wanted = streams[0].on_hold_by_local
        for stream in streams:
            stream.unhold() if wanted else stream.hold()
            stream.reset(s._index(stream))
        if retry and self._hold_wanted is None:
            self._hold_wanted = wanted

    def _start_added(self, streams: list[Any], originator: str, local: Any, remote: Any) -> None:
        s: Any = self
        proposed = list(s.proposed_streams or streams)

        def started(failure: StreamFailure | None) -> None:
            if failure is not None:
                s._end_streams(streams)
                for stream in streams:
                    index = s._index(stream)
                    s._slots[index] = _port_zero(local.media[index])
                self._proposal_finished()
                s._post("SIPSessionHadProposalFailure", failure_reason=failure.reason, streams=list(streams))
                return
            s.streams.extend(streams)
            self._proposal_finished()
            s._post(
                "SIPSessionGotAcceptProposal",
                originator=originator,
                streams=list(streams),
                proposed_streams=proposed,
            )
            s._post("SIPSessionDidRenegotiateStreams", action="add", streams=list(streams))

        s._barrier = s._barrier_for(streams, started)
        s._barrier.run(lambda stream: stream.start(local, remote, s._index(stream)))

    def _proposal_finished(self) -> None:
        s: Any = self
        s.proposed_streams = None
        if s.state in ("sending_proposal", "received_proposal"):
            s._move("proposal_done")
        self._apply_pending_hold()

    def _update_streams(self, local: Any, remote: Any) -> None:
        s: Any = self
        for stream in s.streams:
            stream.update(local, remote, s._index(stream))

    def _post_hold(self, originator: str) -> None:
        s: Any = self
        held = [stream for stream in s.streams if stream.hold_supported]
        attribute = "on_hold_by_local" if originator == "local" else "on_hold_by_remote"
        on_hold = any(getattr(stream, attribute) for stream in held)
        partial = on_hold and not all(getattr(stream, attribute) for stream in held)
        s._post("SIPSessionDidChangeHoldState", originator=originator, on_hold=on_hold, partial=partial)

    # -- the peer's proposals --------------------------------------------------------------------

    def _received_proposal(self, data: Any) -> None:
        s: Any = self
        if self._local_done_call is not None:  # our re-INVITE ended in this same turn (glare)
            call, answer = self._local_done_call
            call.cancel()
            self._local_done(*answer)
        remote = s._invitation.sdp.proposed_remote
        if s.state == "connected" and remote is None:
            self._offer_in_answer()
            return
        if s.state != "connected":
            s._invitation.send_response(500)
            return
        from sipsimple.session._manager import streams_from_offer

        new = [i for i, media in enumerate(remote.media) if media.port != 0 and
               (i >= len(s._slots) or not hasattr(s._slots[i], "get_local_media"))]  # fmt: skip
        registry = getattr(s.manager, "registry", None)  # the manager's, as for the first offer
        candidates = streams_from_offer(s.account, remote, new, registry) if new else {}
        if candidates:
            s._move("proposal_received")
            for index, stream in candidates.items():
                while len(s._slots) <= index:
                    s._slots.append(None)
                s._slots[index] = stream
            self._remote_new = list(candidates.values())
            s.proposed_streams = list(self._remote_new)
            s._post("SIPSessionGotProposal", originator="remote", streams=list(self._remote_new))
            return
        self._answer_update(remote)

    def _offer_in_answer(self) -> None:
        """The peer's re-INVITE has no SDP: the 200 carries our offer of the current streams."""
        s: Any = self
        try:
            offer = offer_sdp(s._address(), s._slots, s._invitation.sdp.active_local)
        except Exception as error:  # a stream that cannot write its offer now
            log.warning("%r: cannot offer in the 200 to a re-INVITE: %s", s, error)
            s._invitation.send_response(500, "Media Stream Failure")
            return
        self._offer_out = _remote_holds(s.streams)
        self._pending_remote = ("offer", [], None)
        s._invitation.send_response(200, sdp=offer)

    def _offer_answered(self, data: Any) -> None:
        """SIPInvitationGotSDPUpdate while our offer in a 2xx waits for the ACK: the answer came
        (the streams follow it, a change of the peer's hold is posted) or was missing or unusable
        (the core then ends the call with a BYE: RFC 3261 §13.2.1 wants the answer there)."""
        s: Any = self
        before, self._offer_out = self._offer_out, None
        if before is None or not data.succeeded or s.state in ("terminating", "terminated"):
            return
        self._update_streams(data.local_sdp, data.remote_sdp)
        if _remote_holds(s.streams) != before:
            self._post_hold("remote")
        self._apply_pending_hold()

    def _answer_update(self, remote: Any) -> None:
        s: Any = self
        removed = [stream for stream in s.streams if stream_is_rejected(remote, s._index(stream))]
        kept = [stream for stream in s.streams if stream not in removed]
        if not all(stream.validate_update(remote, s._index(stream)) for stream in kept):
            s._invitation.send_response(488)
            return
        for stream in removed:
            stream.deactivate()
            s.streams.remove(stream)
            s._slots[s._index(stream)] = None
            s._end_streams([stream])
        self._pending_remote = ("update", removed, _remote_holds(kept))
        s._invitation.send_response(200, sdp=answer_sdp(s._address(), remote, s._slots))

    def accept_proposal(self, streams: Iterable[Any]) -> None:
        """Accept the peer's proposed ``streams`` (a subset); the others are refused with port 0."""
        s: Any = self
        streams = list(streams)
        if s.state != "received_proposal" or any(stream not in self._remote_new for stream in streams):
            raise SessionStateError("accept_proposal() takes a subset of the streams the peer proposed")
        for stream in self._remote_new:
            if stream not in streams:
                s._slots[s._index(stream)] = None
        remote = s._invitation.sdp.proposed_remote

        def initialized(failure: StreamFailure | None) -> None:
            if failure is not None:
                s._end_streams(streams)
                for stream in streams:
                    s._slots[s._index(stream)] = None
                s._invitation.send_response(488)
                self._pending_remote = ("failed", streams, failure.reason)
                return
            self._pending_remote = ("add", streams, None)
            s._invitation.send_response(200, sdp=answer_sdp(s._address(), remote, s._slots))

        s._initialize(streams, "incoming", initialized)

    def reject_proposal(self, code: int = 488, reason: str | None = None) -> None:
        """Refuse the peer's proposal (SIPSessionGotRejectProposal follows)."""
        s: Any = self
        if s.state != "received_proposal":
            raise SessionStateError(f"no proposal to reject in state {s.state!r}")
        for stream in self._remote_new:
            s._slots[s._index(stream)] = None
        self._pending_remote = ("reject", list(self._remote_new), (code, reason))
        s._invitation.send_response(code, reason)

    def _remote_done(self, code: int) -> None:
        s: Any = self
        pending = self._pending_remote
        self._pending_remote = None
        if s.state in ("terminating", "terminated"):
            return  # ended in the meantime: the streams are gone
        local, remote = s._invitation.sdp.active_local, s._invitation.sdp.active_remote
        if pending is None:  # the peer cancelled its re-INVITE
            if s.state == "received_proposal":
                streams, self._remote_new = self._remote_new, []
                self._proposal_finished()
                s._post(
                    "SIPSessionGotRejectProposal",
                    originator="remote",
                    code=487,
                    reason="Request Terminated",
                    streams=streams,
                )
            self._apply_pending_hold()
            return
        kind, streams, extra = pending
        self._remote_new = []
        if kind == "offer":  # our offer went in the 2xx: the ACK's answer is applied by _offer_answered
            if self._offer_out is None:
                self._apply_pending_hold()
            return
        if kind == "update":
            self._update_streams(local, remote)
            if streams:
                s._post("SIPSessionDidRenegotiateStreams", action="remove", streams=list(streams))
            if _remote_holds(s.streams) != extra:
                self._post_hold("remote")
            self._apply_pending_hold()
        elif kind == "add":
            self._update_streams(local, remote)
            self._start_added(streams, "remote", local, remote)
        elif kind == "reject":
            self._proposal_finished()
            rcode, rreason = extra
            s._post(
                "SIPSessionGotRejectProposal",
                originator="remote",
                code=rcode,
                reason=rreason,
                streams=streams,
            )
        else:
            self._proposal_finished()
            s._post("SIPSessionHadProposalFailure", failure_reason=extra, streams=streams)


def _port_zero(media: Any) -> Any:
    from sipsimple.core.sdp import rejected_media

    return rejected_media(media)
