"""The README's main job, second stage: ``python -m sipsimple.demo`` places a real SRTP audio call
to a second sipsimple process on loopback and reports what it measured in its result line."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from sipsimple.demo import signal
from tests.conftest import REPOSITORY

RESULT = re.compile(
    r"^result: codec=(?P<codec>\S+) srtp=(?P<srtp>yes|no) duration=(?P<duration>[\d.]+)s "
    r"lost=(?P<lost>-?\d+)/(?P<expected>\d+) \((?P<percent>[\d.]+)%\) dtmf=(?P<dtmf>\S+) "
    r"quality=correlation (?P<correlation>[-\d.]+), SNR (?P<snr>[-\d.]+) dB recording=(?P<recording>\S+)$",
    re.MULTILINE,
)


@pytest.mark.slow
def test_the_demo_call_carries_the_source_over_srtp_and_the_callee_hears_the_dtmf(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sipsimple.demo",
            "--codec",
            "PCMU",
            "--seconds",
            "5",
            "--output",
            str(tmp_path),
        ],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    match = RESULT.search(result.stdout)
    assert match, result.stdout
    assert match["codec"] == "PCMU/8000" and match["srtp"] == "yes"
    assert 0 <= float(match["percent"]) <= 10 and int(match["expected"]) > 100
    assert match["dtmf"] == "123#"
    assert float(match["correlation"]) > 0.95 and float(match["snr"]) > 20  # measured: 1.000, 38 dB
    assert match["recording"] == str(tmp_path / "callee-heard.wav")
    assert "AudioStreamGotDTMF" in result.stdout and "SIPSessionDidChangeHoldState" in result.stdout
    assert "demo passed" in result.stdout


def test_the_demo_refuses_a_call_too_short_for_its_steps():
    result = subprocess.run(
        [sys.executable, "-m", "sipsimple.demo", "--seconds", "1"], cwd=REPOSITORY, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and "--seconds must be at least 4" in result.stderr


def test_compare_finds_a_delayed_attenuated_copy_of_the_source():
    source = signal.multitone(1.6)
    heard = type(source)("h", bytes(2 * 123)) + type(source)("h", (v // 2 for v in source))
    match = signal.compare(source, heard, 0.5, 1.0)
    assert match is not None and match.lag == 123
    assert abs(match.gain - 0.5) < 0.01 and match.correlation > 0.999
    assert signal.compare(source, type(source)("h", bytes(2000)), 0.5, 1.0) is None
