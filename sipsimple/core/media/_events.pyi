"""Type stub for sipsimple.core.media._events (the media event queue)."""

from typing import Final, final

__all__ = [
    "EVENT_DEFAULT_DEVICE_CHANGED",
    "EVENT_DEVICE_INPUT_END",
    "EVENT_DEVICE_LIST_CHANGED",
    "EVENT_NAMES",
    "EVENT_RECORDER_ERROR",
    "EVENT_TEST",
    "EVENT_TONE_END",
    "EVENT_WAV_END",
    "EVENT_WAV_ERROR",
    "QUEUE_CAPSULE_NAME",
    "EventQueue",
]

QUEUE_CAPSULE_NAME: Final[str]
EVENT_TEST: Final[int]
EVENT_WAV_END: Final[int]
EVENT_WAV_ERROR: Final[int]
EVENT_RECORDER_ERROR: Final[int]
EVENT_TONE_END: Final[int]
EVENT_DEVICE_INPUT_END: Final[int]
EVENT_DEVICE_LIST_CHANGED: Final[int]
EVENT_DEFAULT_DEVICE_CHANGED: Final[int]
EVENT_NAMES: Final[dict[int, str]]

@final
class EventQueue:
    def __init__(self, capacity: int = 1024) -> None: ...
    def fileno(self) -> int: ...
    def drain(self, max_events: int = 4096) -> list[tuple[int, int, int, int]]: ...
    def post(self, type: int, source: int = 0, a: int = 0, b: int = 0) -> bool: ...
    @property
    def capsule(self) -> object: ...
    @property
    def pending(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    def register(self, target: object) -> int: ...
    def unregister(self, source: int) -> None: ...
    def target(self, source: int) -> object | None: ...
    def _post_from_native_thread(self, count: int, type: int, source: int) -> None: ...
    def _join_native_threads(self) -> None: ...
