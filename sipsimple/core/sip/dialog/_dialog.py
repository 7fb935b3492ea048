"""The Dialog: the state of one RFC 3261 §12 dialog, the requests it builds and the messages it takes.

A Dialog does no I/O and reads no clock. It is created from the messages that create the dialog
(``from_uac``, ``from_uas``, ``from_notify``), then:

* builds our requests in it (``create_request``, ``create_ack``) and our responses to the peer's
  requests (``create_response``), returning messages for the caller to hand to the transaction
  layer;
* takes the peer's requests (``receive_request``) and the responses to our requests
  (``receive_response``, ``timed_out``), and answers with a :class:`Verdict`.

What each event does to the state is the table in ``_state.py``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

from sipsimple.core.sip.headers import (
    BaseHeader,
    CallIDHeader,
    CSeqHeader,
    FrozenContactHeader,
    FrozenFromHeader,
    FrozenRouteHeader,
    FrozenToHeader,
    MaxForwardsHeader,
)
from sipsimple.core.sip.message import SIPRequest, SIPResponse, make_response
from sipsimple.core.sip.transaction import LocalProtocolError, RemoteProtocolError
from sipsimple.core.sip.uri import BaseSIPURI, FrozenSIPURI

from ._fields import Headers, add_extra, contact_header, cseq_of, identity, is_sips, tag_of
from ._ids import DialogID, request_dialog_id, response_dialog_id
from ._routing import contact_target, record_routes_of, request_target, route_set_from
from ._state import TARGET_REFRESH_METHODS, DialogEvent, DialogState, Effect, Verdict, transition
from ._usages import ends_dialog

__all__ = ["MAX_CSEQ", "Dialog", "Role"]

E = DialogEvent

#: The largest CSeq number (RFC 3261 §8.1.1.5: a 32-bit unsigned integer).
MAX_CSEQ = 2**32 - 1


class Role(enum.Enum):
    """Which end of the dialog-creating request we were."""

    UAC = "uac"  # we sent it (from_uac, from_notify)
    UAS = "uas"  # we received it (from_uas)


class Dialog:
    """One dialog (RFC 3261 §12.1): its identifier, both ends, routing and sequence numbers.

    Build it with :meth:`from_uac`, :meth:`from_uas` or :meth:`from_notify`. Attributes are read
    only except ``local_contact`` (the Contact put in our target-refresh requests and in our
    responses to them), which the caller may change, e.g. after a network change.
    """

    def __init__(
        self,
        *,
        id: DialogID,
        state: DialogState,
        role: Role,
        local_identity: Any,
        remote_identity: Any,
        remote_target: BaseSIPURI,
        route_set: Iterable[Any] = (),
        local_cseq: int | None,
        remote_cseq: int | None,
        secure: bool,
        local_contact: Any = None,
        creating_cseq: tuple[int, str],
    ) -> None:
        self._id = id
        self._state = state
        self._role = role
        self._local_identity: FrozenFromHeader = identity(local_identity, FrozenFromHeader, id.local_tag)
        self._remote_identity: FrozenToHeader = identity(remote_identity, FrozenToHeader, id.remote_tag)
        self._remote_target = FrozenSIPURI.new(remote_target)
        self._route_set = [FrozenRouteHeader.new(route) for route in route_set]
        self._local_cseq = local_cseq
        self._remote_cseq = remote_cseq
        self._secure = secure
        self._local_contact = None if local_contact is None else contact_header(local_contact)
        self._creating_cseq = creating_cseq

    # -- creation (§12.1) ------------------------------------------------------------------------

    @classmethod
    def from_uac(
        cls,
        request: SIPRequest,
        response: SIPResponse,
        *,
        secure_transport: bool,
        local_contact: Any = None,
    ) -> Dialog:
        """The dialog a response to our dialog-creating ``request`` creates (§12.1.2).

        A 1xx with a To tag creates an early dialog, a 2xx a confirmed one (a 2xx without a tag
        is an RFC 2543 peer: the remote tag is empty). The route set is the response's
        Record-Route reversed, the remote target its Contact (without one, a provisional
        response leaves the Request-URI as the target until a later response gives one).
        ``secure_transport``: the request was sent over TLS. ``local_contact`` defaults to the
        request's Contact.
        """
        code = response.code
        remote_tag = tag_of(response, "To") or ""
        if 101 <= code <= 199 and remote_tag:
            state = DialogState.EARLY
        elif 200 <= code <= 299:
            state = DialogState.CONFIRMED
        else:
            raise LocalProtocolError(
                f"a {code} response{'' if remote_tag else ' without a To tag'} creates no dialog"
            )
        local_tag = tag_of(request, "From")
        if not local_tag:
            raise LocalProtocolError("the dialog-creating request has no From tag")
        cseq = cseq_of(request)
        if (
            response.call_id != request.call_id
            or tag_of(response, "From") != local_tag
            or cseq_of(response) != cseq
        ):
            raise LocalProtocolError(f"{response!r} does not answer {request!r}")
        target = contact_target(response)
        if target is None:
            if not isinstance(request.uri, BaseSIPURI):
                raise RemoteProtocolError(f"the {code} response has no Contact")
            target = FrozenSIPURI.new(request.uri)
        assert request.call_id is not None
        return cls(
            id=DialogID(request.call_id, local_tag, remote_tag),
            state=state,
            role=Role.UAC,
            local_identity=request.get("From"),
            remote_identity=request.get("To"),
            remote_target=target,
            route_set=route_set_from(record_routes_of(response), reverse=True),
            local_cseq=cseq.number,
            remote_cseq=None,
            secure=secure_transport and is_sips(request.uri),
            local_contact=request.get("Contact") if local_contact is None else local_contact,
            creating_cseq=(cseq.number, cseq.method),
        )

    @classmethod
    def from_uas(
        cls, request: SIPRequest, local_tag: str, *, local_contact: Any, secure_transport: bool
    ) -> Dialog:
        """The dialog we create by answering the dialog-creating ``request`` (§12.1.1).

        It is early until :meth:`create_response` sends the 2xx. The route set is the
        request's Record-Route in order, the remote target its Contact (a request without one is
        the peer's RemoteProtocolError: answer 400), the remote CSeq the request's.
        ``local_contact`` is the Contact of our responses and requests; ``secure_transport``:
        the request arrived over TLS.
        """
        if not local_tag:
            raise LocalProtocolError("a dialog needs a non-empty local tag")
        if tag_of(request, "To"):
            raise LocalProtocolError("the request has a To tag: it is within a dialog already")
        call_id = request.call_id
        if call_id is None:
            raise RemoteProtocolError("the request has no Call-ID")
        cseq = cseq_of(request)
        target = contact_target(request)
        if target is None:
            raise RemoteProtocolError(f"the dialog-creating {request.method} has no Contact")
        return cls(
            id=DialogID(call_id, local_tag, tag_of(request, "From") or ""),
            state=DialogState.EARLY,
            role=Role.UAS,
            local_identity=request.get("To"),
            remote_identity=request.get("From"),
            remote_target=target,
            route_set=route_set_from(record_routes_of(request), reverse=False),
            local_cseq=None,
            remote_cseq=cseq.number,
            secure=secure_transport and is_sips(request.uri),
            local_contact=local_contact,
            creating_cseq=(cseq.number, cseq.method),
        )

    @classmethod
    def from_notify(
        cls,
        subscribe_request: SIPRequest,
        notify_request: SIPRequest,
        *,
        secure_transport: bool,
        local_contact: Any = None,
    ) -> Dialog:
        """The dialog the first NOTIFY for our SUBSCRIBE (or REFER) creates (RFC 6665 §4.1.2.4).

        The NOTIFY may come before the 2xx. It is a request from the peer, so the UAS rules
        apply to it: its From tag is the remote tag, its Contact the remote target, its
        Record-Route in order the route set, its CSeq the remote CSeq. The dialog is confirmed.
        Check first that the NOTIFY is for this request (:func:`notify_matches`).
        """
        if subscribe_request.method not in ("SUBSCRIBE", "REFER") or notify_request.method != "NOTIFY":
            raise LocalProtocolError(
                f"a {notify_request.method} for a {subscribe_request.method} creates no dialog"
            )
        local_tag = tag_of(subscribe_request, "From")
        if not local_tag:
            raise LocalProtocolError(f"the {subscribe_request.method} has no From tag")
        if notify_request.call_id != subscribe_request.call_id or tag_of(notify_request, "To") != local_tag:
            raise LocalProtocolError(f"the NOTIFY is not for this {subscribe_request.method}")
        target = contact_target(notify_request)
        if target is None:
            raise RemoteProtocolError("the NOTIFY has no Contact")
        cseq = cseq_of(subscribe_request)
        assert subscribe_request.call_id is not None
        return cls(
            id=DialogID(subscribe_request.call_id, local_tag, tag_of(notify_request, "From") or ""),
            state=DialogState.CONFIRMED,
            role=Role.UAC,
            local_identity=subscribe_request.get("From"),
            remote_identity=subscribe_request.get("To"),
            remote_target=target,
            route_set=route_set_from(record_routes_of(notify_request), reverse=False),
            local_cseq=cseq.number,
            remote_cseq=cseq_of(notify_request).number,
            secure=secure_transport and is_sips(subscribe_request.uri),
            local_contact=subscribe_request.get("Contact") if local_contact is None else local_contact,
            creating_cseq=(cseq.number, cseq.method),
        )

    # -- state -----------------------------------------------------------------------------------

    @property
    def id(self) -> DialogID:
        return self._id

    @property
    def call_id(self) -> str:
        return self._id.call_id

    @property
    def local_tag(self) -> str:
        return self._id.local_tag

    @property
    def remote_tag(self) -> str:
        return self._id.remote_tag

    @property
    def state(self) -> DialogState:
        return self._state

    @property
    def early(self) -> bool:
        return self._state is DialogState.EARLY

    @property
    def confirmed(self) -> bool:
        return self._state is DialogState.CONFIRMED

    @property
    def terminated(self) -> bool:
        return self._state is DialogState.TERMINATED

    @property
    def role(self) -> Role:
        return self._role

    @property
    def local_identity(self) -> FrozenFromHeader:
        """The From of our requests (URI, display name, local tag)."""
        return self._local_identity

    @property
    def remote_identity(self) -> FrozenToHeader:
        """The To of our requests (URI, display name, remote tag when there is one)."""
        return self._remote_identity

    @property
    def local_uri(self) -> Any:
        return self._local_identity.uri

    @property
    def remote_uri(self) -> Any:
        return self._remote_identity.uri

    @property
    def remote_target(self) -> FrozenSIPURI:
        """Where our requests go: the URI of the peer's latest Contact."""
        return self._remote_target

    @property
    def route_set(self) -> list[FrozenRouteHeader]:
        """The Route values our requests carry (a copy)."""
        return list(self._route_set)

    @property
    def local_cseq(self) -> int | None:
        """The CSeq of our latest request (None: we sent none yet, as a UAS)."""
        return self._local_cseq

    @property
    def remote_cseq(self) -> int | None:
        """The CSeq of the peer's latest request (None: none received yet, as a UAC)."""
        return self._remote_cseq

    @property
    def secure(self) -> bool:
        """Created by a sips Request-URI over TLS (§12.1): every hop must use TLS."""
        return self._secure

    @property
    def local_contact(self) -> FrozenContactHeader | None:
        return self._local_contact

    @local_contact.setter
    def local_contact(self, contact: Any) -> None:
        self._local_contact = None if contact is None else contact_header(contact)

    def __repr__(self) -> str:
        return f"<Dialog {self._state.name} {self._role.name} {self._id}>"

    # -- matching --------------------------------------------------------------------------------

    def match_request(self, request: Any) -> DialogID | None:
        """This dialog's id when ``request`` (received) is in it: same Call-ID, its To tag our
        local tag, its From tag the remote tag. None otherwise."""
        return self._id if request_dialog_id(request) == self._id else None

    def match_response(self, response: Any) -> DialogID | None:
        """This dialog's id when ``response`` (to our request) is in it: same Call-ID, its From
        tag our local tag, its To tag the remote tag. None otherwise."""
        return self._id if response_dialog_id(response) == self._id else None

    def _is_creating(self, request: Any, role: Role) -> bool:
        if self._role is not role or request.call_id != self._id.call_id:
            return False
        cseq = cseq_of(request)
        return (cseq.number, cseq.method) == self._creating_cseq

    # -- events ----------------------------------------------------------------------------------

    def _apply(self, event: DialogEvent, message: Any) -> Verdict:
        """Run the table for ``event``; nothing changes if it raises."""
        move = transition(self._state, event)
        effects = move.effects
        target = contact_target(message) if Effect.REFRESH_TARGET in effects else None
        routes = (
            route_set_from(record_routes_of(message), reverse=True)
            if Effect.RECOMPUTE_ROUTES in effects
            else None
        )
        before = self._state
        self._state = move.target
        if Effect.TAKE_CSEQ in effects:
            self._remote_cseq = cseq_of(message).number
        refreshed = target is not None and str(target) != str(self._remote_target)
        if target is not None:
            self._remote_target = target
        if routes is not None:
            self._route_set = routes
        status, reason = None, ""
        if Effect.REJECT_500 in effects:
            status = 500
            reason = f"CSeq {cseq_of(message).number} is lower than the remote CSeq {self._remote_cseq}"
        elif Effect.REJECT_481 in effects:
            status, reason = 481, "the dialog is terminated"
        return Verdict(
            event=event,
            state=self._state,
            accepted=status is None and Effect.DROP not in effects,
            status=status,
            reason=reason,
            target_refreshed=refreshed,
            terminated=before is not DialogState.TERMINATED and self._state is DialogState.TERMINATED,
        )

    def receive_request(self, request: SIPRequest) -> Verdict:
        """A request from the peer in this dialog (§12.2.2).

        ``accepted`` False with ``status`` 500 (CSeq out of order) or 481 (terminated): answer
        with that status; with ``status`` None (an ACK that fits no 2xx): drop it. A request
        that is not in this dialog is a LocalProtocolError (see :meth:`match_request`).
        """
        if request_dialog_id(request) != self._id:
            raise LocalProtocolError(f"{request!r} is not in dialog {self._id}")
        if request.method == "CANCEL":
            raise LocalProtocolError("a CANCEL belongs to the transaction layer, not to the dialog")
        number = cseq_of(request).number
        if request.method == "ACK":
            event = E.ACK
        elif self._remote_cseq is not None and number < self._remote_cseq:
            event = E.OUT_OF_ORDER_REQUEST
        elif request.method in TARGET_REFRESH_METHODS:
            event = E.REFRESH_REQUEST
        else:
            event = E.REQUEST
        return self._apply(event, request)

    def receive_response(
        self, request: SIPRequest, response: SIPResponse, *, shared_usage: bool = False
    ) -> Verdict:
        """A response to ``request``, which we sent in this dialog or which created it.

        ``terminated`` True (a 481 or 408, §12.2.1.2; a 3xx-6xx to the request that created an
        early dialog): the caller ends the dialog's usages. A 1xx or 2xx with another To tag to
        the dialog-creating request is another dialog (a fork): LocalProtocolError.
        ``shared_usage``: ``request`` belongs to one of several usages of the dialog (RFC 5057,
        ``_usages.py``): then only a dialog-terminating code (404, 410, 416, 482-485, 502, 604)
        ends the dialog, and a 481 or 408 is left to that usage.
        """
        cseq = cseq_of(request)
        if cseq_of(response) != cseq or response.call_id != self._id.call_id:
            raise LocalProtocolError(f"{response!r} does not answer {request!r} in dialog {self._id}")
        if tag_of(response, "From") != self._id.local_tag:
            raise LocalProtocolError(f"{response!r} is not in dialog {self._id}")
        code = response.code
        if self._is_creating(request, Role.UAC):
            event = self._creating_response_event(code, tag_of(response, "To") or "")
        elif code >= 300 and ends_dialog(code, shared_usage=shared_usage):
            event = E.DIALOG_GONE
        elif 200 <= code <= 299 and request.method in TARGET_REFRESH_METHODS:
            event = E.REFRESH_ACCEPTED
        else:
            event = E.OTHER_RESPONSE
        return self._apply(event, response)

    def _creating_response_event(self, code: int, tag: str) -> DialogEvent:
        if code >= 300:
            return E.REJECTING_RESPONSE
        if code < 200 and not tag:
            return E.UNTAGGED_PROVISIONAL
        if tag != self._id.remote_tag:
            raise LocalProtocolError(
                f"a {code} with To tag {tag!r} is another dialog than {self._id}: use Dialog.from_uac"
            )
        return E.EARLY_RESPONSE if code < 200 else E.CONFIRMING_RESPONSE

    def timed_out(self, request: SIPRequest, *, shared_usage: bool = False) -> Verdict:
        """No response at all to ``request`` (Timer B/F, or a transport error): like a 408. With
        ``shared_usage`` (see :meth:`receive_response`) the dialog stays: the usage gives up."""
        if self._is_creating(request, Role.UAC):
            return self._apply(E.REJECTING_RESPONSE, None)
        if not ends_dialog(None, shared_usage=shared_usage):
            return self._apply(E.OTHER_RESPONSE, None)
        return self._apply(E.DIALOG_GONE, None)

    def terminate(self) -> Verdict:
        """End the dialog (a BYE sent or received, the last usage gone). Idempotent."""
        return self._apply(E.TERMINATE, None)

    # -- building messages (§12.2.1.1) -----------------------------------------------------------

    def create_request(
        self,
        method: str,
        *,
        extra_headers: Headers = (),
        body: bytes = b"",
        content_type: str | BaseHeader | None = None,
    ) -> tuple[SIPRequest, FrozenSIPURI]:
        """A new request in the dialog and the URI of its next hop (resolve it, RFC 3263).

        The CSeq is one more than the last (1 for the first request of a UAS). Target-refresh
        methods carry our Contact. There is no Via: the transaction layer adds it.
        """
        if method == "ACK":
            raise LocalProtocolError("build the ACK for a 2xx with create_ack(invite_cseq)")
        if method == "CANCEL":
            raise LocalProtocolError("build a CANCEL with message.make_cancel from the request it cancels")
        transition(self._state, E.SEND_REQUEST)
        number = 1 if self._local_cseq is None else self._local_cseq + 1
        if number > MAX_CSEQ:
            raise LocalProtocolError(f"the local CSeq would pass {MAX_CSEQ}")
        built = self._build(
            method, number, method in TARGET_REFRESH_METHODS, extra_headers, body, content_type
        )
        self._local_cseq = number
        self._apply(E.SEND_REQUEST, None)
        return built

    def create_ack(
        self,
        invite_cseq: int,
        *,
        extra_headers: Headers = (),
        body: bytes = b"",
        content_type: str | BaseHeader | None = None,
    ) -> tuple[SIPRequest, FrozenSIPURI]:
        """The ACK for the 2xx to our INVITE with CSeq ``invite_cseq`` (§13.2.2.4), and its next
        hop. It repeats the INVITE's CSeq number and does not change the local CSeq."""
        transition(self._state, E.SEND_ACK)
        if self._local_cseq is None or not 0 <= invite_cseq <= self._local_cseq:
            raise LocalProtocolError(f"no INVITE with CSeq {invite_cseq} was sent in this dialog")
        built = self._build("ACK", invite_cseq, False, extra_headers, body, content_type)
        self._apply(E.SEND_ACK, None)
        return built

    def _contact_to_send(self) -> FrozenContactHeader:
        contact = self._local_contact
        if contact is None:
            raise LocalProtocolError("the dialog has no local contact to send")
        if self._secure and not is_sips(contact.uri):
            raise LocalProtocolError("a secure dialog needs a sips: local contact (RFC 3261 §8.1.1.8)")
        return contact

    def _build(
        self,
        method: str,
        number: int,
        with_contact: bool,
        extra_headers: Headers,
        body: bytes,
        content_type: str | BaseHeader | None,
    ) -> tuple[SIPRequest, FrozenSIPURI]:
        request_uri, routes, next_hop = request_target(self._remote_target, self._route_set)
        request = SIPRequest(method, request_uri)
        request.add("Max-Forwards", MaxForwardsHeader(70))
        if routes:
            request.add("Route", routes)
        request.add("From", self._local_identity)
        request.add("To", self._remote_identity)
        request.add("Call-ID", CallIDHeader(self._id.call_id))
        request.add("CSeq", CSeqHeader(number, method))
        if with_contact:
            request.add("Contact", [self._contact_to_send()])
        add_extra(request, extra_headers, body, content_type)
        return request, next_hop

    def create_response(
        self,
        request: SIPRequest,
        code: int,
        reason: str | None = None,
        *,
        extra_headers: Headers = (),
        body: bytes = b"",
        content_type: str | BaseHeader | None = None,
    ) -> SIPResponse:
        """Our response to ``request``: the dialog-creating request (as UAS) or a request in it.

        It carries our To tag (except 100), and for a 101-299 to a target-refresh request our
        Contact; a 101-299 to the dialog-creating request also copies its Record-Route
        (§12.1.1). Responding to the dialog-creating request moves the dialog: a tagged 1xx
        keeps it early, a 2xx confirms it, a 3xx-6xx ends it.
        """
        creating = (
            self._is_creating(request, Role.UAS)
            and not tag_of(request, "To")
            and (tag_of(request, "From") or "") == self._id.remote_tag
        )
        if not creating and request_dialog_id(request) != self._id:
            raise LocalProtocolError(f"{request!r} is not in dialog {self._id}")
        event = None
        if creating and code > 100:
            event = E.SENT_PROVISIONAL if code < 200 else E.SENT_SUCCESS if code < 300 else E.SENT_FAILURE
            transition(self._state, event)
        response = make_response(request, code, reason, to_tag=self._id.local_tag)
        if creating and 101 <= code <= 299:
            response.copy_headers_from(request, "Record-Route")
        if 101 <= code <= 299 and request.method in TARGET_REFRESH_METHODS:
            response.add("Contact", [self._contact_to_send()])
        add_extra(response, extra_headers, body, content_type)
        if event is not None:
            self._apply(event, None)
        return response
