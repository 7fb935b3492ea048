# spandsp: what the Cython side uses directly (G.722 itself is called from csrc/codec_g722.c).

cdef extern from "spandsp/version.h" nogil:
    const char *SPANDSP_RELEASE_DATETIME_STRING
