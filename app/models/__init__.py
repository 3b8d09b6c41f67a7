"""The database tables, one module per domain. Every change needs an Alembic migration
(`alembic check` guards it); importing this package registers every table on ``Base.metadata``."""

from app.models.alerts import Alert, AlertDelivery
from app.models.audit import AuditEntry
from app.models.mailboxes import FolderCursor, Lease, Mailbox, OAuthGrant
from app.models.messages import (
    DeadLetter,
    Message,
    MessageLocation,
    MessageRaw,
    UnansweredFetch,
)
from app.models.orders import OrderCopy, OrderEvent
from app.models.replies import Draft, ReplyTemplate, TemplateVersion
from app.models.response_rate import WalmartRate, WalmartRateRead, WalmartReportOrder
from app.models.threads import (
    HourlyActivity,
    OutsideAnswer,
    ResponseEpisode,
    ResponseFigures,
    Thread,
    ThreadTally,
    ThreadTransition,
)
from app.models.users import ApiToken, SignInThrottle, User, WebSession

__all__ = [
    "Alert",
    "AlertDelivery",
    "AuditEntry",
    "FolderCursor",
    "Lease",
    "Mailbox",
    "OAuthGrant",
    "DeadLetter",
    "Message",
    "MessageLocation",
    "MessageRaw",
    "UnansweredFetch",
    "OrderCopy",
    "OrderEvent",
    "WalmartRate",
    "WalmartRateRead",
    "WalmartReportOrder",
    "Draft",
    "ReplyTemplate",
    "TemplateVersion",
    "HourlyActivity",
    "OutsideAnswer",
    "ResponseEpisode",
    "ResponseFigures",
    "Thread",
    "ThreadTally",
    "ThreadTransition",
    "ApiToken",
    "SignInThrottle",
    "User",
    "WebSession",
]
