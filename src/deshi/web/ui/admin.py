"""The Administration pages: first-run steps, departments, users and roles, API tokens,
processes (create, policy, archive) and model versions.

Each form posts to a route that calls the same service function as the API (which checks the
viewer's permission) and redirects back; a refusal re-renders the page with its reason, and a
secret (a one-time password, a token) is shown in the answer to its form and never again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from deshi.auth import admin
from deshi.auth.models import UserPublic
from deshi.domain import FeaturizerName, Mode, NewLabels, Role
from deshi.drafting.autosend_state import autosend_status
from deshi.errors import DeshiError, ValidationFailed
from deshi.history import golive
from deshi.history import service as history
from deshi.inputs import MAX_ID, validated
from deshi.learning import versions
from deshi.permissions import Action, Principal, can, require_workspace
from deshi.processes import service as processes
from deshi.processes.draft_fields import (
    FIELD_NAME_PATTERN,
    MAX_FIELD_NAME_CHARS,
    MAX_INSTRUCTION_CHARS,
)
from deshi.processes.label_guidance import MAX_GUIDANCE_CHARS
from deshi.processes.label_names import LANGUAGES, humanized
from deshi.processes.models import LabelNamesUpdate, ProcessCreate, ProcessUpdate
from deshi.processes.owner_texts import cleaned
from deshi.web.deps import PasswordHasherDep, SessionDep
from deshi.web.params import PathId
from deshi.web.ui.deps import CsrfDep, FormDep, Viewer, ViewerDep, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form()]


def _page(
    request: Request, viewer: Viewer, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return render(
        request, template, locale=viewer.locale, viewer=viewer, status_code=status_code, **context
    )


def _back(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


# --- overview and first run ----------------------------------------------------------------


def first_run_steps(db: Session, principal: Principal) -> list[dict[str, Any]]:
    """The steps from a new workspace to a team at work, each done or not, with its page."""
    departments = processes.list_departments_for(db, principal=principal)
    live = processes.list_processes_for(db, principal=principal)
    users = admin.list_users(db) if principal.is_workspace_admin else []
    people = [u for u in users if u.id != principal.user_id and u.password_hash is not None]
    tokens = admin.list_tokens(db) if principal.is_workspace_admin else []
    with_history = history.processes_with_history(db, [p.id for p in live])
    history_href = f"/admin/processes/{live[0].id}/history" if live else "/admin/processes"
    return [
        {"key": "department", "done": bool(departments), "href": "/admin/departments"},
        {"key": "process", "done": bool(live), "href": "/admin/processes"},
        {"key": "history", "done": bool(with_history), "href": history_href},
        {"key": "reviewers", "done": bool(people), "href": "/admin/users"},
        {"key": "token", "done": bool(tokens), "href": "/admin/tokens"},
    ]


@router.get("/admin", response_class=HTMLResponse)
def admin_home(request: Request, viewer: ViewerDep, db: SessionDep) -> Response:
    """The Administration area: the first-run steps and the sections."""
    require_workspace(viewer.principal, Action.MANAGE_USERS)
    steps = first_run_steps(db, viewer.principal)
    return _page(request, viewer, "admin/home.html", steps=steps)


# --- departments ---------------------------------------------------------------------------


def _departments_page(
    request: Request, viewer: Viewer, db: Session, status_code: int = 200, **context: Any
) -> HTMLResponse:
    departments = processes.list_departments_for(
        db, principal=viewer.principal, include_archived=True
    )
    return _page(
        request,
        viewer,
        "admin/departments.html",
        status_code,
        departments=departments,
        **context,
    )


@router.get("/admin/departments", response_class=HTMLResponse)
def departments_page(request: Request, viewer: ViewerDep, db: SessionDep) -> Response:
    """Departments: create, rename, archive."""
    require_workspace(viewer.principal, Action.MANAGE_USERS)
    return _departments_page(request, viewer, db)


@router.post("/admin/departments", dependencies=[CsrfDep])
def create_department(request: Request, viewer: ViewerDep, db: SessionDep, name: Text) -> Response:
    """Create a department."""
    try:
        with db.begin_nested():  # a refusal undoes only this form's changes
            processes.create_department_for(db, principal=viewer.principal, name=name)
    except DeshiError as exc:
        return _departments_page(request, viewer, db, exc.status_code, error=exc.detail)
    return _back("/admin/departments")


@router.post("/admin/departments/{department_id}/rename", dependencies=[CsrfDep])
def rename_department(
    department_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep, name: Text
) -> Response:
    """Rename a department."""
    try:
        with db.begin_nested():  # a refusal undoes only this form's changes
            processes.rename_department_for(
                db, principal=viewer.principal, department_id=department_id, name=name
            )
    except DeshiError as exc:
        return _departments_page(request, viewer, db, exc.status_code, error=exc.detail)
    return _back("/admin/departments")


@router.post("/admin/departments/{department_id}/archive", dependencies=[CsrfDep])
def archive_department(
    department_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep
) -> Response:
    """Archive a department whose processes are archived."""
    try:
        with db.begin_nested():  # a refusal undoes only this form's changes
            processes.archive_department_for(
                db, principal=viewer.principal, department_id=department_id
            )
    except DeshiError as exc:
        return _departments_page(request, viewer, db, exc.status_code, error=exc.detail)
    return _back("/admin/departments")


# --- users and roles -----------------------------------------------------------------------


def _users_page(
    request: Request, viewer: Viewer, db: Session, status_code: int = 200, **context: Any
) -> HTMLResponse:
    users = admin.list_users_for(db, principal=viewer.principal)
    grants = admin.list_grants(db)
    departments = processes.list_departments_for(db, principal=viewer.principal)
    names = {d.id: d.name for d in processes.list_departments(db, include_archived=True)}
    return _page(
        request,
        viewer,
        "admin/users.html",
        status_code,
        users=[UserPublic.of(u) for u in users],
        grants={u.id: [g for g in grants if g.user_id == u.id] for u in users},
        departments=departments,
        department_names=names,
        roles=[r.value for r in Role],
        **context,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, viewer: ViewerDep, db: SessionDep) -> Response:
    """Users with their roles: invite, grant, revoke, reset a password, deactivate."""
    return _users_page(request, viewer, db)


@router.post("/admin/users", dependencies=[CsrfDep])
def create_user(
    request: Request,
    viewer: ViewerDep,
    db: SessionDep,
    hasher: PasswordHasherDep,
    email: Text,
    display_name: Annotated[str, Form()] = "",
    locale: Annotated[str, Form()] = "",
    service: Annotated[bool, Form()] = False,
    department_id: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
) -> Response:
    """Create a person (their one-time password is shown in the answer) or a service account,
    with a first role when one is chosen."""
    try:
        with db.begin_nested():  # a refusal undoes only this form's changes
            account = admin.create_account_for(
                db,
                principal=viewer.principal,
                email=email,
                display_name=display_name,
                locale=locale,
                service=service,
                password_hasher=hasher,
            )
            if department_id and role:
                admin.grant_role_for(
                    db,
                    principal=viewer.principal,
                    user_id=account.user.id,
                    role=Role(role),
                    department_id=int(department_id),
                )
    except DeshiError as exc:
        return _users_page(request, viewer, db, exc.status_code, error=exc.detail)
    created = {"email": account.user.email, "password": account.password}
    return _users_page(request, viewer, db, 201, created=created)


@router.post("/admin/users/{user_id}", dependencies=[CsrfDep])
def update_user(
    user_id: PathId,
    request: Request,
    viewer: ViewerDep,
    db: SessionDep,
    display_name: Text,
    locale: Annotated[str, Form()] = "",
) -> Response:
    """Change a user's display name and saved language."""
    try:
        with db.begin_nested():  # a refusal undoes only this form's changes
            admin.update_user_for(
                db,
                principal=viewer.principal,
                user_id=user_id,
                display_name=display_name,
                locale=locale,
            )
    except DeshiError as exc:
        return _users_page(request, viewer, db, exc.status_code, error=exc.detail)
    return _back("/admin/users")


@router.post("/admin/users/{user_id}/roles", dependencies=[CsrfDep])
def grant_role(
    user_id: PathId,
    request: Request,
    viewer: ViewerDep,
    db: SessionDep,
    role: Text,
    department_id: Annotated[str, Form()] = "",
) -> Response:
    """Grant a role in a department (none chosen: workspace-wide admin)."""
    try:
        with db.begin_nested():  # a refusal undoes only this form's changes
            admin.grant_role_for(
                db,
                principal=viewer.principal,
                user_id=user_id,
                role=Role(role),
                department_id=int(department_id) if department_id else None,
            )
    except DeshiError as exc:
        return _users_page(request, viewer, db, exc.status_code, error=exc.detail)
    return _back("/admin/users")


@router.post("/admin/roles/{grant_id}/revoke", dependencies=[CsrfDep])
def revoke_role(grant_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep) -> Response:
    """Revoke a role grant."""
    try:
        with db.begin_nested():  # a refusal undoes only this form's changes
            admin.revoke_grant_for(db, principal=viewer.principal, grant_id=grant_id)
    except DeshiError as exc:
        return _users_page(request, viewer, db, exc.status_code, error=exc.detail)
    return _back("/admin/users")


@router.post("/admin/users/{user_id}/deactivate", dependencies=[CsrfDep])
def deactivate_user(
    user_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep
) -> Response:
    """Deactivate a user: they are signed out everywhere at once."""
    try:
        with db.begin_nested():  # a refusal undoes only this form's changes
            admin.deactivate_user_for(db, principal=viewer.principal, user_id=user_id)
    except DeshiError as exc:
        return _users_page(request, viewer, db, exc.status_code, error=exc.detail)
    return _back("/admin/users")


@router.post("/admin/users/{user_id}/reactivate", dependencies=[CsrfDep])
def reactivate_user(
    user_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep
) -> Response:
    """Let a deactivated user in again, with the grants they had."""
    try:
        with db.begin_nested():  # a refusal undoes only this form's changes
            admin.reactivate_user_for(db, principal=viewer.principal, user_id=user_id)
    except DeshiError as exc:
        return _users_page(request, viewer, db, exc.status_code, error=exc.detail)
    return _back("/admin/users")


@router.post("/admin/users/{user_id}/reset-password", dependencies=[CsrfDep])
def reset_password(
    user_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep, hasher: PasswordHasherDep
) -> Response:
    """A new one-time password, shown in the answer only."""
    try:
        with db.begin_nested():  # a refusal undoes only this form's changes
            password = admin.reset_password_for(
                db, principal=viewer.principal, user_id=user_id, password_hasher=hasher
            )
    except DeshiError as exc:
        return _users_page(request, viewer, db, exc.status_code, error=exc.detail)
    email = admin.get_user(db, user_id).email
    return _users_page(request, viewer, db, created={"email": email, "password": password})


# --- API tokens ----------------------------------------------------------------------------


def _tokens_page(
    request: Request, viewer: Viewer, db: Session, status_code: int = 200, **context: Any
) -> HTMLResponse:
    everyone = viewer.principal.is_workspace_admin
    tokens = admin.list_tokens_for(db, principal=viewer.principal, everyone=everyone)
    services = [u for u in admin.list_users(db, include_inactive=False) if u.password_hash is None]
    return _page(
        request,
        viewer,
        "admin/tokens.html",
        status_code,
        tokens=tokens,
        owners=admin.token_owners(db, tokens),
        services=services if everyone else [],
        **context,
    )


@router.get("/admin/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, viewer: ViewerDep, db: SessionDep) -> Response:
    """Your API tokens (a workspace admin: every token) and a form to issue one."""
    return _tokens_page(request, viewer, db)


@router.post("/admin/tokens", dependencies=[CsrfDep])
def issue_token(
    request: Request,
    viewer: ViewerDep,
    db: SessionDep,
    name: Text,
    user_id: Annotated[str, Form()] = "",
) -> Response:
    """Issue a token for yourself or a service account; it is shown in the answer only."""
    try:
        with db.begin_nested():  # a refusal undoes only this form's changes
            issued = admin.issue_token_for(
                db, principal=viewer.principal, name=name, user_id=int(user_id) if user_id else None
            )
    except DeshiError as exc:
        return _tokens_page(request, viewer, db, exc.status_code, error=exc.detail)
    shown = {"name": issued.token.name, "token": issued.plaintext}
    return _tokens_page(request, viewer, db, 201, issued=shown)


@router.post("/admin/tokens/{token_id}/revoke", dependencies=[CsrfDep])
def revoke_token(token_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep) -> Response:
    """Revoke a token: it stops working at once."""
    try:
        with db.begin_nested():  # a refusal undoes only this form's changes
            admin.revoke_token_for(db, principal=viewer.principal, token_id=token_id)
    except DeshiError as exc:
        return _tokens_page(request, viewer, db, exc.status_code, error=exc.detail)
    return _back("/admin/tokens")


# --- processes and model versions ----------------------------------------------------------


def _processes_page(
    request: Request, viewer: Viewer, db: Session, status_code: int = 200, **context: Any
) -> HTMLResponse:
    principal = viewer.principal
    departments = [
        d
        for d in processes.list_departments_for(db, principal=principal)
        if can(principal, Action.MANAGE_PROCESS, d.id)
    ]
    return _page(
        request,
        viewer,
        "admin/processes.html",
        status_code,
        processes=processes.list_processes_for(db, principal=principal, include_archived=True),
        departments=departments,
        department_names={d.id: d.name for d in processes.list_departments(db)},
        **context,
    )


@router.get("/admin/processes", response_class=HTMLResponse)
def processes_page(request: Request, viewer: ViewerDep, db: SessionDep) -> Response:
    """The processes you can see, and a form to create one where you manage processes."""
    return _processes_page(request, viewer, db)


@router.post("/admin/processes", dependencies=[CsrfDep])
def create_process(
    request: Request,
    viewer: ViewerDep,
    db: SessionDep,
    department_id: Text,
    name: Text,
    labels: Annotated[str, Form()] = "",
    error_budget: Annotated[str, Form()] = "",
    mode: Annotated[str, Form()] = "shadow",
) -> Response:
    """Create a process and go to its settings."""
    try:
        with db.begin_nested():  # a refusal undoes only this form's changes
            fields = {
                "department_id": department_id,
                "name": name,
                "labels": _split(labels),
                "mode": mode,
                "error_budget": error_budget or None,
            }
            data = validated(ProcessCreate, fields)
            process = processes.create_process_for(db, principal=viewer.principal, data=data)
    except DeshiError as exc:
        return _processes_page(request, viewer, db, exc.status_code, error=exc.detail)
    return _back(f"/admin/processes/{process.id}")


def _settings_page(
    request: Request,
    viewer: Viewer,
    db: Session,
    process_id: int,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    process = processes.get_process_for(db, viewer.principal, process_id, Action.MANAGE_PROCESS)
    return _page(
        request,
        viewer,
        "admin/process_settings.html",
        status_code,
        process=process,
        processes=processes.list_processes_for(db, principal=viewer.principal),
        versions=versions.list_versions(db, process_id),
        golive=golive.latest_golive(db, process),
        can_rollback=can(viewer.principal, Action.MANAGE_MODELS, process.department_id),
        modes=[m.value for m in Mode],
        featurizers=[f.value for f in FeaturizerName],
        new_label_choices=[choice.value for choice in NewLabels],
        autosend=autosend_status(db, process),
        rules_json=json.dumps(process.always_human_rules, ensure_ascii=False),
        arms_json=json.dumps(process.arms, ensure_ascii=False),
        humanized=humanized,
        max_guidance_chars=MAX_GUIDANCE_CHARS,
        max_field_name_chars=MAX_FIELD_NAME_CHARS,
        max_instruction_chars=MAX_INSTRUCTION_CHARS,
        field_name_pattern=FIELD_NAME_PATTERN.strip("^$"),
        **context,
    )


@router.get("/admin/processes/{process_id}", response_class=HTMLResponse)
def settings_page(
    process_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep, saved: bool = False
) -> Response:
    """A process's policy, labels, costs and model versions."""
    return _settings_page(request, viewer, db, process_id, request_saved=saved)


def _policy_fields(form: dict[str, str]) -> dict[str, Any]:
    """The settings form as a ProcessUpdate body: blank numbers unset, lists split, JSON read."""
    fields: dict[str, Any] = {
        "name": form.get("name") or None,
        "labels": _split(form.get("labels", "")),
        "sensitive_labels": _split(form.get("sensitive_labels", "")),
        "mode": form.get("mode") or None,
        "featurizer": form.get("featurizer") or None,
        "new_labels": form.get("new_labels") or None,
        "currency": form.get("currency") or None,
        # an unticked box sends nothing: the hidden field says the box was on the form
        "draft_autosend": form.get("draft_autosend") == "on"
        if form.get("draft_autosend_shown")
        else None,
    }
    for number in (
        "error_budget",
        "confidence",
        "audit_rate",
        "human_minutes_per_item",
        "hourly_rate",
        "cost_per_escaped_error",
        "running_cost_per_week",
    ):
        fields[number] = form.get(number) or None
    for name in ("always_human_rules", "arms"):
        raw = form.get(name, "").strip()
        try:
            fields[name] = json.loads(raw) if raw else None
        except json.JSONDecodeError as exc:
            raise ValidationFailed(f"{name}: not JSON: {exc}", field=name) from None
    return {k: v for k, v in fields.items() if v is not None}


@router.post("/admin/processes/{process_id}", dependencies=[CsrfDep])
def save_settings(
    process_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep, form: FormDep
) -> Response:
    """Save the policy form (audited when something changed)."""
    return _update_from_form(request, viewer, db, process_id, lambda: _policy_fields(form))


def _update_from_form(
    request: Request,
    viewer: Viewer,
    db: Session,
    process_id: int,
    body: Callable[[], dict[str, Any]],
) -> Response:
    """Apply a settings form's `body()` as a ProcessUpdate: back to the settings page, saved,
    or the page again with the refusal (only this form's changes undone)."""
    try:
        with db.begin_nested():
            changes = validated(ProcessUpdate, body())
            processes.update_process(
                db, principal=viewer.principal, process_id=process_id, changes=changes
            )
    except DeshiError as exc:
        return _settings_page(request, viewer, db, process_id, exc.status_code, error=exc.detail)
    return _back(f"/admin/processes/{process_id}?saved=1")


def _label_names_form(form: dict[str, str]) -> dict[str, dict[str, str]]:
    """The label names form (`code.N` with its `en.N` and `ja.N`) as a LabelNamesUpdate body:
    every label's field is sent, so an emptied one removes its name."""
    names: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for index, code in _label_rows(form):
        for lang in LANGUAGES:
            names[lang][code] = form.get(f"{lang}.{index}", "")
    return names


def _label_rows(form: dict[str, str]) -> Iterator[tuple[str, str]]:
    """(N, label code) of each row of a per-label form: its `code.N` fields."""
    for key, code in form.items():
        prefix, _, index = key.partition(".")
        if prefix == "code" and index.isdigit():
            yield index, code


@router.post("/admin/processes/{process_id}/label-names", dependencies=[CsrfDep])
def save_label_names(
    process_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep, form: FormDep
) -> Response:
    """Save the readable label names (audited as `process.label_names` when they changed)."""
    try:
        with db.begin_nested():  # a refusal undoes only this form's changes
            changes = validated(LabelNamesUpdate, {"names": _label_names_form(form)})
            processes.set_label_names_for(
                db, principal=viewer.principal, process_id=process_id, changes=changes
            )
    except DeshiError as exc:
        return _settings_page(request, viewer, db, process_id, exc.status_code, error=exc.detail)
    return _back(f"/admin/processes/{process_id}?saved=1")


def _label_guidance_form(form: dict[str, str]) -> dict[str, str]:
    """The guidance form (`code.N` with its `guidance.N`) as a ProcessUpdate `label_guidance`:
    every label's text is sent, so an emptied one removes its guidance."""
    return {code: cleaned(form.get(f"guidance.{index}", "")) for index, code in _label_rows(form)}


@router.post("/admin/processes/{process_id}/label-guidance", dependencies=[CsrfDep])
def save_label_guidance(
    process_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep, form: FormDep
) -> Response:
    """Save the drafting guidance per label (audited as `process.update` when it changed)."""
    body = {"label_guidance": _label_guidance_form(form)}
    return _update_from_form(request, viewer, db, process_id, lambda: body)


def _draft_fields_form(form: dict[str, str]) -> dict[str, str]:
    """The fields form (`name.N` with its `instruction.N`) as a ProcessUpdate `draft_fields`:
    every shown field's instruction is sent, so an emptied one removes the field; the blank
    row adds one when it has a name."""
    rows = {}
    for key, name in form.items():
        prefix, _, index = key.partition(".")
        if prefix == "name" and (index.isdigit() or index == "new") and name.strip():
            rows[name.strip()] = cleaned(form.get(f"instruction.{index}", ""))
    return rows


@router.post("/admin/processes/{process_id}/draft-fields", dependencies=[CsrfDep])
def save_draft_fields(
    process_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep, form: FormDep
) -> Response:
    """Save the drafting fields (audited as `process.update` when they changed)."""
    body = {"draft_fields": _draft_fields_form(form)}
    return _update_from_form(request, viewer, db, process_id, lambda: body)


@router.post("/admin/processes/{process_id}/archive", dependencies=[CsrfDep])
def archive_process(
    process_id: PathId, request: Request, viewer: ViewerDep, db: SessionDep
) -> Response:
    """Archive a process and go back to the process list."""
    try:
        with db.begin_nested():  # a refusal undoes only this form's changes
            processes.archive_process(db, principal=viewer.principal, process_id=process_id)
    except DeshiError as exc:
        return _processes_page(request, viewer, db, exc.status_code, error=exc.detail)
    return _back("/admin/processes")


@router.post("/admin/processes/{process_id}/models/{version}/rollback", dependencies=[CsrfDep])
def rollback_model(
    process_id: PathId, version: PathId, request: Request, viewer: ViewerDep, db: SessionDep
) -> Response:
    """Make an earlier model version the champion again."""
    try:
        with db.begin_nested():  # a refusal undoes only this form's changes
            versions.rollback_for(
                db, principal=viewer.principal, process_id=process_id, version=version
            )
    except DeshiError as exc:
        return _settings_page(request, viewer, db, process_id, exc.status_code, error=exc.detail)
    return _back(f"/admin/processes/{process_id}")


@router.get("/switch")
def switch_process(
    viewer: ViewerDep, db: SessionDep, process: Annotated[int, Query(ge=1, le=MAX_ID)]
) -> Response:
    """The header's process switcher: go to the chosen process's dashboard."""
    chosen = processes.get_process_for(db, viewer.principal, process, Action.READ)
    return _back(f"/processes/{chosen.id}")
