"""The OpenAPI document and the pages that show it.

**Errors in the document.** Every error deshi answers is an RFC 9457 problem
(`deshi.web.errors`), so the document describes them once, here, instead of on each route: a
`Problem` schema component, and on every operation the statuses it can answer, each with an
`application/problem+json` body of that schema:

- 401, 403 and 429 on operations that need a caller (their security requirement says so;
  429 is the sign-in throttle on HTTP Basic passwords);
- 404 on operations with an id in the path, or a body (which may name an object by id);
- 409 on operations that change state (POST, PATCH, DELETE);
- 400 on operations that take a file (`multipart/form-data`): a body that is not well-formed
  multipart is refused before any field is read;
- 413 and 422 on operations with a request body, 422 on those with parameters (FastAPI's own
  `HTTPValidationError` body is replaced: the renderer answers a problem with `errors`);
- 503 on every operation (the database is unreachable, restarting or locked: send it again
  after `Retry-After`), and 507 on those that change state (the database's disk is full);
- any other error status a route declares itself gets the problem body too.

**The documentation pages.** `/docs` (Swagger UI), `/redoc` and `/openapi.json` load nothing from
outside the server (the scripts are vendored under `/static/vendor/`, see its README; a
Content-Security-Policy holds the pages to the server) and need a signed-in session or an API
token, unless `DESHI_PUBLIC_API_DOCS` opens them to everyone. Without either, a browser is sent to
the sign-in page, and a program asking for `/openapi.json` gets a 401 problem.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from deshi.web.deps import get_factory, get_login_throttle, get_password_hasher, get_principal
from deshi.web.errors import PROBLEM_JSON
from deshi.web.ui.deps import get_viewer

__all__ = ["Problem", "install_api_docs", "install_openapi"]

OPENAPI_URL = "/openapi.json"
VENDOR = "/static/vendor"


class FieldError(BaseModel):
    """One invalid input of a 422."""

    field: str = Field(description="The input, e.g. `items[3].text`; `body` for the body itself.")
    message: str
    type: str = Field(description="The validator's error type, e.g. `string_too_long`.")


class Problem(BaseModel):
    """An RFC 9457 problem: every error deshi answers."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="`urn:deshi:error:<code>`, or `about:blank`.")
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable, machine-readable: `not_found`, `conflict`, …")
    instance: str = Field(description="The request path.")
    field: str | None = Field(default=None, description="422: the first invalid input.")
    errors: list[FieldError] | None = Field(default=None, description="422: every invalid input.")


_DESCRIPTIONS = {
    400: "The body is not well-formed multipart data.",
    401: "No, unknown or revoked credentials (`unauthenticated`).",
    403: "Your role here does not allow this (`forbidden`).",
    404: "No such object, or it is in a department you cannot see (`not_found`).",
    409: "The current state forbids it (`conflict`).",
    413: "The request body is too large.",
    422: "Invalid input; `field` names the first offender, `errors` lists all.",
    429: "Too many failed sign-ins; `Retry-After` says when to try again.",
    503: "The database does not answer; send the request again after `Retry-After`"
    " (`unavailable`).",
    507: "The database's disk is full; nothing of this request was stored (`storage_full`).",
}
_CHANGES_STATE = frozenset({"post", "put", "patch", "delete"})
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def _statuses(method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses `operation` can answer, read from what it declares."""
    statuses = {int(s) for s in operation.get("responses", {}) if str(s)[0] in "45"}
    statuses.add(503)
    if operation.get("security"):
        statuses |= {401, 403, 429}
    parameters = operation.get("parameters", [])
    if "requestBody" in operation or any(p.get("in") == "path" for p in parameters):
        statuses.add(404)  # an id in the path, or in the body (`department_id`, `user_id`)
    if method in _CHANGES_STATE:
        statuses |= {409, 507}
    if "requestBody" in operation:
        statuses |= {413, 422}
        if "multipart/form-data" in operation["requestBody"].get("content", {}):
            statuses.add(400)
    if parameters:
        statuses.add(422)
    return statuses


def _document_problems(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with the `Problem` component and every operation's error responses."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    defs = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(defs.pop("$defs", {}))
    schemas["Problem"] = defs
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            responses = operation.setdefault("responses", {})
            for status in sorted(_statuses(method, operation)):
                declared = responses.get(str(status), {})
                responses[str(status)] = {
                    "description": declared.get("description") or _DESCRIPTIONS[status],
                    "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}},
                }
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` return the document with its errors described (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = _document_problems(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


_bearer = HTTPBearer(auto_error=False)
# The pages may load and ask nothing outside the server, whatever the vendored scripts try
# (ReDoc's footer logo comes from its CDN; Swagger UI's validator badge from swagger.io). Their
# inline start-up scripts and styles, and ReDoc's blob: worker, need the rest.
_SELF_ONLY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "worker-src 'self' blob:",
        "frame-ancestors 'none'",
    ]
)


def _may_read_docs(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let the caller through when the docs are public, they send a valid API token, or they
    are signed in; a person without a session is sent to the sign-in page."""
    if request.app.state.public_api_docs:
        return
    if bearer is not None:
        get_principal(
            request,
            get_factory(request),
            get_password_hasher(request),
            get_login_throttle(request),
            bearer,
            None,
        )
        return
    get_viewer(request)


_docs = APIRouter(include_in_schema=False, dependencies=[Depends(_may_read_docs)])


@_docs.get(OPENAPI_URL)
def openapi_json(request: Request) -> JSONResponse:
    """The OpenAPI document."""
    return JSONResponse(request.app.openapi())


@_docs.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI, from the vendored files."""
    page = get_swagger_ui_html(
        openapi_url=OPENAPI_URL,
        title=f"{request.app.title} – API",
        swagger_js_url=f"{VENDOR}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{VENDOR}/swagger-ui/swagger-ui.css",
        swagger_favicon_url=f"{VENDOR}/swagger-ui/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},
    )
    page.headers["Content-Security-Policy"] = _SELF_ONLY
    return page


@_docs.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """ReDoc, from the vendored file, without web fonts."""
    page = get_redoc_html(
        openapi_url=OPENAPI_URL,
        title=f"{request.app.title} – API",
        redoc_js_url=f"{VENDOR}/redoc/redoc.standalone.js",
        redoc_favicon_url=f"{VENDOR}/swagger-ui/favicon-32x32.png",
        with_google_fonts=False,
    )
    page.headers["Content-Security-Policy"] = _SELF_ONLY
    return page


def install_api_docs(app: FastAPI, *, public: bool) -> None:
    """Serve `/openapi.json`, `/docs` and `/redoc`; open to everyone only when `public`
    (create the app with `openapi_url=None, docs_url=None, redoc_url=None`)."""
    app.state.public_api_docs = public
    app.include_router(_docs)
