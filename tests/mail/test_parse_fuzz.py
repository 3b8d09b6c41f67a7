"""parse_message, classify and the order-number extraction fuzzed with hypothesis.

Arbitrary bytes, and messages that are nearly right: hostile header names and values (RTL
override, zero-width joiners, NUL, CR/LF and lone surrogates inside encoded words, unknown
charsets, overlong lines), broken MIME boundaries, bad charsets and transfer encodings, garbage
base64. Whatever the bytes, parsing returns a storable message, records what was wrong, and
classification and order-number extraction work on the result. Deterministic and bounded.
"""

from __future__ import annotations

import base64
import re
from email.utils import getaddresses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.enums import Classification, FolderRole
from app.mail.classify import Verdict, classify, extract_order_number
from app.mail.parse import CLASSIFICATION_HEADERS, ParsedMessage, dedupe_key, parse_message
from tests.mail.test_parse import assert_storable, has_problem

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- the ingredients -------------------------------------------------------------------------

HOSTILE_PIECES = [
    "\u202e",  # right-to-left override
    "\u200d",  # zero-width joiner
    "\u200b",
    "\ufeff",
    "\x00",
    "\x1b[31m",
    "\r\n",
    "\r",
    "\n",
    "\r\n\t",  # folding
    "=?utf-8?q?a=0D=0ABcc:_victim@evil.example?=",  # CR/LF once decoded
    "=?utf-8?q?a=00b?=",  # NUL once decoded
    "=?utf-7?q?+2AA-?=",  # a lone surrogate once decoded
    "=?utf-8?b?7aCA?=",  # UTF-8 bytes of a surrogate
    "=?utf-16?b?ANg=?=",
    "=?x-no-such-charset?q?abc?=",
    "=?utf-8?b?!!!not*base64?=",
    "=?utf-8?b?YWJj?= =?utf-8?b?ZGVm?=",
    "=?utf-8*en?q?x?=",
    "=?utf-8?x?abc?=",
    "=?",
    "?=",
    "=?utf-8?q?",
    '"',
    "<",
    ">",
    "@",
    ",",
    ";",
    ":",
    "(",
    ")",
    "\\",
    "x" * 2000,  # an overlong line
    "108829272810783",
    "Order #",
    "Customer Care",
]
KNOWN_HEADERS = [
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Sender",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "MIME-Version",
    "Auto-Submitted",
    "Precedence",
    "List-Id",
    "Return-Path",
    "X-Auto-Response-Suppress",
    "Bcc",
]
CHARSETS = [
    "utf-8",
    "us-ascii",
    "iso-8859-1",
    "utf-7",
    "utf-16",
    "iso-2022-jp",
    "x-no-such-charset",
    "",
    '"utf-8',
    "base64",
    "\u202eutf-8",
]
TRANSFER_ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "bogus", ""]
NEWLINES = [b"\r\n", b"\n", b"\r"]

# Weighted towards the hostile pieces and the headers slawatch reads: plain random text and
# names are the easy part.
hostile_piece = st.sampled_from(HOSTILE_PIECES)
hostile_text = st.lists(st.one_of(hostile_piece, hostile_piece, st.text(max_size=20)), max_size=6)
raw_bytes = st.one_of(
    hostile_text.map(lambda pieces: "".join(pieces).encode("utf-8", "surrogatepass")),
    st.binary(max_size=40),  # 8-bit garbage: not UTF-8, or half of it
)
header_value = st.lists(raw_bytes, min_size=0, max_size=4).map(b"".join)
known_header = st.sampled_from(KNOWN_HEADERS).map(str.encode)
header_name = st.one_of(
    known_header,
    known_header,
    known_header,
    st.text(min_size=1, max_size=20).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@st.composite
def leaf_part(draw: st.DrawFn) -> tuple[list[tuple[bytes, bytes]], bytes]:
    ctype = draw(st.sampled_from(["text/plain", "text/html", "application/pdf", "message/rfc822"]))
    charset = draw(st.sampled_from(CHARSETS))
    headers = [(b"Content-Type", f"{ctype}; charset={charset}".encode("utf-8", "surrogatepass"))]
    cte = draw(st.sampled_from(TRANSFER_ENCODINGS))
    if cte:
        headers.append((b"Content-Transfer-Encoding", cte.encode()))
    if draw(st.booleans()):
        filename = "".join(draw(hostile_text)).encode("utf-8", "surrogatepass")
        headers.append((b"Content-Disposition", b'attachment; filename="' + filename + b'"'))
    body = draw(
        st.one_of(
            raw_bytes,
            st.binary(max_size=200),
            st.sampled_from([b"!!!!====", b"YWJj\r\n!!*\r\n===", b"=E2=80=AE=0D=0A=00=", b"<p"]),
        )
    )
    return headers, body


def part_bytes(headers: list[tuple[bytes, bytes]], body: bytes, newline: bytes) -> bytes:
    return b"".join(name + b": " + value + newline for name, value in headers) + newline + body


@st.composite
def multipart(
    draw: st.DrawFn, children: st.SearchStrategy[tuple[list[tuple[bytes, bytes]], bytes]]
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """A multipart part whose boundary may be declared wrong, missing or never closed."""
    parts = draw(st.lists(children, max_size=3))
    boundary = draw(st.sampled_from([b"b1", b"=_x", b"a b", b"x" * 100, b"\xff"]))
    declared = draw(st.sampled_from([boundary, b"", b"other", b'"' + boundary]))
    subtype = draw(st.sampled_from([b"mixed", b"alternative", b"report", b"related"]))
    newline = b"\r\n"
    body = b"preamble" + newline
    for headers, content in parts:
        body += b"--" + boundary + newline + part_bytes(headers, content, newline) + newline
    if draw(st.booleans()):
        body += b"--" + boundary + b"--" + newline
    ctype = b"multipart/" + subtype + b"; boundary=" + declared
    return [(b"Content-Type", ctype)], body


mime_part = st.recursive(leaf_part(), lambda children: multipart(children), max_leaves=6)


# The headers parse_message reads, each given at least one hostile piece.
read_header = st.tuples(
    st.sampled_from(KNOWN_HEADERS[:10]).map(str.encode),
    st.lists(hostile_piece, min_size=1, max_size=4).map(
        lambda pieces: "".join(pieces).encode("utf-8", "surrogatepass")
    ),
)


@st.composite
def hostile_message(draw: st.DrawFn) -> bytes:
    headers = draw(st.lists(st.tuples(header_name, header_value), max_size=8))
    headers += draw(st.lists(read_header, min_size=1, max_size=4))
    mime_headers, body = draw(mime_part)
    newline = draw(st.sampled_from(NEWLINES))
    return part_bytes([*draw(st.permutations(headers)), *mime_headers], body, newline)


# --- the checks ------------------------------------------------------------------------------


def assert_parsed_and_classified(raw: bytes) -> ParsedMessage:
    parsed = parse_message(raw)
    assert isinstance(parsed, ParsedMessage)
    assert parsed.size == len(raw)
    assert_storable(parsed)
    assert set(parsed.headers) <= set(CLASSIFICATION_HEADERS)  # an injected Bcc is no header
    for one_line in (parsed.subject, parsed.from_name or "", *parsed.headers.values()):
        assert "\r" not in one_line and "\n" not in one_line
    assert len(dedupe_key(parsed, raw)) <= 200
    for folder in FolderRole:
        for sellers in ([], [parsed.from_address or "support@store.example"]):
            verdict = classify(parsed, folder=folder, seller_addresses=sellers)
            assert isinstance(verdict, Verdict)
            assert verdict.classification in Classification
            assert verdict.reason
    assert_order_number_found_in(parsed.subject, parsed.body_text)
    return parsed


def assert_order_number_found_in(subject: str, body: str) -> None:
    order = extract_order_number(subject, body)
    if order is not None:
        assert re.fullmatch(r"\d{13}|\d{15}", order)
        assert order in subject.replace("-", "") + " " + body.replace("-", "")


@FUZZ
@given(raw=st.binary(max_size=3000))
def test_arbitrary_bytes(raw: bytes) -> None:
    parsed = assert_parsed_and_classified(raw)
    assert parsed.problems  # no From, no Message-ID, no headers at all, or empty


@FUZZ
@given(raw=hostile_message())
def test_hostile_messages(raw: bytes) -> None:
    assert_parsed_and_classified(raw)


# Defects whose problem parse_message must name, wherever else the message goes wrong. Each is
# the first header line, as the first of a repeated header is the one that counts.
DEFECTS = [
    (b"Subject: =?x-no-such-charset?q?abc?=", "unknown charset 'x-no-such-charset'"),
    (b"Subject: =?utf-8?q?a=00b?=", "NUL or invalid Unicode in the subject header"),
    (b"Subject: =?utf-7?q?+2AA-?=", "NUL or invalid Unicode in the subject header"),
    (b"Subject: caf\xe9", "8-bit bytes in the subject header are not UTF-8"),
    (b"Date: the day after tomorrow", "unparseable Date header"),
    (b"Message-ID: no-angle-brackets@example.com", "Message-ID without angle brackets"),
]


@settings(FUZZ, max_examples=150)
@given(defect=st.sampled_from(DEFECTS), rest=hostile_message())
def test_problems_are_recorded(defect: tuple[bytes, str], rest: bytes) -> None:
    line, problem = defect
    parsed = assert_parsed_and_classified(line + b"\r\n" + rest)
    assert has_problem(parsed, problem) or has_problem(parsed, "more problems not listed")


def test_crlf_in_an_encoded_subject_stays_in_the_subject() -> None:
    raw = (
        b"From: Buyer <buyer@example.com>\r\n"
        b"Subject: =?utf-8?q?Hello=0D=0ABcc:_victim@evil.example?=\r\n\r\nHi\r\n"
    )
    parsed = assert_parsed_and_classified(raw)
    assert parsed.subject == "Hello Bcc: victim@evil.example"
    assert parsed.to == () and parsed.cc == ()


order_text = st.lists(
    st.one_of(
        st.sampled_from(
            ["order", "Order #", "PO", "Sales Order ID:", "tracking", "-", " ", "\n", "\u202e"]
        ),
        st.from_regex(r"\d{1,20}", fullmatch=True),
        st.from_regex(r"\d{7}-\d{6,8}", fullmatch=True),
        st.text(max_size=10),
    ),
    max_size=30,
).map("".join)


@FUZZ
@given(subject=order_text, body=order_text)
def test_order_number_extraction(subject: str, body: str) -> None:
    assert_order_number_found_in(subject, body)


# Mailboxes written plainly ("Name <local@domain>", "local@domain"), which parse_message reads
# without getaddresses, each with one character put anywhere that may take it off that path.
plain_name = st.lists(
    st.sampled_from(["Buyer", "J.", "O'Brien", "a_b-c", "Shopper", "7", " ", "\t"]), max_size=4
).map("".join)
plain_address = st.sampled_from(
    ["ab@relay.walmart.com", "first.last@mail.example.co.uk", "a..b@x", "x%y+z@h-1.example"]
)
odd_character = st.sampled_from([*".,;:\"()[]\\<>@é' \t-_%+", ""])


@st.composite
def address_value(draw: st.DrawFn) -> str:
    name, address = draw(plain_name), draw(plain_address)
    value = draw(st.sampled_from([f"{name} <{address}>", f"{name}<{address}>", address]))
    at = draw(st.integers(0, len(value)))
    return value[:at] + draw(odd_character) + value[at:]


@FUZZ
@given(value=address_value())
def test_addresses_read_as_getaddresses_reads_them(value: str) -> None:
    raw = f"From: {value}\r\nTo: {value}\r\nSubject: hi\r\n\r\nbody\r\n".encode()
    parsed = parse_message(raw)
    expected = [
        (" ".join(name.split()), address.strip().lower())
        for name, address in getaddresses([value])
        if address.strip()
    ]
    from_name, from_address = expected[0] if expected else ("", None)
    assert (parsed.from_name, parsed.from_address) == (from_name or None, from_address)
    assert parsed.to == tuple(dict.fromkeys(address for _, address in expected))


complaint_text = st.lists(
    st.one_of(
        st.sampled_from(["Better Business Bureau", "BBB", "attorneys-general", "Attorney General"]),
        # Letters that match ASCII ones case-insensitively, and near misses.
        st.sampled_from(["\u017f", "\u212a", "\u0130", "\u0131", "B", "b", "bureau", "generaI"]),
        st.sampled_from([" ", "\n", "-", "x", "é"]),
    ),
    max_size=12,
).map("".join)


@FUZZ
@given(subject=complaint_text, body=complaint_text)
def test_complaints_are_found_as_the_pattern_finds_them(subject: str, body: str) -> None:
    raw = (
        "From: Buyer <ab@example.com>\r\nSubject: =?utf-8?b?"
        + base64.b64encode(subject.encode()).decode()
        + "?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + body
    ).encode()
    parsed = parse_message(raw)
    verdict = classify(parsed, folder=FolderRole.INBOX, seller_addresses=[])
    pattern = r"\bbetter\s+business\s+bureau\b|\bBBB\b|\battorneys?[\s-]+general\b"
    expected = any(re.search(pattern, t, re.IGNORECASE) for t in (parsed.subject, parsed.body_text))
    assert verdict.complaint is expected
