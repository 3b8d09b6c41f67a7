"""The envelope of a reply: to whom, from which address, under which subject, in reply to which
message. Pure: no database, no mail server.

A draft fixes its envelope when it is made; the person sees it beside the text and approves both,
and the reply goes out with exactly that envelope, whatever mail joins the thread meanwhile. The
default recipient is the thread's buyer: the marketplace relay address the buyer wrote from. A
Walmart notice, an escalation from Partner Support, a stranger writing about the same order, or
a Reply-To pointing elsewhere never becomes the recipient unless a person picks it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from email.utils import formataddr
from typing import Any, Literal

from app.enums import Classification
from app.mail.classify import is_buyer_relay, is_walmart_address
from app.mail.header_values import one_line, usable_address, usable_message_id

REFERENCES_KEPT = 20
MAX_NAME_CHARS = 100

ParticipantRole = Literal["buyer", "escalation", "customer", "reply_to", "recipient"]


@dataclass(frozen=True)
class Envelope:
    to_address: str
    to_name: str | None
    from_address: str
    subject: str
    in_reply_to: str | None
    references: tuple[str, ...]

    @property
    def to(self) -> str:
        """The recipient as a person reads it: ``Omar Diaz <…@relay.walmart.com>``."""
        return formataddr((self.to_name or "", self.to_address))

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "references": list(self.references)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Envelope:
        return cls(**{**values, "references": tuple(values.get("references") or ())})


def approval_sha256(envelope: Envelope, body: str) -> str:
    """The digest a person approves: the envelope and the body together, in one canonical form."""
    canonical = json.dumps(
        {"envelope": envelope.as_dict(), "body": body}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def envelope_sha256(envelope: Envelope) -> str:
    return hashlib.sha256(
        json.dumps(envelope.as_dict(), sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()


def changed_fields(approved: Envelope, current: Envelope) -> list[str]:
    """The names of the envelope's fields that differ, in declaration order."""
    return [
        f.name for f in fields(Envelope) if getattr(approved, f.name) != getattr(current, f.name)
    ]


@dataclass(frozen=True)
class Said:
    """What one stored message of the thread tells about who takes part in it.

    ``written`` holds (name, address) pairs of From and Reply-To as the raw message wrote them:
    stored addresses are lowercased for matching, but a local part may be case-sensitive, so the
    reply goes to the exact original."""

    classification: Classification
    from_address: str | None
    from_name: str | None
    reply_to: tuple[str, ...]
    to_addresses: tuple[str, ...]
    message_id: str | None
    references: tuple[str, ...]
    subject: str
    written: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Participant:
    """Someone a reply could go to: ``address`` as written, ``role`` why they are in the thread."""

    address: str
    name: str | None
    role: ParticipantRole


def is_buyer_address(address: str | None) -> bool:
    """A marketplace's masked buyer address: Walmart's relay, Amazon's buyer-seller messaging."""
    if not address:
        return False
    return is_buyer_relay(address) or address.lower().endswith("@marketplace.amazon.com")


def participants(messages: Sequence[Said], seller_addresses: frozenset[str]) -> list[Participant]:
    """Everyone the seller could answer in this thread, the buyer first, each address once."""
    found: dict[str, Participant] = {}

    def add(address: str | None, name: str | None, role: ParticipantRole, said: Said) -> None:
        written = _as_written(said, address)
        if written is None or written.lower() in seller_addresses:
            return
        key = written.lower()
        known = found.get(key)
        clean_name = _name(name)
        if known is None or (known.role != "buyer" and role == "buyer"):
            found[key] = Participant(written, clean_name or (known.name if known else None), role)
        elif clean_name:  # the latest name a person gave wins
            found[key] = Participant(known.address, clean_name, known.role)

    for said in messages:
        if said.classification == Classification.SELLER:
            for address in said.to_addresses:
                add(address, None, "recipient", said)
            continue
        if said.classification == Classification.AUTOMATED:
            continue
        role: ParticipantRole
        if is_buyer_address(said.from_address):
            role = "buyer"  # a buyer's message tagged "Customer Care" is still the buyer's
        elif said.classification == Classification.ESCALATION:
            role = "escalation"
        else:
            role = "customer"
        add(said.from_address, said.from_name, role, said)
        for address in said.reply_to:
            if address != said.from_address:
                add(address, None, "reply_to", said)
    order = {"buyer": 0, "customer": 1, "escalation": 2, "reply_to": 3, "recipient": 4}
    return sorted(found.values(), key=lambda p: order[p.role])


def default_recipient(messages: Sequence[Said], seller_addresses: frozenset[str]) -> str | None:
    """The buyer's address (lowercased): the relay address the latest buyer message came from;
    without a relay buyer, the customer who started the thread. None when the thread has no
    customer of its own (an escalation alone): then a person must choose."""
    incoming = [
        m
        for m in messages
        if m.classification in (Classification.CUSTOMER, Classification.ESCALATION)
        and m.from_address
        and m.from_address.lower() not in seller_addresses
        and usable_address(m.from_address)
    ]
    relayed = [m for m in incoming if is_buyer_address(m.from_address)]
    if relayed:
        return (relayed[-1].from_address or "").lower()
    asking = [
        m
        for m in incoming
        if m.classification == Classification.CUSTOMER
        and not is_walmart_address(m.from_address or "")
    ]
    return (asking[0].from_address or "").lower() if asking else None


def envelope_for(
    messages: Sequence[Said], *, recipient: Participant, from_address: str, fallback_subject: str
) -> Envelope:
    """The reply to ``recipient``: in reply to their latest message (subject, ids), else to the
    thread's latest message that is not the seller's own."""
    key = recipient.address.lower()
    theirs = [m for m in messages if (m.from_address or "").lower() == key]
    answered = theirs[-1] if theirs else _latest_incoming(messages)
    subject = one_line(answered.subject if answered else fallback_subject)
    if not subject.lower().startswith("re:"):
        subject = one_line(f"Re: {subject}")
    replied_to = usable_message_id(answered.message_id) if answered else None
    references: tuple[str, ...] = ()
    if answered and replied_to:
        chain = [i for i in (*answered.references, replied_to) if usable_message_id(i)]
        references = tuple(chain[-REFERENCES_KEPT:])
    return Envelope(
        to_address=recipient.address,
        to_name=recipient.name,
        from_address=from_address,
        subject=subject,
        in_reply_to=replied_to,
        references=references,
    )


def _latest_incoming(messages: Sequence[Said]) -> Said | None:
    incoming = [
        m
        for m in messages
        if m.classification in (Classification.CUSTOMER, Classification.ESCALATION)
    ]
    return incoming[-1] if incoming else None


def _as_written(said: Said, address: str | None) -> str | None:
    if not address:
        return None
    lowered = address.lower()
    written = next((a for _, a in said.written if a.lower() == lowered), address)
    return usable_address(written)


def _name(name: str | None) -> str | None:
    """A display name fit for a header and a greeting; an address posing as a name is none."""
    name = one_line(name or "", max_chars=MAX_NAME_CHARS)
    return name if name and "@" not in name else None
