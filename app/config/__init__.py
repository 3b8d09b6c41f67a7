"""All of slawatch's settings, in one place.

Settings come from a TOML file (``slawatch.toml`` in the working directory, or the path in
``SLAWATCH_CONFIG``) and from ``SLAWATCH_*`` environment variables, which win over the file
(nested keys use ``__``: ``SLAWATCH_SLA__RESPONSE_HOURS=24``). Secrets are never stored here:
a password is given as the *name* of an environment variable and read only when it is used.

One module per section (mailbox, smtp, alerts, sla, the smaller ones in sections), the values
they are made of in fields, secrets read when used in secrets, reading the file and the
environment in loading; the rest of slawatch imports them from here.
"""

from app.config.alerts import AlertSettings, QuietHours
from app.config.channels import AlertChannel
from app.config.loading import CONFIG_ENV_VAR, config_file_path, describe_problem, load_settings
from app.config.mailbox import DEFAULT_SPAM_WHITELIST, MailboxSettings
from app.config.sections import (
    ApiMailboxSettings,
    AuthSettings,
    ReplySettings,
    ServerSettings,
    StatusSettings,
    WorkerSettings,
)
from app.config.settings import ENV_PREFIX, Settings
from app.config.sla import COMPLAINT_POLICY, KindPolicy, SlaSettings
from app.config.smtp import SmtpSettings

__all__ = [
    "COMPLAINT_POLICY",
    "CONFIG_ENV_VAR",
    "DEFAULT_SPAM_WHITELIST",
    "ENV_PREFIX",
    "AlertChannel",
    "AlertSettings",
    "ApiMailboxSettings",
    "AuthSettings",
    "KindPolicy",
    "MailboxSettings",
    "QuietHours",
    "ReplySettings",
    "ServerSettings",
    "Settings",
    "SlaSettings",
    "SmtpSettings",
    "StatusSettings",
    "WorkerSettings",
    "config_file_path",
    "describe_problem",
    "load_settings",
]
