"""docs/service.md cannot drift: its settings table and endpoints table match the code."""

from __future__ import annotations

import re
from pathlib import Path

from deshi.settings import Settings
from deshi.web import create_app

DOC = Path(__file__).resolve().parents[2] / "docs" / "service.md"


def settings_rows() -> list[str]:
    """The settings table rows as the docs must show them, one per Settings field."""
    return [
        f"| `DESHI_{name.upper()}` | `{field.default!r}` | {field.description} |"
        for name, field in Settings.model_fields.items()
    ]


def _section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_every_setting_is_documented_with_its_default_and_description() -> None:
    documented = [line for line in _section("Settings").splitlines() if line.startswith("| `")]
    assert documented == settings_rows()


def test_every_endpoint_is_in_the_endpoints_table() -> None:
    app = create_app(Settings(database_url="sqlite://"))
    paths = app.openapi()["paths"]
    app.state.engine.dispose()
    routes = {(method.upper(), path) for path, operations in paths.items() for method in operations}
    table = re.findall(r"^\| (GET|POST|PATCH|PUT|DELETE) \| `([^`]+)` \|", DOC.read_text(), re.M)
    assert set(table) == routes
