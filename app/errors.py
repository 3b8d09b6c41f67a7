"""slawatch's one family of errors: each one a person can act on, under one base.

Pure (no web framework), so settings and the mail code raise them too. The CLI catches the base;
the API renders ``HttpError`` as ``{"detail": message, "code": code}`` (app.http_errors)."""


class SlawatchError(Exception):
    """The base of every error slawatch raises on purpose; ``message`` says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(SlawatchError):
    """A configuration problem a person must fix; the CLI prints it and exits with code 2."""


class MailError(SlawatchError):
    """A mail server or its credentials failed: ``kind`` says what to check, ``reason`` why, in
    words a person can act on. The IMAP, SMTP and credentials errors (app.mail) derive from it."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class WalmartApiError(SlawatchError):
    """A call to Walmart's Marketplace API failed: ``kind`` is one of ``config`` (no or unusable
    credentials), ``auth`` (the key was refused), ``forbidden`` (the key lacks a permission),
    ``not_found``, ``rate_limited`` or ``unreachable`` (network, timeout, 5xx, an answer that
    cannot be read); ``reason`` says so in words a person can act on, never with a secret."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class ChannelError(SlawatchError):
    """An alert channel (Slack, Teams, a webhook) did not take an alert: ``reason`` names the
    channel and what went wrong, never its URL (the URL is the channel's secret)."""


# The ``code`` of an error body by status, unless the error names its own.
CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "too_many_requests",
    502: "upstream_failed",
    503: "unavailable",
}


class HttpError(SlawatchError):
    """Errors a client can act on, rendered by one handler as ``{"detail": message, "code":
    code}``: ``code`` is stable for programs, ``detail`` says what to do in words."""

    status_code = 400
    code: str | None = None  # None: CODES[status_code]

    def __init__(
        self, message: str, *, status_code: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code

    @property
    def error_code(self) -> str:
        return self.code or CODES.get(self.status_code, "error")


class NotFound(HttpError):
    status_code = 404


class Conflict(HttpError):
    status_code = 409


class SmtpNotConfigured(Conflict):
    """A reply cannot be sent: no [smtp] section, and the mailbox has no SMTP server of its own
    (monitoring only: the seller replies from their own mail client)."""

    code = "smtp_not_configured"


# Errors whose code says more than their status's: ErrorOut lists their codes for programs.
NAMED_CODE_ERRORS: tuple[type[HttpError], ...] = (SmtpNotConfigured,)


class Unauthenticated(HttpError):
    status_code = 401


class Forbidden(HttpError):
    status_code = 403


class LoginRequired(SlawatchError):
    """Raised by page dependencies; rendered as a redirect to the sign-in page."""

    def __init__(self, message: str = "sign in first") -> None:
        super().__init__(message)
