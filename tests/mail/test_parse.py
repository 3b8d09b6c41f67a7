"""parse_message: bytes in, plain data out, never an exception."""

from __future__ import annotations

import base64
import random
import time
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from app.mail import body as body_module
from app.mail import parse as parse_module
from app.mail.parse import ParsedMessage, dedupe_key, parse_message


def eml(*headers: str, body: str | bytes = "Hello", newline: bytes = b"\r\n") -> bytes:
    """A message from header lines and a body; ``str`` parts are UTF-8."""
    head = newline.join(h.encode("utf-8") for h in headers)
    data = body.encode("utf-8") if isinstance(body, str) else body
    return head + newline + newline + data.replace(b"\n", newline)


BASIC = (
    "From: Jane Buyer <Jane.Buyer@Example.com>",
    "To: support@shop.example",
    "Subject: Where is my order?",
    "Date: Mon, 03 Jun 2024 10:00:00 -0400",
    "Message-ID: <abc@mail.example.com>",
)


def assert_storable(parsed: ParsedMessage) -> None:
    """Every text field is valid Unicode without NUL: any database column takes it."""
    texts = [
        parsed.message_id or "",
        parsed.in_reply_to or "",
        parsed.from_address or "",
        parsed.from_name or "",
        parsed.sender_address or "",
        parsed.subject,
        parsed.body_text,
        parsed.content_type,
        *parsed.references,
        *parsed.reply_to,
        *parsed.to,
        *parsed.cc,
        *parsed.attachment_names,
        *parsed.problems,
        *parsed.headers.keys(),
        *parsed.headers.values(),
    ]
    for text in texts:
        assert isinstance(text, str)
        assert "\x00" not in text
        text.encode("utf-8")  # no lone surrogates
    assert parsed.date is None or parsed.date.tzinfo is not None


def has_problem(parsed: ParsedMessage, fragment: str) -> bool:
    return any(fragment in problem for problem in parsed.problems)


# --- the basics ------------------------------------------------------------------------------


def test_basic_message() -> None:
    raw = eml(
        *BASIC,
        "Cc: A@Example.com, b@example.com",
        "Reply-To: Jane <Jane.Reply@Example.com>",
        "Sender: Bulk@Example.com",
        "In-Reply-To: <parent@x> <other@x>",
        "References: <root@x>\r\n <parent@x>",
        "Received: from somewhere",
    )
    parsed = parse_message(raw)

    assert parsed.message_id == "<abc@mail.example.com>"
    assert parsed.in_reply_to == "<parent@x>"
    assert parsed.references == ("<root@x>", "<parent@x>")
    assert parsed.from_address == "jane.buyer@example.com"
    assert parsed.from_name == "Jane Buyer"
    assert parsed.sender_address == "bulk@example.com"
    assert parsed.reply_to == ("jane.reply@example.com",)
    assert parsed.to == ("support@shop.example",)
    assert parsed.cc == ("a@example.com", "b@example.com")
    assert parsed.subject == "Where is my order?"
    assert parsed.date == datetime(2024, 6, 3, 14, 0, tzinfo=UTC)
    assert parsed.body_text == "Hello"
    assert parsed.content_type == "text/plain"
    assert parsed.problems == ()
    assert parsed.size == len(raw)
    assert_storable(parsed)


def test_headers_mapping_holds_only_classification_headers() -> None:
    raw = eml(
        *BASIC,
        "Auto-Submitted: auto-replied",
        "Precedence: bulk",
        "X-Autoreply: yes",
        "List-Id: Sellers <sellers.example.com>",
        "List-Unsubscribe: <mailto:unsub@example.com>",
        "X-Auto-Response-Suppress: All",
        "Return-Path: <>",
        "X-Failed-Recipients: gone@example.com",
        "Received: from a by b",
        "X-Mailer: Something",
        "Auto-Submitted: no",
    )
    headers = parse_message(raw).headers

    assert headers["auto-submitted"] == "auto-replied"  # the first occurrence
    assert headers["precedence"] == "bulk"
    assert headers["x-autoreply"] == "yes"
    assert headers["list-id"] == "Sellers <sellers.example.com>"
    assert headers["list-unsubscribe"] == "<mailto:unsub@example.com>"
    assert headers["x-auto-response-suppress"] == "All"
    assert headers["return-path"] == "<>"
    assert headers["x-failed-recipients"] == "gone@example.com"
    assert "received" not in headers
    assert "x-mailer" not in headers


# --- subjects and other encoded headers ------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Subject: =?utf-8?B?V2hlcmUgaXMgbXkgb3JkZXI/IPCfmIA=?=", "Where is my order? 😀"),
        ("Subject: =?UTF-8?Q?Caf=C3=A9_order?=", "Café order"),
        ("Subject: =?iso-8859-1?q?R=E9clamation_urgente?=", "Réclamation urgente"),
        ("Subject: =?ISO-8859-1?B?U2Now7Zu?=", "SchÃ¶n"),  # UTF-8 bytes labelled latin-1
        # Adjacent encoded words: the space between them goes, a character split survives.
        ("Subject: =?utf-8?B?w6k=?= =?utf-8?B?w6k=?=", "éé"),
        ("Subject: =?utf-8?B?4pyT?=\r\n =?utf-8?Q?_done?=", "✓ done"),
        ("Subject: =?utf-8?B?4pw=?= =?utf-8?B?kw==?=", "✓"),
        ("Subject: Re: =?utf-8?q?Caf=C3=A9?= order", "Re: Café order"),
        ("Subject: a long\r\n\tfolded\r\n   subject", "a long folded subject"),
        ("Subject: Salut =?utf-8*fr?q?ç=C3=A0?=", "Salut çà"),
    ],
)
def test_subject_decoding(header: str, expected: str) -> None:
    parsed = parse_message(eml("From: a@example.com", header))
    assert parsed.subject == expected
    assert_storable(parsed)


def test_subject_with_unknown_charset_is_kept_with_a_problem() -> None:
    parsed = parse_message(eml("From: a@example.com", "Subject: =?x-foo?q?Hello_there?="))
    assert parsed.subject == "Hello there"
    assert has_problem(parsed, "unknown charset 'x-foo' in subject header")


def test_broken_encoded_word_is_kept_as_is() -> None:
    parsed = parse_message(eml("From: a@example.com", "Subject: =?utf-8?b?A?= tail"))
    assert parsed.subject == "=?utf-8?b?A?= tail"
    assert has_problem(parsed, "broken encoded word in subject header")


def test_missing_subject_is_empty() -> None:
    assert parse_message(eml("From: a@example.com")).subject == ""


def test_encoded_display_name() -> None:
    parsed = parse_message(eml("From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <JOERG@Example.DE>"))
    assert parsed.from_name == "Jörg Müller"
    assert parsed.from_address == "joerg@example.de"


@pytest.mark.parametrize(
    ("raw_subject", "expected", "problem"),
    [
        ("Caf\u00e9 \u2713".encode(), "Café ✓", None),  # RFC 6532: UTF-8 headers
        (b"Caf\xe9", "Caf\ufffd", "8-bit bytes in the subject header are not UTF-8"),
    ],
)
def test_8bit_raw_headers(raw_subject: bytes, expected: str, problem: str | None) -> None:
    raw = b"From: Jos\xc3\xa9 <jose@example.com>\r\nSubject: " + raw_subject + b"\r\n\r\nHi\r\n"
    parsed = parse_message(raw)
    assert parsed.subject == expected
    assert parsed.from_name == "José"
    assert has_problem(parsed, "8-bit bytes") == (problem is not None)
    if problem:
        assert has_problem(parsed, problem)
    assert_storable(parsed)


# --- Message-ID and the dedupe key -----------------------------------------------------------


def test_missing_message_id_uses_the_raw_hash() -> None:
    raw = eml("From: a@example.com", "Subject: x")
    parsed = parse_message(raw)
    assert parsed.message_id is None
    assert "missing Message-ID" in parsed.problems
    key = dedupe_key(parsed, raw)
    assert key.startswith("sha256:")
    assert len(key) == len("sha256:") + 64
    assert dedupe_key(parse_message(raw), raw) == key


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Message-ID: <abc@x>", "<abc@x>"),
        ("Message-Id:   <abc@x>  (a comment)", "<abc@x>"),
        ("Message-ID:\r\n <abc@x>", "<abc@x>"),
        ("Message-ID: abc@x", "<abc@x>"),  # brackets missing: added, and a problem noted
        ("Message-ID:   ", None),
        ("Message-ID: <>", None),
    ],
)
def test_message_id_forms(header: str, expected: str | None) -> None:
    assert parse_message(eml("From: a@example.com", header)).message_id == expected


def test_dedupe_key_with_message_id() -> None:
    raw = eml(*BASIC)
    assert dedupe_key(parse_message(raw), raw) == "mid:<abc@mail.example.com>"
    # The same message elsewhere (another folder, other line endings) gets the same key.
    other = eml(*BASIC, body="Hello", newline=b"\n")
    assert dedupe_key(parse_message(other), other) == "mid:<abc@mail.example.com>"


def test_very_long_message_id_is_hashed() -> None:
    long_id = "<" + "x" * 500 + "@example.com>"
    raw = eml("From: a@example.com", f"Message-ID: {long_id}")
    parsed = parse_message(raw)
    assert parsed.message_id == long_id
    key = dedupe_key(parsed, raw)
    assert key.startswith("mid-sha256:")
    assert len(key) <= 200


@pytest.mark.parametrize("length", [188, 189, 190, 191, 192])
def test_dedupe_key_length_boundary(length: int) -> None:
    message_id = "<" + "y" * (length - 2) + ">"
    raw = eml("From: a@example.com", f"Message-ID: {message_id}")
    key = dedupe_key(parse_message(raw), raw)
    assert len(key) <= 200
    assert key.startswith("mid:" if length <= 190 else "mid-sha256:")


# --- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected", "problem"),
    [
        ("Date: Mon, 03 Jun 2024 10:00:00 +0200", datetime(2024, 6, 3, 8, 0, tzinfo=UTC), None),
        ("Date: 3 Jun 2024 10:00:00 -0000", datetime(2024, 6, 3, 10, 0, tzinfo=UTC), None),
        ("Date: Mon, 03 Jun 2024 10:00:00 EDT", datetime(2024, 6, 3, 14, 0, tzinfo=UTC), None),
        ("Date: Mon, 1 Jan 2livered 99", None, "unparseable Date header"),
        ("Date: yesterday", None, "unparseable Date header 'yesterday'"),
        ("Date: Mon, 03 Jun 2024 10:00:00 +9900", None, "Date header"),
        ("Date: 2024-06-03T10:00:00+00:00", datetime(2024, 6, 3, 10, 0, tzinfo=UTC), "ISO 8601"),
        ("X-No-Date: 1", None, "missing Date"),
        # A date in the future is kept: the SLA code decides what to do with it.
        ("Date: Fri, 01 Jan 2100 00:00:00 +0000", datetime(2100, 1, 1, tzinfo=UTC), None),
    ],
)
def test_dates(header: str, expected: datetime | None, problem: str | None) -> None:
    parsed = parse_message(eml("From: a@example.com", "Message-ID: <d@x>", header))
    assert parsed.date == expected
    if expected is not None:
        assert parsed.date is not None and parsed.date.utcoffset() is not None
    if problem:
        assert has_problem(parsed, problem)
    else:
        assert parsed.problems == ()


# --- line endings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("newline", "problem"),
    [(b"\r\n", None), (b"\n", "bare LF line endings"), (b"\r", "CR-only line endings")],
)
def test_line_endings(newline: bytes, problem: str | None) -> None:
    raw = eml(*BASIC, body="line one\nline two", newline=newline)
    parsed = parse_message(raw)
    assert parsed.subject == "Where is my order?"
    assert parsed.from_address == "jane.buyer@example.com"
    assert parsed.message_id == "<abc@mail.example.com>"
    assert parsed.body_text == "line one\nline two"
    assert parsed.problems == ((problem,) if problem else ())


def test_blank_lines_before_the_headers_are_skipped() -> None:
    parsed = parse_message(b"\r\n  \r\n" + eml(*BASIC))
    assert parsed.from_address == "jane.buyer@example.com"
    assert has_problem(parsed, "blank line(s) before the headers")


def test_byte_order_mark_before_the_headers_is_skipped() -> None:
    parsed = parse_message(b"\xef\xbb\xbf" + eml(*BASIC))
    assert parsed.from_address == "jane.buyer@example.com"
    assert has_problem(parsed, "byte order mark")


# --- bodies ----------------------------------------------------------------------------------


def test_unknown_charset_body_is_stored_with_a_problem() -> None:
    raw = eml(*BASIC, "Content-Type: text/plain; charset=x-foo", body=b"Caf\xc3\xa9 ok")
    parsed = parse_message(raw)
    assert parsed.body_text == "Café ok"
    assert has_problem(parsed, "unknown charset 'x-foo' in message body; decoded as utf-8")

    raw = eml(*BASIC, "Content-Type: text/plain; charset=x-foo", body=b"Caf\xe9 \x81 ok")
    parsed = parse_message(raw)
    assert parsed.body_text == "Caf\xe9 \x81 ok"
    assert has_problem(parsed, "decoded as latin-1")


@pytest.mark.parametrize(
    ("charset", "body", "expected", "problem"),
    [
        ("iso-8859-1", b"Fran\xe7ais \x93quoted\x94", "Français “quoted”", None),
        ("utf-8", b"bad \xff byte", "bad \ufffd byte", "invalid utf-8 bytes"),
        ("us-ascii", "naïve".encode(), "naïve", "declared us-ascii; decoded as utf-8"),
        ("iso-2022-jp", "你好".encode(), "你好", "not valid iso-2022-jp; decoded as utf-8"),
        (None, b"caf\xe9", "café", "no charset for 8-bit text"),
        ("unknown-8bit", "café".encode(), "café", "charset 'unknown-8bit'"),
        ('"UTF-8"', "ok ✓".encode(), "ok ✓", None),
    ],
)
def test_body_charsets(charset: str | None, body: bytes, expected: str, problem: str | None):
    content_type = "Content-Type: text/plain" + (f"; charset={charset}" if charset else "")
    parsed = parse_message(eml(*BASIC, content_type, body=body))
    assert parsed.body_text == expected
    if problem:
        assert has_problem(parsed, problem)
    else:
        assert parsed.problems == ()


def test_quoted_printable_and_base64_bodies() -> None:
    qp = eml(
        *BASIC,
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
        body="Caf=C3=A9 with a soft=\nbreak",
    )
    assert parse_message(qp).body_text == "Café with a softbreak"
    b64 = eml(
        *BASIC,
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: base64",
        body="Q2Fmw6kgb2sK",
    )
    assert parse_message(b64).body_text == "Café ok"


HTML_ONLY = """<html><head><title>Walmart</title>
<style>p { color: red }</style>
<script type="text/javascript">var secret = "do not show";</script></head>
<body><h1>Order&nbsp;update</h1><p>Fish &amp; chips &lt;3 &eacute;t&eacute; &#8364;5</p>
<div>Line<br>break</div><ul><li>one</li><li>two</li></ul>
<table><tr><td>Sales Order ID:</td><td>5921679250664</td></tr></table>
</body></html>"""


def test_html_only_body_becomes_text() -> None:
    raw = eml(*BASIC, "Content-Type: text/html; charset=utf-8", body=HTML_ONLY)
    parsed = parse_message(raw)
    text = parsed.body_text
    assert "secret" not in text
    assert "color" not in text
    assert "Walmart" not in text  # the <title>
    assert "Fish & chips <3 été €5" in text
    assert text.splitlines()[0] == "Order update"
    assert "Line\nbreak" in text
    assert "one\n" in text and "two" in text
    assert "Sales Order ID: 5921679250664" in text
    assert parsed.content_type == "text/html"


@pytest.mark.parametrize(
    ("markup", "expected", "problem"),
    [
        ("<p>ok</p><!-- an unterminated comment <b>x</b>", "ok", "unterminated HTML markup"),
        ("<p>ok</p><script>var x = 1;", "ok", None),
        ("<p>ok</p><b unterminated", "ok\n<b unterminated", "unterminated HTML markup"),
        ("<p>a &amp; b</p> tail &amp", "a & b\ntail &", None),
        ("<p>ok</p><![<![ junk", "ok", "tags stripped instead"),  # html.parser raises
    ],
)
def test_broken_html(markup: str, expected: str, problem: str | None) -> None:
    parsed = parse_message(eml(*BASIC, "Content-Type: text/html", body=markup))
    assert parsed.body_text.startswith(expected)
    assert has_problem(parsed, problem) if problem else parsed.problems == ()


@pytest.mark.parametrize("unit", ["<a ", '<a b="', "<a\n", "<a /", "<![CDATA["])
def test_hostile_html_is_converted_in_linear_time(unit: str) -> None:
    # html.parser's close() rescans the rest once per "<" of an unterminated tag: minutes here.
    raw = eml(*BASIC, "Content-Type: text/html", body=unit * 50_000)
    # The CPU time of this thread, not the wall clock: other work on a busy machine does not
    # count, and linear work takes well under a tenth of a second of it.
    started = time.thread_time()
    parsed = parse_message(raw)
    assert time.thread_time() - started < 5
    assert has_problem(parsed, "HTML")


def test_multipart_alternative_prefers_plain_text() -> None:
    message = EmailMessage()
    message["From"] = "a@example.com"
    message["Subject"] = "alt"
    message.set_content("The plain version")
    message.add_alternative("<p>The <b>HTML</b> version</p>", subtype="html")
    parsed = parse_message(message.as_bytes())
    assert parsed.content_type == "multipart/alternative"
    assert parsed.body_text == "The plain version"


def test_multipart_alternative_falls_back_to_html() -> None:
    message = EmailMessage()
    message["From"] = "a@example.com"
    message.set_content("   ")
    message.add_alternative("<p>Only the <b>HTML</b> has text</p>", subtype="html")
    assert parse_message(message.as_bytes()).body_text == "Only the HTML has text"


def test_attachments_are_named_and_kept_out_of_the_body() -> None:
    message = EmailMessage()
    message["From"] = "a@example.com"
    message.set_content("See attached")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="a.pdf")
    message.add_attachment(
        b"\x89PNG", maintype="image", subtype="png", filename="Fotografía del daño.png"
    )
    message.add_attachment("csv,data\n", subtype="csv", filename="order.csv")
    parsed = parse_message(message.as_bytes())
    assert parsed.attachment_names == ("a.pdf", "Fotografía del daño.png", "order.csv")
    assert parsed.body_text == "See attached"
    assert parsed.content_type == "multipart/mixed"


ENCODED_NAMES = b"""From: a@example.com\r
Content-Type: multipart/mixed; boundary="b"\r
\r
--b\r
Content-Type: text/plain\r
\r
Body\r
--b\r
Content-Type: application/pdf\r
Content-Disposition: attachment; filename*=utf-8''Rechnung%20M%C3%BCller.pdf\r
\r
x\r
--b\r
Content-Type: application/pdf\r
Content-Disposition: attachment;\r
 filename*0*=iso-8859-1''Re%E7u;\r
 filename*1=".pdf"\r
\r
x\r
--b\r
Content-Type: image/jpeg; name="=?utf-8?B?8J+TtyBwaG90by5qcGc=?="\r
\r
x\r
--b\r
Content-Type: application/octet-stream\r
Content-Disposition: attachment\r
\r
x\r
--b\r
Content-Type: message/rfc822\r
\r
Subject: Original question\r
From: b@example.com\r
\r
Inner text\r
--b--\r
"""


def test_encoded_attachment_names() -> None:
    parsed = parse_message(ENCODED_NAMES)
    assert parsed.attachment_names == (
        "Rechnung Müller.pdf",  # RFC 2231
        "Reçu.pdf",  # RFC 2231 continuations
        "📷 photo.jpg",  # RFC 2047 in a name parameter: not standard, common
        "(unnamed application/octet-stream)",
        "Original question.eml",
    )
    assert parsed.body_text == "Body"
    assert set(parsed.problems) == {"missing Message-ID", "missing Date"}


def test_attachment_names_are_capped() -> None:
    part = '--b\nContent-Type: application/pdf; name="f{}.pdf"\n\nx\n'
    body = "".join(part.format(i) for i in range(150)) + "--b--\n"
    raw = eml("From: a@example.com", 'Content-Type: multipart/mixed; boundary="b"', body=body)
    parsed = parse_message(raw)
    assert parsed.attachment_names[:2] == ("f0.pdf", "f1.pdf")
    assert len(parsed.attachment_names) == 100
    assert has_problem(parsed, "150 attachments; only the first 100 are named")


def test_a_long_body_is_cut_and_says_so() -> None:
    line = "The quick brown fox jumps over the lazy dog.\n"
    text = line * (2 * body_module.MAX_BODY_CHARS // len(line))
    parsed = parse_message(eml(*BASIC, body=text))
    assert parsed.body_text == text[: body_module.MAX_BODY_CHARS]
    assert has_problem(parsed, "body text cut at 1,000,000 characters")


def test_only_the_head_of_a_huge_text_part_is_decoded() -> None:
    """A base64 text part far over the limit: its head (whole lines) is read, the rest left in
    the raw message."""
    encoded = base64.encodebytes(("ünïcode words " * 600_000).encode("utf-8")).decode()
    body = (
        "--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
        f"{encoded}--b\nContent-Type: text/plain\n\nAfter it.\n--b--\n"
    )
    raw = eml(*BASIC, 'Content-Type: multipart/mixed; boundary="b"', body=body)
    parsed = parse_message(raw)
    assert parsed.body_text.startswith("ünïcode words ünïcode")
    assert len(parsed.body_text) == body_module.MAX_BODY_CHARS
    assert has_problem(parsed, "only its first")
    assert not has_problem(parsed, "base64")  # cut at a line end: what is read decodes cleanly


def test_only_an_attached_message_shows_its_text() -> None:
    raw = eml(
        "From: a@example.com",
        'Content-Type: multipart/mixed; boundary="b"',
        body="--b\nContent-Type: message/rfc822\n\nSubject: Fwd\n\nThe forwarded words\n--b--\n",
    )
    parsed = parse_message(raw)
    assert parsed.body_text == "The forwarded words"
    assert parsed.attachment_names == ("Fwd.eml",)


def test_multipart_without_its_boundary_keeps_the_raw_text() -> None:
    raw = eml(
        "From: a@example.com",
        'Content-Type: multipart/mixed; boundary="nope"',
        body="--other\nContent-Type: text/plain\n\nCustomer words\n--other--\n",
    )
    parsed = parse_message(raw)
    assert "Customer words" in parsed.body_text
    assert parsed.problems


def nested(depth: int) -> bytes:
    """A multipart/mixed inside a multipart/mixed ... ``depth`` levels, text at the bottom."""
    body = "".join(
        f'--b{i - 1}\nContent-Type: multipart/mixed; boundary="b{i}"\n\n' for i in range(1, depth)
    )
    body += f"--b{depth - 1}\nContent-Type: text/plain\n\nDeep\n"
    body += "".join(f"--b{i}--\n" for i in reversed(range(depth)))
    return eml("From: a@example.com", 'Content-Type: multipart/mixed; boundary="b0"', body=body)


def test_nested_multipart() -> None:
    assert parse_message(nested(10)).body_text == "Deep"


def test_too_deeply_nested_multipart_is_cut_off_with_a_problem() -> None:
    parsed = parse_message(nested(80))
    assert parsed.body_text == ""
    assert has_problem(parsed, "MIME nesting deeper than")
    assert_storable(parsed)


# --- garbage ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff garbage",
        b"\r\n\r\n\r\n",
        b"From: \r\n\r\n",
        b"Subject: =?utf-8?q?\x00?=\r\nFrom: <>\r\n\r\n\x00",
        b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n--\r\n",
        b"Content-Type: text/plain; charset=base64\r\n\r\nabc",
        b"Content-Type: text/plain; charset=rot13\r\n\r\nabc",
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!!=",
        b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n!!!\r\nend\r\n",
        b"Date: Mon, 03 Jun 9999 23:59:59 -2359\r\n\r\n",
        b"Content-Disposition: attachment; filename*=x-bad''%FF%FE\r\n\r\nx",
        b"Content-Type: text/html\r\n\r\n<scr<script>ipt><!-- <![CDATA[ &#xD800; &#0; <p",
        b"\xef\xbb\xbfFrom: bom@example.com\r\n\r\nx",
        bytes(range(256)) * 4,
    ],
)
def test_garbage_never_raises(raw: bytes) -> None:
    parsed = parse_message(raw)
    assert isinstance(parsed, ParsedMessage)
    assert parsed.size == len(raw)
    assert_storable(parsed)
    assert len(dedupe_key(parsed, raw)) <= 200


def test_garbage_bytes_are_kept_as_text_with_problems() -> None:
    parsed = parse_message(b"\x00\xff garbage")
    assert "garbage" in parsed.body_text
    assert "missing From" in parsed.problems
    assert "no headers found" in parsed.problems


def test_empty_message() -> None:
    parsed = parse_message(b"")
    assert parsed.body_text == ""
    assert parsed.subject == ""
    assert parsed.from_address is None
    assert "empty message" in parsed.problems
    assert dedupe_key(parsed, b"").startswith("sha256:")


def test_a_bug_in_the_body_walk_keeps_the_body_as_raw_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(body_module.BodyWalker, "_walk", broken)
    parsed = parse_message(eml(*BASIC, body="Customer words"))
    assert parsed.body_text == "Customer words"
    assert parsed.subject == "Where is my order?"
    assert has_problem(parsed, "body unreadable (RuntimeError); kept as raw text")


def test_a_bug_anywhere_still_returns_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(parse_module, "HeaderReader", broken)
    raw = eml(*BASIC, body="Customer words")
    parsed = parse_message(raw)
    assert "Customer words" in parsed.body_text
    assert has_problem(parsed, "internal parser error (RuntimeError: boom)")
    assert dedupe_key(parsed, raw).startswith("sha256:")


def test_truncated_and_mutated_messages_never_raise() -> None:
    message = EmailMessage()
    message["From"] = "=?utf-8?q?J=C3=B6rg?= <j@example.com>"
    message["Subject"] = "Bestellung 108829272810783 – Lieferung"
    message["Message-ID"] = "<m@example.com>"
    message.set_content("Hallo, wo ist meine Bestellung? ✓")
    message.add_alternative("<p>Hallo &amp; <b>wo</b></p>", subtype="html")
    message.add_attachment(b"\x00" * 50, maintype="image", subtype="png", filename="ä.png")
    raw = message.as_bytes()
    rng = random.Random(20240603)
    samples = [raw[:cut] for cut in range(0, len(raw), 7)]
    for _ in range(200):
        data = bytearray(raw)
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        samples.append(bytes(data))
    for sample in samples:
        parsed = parse_message(sample)
        assert_storable(parsed)
