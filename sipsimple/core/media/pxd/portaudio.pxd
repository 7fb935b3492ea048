# PortAudio (portaudio-2.0): the calls the _mixer extension makes from Cython - initialisation and
# device enumeration. Streams are opened and run by csrc/padev.c (see docs/media-mixer.md).

cdef extern from "portaudio.h" nogil:
    ctypedef int PaError
    ctypedef int PaDeviceIndex
    ctypedef int PaHostApiIndex
    ctypedef double PaTime

    enum:
        paNoError
        paNoDevice

    ctypedef struct PaDeviceInfo:
        int structVersion
        const char *name
        PaHostApiIndex hostApi
        int maxInputChannels
        int maxOutputChannels
        PaTime defaultLowInputLatency
        PaTime defaultLowOutputLatency
        PaTime defaultHighInputLatency
        PaTime defaultHighOutputLatency
        double defaultSampleRate

    ctypedef struct PaHostApiInfo:
        int structVersion
        const char *name
        int deviceCount
        PaDeviceIndex defaultInputDevice
        PaDeviceIndex defaultOutputDevice

    PaError Pa_Initialize()
    PaError Pa_Terminate()
    const char *Pa_GetErrorText(PaError code)
    const char *Pa_GetVersionText()
    PaDeviceIndex Pa_GetDeviceCount()
    PaDeviceIndex Pa_GetDefaultInputDevice()
    PaDeviceIndex Pa_GetDefaultOutputDevice()
    const PaDeviceInfo *Pa_GetDeviceInfo(PaDeviceIndex device)
    const PaHostApiInfo *Pa_GetHostApiInfo(PaHostApiIndex host_api)
