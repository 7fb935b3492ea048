"""The Engine: SIP signalling and media, C-accelerated where it is hot."""
