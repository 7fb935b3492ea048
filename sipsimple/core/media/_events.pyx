# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The media event queue: how native media threads tell the Twisted thread that something happened.

C code (the mixer's clock thread, device callbacks, RTP I/O) posts small fixed events into the
queue of csrc/events.c without the GIL; the queue's file descriptor becomes readable once per batch.
The Twisted side (:mod:`sipsimple.core.media.events`) watches :meth:`EventQueue.fileno` and calls
:meth:`EventQueue.drain`, which returns ``(type, source, a, b)`` tuples.

``source`` identifies the receiving Python object: objects that want events call
:meth:`EventQueue.register` and give the returned id to their C side; :meth:`EventQueue.target` maps
the id back to the object (held weakly). Other extensions post through the C struct that
:attr:`EventQueue.capsule` carries (csrc/events.h), and keep a reference to the EventQueue while
they may post.
"""

import weakref

cimport cython
from cpython.pycapsule cimport PyCapsule_New
from libc.errno cimport errno
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc

from sipsimple.core.media.pxd.media_events cimport *

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
    "EventQueue",
    "QUEUE_CAPSULE_NAME",
]

QUEUE_CAPSULE_NAME = MEDIA_EVENT_QUEUE_CAPSULE.decode()

EVENT_TEST = MEDIA_EVENT_TEST
EVENT_WAV_END = MEDIA_EVENT_WAV_END
EVENT_WAV_ERROR = MEDIA_EVENT_WAV_ERROR
EVENT_RECORDER_ERROR = MEDIA_EVENT_RECORDER_ERROR
EVENT_TONE_END = MEDIA_EVENT_TONE_END
EVENT_DEVICE_INPUT_END = MEDIA_EVENT_DEVICE_INPUT_END
EVENT_DEVICE_LIST_CHANGED = MEDIA_EVENT_DEVICE_LIST_CHANGED
EVENT_DEFAULT_DEVICE_CHANGED = MEDIA_EVENT_DEFAULT_DEVICE_CHANGED

#: Names of the event types this module knows (for logs); other concerns add theirs in their range.
EVENT_NAMES = {
    MEDIA_EVENT_TEST: "test",
    MEDIA_EVENT_WAV_END: "wav-end",
    MEDIA_EVENT_WAV_ERROR: "wav-error",
    MEDIA_EVENT_RECORDER_ERROR: "recorder-error",
    MEDIA_EVENT_TONE_END: "tone-end",
    MEDIA_EVENT_DEVICE_INPUT_END: "device-input-end",
    MEDIA_EVENT_DEVICE_LIST_CHANGED: "device-list-changed",
    MEDIA_EVENT_DEFAULT_DEVICE_CHANGED: "default-device-changed",
}


cdef extern from "<pthread.h>" nogil:
    ctypedef unsigned long pthread_t
    int pthread_create(pthread_t *thread, const void *attr, void *(*start)(void *) noexcept nogil, void *arg)
    int pthread_join(pthread_t thread, void **retval)


ctypedef struct _poster_t:
    media_event_queue_t *queue
    uint32_t count
    uint32_t type
    uint64_t source


cdef void *_post_from_thread(void *arg) noexcept nogil:
    cdef _poster_t *job = <_poster_t *>arg
    cdef uint32_t i
    for i in range(job.count):
        media_event_post(job.queue, job.type, job.source, i, job.count)
    return NULL


@cython.no_gc_clear
cdef class EventQueue:
    """A queue of events from native threads, readable through a file descriptor.

    ``capacity`` is rounded up to a power of two (at least 16); when the queue is full, further
    events are dropped and counted in :attr:`dropped`.
    """

    cdef media_event_queue_t *_queue
    cdef dict _targets
    cdef uint64_t _next_source
    cdef list _threads
    cdef object __weakref__

    def __cinit__(self, int capacity=1024):
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self._queue = media_event_queue_new(capacity)
        if self._queue == NULL:
            raise OSError(errno, "could not create the media event queue")
        self._targets = {}
        self._next_source = 1
        self._threads = []

    def __dealloc__(self):
        self._join_native_threads()
        if self._queue != NULL:
            media_event_queue_free(self._queue)
            self._queue = NULL

    def fileno(self):
        """The descriptor that becomes readable when events are waiting."""
        return media_event_queue_fd(self._queue)

    def drain(self, int max_events=4096):
        """Up to ``max_events`` waiting events, oldest first, as ``(type, source, a, b)`` tuples."""
        cdef media_event_t *events
        cdef size_t count, i, room
        if max_events <= 0:
            raise ValueError("max_events must be positive")
        # room for what is waiting now (more may come meanwhile: they wait for the next drain, and
        # the descriptor stays readable); at least one so that the buffer is never NULL
        room = min(<size_t>max_events, max(media_event_queue_pending(self._queue), <size_t>1))
        events = <media_event_t *>malloc(room * sizeof(media_event_t))
        if events == NULL:
            raise MemoryError()
        try:
            with nogil:
                count = media_event_queue_drain(self._queue, events, room)
            return [(events[i].type, events[i].source, events[i].a, events[i].b) for i in range(count)]
        finally:
            free(events)

    def post(self, uint32_t type, uint64_t source=0, int64_t a=0, int64_t b=0):
        """Posts an event as a native thread would; False when the queue is full."""
        cdef int status
        with nogil:
            status = media_event_post(self._queue, type, source, a, b)
        return status == 0

    @property
    def capsule(self):
        """A PyCapsule named QUEUE_CAPSULE_NAME holding the ``media_event_queue_t *``."""
        return PyCapsule_New(<void *>self._queue, MEDIA_EVENT_QUEUE_CAPSULE, NULL)

    @property
    def pending(self):
        return media_event_queue_pending(self._queue)

    @property
    def dropped(self):
        return media_event_queue_dropped(self._queue)

    @property
    def capacity(self):
        return media_event_queue_capacity(self._queue)

    def register(self, target):
        """A new source id whose events go to ``target`` (held weakly)."""
        cdef uint64_t source = self._next_source
        self._next_source += 1
        self._targets[source] = weakref.ref(target)
        return source

    def unregister(self, uint64_t source):
        """Forgets a source id; its late events find no target."""
        self._targets.pop(source, None)

    def target(self, uint64_t source):
        """The object registered for ``source``, or None (never registered, unregistered or gone)."""
        reference = self._targets.get(source)
        return None if reference is None else reference()

    def _post_from_native_thread(self, uint32_t count, uint32_t type, uint64_t source):
        """Starts a native thread that posts ``count`` events (a = 0..count-1, b = count); for tests."""
        cdef _poster_t *job = <_poster_t *>malloc(sizeof(_poster_t))
        cdef pthread_t thread
        cdef int err
        if job == NULL:
            raise MemoryError()
        job.queue = self._queue
        job.count = count
        job.type = type
        job.source = source
        err = pthread_create(&thread, NULL, _post_from_thread, job)
        if err != 0:
            free(job)
            raise OSError(err, "could not start a native thread")
        self._threads.append((thread, <size_t>job))

    def _join_native_threads(self):
        """Waits for the threads started by _post_from_native_thread."""
        cdef pthread_t thread
        cdef size_t job
        while self._threads:
            thread, job = self._threads.pop()
            with nogil:
                pthread_join(thread, NULL)
            free(<void *>job)
