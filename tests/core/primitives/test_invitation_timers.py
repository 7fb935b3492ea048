"""Session timers (RFC 4028) on the fake engine (real transactions, time on a Clock): the headers
of our INVITE, the 422 retry, the UAS's Min-SE check and refresher choice, refreshes at half the
interval by UPDATE and by re-INVITE, the BYE when no refresh comes, refresh failures, and timers
cancelled when the call ends."""

from __future__ import annotations

import random

import pytest

from sipsimple.core import Invitation
from sipsimple.core.primitives import StaticResolver, install_invitation_handler
from sipsimple.core.primitives.invitation._timer import (
    SessionTimerSettings,
    expiry_delay,
    uas_negotiate,
)

from .test_invitation import InviteFakeEngine, call, changes, in_dialog, incoming_invite, peer_request, sdp
from .test_invitation_extensions import provisional_with, with_headers

ALLOW_UPDATE = ("Allow", "INVITE, ACK, CANCEL, BYE, UPDATE")
ALLOW_NO_UPDATE = ("Allow", "INVITE, ACK, CANCEL, BYE")


@pytest.fixture
def fake() -> InviteFakeEngine:
    return InviteFakeEngine()


def connect_with(fake, session_expires: str, allow=ALLOW_UPDATE, **kwargs):
    """Our call answered by a 2xx with ``Session-Expires: session_expires``."""
    invitation, invite = call(fake, **kwargs)
    headers = [allow, ("Require", "timer"), ("Session-Expires", session_expires)]
    provisional_with(fake, invite, 200, body=str(sdp(5000)).encode(), headers=headers)
    assert invitation.state == "connected"
    return invitation, invite


def header(message, name: str) -> str | None:
    values = [str(h).split(":", 1)[1].strip() for h in message.get_all(name)] if name in message else []
    return values[0] if values else None


# -- the UAC: our INVITE and the 422 retry -------------------------------------------------------


def test_our_invite_supports_timer_and_carries_session_expires_and_min_se(fake):
    _, invite = call(fake, session_timer={"session_expires": 600, "min_se": 120, "refresher": "uac"})
    assert "timer" in header(invite, "Supported")
    assert header(invite, "Session-Expires") == "600;refresher=uac"
    assert header(invite, "Min-SE") == "120"


def test_a_disabled_session_timer_sends_no_session_expires(fake):
    _, invite = call(fake, session_timer=False)
    assert "Session-Expires" not in invite and "Min-SE" not in invite


def test_a_422_is_retried_once_with_its_min_se_a_new_cseq_and_the_same_call_id(fake, recorder):
    invitation, invite = call(fake, session_timer={"session_expires": 120})
    provisional_with(fake, invite, 422, headers=[("Min-SE", "300")])
    retry = fake.sent("INVITE")[-1]
    assert retry is not invite and retry.call_id == invite.call_id
    assert retry.cseq.number == invite.cseq.number + 1
    assert (header(retry, "Session-Expires"), header(retry, "Min-SE")) == ("300", "300")
    assert invitation.state == "calling"
    provisional_with(fake, retry, 422, headers=[("Min-SE", "600")])  # a second 422 is final
    assert len(fake.sent("INVITE")) == 2 and invitation.state == "disconnected"
    assert recorder.named("SIPInvitationChangedState")[-1].data.code == 422


def test_a_2xx_without_session_expires_means_no_session_timer(fake):
    invitation, invite = call(fake)
    provisional_with(fake, invite, 200, body=str(sdp(5000)).encode(), headers=[ALLOW_UPDATE])
    assert invitation.session_expires is None and invitation.session_refresher is None
    fake.clock.advance(4000)
    assert fake.sent("UPDATE") == [] and fake.sent("BYE") == []


# -- refreshing ----------------------------------------------------------------------------------


def test_the_refresher_refreshes_by_update_at_half_the_interval_when_the_peer_allows_it(fake, recorder):
    invitation, _ = connect_with(fake, "120;refresher=uac")
    assert (invitation.session_expires, invitation.session_refresher) == (120, "local")
    before = changes(recorder, invitation)
    fake.clock.advance(59.9)
    assert fake.sent("UPDATE") == []
    fake.clock.advance(0.2)
    [update] = fake.sent("UPDATE")
    assert update.body == b"" and header(update, "Session-Expires") == "120;refresher=uac"
    fake.answer(update, 200, headers=[("Session-Expires", "120;refresher=uac"), ("Require", "timer")])
    fake.clock.advance(59.9)
    assert len(fake.sent("UPDATE")) == 1  # restarted at the 2xx: the next one at 60 s from there
    fake.clock.advance(0.2)
    assert len(fake.sent("UPDATE")) == 2
    assert changes(recorder, invitation) == before and invitation.state == "connected"


def test_without_update_in_allow_the_refresh_is_a_reinvite_with_the_same_sdp_and_is_acked(fake, recorder):
    invitation, _ = connect_with(fake, "90;refresher=uac", allow=ALLOW_NO_UPDATE)
    offered = str(invitation.sdp.active_local)
    fake.clock.advance(45.1)
    reinvite = fake.sent("INVITE")[-1]
    assert reinvite.cseq.number == 2 and reinvite.body.decode() == offered
    assert header(reinvite, "Session-Expires") == "90;refresher=uac"
    assert invitation.sub_state == "normal"  # a refresh is not a proposal
    fake.respond(reinvite, 200, body=str(sdp(5000)).encode())
    assert fake.all_sent("ACK")[-1].cseq.number == 2
    assert invitation.session_expires is None  # that 2xx had no Session-Expires: no expiration
    assert [u.data.succeeded for u in recorder.named("SIPInvitationGotSDPUpdate")] == [True]


def test_a_2xx_to_a_refresh_can_hand_the_refresher_role_to_the_peer(fake):
    invitation, _ = connect_with(fake, "120;refresher=uac")
    fake.clock.advance(60.1)
    fake.answer(fake.sent("UPDATE")[-1], 200, headers=[("Session-Expires", "120;refresher=uas")])
    assert invitation.session_refresher == "remote"


def test_the_non_refresher_sends_bye_when_no_refresh_comes_before_interval_minus_32(fake, recorder):
    invitation, _ = connect_with(fake, "120;refresher=uas")
    assert invitation.session_refresher == "remote" and expiry_delay(120) == 88
    fake.clock.advance(87.9)
    assert fake.sent("BYE") == []
    fake.clock.advance(0.2)
    [bye] = fake.sent("BYE")
    assert invitation.state == "disconnecting"
    fake.answer(bye, 200)
    last = recorder.named("SIPInvitationChangedState")[-1].data
    assert (last.state, last.disconnect_reason) == ("disconnected", "session timer expired")


def test_a_short_interval_expires_a_third_early(fake):
    connect_with(fake, "90;refresher=uas")
    fake.clock.advance(59.9)
    assert fake.sent("BYE") == []
    fake.clock.advance(0.2)
    assert len(fake.sent("BYE")) == 1


def test_a_peer_update_refresh_is_answered_with_session_expires_and_restarts_the_expiry(fake):
    invitation, invite = connect_with(fake, "120;refresher=uas")
    fake.clock.advance(80)
    update = with_headers(
        in_dialog("UPDATE", invite, 2), ("Supported", "timer"), ("Session-Expires", "120;refresher=uac")
    )
    ok = fake.deliver(update)
    assert ok.code == 200 and header(ok, "Session-Expires") == "120;refresher=uac"
    fake.clock.advance(80)  # 160 s into the call, 80 s after the refresh
    assert fake.sent("BYE") == [] and invitation.state == "connected"
    fake.clock.advance(8.1)
    assert len(fake.sent("BYE")) == 1


def test_a_peer_reinvite_with_unchanged_sdp_is_a_quiet_refresh_answered_with_our_sdp(fake, recorder):
    invitation, invite = connect_with(fake, "120;refresher=uas")
    before = changes(recorder, invitation)
    fake.clock.advance(60)
    reinvite = with_headers(
        in_dialog("INVITE", invite, 2, body=str(sdp(5000)).encode()),
        ("Supported", "timer"),
        ("Session-Expires", "120;refresher=uac"),
    )
    ok = fake.deliver(reinvite)
    assert ok.code == 200 and ok.body.decode() == str(invitation.sdp.active_local)
    assert header(ok, "Session-Expires") == "120;refresher=uac"
    assert changes(recorder, invitation) == before
    fake.deliver(in_dialog("ACK", invite, 2))
    fake.clock.advance(87)  # 147 s: past the first expiry, not the restarted one
    assert fake.sent("BYE") == []


def test_a_refresh_answered_481_ends_the_call(fake, recorder):
    invitation, _ = connect_with(fake, "120;refresher=uac")
    fake.clock.advance(60.1)
    fake.answer(fake.sent("UPDATE")[-1], 481)
    assert invitation.state == "disconnected"
    reason = recorder.named("SIPInvitationChangedState")[-1].data.disconnect_reason
    assert reason.startswith("session refresh failed: 481")


def test_a_refresh_reinvite_answered_408_ends_the_call(fake):
    invitation, _ = connect_with(fake, "120;refresher=uac", allow=ALLOW_NO_UPDATE)
    fake.clock.advance(60.1)
    fake.respond(fake.sent("INVITE")[-1], 408)
    assert invitation.state in ("disconnecting", "disconnected")
    for bye in fake.sent("BYE"):
        fake.answer(bye, 200)
    assert invitation.state == "disconnected"


def test_a_refresh_that_times_out_ends_the_call(fake):
    invitation, _ = connect_with(fake, "120;refresher=uac")
    fake.clock.advance(60.1)
    fake.clock.advance(64 * 0.5 + 1)  # Timer F of the UPDATE
    fake.clock.advance(64 * 0.5 + 1)  # and of a BYE, if one went
    assert invitation.state == "disconnected"


def test_a_refused_refresh_other_than_408_or_481_is_tried_again(fake):
    invitation, _ = connect_with(fake, "120;refresher=uac")
    fake.clock.advance(60.1)
    fake.answer(fake.sent("UPDATE")[-1], 500)
    assert invitation.state == "connected"
    fake.clock.advance(30.1)
    assert len(fake.sent("UPDATE")) == 2


def test_ending_the_call_cancels_the_session_timers(fake):
    invitation, _ = connect_with(fake, "120;refresher=uac")
    invitation.end()
    fake.answer(fake.sent("BYE")[-1], 200)
    assert invitation.state == "disconnected" and invitation.session_expires is None
    fake.clock.advance(10_000)
    assert fake.sent("UPDATE") == [] and len(fake.sent("BYE")) == 1


def test_a_bye_from_the_peer_cancels_the_expiry_timer(fake):
    invitation, invite = connect_with(fake, "120;refresher=uas")
    fake.deliver(in_dialog("BYE", invite, 2))
    assert invitation.state == "disconnected"
    fake.clock.advance(10_000)
    assert fake.sent("BYE") == []


# -- the UAS ---------------------------------------------------------------------------------------


def answered(fake, *headers, session_timer=None, **response_kwargs):
    got: list[Invitation] = []
    install_invitation_handler(
        fake, got.append, resolver=StaticResolver(), random=random.Random(3), session_timer=session_timer
    )
    invite = with_headers(incoming_invite(str(sdp(4000)).encode()), *headers)
    first = fake.deliver(invite)
    if not got:
        return None, invite, first
    got[0].send_response(200, sdp=sdp(5000), **response_kwargs)
    return got[0], invite, fake.response_to(invite)


def test_an_invite_requiring_timer_is_accepted_and_the_2xx_requires_it_too(fake):
    callee, _, ok = answered(fake, ("Require", "timer"), ("Supported", "timer"), ("Session-Expires", "1800"))
    assert ok.code == 200 and header(ok, "Require") == "timer"
    assert header(ok, "Session-Expires") == "1800;refresher=uac" and "timer" in header(ok, "Supported")
    assert callee.session_refresher == "remote"


def test_an_interval_below_our_min_se_gets_422_with_our_min_se(fake):
    callee, _, response = answered(fake, ("Session-Expires", "200"), session_timer={"min_se": 300})
    assert callee is None and response.code == 422 and header(response, "Min-SE") == "300"


def test_an_interval_below_90_gets_422_with_the_default_min_se(fake):
    _, _, response = answered(fake, ("Session-Expires", "60"))
    assert response.code == 422 and header(response, "Min-SE") == "90"


def test_send_response_with_a_larger_min_se_sends_422_instead_of_the_2xx(fake, recorder):
    got: list[Invitation] = []
    install_invitation_handler(fake, got.append, resolver=StaticResolver(), random=random.Random(3))
    invite = with_headers(incoming_invite(str(sdp(4000)).encode()), ("Session-Expires", "1000"))
    fake.deliver(invite)
    got[0].send_response(200, sdp=sdp(5000), session_timer={"min_se": 1800})
    response = fake.response_to(invite)
    assert response.code == 422 and header(response, "Min-SE") == "1800"
    last = recorder.named("SIPInvitationChangedState")[-1].data
    assert (got[0].state, last.code) == ("disconnected", 422)


def test_the_uas_refreshes_for_a_peer_without_timer_support_by_reinvite(fake):
    callee, invite, ok = answered(fake, ("Session-Expires", "120"))
    assert header(ok, "Session-Expires") == "120;refresher=uas" and "Require" not in ok
    fake.deliver(peer_request("ACK", invite, ok, 1))
    assert callee.session_refresher == "local"
    fake.clock.advance(60.1)
    reinvite = fake.sent("INVITE")[-1]  # the peer's INVITE has no Allow: UPDATE
    assert header(reinvite, "Session-Expires") == "120;refresher=uac"
    assert reinvite.body.decode() == str(callee.sdp.active_local)


def test_the_uas_asking_to_refresh_runs_the_timer_even_without_session_expires(fake):
    callee, _, ok = answered(fake, session_timer={"session_expires": 300, "refresher": "uas"})
    assert header(ok, "Session-Expires") == "300;refresher=uas"
    assert (callee.session_expires, callee.session_refresher) == (300, "local")


def test_without_session_expires_and_no_wish_to_refresh_the_uas_runs_no_timer(fake):
    callee, _, ok = answered(fake)
    assert "Session-Expires" not in ok and callee.session_expires is None


def request_with(*headers):
    return with_headers(incoming_invite(), *headers)


@pytest.mark.parametrize(
    ("headers", "settings", "expected"),
    [
        # (RFC 4028 §9 table 2) the UAC does not support timers: the UAS refreshes
        ((("Session-Expires", "1800"),), {}, (1800, "uas")),
        ((("Session-Expires", "1800;refresher=uac"),), {}, (1800, "uas")),
        # the UAC supports timers and asked for a refresher: it gets it
        ((("Supported", "timer"), ("Session-Expires", "1800;refresher=uac")), {}, (1800, "uac")),
        (
            (("Supported", "timer"), ("Session-Expires", "1800;refresher=uas")),
            {"refresher": "uac"},
            (1800, "uas"),
        ),
        # the UAC left the choice: ours (the UAC by default)
        ((("Supported", "timer"), ("Session-Expires", "1800")), {}, (1800, "uac")),
        ((("Supported", "timer"), ("Session-Expires", "1800")), {"refresher": "uas"}, (1800, "uas")),
        # the interval: lowered to ours, never below the request's Min-SE, never raised
        ((("Supported", "timer"), ("Session-Expires", "3600")), {"session_expires": 600}, (600, "uac")),
        ((("Supported", "timer"), ("Session-Expires", "400")), {"session_expires": 600}, (400, "uac")),
        ((("Supported", "timer"), ("Session-Expires", "3600"), ("Min-SE", "2000")), {}, (2000, "uac")),
        # no Session-Expires in the request: a timer only if the UAS wants to refresh
        ((("Supported", "timer"),), {}, None),
        ((), {"refresher": "uas", "session_expires": 300}, (300, "uas")),
    ],
)
def test_the_uas_refresher_and_interval_table(headers, settings, expected):
    outcome = uas_negotiate(request_with(*headers), SessionTimerSettings(**settings))
    assert (None if outcome is None else (outcome.interval, outcome.refresher)) == expected


def test_settings_are_checked():
    with pytest.raises(ValueError):
        SessionTimerSettings(min_se=60)
    with pytest.raises(ValueError):
        SessionTimerSettings(session_expires=100, min_se=200)
    with pytest.raises(ValueError):
        SessionTimerSettings(refresher="both")
    assert not SessionTimerSettings.of(False).enabled
    assert SessionTimerSettings.of({"min_se": 120}).min_se == 120
