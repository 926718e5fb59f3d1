"""`GET /healthz` (liveness: the app is up and its database answers) and `GET /readyz`
(readiness: the database answers within `READY_TIMEOUT_SECONDS`); neither needs a sign-in."""

from __future__ import annotations

import threading

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from deshi.errors import ServiceUnavailable
from deshi.web.deps import FactoryDep

READY_TIMEOUT_SECONDS = 2.0  # a load balancer's probe usually gives up after a few seconds

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """Liveness and database reachability."""

    status: str
    database: str


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"description": "The database does not answer."}},
)
def healthz(factory: FactoryDep) -> Health:
    """200 when the database answers a trivial query; 503 problem otherwise."""
    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        raise ServiceUnavailable("the database does not answer") from None
    return Health(status="ok", database="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"description": "The database did not answer within 2 seconds."}},
)
def readyz(factory: FactoryDep) -> Health:
    """200 when the database answers `SELECT 1` within 2 seconds; 503 problem otherwise, so a
    load balancer sends no traffic to a server that cannot reach its database."""
    if not _database_answers(factory, timeout=READY_TIMEOUT_SECONDS):
        raise ServiceUnavailable("the database did not answer in time")
    return Health(status="ready", database="ok")


def _database_answers(factory: FactoryDep, *, timeout: float) -> bool:
    """Run the query in a thread of its own, so a hung connection (a full pool, a database
    host that dropped off the network) costs the probe `timeout`, not the pool's 30 s."""
    done = threading.Event()
    answered: list[bool] = []

    def probe() -> None:
        try:
            with factory() as session:
                session.execute(text("SELECT 1"))
            answered.append(True)
        except SQLAlchemyError:
            pass  # answered stays empty: not ready
        finally:
            done.set()

    threading.Thread(target=probe, name="deshi-readyz", daemon=True).start()
    return done.wait(timeout) and bool(answered)
