"""Sending an approved draft: the only code that mails a customer, on a person's request.

The reply goes out with exactly the envelope and body a person approved (their SHA-256 is checked
again), to exactly the recipient the draft shows. Each phase commits on its own: the claim (with
the Message-ID fixed) before the SMTP call, the outcome after it. A send whose connection broke
after the message was handed over is `unknown`, not `failed`: the server may have accepted it,
so sending it again needs a person's explicit confirmation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy.orm import Session, sessionmaker

from app import metrics
from app.audit import service as audit
from app.clock import now
from app.config import MailboxSettings, Settings, SmtpSettings
from app.db import session_scope
from app.enums import DraftState
from app.errors import ConfigError, Conflict, HttpError, SmtpNotConfigured
from app.ingest.store import store_outgoing
from app.mail import smtp
from app.mail.imap import ImapMailbox
from app.mail.imap_errors import ImapError
from app.mailboxes import registry
from app.mailboxes import repository as mailbox_repository
from app.models import Draft, Thread, User
from app.oauth.grants import Logins
from app.replies import repository
from app.replies.drafts import body_hash, envelope_of, get
from app.replies.envelope import Envelope, approval_sha256, changed_fields
from app.threads import service as thread_service

log = logging.getLogger(__name__)

# A draft left `sending` this long (a process died mid-send) may be sent again on confirmation.
STALE_SENDING = timedelta(minutes=15)


class SendFailed(HttpError):
    status_code = 502


@dataclass(frozen=True)
class _Outgoing:
    draft_id: int
    message: EmailMessage
    recipient: str
    mailbox: MailboxSettings
    server: SmtpSettings


def reply_server(settings: Settings, mailbox: MailboxSettings) -> SmtpSettings:
    """The SMTP server the mailbox's replies go through; refused (409) when there is none."""
    server = settings.reply_smtp(mailbox)
    if server is None:
        raise SmtpNotConfigured(
            f"SMTP is not configured (no [smtp] section, and mailbox {mailbox.name!r} has no "
            "smtp_host), so slawatch cannot send replies: reply from your own mail client "
            "(slawatch sees the reply in the Sent folder), or add an [smtp] section"
        )
    return server


def sending_off(db: Session, settings: Settings, thread: Thread) -> str | None:
    """Why the thread's replies cannot be sent from slawatch (no SMTP server), for the page to
    say beside a disabled button; None when they can."""
    name = mailbox_repository.get_mailbox(db, thread.mailbox_id).name
    mailbox = registry.settings_for(db, settings, name)
    if mailbox is None:
        return None  # not configured at all: the send refuses it with its own reason
    try:
        reply_server(settings, mailbox)
    except SmtpNotConfigured as e:
        return e.message
    return None


def reply_message(draft: Draft, envelope: Envelope) -> EmailMessage:
    """The reply as it goes out: the approved envelope (each value already one clean header
    line, see app.replies.envelope) and the approved body."""
    message = EmailMessage()
    message["From"] = envelope.from_address
    message["To"] = envelope.to
    message["Subject"] = envelope.subject
    message["Date"] = format_datetime(now())
    message["Message-ID"] = draft.outgoing_message_id
    if envelope.in_reply_to:
        message["In-Reply-To"] = envelope.in_reply_to
        message["References"] = " ".join(envelope.references)
    message.set_content(draft.body)
    return message


def _approved_envelope(draft: Draft) -> Envelope:
    """The envelope to send with, after checking it and the body are what was approved."""
    envelope = envelope_of(draft)
    if envelope is None or draft.approved_sha256 is None or draft.approved_envelope is None:
        raise Conflict(f"draft {draft.id} has no approval of its recipient; approve it again")
    if approval_sha256(envelope, draft.body) == draft.approved_sha256:
        return envelope
    changed = changed_fields(Envelope.from_dict(draft.approved_envelope), envelope)
    if body_hash(draft.body) != draft.approved_body_sha256:
        changed.insert(0, "body")
    raise Conflict(
        f"draft {draft.id} is not what was approved (changed: {', '.join(changed) or 'unknown'}); "
        "nothing was sent: check it and approve it again"
    )


def _check_sendable(draft: Draft, *, confirm_resend: bool) -> bool:
    """Whether this send repeats one whose outcome is unknown (confirmed by the person)."""
    if draft.state == DraftState.UNKNOWN:
        if not confirm_resend:
            raise Conflict(
                f"draft {draft.id}: the last send broke off after the reply was handed over "
                f"({draft.failure_reason}); the customer may have it already. Check the Sent "
                'folder; to send it again anyway, confirm with {"confirm_resend": true}'
            )
        return True
    if draft.state == DraftState.SENDING:
        started = draft.sending_started_at
        if not (confirm_resend and started and now() - started > STALE_SENDING):
            raise Conflict(
                f"draft {draft.id} is being sent, or a send was interrupted at "
                f"{started:%Y-%m-%d %H:%M} UTC; check the Sent folder before doing anything: it "
                "is never sent again automatically (after 15 minutes it may be sent again with "
                '{"confirm_resend": true})'
            )
        return True
    if draft.state not in (DraftState.APPROVED, DraftState.FAILED):
        raise Conflict(f"draft {draft.id} is not approved: a person must approve it first")
    return False


def _claim(
    db: Session, *, draft_id: int, user: User, settings: Settings, confirm_resend: bool
) -> _Outgoing | Draft:
    """Phase 1: check and mark the draft `sending`; a draft already sent is returned as is."""
    draft = get(db, draft_id)
    if draft.state == DraftState.SENT:
        return draft  # a repeated request: nothing more is mailed
    again = _check_sendable(draft, confirm_resend=confirm_resend)
    envelope = _approved_envelope(draft)
    thread = thread_service.get_thread(db, draft.thread_id)
    mailbox_name = mailbox_repository.get_mailbox(db, thread.mailbox_id).name
    mailbox = registry.settings_for(db, settings, mailbox_name)
    if mailbox is None:
        raise Conflict(f"mailbox {mailbox_name!r} is not configured; cannot send from it")
    server = reply_server(settings, mailbox)  # before the claim: the draft stays approved
    if draft.outgoing_message_id is None:
        draft.outgoing_message_id = make_msgid(domain=envelope.from_address.rpartition("@")[2])
        db.flush()
    from_states: tuple[DraftState, ...] = (DraftState.APPROVED, DraftState.FAILED)
    if again:
        from_states = (draft.state,)
    if not repository.claim_for_sending(
        db,
        draft_id=draft.id,
        from_states=from_states,
        sending_started_at=draft.sending_started_at,
    ):
        raise Conflict(f"draft {draft.id} is already being sent")
    if again:
        audit.record(
            db,
            actor=user,
            action="draft.send_again_confirmed",
            target=draft,
            detail={"previous_state": from_states[0], "message_id": draft.outgoing_message_id},
        )
    audit.record(
        db,
        actor=user,
        action="draft.send_started",
        target=draft,
        detail={"message_id": draft.outgoing_message_id, "to": envelope.to_address},
    )
    return _Outgoing(draft.id, reply_message(draft, envelope), envelope.to_address, mailbox, server)


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
    confirm_resend: bool = False,
) -> int:
    """Mail an approved draft once, on a person's request; returns the draft id. A crash
    between the claim and the outcome leaves the draft `sending`, which is never retried by
    itself, so the customer can never get the reply twice unasked."""
    with session_scope(session_factory) as db:
        claimed = _claim(
            db,
            draft_id=draft_id,
            user=_user(db, user_id),
            settings=settings,
            confirm_resend=confirm_resend,
        )
    if isinstance(claimed, Draft):
        return claimed.id
    try:
        _send_reply(claimed, logins=logins)
        metrics.SMTP_SENDS.labels("reply", "accepted").inc()
    except smtp.SmtpOutcomeUnknown as e:
        metrics.SMTP_SENDS.labels("reply", "unknown").inc()
        _record_failure(session_factory, draft_id, user_id, DraftState.UNKNOWN, e.reason)
        raise SendFailed(
            f"the outcome of the send is unknown: {e.reason}. Check the mailbox's Sent folder "
            "before sending again"
        ) from e
    except smtp.SmtpError as e:
        metrics.SMTP_SENDS.labels("reply", "refused").inc()
        _record_failure(session_factory, draft_id, user_id, DraftState.FAILED, e.reason)
        raise SendFailed(f"sending failed, nothing was delivered: {e.reason}") from e
    raw = claimed.message.as_bytes()
    with session_scope(session_factory) as db:
        draft = get(db, draft_id)
        draft.state, draft.sent_at, draft.sent_by_id = DraftState.SENT, now(), user_id
        draft.failure_reason = None
        thread = thread_service.get_thread(db, draft.thread_id)
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


def _record_failure(
    session_factory: sessionmaker[Session],
    draft_id: int,
    user_id: int,
    state: DraftState,
    reason: str,
) -> None:
    with session_scope(session_factory) as db:
        draft = get(db, draft_id)
        draft.state, draft.failure_reason = state, reason
        action = "draft.send_unknown" if state == DraftState.UNKNOWN else "draft.send_failed"
        audit.record(
            db, actor=_user(db, user_id), action=action, target=draft, detail={"reason": reason}
        )


def _send_reply(claimed: _Outgoing, *, logins: Logins) -> None:
    """Through the mailbox's own SMTP server signed in as the mailbox, else the global one."""
    if claimed.mailbox.smtp() is None:
        smtp.send(claimed.server, claimed.message, recipients=[claimed.recipient])
        return
    try:
        login = logins.for_mailbox(claimed.mailbox)
    except ConfigError as e:
        raise smtp.SmtpError(str(e), kind="config") from e
    smtp.send(claimed.server, claimed.message, recipients=[claimed.recipient], login=login)


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
