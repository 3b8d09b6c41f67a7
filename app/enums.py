"""Closed sets of values shared by the domain code, the models and the API."""

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    AGENT = "agent"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, required: "Role") -> bool:
        return self.rank >= required.rank


class FolderRole(StrEnum):
    INBOX = "inbox"
    SENT = "sent"
    SPAM = "spam"


class Classification(StrEnum):
    CUSTOMER = "customer"
    ESCALATION = "escalation"
    SELLER = "seller"
    AUTOMATED = "automated"


class ThreadKind(StrEnum):
    CUSTOMER = "customer"
    ESCALATION = "escalation"
    COMPLAINT = "complaint"


class ThreadSource(StrEnum):
    INBOX = "inbox"
    SPAM = "spam"


class DraftState(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    # The connection broke after the message was handed over: the server may have accepted it.
    UNKNOWN = "unknown"


class AlertState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class AnswerChannel(StrEnum):
    """Where a seller answered a customer outside the mailbox, which never sees that answer."""

    SELLER_CENTER = "seller_center"  # Walmart Seller Center's inbox
    PHONE = "phone"
    OTHER = "other"
