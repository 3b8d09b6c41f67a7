"""The one Jinja environment factory for HTML: the agent's pages, the status page, alert emails.

Reply templates are a different thing (text a person writes, rendered in a sandbox): see
app.replies.render (and the sandbox and caps beside it).
"""

from datetime import datetime

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.clock import duration_text
from app.paths import TEMPLATES_DIR


def format_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def html_templates(folder: str) -> Environment:
    """The templates in templates/<folder>/, autoescaped: message text is shown as text, never
    as HTML. Only plain-text templates (.txt: an alert email's text part) are left unescaped."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR / folder),
        autoescape=select_autoescape(
            enabled_extensions=("html",),
            disabled_extensions=("txt",),
            default_for_string=True,
            default=True,
        ),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["duration"] = duration_text
    environment.filters["utc"] = format_time
    return environment
