"""normalize_subject: what stays the same across a conversation's subject lines."""

from __future__ import annotations

import pytest

from app.mail.subjects import normalize_subject


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Re: Re: Fwd: Where is my order?", "where is my order?"),
        ("Where is my order?", "where is my order?"),
        ("RE: FW: FWD: fwd: hello", "hello"),
        ("Re[2]: Re(3): Re^4: hello", "hello"),
        ("Re : Re:Re:hello", "hello"),
        ("AW: WG: Bestellung", "bestellung"),
        ("SV: VS: Antw: Odp: RIF: R: TR: hi", "hi"),
        ("Rép : Commande", "commande"),
        ("回复：转发: 答复: 订单", "订单"),
        ("[EXTERNAL] Re: Refund", "refund"),
        ("Re: [SPAM] [Customer Care] Fwd: Refund", "refund"),
        ("  Lots   of\t white\nspace  ", "lots of white space"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),  # casefold, not lower
        # Prefix-like words that are not prefixes stay.
        ("Regarding: my order", "regarding: my order"),
        ("Reminder: pay", "reminder: pay"),
        ("Order [123] question", "order [123] question"),
        ("Re:", ""),
        ("", ""),
    ],
)
def test_normalize_subject(subject: str, expected: str) -> None:
    assert normalize_subject(subject) == expected


def test_replies_and_forwards_share_the_original_subject() -> None:
    original = "Damaged item – PO 108829272810783"
    variants = [f"Re: {original}", f"RE: Re: {original}", f"Fwd: [EXTERNAL] {original}"]
    assert {normalize_subject(v) for v in variants} == {normalize_subject(original)}
