"""AudioBridge: a set of IAudioPorts on one mixer, connected in a full mesh.

Rules:
- every member's producer slot is connected to every *other* member's consumer slot; a member never
  hears itself, and neither does a slot (two members sharing a slot, e.g. two AudioDevices of one
  mixer, are not connected to each other);
- the bridge holds its members through weak references: a member that is garbage collected leaves
  the bridge and its connections are taken down;
- an ``AudioPortDidChangeSlots`` from a member makes the bridge recompute its connections;
- the bridge is an IAudioPort too, through two MixerPorts of its own: ``consumer_slot`` (its input)
  is connected to every member's consumer slot, every member's producer slot is connected to
  ``producer_slot`` (its output). Nested in another bridge, its members hear the outer members
  and are heard by them, one frame later, and never hear themselves;
- connections are counted per mixer across bridges (a pair wanted by two bridges is taken down
  when the last of them lets it go), and the wanted set is re-asserted on every recomputation,
  so connections the mixer dropped when a slot was freed come back when the slot number is reused.

All of it runs on the thread that owns the mixer's objects (the Twisted thread).
"""

from __future__ import annotations

import functools
import logging
import weakref
from collections import Counter
from collections.abc import Iterator
from typing import Any

from zope.interface import implementer

from sipsimple.core._errors import SIPCoreError
from sipsimple.core.media._mixer import AudioMixer, MixerPort
from sipsimple.notification import IObserver, Notification, NotificationCenter, ObserverWeakrefProxy

from ._port import IAudioPort

__all__ = ["AudioBridge"]

log = logging.getLogger("sipsimple.audio")

Pair = tuple[int, int]  # (source slot, destination slot)

# How many bridges want each connection, per mixer.
_ledgers: weakref.WeakKeyDictionary[AudioMixer, Counter[Pair]] = weakref.WeakKeyDictionary()


def _ledger(mixer: AudioMixer) -> Counter[Pair]:
    ledger = _ledgers.get(mixer)
    if ledger is None:
        ledger = _ledgers[mixer] = Counter()
    return ledger


def _release(mixer: AudioMixer, pair: Pair) -> None:
    """Lets go of one claim on ``pair``; the last claim disconnects it."""
    ledger = _ledger(mixer)
    ledger[pair] -= 1
    if ledger[pair] > 0:
        return
    del ledger[pair]
    try:
        mixer.disconnect_slots(*pair)
    except SIPCoreError:
        pass  # a slot was freed: the mixer dropped the connection with it


def _release_all(mixer: AudioMixer, made: set[Pair]) -> None:
    """The finalizer of a bridge: its connections go with it."""
    for pair in list(made):
        _release(mixer, pair)
    made.clear()


def _port_died(bridge_ref: weakref.ref[AudioBridge], key: int, ref: weakref.ref[Any]) -> None:
    bridge = bridge_ref()
    if bridge is not None and bridge._ports.get(key) is ref:
        del bridge._ports[key]
        bridge._reconnect_and_log()


@implementer(IAudioPort, IObserver)
class AudioBridge:
    """Connects the IAudioPorts added to it so that each hears all the others."""

    def __init__(self, mixer: AudioMixer) -> None:
        if mixer is None:
            raise ValueError("mixer argument may not be None")
        self.mixer = mixer
        self._input = MixerPort(mixer)  # hears the outside (when nested), speaks to the members
        self._output = MixerPort(mixer)  # hears the members, speaks to the outside
        self._input.start()
        self._output.start()
        self._ports: dict[int, weakref.ref[Any]] = {}
        self._made: set[Pair] = set()
        self._updating = False
        self._dirty = False
        self._self_ref = weakref.ref(self)
        self._finalizer = weakref.finalize(self, _release_all, mixer, self._made)
        NotificationCenter().add_observer(ObserverWeakrefProxy(self), name="AudioPortDidChangeSlots")

    # IAudioPort

    @property
    def consumer_slot(self) -> int | None:
        return self._input.slot

    @property
    def producer_slot(self) -> int | None:
        return self._output.slot

    # membership

    @property
    def ports(self) -> list[Any]:
        """The members still alive, in the order they were added."""
        return [port for ref in list(self._ports.values()) if (port := ref()) is not None]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.ports)

    def __len__(self) -> int:
        return len(self.ports)

    def __bool__(self) -> bool:
        return True  # an empty bridge is still a bridge (``if stream.bridge:`` must not depend on members)

    def __contains__(self, port: object) -> bool:
        ref = self._ports.get(id(port))
        return ref is not None and ref() is port

    def add(self, port: Any) -> None:
        """Adds ``port`` and connects it to every other member (ValueError if it is already here).

        A port of another mixer, or the bridge itself, is a ValueError; an object that does not
        provide IAudioPort a TypeError. If the mixer refuses one of the connections (a port that
        claims a slot it does not have), the port is not added and the SIPCoreError is raised.
        """
        if port is self:
            raise ValueError("an AudioBridge cannot contain itself")
        if not IAudioPort.providedBy(port):
            raise TypeError(f"{port!r} does not provide IAudioPort")
        if port.mixer is not self.mixer:
            raise ValueError(f"{port!r} uses another mixer than this AudioBridge")
        if port in self:
            raise ValueError(f"{port!r} is already part of this AudioBridge")
        key = id(port)
        self._ports[key] = weakref.ref(port, functools.partial(_port_died, self._self_ref, key))
        errors = self._reconnect()
        if errors:
            del self._ports[key]
            self._reconnect_and_log()
            pair, error = errors[0]
            raise SIPCoreError(
                f"cannot connect {port!r} in the bridge (slots {pair[0]} -> {pair[1]}): {error}"
            )

    def remove(self, port: Any) -> None:
        """Takes ``port`` out of the bridge and down its connections (ValueError if it is not here)."""
        if port not in self:
            raise ValueError(f"{port!r} is not part of this AudioBridge")
        del self._ports[id(port)]
        self._reconnect_and_log()

    # IObserver

    def handle_notification(self, notification: Notification) -> None:
        if notification.name == "AudioPortDidChangeSlots" and notification.sender in self:
            self._reconnect_and_log()

    # the mesh

    def _wanted(self) -> set[Pair]:
        members = [(port.producer_slot, port.consumer_slot) for port in self.ports]
        inlet, outlet = self._input.slot, self._output.slot
        wanted: set[Pair] = set()
        for index, (producer, consumer) in enumerate(members):
            if consumer is not None and inlet is not None:
                wanted.add((inlet, consumer))
            if producer is not None and outlet is not None:
                wanted.add((producer, outlet))
            if producer is None:
                continue
            for other, (_, other_consumer) in enumerate(members):
                if other != index and other_consumer is not None and other_consumer != producer:
                    wanted.add((producer, other_consumer))
        return wanted

    def _reconnect(self) -> list[tuple[Pair, SIPCoreError]]:
        """Makes the mixer's connections match the members' current slots; returns the refusals."""
        if self._updating:  # re-entered (a member collected while we were at it): go round again
            self._dirty = True
            return []
        self._updating = True
        try:
            while True:
                self._dirty = False
                errors = self._apply(self._wanted())
                if not self._dirty:
                    return errors
        finally:
            self._updating = False

    def _apply(self, wanted: set[Pair]) -> list[tuple[Pair, SIPCoreError]]:
        mixer, made = self.mixer, self._made
        for pair in made - wanted:
            made.discard(pair)
            _release(mixer, pair)
        existing = set(mixer.connected_slots)
        ledger = _ledger(mixer)
        errors = []
        for pair in sorted(wanted):
            if pair not in existing:
                try:
                    mixer.connect_slots(*pair)
                except SIPCoreError as error:
                    errors.append((pair, error))
                    if pair in made:
                        made.discard(pair)
                        _release(mixer, pair)
                    continue
            if pair not in made:
                made.add(pair)
                ledger[pair] += 1
        return errors

    def _reconnect_and_log(self) -> None:
        for (src, dst), error in self._reconnect():
            log.warning("%r could not connect slot %d to slot %d: %s", self, src, dst, error)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} slots={self.consumer_slot}/{self.producer_slot} ports={len(self._ports)}>"
