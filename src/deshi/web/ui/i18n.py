"""The UI's template environments: one per language, over the templates of `deshi.web.ui`.

Catalogs, locale negotiation and the formatters are shared with the weekly report and live in
`deshi.i18n`. A page's locale is, in order: the language the user picked with the switch link (a
cookie), the user's `locale` setting, the browser's Accept-Language, English (see `page_locale`).
"""

from __future__ import annotations

from functools import cache, partial
from pathlib import Path

from jinja2 import Environment, FileSystemLoader

from deshi.i18n import LOCALES, translated_environment
from deshi.kpis.explain import explain
from deshi.web.ui.names import draft_note, item_arm, route_name, route_reason, status_name

__all__ = ["environment"]

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


@cache
def environment(locale: str) -> Environment:
    """The template environment of one UI language, autoescaping, with gettext installed."""
    env = translated_environment(FileSystemLoader(TEMPLATE_DIR), locale)
    env.globals["explain"] = partial(explain, locale=locale)  # warnings and reasons
    # Stored codes as words.
    for name in (draft_note, item_arm, route_name, route_reason, status_name):
        env.globals[name.__name__] = partial(name, locale=locale)
    env.globals["locales"] = LOCALES
    return env
