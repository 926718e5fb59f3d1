"""Request dependencies: the session (one transaction per request), the caller, and the app's
agent registry.

Callers authenticate with `Authorization: Bearer dsh_…` (API tokens) or HTTP Basic with email
and password (for the CLI). The caller is identified in a short transaction of its own, so the
request's own transaction holds no lock while it waits for anything else.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)
from sqlalchemy.orm import Session, sessionmaker

from deshi.auth.service import authenticate_password, authenticate_token, load_principal
from deshi.db import transaction
from deshi.errors import AuthenticationFailed
from deshi.learning.registry import AgentRegistry
from deshi.permissions import Principal
from deshi.web.config import ApiConfig

__all__ = ["ConfigDep", "FactoryDep", "PrincipalDep", "RegistryDep", "SessionDep"]

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


FactoryDep = Annotated[sessionmaker[Session], Depends(get_factory)]
ConfigDep = Annotated[ApiConfig, Depends(get_config)]
RegistryDep = Annotated[AgentRegistry, Depends(get_registry)]


def get_session(factory: FactoryDep) -> Iterator[Session]:
    """One transaction per request: committed after the route returns, before the response
    is sent (scope="function"), rolled back when it raises."""
    with transaction(factory) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_principal(
    factory: FactoryDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> Principal:
    """The authenticated caller with their role grants; 401 problem otherwise."""
    with transaction(factory) as session:
        if bearer is not None:
            user = authenticate_token(session, token=bearer.credentials)
        elif basic is not None:
            user = authenticate_password(session, email=basic.username, password=basic.password)
        else:
            raise AuthenticationFailed("send an API token: Authorization: Bearer dsh_…")
        return load_principal(session, user.id)


PrincipalDep = Annotated[Principal, Depends(get_principal)]
