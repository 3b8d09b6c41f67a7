"""Logging set-up for the CLI and the server: one line per record, UTC timestamps."""

import logging
import time


def configure_logging(level: str) -> None:
    formatter = logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%SZ"
    )
    formatter.converter = time.gmtime
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Alembic announces each of its plugins at INFO on every run: noise for an operator.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # APScheduler logs two INFO lines for every job run (several a minute in a worker); its
    # missed runs (WARNING) and failures (ERROR) still show. DEBUG shows everything.
    # httpx logs every request's URL at INFO, and an alert channel's URL is its secret (a Slack
    # or Teams webhook URL is all it takes to post to the team): never, at any level.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if root.level > logging.DEBUG:
        logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
