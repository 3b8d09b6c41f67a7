"""Bounds on the header values kept: cut where they must be, recorded, left alone otherwise."""

from __future__ import annotations

from app.mail.bounds import (
    MAX_ADDRESSES,
    MAX_LINE_CHARS,
    bounded_addresses,
    bounded_id,
    bounded_line,
    bounded_references,
)
from app.mail.problems import Problems


def test_a_line_is_cut_to_the_rfc_5322_limit_with_an_ellipsis() -> None:
    problems = Problems()
    assert bounded_line("x" * MAX_LINE_CHARS, name="Subject", problems=problems) == "x" * 998
    cut = bounded_line("y" * 5000, name="Subject", problems=problems)
    assert cut == "y" * 997 + "…"
    assert problems.as_tuple() == (
        "Subject of 5,000 characters cut to 998; the whole is in the raw message",
    )


def test_an_address_list_keeps_its_first_addresses_and_counts_the_rest() -> None:
    problems = Problems()
    addresses = tuple(f"a{i}@example.com" for i in range(MAX_ADDRESSES + 7))
    assert bounded_addresses(addresses, name="Cc", problems=problems) == addresses[:100]
    assert bounded_addresses(addresses[:3], name="To", problems=problems) == addresses[:3]
    assert problems.as_tuple() == (
        "Cc lists 107 addresses: the first 100 are kept, and 7 more are only in the raw message",
    )


def test_references_keep_the_root_and_the_nearest_ancestors() -> None:
    problems = Problems()
    ids = tuple(f"<{i}@example.com>" for i in range(500))
    kept = bounded_references(ids, problems)
    assert kept == ids[:5] + ids[-45:]
    assert bounded_references(ids[:50], Problems()) == ids[:50]
    assert problems.as_tuple() == (
        "References lists 500 ids: the first 5 and the last 45 are kept",
    )


def test_an_id_is_cut_as_the_stored_message_id_is() -> None:
    long_id = "<" + "i" * 2000 + "@example.com>"
    assert bounded_id(long_id) == long_id[:MAX_LINE_CHARS]
    assert bounded_references((long_id,), Problems()) == (long_id[:MAX_LINE_CHARS],)
    assert bounded_id(None) is None
