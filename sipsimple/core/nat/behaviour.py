"""NAT behaviour discovery (RFC 5780 §4.3, §4.4), sans-IO, and the NAT type names it reports.

The procedure sends Binding requests from one local UDP port to a STUN server that has a second
address (RFC 5780: OTHER-ADDRESS in its responses) and runs these tests in turn, one
:class:`~sipsimple.core.nat.transaction.ClientTransaction` each:

=============  ===============================  =============================================
step           sent to                          what an answer tells
=============  ===============================  =============================================
binding        primary address                  the mapped address X1 (no answer: Blocked)
filtering 2    primary, CHANGE-REQUEST IP+port  an answer: endpoint-independent filtering
filtering 3    primary, CHANGE-REQUEST port     an answer: address-dependent filtering, none:
                                                address and port-dependent filtering
mapping 2      other IP, primary port           mapped X2; X2 == X1: endpoint-independent
mapping 3      other IP, other port             mapped X3; X3 == X2: address-dependent,
                                                else address and port-dependent mapping
=============  ===============================  =============================================

The filtering tests come before the mapping tests: a request sent to the server's other address
opens a filter towards it, after which the filtering tests could not see the filter any more.
An answer to a filtering test counts only when it comes from an address the request was not sent
to (a server that ignores CHANGE-REQUEST leaves the filtering unknown). When X1 is the local
address there is no NAT, and the filtering tests tell an open host from a firewall. A server
without OTHER-ADDRESS (no RFC 5780 support) ends the procedure after the binding test, with the
behaviour unknown.

The order of the tests is a table, :data:`NEXT`: ``(step, outcome) -> next step``.

Reported names (:attr:`NATBehaviour.nat_type`), see docs/nat.md:

* ``"Blocked"``: the server did not answer the binding test;
* ``"Open Internet"``: no NAT and endpoint-independent filtering;
* ``"UDP firewall"``: no NAT, but answers from another address are filtered;
* ``"No NAT"``: no NAT, filtering unknown (the server cannot test it);
* ``"<mapping>, <filtering>"`` behind a NAT, each part one of ``Endpoint-Independent``,
  ``Address-Dependent``, ``Address and Port-Dependent`` or ``Unknown``, followed by ``Mapping`` /
  ``Filtering`` (e.g. ``"Endpoint-Independent Mapping, Address-Dependent Filtering"``).

:attr:`NATBehaviour.classic_type` gives the RFC 3489 name as well (Full Cone, Restricted Cone, Port
Restricted Cone, Symmetric).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from dataclasses import dataclass

from .stun import Attribute, Change, Message, MessageClass, Method, StunError, TransportAddress, parse
from .transaction import ClientTransaction, RetransmissionTimers, State

__all__ = [
    "BLOCKED",
    "DETECTION_TIMERS",
    "NO_NAT",
    "OPEN_INTERNET",
    "UDP_FIREWALL",
    "Filtering",
    "Mapping",
    "NATBehaviour",
    "NATBehaviourDiscovery",
    "Outcome",
    "Step",
]

BLOCKED = "Blocked"
OPEN_INTERNET = "Open Internet"
UDP_FIREWALL = "UDP firewall"
NO_NAT = "No NAT"

#: shorter than RFC 5389's defaults: a test that gets no answer gives up after 5.5 s (sends at
#: 0, 0.5, 1.5, 3.5 s), so a discovery with two unanswered filtering tests takes about 11 s
DETECTION_TIMERS = RetransmissionTimers(rto=0.5, rc=4, rm=4)


class Mapping(enum.Enum):
    ENDPOINT_INDEPENDENT = "Endpoint-Independent Mapping"
    ADDRESS_DEPENDENT = "Address-Dependent Mapping"
    ADDRESS_AND_PORT_DEPENDENT = "Address and Port-Dependent Mapping"


class Filtering(enum.Enum):
    ENDPOINT_INDEPENDENT = "Endpoint-Independent Filtering"
    ADDRESS_DEPENDENT = "Address-Dependent Filtering"
    ADDRESS_AND_PORT_DEPENDENT = "Address and Port-Dependent Filtering"


@dataclass(frozen=True)
class NATBehaviour:
    """What the discovery found. ``mapping``/``filtering`` are None when they could not be tested."""

    local_address: TransportAddress
    server: TransportAddress
    mapped_address: TransportAddress | None = None  # None: blocked
    other_address: TransportAddress | None = None  # the server's second address (RFC 5780)
    mapping: Mapping | None = None
    filtering: Filtering | None = None

    @property
    def blocked(self) -> bool:
        return self.mapped_address is None

    @property
    def behind_nat(self) -> bool | None:
        """True when the mapped address differs from the local one (None when blocked)."""
        return None if self.mapped_address is None else self.mapped_address != self.local_address

    @property
    def nat_type(self) -> str:
        """The name reported as ``SIPApplication.local_nat_type`` (see the module documentation)."""
        if self.mapped_address is None:
            return BLOCKED
        if not self.behind_nat:
            if self.filtering is None:
                return NO_NAT
            return OPEN_INTERNET if self.filtering is Filtering.ENDPOINT_INDEPENDENT else UDP_FIREWALL
        mapping = self.mapping.value if self.mapping else "Unknown Mapping"
        filtering = self.filtering.value if self.filtering else "Unknown Filtering"
        return f"{mapping}, {filtering}"

    @property
    def classic_type(self) -> str | None:
        """The RFC 3489 name (Full Cone, Restricted Cone, Port Restricted Cone, Symmetric), or the
        :attr:`nat_type` when there is no NAT or it is blocked; None when it cannot be told."""
        if not self.behind_nat:
            return self.nat_type
        if self.mapping in (Mapping.ADDRESS_DEPENDENT, Mapping.ADDRESS_AND_PORT_DEPENDENT):
            return "Symmetric"
        if self.mapping is Mapping.ENDPOINT_INDEPENDENT and self.filtering is not None:
            return {
                Filtering.ENDPOINT_INDEPENDENT: "Full Cone",
                Filtering.ADDRESS_DEPENDENT: "Restricted Cone",
                Filtering.ADDRESS_AND_PORT_DEPENDENT: "Port Restricted Cone",
            }[self.filtering]
        return None


class Step(enum.Enum):
    BINDING = "binding"
    MAPPING_2 = "mapping 2"
    MAPPING_3 = "mapping 3"
    FILTERING_2 = "filtering 2"
    FILTERING_3 = "filtering 3"
    DONE = "done"


class Outcome(enum.Enum):
    NO_ANSWER = "no answer"
    NOT_NATTED = "mapped to the local address"
    NATTED = "mapped to another address"
    NOT_RFC5780 = "no OTHER-ADDRESS"
    SAME_MAPPING = "same mapping as the previous test"
    NEW_MAPPING = "different mapping"
    ANSWERED = "answered"
    UNSUPPORTED = "the server did not honour the test"


# (step, outcome) -> the next step. The findings each outcome records are in _record().
NEXT: dict[tuple[Step, Outcome], Step] = {
    (Step.BINDING, Outcome.NO_ANSWER): Step.DONE,
    (Step.BINDING, Outcome.NOT_RFC5780): Step.DONE,
    (Step.BINDING, Outcome.NOT_NATTED): Step.FILTERING_2,
    (Step.BINDING, Outcome.NATTED): Step.FILTERING_2,
    (Step.FILTERING_2, Outcome.ANSWERED): Step.MAPPING_2,
    (Step.FILTERING_2, Outcome.NO_ANSWER): Step.FILTERING_3,
    (Step.FILTERING_2, Outcome.UNSUPPORTED): Step.MAPPING_2,
    (Step.FILTERING_3, Outcome.ANSWERED): Step.MAPPING_2,
    (Step.FILTERING_3, Outcome.NO_ANSWER): Step.MAPPING_2,
    (Step.FILTERING_3, Outcome.UNSUPPORTED): Step.MAPPING_2,
    (Step.MAPPING_2, Outcome.SAME_MAPPING): Step.DONE,
    (Step.MAPPING_2, Outcome.NEW_MAPPING): Step.MAPPING_3,
    (Step.MAPPING_2, Outcome.NO_ANSWER): Step.DONE,
    (Step.MAPPING_2, Outcome.UNSUPPORTED): Step.DONE,
    (Step.MAPPING_3, Outcome.SAME_MAPPING): Step.DONE,
    (Step.MAPPING_3, Outcome.NEW_MAPPING): Step.DONE,
    (Step.MAPPING_3, Outcome.NO_ANSWER): Step.DONE,
    (Step.MAPPING_3, Outcome.UNSUPPORTED): Step.DONE,
}

_CHANGES = {Step.FILTERING_2: Change.IP | Change.PORT, Step.FILTERING_3: Change.PORT}


class NATBehaviourDiscovery:
    """The RFC 5780 procedure from ``local_address`` against ``server``; see the module docs.

    Drive it like a transaction: ``start(now)``; send each ``(datagram, address)`` from
    :meth:`outgoing`; give every datagram received on the port to :meth:`receive`; call
    :meth:`handle_timer` at :attr:`deadline`. When :attr:`finished`, :attr:`result` holds the
    :class:`NATBehaviour`, or :attr:`error` says why there is none.
    """

    def __init__(
        self,
        server: tuple[str, int],
        local_address: tuple[str, int],
        *,
        timers: RetransmissionTimers = DETECTION_TIMERS,
        software: str | None = None,
        transaction_id: Callable[[], bytes] = lambda: os.urandom(12),
    ) -> None:
        self.server = TransportAddress(*server)
        self.local_address = TransportAddress(*local_address)
        self.timers = timers
        self.software = software
        self._new_id = transaction_id
        self.step = Step.BINDING
        self.transaction: ClientTransaction | None = None
        self.destination = self.server
        self.result: NATBehaviour | None = None
        self.error: str | None = None
        #: (step, outcome) in the order they happened
        self.history: list[tuple[Step, Outcome]] = []
        self._outbox: list[tuple[bytes, TransportAddress]] = []
        self._mapped: list[TransportAddress] = []  # X1, X2, X3 as found
        self._other: TransportAddress | None = None
        self._mapping: Mapping | None = None
        self._filtering: Filtering | None = None
        self._source: TransportAddress | None = None  # where the current test's answer came from

    @property
    def finished(self) -> bool:
        return self.step is Step.DONE

    @property
    def deadline(self) -> float | None:
        return None if self.transaction is None or self.finished else self.transaction.deadline

    def outgoing(self) -> list[tuple[bytes, TransportAddress]]:
        out, self._outbox = self._outbox, []
        return out

    def start(self, now: float) -> None:
        if self.transaction is not None:
            raise RuntimeError("the discovery has already started")
        self._begin(Step.BINDING, now)

    def cancel(self) -> None:
        if not self.finished:
            if self.transaction is not None:
                self.transaction.cancel()
            self.error = "cancelled"
            self.step = Step.DONE
            self._outbox.clear()

    def receive(self, datagram: bytes, source: tuple[str, int], now: float) -> bool:
        """Offer a datagram received on the port; True when it answered the current test."""
        if self.transaction is None or self.finished:
            return False
        try:
            message = parse(datagram)
        except StunError:
            return False
        if not self.transaction.receive(message, now, datagram):
            return False
        if self.transaction.finished:
            self._source = TransportAddress(*source)
            self._conclude(now)
        return True

    def handle_timer(self, now: float) -> None:
        if self.transaction is None or self.finished:
            return
        self.transaction.handle_timer(now)
        self._collect()
        if self.transaction.finished:
            self._conclude(now)

    # -- the procedure ----------------------------------------------------------------------------
    def _begin(self, step: Step, now: float) -> None:
        self.step = step
        self._source = None
        if step is Step.DONE:
            self.transaction = None
            return
        request = Message(Method.BINDING, MessageClass.REQUEST, self._new_id())
        if self.software:
            request.add(Attribute.SOFTWARE, self.software)
        if step in _CHANGES:
            request.add(Attribute.CHANGE_REQUEST, _CHANGES[step])
        other = self._other or self.server
        self.destination = {
            Step.MAPPING_2: TransportAddress(other.host, self.server.port),
            Step.MAPPING_3: other,
        }.get(step, self.server)
        self.transaction = ClientTransaction(request, timers=self.timers)
        self.transaction.start(now)
        self._collect()

    def _collect(self) -> None:
        if self.transaction is not None:
            self._outbox.extend((data, self.destination) for data in self.transaction.outgoing())

    def _conclude(self, now: float) -> None:
        outcome = self._outcome()
        if outcome is None:  # an error answer to the binding test
            self.step = Step.DONE
            return
        self.history.append((self.step, outcome))
        self._record(outcome)
        next_test = NEXT[(self.step, outcome)]
        if next_test is Step.DONE:
            self._finish()
        self._begin(next_test, now)

    def _outcome(self) -> Outcome | None:
        transaction = self.transaction
        assert transaction is not None
        answered = transaction.state is State.SUCCEEDED
        response = transaction.response if answered else None
        mapped = None if response is None else _mapped_address(response)
        if self.step is Step.BINDING:
            if transaction.state is State.FAILED:
                self.error = f"the STUN server {self.server} refused the binding test: {transaction.reason}"
                return None
            if answered and mapped is None:
                self.error = f"the STUN server {self.server} answered without a mapped address"
                return None
            if mapped is None:
                return Outcome.NO_ANSWER
            self._mapped.append(mapped)
            assert response is not None
            self._other = response.get(Attribute.OTHER_ADDRESS)
            if self._other is None or self._other.host == self.server.host:
                self._other = None
                return Outcome.NOT_RFC5780
            return Outcome.NOT_NATTED if mapped == self.local_address else Outcome.NATTED
        if self.step in (Step.MAPPING_2, Step.MAPPING_3):
            if transaction.state is State.FAILED or (answered and mapped is None):
                return Outcome.UNSUPPORTED
            if mapped is None:
                return Outcome.NO_ANSWER
            previous = self._mapped[-1]
            self._mapped.append(mapped)
            return Outcome.SAME_MAPPING if mapped == previous else Outcome.NEW_MAPPING
        # filtering: an answer must come from an address the request was not sent to
        if transaction.state is State.FAILED or (answered and self._source == self.destination):
            return Outcome.UNSUPPORTED
        return Outcome.ANSWERED if answered else Outcome.NO_ANSWER

    def _record(self, outcome: Outcome) -> None:
        step = self.step
        if step is Step.MAPPING_2 and outcome is Outcome.SAME_MAPPING:
            self._mapping = Mapping.ENDPOINT_INDEPENDENT
        elif step is Step.MAPPING_3 and outcome is Outcome.SAME_MAPPING:
            self._mapping = Mapping.ADDRESS_DEPENDENT
        elif step is Step.MAPPING_3 and outcome is Outcome.NEW_MAPPING:
            self._mapping = Mapping.ADDRESS_AND_PORT_DEPENDENT
        elif step is Step.FILTERING_2 and outcome is Outcome.ANSWERED:
            self._filtering = Filtering.ENDPOINT_INDEPENDENT
        elif step is Step.FILTERING_3 and outcome is Outcome.ANSWERED:
            self._filtering = Filtering.ADDRESS_DEPENDENT
        elif step is Step.FILTERING_3 and outcome is Outcome.NO_ANSWER:
            self._filtering = Filtering.ADDRESS_AND_PORT_DEPENDENT

    def _finish(self) -> None:
        self.result = NATBehaviour(
            local_address=self.local_address,
            server=self.server,
            mapped_address=self._mapped[0] if self._mapped else None,
            other_address=self._other,
            mapping=self._mapping,
            filtering=self._filtering,
        )


def _mapped_address(response: Message) -> TransportAddress | None:
    """XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS from an older server."""
    found = response.get(Attribute.XOR_MAPPED_ADDRESS) or response.get(Attribute.MAPPED_ADDRESS)
    return None if found is None else TransportAddress(*found)
