"""How long a thread may wait (``[sla]``): the Walmart customer policy and per-marketplace,
per-kind overrides."""

from __future__ import annotations

from pydantic import Field, model_validator

from app.config.fields import Section


class KindPolicy(Section):
    """How long one kind of thread may wait, in calendar hours (weekends and holidays count)."""

    response_hours: float = Field(gt=0)
    at_risk_hours: float = Field(ge=0)
    warn_after_hours: list[float] = Field(default_factory=list)
    # Reminders: levels this many hours before the deadline (e.g. [6, 2, 1]).
    remind_before_hours: list[float] = Field(default_factory=list)

    @model_validator(mode="after")
    def _levels_inside_window(self) -> KindPolicy:
        if self.at_risk_hours >= self.response_hours:
            raise ValueError(
                f"at_risk_hours ({self.at_risk_hours:g}) must be less than "
                f"response_hours ({self.response_hours:g})"
            )
        late = [h for h in self.warn_after_hours if not 0 < h < self.response_hours]
        if late:
            raise ValueError(
                f"warn_after_hours {late} must lie between 0 and response_hours "
                f"({self.response_hours:g})"
            )
        early = [h for h in self.remind_before_hours if not 0 < h < self.response_hours]
        if early:
            raise ValueError(
                f"remind_before_hours {early} must lie between 0 and response_hours "
                f"({self.response_hours:g})"
            )
        return self


class MarketplacePolicy(Section):
    customer: KindPolicy | None = None
    escalation: KindPolicy | None = None
    complaint: KindPolicy | None = None
    # Whether a wait closed as "no response needed" still counts in the response rate (missed
    # once its deadline passes). None: the marketplace's own rule (CLOSE_COUNTS_IN_RATE).
    close_counts_in_rate: bool | None = None
    # The response rate the marketplace holds sellers to (a share). None: RESPONSE_RATE_TARGET.
    response_rate_target: float | None = Field(default=None, gt=0, le=1)


# Walmart: 48 hours for every customer message, 1 hour for a BBB or Attorney General complaint;
# Amazon asks for 24 hours. Escalations share the customer policy unless configured apart.
COMPLAINT_POLICY = KindPolicy(response_hours=1, at_risk_hours=0.5)
AMAZON_POLICY = KindPolicy(response_hours=24, at_risk_hours=6)
# Walmart: "all messages require a response", so a message closed as "no response needed" still
# counts as an inquiry; Amazon's "no response needed" removes it from its Late Response Rate.
# Any other marketplace counts it, as Walmart does: a rate is not flattered by closing.
CLOSE_COUNTS_IN_RATE = {"walmart": True, "amazon": False}
# Walmart: a Seller Response Rate above 95 %; Amazon: a Late Response Rate under 10 %. Any other
# marketplace is held to Walmart's line unless configured.
RESPONSE_RATE_TARGET = {"walmart": 0.95, "amazon": 0.90}


class CancellationPolicy(Section):
    """How long a customer's request to cancel an order (Walmart's INTENT_TO_CANCEL) may wait
    for the seller. Walmart publishes no window; the line must be stopped before it ships, so a
    few hours by default, not the two days of a message."""

    response_hours: float = Field(default=4, gt=0)


class SlaSettings(Section):
    """``response_hours``, ``at_risk_hours``, ``warn_after_hours`` and ``remind_before_hours`` are
    the Walmart customer policy; ``[sla.marketplaces.NAME.KIND]`` overrides any entry or adds a
    marketplace."""

    response_hours: float = Field(default=48, gt=0)
    at_risk_hours: float = Field(default=12, ge=0)
    warn_after_hours: list[float] = Field(default_factory=list)
    remind_before_hours: list[float] = Field(default_factory=list)
    marketplaces: dict[str, MarketplacePolicy] = Field(default_factory=dict)
    # ``[sla.cancellation]``: how long a cancellation request may wait for the seller.
    cancellation: CancellationPolicy = CancellationPolicy()

    @model_validator(mode="after")
    def _valid_policies(self) -> SlaSettings:
        self._walmart()  # validates the top-level values as a policy
        incomplete = [
            name
            for name, policy in self.marketplaces.items()
            if name not in ("walmart", "amazon") and policy.customer is None
        ]
        if incomplete:
            raise ValueError(f"marketplaces {incomplete} need a customer policy")
        return self

    def _walmart(self) -> KindPolicy:
        return KindPolicy(
            response_hours=self.response_hours,
            at_risk_hours=self.at_risk_hours,
            warn_after_hours=self.warn_after_hours,
            remind_before_hours=self.remind_before_hours,
        )

    def marketplace_names(self) -> set[str]:
        return {"walmart", "amazon", *self.marketplaces}

    def policy(self, marketplace: str, kind: str) -> KindPolicy:
        """The policy for a thread ``kind`` (customer, escalation, complaint) of a marketplace."""
        configured = self.marketplaces.get(marketplace) or MarketplacePolicy()
        preset = AMAZON_POLICY if marketplace == "amazon" else self._walmart()
        customer = configured.customer or preset
        by_kind = {
            "customer": customer,
            "escalation": configured.escalation or customer,
            "complaint": configured.complaint or COMPLAINT_POLICY,
        }
        return by_kind[kind]

    def close_counts_in_rate(self, marketplace: str) -> bool:
        """Whether closing a thread as "no response needed" leaves its wait in the rate."""
        configured = self.marketplaces.get(marketplace)
        if configured is not None and configured.close_counts_in_rate is not None:
            return configured.close_counts_in_rate
        return CLOSE_COUNTS_IN_RATE.get(marketplace, True)

    def response_rate_target(self, marketplace: str) -> float:
        """The share of waits the marketplace wants answered in time."""
        configured = self.marketplaces.get(marketplace)
        if configured is not None and configured.response_rate_target is not None:
            return configured.response_rate_target
        return RESPONSE_RATE_TARGET.get(marketplace, RESPONSE_RATE_TARGET["walmart"])
