"""Drafts: a person writes (or starts from a template) a reply, checks its envelope and approves.

A draft fixes its envelope (recipient, From, Subject, reply ids) when it is made, by default to
the thread's buyer; a person may pick another participant, which is recorded. Approving records
a SHA-256 over the envelope and the body, and needs the hash of the text the approver saw, so an
edit made meanwhile by someone else is never approved unseen. Sending is app.replies.sending.
"""

from __future__ import annotations

import hashlib
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from sqlalchemy.orm import Session

from app.audit import service as audit
from app.clock import now
from app.config import MailboxSettings, Settings
from app.enums import DraftState, Role
from app.errors import Conflict, HttpError, NotFound
from app.mail.quoting import trim_quoted_history
from app.mailboxes import registry
from app.mailboxes import repository as mailbox_repository
from app.models import Draft, Message, TemplateVersion, Thread, User
from app.replies import repository
from app.replies.envelope import (
    Envelope,
    Participant,
    Said,
    approval_sha256,
    default_recipient,
    envelope_for,
    envelope_sha256,
    participants,
)
from app.replies.lint import Finding, lint
from app.replies.render import ReplyContext, render
from app.replies.tracking import TrackingFacts
from app.threads import repository as threads_repository
from app.threads import service as thread_service
from app.walmart import service as order_service
from app.walmart.variables import order_values

MAX_BODY = 20_000
# Who may read and write drafts, on the API and the pages alike.
DRAFT_ROLE = Role.AGENT
EDITABLE = (DraftState.DRAFT, DraftState.APPROVED, DraftState.FAILED)


class InvalidDraft(HttpError):
    status_code = 422


def body_hash(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def can_see_drafts(user: User) -> bool:
    return user.role.allows(DRAFT_ROLE)


def get(db: Session, draft_id: int) -> Draft:
    draft = repository.get_draft(db, draft_id)
    if draft is None:
        raise NotFound(f"no draft with id {draft_id}")
    return draft


def envelope_of(draft: Draft) -> Envelope | None:
    """The envelope the draft fixed (None for a draft made before envelopes were fixed)."""
    if draft.to_address is None or draft.from_address is None:
        return None
    return Envelope(
        to_address=draft.to_address,
        to_name=draft.to_name,
        from_address=draft.from_address,
        subject=draft.subject or "",
        in_reply_to=draft.in_reply_to,
        references=tuple(draft.references or ()),
    )


def shown_envelope_sha256(draft: Draft) -> str | None:
    envelope = envelope_of(draft)
    return envelope_sha256(envelope) if envelope else None


def _said(message: Message, head: bytes) -> Said:
    headers = BytesHeaderParser().parsebytes(head)
    written = [*headers.get_all("From", []), *headers.get_all("Reply-To", [])]
    return Said(
        classification=message.classification,
        from_address=message.from_address,
        from_name=message.from_name,
        reply_to=tuple(message.reply_to or ()),
        to_addresses=tuple(message.to_addresses or ()),
        message_id=message.message_id_header,
        references=tuple(message.references or ()),
        subject=message.subject,
        written=tuple(getaddresses([str(h) for h in written])),
    )


def _seller_addresses(mailbox: MailboxSettings) -> frozenset[str]:
    return frozenset(a.strip().lower() for a in mailbox.seller_addresses)


def _mailbox_of(db: Session, settings: Settings, thread: Thread) -> MailboxSettings:
    name = mailbox_repository.get_mailbox(db, thread.mailbox_id).name
    mailbox = registry.settings_for(db, settings, name)
    if mailbox is None:
        raise Conflict(f"mailbox {name!r} is not configured; cannot reply from it")
    return mailbox


def thread_participants(
    db: Session, *, thread: Thread, settings: Settings
) -> tuple[list[Participant], str | None]:
    """Who a reply on ``thread`` could go to, and the default recipient's address (lowercased)."""
    seller = _seller_addresses(_mailbox_of(db, settings, thread))
    said = _thread_said(db, thread, threads_repository.messages_of(db, thread.id))
    return participants(said, seller), default_recipient(said, seller)


def _thread_said(db: Session, thread: Thread, messages: list[Message]) -> list[Said]:
    """What each message says about the participants; their raw headers read in one query."""
    heads = threads_repository.raw_heads_of(db, thread.id)
    return [_said(m, heads.get(m.id, b"")) for m in messages]


def _buyer(found: list[Participant], default: str | None) -> Participant | None:
    return next((p for p in found if p.address.lower() == default), None)


def reply_context(db: Session, thread: Thread, settings: Settings) -> ReplyContext:
    """What a template may use; the customer is the thread's buyer, not whoever wrote last."""
    seller = _seller_addresses(_mailbox_of(db, settings, thread))
    messages = threads_repository.messages_of(db, thread.id)
    said = _thread_said(db, thread, messages)
    buyer = _buyer(participants(said, seller), default_recipient(said, seller))
    theirs = [m for m in messages if buyer and m.from_address == buyer.address.lower()]
    return ReplyContext(
        customer_name=buyer.name if buyer else None,
        order_number=thread.order_number,
        subject=thread.subject,
        last_customer_message=trim_quoted_history(theirs[-1].body_text) if theirs else "",
        signature=settings.replies.signature,
        # The copy of the order as it is (a person reviews the draft; no call to Walmart here).
        **order_values(order_service.order_of(db, thread)),
    )


def findings(db: Session, draft: Draft, settings: Settings) -> list[Finding]:
    """The lint of the draft as it is now; the template text it started from counts as bare,
    and tracking numbers are checked against the copy of the thread's order."""
    thread = thread_service.get_thread(db, draft.thread_id)
    order = order_service.order_of(db, thread)
    return lint(
        draft.body,
        bare_template=draft.rendered_body,
        settings=settings.replies,
        tracking=TrackingFacts.of(order),
    )


def _pick(
    db: Session, *, thread: Thread, settings: Settings, to_address: str | None
) -> tuple[Envelope, bool]:
    """The envelope to ``to_address`` (a participant), else to the buyer; and whether a person
    chose the recipient (it is not the default)."""
    mailbox = _mailbox_of(db, settings, thread)
    said = _thread_said(db, thread, threads_repository.messages_of(db, thread.id))
    seller = _seller_addresses(mailbox)
    found, default = participants(said, seller), default_recipient(said, seller)
    wanted = (to_address or default or "").strip().lower()
    recipient = next((p for p in found if p.address.lower() == wanted), None)
    if recipient is None:
        choices = ", ".join(f"{p.address} ({p.role})" for p in found) or "none"
        if to_address:
            raise InvalidDraft(
                f"{to_address!r} is not a participant of thread {thread.id}; choose one of: "
                f"{choices}"
            )
        raise InvalidDraft(
            f"thread {thread.id} has no buyer address to reply to: choose a recipient "
            f"(to_address) from: {choices}"
        )
    envelope = envelope_for(
        said,
        recipient=recipient,
        from_address=mailbox.seller_addresses[0],
        fallback_subject=thread.subject,
    )
    return envelope, recipient.address.lower() != default


def _fix_envelope(draft: Draft, envelope: Envelope, *, chosen_by: User | None) -> None:
    draft.to_address, draft.to_name = envelope.to_address, envelope.to_name
    draft.from_address, draft.subject = envelope.from_address, envelope.subject
    draft.in_reply_to, draft.references = envelope.in_reply_to, list(envelope.references)
    draft.recipient_chosen_by_id = chosen_by.id if chosen_by else None


def create(
    db: Session,
    *,
    thread: Thread,
    user: User,
    settings: Settings,
    template_id: int | None,
    body: str | None,
    to_address: str | None = None,
) -> Draft:
    if (template_id is None) == (body is None):
        raise InvalidDraft("give either template_id or body")
    envelope, chosen = _pick(db, thread=thread, settings=settings, to_address=to_address)
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
    _fix_envelope(draft, envelope, chosen_by=user if chosen else None)
    db.add(draft)
    db.flush()
    audit.record(
        db,
        actor=user,
        action="draft.create",
        target=draft,
        detail={
            "thread_id": thread.id,
            "template_version_id": draft.template_version_id,
            "to": envelope.to_address,
            "recipient_chosen": chosen,
        },
    )
    return draft


def _check_body(body: str) -> None:
    if len(body) > MAX_BODY:
        raise InvalidDraft(f"the reply is {len(body)} characters; at most {MAX_BODY}")


def _void_approval(draft: Draft) -> bool:
    voided = draft.state in (DraftState.APPROVED, DraftState.FAILED)
    draft.state = DraftState.DRAFT
    draft.approved_by_id = draft.approved_at = draft.approved_body_sha256 = None
    draft.approved_sha256 = draft.approved_envelope = None
    draft.lint_overridden = False
    return voided


def _check_editable(draft: Draft) -> None:
    if draft.state not in EDITABLE:
        raise Conflict(f"draft {draft.id} is {draft.state}; it can no longer be changed")


def edit(db: Session, *, draft: Draft, user: User, body: str, settings: Settings) -> Draft:
    """Change the text; an approval is void once the text it approved has changed. A draft
    made before envelopes were fixed gets its envelope (to the buyer) here."""
    _check_editable(draft)
    _check_body(body)
    if envelope_of(draft) is None:
        thread = thread_service.get_thread(db, draft.thread_id)
        envelope, _ = _pick(db, thread=thread, settings=settings, to_address=None)
        _fix_envelope(draft, envelope, chosen_by=None)
    draft.body = body
    voided = _void_approval(draft)
    audit.record(
        db, actor=user, action="draft.edit", target=draft, detail={"approval_voided": voided}
    )
    return draft


def choose_recipient(
    db: Session, *, draft: Draft, user: User, settings: Settings, to_address: str
) -> Draft:
    """Send the reply to another participant of the thread: recorded, and approved again."""
    _check_editable(draft)
    thread = thread_service.get_thread(db, draft.thread_id)
    before = draft.to_address
    envelope, chosen = _pick(db, thread=thread, settings=settings, to_address=to_address)
    _fix_envelope(draft, envelope, chosen_by=user if chosen else None)
    voided = _void_approval(draft)
    audit.record(
        db,
        actor=user,
        action="draft.recipient",
        target=draft,
        detail={
            "from": before,
            "to": envelope.to_address,
            "default": not chosen,
            "approval_voided": voided,
        },
    )
    return draft


def approve(
    db: Session,
    *,
    draft: Draft,
    user: User,
    settings: Settings,
    override_lint: bool,
    body_sha256: str,
    shown_envelope_sha256: str | None = None,
) -> Draft:
    """Record that a person approved this exact text for this exact envelope. ``body_sha256``
    is the hash of the text the person saw (``shown_envelope_sha256`` that of the envelope, when
    the client shows one); lint errors block the approval unless overridden."""
    if draft.state != DraftState.DRAFT:
        raise Conflict(f"draft {draft.id} is {draft.state}, not awaiting approval")
    envelope = envelope_of(draft)
    if envelope is None:
        raise Conflict(
            f"draft {draft.id} was written before replies fixed their recipient: save it once "
            "to fix it, check the recipient, then approve"
        )
    if body_sha256.lower() != body_hash(draft.body):
        raise Conflict(
            f"draft {draft.id}'s text is not the text you saw (body_sha256 differs): it was "
            "changed meanwhile; reload it and check it before approving"
        )
    if shown_envelope_sha256 and shown_envelope_sha256.lower() != envelope_sha256(envelope):
        raise Conflict(
            f"draft {draft.id}'s recipient or headers are not what you saw (envelope_sha256 "
            f"differs; it now goes to {envelope.to}): reload it and check it before approving"
        )
    errors = [f for f in findings(db, draft, settings) if f.severity == "error"]
    if errors and not override_lint:
        raise Conflict(
            "the draft has lint errors: "
            + "; ".join(f.message for f in errors)
            + ' (fix them, or approve with {"override_lint": true})'
        )
    draft.state = DraftState.APPROVED
    draft.approved_by_id, draft.approved_at = user.id, now()
    draft.approved_body_sha256 = body_hash(draft.body)
    draft.approved_sha256 = approval_sha256(envelope, draft.body)
    draft.approved_envelope = envelope.as_dict()
    draft.lint_overridden = bool(errors)
    audit.record(
        db,
        actor=user,
        action="draft.approve",
        target=draft,
        detail={
            "body_sha256": draft.approved_body_sha256,
            "sha256": draft.approved_sha256,
            "to": envelope.to_address,
            "overridden_lint": sorted({f.code for f in errors}),
        },
    )
    return draft
