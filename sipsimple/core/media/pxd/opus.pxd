# libopus: what the Cython side uses directly (the codec itself is called from csrc/codec_opus.c).

cdef extern from "opus.h" nogil:
    const char *opus_get_version_string()
