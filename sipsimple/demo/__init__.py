"""The README's main job: a real audio call between two sipsimple processes on loopback.

    python -m sipsimple.demo [--seconds S] [--codec NAME] [--no-srtp]
    python -m sipsimple.demo --to sip:user@host [--account ID --password P --proxy HOST[:PORT][;transport=T]]

``caller`` (this process) starts ``callee`` (``python -m sipsimple.demo.callee``) as a second
process, calls it with SDES-SRTP, plays a generated multi-tone WAV into the call, holds, unholds,
sends DTMF and ends; ``signal`` makes the source and measures the callee's recording against it;
``endpoint`` is the SIPApplication set-up both sides share. See docs/demo.md.
"""
