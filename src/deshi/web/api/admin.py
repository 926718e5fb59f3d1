"""Administration routes: departments, users, role grants and API tokens.

Who may call which is in docs/service.md ("Roles and endpoints"); the rules live in
`deshi.processes.service` (departments) and `deshi.auth.admin` (users, grants, tokens).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.orm import Session

from deshi.auth import admin
from deshi.auth.models import (
    PasswordChange,
    PasswordIssued,
    RoleGrantCreate,
    RoleGrantPublic,
    TokenCreate,
    TokenIssued,
    TokenPublic,
    UserCreate,
    UserCreated,
    UserPublic,
    UserUpdate,
)
from deshi.auth.service import change_own_password
from deshi.db import transaction
from deshi.db.tables import ApiToken
from deshi.errors import AuthenticationFailed
from deshi.processes import service as processes
from deshi.processes.models import DepartmentCreate, DepartmentPublic, DepartmentUpdate
from deshi.web.deps import (
    FactoryDep,
    LoginThrottleDep,
    PasswordHasherDep,
    PrincipalDep,
    SessionDep,
    client_address,
    now_of,
)
from deshi.web.params import PathId, QueryId

__all__ = ["router", "token_public"]

router = APIRouter(tags=["administration"])


def token_public(session: Session, tokens: list[ApiToken]) -> list[TokenPublic]:
    """Tokens as listed, each with its owner's email."""
    owners = admin.token_owners(session, tokens)
    return [
        TokenPublic.model_validate(t).model_copy(update={"owner_email": owners.get(t.user_id)})
        for t in tokens
    ]


# --- departments ---------------------------------------------------------------------------


@router.post("/departments", response_model=DepartmentPublic, status_code=status.HTTP_201_CREATED)
def create_department(
    body: DepartmentCreate, session: SessionDep, principal: PrincipalDep
) -> object:
    """Create a department (workspace admin)."""
    return processes.create_department_for(session, principal=principal, name=body.name)


@router.get("/departments", response_model=list[DepartmentPublic])
def list_departments(
    session: SessionDep, principal: PrincipalDep, include_archived: bool = False
) -> object:
    """The departments where you hold a role (all of them for a workspace admin)."""
    return processes.list_departments_for(
        session, principal=principal, include_archived=include_archived
    )


@router.patch("/departments/{department_id}", response_model=DepartmentPublic)
def rename_department(
    department_id: PathId, body: DepartmentUpdate, session: SessionDep, principal: PrincipalDep
) -> object:
    """Rename a department you administer."""
    return processes.rename_department_for(
        session, principal=principal, department_id=department_id, name=body.name
    )


@router.post("/departments/{department_id}/archive", response_model=DepartmentPublic)
def archive_department(
    department_id: PathId, session: SessionDep, principal: PrincipalDep
) -> object:
    """Archive a department you administer; its processes must be archived first."""
    return processes.archive_department_for(
        session, principal=principal, department_id=department_id
    )


# --- users ---------------------------------------------------------------------------------


@router.post("/users", response_model=UserCreated, status_code=status.HTTP_201_CREATED)
def create_user(
    body: UserCreate, session: SessionDep, principal: PrincipalDep, hasher: PasswordHasherDep
) -> UserCreated:
    """Create a person (the response holds their one-time password, shown only this once) or
    a service account (`service: true`: no password, API tokens only). Workspace admin."""
    account = admin.create_account_for(
        session,
        principal=principal,
        email=body.email,
        display_name=body.display_name,
        locale=body.locale,
        service=body.service,
        password_hasher=hasher,
    )
    public = UserPublic.of(account.user)
    return UserCreated(**public.model_dump(), password=account.password)


@router.get("/users", response_model=list[UserPublic])
def list_users(
    session: SessionDep, principal: PrincipalDep, include_inactive: bool = True
) -> list[UserPublic]:
    """Every user (workspace admin)."""
    users = admin.list_users_for(session, principal=principal, include_inactive=include_inactive)
    return [UserPublic.of(u) for u in users]


@router.patch("/users/{user_id}", response_model=UserPublic)
def update_user(
    user_id: PathId, body: UserUpdate, session: SessionDep, principal: PrincipalDep
) -> UserPublic:
    """Change a display name or language: your own, or anyone's as a workspace admin."""
    user = admin.update_user_for(
        session,
        principal=principal,
        user_id=user_id,
        display_name=body.display_name,
        locale=body.locale,
    )
    return UserPublic.of(user)


@router.post("/users/{user_id}/deactivate", response_model=UserPublic)
def deactivate_user(user_id: PathId, session: SessionDep, principal: PrincipalDep) -> UserPublic:
    """Deactivate a user: their password, tokens and sessions stop working at once."""
    return UserPublic.of(admin.deactivate_user_for(session, principal=principal, user_id=user_id))


@router.post("/users/{user_id}/reactivate", response_model=UserPublic)
def reactivate_user(user_id: PathId, session: SessionDep, principal: PrincipalDep) -> UserPublic:
    """Let a deactivated user in again, with the grants they had (409 if already active)."""
    return UserPublic.of(admin.reactivate_user_for(session, principal=principal, user_id=user_id))


@router.post("/users/{user_id}/reset-password", response_model=PasswordIssued)
def reset_password(
    user_id: PathId, session: SessionDep, principal: PrincipalDep, hasher: PasswordHasherDep
) -> PasswordIssued:
    """A new one-time password for a person, shown only this once; the old one stops working."""
    password = admin.reset_password_for(
        session, principal=principal, user_id=user_id, password_hasher=hasher
    )
    return PasswordIssued(id=user_id, password=password)


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        401: {"description": "No or unknown credentials, or the current password is wrong."},
        422: {"description": "The new password is too short or equals the current one."},
        429: {
            "description": "Too many wrong passwords for this account or address (the sign-in "
            "throttle); `Retry-After` says when to try again."
        },
    },
)
def change_password(
    request: Request,
    body: PasswordChange,
    factory: FactoryDep,
    principal: PrincipalDep,
    hasher: PasswordHasherDep,
    throttle: LoginThrottleDep,
) -> Response:
    """Change your own password (any signed-in person; the current password proves it is
    you). A wrong current password counts as a failed sign-in, so guessing it is throttled
    like signing in. Your browser sessions end; API tokens keep working. No CLI: the operator
    uses `deshi user reset-password`."""
    with transaction(factory) as session:
        try:
            change_own_password(
                session,
                user_id=principal.user_id,
                current_password=body.current_password,
                new_password=body.new_password,
                password_hasher=hasher,
                address=client_address(request),
                throttle=throttle,
                now=now_of(request),
            )
        except AuthenticationFailed as failed:
            refused = failed  # raised after the commit, which keeps the failure's count
        else:
            return Response(status_code=status.HTTP_204_NO_CONTENT)
    raise refused


# --- role grants ---------------------------------------------------------------------------


@router.post("/roles", response_model=RoleGrantPublic, status_code=status.HTTP_201_CREATED)
def grant_role(
    body: RoleGrantCreate,
    session: SessionDep,
    principal: PrincipalDep,
    department_id: QueryId = None,
) -> object:
    """Grant a role in `?department_id=` (omitted: workspace-wide admin, by a workspace admin)
    to a user named by `user_id` or `email`."""
    user = admin.resolve_user(session, user_id=body.user_id, email=body.email)
    return admin.grant_role_for(
        session, principal=principal, user_id=user.id, role=body.role, department_id=department_id
    )


@router.get("/roles", response_model=list[RoleGrantPublic])
def list_roles(
    session: SessionDep, principal: PrincipalDep, department_id: QueryId = None
) -> object:
    """The grants of a department you administer (omitted: of every one you administer)."""
    return admin.list_grants_for(session, principal=principal, department_id=department_id)


@router.delete("/roles/{grant_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_role(grant_id: PathId, session: SessionDep, principal: PrincipalDep) -> Response:
    """Revoke a grant in a department you administer."""
    admin.revoke_grant_for(session, principal=principal, grant_id=grant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- API tokens ----------------------------------------------------------------------------


@router.post("/tokens", response_model=TokenIssued, status_code=status.HTTP_201_CREATED)
def issue_token(body: TokenCreate, session: SessionDep, principal: PrincipalDep) -> TokenIssued:
    """Issue a token for yourself or (workspace admin) a service account; the response holds
    the token, shown only this once."""
    issued = admin.issue_token_for(
        session, principal=principal, name=body.name, user_id=body.user_id
    )
    [listed] = token_public(session, [issued.token])
    return TokenIssued(**listed.model_dump(), token=issued.plaintext)


@router.get("/tokens", response_model=list[TokenPublic])
def list_tokens(
    session: SessionDep, principal: PrincipalDep, everyone: bool = False
) -> list[TokenPublic]:
    """Your tokens, revoked ones too; `?everyone=true`: every token (workspace admin)."""
    tokens = admin.list_tokens_for(session, principal=principal, everyone=everyone)
    return token_public(session, tokens)


@router.post("/tokens/{token_id}/revoke", response_model=TokenPublic)
def revoke_token(token_id: PathId, session: SessionDep, principal: PrincipalDep) -> TokenPublic:
    """Revoke one of your tokens (workspace admin: anyone's); it stops working at once."""
    token = admin.revoke_token_for(session, principal=principal, token_id=token_id)
    [listed] = token_public(session, [token])
    return listed
