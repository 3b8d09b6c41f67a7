"""Fixtures shared by every test: real databases (SQLite and PostgreSQL), the app, users, and the
servers the app talks to (Dovecot, SMTP, an OAuth2 provider, Walmart's API). They live in
tests/support/fixtures/, one module per kind of thing they start; what tests import (helpers, test
servers, factories) is in tests/support/."""

import pytest

# Before any of it is imported: assertions in the helpers report their values, as in a test.
pytest.register_assert_rewrite("tests.support", "tests.users.helpers")

pytest_plugins = [
    "tests.support.fixtures.databases",
    "tests.support.fixtures.app",
    "tests.support.fixtures.mail_servers",
    "tests.support.fixtures.oauth",
    "tests.support.fixtures.walmart",
    "tests.support.fixtures.receivers",
]
