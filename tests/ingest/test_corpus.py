"""Every real-world message of ../shared/corpus, appended to Dovecot, polled, and stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from imapclient.exceptions import IMAPClientError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.ingest.status import mailbox_statuses
from app.models import DeadLetter
from tests.support.imap import ImapAccount, closing_client
from tests.support.polling import poll

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


@pytest.mark.slow
def test_every_corpus_message_is_stored_without_an_exception(
    imap_account: ImapAccount, session_factory: sessionmaker[Session]
) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"no corpus at {CORPUS} (optional: the project's own tests do not need it)")
    files = sorted(CORPUS.rglob("*.eml"))
    appended, refused = 0, []
    with closing_client(imap_account.client()) as client:
        for path in files:
            try:
                client.append("INBOX", path.read_bytes())
                appended += 1
            except IMAPClientError as e:  # the server's right; such a message never reaches us
                refused.append(f"{path.name}: {e}")
    assert appended > len(files) * 0.95, refused

    report = poll(session_factory, imap_account.settings())

    assert report.ok, report.error
    inbox = report.folders[0]
    with session_factory() as db:
        letters = [f"UID {d.uid}: {d.error}" for d in db.scalars(select(DeadLetter))]
        assert letters == []
        (status,) = mailbox_statuses(db, configured=[imap_account.settings().name])
    folder = status.folders["inbox"]
    assert folder.server_count == appended
    assert folder.stored_count + folder.failed_count == appended
    # Some corpus messages share a Message-ID on purpose: they count as stored, once.
    assert inbox.new + inbox.duplicates == appended
