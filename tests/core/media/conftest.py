"""What the media tests share: one media I/O thread per test module."""

from __future__ import annotations

import gc

import pytest

from sipsimple.core.media._stream import IOThread


@pytest.fixture(scope="module")
def io_thread():
    """The I/O thread the module's transports and streams run on; stopping it is refused while any
    of them is still open, so a test that leaks one fails at teardown."""
    thread = IOThread()
    yield thread
    gc.collect()
    thread.stop()


@pytest.fixture
def make_memory_call(io_thread):
    """Makes tests/core/media/test_stream.py's MemoryCall (two streams in one test-ticked mixer) and
    closes every one made after the test."""
    from tests.core.media.test_stream import MemoryCall  # a test module: imported when first needed

    calls: list[MemoryCall] = []

    def make(*args, **kwargs) -> MemoryCall:
        call = MemoryCall(io_thread, *args, **kwargs)
        calls.append(call)
        return call

    yield make
    for call in calls:
        call.close()
