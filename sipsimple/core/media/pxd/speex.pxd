# libspeex: what the Cython side uses directly (the codec itself is called from csrc/codec_speex.c).

cdef extern from "speex/speex.h" nogil:
    enum:
        SPEEX_LIB_GET_VERSION_STRING

    int speex_lib_ctl(int request, void *ptr)
