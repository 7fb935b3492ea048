"""Subscription against Kamailio's presence server: alice publishes a PIDF (Publication), bob
subscribes to alice's presence with digest authentication and is pending (alice has no rules for
him yet), alice allows him (a pres-rules document PUT on Kamailio's XCAP server), bob gets the PIDF
in an active NOTIFY, and end() gets the terminating NOTIFY.

Our Engine runs in the test process on a fresh reactor that the test turns (``Loop``); every wait
is for a network event and bounded.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from sipsimple.core import (
    SIPURI,
    ContactHeader,
    Credentials,
    FromHeader,
    Publication,
    RouteHeader,
    Subscription,
    ToHeader,
)
from sipsimple.core.engine import SIPEngine
from tests.support.notifications import sent_requests
from tests.support.reactor import Loop, fresh_reactor
from tests.support.wait import wait_for_notification

from .peers.kamailio import Kamailio

pytestmark = pytest.mark.interop

WAIT = 10.0  # seconds: the most one exchange through Kamailio may take here
ALICE = SIPURI("example.test", user="alice")
BOB = SIPURI("example.test", user="bob")
PIDF = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@example.test">'
    b'<tuple id="t1"><status><basic>open</basic></status></tuple></presence>'
)

#: RFC 5025 presence authorization rules: bob may see everything.
PRES_RULES = b"""<?xml version="1.0" encoding="UTF-8"?>
<cr:ruleset xmlns:cr="urn:ietf:params:xml:ns:common-policy" xmlns:pr="urn:ietf:params:xml:ns:pres-rules">
  <cr:rule id="bob">
    <cr:conditions><cr:identity><cr:one id="sip:bob@example.test"/></cr:identity></cr:conditions>
    <cr:actions><pr:sub-handling>allow</pr:sub-handling></cr:actions>
    <cr:transformations>
      <pr:provide-services><pr:all-services/></pr:provide-services>
      <pr:provide-persons><pr:all-persons/></pr:provide-persons>
      <pr:provide-devices><pr:all-devices/></pr:provide-devices>
      <pr:provide-all-attributes/>
    </cr:transformations>
  </cr:rule>
</cr:ruleset>
"""


def xcap_put(server: Kamailio, user: str, path: str, body: bytes, content_type: str) -> int:
    """PUT a document on Kamailio's XCAP server as ``user`` (HTTP digest); the status code."""
    assert server.xcap_root is not None
    passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    passwords.add_password(None, server.xcap_root, user, f"secret-{user}")
    opener = urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(passwords))
    request = urllib.request.Request(
        server.xcap_root + path, data=body, method="PUT", headers={"Content-Type": content_type}
    )
    try:
        with opener.open(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def loop() -> Iterator[Loop]:
    with fresh_reactor() as reactor:
        yield Loop(reactor)


@pytest.fixture
def engine(loop: Loop) -> Iterator[SIPEngine]:
    engine = SIPEngine(reactor=loop.reactor)
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=0, trace_sip=True)
    yield engine
    loop.wait(engine.stop(), timeout=5)


@pytest.fixture
def presence(kamailio) -> Kamailio:
    return kamailio(features=("auth", "presence"))


def route(server: Kamailio, transport: str) -> RouteHeader:
    return RouteHeader(SIPURI(server.host, port=server.sip_port, parameters={"transport": transport}))


def contact(engine: SIPEngine, user: str, transport: str) -> ContactHeader:
    port = engine.local_address(transport).port
    return ContactHeader(SIPURI("127.0.0.1", user=user, port=port, parameters={"transport": transport}))


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_presence_subscription_with_digest_auth_gets_the_published_pidf_and_ends(
    loop, engine, presence, recorder, transport
):
    publication = Publication(
        FromHeader(ALICE),
        "presence",
        "application/pidf+xml",
        Credentials("alice", "secret-alice"),
        engine=engine,
    )
    publication.publish(PIDF, route(presence, transport))
    published = wait_for_notification(
        loop, recorder, "SIPPublicationDidSucceed", "SIPPublicationDidFail", timeout=WAIT
    )
    assert published.name == "SIPPublicationDidSucceed", f"{published.data.code} {published.data.reason}"

    subscription = Subscription(
        ALICE,
        FromHeader(BOB),
        ToHeader(ALICE),
        contact(engine, "bob", transport),
        "presence",
        route(presence, transport),
        Credentials("bob", "secret-bob"),
        refresh=60,
        engine=engine,
    )
    subscription.subscribe()
    notified = wait_for_notification(
        loop,
        recorder,
        "SIPSubscriptionGotNotify",
        "SIPSubscriptionDidFail",
        sender=subscription,
        timeout=WAIT,
    )
    assert notified.name == "SIPSubscriptionGotNotify", f"{notified.data.code} {notified.data.reason}"
    assert subscription.state == "PENDING" and notified.data.body == b""
    subscribes = sent_requests(recorder, "SUBSCRIBE")
    assert len(subscribes) == 2 and b"Proxy-Authorization: Digest" in subscribes[1]  # 407, then the answer

    rules = "/pres-rules/users/sip:alice@example.test/index"
    assert xcap_put(presence, "alice", rules, PRES_RULES, "application/auth-policy+xml") in (200, 201)
    loop.run_until(
        lambda: (
            subscription.state == "ACTIVE"
            and any(b"<basic>open</basic>" in n.data.body for n in recorder.named("SIPSubscriptionGotNotify"))
        ),
        WAIT,
        what="an active NOTIFY with the PIDF",
    )
    with_pidf = next(n for n in recorder.named("SIPSubscriptionGotNotify") if n.data.body)
    assert with_pidf.data.content_type == "application/pidf+xml" and with_pidf.data.event == "presence"
    assert b'entity="sip:alice@example.test"' in with_pidf.data.body
    states = [n.data.state for n in recorder.named("SIPSubscriptionChangedState")]
    assert states == ["SUBSCRIBING", "PENDING", "ACTIVE"]

    notifies = len(recorder.named("SIPSubscriptionGotNotify"))
    subscription.subscribe()  # a refresh in the dialog: Kamailio answers it and notifies again
    wait_for_notification(
        loop, recorder, "SIPSubscriptionGotNotify", sender=subscription, count=notifies + 1, timeout=WAIT
    )
    refresh = sent_requests(recorder, "SUBSCRIBE")[-1]
    assert len(sent_requests(recorder, "SUBSCRIBE")) == 3 and b"To: <sip:alice@example.test>;tag=" in refresh
    assert subscription.state == "ACTIVE"

    subscription.end()
    ended = wait_for_notification(
        loop, recorder, "SIPSubscriptionDidEnd", "SIPSubscriptionDidFail", sender=subscription, timeout=WAIT
    )
    assert ended.name == "SIPSubscriptionDidEnd" and ended.data.originator == "local"
    assert ended.data.code is None, f"no terminating NOTIFY: {ended.data.code} {ended.data.reason}"
    final = recorder.named("SIPSubscriptionGotNotify")[-1]
    assert final.data.headers["Subscription-State"].state == "terminated"
    unsubscribe = sent_requests(recorder, "SUBSCRIBE")[-1]
    assert b"Expires: 0\r\n" in unsubscribe and b"To: <sip:alice@example.test>;tag=" in unsubscribe
    assert subscription.state == "TERMINATED"

    publication.end()
    assert (
        wait_for_notification(
            loop, recorder, "SIPPublicationDidEnd", "SIPPublicationDidNotEnd", timeout=WAIT
        ).name
        == "SIPPublicationDidEnd"
    )
