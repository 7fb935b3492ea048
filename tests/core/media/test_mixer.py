"""The AudioMixer's slots, connections and mixing maths, driven tick by tick (no clock thread).

Sources and sinks are MemoryPorts: what a sink records after N ticks is exactly what the mixer
put to it, so sums, saturation, volumes and conversions are checked sample by sample.
"""

from __future__ import annotations

import ctypes
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsimple.core import SIPCoreError
from sipsimple.core.media._mixer import (
    AudioMixer,
    MemoryPort,
    RecordingWaveFile,
    ToneGenerator,
    WaveFile,
    read_wave_file,
    write_wave_file,
)
from tests.core.media.mixer_signals import (
    constant,
    goertzel,
    interleave,
    noise,
    pcm,
    rms,
    samples,
    sine,
    strongest,
)


def make_mixer(rate: int = 48000, frame_time: int = 20, slot_count: int = 254) -> AudioMixer:
    return AudioMixer(None, None, rate, 0, slot_count, frame_time=frame_time)


def source(mixer: AudioMixer, values, **options) -> MemoryPort:
    port = MemoryPort(mixer, pcm(values), **options)
    port.start()
    return port


def sink(mixer: AudioMixer, seconds: float = 2.0, **options) -> MemoryPort:
    port = MemoryPort(mixer, record_seconds=seconds, **options)
    port.start()
    return port


# -- construction --------------------------------------------------------------------------------


def test_a_new_mixer_has_the_reference_defaults_and_an_empty_matrix():
    mixer = make_mixer()
    assert (mixer.sample_rate, mixer.slot_count, mixer.frame_time) == (48000, 254, 20)
    assert mixer.samples_per_frame == 960
    assert mixer.used_slot_count == 0
    assert mixer.connected_slots == []
    assert (mixer.input_volume, mixer.output_volume, mixer.muted) == (100, 100, False)
    assert mixer.input_device is None and mixer.output_device is None
    assert mixer.ec_tail_length == 0 and not mixer.is_running


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"sample_rate": 48000, "ec_tail_length": -1}, "ec_tail_length"),
        ({"sample_rate": 7999, "ec_tail_length": 0}, "sample_rate"),
        ({"sample_rate": 11025, "ec_tail_length": 0, "frame_time": 10}, "sample_rate"),
        ({"sample_rate": 48000, "ec_tail_length": 0, "frame_time": 30}, "frame_time"),
        ({"sample_rate": 48000, "ec_tail_length": 0, "slot_count": 0}, "slot_count"),
    ],
)
def test_unusable_constructor_arguments_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        AudioMixer(None, None, **arguments)


@pytest.mark.parametrize("rate", [8000, 16000, 32000, 48000])
@pytest.mark.parametrize("frame_time", [10, 20])
def test_every_documented_rate_and_frame_time_mixes(rate, frame_time):
    mixer = make_mixer(rate, frame_time)
    a = source(mixer, constant(1234, rate))
    b = sink(mixer)
    mixer.connect_slots(a.slot, b.slot)
    mixer.tick(3)
    assert samples(b.take()) == constant(1234, 3 * rate * frame_time // 1000)


# -- mixing maths --------------------------------------------------------------------------------


def test_two_sources_are_summed_and_a_disconnected_source_is_not_heard():
    mixer = make_mixer()
    a, b, c = (
        source(mixer, constant(1000, 960)),
        source(mixer, constant(-300, 960)),
        source(mixer, constant(7, 960)),
    )
    out = sink(mixer)
    mixer.connect_slots(a.slot, out.slot)
    mixer.connect_slots(b.slot, out.slot)
    mixer.tick()
    assert samples(out.take()) == constant(700, 960)
    assert c.played_frames == 960  # c was read on that tick, but nobody listens to it


def test_sums_saturate_at_the_int16_limits_instead_of_wrapping():
    mixer = make_mixer()
    high = [source(mixer, constant(30000, 960)) for _ in range(3)]
    low = [source(mixer, constant(-30000, 960)) for _ in range(3)]
    up, down = sink(mixer), sink(mixer)
    for port in high:
        mixer.connect_slots(port.slot, up.slot)
    for port in low:
        mixer.connect_slots(port.slot, down.slot)
    mixer.tick()
    assert samples(up.take()) == constant(32767, 960)
    assert samples(down.take()) == constant(-32768, 960)


def test_a_sink_with_no_source_still_receives_a_silent_frame_every_tick():
    mixer = make_mixer(8000)
    out = sink(mixer)
    mixer.tick(5)
    assert samples(out.take()) == constant(0, 5 * 160)


def test_a_slot_never_hears_itself_unless_connected_to_itself():
    mixer = make_mixer(8000)
    both = MemoryPort(mixer, pcm(constant(500, 160)), loop=True, record_seconds=1)
    both.start()
    mixer.tick()
    assert samples(both.take()) == constant(0, 160)
    mixer.connect_slots(both.slot, both.slot)
    assert mixer.connected_slots == [(both.slot, both.slot)]
    mixer.tick()
    assert samples(both.take()) == constant(500, 160)  # its own frame of the same tick


def test_only_sources_can_be_heard_and_only_sinks_can_listen():
    mixer = make_mixer()
    only_source, only_sink = source(mixer, constant(1, 960)), sink(mixer)
    with pytest.raises(SIPCoreError, match="does not produce audio or"):
        mixer.connect_slots(only_sink.slot, only_source.slot)
    with pytest.raises(SIPCoreError, match="no port in that slot"):
        mixer.connect_slots(only_source.slot, 200)
    with pytest.raises(SIPCoreError, match="no port in that slot"):
        mixer.connect_slots(only_source.slot, 255)
    with pytest.raises(ValueError, match="src_slot"):
        mixer.connect_slots(-1, only_sink.slot)
    with pytest.raises(ValueError, match="dst_slot"):
        mixer.disconnect_slots(only_source.slot, -2)


def test_connections_are_idempotent_sorted_and_dropped_with_their_port():
    mixer = make_mixer()
    ports = [MemoryPort(mixer, pcm(constant(1, 960)), record_seconds=1) for _ in range(3)]
    for port in ports:
        port.start()
    s1, s2, s3 = (port.slot for port in ports)
    for src, dst in [(s3, s1), (s1, s2), (s1, s2), (s2, s1), (s1, 0), (0, s3)]:
        mixer.connect_slots(src, dst)
    assert mixer.connected_slots == sorted({(s3, s1), (s1, s2), (s2, s1), (s1, 0), (0, s3)})
    mixer.disconnect_slots(s3, s1)
    mixer.disconnect_slots(s3, s1)
    assert (s3, s1) not in mixer.connected_slots
    assert mixer.used_slot_count == 3
    ports[0].stop()
    assert mixer.connected_slots == [(0, s3)]
    assert mixer.used_slot_count == 2 and ports[0].slot is None
    replacement = sink(mixer)
    assert replacement.slot == s1  # the freed slot is reused, without its old connections
    assert mixer.connected_slots == [(0, s3)]


def test_a_full_mixer_refuses_one_more_port():
    mixer = make_mixer(8000, slot_count=3)
    ports = [sink(mixer) for _ in range(3)]
    assert [port.slot for port in ports] == [1, 2, 3]
    with pytest.raises(SIPCoreError, match="no free slot"):
        sink(mixer)


# -- volume, mute, levels ------------------------------------------------------------------------


@pytest.mark.parametrize("volume, expected", [(100, 1000), (50, 500), (0, 0), (200, 2000)])
def test_a_slot_volume_scales_what_the_slot_gives(volume, expected):
    mixer = make_mixer(8000)
    a = source(mixer, constant(1000, 160))
    a.volume = volume
    out = sink(mixer)
    mixer.connect_slots(a.slot, out.slot)
    mixer.tick()
    assert samples(out.take()) == constant(expected, 160)


def test_volume_outside_0_to_200_percent_is_refused():
    mixer = make_mixer(8000)
    a = source(mixer, constant(1, 160))
    for name in ("input_volume", "output_volume"):
        with pytest.raises(ValueError, match="negative"):
            setattr(mixer, name, -1)
        with pytest.raises(ValueError, match="exceed"):
            setattr(mixer, name, 201)
    with pytest.raises(ValueError):
        a.volume = 201


def test_levels_report_the_rms_and_peak_of_the_last_frames():
    mixer = make_mixer(8000)
    a = source(mixer, [1000, -1000] * 80)
    out = sink(mixer)
    mixer.connect_slots(a.slot, out.slot)
    mixer.tick()
    assert mixer.slot_levels(a.slot)[:2] == (1000, 1000)
    assert mixer.slot_levels(out.slot)[2:] == (1000, 1000)
    mixer.tick()  # the source has played out: silent
    assert mixer.slot_levels(a.slot)[:2] == (0, 0)
    with pytest.raises(SIPCoreError):
        mixer.slot_levels(99)


def test_device_input_volume_mute_and_output_volume(tmp_path):
    captured = tmp_path / "mic.wav"
    write_wave_file(captured, 8000, 1, pcm(constant(4000, 8000)))
    played = tmp_path / "speaker.wav"
    mixer = AudioMixer(f"file:{captured}", f"file:{played}", 8000, 0)
    assert mixer.input_device == f"file:{captured}"
    out = sink(mixer)
    far = source(mixer, constant(3000, 8000))
    mixer.connect_slots(0, out.slot)
    mixer.connect_slots(far.slot, 0)

    mixer.input_volume = 50
    mixer.output_volume = 10
    mixer.tick()
    assert samples(out.take()) == constant(2000, 160)
    mixer.muted = True
    mixer.tick()
    assert samples(out.take()) == constant(0, 160)
    assert mixer.input_level == 0
    mixer.input_volume = 25  # like the reference: raising the input volume unmutes
    assert not mixer.muted
    mixer.tick()
    assert samples(out.take()) == constant(1000, 160)
    assert mixer.output_level == 300

    mixer.set_sound_devices(None, None, 0)  # finishes the output file
    rate, channels, data = read_wave_file(played)
    assert (rate, channels) == (8000, 1)
    assert samples(data) == constant(300, 3 * 160)


# -- conversions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("port_rate, mixer_rate", [(8000, 48000), (48000, 8000), (16000, 32000)])
def test_resampling_keeps_a_tone_at_its_frequency_and_level(port_rate, mixer_rate):
    mixer = make_mixer(mixer_rate)
    tone = sine(port_rate, 0.5, 1000.0, 8000.0)
    a = source(mixer, tone, sample_rate=port_rate)
    heard_at_mixer_rate = sink(mixer)
    heard_at_port_rate = sink(mixer, sample_rate=port_rate)
    mixer.connect_slots(a.slot, heard_at_mixer_rate.slot)
    mixer.connect_slots(a.slot, heard_at_port_rate.slot)
    mixer.tick(25)
    assert mixer.statistics["resample_short"] == 0
    for rate, port in [(mixer_rate, heard_at_mixer_rate), (port_rate, heard_at_port_rate)]:
        out = samples(port.take())
        assert len(out) == 25 * rate // 50  # one frame per tick, exactly
        window = out[len(out) // 4 : len(out) // 4 + rate // 5]  # past the resampler's delay
        assert strongest(window, rate, [500, 800, 1000, 1200, 2000, 3000])[0] == 1000
        assert 7000 < goertzel(window, rate, 1000.0) < 8500
        assert goertzel(window, rate, 3000.0) < 200


def test_stereo_ports_are_averaged_into_the_mixer_and_duplicated_out_of_it():
    mixer = make_mixer(16000)
    stereo = source(mixer, interleave(constant(1000, 320), constant(3000, 320)), channels=2)
    mono_out, stereo_out = sink(mixer), sink(mixer, channels=2)
    for port in (mono_out, stereo_out):
        mixer.connect_slots(stereo.slot, port.slot)
    mixer.tick()
    assert samples(mono_out.take()) == constant(2000, 320)
    assert samples(stereo_out.take()) == constant(2000, 640)


def test_ports_whose_rate_does_not_divide_into_frames_are_refused():
    mixer = make_mixer(48000, frame_time=10)
    with pytest.raises(ValueError, match="whole 10 ms frames"):
        MemoryPort(mixer, pcm(constant(1, 100)), sample_rate=22050)


# -- echo canceller ------------------------------------------------------------------------------


def echo_run(tmp_path, tail_length: int, reset_at: int | None = None) -> list[float]:
    """RMS per second of what the device's slot gives when its input is an echo of its output.

    The far end is white noise played to the device; the device's input file holds that noise,
    halved and 25 ms late (200 samples at 8 kHz), as a loudspeaker heard by a microphone would.
    """
    rate, seconds, delay = 8000, 6, 200
    far = noise(rate * seconds, 5000.0, seed=3)
    echo = constant(0, delay) + array("h", (round(v * 0.5) for v in far[: len(far) - delay]))
    microphone = tmp_path / f"echo-{tail_length}-{reset_at}.wav"
    write_wave_file(microphone, rate, 1, pcm(echo))
    mixer = AudioMixer(f"file:{microphone}", None, rate, tail_length)
    player = source(mixer, far)
    near = sink(mixer, seconds)
    mixer.connect_slots(player.slot, 0)
    mixer.connect_slots(0, near.slot)
    for second in range(seconds):
        if second == reset_at:
            mixer.reset_ec()
        mixer.tick(50)
    out = samples(near.take())
    return [rms(out[i * rate : (i + 1) * rate]) for i in range(seconds)]


def test_the_echo_canceller_removes_an_echo_of_the_device_output(tmp_path):
    without = echo_run(tmp_path, 0)
    with_ec = echo_run(tmp_path, 100)
    assert without[-1] > 2000  # the echo itself: half of a 5000 RMS noise
    assert with_ec[-1] < without[-1] / 4  # at least 12 dB of echo return loss enhancement


def test_resetting_the_echo_canceller_makes_it_learn_again(tmp_path):
    converged = echo_run(tmp_path, 100)
    reset = echo_run(tmp_path, 100, reset_at=5)
    assert reset[5] > 2 * converged[5]


# -- ports of the core API ------------------------------------------------------------------------


def test_core_ports_take_and_give_back_their_slot():
    mixer = make_mixer(16000)
    tones = ToneGenerator(mixer)
    assert tones.slot is None and not tones.is_active
    tones.start()
    tones.start()
    assert tones.slot == 1 and mixer.used_slot_count == 1
    tones.stop()
    assert tones.slot is None and mixer.used_slot_count == 0
    with pytest.raises(ValueError, match="mixer"):
        ToneGenerator(None)  # type: ignore[arg-type]
    with pytest.raises(SIPCoreError, match="already called"):
        tones.__init__(mixer)


GET_FRAME = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16), ctypes.c_size_t)
PUT_FRAME = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16), ctypes.c_size_t)


class CPort(ctypes.Structure):
    """media_port_t of csrc/port.h, as another extension would lay it out."""

    _fields_ = [
        ("clock_rate", ctypes.c_uint32),
        ("channels", ctypes.c_uint32),
        ("samples_per_frame", ctypes.c_uint32),
        ("get_frame", GET_FRAME),
        ("put_frame", PUT_FRAME),
        ("user_data", ctypes.c_void_p),
        ("name", ctypes.c_char_p),
        ("get_frame_batch", ctypes.c_void_p),  # optional (tick_batch.h); NULL here
        ("put_frame_batch", ctypes.c_void_p),
    ]


def port_capsule(port: CPort) -> object:
    new = ctypes.pythonapi.PyCapsule_New
    new.restype, new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    return new(ctypes.addressof(port), PORT_CAPSULE_NAME, None)


PORT_CAPSULE_NAME = b"sipsimple.core.media.port"


def test_a_port_of_another_extension_joins_through_a_capsule_and_follows_port_h():
    """A port built from the header's layout alone (here with ctypes) is read and written per tick."""
    mixer = make_mixer(8000)
    heard: list[list[int]] = []

    def get_frame(_port, pcm_out, n):
        for i in range(n):
            pcm_out[i] = 1234
        return 0

    def put_frame(_port, pcm_in, n):
        heard.append(pcm_in[:n])
        return 0

    callbacks = (GET_FRAME(get_frame), PUT_FRAME(put_frame))
    port = CPort(16000, 1, 320, callbacks[0], callbacks[1], None, b"ctypes")
    owner = object()
    slot = mixer.add_port(port_capsule(port), owner)
    with pytest.raises(SIPCoreError, match="already"):  # one slot per port: one frame per tick
        mixer.add_port(port_capsule(port), owner)
    assert mixer.used_slot_count == 1
    talker = source(mixer, constant(-5000, 160), loop=True)
    out = sink(mixer)
    mixer.connect_slots(slot, out.slot)
    mixer.connect_slots(talker.slot, slot)
    mixer.tick(3)
    assert len(heard) == 3 and all(len(frame) == 320 for frame in heard)  # one 16 kHz frame per tick
    assert all(abs(v + 5000) < 50 for v in heard[2])  # the 8 kHz source, resampled to 16 kHz
    heard_from_port = samples(out.take())
    assert len(heard_from_port) == 3 * 160
    assert all(abs(v - 1234) < 20 for v in heard_from_port[320:])  # its 16 kHz frames, at 8 kHz
    mixer.remove_port(slot)
    assert mixer.used_slot_count == 2
    mixer.tick()
    assert len(heard) == 3  # no longer called
    with pytest.raises(SIPCoreError, match="add_port"):
        mixer.remove_port(slot)
    with pytest.raises(ValueError):
        mixer.add_port(object())
    wrong = CPort(16000, 1, 160, callbacks[0], callbacks[1], None, b"10 ms at 16 kHz")
    with pytest.raises(SIPCoreError, match="frame time"):
        mixer.add_port(port_capsule(wrong))


def test_an_echo_canceller_tail_over_a_second_is_refused():
    with pytest.raises(ValueError, match="1000"):
        AudioMixer(None, None, 8000, 1001)


def test_dropping_the_last_reference_to_an_active_port_removes_it_from_the_mixer(tmp_path):
    mixer = make_mixer(8000)
    recording = RecordingWaveFile(mixer, tmp_path / "r.wav")
    recording.start()
    player = WaveFile(mixer, tmp_path / "r.wav")
    assert mixer.used_slot_count == 1
    del recording, player
    assert mixer.used_slot_count == 0
    assert (tmp_path / "r.wav").exists()


# -- the connection matrix against a model ---------------------------------------------------------

OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove", "connect", "disconnect"]), st.integers(0, 6), st.integers(0, 6)
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(operations=OPERATIONS)
def test_any_sequence_of_changes_mixes_like_a_model_of_the_matrix(operations):
    """Slots, connections and what every sink hears agree with a plain Python model."""
    mixer = make_mixer(8000, slot_count=6)
    ports: dict[int, MemoryPort] = {}
    values: dict[int, int] = {}
    model: set[tuple[int, int]] = set()
    for step, (operation, a, b) in enumerate(operations):
        if operation == "add" and len(ports) < 6:
            port = MemoryPort(mixer, pcm(constant(step + 1, 160)), loop=True, record_seconds=0.1)
            port.start()
            ports[port.slot], values[port.slot] = port, step + 1
        elif operation == "remove" and a in ports:
            ports.pop(a).stop()
            model = {pair for pair in model if a not in pair}
        elif operation in ("connect", "disconnect"):
            if a in ports and b in ports:
                getattr(mixer, f"{operation}_slots")(a, b)
                model = model | {(a, b)} if operation == "connect" else model - {(a, b)}
            else:  # an empty slot (slot 0, the device, is never empty: use one past the end instead)
                with pytest.raises(SIPCoreError):
                    mixer.connect_slots(a if a in ports or a else 7, b if b in ports or b else 7)
    assert mixer.connected_slots == sorted(model)
    assert mixer.used_slot_count == len(ports)
    mixer.tick()
    for slot, port in ports.items():
        expected = sum(values[src] for (src, dst) in model if dst == slot)
        assert samples(port.take()) == constant(expected, 160)
