"""GET /api/v1/reconciliation: Walmart's Seller Response Rate report beside slawatch's threads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.clock import now
from app.deps import SessionDep, ViewerUser
from app.walmart import rate_service

router = APIRouter(prefix="/api/v1", tags=["walmart"])


class DifferenceOut(BaseModel):
    finding: str = Field(
        description="no_thread, walmart_late (Walmart: late or missed; slawatch: in time), "
        "walmart_in_time (the reverse) or not_in_report"
    )
    reason: str
    purchase_order_id: str | None
    customer_order_id: str | None
    thread_ids: list[int]
    walmart_in_time: bool | None
    slawatch: str | None = Field(description="in_time, late, missed or waiting")
    received_at: datetime | None = Field(description="when Walmart received the message")
    responded_at: datetime | None = Field(description="when Walmart saw the response")


class ReconciliationOut(BaseModel):
    mailbox: str
    report_days: int | None
    report_fetched_at: datetime | None
    report_orders: int = Field(description="orders in Walmart's report")
    report_error: str | None = Field(description="why there is no report to compare yet")
    differences: list[DifferenceOut]


@router.get("/reconciliation")
def get_reconciliation(
    db: SessionDep,
    _: ViewerUser,
    mailbox: Annotated[str | None, Query(max_length=100)] = None,
) -> ReconciliationOut:
    """The orders Walmart's last Seller Response Rate report counted that slawatch has no thread
    for or judges differently, and slawatch's threads about an order the report does not list,
    each with the likely reason."""
    found = rate_service.reconciliation(db, mailbox_name=mailbox, now=now())
    read = found.read
    return ReconciliationOut(
        mailbox=found.mailbox,
        report_days=read.report_days if read else None,
        report_fetched_at=read.report_fetched_at if read else None,
        report_orders=found.orders,
        report_error=found.report_error,
        differences=[
            DifferenceOut(
                finding=d.finding.value,
                reason=d.reason,
                purchase_order_id=d.purchase_order_id,
                customer_order_id=d.customer_order_id,
                thread_ids=d.thread_ids,
                walmart_in_time=d.walmart_in_time,
                slawatch=d.slawatch.value if d.slawatch else None,
                received_at=d.received_at,
                responded_at=d.responded_at,
            )
            for d in found.differences
        ],
    )
