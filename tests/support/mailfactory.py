"""Small factories of realistic messages for the tests (the project never depends on the corpus)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

SELLER_ADDRESS = "support@store.example"


def relay_address(buyer: str) -> str:
    """A masked Walmart buyer address as the relay writes it: 32 uppercase hex characters."""
    return hashlib.md5(buyer.encode()).hexdigest().upper() + "@relay.walmart.com"  # noqa: S324


def message(
    *,
    sender: str,
    to: str = SELLER_ADDRESS,
    subject: str = "Question about my order",
    body: str = "Hello, where is my order?",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    date: datetime | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = message_id or make_msgid(domain="test.example")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


def customer(buyer: str, *, order: str = "108829272810783", **kwargs: object) -> bytes:
    kwargs.setdefault("subject", f"Customer message regarding order {order}")
    kwargs.setdefault(
        "body",
        f"{buyer} wants to connect with you regarding the following order:\n"
        f"Sales Order ID: {order}\nMessage: Where is my package?\n",
    )
    return message(sender=f"{buyer} <{relay_address(buyer)}>", **kwargs)  # type: ignore[arg-type]


def seller_reply(to_buyer: str, *, in_reply_to: str, subject: str, **kwargs: object) -> bytes:
    return message(
        sender=f"Store Support <{SELLER_ADDRESS}>",
        to=relay_address(to_buyer),
        subject=f"Re: {subject}",
        body="Hello, thank you for reaching out. Your order ships tomorrow.",
        in_reply_to=in_reply_to,
        **kwargs,  # type: ignore[arg-type]
    )


def message_id_of(raw: bytes) -> str:
    for line in raw.split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode()
    raise ValueError("no Message-ID")
