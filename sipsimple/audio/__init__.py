"""The audio API of the middleware: ports of one AudioMixer and the bridges that connect them.

``IAudioPort`` is the role: an object with a ``mixer``, a ``consumer_slot`` and a ``producer_slot``
(either may be None) that posts ``AudioPortDidChangeSlots`` when they change. ``AudioBridge``
connects ports in a full mesh; ``AudioDevice`` is the mixer's sound device (slot 0),
``WavePlayer`` plays a WAV file, ``WaveRecorder`` records one. All of them are used on the Twisted
thread; the core objects they build on live in ``sipsimple.core.media._mixer``. See docs/audio.md.
"""

from ._bridge import AudioBridge
from ._device import AudioDevice
from ._player import WavePlayer
from ._port import IAudioPort, post_slots_changed
from ._recorder import WaveRecorder

__all__ = ["AudioBridge", "AudioDevice", "IAudioPort", "WavePlayer", "WaveRecorder", "post_slots_changed"]
