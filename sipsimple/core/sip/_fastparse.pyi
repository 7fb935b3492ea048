"""Type stub for sipsimple.core.sip._fastparse (C fast paths for the frozen hot header parsers).

Each parser returns exactly what the named Python parser returns for the same value (it calls
that parser for any value its fast path does not take), and raises what it raises.
"""

from collections.abc import Callable
from typing import Any

from .headers import (
    FrozenCallIDHeader,
    FrozenContactHeader,
    FrozenCSeqHeader,
    FrozenFromHeader,
    FrozenToHeader,
    FrozenViaHeader,
)
from .uri import FrozenSIPURI

__all__ = [
    "FAST_PARSERS",
    "parse_call_id",
    "parse_contact_list",
    "parse_cseq",
    "parse_from",
    "parse_sip_uri",
    "parse_to",
    "parse_via_list",
    "serialises_verbatim",
]

#: canonical header name -> parser, used by ``headers.parse_header(name, value, frozen=True)``.
FAST_PARSERS: dict[str, Callable[[str], Any]]

def parse_via_list(value: str) -> list[FrozenViaHeader]: ...  # FrozenViaHeader.parse_list
def parse_from(value: str) -> FrozenFromHeader: ...  # FrozenFromHeader.parse
def parse_to(value: str) -> FrozenToHeader: ...  # FrozenToHeader.parse
def parse_contact_list(value: str) -> list[FrozenContactHeader]: ...  # FrozenContactHeader.parse_list
def parse_cseq(value: str) -> FrozenCSeqHeader: ...  # FrozenCSeqHeader.parse
def parse_call_id(value: str) -> FrozenCallIDHeader: ...  # FrozenCallIDHeader.parse
def parse_sip_uri(text: str) -> FrozenSIPURI: ...  # FrozenSIPURI.parse
def serialises_verbatim(data: bytes, length: int) -> bool: ...
