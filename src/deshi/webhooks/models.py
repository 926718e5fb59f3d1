"""API schemas of webhooks: register (the secret is shown once), list, public view."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

__all__ = ["WebhookCreate", "WebhookCreated", "WebhookPublic"]


class WebhookCreate(BaseModel):
    """An endpoint to notify of a process's item events."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrl = Field(description="Where deliveries are POSTed (http or https).")
    events: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Event names to deliver (`item.decided`, `item.completed`); empty: all.",
    )


class WebhookPublic(BaseModel):
    """A registered webhook as listings show it: never its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    process_id: int
    url: str
    events: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookPublic):
    """A newly registered webhook with the signing secret, which is shown only this once."""

    secret: str = Field(description="HMAC-SHA256 key of `X-Deshi-Signature`; store it now.")
