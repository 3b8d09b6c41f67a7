"""Every real-world message in the shared corpus parses, keys and classifies without an error.

The corpus (``/work/shared/corpus``, next to the checkout) holds 1,000+ public test messages:
bounces, auto-replies, broken MIME, odd charsets. Counts are not asserted (the corpus may
grow); the summary test prints how many messages had parse problems and the most common ones.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from app.enums import Classification, FolderRole
from app.mail.classify import Verdict, classify, extract_order_number
from app.mail.parse import ParsedMessage, dedupe_key, parse_message
from app.mail.quoting import trim_quoted_history
from app.mail.subjects import normalize_subject

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
FILES = sorted(CORPUS.rglob("*.eml")) if CORPUS.is_dir() else []  # .mbox files are skipped
SKIP_NO_CORPUS = pytest.mark.skipif(
    not FILES, reason=f"no .eml files in {CORPUS}: the shared test corpus is not available"
)
LINE_ENDING_PROBLEMS = {"bare LF line endings", "CR-only line endings"}
VARYING = re.compile(r"'[^']*'|(?<![\w-])\d+(?![\w-])")  # quoted values, counts


@cache
def parsed(path: Path) -> ParsedMessage:
    return parse_message(path.read_bytes())


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@SKIP_NO_CORPUS
@pytest.mark.parametrize(
    "path", FILES or [None], ids=[str(f.relative_to(CORPUS)) for f in FILES] or ["no-corpus"]
)
def test_corpus_message(path: Path) -> None:
    raw = path.read_bytes()
    message = parsed(path)

    assert isinstance(message, ParsedMessage)
    assert message.size == len(raw)
    key = dedupe_key(message, raw)
    assert 0 < len(key) <= 200
    for text in (message.subject, message.body_text, *message.attachment_names, key):
        assert _storable(text)
    assert message.date is None or message.date.tzinfo is not None

    for folder in (FolderRole.INBOX, FolderRole.SENT):
        verdict = classify(message, folder=folder, seller_addresses=["support@myshop.example"])
        assert isinstance(verdict, Verdict)
        assert isinstance(verdict.classification, Classification)
        assert verdict.reason
    extract_order_number(message.subject, message.body_text)
    normalize_subject(message.subject)
    trimmed = trim_quoted_history(message.body_text)
    assert trimmed or not message.body_text.strip()


@SKIP_NO_CORPUS
def test_corpus_summary(capsys: pytest.CaptureFixture[str]) -> None:
    problems: Counter[str] = Counter()
    verdicts: Counter[Classification] = Counter()
    with_problems = beyond_line_endings = 0
    for path in FILES:
        message = parsed(path)
        verdict = classify(message, folder=FolderRole.INBOX, seller_addresses=())
        verdicts[verdict.classification] += 1
        with_problems += bool(message.problems)
        beyond_line_endings += bool(set(message.problems) - LINE_ENDING_PROBLEMS)
        # Group problems by kind: quoted values and counts vary from message to message.
        problems.update({VARYING.sub("…", problem) for problem in message.problems})
    lines = [
        f"corpus: {len(FILES)} messages, {with_problems} with parse problems, "
        f"{beyond_line_endings} with problems other than LF/CR line endings",
        "classified (inbox): " + ", ".join(f"{c.value} {n}" for c, n in verdicts.most_common()),
        *(f"  {count:5d}  {problem}" for problem, count in problems.most_common(12)),
    ]
    with capsys.disabled():  # shown even under -q: the corpus's health at a glance
        print("\n" + "\n".join(lines))
    assert sum(verdicts.values()) == len(FILES)
