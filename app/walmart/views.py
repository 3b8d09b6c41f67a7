"""The order as the API shows it beside a thread (``GET /api/v1/threads/{id}``: ``order`` and
``order_error``, and ``order_events``, what Walmart reported about its lines)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app.models import Thread
from app.walmart import events_repository
from app.walmart.opening import OrderContext


class OrderLineOut(BaseModel):
    line_number: str | None
    product_name: str | None
    status: str | None
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None = Field(description="http(s) only")
    shipped_at: datetime | None
    placeholder_tracking: bool = Field(
        description="USPS 12345, confirmed for an order Amazon MCF shipped: not real tracking"
    )


class ReturnOut(BaseModel):
    return_order_id: str | None
    status: str | None
    refund_status: str | None


class OrderOut(BaseModel):
    purchase_order_id: str | None
    customer_order_id: str | None
    status: str | None
    order_date: datetime | None
    estimated_delivery: datetime | None
    lines: list[OrderLineOut]
    returns: list[ReturnOut]
    fetched_at: datetime | None = Field(description="when this copy was read from Walmart")


def order_out(context: OrderContext) -> OrderOut | None:
    order = context.order
    if order is None:
        return None
    return OrderOut(
        purchase_order_id=order.purchase_order_id,
        customer_order_id=order.customer_order_id,
        status=order.status,
        order_date=order.order_date,
        estimated_delivery=order.estimated_delivery,
        lines=[
            OrderLineOut(
                line_number=line.line_number,
                product_name=line.product_name,
                status=line.status,
                carrier=line.carrier,
                tracking_number=line.tracking_number,
                tracking_url=line.tracking_url,
                shipped_at=line.shipped_at,
                placeholder_tracking=line.placeholder_tracking,
            )
            for line in order.lines
        ],
        returns=[
            ReturnOut(
                return_order_id=r.return_order_id, status=r.status, refund_status=r.refund_status
            )
            for r in order.returns
        ],
        fetched_at=context.fetched_at,
    )


class OrderEventOut(BaseModel):
    """What Walmart said happened to a line of the thread's order (ORDER_UPDATES)."""

    kind: str = Field(description="INTENT_TO_CANCEL, PO_LINE_AUTOCANCELLED or FRAUD_CANCEL")
    purchase_order_id: str
    customer_order_id: str | None
    line_number: str = Field(description='"" when Walmart named no line')
    product_name: str | None
    source: str = Field(description="webhook or poll: the path that saw it first")
    occurred_at: datetime = Field(description="Walmart's eventTime, or when the poll saw it")
    received_at: datetime


def order_events_out(db: Session, thread: Thread, context: OrderContext) -> list[OrderEventOut]:
    """The events of the thread's order, by its number and those its copy resolved."""
    numbers = {thread.order_number} if thread.order_number else set()
    if context.order is not None:
        numbers |= {
            n for n in (context.order.purchase_order_id, context.order.customer_order_id) if n
        }
    return [
        OrderEventOut(
            kind=e.kind,
            purchase_order_id=e.purchase_order_id,
            customer_order_id=e.customer_order_id,
            line_number=e.line_number,
            product_name=e.product_name,
            source=e.source,
            occurred_at=e.occurred_at,
            received_at=e.received_at,
        )
        for e in events_repository.events_about(
            db, mailbox_id=thread.mailbox_id, order_numbers=numbers
        )
    ]
