"""NAT behaviour discovery against a simulated network: a STUN server with two addresses (RFC 5780)
behind every combination of NAT mapping and filtering, an open host, a firewall, a blocked path,
servers that cannot do the tests, and lost datagrams. Time is a plain number; nothing sleeps."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from sipsimple.core.nat.behaviour import (
    NEXT,
    Filtering,
    Mapping,
    NATBehaviour,
    NATBehaviourDiscovery,
    Outcome,
    Step,
)
from sipsimple.core.nat.stun import (
    Attribute,
    Change,
    ErrorCode,
    Message,
    MessageClass,
    TransportAddress,
    parse,
)
from sipsimple.core.nat.transaction import RetransmissionTimers

LOCAL = TransportAddress("10.0.0.2", 5000)
PUBLIC_IP = "203.0.113.5"
PRIMARY = TransportAddress("198.51.100.1", 3478)
OTHER = TransportAddress("198.51.100.2", 3479)
FAST = RetransmissionTimers(rto=0.1, rc=3, rm=2)


@dataclass
class FakeServer:
    """An RFC 5780 server on 198.51.100.1/.2, ports 3478/3479."""

    other_address: bool = True  # False: an RFC 5389-only server (no OTHER-ADDRESS)
    honour_change: bool = True  # False: answers CHANGE-REQUEST from where it was asked
    refuse_change: bool = False  # True: answers CHANGE-REQUEST with 420
    error: ErrorCode | None = None  # answer every request with this error

    def answer(self, datagram: bytes, source: TransportAddress, to: TransportAddress):
        request = parse(datagram)
        change = request.get(Attribute.CHANGE_REQUEST, Change.NONE)
        if self.error is not None:
            return request.reply(MessageClass.ERROR, [(Attribute.ERROR_CODE, self.error)]), to
        if change and self.refuse_change:
            return request.reply(MessageClass.ERROR, [(Attribute.ERROR_CODE, ErrorCode(420, "Unknown"))]), to
        origin = to
        if change and self.honour_change:
            host = (
                (OTHER.host if to.host == PRIMARY.host else PRIMARY.host) if change & Change.IP else to.host
            )
            port = (
                (OTHER.port if to.port == PRIMARY.port else PRIMARY.port) if change & Change.PORT else to.port
            )
            origin = TransportAddress(host, port)
        response = request.reply(
            MessageClass.SUCCESS,
            [(Attribute.XOR_MAPPED_ADDRESS, source), (Attribute.RESPONSE_ORIGIN, origin)],
        )
        if self.other_address:
            response.add(
                Attribute.OTHER_ADDRESS,
                TransportAddress(
                    OTHER.host if origin.host == PRIMARY.host else PRIMARY.host,
                    OTHER.port if origin.port == PRIMARY.port else PRIMARY.port,
                ),
            )
        return response, origin


@dataclass
class FakeNAT:
    """Translates LOCAL to PUBLIC_IP; ``mapping``/``filtering`` None means no translation/filter."""

    mapping: Mapping | None
    filtering: Filtering | None
    blocked: bool = False
    ports: dict[object, int] = field(default_factory=dict)
    sent_to: set[TransportAddress] = field(default_factory=set)

    def outbound(self, destination: TransportAddress) -> TransportAddress:
        self.sent_to.add(destination)
        if self.mapping is None:
            return LOCAL
        key = {
            Mapping.ENDPOINT_INDEPENDENT: None,
            Mapping.ADDRESS_DEPENDENT: destination.host,
            Mapping.ADDRESS_AND_PORT_DEPENDENT: destination,
        }[self.mapping]
        port = self.ports.setdefault(key, 40000 + len(self.ports))
        return TransportAddress(PUBLIC_IP, port)

    def inbound_allowed(self, source: TransportAddress) -> bool:
        if self.filtering is None or self.filtering is Filtering.ENDPOINT_INDEPENDENT:
            return True
        if self.filtering is Filtering.ADDRESS_DEPENDENT:
            return any(sent.host == source.host for sent in self.sent_to)
        return source in self.sent_to


def discover(nat: FakeNAT, server: FakeServer | None = None, *, lose_first: int = 0) -> NATBehaviourDiscovery:
    """Run the discovery to its end through ``nat`` to ``server``, losing the first datagrams sent."""
    server = server or FakeServer()
    discovery = NATBehaviourDiscovery(PRIMARY, LOCAL, timers=FAST, software="test")
    now = 0.0
    discovery.start(now)
    lost = 0
    for _ in range(1000):
        for datagram, destination in discovery.outgoing():
            assert parse(datagram).get(Attribute.SOFTWARE) == "test"
            if nat.blocked or lost < lose_first:
                lost += 1
                continue
            response, origin = server.answer(datagram, nat.outbound(destination), destination)
            if nat.inbound_allowed(origin):
                discovery.receive(response.encode(), origin, now)
        if discovery.finished:
            return discovery
        assert discovery.deadline is not None
        now = max(now, discovery.deadline)
        discovery.handle_timer(now)
    raise AssertionError("the discovery did not finish")


@pytest.mark.parametrize("mapping", list(Mapping))
@pytest.mark.parametrize("filtering", list(Filtering))
def test_each_nat_mapping_and_filtering_combination_is_told_apart(mapping, filtering):
    discovery = discover(FakeNAT(mapping, filtering))
    result = discovery.result
    assert result is not None and discovery.error is None
    assert (result.mapping, result.filtering) == (mapping, filtering)
    assert result.behind_nat and result.mapped_address.host == PUBLIC_IP
    assert result.other_address == OTHER
    assert result.nat_type == f"{mapping.value}, {filtering.value}"


@pytest.mark.parametrize(
    ("mapping", "filtering", "classic"),
    [
        (Mapping.ENDPOINT_INDEPENDENT, Filtering.ENDPOINT_INDEPENDENT, "Full Cone"),
        (Mapping.ENDPOINT_INDEPENDENT, Filtering.ADDRESS_DEPENDENT, "Restricted Cone"),
        (Mapping.ENDPOINT_INDEPENDENT, Filtering.ADDRESS_AND_PORT_DEPENDENT, "Port Restricted Cone"),
        (Mapping.ADDRESS_DEPENDENT, Filtering.ADDRESS_DEPENDENT, "Symmetric"),
        (Mapping.ADDRESS_AND_PORT_DEPENDENT, Filtering.ENDPOINT_INDEPENDENT, "Symmetric"),
    ],
)
def test_the_rfc3489_name_is_derived_from_the_behaviour(mapping, filtering, classic):
    assert discover(FakeNAT(mapping, filtering)).result.classic_type == classic


def test_a_host_without_nat_or_filter_is_open_internet_and_its_mapping_trivially_independent():
    discovery = discover(FakeNAT(None, None))
    assert discovery.result.nat_type == "Open Internet" and discovery.result.classic_type == "Open Internet"
    assert not discovery.result.behind_nat and discovery.result.mapped_address == LOCAL
    assert discovery.result.mapping is Mapping.ENDPOINT_INDEPENDENT
    assert [step for step, _ in discovery.history] == [Step.BINDING, Step.FILTERING_2, Step.MAPPING_2]


@pytest.mark.parametrize("filtering", [Filtering.ADDRESS_DEPENDENT, Filtering.ADDRESS_AND_PORT_DEPENDENT])
def test_a_host_without_nat_whose_answers_from_elsewhere_are_dropped_is_a_udp_firewall(filtering):
    result = discover(FakeNAT(None, filtering)).result
    assert result.nat_type == "UDP firewall" and result.filtering is filtering


def test_no_answer_at_all_is_blocked_after_the_whole_retransmission_schedule():
    discovery = discover(FakeNAT(Mapping.ENDPOINT_INDEPENDENT, None, blocked=True))
    assert discovery.result.nat_type == "Blocked" and discovery.result.blocked
    assert discovery.result.behind_nat is None and discovery.history == [(Step.BINDING, Outcome.NO_ANSWER)]
    assert discovery.transaction is None and discovery.deadline is None


def test_lost_datagrams_are_made_up_for_by_retransmissions():
    discovery = discover(FakeNAT(Mapping.ENDPOINT_INDEPENDENT, Filtering.ENDPOINT_INDEPENDENT), lose_first=2)
    assert discovery.result.nat_type == "Endpoint-Independent Mapping, Endpoint-Independent Filtering"


def test_a_server_without_other_address_gives_no_nat_or_a_nat_of_unknown_behaviour():
    plain = FakeServer(other_address=False)
    open_host = discover(FakeNAT(None, None), plain)
    assert open_host.result.nat_type == "No NAT" and open_host.history == [
        (Step.BINDING, Outcome.NOT_RFC5780)
    ]
    natted = discover(FakeNAT(Mapping.ENDPOINT_INDEPENDENT, Filtering.ENDPOINT_INDEPENDENT), plain)
    assert natted.result.nat_type == "Unknown Mapping, Unknown Filtering"
    assert natted.result.classic_type is None


@pytest.mark.parametrize("server", [FakeServer(honour_change=False), FakeServer(refuse_change=True)])
def test_a_server_that_does_not_carry_out_change_request_leaves_the_filtering_unknown(server):
    discovery = discover(FakeNAT(Mapping.ENDPOINT_INDEPENDENT, Filtering.ENDPOINT_INDEPENDENT), server)
    assert discovery.result.mapping is Mapping.ENDPOINT_INDEPENDENT and discovery.result.filtering is None
    assert (Step.FILTERING_2, Outcome.UNSUPPORTED) in discovery.history
    assert discovery.result.nat_type == "Endpoint-Independent Mapping, Unknown Filtering"


def test_an_error_answer_to_the_binding_test_gives_no_result_and_says_why():
    discovery = discover(FakeNAT(None, None), FakeServer(error=ErrorCode(500, "Server Error")))
    assert discovery.result is None and discovery.finished
    assert "500 Server Error" in (discovery.error or "")


def test_stray_and_malformed_datagrams_are_ignored_and_cancel_ends_it():
    discovery = NATBehaviourDiscovery(PRIMARY, LOCAL, timers=FAST)
    assert discovery.deadline is None and not discovery.receive(b"junk", PRIMARY, 0.0)
    discovery.start(0.0)
    [(datagram, destination)] = discovery.outgoing()
    assert destination == PRIMARY and discovery.deadline == pytest.approx(0.1)
    assert not discovery.receive(b"\x00\x01 not stun", PRIMARY, 0.0)
    stranger = Message(message_class=MessageClass.SUCCESS).add(Attribute.XOR_MAPPED_ADDRESS, LOCAL)
    assert not discovery.receive(stranger.encode(), PRIMARY, 0.0)
    with pytest.raises(RuntimeError):
        discovery.start(0.0)
    discovery.cancel()
    assert discovery.finished and discovery.result is None and discovery.error == "cancelled"
    assert discovery.outgoing() == [] and not discovery.receive(datagram, PRIMARY, 0.0)
    discovery.handle_timer(10.0)  # nothing left to do
    assert discovery.result is None


def test_the_test_order_table_covers_every_outcome_each_test_can_have():
    """Every (test, outcome) the procedure can produce has a row, and every row leads on."""
    reachable = {Step.BINDING}
    for (test, _), target in NEXT.items():
        reachable.add(target)
        assert test is not Step.DONE
    assert reachable == set(Step)
    for test in (Step.MAPPING_2, Step.MAPPING_3, Step.FILTERING_2, Step.FILTERING_3):
        assert (test, Outcome.NO_ANSWER) in NEXT and (test, Outcome.UNSUPPORTED) in NEXT


def test_a_behaviour_value_names_itself_consistently():
    blocked = NATBehaviour(LOCAL, PRIMARY)
    assert blocked.nat_type == "Blocked" and blocked.classic_type == "Blocked"
    assert NATBehaviour(LOCAL, PRIMARY, LOCAL).nat_type == "No NAT"
