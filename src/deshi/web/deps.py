"""Request dependencies: the session (one transaction per request), the caller, the app's
agent registry and its password hasher.

Callers authenticate with `Authorization: Bearer dsh_…` (API tokens) or HTTP Basic with email
and password (for the CLI). The caller is identified in a short transaction of its own, so the
request's own transaction holds no lock while it waits for anything else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)
from sqlalchemy.orm import Session, sessionmaker

from deshi.auth.passwords import PasswordHasher
from deshi.auth.service import authenticate_password, authenticate_token, load_principal
from deshi.auth.throttle import ThrottlePolicy
from deshi.db import transaction
from deshi.errors import AuthenticationFailed
from deshi.kpis.refresh import KpiRefresher
from deshi.learning.registry import AgentRegistry
from deshi.permissions import Principal
from deshi.web.config import ApiConfig

__all__ = [
    "ConfigDep",
    "FactoryDep",
    "KpiRefresherDep",
    "LoginThrottleDep",
    "PasswordHasherDep",
    "PrincipalDep",
    "ReadSessionDep",
    "RegistryDep",
    "SessionDep",
    "client_address",
    "now_of",
]

_bearer = HTTPBearer(auto_error=False, description="An API token: `dsh_…`.")
_basic = HTTPBasic(auto_error=False, description="Email and password (for the CLI).")


def get_factory(request: Request) -> sessionmaker[Session]:
    """The app's session factory."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


def get_config(request: Request) -> ApiConfig:
    """The app's API configuration (limits, lease length)."""
    config: ApiConfig = request.app.state.api_config
    return config


def get_registry(request: Request) -> AgentRegistry:
    """The app's agent registry: one cached agent per process (`create_app(registry=...)`)."""
    registry: AgentRegistry = request.app.state.registry
    return registry


def get_password_hasher(request: Request) -> PasswordHasher:
    """The app's password hasher, at the cost of `settings.password_hash_profile`."""
    hasher: PasswordHasher = request.app.state.password_hasher
    return hasher


def get_kpi_refresher(request: Request) -> KpiRefresher | None:
    """The app's background KPI refresher (`deshi serve`); None: every KPI view is computed
    while it waits (`deshi.kpis.refresh`)."""
    refresher: KpiRefresher | None = getattr(request.app.state, "kpi_refresher", None)
    return refresher


FactoryDep = Annotated[sessionmaker[Session], Depends(get_factory)]
KpiRefresherDep = Annotated[KpiRefresher | None, Depends(get_kpi_refresher)]
ConfigDep = Annotated[ApiConfig, Depends(get_config)]
RegistryDep = Annotated[AgentRegistry, Depends(get_registry)]
PasswordHasherDep = Annotated[PasswordHasher, Depends(get_password_hasher)]


def get_login_throttle(request: Request) -> ThrottlePolicy:
    """The app's login throttling (`DESHI_LOGIN_*` settings)."""
    policy: ThrottlePolicy = request.app.state.login_throttle
    return policy


LoginThrottleDep = Annotated[ThrottlePolicy, Depends(get_login_throttle)]


def now_of(request: Request) -> datetime:
    """The time by the app's clock (`app.state.clock`: utcnow; tests set their own)."""
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


def client_address(request: Request) -> str | None:
    """The client's address: the peer's, or the one a trusted proxy forwarded (uvicorn applies
    X-Forwarded-For from `DESHI_FORWARDED_ALLOW_IPS`)."""
    return request.client.host if request.client else None


def get_session(factory: FactoryDep) -> Iterator[Session]:
    """One transaction per request: committed after the route returns, before the response
    is sent (scope="function"), rolled back when it raises."""
    with transaction(factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_read_session(factory: FactoryDep) -> Iterator[Session]:
    """One read-only transaction per request: on SQLite it begins without the write lock
    (BEGIN, not BEGIN IMMEDIATE), so a long read such as the KPIs never holds up a writer.
    For routes that do not write; their own best-effort writes (the KPI cache) take a short
    transaction of their own."""
    with transaction(factory, lock_early=False) as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


def get_principal(
    request: Request,
    factory: FactoryDep,
    password_hasher: PasswordHasherDep,
    throttle: LoginThrottleDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> Principal:
    """The authenticated caller with their role grants; 401 problem otherwise (429 while
    password sign-ins are throttled)."""
    with transaction(factory) as session:
        if bearer is not None:
            user = authenticate_token(session, token=bearer.credentials)
            return load_principal(session, user.id)
        if basic is None:
            raise AuthenticationFailed("send an API token: Authorization: Bearer dsh_…")
        try:
            user = authenticate_password(
                session,
                email=basic.username,
                password=basic.password,
                password_hasher=password_hasher,
                address=client_address(request),
                throttle=throttle,
                now=now_of(request),
            )
        except AuthenticationFailed as failed:
            refused = failed  # raised after the commit, which keeps the failure's count
        else:
            return load_principal(session, user.id)
    raise refused


PrincipalDep = Annotated[Principal, Depends(get_principal)]
