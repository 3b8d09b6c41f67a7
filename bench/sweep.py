"""Sweep benchmark: 10,000 and 1,000,000 threads of which 1% reach "at risk" now.

Run: .venv/bin/python -m bench.sweep [--sizes 10000 1000000] [--database-url postgresql://...]
Reports the time to record the transitions and their alerts, and to deliver the alerts to a local
SMTP server (aiosmtpd). Goal: the time grows with the transitions, not with the table.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from aiosmtpd.controller import Controller
from sqlalchemy import text, update

from app.alerts.jobs import deliver_due
from app.alerts.service import alerts_for_transitions
from app.clock import now
from app.config import AlertSettings, Settings, SmtpSettings
from app.db import make_engine, make_session_factory, session_scope
from app.mailboxes import registry
from app.models import Thread
from app.threads.sweep import transitions_due
from bench.common import fresh_database
from bench.threads_api import fill
from tests.support.dovecot import free_port


class Sink:
    """Accepts and forgets: the benchmark measures slawatch, not the mail server."""

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        return "250 OK"


def run(size: int, database_url: str | None, port: int) -> None:
    url = fresh_database(database_url)
    fill(url, size)
    engine = make_engine(url)
    at = now()
    started = at - timedelta(hours=40)  # 40 h into 48: at risk, once the sweep looks
    with engine.begin() as connection:
        # Every waiting thread's next level change is in the future, except 1% whose time is now.
        connection.execute(
            update(Thread)
            .where(Thread.due_at.is_not(None))
            .values(sla_level="waiting", next_transition_at=Thread.at_risk_at)
        )
        connection.execute(
            update(Thread)
            .where(Thread.id % 100 == 0)
            .values(
                clock_started_at=started,
                due_at=started + timedelta(hours=48),
                at_risk_at=started + timedelta(hours=36),
                sla_level="waiting",
                next_transition_at=started + timedelta(hours=36),
            )
        )
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE threads"))
    settings = Settings(
        database_url=url,
        smtp=SmtpSettings(host="127.0.0.1", port=port, security="plain"),
        alerts=AlertSettings(
            recipients=["team@store.example"], from_address="slawatch@store.example"
        ),
    )
    session_factory = make_session_factory(engine)
    began = time.perf_counter()
    with session_scope(session_factory) as db:
        transitions = transitions_due(
            db, now=at, sla_settings=settings.sla, marketplaces=registry.marketplaces(db, settings)
        )
        alerts = alerts_for_transitions(db, transitions, settings=settings, now=at)
    recorded = time.perf_counter() - began
    began = time.perf_counter()
    delivery = deliver_due(session_factory, settings, now=at)
    delivered = time.perf_counter() - began
    began = time.perf_counter()
    with session_scope(session_factory) as db:
        again = transitions_due(
            db, now=at, sla_settings=settings.sla, marketplaces=registry.marketplaces(db, settings)
        )
    idle = time.perf_counter() - began
    per_transition = recorded / max(len(transitions), 1) * 1000
    print(
        f"{size} threads ({engine.dialect.name}), {len(transitions)} transitioning: "
        f"recorded with {len(alerts)} alerts in {recorded:.2f} s "
        f"({per_transition:.3f} ms a transition), {delivery.sent} alerts "
        f"delivered in {delivered:.2f} s; a sweep with nothing due: {idle * 1000:.1f} ms "
        f"({len(again)} transitions)"
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--database-url", help="default: a new SQLite file")
    args = parser.parse_args()
    controller = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        for size in args.sizes:
            run(size, args.database_url, controller.port)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
