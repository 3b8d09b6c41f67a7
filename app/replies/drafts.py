"""Drafts: a person writes (or starts from a template), approves, and sends a reply.

Nothing reaches a customer any other way: `send` is the only code that mails a customer, it needs
a draft a person approved (the exact body, by hash), and it runs only on a person's request.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime, getaddresses, make_msgid

from sqlalchemy.orm import Session, sessionmaker

from app import audit, metrics
from app.clock import now
from app.config import ConfigError, MailboxSettings, Settings
from app.db import session_scope
from app.enums import Classification, DraftState
from app.errors import AppError, Conflict, NotFound
from app.ingest import repository as mailboxes
from app.ingest.service import store_outgoing
from app.mail import smtp
from app.mail.header_values import one_line, usable_address, usable_message_id
from app.mail.imap import ImapError, ImapMailbox
from app.mail.parse import trim_quoted_history
from app.mailboxes import registry
from app.models import Draft, Message, TemplateVersion, Thread, User
from app.oauth.grants import Logins
from app.replies import repository
from app.replies.lint import Finding, lint
from app.replies.render import ReplyContext, render
from app.threads import repository as threads_repository
from app.threads import service as threads

log = logging.getLogger(__name__)

MAX_BODY = 20_000
REFERENCES_KEPT = 20


class InvalidDraft(AppError):
    status_code = 422


class SendFailed(AppError):
    status_code = 502


def body_hash(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def get(db: Session, draft_id: int) -> Draft:
    draft = repository.get_draft(db, draft_id)
    if draft is None:
        raise NotFound(f"no draft with id {draft_id}")
    return draft


def _last_customer_message(db: Session, thread: Thread) -> Message | None:
    messages = threads_repository.messages_of(db, thread.id)
    asking = [
        m
        for m in messages
        if m.classification in (Classification.CUSTOMER, Classification.ESCALATION)
    ]
    return asking[-1] if asking else None


def _customer_name(message: Message | None) -> str | None:
    name = (message.from_name or "").strip() if message else ""
    return name if name and "@" not in name else None


def reply_context(db: Session, thread: Thread, settings: Settings) -> ReplyContext:
    last = _last_customer_message(db, thread)
    return ReplyContext(
        customer_name=_customer_name(last),
        order_number=thread.order_number,
        subject=thread.subject,
        last_customer_message=trim_quoted_history(last.body_text) if last else "",
        signature=settings.replies.signature,
    )


def findings(draft: Draft, settings: Settings) -> list[Finding]:
    """The lint of the draft as it is now; the template text it started from counts as bare."""
    return lint(draft.body, bare_template=draft.rendered_body, settings=settings.replies)


def create(
    db: Session,
    *,
    thread: Thread,
    user: User,
    settings: Settings,
    template_id: int | None,
    body: str | None,
) -> Draft:
    if (template_id is None) == (body is None):
        raise InvalidDraft("give either template_id or body")
    if thread.counterpart is None:
        raise InvalidDraft(f"thread {thread.id} has no counterpart to reply to")
    version: TemplateVersion | None = None
    if template_id is not None:
        version = repository.current_version(db, template_id)
        template = repository.get_template(db, template_id)
        if version is None or template is None or template.archived_at is not None:
            raise InvalidDraft(f"no template with id {template_id}")
        rendered = render(version.body, reply_context(db, thread, settings))
        if rendered.error:
            raise InvalidDraft(f"template {template.name!r} cannot be rendered: {rendered.error}")
        body = rendered.text
    assert body is not None  # noqa: S101 (one of the two was given)
    _check_body(body)
    draft = Draft(
        thread_id=thread.id,
        template_version_id=version.id if version else None,
        body=body,
        rendered_body=body if version else None,
        state=DraftState.DRAFT,
        created_by_id=user.id,
    )
    db.add(draft)
    db.flush()
    audit.record(
        db,
        actor=user,
        action="draft.create",
        target=draft,
        detail={"thread_id": thread.id, "template_version_id": draft.template_version_id},
    )
    return draft


def _check_body(body: str) -> None:
    if len(body) > MAX_BODY:
        raise InvalidDraft(f"the reply is {len(body)} characters; at most {MAX_BODY}")


def edit(db: Session, *, draft: Draft, user: User, body: str) -> Draft:
    """Change the text; an approval is void once the text it approved has changed."""
    if draft.state in (DraftState.SENDING, DraftState.SENT):
        raise Conflict(f"draft {draft.id} is {draft.state}; it can no longer be edited")
    _check_body(body)
    voided = draft.state in (DraftState.APPROVED, DraftState.FAILED)
    draft.body = body
    draft.state = DraftState.DRAFT
    draft.approved_by_id = draft.approved_at = draft.approved_body_sha256 = None
    draft.lint_overridden = False
    audit.record(
        db, actor=user, action="draft.edit", target=draft, detail={"approval_voided": voided}
    )
    return draft


def approve(
    db: Session, *, draft: Draft, user: User, settings: Settings, override_lint: bool
) -> Draft:
    """Record that a person approved this exact text. Lint errors block it unless overridden."""
    if draft.state != DraftState.DRAFT:
        raise Conflict(f"draft {draft.id} is {draft.state}, not awaiting approval")
    errors = [f for f in findings(draft, settings) if f.severity == "error"]
    if errors and not override_lint:
        raise Conflict(
            "the draft has lint errors: "
            + "; ".join(f.message for f in errors)
            + ' (fix them, or approve with {"override_lint": true})'
        )
    draft.state = DraftState.APPROVED
    draft.approved_by_id, draft.approved_at = user.id, now()
    draft.approved_body_sha256 = body_hash(draft.body)
    draft.lint_overridden = bool(errors)
    audit.record(
        db,
        actor=user,
        action="draft.approve",
        target=draft,
        detail={
            "body_sha256": draft.approved_body_sha256,
            "overridden_lint": sorted({f.code for f in errors}),
        },
    )
    return draft


@dataclass(frozen=True)
class _Outgoing:
    draft_id: int
    message: EmailMessage
    recipient: str
    mailbox: MailboxSettings


def _reply_message(
    db: Session, *, draft: Draft, thread: Thread, mailbox: MailboxSettings
) -> tuple[EmailMessage, str]:
    """The reply as it goes out. Subject, To and the ids come from the customer's mail, so each
    passes through app.mail.header_values: one clean line each, or left out."""
    last = _last_customer_message(db, thread)
    stored = (last.reply_to[0] if last and last.reply_to else None) or thread.counterpart
    recipient = usable_address(_as_written(last, stored) if stored and last else stored)
    recipient = recipient or usable_address(stored)
    if not recipient:
        raise Conflict(f"thread {thread.id} has no address to reply to")
    subject = one_line(last.subject if last else thread.subject)
    if not subject.lower().startswith("re:"):
        subject = one_line(f"Re: {subject}")
    message = EmailMessage()
    message["From"] = mailbox.seller_addresses[0]
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(now())
    message["Message-ID"] = draft.outgoing_message_id
    replied_to = usable_message_id(last.message_id_header) if last else None
    if last and replied_to:
        message["In-Reply-To"] = replied_to
        chain = [i for i in (*last.references, replied_to) if usable_message_id(i)]
        message["References"] = " ".join(chain[-REFERENCES_KEPT:])
    message.set_content(draft.body)
    return message, recipient


def _as_written(message: Message, address: str) -> str:
    """``address`` as the customer's mail wrote it: stored addresses are lowercased for matching,
    but a local part may be case-sensitive, so the reply goes to the exact original."""
    headers = BytesHeaderParser().parsebytes(message.raw.raw)
    written = [*headers.get_all("Reply-To", []), *headers.get_all("From", [])]
    return next(
        (a for _, a in getaddresses([str(h) for h in written]) if a.lower() == address), address
    )


def _claim(db: Session, *, draft_id: int, user: User, settings: Settings) -> _Outgoing | Draft:
    """Phase 1: check and mark the draft `sending`; a draft already sent is returned as is."""
    draft = get(db, draft_id)
    if draft.state == DraftState.SENT:
        return draft  # a repeated request: nothing more is mailed
    if draft.state == DraftState.SENDING:
        raise Conflict(
            f"draft {draft.id} is being sent, or a send was interrupted at "
            f"{draft.sending_started_at:%Y-%m-%d %H:%M} UTC; check the Sent folder before "
            f"doing anything: it is never sent again automatically"
        )
    if draft.state not in (DraftState.APPROVED, DraftState.FAILED):
        raise Conflict(f"draft {draft.id} is not approved: a person must approve it first")
    if draft.approved_body_sha256 != body_hash(draft.body):
        raise Conflict(f"draft {draft.id} changed after its approval; approve it again")
    thread = threads.get_thread(db, draft.thread_id)
    mailbox_name = mailboxes.get_mailbox(db, thread.mailbox_id).name
    mailbox = registry.settings_for(db, settings, mailbox_name)
    if mailbox is None:
        raise Conflict(f"mailbox {mailbox_name!r} is not configured; cannot send from it")
    if draft.outgoing_message_id is None:
        domain = mailbox.seller_addresses[0].rpartition("@")[2]
        draft.outgoing_message_id = make_msgid(domain=domain)
        db.flush()
    message, recipient = _reply_message(db, draft=draft, thread=thread, mailbox=mailbox)
    if not repository.claim_for_sending(
        db, draft_id=draft.id, from_states=(DraftState.APPROVED, DraftState.FAILED)
    ):
        raise Conflict(f"draft {draft.id} is already being sent")
    audit.record(
        db,
        actor=user,
        action="draft.send_started",
        target=draft,
        detail={"message_id": draft.outgoing_message_id, "to": recipient},
    )
    return _Outgoing(draft.id, message, recipient, mailbox)


def _user(db: Session, user_id: int) -> User:
    user = db.get(User, user_id)
    assert user is not None  # noqa: S101 (authenticated by the caller)
    return user


def send(
    session_factory: sessionmaker[Session],
    *,
    draft_id: int,
    user_id: int,
    settings: Settings,
    logins: Logins,
) -> int:
    """Mail an approved draft once, on a person's request; returns the draft id.

    Each phase commits on its own: the claim (with the Message-ID fixed) before the SMTP call, the
    outcome after it. A crash between the two leaves the draft `sending`, which is never retried
    by itself, so the customer can never get the reply twice."""
    with session_scope(session_factory) as db:
        claimed = _claim(db, draft_id=draft_id, user=_user(db, user_id), settings=settings)
    if isinstance(claimed, Draft):
        return claimed.id
    try:
        _send_reply(claimed, settings=settings, logins=logins)
        metrics.SMTP_SENDS.labels("reply", "accepted").inc()
    except smtp.SmtpError as e:
        metrics.SMTP_SENDS.labels("reply", "refused").inc()
        with session_scope(session_factory) as db:
            draft = get(db, draft_id)
            draft.state, draft.failure_reason = DraftState.FAILED, e.reason
            audit.record(
                db,
                actor=_user(db, user_id),
                action="draft.send_failed",
                target=draft,
                detail={"reason": e.reason},
            )
        raise SendFailed(f"sending failed, nothing was delivered: {e.reason}") from e
    raw = claimed.message.as_bytes()
    with session_scope(session_factory) as db:
        draft = get(db, draft_id)
        draft.state, draft.sent_at, draft.sent_by_id = DraftState.SENT, now(), user_id
        thread = threads.get_thread(db, draft.thread_id)
        store_outgoing(db, thread=thread, raw=raw, mailbox=claimed.mailbox, sla=settings.sla)
        audit.record(
            db,
            actor=_user(db, user_id),
            action="draft.send",
            target=draft,
            detail={"message_id": draft.outgoing_message_id, "to": claimed.recipient},
        )
    if claimed.mailbox.append_sent_copy:
        _append_sent_copy(
            session_factory, draft_id=draft_id, mailbox=claimed.mailbox, raw=raw, logins=logins
        )
    return draft_id


def _send_reply(claimed: _Outgoing, *, settings: Settings, logins: Logins) -> None:
    """Through the mailbox's own SMTP server signed in as the mailbox, else the global one."""
    own = claimed.mailbox.smtp()
    if own is None:
        smtp.send(settings.smtp, claimed.message, recipients=[claimed.recipient])
        return
    try:
        login = logins.for_mailbox(claimed.mailbox)
    except ConfigError as e:
        raise smtp.SmtpError(str(e), kind="config") from e
    smtp.send(own, claimed.message, recipients=[claimed.recipient], login=login)


def _append_sent_copy(
    session_factory: sessionmaker[Session],
    *,
    draft_id: int,
    mailbox: MailboxSettings,
    raw: bytes,
    logins: Logins,
) -> None:
    """Put the reply in the mailbox's Sent folder, as any mail client would; a failure here is
    recorded on the draft (the customer has the reply already)."""
    error = None
    try:
        with ImapMailbox.for_settings(mailbox, logins.for_mailbox(mailbox)) as imap:
            imap.append_sent(raw, settings=mailbox)
    except ImapError as e:
        error = e.reason
    except ConfigError as e:
        error = str(e)
    except Exception as e:  # the reply went out: the copy's failure is only recorded
        log.exception("draft %s: the copy to Sent failed", draft_id)
        error = f"{mailbox.host}: {e}"
    if error:
        log.warning("draft %s: sent, but the copy to Sent failed: %s", draft_id, error)
        with session_scope(session_factory) as db:
            get(db, draft_id).sent_copy_error = error
