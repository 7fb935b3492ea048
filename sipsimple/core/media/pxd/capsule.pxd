# cython: language_level=3
# A capsule that lends out a pointer into a Python object's C state and keeps that object alive
# for as long as the capsule lives: the owner is the capsule's context, released by its destructor.
# Shared by _rtp, _srtp and _stream (inline: each module gets its own copy of these few lines).

from cpython.pycapsule cimport PyCapsule_GetContext, PyCapsule_New, PyCapsule_SetContext
from cpython.ref cimport Py_DECREF, Py_INCREF


cdef inline void release_owner(object capsule) noexcept:
    cdef void *owner = PyCapsule_GetContext(capsule)
    if owner != NULL:
        Py_DECREF(<object>owner)


cdef inline object owner_capsule(void *pointer, const char *name, object owner):
    """A capsule holding `pointer` that keeps `owner` (the Python object that frees it) alive."""
    capsule = PyCapsule_New(pointer, name, release_owner)
    Py_INCREF(owner)
    PyCapsule_SetContext(capsule, <void *>owner)
    return capsule
