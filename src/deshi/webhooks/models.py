"""API schemas of webhooks: register (the secret is shown once), list, public view."""

from __future__ import annotations

from datetime import datetime

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from deshi.inputs import InputModel
from deshi.webhooks.outbound import check_url_form

__all__ = ["WebhookCreate", "WebhookCreated", "WebhookPublic"]


class WebhookCreate(InputModel):
    """An endpoint to notify of a process's item events."""

    url: HttpUrl = Field(
        description=(
            "Where deliveries are POSTed: http or https, no `user:password@`, and a host that "
            "resolves to public addresses only (unless the deployment allow-lists it)."
        )
    )
    events: list[str] = Field(
        default_factory=list,
        max_length=10,
        description=(
            "Event names to deliver (`item.decided`, `item.completed`, `process.drift`); "
            "empty: all."
        ),
    )

    @field_validator("url", mode="before")
    @classmethod
    def _plain_form(cls, value: object) -> object:
        """Refuse credentials, other schemes and odd IPv4 spellings while the URL is still as
        written (parsing normalises `http://2130706433/` to `http://127.0.0.1/`)."""
        if isinstance(value, str):
            check_url_form(value)
        return value


class WebhookPublic(BaseModel):
    """A registered webhook as listings show it: never its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    process_id: int
    url: str
    events: list[str]
    active: bool
    created_at: datetime

    @field_validator("url")
    @classmethod
    def _hide_password(cls, value: str) -> str:
        """Webhooks registered before credentials were refused never show their password."""
        url = httpx.URL(value)
        hidden = url.copy_with(username=url.username, password="***")
        return str(hidden) if url.password else value


class WebhookCreated(WebhookPublic):
    """A newly registered webhook with the signing secret, which is shown only this once."""

    secret: str = Field(description="HMAC-SHA256 key of `X-Deshi-Signature`; store it now.")
