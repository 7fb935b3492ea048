# libgsm (no pkg-config file; <gsm/gsm.h>, -lgsm): what the Cython side uses directly (the codec
# itself is called from csrc/codec_gsm.c).

cdef extern from "gsm/gsm.h" nogil:
    enum:
        GSM_MAJOR
        GSM_MINOR
        GSM_PATCHLEVEL
