"""The C WAV reader and writer (csrc/wav.c): round trips, agreement with the stdlib ``wave``
module, every malformed header refused with its reason, and a fuzz test."""

from __future__ import annotations

import errno
import os
import struct
import wave
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsimple.core.media._mixer import WaveFileError, read_wave_file, write_wave_file
from tests.core.media.mixer_signals import interleave, noise, pcm, sine


def chunk(name: bytes, body: bytes, size: int | None = None) -> bytes:
    pad = b"\0" if len(body) % 2 else b""
    return name + struct.pack("<I", len(body) if size is None else size) + body + pad


def fmt(tag=1, channels=1, rate=8000, bits=16, block_align=None, subformat=None) -> bytes:
    align = channels * bits // 8 if block_align is None else block_align
    body = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)
    if subformat is not None:
        body += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", subformat) + bytes(14)
    return chunk(b"fmt ", body)


def riff(*chunks: bytes, form: bytes = b"WAVE", magic: bytes = b"RIFF") -> bytes:
    body = form + b"".join(chunks)
    return magic + struct.pack("<I", len(body)) + body


def data(values) -> bytes:
    return chunk(b"data", pcm(values))


# -- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000, 192000])
@pytest.mark.parametrize("channels", [1, 2])
def test_what_is_written_reads_back_bit_exact(tmp_path, rate, channels):
    mono = noise(1000, 12000.0, seed=rate)
    values = mono if channels == 1 else interleave(mono, noise(1000, 9000.0, seed=rate + 1))
    path = tmp_path / "x.wav"
    write_wave_file(path, rate, channels, pcm(values))
    assert read_wave_file(path) == (rate, channels, pcm(values))
    assert path.stat().st_size == 44 + 2 * len(values)
    assert os.listdir(tmp_path) == ["x.wav"]  # no temporary file left behind


def test_extreme_samples_survive_the_round_trip(tmp_path):
    values = array("h", [-32768, 32767, 0, -1, 1, 256, -256])
    write_wave_file(tmp_path / "x.wav", 8000, 1, values.tobytes())
    assert read_wave_file(tmp_path / "x.wav")[2] == values.tobytes()


def test_our_files_read_with_the_stdlib_and_stdlib_files_read_with_ours(tmp_path):
    values = interleave(sine(16000, 0.1, 440.0), sine(16000, 0.1, 660.0))
    ours = tmp_path / "ours.wav"
    write_wave_file(ours, 16000, 2, pcm(values))
    with wave.open(str(ours), "rb") as reader:
        assert (reader.getframerate(), reader.getnchannels(), reader.getsampwidth()) == (16000, 2, 2)
        little_endian = reader.readframes(reader.getnframes())
    assert little_endian == values.tobytes()  # this test machine is little-endian

    theirs = tmp_path / "theirs.wav"
    with wave.open(str(theirs), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(32000)
        writer.writeframes(pcm(sine(32000, 0.05, 1000.0)))
    assert read_wave_file(theirs) == (32000, 1, pcm(sine(32000, 0.05, 1000.0)))


def test_an_empty_file_has_no_samples(tmp_path):
    write_wave_file(tmp_path / "e.wav", 8000, 1, b"")
    assert read_wave_file(tmp_path / "e.wav") == (8000, 1, b"")


# -- tolerated variations ------------------------------------------------------------------------


def test_unknown_chunks_and_their_pad_bytes_are_skipped(tmp_path):
    path = tmp_path / "x.wav"
    path.write_bytes(riff(chunk(b"LIST", b"odd"), fmt(), chunk(b"fact", b"1234"), data([1, 2, 3])))
    assert read_wave_file(path) == (8000, 1, pcm([1, 2, 3]))


def test_extensible_pcm_is_accepted(tmp_path):
    path = tmp_path / "x.wav"
    path.write_bytes(riff(fmt(tag=0xFFFE, subformat=1), data([5, -5])))
    assert read_wave_file(path) == (8000, 1, pcm([5, -5]))


@pytest.mark.parametrize("size", [0xFFFFFFFF, 1000])
def test_a_data_size_beyond_the_end_of_the_file_is_cut_to_the_file(tmp_path, size):
    path = tmp_path / "x.wav"
    path.write_bytes(riff(fmt(), chunk(b"data", pcm([7, 8, 9]), size=size)))
    assert read_wave_file(path)[2] == pcm([7, 8, 9])


def test_a_trailing_odd_byte_is_not_a_sample(tmp_path):
    path = tmp_path / "x.wav"
    path.write_bytes(riff(fmt(), chunk(b"data", pcm([7, 8]) + b"\x01", size=5)))
    assert read_wave_file(path)[2] == pcm([7, 8])


# -- refused files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "not a RIFF file"),
        (b"ID3\x04 an mp3", "not a RIFF file"),
        (riff(fmt(), data([1]), magic=b"RIFX"), "not a RIFF file"),
        (b"RIFF\x10\0\0\0WA", "truncated"),
        (riff(fmt(), data([1]), form=b"AVI "), "not a WAVE file"),
        (riff(data([1])), "no fmt chunk"),
        (riff(data([1]), fmt()), "no fmt chunk"),
        (riff(), "no fmt chunk"),
        (riff(fmt()), "no data chunk"),
        (riff(fmt())[:-4], "truncated"),
        (riff(fmt(tag=3, bits=32), data([1, 1])), "not linear PCM"),
        (riff(fmt(tag=6, bits=8), data([1])), "not linear PCM"),
        (riff(fmt(tag=0xFFFE, subformat=3, bits=32), data([1, 1])), "not linear PCM"),
        (riff(fmt(bits=8), data([1])), "16 bits"),
        (riff(fmt(bits=24), data([1, 1, 1])), "16 bits"),
        (riff(fmt(channels=3), data([1, 1, 1])), "mono and stereo"),
        (riff(fmt(channels=0, block_align=2), data([1])), "mono and stereo"),
        (riff(fmt(rate=4000), data([1])), "8000..192000"),
        (riff(fmt(rate=0), data([1])), "8000..192000"),
        (riff(fmt(block_align=4), data([1, 1])), "block alignment"),
        (riff(chunk(b"fmt ", bytes(8)), data([1])), "fmt chunk is too short"),
        (riff(chunk(b"fmt ", fmt(tag=0xFFFE)[8:]), data([1])), "fmt chunk is too short"),
        (riff(chunk(b"fmt ", bytes(20), size=16)[:-12]), "truncated"),
    ],
)
def test_malformed_files_are_refused_with_a_clear_reason(tmp_path, content, reason):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(WaveFileError, match=reason) as raised:
        read_wave_file(path)
    assert raised.value.reason.startswith(reason) or reason in raised.value.reason
    assert str(path) in str(raised.value)


def test_a_missing_file_names_the_system_error(tmp_path):
    with pytest.raises(WaveFileError, match="No such file") as raised:
        read_wave_file(tmp_path / "absent.wav")
    assert raised.value.errno == errno.ENOENT


def test_a_directory_is_not_a_wav_file(tmp_path):
    with pytest.raises(WaveFileError, match="cannot be opened") as raised:
        read_wave_file(tmp_path)
    assert raised.value.errno == errno.EISDIR


def test_writing_into_a_missing_directory_fails_without_leaving_anything(tmp_path):
    with pytest.raises(WaveFileError, match="No such file"):
        write_wave_file(tmp_path / "nowhere" / "x.wav", 8000, 1, pcm([1]))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "rate, channels, payload, error",
    [(8000, 3, b"", ValueError), (8000, 2, b"\0\0", ValueError), (4000, 1, b"", WaveFileError)],
)
def test_unwritable_formats_are_refused(tmp_path, rate, channels, payload, error):
    with pytest.raises(error):
        write_wave_file(tmp_path / "x.wav", rate, channels, payload)
    assert os.listdir(tmp_path) == []


def test_an_existing_file_is_replaced_only_once_the_new_one_is_complete(tmp_path):
    path = tmp_path / "x.wav"
    write_wave_file(path, 8000, 1, pcm([1, 2]))
    write_wave_file(path, 16000, 1, pcm([3]))
    assert read_wave_file(path) == (16000, 1, pcm([3]))


# -- fuzz ----------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    body=st.binary(max_size=120),
    prefix=st.sampled_from([b"", riff()[:12], riff(fmt())[:36], riff(fmt(channels=2))[:36]]),
)
def test_arbitrary_bytes_either_parse_or_raise_wave_file_error(tmp_path_factory, body, prefix):
    path = tmp_path_factory.mktemp("fuzz") / "f.wav"
    path.write_bytes(prefix + body)
    try:
        rate, channels, samples = read_wave_file(path)
    except WaveFileError as error:
        assert error.reason
    else:
        assert 8000 <= rate <= 192000 and channels in (1, 2)
        assert len(samples) % (2 * channels) == 0
        assert len(samples) <= len(body)
