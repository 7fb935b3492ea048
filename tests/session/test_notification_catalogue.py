"""Every Session notification this slice posts carries the data attributes the reference lists
(timestamp included); observed on a full call in the loopback tests' setting."""

from __future__ import annotations

from tests.session.test_session_loopback import call, connected_pair, incoming
from tests.streams.fake import FakeStream

CATALOGUE = {
    "SIPSessionNewIncoming": {"streams"},
    "SIPSessionNewOutgoing": {"streams"},
    "SIPSessionGotRingIndication": set(),
    "SIPSessionGotProvisionalResponse": {"code", "reason"},
    "SIPSessionWillStart": set(),
    "SIPSessionDidStart": {"streams"},
    "SIPSessionDidFail": {"originator", "code", "reason", "failure_reason"},
    "SIPSessionWillEnd": set(),
    "SIPSessionDidEnd": {"originator", "end_reason"},
    "SIPSessionDidChangeHoldState": {"originator", "on_hold", "partial"},
    "SIPSessionGotProposal": {"originator", "streams"},
    "SIPSessionGotRejectProposal": {"originator", "code", "reason", "streams"},
    "SIPSessionGotAcceptProposal": {"originator", "streams", "proposed_streams"},
    "SIPSessionDidRenegotiateStreams": {"action", "streams"},
}


def test_each_notification_has_the_reference_data(loop, alice, bob_engine, bob_manager, recorder):
    caller = call(loop, alice, bob_engine, [FakeStream()])
    incoming(loop, bob_manager).reject(486)
    loop.run_until(lambda: caller.state == "terminated", what="rejected")
    caller, callee = connected_pair(loop, alice, bob_engine, bob_manager)
    caller.hold()
    loop.run_until(lambda: len(recorder.named("SIPSessionDidChangeHoldState")) == 2, what="hold")
    caller.add_stream(FakeStream())
    loop.run_until(lambda: callee.state == "received_proposal", what="proposal")
    callee.reject_proposal()
    loop.run_until(lambda: len(recorder.named("SIPSessionGotRejectProposal")) == 2, what="reject")
    caller.add_stream(FakeStream())
    loop.run_until(lambda: callee.state == "received_proposal", what="proposal")
    callee.accept_proposal(callee.proposed_streams)
    loop.run_until(lambda: len(recorder.named("SIPSessionDidRenegotiateStreams")) == 2, what="accepted")
    caller.end()
    loop.run_until(lambda: callee.state == "terminated", what="ended")
    seen = {n.name for n in recorder.notifications if n.name.startswith("SIPSession")}
    assert seen >= set(CATALOGUE) - {"SIPSessionGotRingIndication", "SIPSessionGotProvisionalResponse"}
    for notification in recorder.notifications:
        if notification.name in CATALOGUE:
            attributes = set(vars(notification.data))
            assert attributes >= CATALOGUE[notification.name] | {"timestamp"}, notification.name
