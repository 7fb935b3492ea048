"""Every IAudioPort implementation provides the interface, as a class and as an object."""

from __future__ import annotations

import pytest
from zope.interface.verify import verifyClass, verifyObject

from sipsimple.audio import AudioBridge, AudioDevice, IAudioPort, WavePlayer, WaveRecorder
from sipsimple.core.media._mixer import AudioMixer
from tests.audio.ports import RATE, MemoryAudioPort, ramp


@pytest.mark.parametrize("cls", [AudioDevice, AudioBridge, WavePlayer, WaveRecorder, MemoryAudioPort])
def test_the_class_implements_iaudioport(cls):
    assert verifyClass(IAudioPort, cls)


def test_each_kind_of_audio_port_object_provides_iaudioport(tmp_path):
    mixer = AudioMixer(None, None, RATE, 0)
    ports = [
        AudioDevice(mixer),
        AudioBridge(mixer),
        WavePlayer(mixer, tmp_path / "missing.wav"),
        WaveRecorder(mixer, tmp_path / "out.wav"),
        MemoryAudioPort(mixer, ramp(10)),
    ]
    for port in ports:
        assert verifyObject(IAudioPort, port)
        assert port.mixer is mixer
