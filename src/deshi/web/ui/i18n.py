"""Languages of the UI: Babel catalogs from deshi/locale, one Jinja2 environment per locale,
and the locale-aware number and date formatters the templates use.

The locale is, in order: the language the user picked with the switch link (a cookie), the
user's `locale` setting, the browser's Accept-Language, English.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

from deshi.web.ui.reasons import Said, explain

__all__ = [
    "DEFAULT_LOCALE",
    "LOCALES",
    "environment",
    "negotiate",
    "translations",
]

DEFAULT_LOCALE = "en"
LOCALES = ("en", "ja")  # the languages the UI is translated into
LOCALE_DIR = Path(__file__).resolve().parent.parent.parent / "locale"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


def negotiate(*, chosen: str | None, user_locale: str | None, accept_language: str) -> str:
    """The UI language for a request (see the module docstring for the order)."""
    for candidate in (chosen, user_locale):
        if candidate:
            short = candidate.replace("-", "_").split("_")[0].lower()
            if short in LOCALES:
                return short
    wanted = [part.split(";")[0].strip() for part in accept_language.split(",") if part.strip()]
    best = Locale.negotiate(wanted, list(LOCALES), sep="-") if wanted else None
    return str(best) if best is not None else DEFAULT_LOCALE


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog of `locale` (English: the msgids themselves)."""
    if locale == DEFAULT_LOCALE:
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [locale], domain="messages")


def _formatters(locale: str) -> dict[str, Callable[..., str]]:
    def number(value: float | None, digits: int = 0) -> str:
        if value is None:
            return "—"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=locale)

    def percent(value: float | None, digits: int = 1) -> str:
        if value is None:
            return "—"
        pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
        return format_percent(value, format=pattern, locale=locale)

    def when(value: datetime | None) -> str:
        return "—" if value is None else format_datetime(value, "medium", locale=locale)

    return {"fmt_number": number, "fmt_percent": percent, "fmt_datetime": when}


@cache
def environment(locale: str) -> Environment:
    """The template environment of one UI language, autoescaping, with gettext installed."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    catalog = translations(locale)
    env.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(_formatters(locale))

    def explain_here(said: Said) -> str:
        return explain(said, locale=locale, gettext=catalog.gettext)

    env.globals["explain"] = explain_here  # warnings and recommendation reasons
    env.globals["locale"] = locale
    env.globals["locales"] = LOCALES
    return env
