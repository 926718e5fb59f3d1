"""The API documentation pages render in a real browser with the network cut: every request
the page makes goes to the deshi server, and anything else is refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from ui_world import PASSWORD, UiWorld

pytestmark = pytest.mark.browser


@pytest.fixture
def offline(browser: Any, server: str) -> Iterator[tuple[Any, list[str]]]:
    """A page whose requests to any other host are aborted; returns it with the URLs asked."""
    context = browser.new_context(base_url=server, locale="en-US")
    context.set_default_timeout(15_000)
    origin = urlsplit(server).netloc
    requested: list[str] = []

    def cut(route: Any) -> None:
        url = route.request.url
        requested.append(url)
        if urlsplit(url).netloc == origin or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            route.abort("internetdisconnected")

    context.route("**/*", cut)
    yield context.new_page(), requested
    context.close()


def _sign_in(page: Any, next_path: str) -> None:
    page.goto(next_path)  # an anonymous visitor is sent to the sign-in page, then back
    page.fill("#email", UiWorld.email("owner"))
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{next_path}")


def _only_local(requested: list[str], server: str) -> list[str]:
    origin = urlsplit(server).netloc
    return [
        u
        for u in requested
        if urlsplit(u).scheme in ("http", "https") and urlsplit(u).netloc != origin
    ]


def test_swagger_ui_renders_every_operation_offline(
    offline: tuple[Any, list[str]], server: str
) -> None:
    page, requested = offline
    _sign_in(page, "/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "deshi" in page.locator(".swagger-ui .info .title").inner_text()
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() >= 20
    assert any(u.endswith("/openapi.json") for u in requested)
    assert _only_local(requested, server) == []


def test_redoc_renders_offline(offline: tuple[Any, list[str]], server: str) -> None:
    page, requested = offline
    _sign_in(page, "/redoc")
    page.wait_for_selector(".api-info h1")
    assert "deshi" in page.locator(".api-info h1").inner_text()
    assert page.get_by_text("application/problem+json").count() >= 1
    assert _only_local(requested, server) == []
