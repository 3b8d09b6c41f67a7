"""The envelope rules on plain data: who the default recipient is, what a hash covers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.enums import Classification
from app.replies.envelope import (
    Envelope,
    Participant,
    Said,
    approval_sha256,
    changed_fields,
    default_recipient,
    envelope_for,
    participants,
)
from tests.support.mailfactory import SELLER_ADDRESS, relay_address

SELLER = frozenset({SELLER_ADDRESS})
BUYER = relay_address("Omar Diaz")


def said(
    sender: str | None,
    kind: Classification = Classification.CUSTOMER,
    *,
    name: str | None = None,
    reply_to: tuple[str, ...] = (),
    subject: str = "Where is my order?",
    message_id: str | None = "<q@mail.example>",
) -> Said:
    return Said(
        classification=kind,
        from_address=sender.lower() if sender else None,
        from_name=name,
        reply_to=tuple(a.lower() for a in reply_to),
        to_addresses=(SELLER_ADDRESS,),
        message_id=message_id,
        references=(),
        subject=subject,
        written=((name or "", sender),) if sender else (),
    )


def test_the_buyer_is_the_default_whoever_writes_later() -> None:
    thread = [
        said(BUYER, name="Omar Diaz"),
        said("partnerhelp@wal-mart.com", Classification.ESCALATION),
        said("someone@evil.test", reply_to=("thief@evil.test",)),
    ]
    assert default_recipient(thread, SELLER) == BUYER.lower()
    found = participants(thread, SELLER)
    assert found[0] == Participant(BUYER, "Omar Diaz", "buyer")  # as written: upper case kept
    assert {p.role for p in found} == {"buyer", "escalation", "customer", "reply_to"}


def test_the_latest_relay_address_wins_when_the_buyer_writes_from_a_new_one() -> None:
    newer = relay_address("Omar again")
    assert default_recipient([said(BUYER), said(newer)], SELLER) == newer.lower()


def test_without_a_relay_the_customer_who_started_the_thread_is_the_default() -> None:
    thread = [
        said("Ann@Example.org", name="Ann"),
        said("stranger@evil.test"),
        said("ops@walmart.com"),
    ]
    assert default_recipient(thread, SELLER) == "ann@example.org"


@pytest.mark.parametrize(
    "thread",
    [
        [said("partnerhelp@wal-mart.com", Classification.ESCALATION)],
        [said("mp-payments@relay.walmart.com", Classification.AUTOMATED)],
        [said("notices@walmart.com")],  # a Walmart address, not a buyer's
        [said(None)],
        [said(SELLER_ADDRESS, Classification.SELLER)],
    ],
)
def test_no_default_without_a_buyer_of_its_own(thread: list[Said]) -> None:
    assert default_recipient(thread, SELLER) is None


def test_a_reply_to_is_a_participant_never_the_default() -> None:
    thread = [said(BUYER, reply_to=("thief@evil.test",))]
    assert default_recipient(thread, SELLER) == BUYER.lower()
    assert Participant("thief@evil.test", None, "reply_to") in participants(thread, SELLER)


def test_a_hostile_display_name_becomes_one_clean_line() -> None:
    (buyer,) = participants([said(BUYER, name="Omar\r\nX-Injected: yes")], SELLER)
    assert buyer.name == "Omar X-Injected: yes"  # one line: no header of its own
    (as_address,) = participants([said(BUYER, name="evil@example.com")], SELLER)
    assert as_address.name is None  # an address posing as a name is no name


def test_the_envelope_answers_the_recipients_latest_message() -> None:
    thread = [
        said(BUYER, subject="First", message_id="<1@m>"),
        said("partnerhelp@wal-mart.com", Classification.ESCALATION, message_id="<2@m>"),
        said(BUYER, subject="Re: First", message_id="<3@m>"),
    ]
    envelope = envelope_for(
        thread,
        recipient=Participant(BUYER, "Omar", "buyer"),
        from_address=SELLER_ADDRESS,
        fallback_subject="First",
    )
    assert (envelope.subject, envelope.in_reply_to, envelope.references) == (
        "Re: First",
        "<3@m>",
        ("<3@m>",),
    )
    assert envelope.to == f"Omar <{BUYER}>"


def test_the_approval_hash_covers_every_envelope_field_and_the_body() -> None:
    envelope = Envelope(BUYER, "Omar", SELLER_ADDRESS, "Re: Hi", "<1@m>", ("<1@m>",))
    digest = approval_sha256(envelope, "Hello")
    assert approval_sha256(envelope, "Hello!") != digest
    for change in (
        {"to_address": "thief@evil.test"},
        {"to_name": "Omar D"},
        {"from_address": "other@store.example"},
        {"subject": "Re: Hi there"},
        {"in_reply_to": None},
        {"references": ()},
    ):
        changed = replace(envelope, **change)  # type: ignore[arg-type]
        assert approval_sha256(changed, "Hello") != digest
        assert changed_fields(envelope, changed) == list(change)
    assert Envelope.from_dict(envelope.as_dict()) == envelope
