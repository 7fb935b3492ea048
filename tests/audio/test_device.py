"""AudioDevice: slot 0 of its mixer; muting a side takes that side out of the bridges."""

from __future__ import annotations

import pytest

from sipsimple.audio import AudioBridge, AudioDevice
from sipsimple.core.media._mixer import AudioMixer
from tests.audio.ports import FRAME, RATE, MemoryAudioPort, ramp


@pytest.fixture
def mixer() -> AudioMixer:
    return AudioMixer(None, None, RATE, 0)


def test_an_unmuted_device_consumes_and_produces_through_slot_zero(mixer):
    device = AudioDevice(mixer)
    assert (device.mixer, device.consumer_slot, device.producer_slot) == (mixer, 0, 0)
    assert not device.input_muted and not device.output_muted


def test_the_constructor_mutes_give_none_slots(mixer):
    device = AudioDevice(mixer, input_muted=True, output_muted=True)
    assert device.producer_slot is None and device.consumer_slot is None


def test_muting_the_input_posts_the_producer_slot_change(mixer, recorder):
    device = AudioDevice(mixer)
    device.input_muted = True
    [notification] = recorder.named("AudioPortDidChangeSlots")
    assert notification.sender is device
    assert notification.data.__dict__ == {
        "consumer_slot_changed": False,
        "producer_slot_changed": True,
        "old_consumer_slot": 0,
        "new_consumer_slot": 0,
        "old_producer_slot": 0,
        "new_producer_slot": None,
    }


def test_muting_the_output_posts_the_consumer_slot_change(mixer, recorder):
    device = AudioDevice(mixer)
    device.output_muted = True
    [notification] = recorder.named("AudioPortDidChangeSlots")
    assert notification.data.consumer_slot_changed and not notification.data.producer_slot_changed
    assert (notification.data.old_consumer_slot, notification.data.new_consumer_slot) == (0, None)


def test_setting_a_mute_to_its_current_value_posts_nothing(mixer, recorder):
    device = AudioDevice(mixer, input_muted=True)
    device.input_muted = True
    device.output_muted = False
    assert recorder.named("AudioPortDidChangeSlots") == []


def test_a_muted_input_is_disconnected_in_the_bridge_and_unmuting_reconnects_it(mixer):
    bridge = AudioBridge(mixer)
    device = AudioDevice(mixer)
    peer = MemoryAudioPort(mixer, ramp(FRAME), record=True)
    bridge.add(device)
    bridge.add(peer)
    assert {(0, peer.consumer_slot), (peer.producer_slot, 0)} <= set(mixer.connected_slots)
    device.input_muted = True
    assert (0, peer.consumer_slot) not in mixer.connected_slots
    assert (peer.producer_slot, 0) in mixer.connected_slots
    device.input_muted = False
    assert (0, peer.consumer_slot) in mixer.connected_slots


def test_a_muted_output_stops_the_device_hearing_the_bridge(mixer):
    bridge = AudioBridge(mixer)
    device = AudioDevice(mixer, output_muted=True)
    peer = MemoryAudioPort(mixer, ramp(FRAME), record=True)
    bridge.add(device)
    bridge.add(peer)
    assert (peer.producer_slot, 0) not in mixer.connected_slots
    assert (0, peer.consumer_slot) in mixer.connected_slots
    device.output_muted = False
    assert (peer.producer_slot, 0) in mixer.connected_slots


def test_the_device_plays_what_the_bridge_says_through_a_file_output(tmp_path):
    """With a ``file:`` output device, what the bridge gives slot 0 ends up in the WAV."""
    from sipsimple.core.media._mixer import read_wave_file

    out = tmp_path / "device.wav"
    mixer = AudioMixer(None, f"file:{out}", RATE, 0)
    bridge = AudioBridge(mixer)
    peer = MemoryAudioPort(mixer, ramp(2 * FRAME))
    device = AudioDevice(mixer)  # held here: the bridge alone would let it go
    bridge.add(device)
    bridge.add(peer)
    mixer.tick(2)
    mixer.set_sound_devices(None, None, 0)  # closes the output file
    rate, channels, data = read_wave_file(out)
    assert (rate, channels) == (RATE, 1)
    assert data == ramp(2 * FRAME).tobytes()
