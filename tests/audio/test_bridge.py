"""AudioBridge: the full mesh in the mixer's connections, reconnection on slot changes, weak
membership, nesting, and audio through it with the mixer ticked by the test."""

from __future__ import annotations

import gc
import weakref

import pytest

from sipsimple.audio import AudioBridge, AudioDevice
from sipsimple.core import SIPCoreError
from sipsimple.core.media._mixer import AudioMixer, MemoryPort
from sipsimple.notification import NotificationCenter
from tests.audio.ports import FRAME, RATE, MemoryAudioPort, ramp, silence


@pytest.fixture
def mixer() -> AudioMixer:
    return AudioMixer(None, None, RATE, 0)


def bridge_pairs(bridge: AudioBridge, *members: MemoryAudioPort | AudioDevice) -> set[tuple[int, int]]:
    """The connections a bridge owes to its own inlet and outlet for these members."""
    pairs = set()
    for member in members:
        if member.consumer_slot is not None:
            pairs.add((bridge.consumer_slot, member.consumer_slot))
        if member.producer_slot is not None:
            pairs.add((member.producer_slot, bridge.producer_slot))
    return pairs


def test_three_talking_and_listening_ports_are_connected_each_to_the_two_others(mixer):
    bridge = AudioBridge(mixer)
    a, b, c = (MemoryAudioPort(mixer, ramp(FRAME), record=True) for _ in range(3))
    for port in (a, b, c):
        bridge.add(port)
    mesh = {(x.producer_slot, y.consumer_slot) for x in (a, b, c) for y in (a, b, c) if x is not y}
    assert len(mesh) == 6
    assert set(mixer.connected_slots) == mesh | bridge_pairs(bridge, a, b, c)
    assert bridge.ports == [a, b, c] and len(bridge) == 3 and b in bridge


def test_a_producer_only_port_is_heard_and_a_consumer_only_port_hears(mixer):
    bridge = AudioBridge(mixer)
    player = MemoryAudioPort(mixer, ramp(FRAME))
    listener = MemoryAudioPort(mixer, record=True)
    bridge.add(player)
    bridge.add(listener)
    assert set(mixer.connected_slots) == {(player.producer_slot, listener.consumer_slot)} | bridge_pairs(
        bridge, player, listener
    )


def test_audio_reaches_every_other_member_in_the_same_tick_and_never_its_sender(mixer):
    bridge = AudioBridge(mixer)
    talker = MemoryAudioPort(mixer, ramp(2 * FRAME), record=True)
    listener = MemoryAudioPort(mixer, record=True)
    bridge.add(talker)
    bridge.add(listener)
    mixer.tick(2)
    assert listener.heard() == ramp(2 * FRAME)
    assert set(talker.heard()) == {0}


def test_two_members_sharing_a_slot_are_not_connected_to_each_other(mixer):
    """Two AudioDevices of one mixer are both slot 0: connecting them would make the device hear itself."""
    bridge = AudioBridge(mixer)
    devices = [AudioDevice(mixer), AudioDevice(mixer)]
    for device in devices:
        bridge.add(device)
    assert len(bridge) == 2
    assert (0, 0) not in mixer.connected_slots


def test_adding_a_port_twice_is_a_value_error_and_changes_nothing(mixer):
    bridge = AudioBridge(mixer)
    port = MemoryAudioPort(mixer, ramp(FRAME), record=True)
    bridge.add(port)
    before = mixer.connected_slots
    with pytest.raises(ValueError, match="already part"):
        bridge.add(port)
    assert mixer.connected_slots == before and len(bridge) == 1


def test_removing_a_port_that_was_never_added_is_a_value_error(mixer):
    bridge = AudioBridge(mixer)
    with pytest.raises(ValueError, match="not part"):
        bridge.remove(MemoryAudioPort(mixer, ramp(FRAME)))


def test_a_port_of_another_mixer_is_refused(mixer):
    other = AudioMixer(None, None, RATE, 0)
    with pytest.raises(ValueError, match="another mixer"):
        AudioBridge(mixer).add(MemoryAudioPort(other, ramp(FRAME)))


def test_an_object_that_is_not_an_audio_port_is_a_type_error(mixer):
    port = MemoryPort(mixer, record_seconds=0.1)
    with pytest.raises(TypeError, match="IAudioPort"):
        AudioBridge(mixer).add(port)


def test_a_bridge_cannot_contain_itself(mixer):
    bridge = AudioBridge(mixer)
    with pytest.raises(ValueError, match="itself"):
        bridge.add(bridge)


def test_a_port_whose_slot_the_mixer_refuses_is_not_added_and_leaves_no_connection(mixer):
    """A member that claims a sink-only slot as its producer slot: the mixer refuses, add() raises."""
    bridge = AudioBridge(mixer)
    listener = MemoryAudioPort(mixer, record=True)
    bridge.add(listener)
    liar = MemoryAudioPort(mixer, record=True)
    liar._play = b"claims to play"  # producer_slot now names a slot that does not produce audio
    before = mixer.connected_slots
    with pytest.raises(SIPCoreError, match="cannot connect"):
        bridge.add(liar)
    assert liar not in bridge and mixer.connected_slots == before


def test_removing_a_port_takes_down_its_connections_and_keeps_the_others(mixer):
    bridge = AudioBridge(mixer)
    a, b, c = (MemoryAudioPort(mixer, ramp(FRAME), record=True) for _ in range(3))
    for port in (a, b, c):
        bridge.add(port)
    bridge.remove(b)
    mesh = {(a.producer_slot, c.consumer_slot), (c.producer_slot, a.consumer_slot)}
    assert set(mixer.connected_slots) == mesh | bridge_pairs(bridge, a, c)
    assert b not in bridge


def test_a_member_that_changes_slots_is_reconnected_on_its_notification(mixer):
    bridge = AudioBridge(mixer)
    a = MemoryAudioPort(mixer, ramp(FRAME), record=True)
    b = MemoryAudioPort(mixer, ramp(FRAME), record=True)
    bridge.add(a)
    bridge.add(b)
    old_slot = b.producer_slot
    b.move()
    assert b.producer_slot != old_slot
    assert not any(old_slot in pair for pair in mixer.connected_slots)
    mesh = {(a.producer_slot, b.consumer_slot), (b.producer_slot, a.consumer_slot)}
    assert set(mixer.connected_slots) == mesh | bridge_pairs(bridge, a, b)


def test_a_member_that_gives_up_its_slots_keeps_no_connection(mixer):
    bridge = AudioBridge(mixer)
    a = MemoryAudioPort(mixer, ramp(FRAME), record=True)
    b = MemoryAudioPort(mixer, ramp(FRAME), record=True)
    bridge.add(a)
    bridge.add(b)
    b.leave()
    assert set(mixer.connected_slots) == bridge_pairs(bridge, a)
    assert b in bridge


def test_connections_dropped_by_the_mixer_come_back_when_a_member_gets_the_same_slot_again(mixer):
    """The member frees its slot and takes the same number back before the bridge hears of it."""
    bridge = AudioBridge(mixer)
    a = MemoryAudioPort(mixer, ramp(FRAME), record=True)
    b = MemoryAudioPort(mixer, ramp(FRAME), record=True)
    bridge.add(a)
    bridge.add(b)
    wanted = set(mixer.connected_slots)
    slot = b.memory.slot
    b.memory.stop()  # the mixer drops b's connections
    b.memory = b._new_port()
    assert b.memory.slot == slot and not set(mixer.connected_slots) >= wanted
    NotificationCenter().post_notification("AudioPortDidChangeSlots", sender=b)
    assert set(mixer.connected_slots) == wanted


def test_the_bridge_does_not_keep_its_ports_alive_and_a_collected_port_leaves_it(mixer):
    bridge = AudioBridge(mixer)
    keep = MemoryAudioPort(mixer, ramp(FRAME), record=True)
    gone = MemoryAudioPort(mixer, ramp(FRAME), record=True)
    bridge.add(keep)
    bridge.add(gone)
    gone_slot = gone.memory.slot
    memory = gone.memory  # the core port stays in the mixer: only the bridge member goes away
    reference = weakref.ref(gone)
    del gone
    gc.collect()
    assert reference() is None
    assert bridge.ports == [keep]
    assert set(mixer.connected_slots) == bridge_pairs(bridge, keep)
    assert memory.slot == gone_slot  # so the disconnection came from the bridge, not from the mixer


def test_a_collected_bridge_takes_its_connections_with_it(mixer):
    a = MemoryAudioPort(mixer, ramp(FRAME), record=True)
    b = MemoryAudioPort(mixer, ramp(FRAME), record=True)
    bridge = AudioBridge(mixer)
    bridge.add(a)
    bridge.add(b)
    reference = weakref.ref(bridge)
    del bridge
    gc.collect()
    assert reference() is None
    assert mixer.connected_slots == []
    assert mixer.used_slot_count == 2  # its own two ports left the mixer too


def test_a_connection_wanted_by_two_bridges_stays_until_both_let_it_go(mixer):
    a = MemoryAudioPort(mixer, ramp(FRAME), record=True)
    b = MemoryAudioPort(mixer, ramp(FRAME), record=True)
    first, second = AudioBridge(mixer), AudioBridge(mixer)
    for bridge in (first, second):
        bridge.add(a)
        bridge.add(b)
    pair = (a.producer_slot, b.consumer_slot)
    first.remove(b)
    assert pair in mixer.connected_slots
    second.remove(b)
    assert pair not in mixer.connected_slots


def test_a_bridge_is_an_audio_port_with_its_own_two_slots(mixer):
    bridge = AudioBridge(mixer)
    assert bridge.mixer is mixer and bool(bridge) and len(bridge) == 0
    assert isinstance(bridge.consumer_slot, int) and isinstance(bridge.producer_slot, int)
    assert bridge.consumer_slot != bridge.producer_slot
    assert mixer.used_slot_count == 2


def test_a_nested_bridge_lets_inner_and_outer_members_hear_each_other_but_not_themselves(mixer):
    inner, outer = AudioBridge(mixer), AudioBridge(mixer)
    inside = MemoryAudioPort(mixer, ramp(4 * FRAME, start=7), record=True)
    outside = MemoryAudioPort(mixer, ramp(4 * FRAME, start=1000), record=True)
    inner.add(inside)
    outer.add(outside)
    outer.add(inner)
    mixer.tick(4)
    # through the inner bridge's MixerPorts: one frame later
    assert outside.heard() == silence(FRAME) + ramp(3 * FRAME, start=7)
    assert inside.heard() == silence(FRAME) + ramp(3 * FRAME, start=1000)


def test_many_bridges_and_members_made_and_dropped_leave_the_mixer_as_it_was(mixer):
    """Nothing accumulates: slots, connections and the per-mixer connection counts all go back to empty."""
    from sipsimple.audio._bridge import _ledgers

    for _ in range(200):
        bridge = AudioBridge(mixer)
        members = [MemoryAudioPort(mixer, ramp(FRAME), record=True) for _ in range(3)]
        for member in members:
            bridge.add(member)
        bridge.remove(members[0])
        del bridge, members, member
    gc.collect()
    assert mixer.used_slot_count == 0
    assert mixer.connected_slots == []
    assert not _ledgers.get(mixer)
