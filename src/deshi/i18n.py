"""The product's languages: the Babel catalogs in deshi/locale, choosing a language, and the
locale-aware formatters of numbers, shares and dates.

Everything here is locale-neutral plumbing shared by the web UI (`deshi.web.ui.i18n`), the
weekly report (`deshi.kpis.report`), the backtest report (`deshi.sim.report`) and the text output
of the CLI, so it imports none of them. A missing value formats as an em dash.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from pathlib import Path

from babel import Locale, dates, numbers
from babel.support import NullTranslations, Translations
from jinja2 import BaseLoader, Environment, select_autoescape

from deshi.errors import ValidationFailed

__all__ = [
    "DEFAULT_LOCALE",
    "LOCALES",
    "MISSING",
    "format_date",
    "format_datetime",
    "format_number",
    "format_percent",
    "negotiate",
    "parse_locale",
    "supported",
    "translated_environment",
    "translations",
]

DEFAULT_LOCALE = "en"
LOCALES = ("en", "ja")  # the languages the product is translated into
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
MISSING = "—"


def supported(tag: str | None) -> str | None:
    """The supported language of a tag ('ja', 'ja-JP', 'ja_JP' → 'ja'); None for any other."""
    if not tag:
        return None
    short = tag.strip().replace("-", "_").split("_")[0].lower()
    return short if short in LOCALES else None


def parse_locale(tag: str) -> str:
    """A supported language from a request; ValidationFailed naming `lang` otherwise."""
    found = supported(tag)
    if found is None:
        raise ValidationFailed(
            f"unsupported language {tag!r}; use one of {', '.join(LOCALES)}", field="lang"
        )
    return found


def negotiate(*, chosen: str | None, user_locale: str | None, accept_language: str) -> str:
    """The language of a request: the one chosen explicitly, the user's setting, the best match
    of the Accept-Language header, English — the first that is supported."""
    for candidate in (chosen, user_locale):
        found = supported(candidate)
        if found is not None:
            return found
    wanted = [part.split(";")[0].strip() for part in accept_language.split(",") if part.strip()]
    best = Locale.negotiate(wanted, list(LOCALES), sep="-") if wanted else None
    return str(best) if best is not None else DEFAULT_LOCALE


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog of `locale` (English: the msgids themselves)."""
    if locale == DEFAULT_LOCALE:
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [locale], domain="messages")


def _pattern(digits: int, trim: bool) -> str:
    """A Babel number pattern with `digits` decimals (at most that many when `trim`)."""
    return "#,##0" + ("." + ("#" if trim else "0") * digits if digits else "")


def format_number(value: float | None, *, locale: str, digits: int = 0, trim: bool = False) -> str:
    """'1,234.5' in `locale`'s conventions, with `digits` decimals (fewer when `trim`)."""
    if value is None:
        return MISSING
    return numbers.format_decimal(value, format=_pattern(digits, trim), locale=locale)


def format_percent(value: float | None, *, locale: str, digits: int = 1, trim: bool = False) -> str:
    """A share as a percentage ('12.5%') in `locale`'s conventions."""
    if value is None:
        return MISSING
    return numbers.format_percent(value, format=_pattern(digits, trim) + "%", locale=locale)


def format_date(value: date | None, *, locale: str) -> str:
    """A day: 'Nov 16, 2026' in English, '2026/11/16' in Japanese."""
    return MISSING if value is None else dates.format_date(value, "medium", locale=locale)


def format_datetime(value: datetime | None, *, locale: str) -> str:
    """An instant in its own time zone (naive values are UTC), to the second."""
    return MISSING if value is None else dates.format_datetime(value, "medium", locale=locale)


def _template_formatters(locale: str) -> dict[str, Callable[..., str]]:
    """The formatters as template globals, bound to `locale`."""

    def number(value: float | None, digits: int = 0, trim: bool = False) -> str:
        return format_number(value, locale=locale, digits=digits, trim=trim)

    def percent(value: float | None, digits: int = 1, trim: bool = False) -> str:
        return format_percent(value, locale=locale, digits=digits, trim=trim)

    def day(value: date | None) -> str:
        return format_date(value, locale=locale)

    def when(value: datetime | None) -> str:
        return format_datetime(value, locale=locale)

    return {"fmt_number": number, "fmt_percent": percent, "fmt_date": day, "fmt_datetime": when}


def translated_environment(loader: BaseLoader, locale: str) -> Environment:
    """A Jinja2 environment over `loader` for one language: HTML-escaping, gettext installed
    (new style: `_("… %(name)s", name=…)`), the `fmt_*` formatters and `locale` as globals."""
    env = Environment(
        loader=loader,
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(_template_formatters(locale))
    env.globals["locale"] = locale
    return env
