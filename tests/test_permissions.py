from __future__ import annotations

import pytest

from deshi.domain import Role
from deshi.errors import NotFound, PermissionDenied
from deshi.permissions import Action, Grant, Principal, can, can_see, require

OWN, OTHER = 1, 2

# Written out by hand (not derived from ROLE_ACTIONS) so a change to the matrix is a visible diff.
ALLOWED: dict[Role, set[Action]] = {
    Role.ADMIN: set(Action),
    Role.OWNER: {
        Action.READ,
        Action.REVIEW,
        Action.MANAGE_PROCESS,
        Action.MANAGE_MODELS,
        Action.READ_AUDIT,
    },
    Role.REVIEWER: {Action.READ, Action.REVIEW},
    Role.AUDITOR: {Action.READ, Action.READ_AUDIT},
}


def _principal(*grants: Grant) -> Principal:
    return Principal.of(7, grants)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
def test_role_allows_its_actions_in_its_own_department(role: Role, action: Action) -> None:
    principal = _principal(Grant(role, OWN))
    assert can(principal, action, OWN) is (action in ALLOWED[role])


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
def test_role_allows_nothing_in_another_department(role: Role, action: Action) -> None:
    principal = _principal(Grant(role, OWN))
    assert can(principal, action, OTHER) is False
    assert can(principal, action, None) is False
    with pytest.raises(NotFound):
        require(principal, action, OTHER)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
def test_require_distinguishes_forbidden_from_invisible(role: Role, action: Action) -> None:
    principal = _principal(Grant(role, OWN))
    if action in ALLOWED[role]:
        require(principal, action, OWN)
    else:
        with pytest.raises(PermissionDenied):
            require(principal, action, OWN)


@pytest.mark.parametrize("action", list(Action))
def test_workspace_admin_may_do_everything_everywhere(action: Action) -> None:
    principal = _principal(Grant(Role.ADMIN, None))
    assert principal.is_workspace_admin
    for department in (OWN, OTHER, None):
        assert can(principal, action, department)


def test_auditor_changes_nothing() -> None:
    auditor = _principal(Grant(Role.AUDITOR, OWN))
    changes = {Action.REVIEW, Action.MANAGE_PROCESS, Action.MANAGE_MODELS, Action.MANAGE_USERS}
    assert not any(can(auditor, action, OWN) for action in changes)
    assert can(auditor, Action.READ, OWN) and can(auditor, Action.READ_AUDIT, OWN)


def test_roles_combine_across_departments() -> None:
    principal = _principal(Grant(Role.REVIEWER, OWN), Grant(Role.OWNER, OTHER))
    assert not can(principal, Action.MANAGE_PROCESS, OWN)
    assert can(principal, Action.MANAGE_PROCESS, OTHER)
    assert can_see(principal, OWN) and can_see(principal, OTHER) and not can_see(principal, 3)


def test_a_principal_without_grants_sees_nothing() -> None:
    nobody = _principal()
    assert not any(can(nobody, action, OWN) for action in Action)
    assert nobody.actor == "user:7"
