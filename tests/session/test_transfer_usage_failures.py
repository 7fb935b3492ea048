"""A transfer that fails inside the call's dialog does not end the call (RFC 5057): two Sessions on
loopback (fake streams), where one side answers the REFER or the transfer NOTIFYs with an error
that ends only the transfer usage (481 from a peer that forgot the subscription, 489, 500). The
transfer fails, both sessions stay connected, and the dialog still carries a hold and the BYE."""

from __future__ import annotations

from typing import Any

import pytest

from sipsimple.core.sip.uri import SIPURI
from tests.session.test_transfer import connect, named, offered

TARGET = SIPURI("127.0.0.1", user="carol", port=9)


def refuse_with(invitation: Any, handler: str, code: int) -> None:
    """Make ``invitation`` answer the requests its ``handler`` serves with ``code``."""
    setattr(
        invitation,
        handler,
        lambda dialog, transaction, request: invitation._respond(dialog, transaction, code),
    )


def hold_and_end(loop, recorder, holder, other) -> None:
    """``holder`` holds (a re-INVITE in the dialog) then ends; both sides see it as a normal end."""
    holder.hold()
    loop.run_until(
        lambda: (
            named(recorder, "SIPSessionDidChangeHoldState", holder)
            and named(recorder, "SIPSessionDidChangeHoldState", other)
        ),
        what="the hold on both sides",
    )
    assert holder.on_hold and other.on_hold
    holder.end()
    loop.run_until(lambda: holder.state == "terminated" and other.state == "terminated", what="the end")
    assert [d.originator for d in named(recorder, "SIPSessionDidEnd", other)] == ["remote"]
    assert named(recorder, "SIPSessionDidFail", holder) == named(recorder, "SIPSessionDidFail", other) == []


@pytest.mark.parametrize("code", [481, 489, 500])
def test_a_transfer_notify_refused_by_the_transferor_fails_the_transfer_and_keeps_the_call(
    loop, alice, bob_engine, bob_manager, recorder, code
):
    a_b, b_a = connect(loop, alice, bob_engine, bob_manager, "bob")
    refuse_with(b_a._invitation, "_on_transfer_notify", code)
    a_b.transfer_handler.routes_for = lambda session, uri: []  # the transferred call fails at once
    b_a.transfer(TARGET)
    offered(loop, recorder, a_b)
    a_b.accept_transfer()
    core_failures = lambda: [  # noqa: E731
        n.data for n in recorder.named("SIPInvitationTransferDidFail") if n.sender is a_b._invitation
    ]
    loop.run_until(core_failures, what="the refused NOTIFY at alice")
    assert (core_failures()[0].role, core_failures()[0].code) == ("referee", code)
    loop.run_until(lambda: named(recorder, "SIPSessionTransferDidFail", a_b), what="alice's transfer failure")
    assert a_b.state == "connected" and b_a.state == "connected"
    hold_and_end(loop, recorder, b_a, a_b)


def test_a_refer_refused_481_fails_the_transfer_and_keeps_the_call(
    loop, alice, bob_engine, bob_manager, recorder
):
    a_b, b_a = connect(loop, alice, bob_engine, bob_manager, "bob")
    refuse_with(a_b._invitation, "_on_refer", 481)
    b_a.transfer(TARGET)
    loop.run_until(lambda: named(recorder, "SIPSessionTransferDidFail", b_a), what="the failure at bob")
    assert named(recorder, "SIPSessionTransferDidFail", b_a)[0].code == 481
    assert a_b.state == "connected" and b_a.state == "connected"
    hold_and_end(loop, recorder, a_b, b_a)
