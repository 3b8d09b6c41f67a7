"""Walmart's own response rate as the API shows it (GET /api/v1/summary)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from pydantic import BaseModel, Field

from app.walmart.rate_service import FigureOrReason


class WalmartRateOut(BaseModel):
    """Walmart's own Seller Response Rate of a seller account, as Walmart last reported it."""

    mailbox: str = Field(description="the mailbox (seller account) the figure is of")
    rate_30d: float | None = Field(description="share answered within 48 h, 0 to 1")
    rate_60d: float | None
    trend_30d: str | None = Field(description="Walmart's trend, e.g. GREEN_UP or RED_DOWN")
    risk_level: str | None
    impacted_customers_30d: int | None
    fetched_at: datetime | None = Field(description="when slawatch read it from Walmart")

    @classmethod
    def of(cls, found: FigureOrReason) -> WalmartRateOut | None:
        return None if found.figure is None else cls(**asdict(found.figure))
