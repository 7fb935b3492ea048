"""A process saving configuration in a loop is killed with SIGKILL at random moments: the file on disk
always loads and equals one of the states that were saved."""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

from sipsimple.configuration import ConfigurationManager, Setting, SettingsGroup, SettingsObject
from sipsimple.configuration.backend.file import FileBackend

KILLS = 200


class Journal(SettingsObject):
    __id__ = "Journal"
    counter = Setting(type=int, default=0)

    class payload(SettingsGroup):
        text = Setting(type=str, default="")
        items = Setting(type=str, default="")


def expected_state(counter: int) -> dict:
    """The stored tree after saving state number ``counter`` (sizes vary so writes differ in length)."""
    return {
        "Journal": {
            "counter": str(counter),
            "payload": {"text": f"state {counter} " * (counter % 97), "items": "x" * (counter * 37 % 4000)},
        }
    }


def _saving_child(path: str, start: int, progress_fd: int) -> None:
    """Runs in the forked child: save states start, start+1, ... until killed."""
    manager = ConfigurationManager()
    manager.stop()
    manager.start(FileBackend(path))
    journal = Journal()
    counter = start
    while True:
        counter += 1
        journal.counter = counter
        journal.payload.text = f"state {counter} " * (counter % 97)
        journal.payload.items = "x" * (counter * 37 % 4000)
        journal.save()
        os.write(progress_fd, b".")


@pytest.mark.slow
def test_configuration_file_survives_sigkill_at_random_moments(tmp_path):
    path = str(tmp_path / "config")
    rng = random.Random(0x51F)
    seen_counters: set[int] = set()
    temporary_files_left = 0
    last = 0
    for _ in range(KILLS):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            os.close(read_fd)
            try:
                _saving_child(path, last, write_fd)
            finally:
                os._exit(1)
        os.close(write_fd)
        try:
            # Let the child complete a random number of saves, then kill it at a random point of the next.
            wanted = rng.randint(1, 4)
            received = 0
            while received < wanted:
                chunk = os.read(read_fd, 64)
                assert chunk, "the saving child died on its own"
                received += len(chunk)
            # A random delay spreads the kill over every phase of a save (this is not a wait for a timer).
            time.sleep(rng.uniform(0, 0.003))
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_fd)
        temporary_files_left += os.path.exists(path + ".tmp")
        stored = FileBackend(path).load()
        counter = int(stored["Journal"]["counter"])
        assert stored == expected_state(counter)
        assert counter > last, "a completed save was lost"
        seen_counters.add(counter)
        last = counter
    assert len(seen_counters) == KILLS
    print(f"{KILLS} kills, {temporary_files_left} left a temporary file behind (killed mid-write)")
