"""RFC 4475 and RFC 5118 torture requests through the scanner, the Engine's 400 salvager and the transaction layer:
every invalid request is refused with a 4xx/505 and never reaches the application; every valid one does
(or gets the specific refusal the RFC recommends, such as 416 for an unknown URI scheme)."""

from __future__ import annotations

import re

import pytest

from sipsimple.core.engine import _salvage_400
from sipsimple.core.sip._scanner import SIPScanError, scan
from sipsimple.core.sip.message import parse_message
from tests.conftest import corpora_directory
from tests.core.sip.test_stack import LOCAL_UDP, PEER, new_stack


def _rows():
    rows = []
    for folder in ("rfc4475", "rfc5118"):
        directory = corpora_directory() / folder
        if not directory.exists():
            continue
        lines = (directory / "MANIFEST.tsv").read_text().splitlines()
        columns = lines[0].split("\t")
        for line in lines[1:]:
            row = dict(zip(columns, line.split("\t"), strict=False))
            data = (directory / row["file"]).read_bytes()
            if not data.lstrip().startswith(b"SIP/"):  # requests only: responses are never answered
                name = row["file"]
                rows.append(pytest.param(name, row["expected"], row["recommended_handling"], data, id=name))
    return rows


ROWS = _rows()
REFUSED_VALID = {"unkscm.sip": 416, "novelsc.sip": 416}  # valid syntax, but a UA cannot serve them
EITHER = {"baddate.sip"}  # "may reject; or ignore Date": both are right


@pytest.mark.skipif(not ROWS, reason="RFC 4475/5118 corpora not available")
@pytest.mark.parametrize(("name", "expected", "handling", "data"), ROWS)
def test_torture_request_is_served_or_refused_as_rfc_4475_recommends(name, expected, handling, data):
    stack, _clock, transport, requests, _ = new_stack()
    try:
        scanned = scan(data)
    except SIPScanError as e:
        assert expected == "invalid", f"{name} is valid but did not scan: {e}"
        response = _salvage_400(data, str(e))
        if re.search(rb"^(via|v)[ \t]*:", data, re.IGNORECASE | re.MULTILINE) is None:
            assert response is None  # nowhere to send an answer
            return
        assert response is not None, f"{name}: no answer although it has a Via"
        code = parse_message(response).code
        assert code == (505 if "version" in handling.lower() else 400)
        return
    stack.receive(scanned, PEER, LOCAL_UDP)
    if name in EITHER:
        assert len(requests) + len(transport.sent) >= 1
        return
    answers = [parse_message(sent) for sent, _ in transport.sent]
    if expected == "invalid" or name in REFUSED_VALID:
        assert requests == [], f"{name} reached the application"
        assert answers, f"{name} was dropped without an answer"
        want = REFUSED_VALID.get(name)
        assert (answers[0].code == want) if want else 400 <= answers[0].code < 500, (name, answers[0])
    else:
        assert len(requests) == 1, f"{name} ({handling}) did not reach the application: {answers}"
