"""The order as the API shows it beside a thread (``GET /api/v1/threads/{id}``: ``order`` and
``order_error``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

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
