"""The process plumbing under every peer: stopping is bounded and thorough, failures carry the log."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from .peers._process import ManagedProcess, PeerError, _live_members, free_port

pytestmark = pytest.mark.interop


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def test_stop_kills_a_process_group_whose_leader_ignores_sigterm_and_forked_a_child(tmp_path):
    pid_file = tmp_path / "child.pid"
    script = f"trap '' TERM; sleep 300 & echo $! > {pid_file}.new; mv {pid_file}.new {pid_file}; wait"
    process = ManagedProcess("stubborn", ["sh", "-c", script], tmp_path / "stubborn.log").start()
    process.wait_ready(pid_file.exists, timeout=5)
    child = int(pid_file.read_text())

    status = process.stop(timeout=0.5)

    assert status == -signal.SIGKILL and "ignored SIGTERM" in process.log_text()
    assert not _live_members(process.pid)
    assert _state(child) in (None, "Z")  # gone, or a zombie waiting for an init that may never reap it


def test_wait_ready_reports_an_early_exit_with_the_tail_of_the_log(tmp_path):
    process = ManagedProcess("quitter", ["sh", "-c", "echo cannot bind; exit 3"], tmp_path / "q.log").start()

    with pytest.raises(PeerError, match=r"(?s)exited with status 3.*cannot bind"):
        process.wait_ready(lambda: False, timeout=5)
    assert process.died and process.returncode == 3


def test_free_port_is_free_for_udp_and_tcp_and_never_handed_out_twice():
    ports = [free_port() for _ in range(20)]

    assert len(set(ports)) == 20
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind(("127.0.0.1", ports[-1]))
