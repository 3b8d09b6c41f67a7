"""Internal alerts (``[alerts]``): who gets the emails, the chat and webhook channels beside them,
and when non-urgent ones wait."""

from __future__ import annotations

from datetime import time

from pydantic import Field, model_validator

from app.config.channels import AlertChannel
from app.config.fields import EmailAddress, Section, TimeZoneName
from app.marketplaces import is_marketplace_relay


class QuietHours(Section):
    """Hours in the team's time zone when non-urgent alerts wait; customers' clocks keep running."""

    start: time
    end: time
    timezone: TimeZoneName = "UTC"

    @model_validator(mode="after")
    def _distinct_ends(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours need a start different from their end")
        return self


class AlertSettings(Section):
    """Internal alert emails: only ever to these configured addresses, never to a customer."""

    recipients: list[EmailAddress] = Field(default_factory=list)
    manager_recipients: list[EmailAddress] = Field(default_factory=list)
    from_address: EmailAddress | None = None
    digest_minutes: int = Field(default=0, ge=0, le=24 * 60)
    quiet_hours: QuietHours | None = None
    poll_failure_minutes: int = Field(default=15, ge=1)
    max_attempts: int = Field(default=8, ge=1)
    channels: list[AlertChannel] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_customer_addresses(self) -> AlertSettings:
        for address in [*self.recipients, *self.manager_recipients]:
            if is_marketplace_relay(address):
                raise ValueError(
                    f"{address} is a marketplace relay (customer) address; alerts "
                    "go only to the seller's team"
                )
        return self

    @model_validator(mode="after")
    def _unique_channels(self) -> AlertSettings:
        keys = [channel.key for channel in self.channels]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise ValueError(
                f"alert channels must have distinct names; repeated: {', '.join(repeated)} "
                "(set name = ... on each)"
            )
        return self
