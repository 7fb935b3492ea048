"""``MessageSummary`` (RFC 3842 ``application/simple-message-summary``): the RFC's own examples from
the shared corpora, the tolerated variations, every kind of malformed body (each one a ParserError
that says what is wrong), round trips, and a fuzz run where ParserError is the only failure allowed."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsimple.payloads import ParserError
from sipsimple.payloads.messagesummary import (
    CONTENT_TYPE,
    MAX_COUNT,
    MESSAGE_CONTEXT_CLASSES,
    MessageCounts,
    MessageSummary,
)
from tests.conftest import corpora_directory

PAYLOADS = corpora_directory() / "payloads"
RFC3842_FILES = sorted(PAYLOADS.glob("rfc3842-*")) if PAYLOADS.is_dir() else []
needs_corpora = pytest.mark.skipif(not RFC3842_FILES, reason=f"no RFC 3842 files in {PAYLOADS}")

A3 = "Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\nVoice-Message: 2/8 (0/2)\r\n"
WITH_HEADERS = (
    A3 + "Fax-Message: 1/0\r\n"
    "\r\n"
    "To: <alice@example.com>\r\nSubject: hello\r\n"
    "\r\n"
    "To: <alice@example.com>\r\nPriority: urgent\r\n"
)


def body_of(message: bytes) -> bytes:
    """The body of a SIP message as printed in the RFC (its Content-Length may be wrong)."""
    return message.partition(b"\r\n\r\n")[2]


# -- the RFC's examples -----------------------------------------------------------------------


@needs_corpora
def test_the_manifest_lists_every_rfc3842_file_as_valid_or_illustrative():
    with open(PAYLOADS / "MANIFEST.tsv", newline="") as manifest:
        rows = {row["file"]: row for row in csv.DictReader(manifest, delimiter="\t")}
    for path in RFC3842_FILES:
        assert rows[path.name]["expected"] in ("valid", "illustrative"), path.name


@needs_corpora
@pytest.mark.parametrize("path", RFC3842_FILES, ids=lambda path: path.name)
def test_every_rfc3842_corpus_file_is_read_as_the_rfc_means_it(path: Path):
    """Bodies parse and are written back byte for byte; single lines parse inside a minimal body;
    the NOTIFYs of the example flow carry a body equal to the matching -body.txt file; the other
    messages of the flow (SUBSCRIBE, 200) carry no summary."""
    data = path.read_bytes()
    if path.name.endswith("-body.txt"):
        summary = MessageSummary.parse(data)
        assert summary.to_string().encode() == data
        assert summary.messages_waiting is True
        assert summary.message_account == "sip:alice@vmail.example.com"
        assert set(summary.summaries) == {"voice-message"}
    elif "-line-" in path.name:
        line = data.decode()
        body = line if line.lower().startswith("messages-waiting") else "Messages-Waiting: no\r\n" + line
        summary = MessageSummary.parse(body)
        assert summary.to_string() == body
    elif path.name.endswith("-notify.sip"):
        assert b"Content-Type: application/simple-message-summary\r\n" in data
        expected = path.with_name(path.name.replace("-notify.sip", "-body.txt")).read_bytes()
        assert body_of(data) == expected
        assert MessageSummary.parse(body_of(data)) == MessageSummary.parse(expected)
    else:
        assert path.suffix == ".sip" and body_of(data) == b""
        assert b"Event: message-summary" in data or data.startswith(b"SIP/2.0 ")


@needs_corpora
def test_the_rfc_example_values_are_read_into_the_right_fields():
    a3 = MessageSummary.parse((PAYLOADS / "rfc3842-s4.1-A3-body.txt").read_bytes())
    assert a3.summaries["voice-message"] == MessageCounts(2, 8, 0, 2)
    a5 = MessageSummary.parse((PAYLOADS / "rfc3842-s4.1-A5-body.txt").read_bytes())
    assert a5.summaries["voice-message"] == MessageCounts(4, 8, 1, 2)
    assert len(a5.optional_headers) == 2
    assert a5.optional_headers[0][2] == ("Subject", "carpool tomorrow?")
    assert dict(a5.optional_headers[1])["Priority"] == "urgent"
    fax = MessageSummary.parse(
        "Messages-Waiting: no\r\n" + (PAYLOADS / "rfc3842-s3.5-line-fax.txt").read_text()
    )
    assert fax.summaries["fax-message"] == MessageCounts(2, 4) and not fax.summaries["fax-message"].has_urgent


# -- what is read -----------------------------------------------------------------------------


def test_a_full_body_is_read_into_status_account_classes_and_message_headers():
    summary = MessageSummary.parse(WITH_HEADERS.encode())
    assert summary.messages_waiting is True
    assert summary.message_account == "sip:alice@vmail.example.com"
    assert list(summary.summaries) == ["voice-message", "fax-message"]
    assert summary.summaries["fax-message"] == MessageCounts(1, 0, None, None)
    assert summary.optional_headers == [
        [("To", "<alice@example.com>"), ("Subject", "hello")],
        [("To", "<alice@example.com>"), ("Priority", "urgent")],
    ]
    assert summary.to_string() == WITH_HEADERS
    assert CONTENT_TYPE == "application/simple-message-summary"


def test_every_rfc3458_class_and_an_unknown_one_are_kept_with_their_rfc_spelling():
    lines = [f"{spelling}: {n}/{n + 1}\r\n" for n, spelling in enumerate(MESSAGE_CONTEXT_CLASSES.values())]
    body = "Messages-Waiting: no\r\n" + "".join(lines) + "X-Hologram-Message: 7/0 (1/0)\r\n"
    summary = MessageSummary.parse(body)
    assert list(summary.summaries) == [*MESSAGE_CONTEXT_CLASSES, "x-hologram-message"]
    assert summary.summaries["x-hologram-message"] == MessageCounts(7, 0, 1, 0)
    assert summary.to_string() == body


def test_field_names_and_status_are_read_in_any_case():
    summary = MessageSummary.parse(
        "MESSAGES-WAITING: Yes\r\nmessage-account: sip:a@b\r\nvOICE-mESSAGE: 1/2\r\n"
    )
    assert summary == MessageSummary(True, "sip:a@b", {"voice-message": MessageCounts(1, 2)})


def test_lf_line_ends_blanks_folding_order_bom_and_a_missing_last_line_end_are_tolerated():
    canonical = MessageSummary.parse(WITH_HEADERS)
    variants = [
        WITH_HEADERS.replace("\r\n", "\n"),
        WITH_HEADERS.rstrip("\r\n"),
        "\ufeff" + WITH_HEADERS,
        "\r\n\r\n" + WITH_HEADERS + "\r\n\r\n",
        WITH_HEADERS.replace(": ", " \t:   ").replace("\r\n", "  \r\n"),
        WITH_HEADERS.replace("2/8 (0/2)", "2 / 8(0 /2 )"),
        WITH_HEADERS.replace("Subject: hello", "Subject:\r\n hello"),
        WITH_HEADERS.replace(
            "\r\n\r\nTo: <alice@example.com>\r\nP", "\r\n\r\n\r\n\r\nTo: <alice@example.com>\r\nP"
        ),
        "Voice-Message: 2/8 (0/2)\r\nFax-Message: 1/0\r\nMessage-Account: sip:alice@vmail.example.com\r\n"
        "Messages-Waiting: yes\r\n"
        + WITH_HEADERS.partition("\r\n\r\n")[1]
        + WITH_HEADERS.partition("\r\n\r\n")[2],
    ]
    for variant in variants:
        assert MessageSummary.parse(variant) == canonical, variant
        assert MessageSummary.parse(variant.encode()) == canonical, variant


def test_bytes_bytearray_and_memoryview_are_read_as_utf8():
    body = "Messages-Waiting: yes\r\n\r\nSubject: caf\u00e9\r\n"
    for data in (body.encode(), bytearray(body.encode()), memoryview(body.encode())):
        assert MessageSummary.parse(data).optional_headers == [[("Subject", "caf\u00e9")]]
    with pytest.raises(TypeError):
        MessageSummary.parse(42)  # type: ignore[arg-type]


MALFORMED = [
    ("", "empty"),
    ("\r\n \r\n", "empty"),
    (b"Messages-Waiting: yes\r\nSubject: \xff\r\n", "not UTF-8"),
    ("Message-Account: sip:a@b\r\n", "no Messages-Waiting"),
    ("Messages-Waiting: maybe\r\n", "'yes' or 'no'"),
    ("Messages-Waiting: yes\r\nMessages-Waiting: no\r\n", "line 2: Messages-Waiting: the field is repeated"),
    ("Messages-Waiting: yes\r\nMessage-Account: a@b\r\n", "not a URI"),
    ("Messages-Waiting: yes\r\nMessage-Account:\r\n", "not a URI"),
    ("Messages-Waiting: yes\r\nMessage-Account: sip:a@b\r\nMessage-Account: sip:c@d\r\n", "repeated"),
    (
        "Messages-Waiting: yes\r\nVoice-Message: 1/2\r\nvoice-message: 3/4\r\n",
        "line 3: voice-message: the field is repeated",
    ),
    ("Messages-Waiting: yes\r\nVoice-Message: 1\r\n", "is not 'new/old'"),
    ("Messages-Waiting: yes\r\nVoice-Message: -1/2\r\n", "is not 'new/old'"),
    ("Messages-Waiting: yes\r\nVoice-Message: 1/2 (3)\r\n", "is not 'new/old'"),
    ("Messages-Waiting: yes\r\nVoice-Message: 1/2 (3/4\r\n", "is not 'new/old'"),
    ("Messages-Waiting: yes\r\nVoice-Message: \u0661/2\r\n", "is not 'new/old'"),  # only ASCII digits
    (f"Messages-Waiting: yes\r\nVoice-Message: {MAX_COUNT + 1}/0\r\n", "exceeds"),
    ("Messages-Waiting: yes\r\nVoice-Message: 1/" + "9" * 5000 + "\r\n", "exceeds"),
    ("Messages-Waiting: yes\r\nno colon here\r\n", "line 2: 'no colon here' is not a 'name: value' line"),
    ("Messages-Waiting: yes\r\nVoice Message: 1/2\r\n", "is not a field name"),
    ("Messages-Waiting: yes\r\n: 1/2\r\n", "is not a field name"),
    ("Messages-Waiting: yes\rVoice-Message: 1/2\r\n", "a CR that does not end a line"),
    ("Messages-Waiting: yes\r\n\r\nSubject: a\x00b\r\n", "control character"),
    ("Messages-Waiting: yes\r\n\r\nTo <a@b>\r\n", "line 3: 'To <a@b>' is not a 'name: value' line"),
    ("Messages-Waiting: yes\r\nTo: <a@b>\r\n", "line 2: To: "),  # message headers need the blank line
]


@pytest.mark.parametrize(("body", "message"), MALFORMED, ids=[m for _, m in MALFORMED])
def test_a_malformed_body_raises_a_parser_error_that_says_what_is_wrong(body, message):
    with pytest.raises(ParserError) as raised:
        MessageSummary.parse(body)
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_trailing_garbage_is_refused_whether_or_not_it_follows_a_blank_line():
    for body in (A3, WITH_HEADERS):
        for garbage in ("\x00\x01garbage", "}{", "\r\n\x00garbage", "\r\n}{", "a: b\x00"):
            with pytest.raises(ParserError):
                MessageSummary.parse(body + garbage)
    with pytest.raises(ParserError):
        MessageSummary.parse(A3 + "Fax-Message: 1/2 (")  # a summary line cut short


# -- writing ----------------------------------------------------------------------------------


def test_a_summary_built_in_code_is_written_canonically_and_reads_back_equal():
    summary = MessageSummary(
        messages_waiting=True,
        summaries={"Voice-Message": MessageCounts(3, 1, 1, 0), "text-message": MessageCounts(0, 0)},
        optional_headers=[[("Subject", "call me")], []],
    )
    assert list(summary.summaries) == ["voice-message", "text-message"]  # names are kept in lower case
    text = summary.to_string()
    assert (
        text
        == "Messages-Waiting: yes\r\nVoice-Message: 3/1 (1/0)\r\nText-Message: 0/0\r\n\r\nSubject: call me\r\n"
    )
    assert MessageSummary.parse(text) == MessageSummary(
        True, None, summary.summaries, [[("Subject", "call me")]]
    )
    assert MessageSummary().to_string() == "Messages-Waiting: no\r\n"


@pytest.mark.parametrize(
    "summary",
    [
        MessageSummary(message_account="not a uri"),
        MessageSummary(message_account="sip:a@b\r\nVoice-Message: 9/9"),
        MessageSummary(summaries={"messages-waiting": MessageCounts(1, 1)}),
        MessageSummary(summaries={"voice message": MessageCounts(1, 1)}),
        MessageSummary(summaries={"voice-message": (1, 1)}),  # type: ignore[dict-item]
        MessageSummary(optional_headers=[[("Subject", "a\r\nMessages-Waiting: no")]]),
        MessageSummary(optional_headers=[[("Bad Name", "x")]]),
        MessageSummary(optional_headers=[[("Subject", " padded ")]]),
    ],
)
def test_values_that_would_not_read_back_are_refused_when_writing(summary):
    with pytest.raises(ValueError):
        summary.to_string()


def test_message_counts_are_checked_when_built():
    for arguments in [(-1, 0), (0, MAX_COUNT + 1), (1, 1, 1, None), (1, 1, None, 1), (True, 0), (1.0, 0)]:
        with pytest.raises(ValueError):
            MessageCounts(*arguments)
    assert str(MessageCounts(MAX_COUNT, 0, 0, MAX_COUNT)) == f"{MAX_COUNT}/0 (0/{MAX_COUNT})"


# -- properties and fuzzing -------------------------------------------------------------------

counts = st.integers(min_value=0, max_value=MAX_COUNT)
header_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20
).map(lambda text: text.strip(" \t"))
summaries_strategy = st.builds(
    MessageSummary,
    messages_waiting=st.booleans(),
    message_account=st.none() | st.from_regex(r"\A(sip|sips|mailto):[a-z0-9@.]{1,20}\Z"),
    summaries=st.dictionaries(
        st.sampled_from([*MESSAGE_CONTEXT_CLASSES, "x-other-message"]),
        st.builds(MessageCounts, counts, counts) | st.builds(MessageCounts, counts, counts, counts, counts),
        max_size=4,
    ),
    optional_headers=st.lists(
        st.lists(
            st.tuples(st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,10}\Z"), header_values), min_size=1, max_size=3
        ),
        max_size=3,
    ),
)


@settings(max_examples=300, deadline=None)
@given(summaries_strategy)
def test_any_summary_written_reads_back_equal_and_its_text_is_canonical(summary):
    text = summary.to_string()
    again = MessageSummary.parse(text)
    assert again == summary
    assert again.to_string() == text


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_arbitrary_input_parses_or_raises_parser_error_only(data):
    try:
        summary = MessageSummary.parse(data)
    except ParserError:
        return
    assert MessageSummary.parse(summary.to_string()) == summary


def _mutations(seed: bytes, rng: random.Random) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(6)
        position = rng.randrange(len(data) + 1)
        if choice == 0 and data:
            data[min(position, len(data) - 1)] = rng.randrange(256)
        elif choice == 1:
            data[position:position] = rng.choice(
                [b"\r", b"\n", b"\r\n", b" ", b":", b"/", b"(", b")", b"\x00", b"9"]
            )
        elif choice == 2 and data:
            del data[position : position + rng.randint(1, 8)]
        elif choice == 3:
            data[position:position] = data[rng.randrange(len(data) + 1) :][: rng.randint(1, 12)]
        elif choice == 4:
            lines = bytes(data).split(b"\r\n")
            rng.shuffle(lines)
            data = bytearray(b"\r\n".join(lines))
        else:
            data = data[:position]
    return bytes(data)


def test_twenty_thousand_mutated_bodies_parse_or_raise_parser_error_only():
    seeds = [WITH_HEADERS.encode(), A3.encode()] + [
        path.read_bytes() for path in RFC3842_FILES if path.suffix == ".txt"
    ]
    rng = random.Random(3842)
    parsed = refused = 0
    for _ in range(20_000):
        data = _mutations(rng.choice(seeds), rng)
        try:
            summary = MessageSummary.parse(data)
        except ParserError:
            refused += 1
            continue
        parsed += 1
        assert MessageSummary.parse(summary.to_string()) == summary, data
    assert parsed > 1000 and refused > 1000  # the mutations reach both outcomes
