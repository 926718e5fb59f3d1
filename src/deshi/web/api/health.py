"""`GET /healthz`: the app is up and its database answers."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from deshi.errors import ServiceUnavailable
from deshi.web.deps import FactoryDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """Liveness and database reachability."""

    status: str
    database: str


@router.get("/healthz", response_model=Health)
def healthz(factory: FactoryDep) -> Health:
    """200 when the database answers a trivial query; 503 problem otherwise."""
    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        raise ServiceUnavailable("the database does not answer") from None
    return Health(status="ok", database="ok")
