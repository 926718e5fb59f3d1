"""Actions, grants and the pure permission check: who may do what in which department.

The roles themselves (`Role`) are stored in tables, so they live in `deshi.domain`.

Permission matrix (✓ = allowed in the departments where the role is granted)::

                     read  review  manage_process  manage_models  manage_users  read_audit
    admin             ✓      ✓          ✓               ✓              ✓             ✓
    owner             ✓      ✓          ✓               ✓                            ✓
    reviewer          ✓      ✓
    auditor           ✓                                                              ✓

An admin grant without a department is workspace-wide: it allows every action in every
department and the workspace-level actions (department_id None), e.g. managing users.
A principal with no grant at all in a department cannot see it: `require` reports NotFound so
that the existence of other departments' objects never leaks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from deshi.domain import Role
from deshi.errors import NotFound, PermissionDenied

__all__ = [
    "ROLE_ACTIONS",
    "Action",
    "Grant",
    "Principal",
    "can",
    "can_see",
    "require",
    "require_workspace",
]


class Action(StrEnum):
    """Everything that is permission-checked."""

    READ = "read"  # see processes, items, decisions, KPIs
    REVIEW = "review"  # claim and review items
    MANAGE_PROCESS = "manage_process"  # create/edit processes, policy, webhooks
    MANAGE_MODELS = "manage_models"  # retrain, promote, retire model versions
    MANAGE_USERS = "manage_users"  # create users, grant and revoke roles
    READ_AUDIT = "read_audit"  # read the audit log


ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.OWNER: frozenset(
        {Action.READ, Action.REVIEW, Action.MANAGE_PROCESS, Action.MANAGE_MODELS, Action.READ_AUDIT}
    ),
    Role.REVIEWER: frozenset({Action.READ, Action.REVIEW}),
    Role.AUDITOR: frozenset({Action.READ, Action.READ_AUDIT}),
}


@dataclass(frozen=True, slots=True)
class Grant:
    """One role in one department; department_id None = workspace-wide (admin only)."""

    role: Role
    department_id: int | None


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a user and their grants, as loaded for one request.

    `locale` is the user's saved language (`User.locale`), loaded with the grants so a route can
    answer in it without another query; None when the principal was not loaded from a user.
    """

    user_id: int
    grants: frozenset[Grant]
    locale: str | None = None

    @classmethod
    def of(cls, user_id: int, grants: Iterable[Grant], *, locale: str | None = None) -> Principal:
        """Build a principal from any iterable of grants."""
        return cls(user_id=user_id, grants=frozenset(grants), locale=locale)

    @property
    def actor(self) -> str:
        """How this principal is named in the audit log."""
        return f"user:{self.user_id}"

    @property
    def is_workspace_admin(self) -> bool:
        """True when the principal holds a workspace-wide admin grant."""
        return Grant(Role.ADMIN, None) in self.grants


def _roles_in(principal: Principal, department_id: int | None) -> set[Role]:
    """The roles that apply in a department (workspace-wide admin applies everywhere)."""
    roles = {g.role for g in principal.grants if g.department_id == department_id}
    if principal.is_workspace_admin:
        roles.add(Role.ADMIN)
    return roles


def can_see(principal: Principal, department_id: int | None) -> bool:
    """True when the principal holds any role in the department (so its objects exist for them)."""
    return bool(_roles_in(principal, department_id))


def can(principal: Principal, action: Action, department_id: int | None) -> bool:
    """True when one of the principal's roles in the department allows the action."""
    return any(action in ROLE_ACTIONS[role] for role in _roles_in(principal, department_id))


def require(principal: Principal, action: Action, department_id: int | None) -> None:
    """Raise NotFound if the department is invisible to the principal, PermissionDenied if the
    action is not allowed there; return quietly otherwise."""
    if not can_see(principal, department_id):
        raise NotFound()
    if not can(principal, action, department_id):
        raise PermissionDenied(f"{action.value} is not allowed for your roles here")


def require_workspace(principal: Principal, action: Action) -> None:
    """Raise PermissionDenied unless the principal may do a workspace-level action (creating
    departments and users: a workspace admin). Workspace endpoints exist for every caller, so
    the answer is 403, never 404."""
    if not can(principal, action, None):
        raise PermissionDenied(f"{action.value} across the workspace needs a workspace admin")
