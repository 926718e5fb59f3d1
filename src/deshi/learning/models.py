"""The API's schemas for model versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from deshi.domain import ModelStatus

__all__ = ["ModelVersionPublic"]


class ModelVersionPublic(BaseModel):
    """A stored model version (without its artifact)."""

    model_config = ConfigDict(from_attributes=True)

    version: int
    status: ModelStatus
    threshold: float | None
    trained_on: int
    metrics: dict[str, Any]
    created_at: datetime
    promoted_at: datetime | None
