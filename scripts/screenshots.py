"""Screenshots of the reviewer workbench and the process dashboard, in English and Japanese.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Seeds a temporary workspace the way the UI tests do (BANKING77 items, a trained model),
serves it with uvicorn on a free local port and drives headless Debian Chromium
(/usr/bin/chromium; no browser download) with Playwright.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "ui"))

from ui_world import PASSWORD, UiWorld, seed  # noqa: E402

from deshi.db import create_db_engine, make_session_factory  # noqa: E402
from deshi.db.migrate import upgrade_to_head  # noqa: E402
from deshi.settings import Settings  # noqa: E402
from deshi.web import create_app  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _serve(url: str, port: int) -> uvicorn.Server:
    server = uvicorn.Server(
        uvicorn.Config(create_app(Settings(database_url=url)), port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


def _login(page: Page, who: str) -> None:
    page.goto("/login")
    page.fill("#email", UiWorld.email(who))
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login" not in url)


def _shoot(page: Page, world: UiWorld, out: Path, lang: str) -> None:
    page.goto(f"/lang/{lang}?next=/processes/{world.process_id}/work")
    page.wait_for_selector("[data-item-id]")
    page.screenshot(path=str(out / f"workbench-{lang}.png"), full_page=True)
    page.goto(f"/processes/{world.process_id}")
    page.screenshot(path=str(out / f"dashboard-{lang}.png"), full_page=True)


def main() -> None:
    """Seed, serve, and write workbench-{en,ja}.png and dashboard-{en,ja}.png."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/deshi.db"
        engine = create_db_engine(url)
        upgrade_to_head(engine)
        world = seed(make_session_factory(engine))
        engine.dispose()
        server = _serve(url, args.port)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                context = browser.new_context(
                    base_url=f"http://127.0.0.1:{args.port}",
                    viewport={"width": 1280, "height": 900},
                )
                page = context.new_page()
                _login(page, "owner")
                for lang in ("en", "ja"):
                    _shoot(page, world, args.out, lang)
                browser.close()
        finally:
            server.should_exit = True
    print(f"wrote {', '.join(sorted(p.name for p in args.out.glob('*.png')))} to {args.out}")


if __name__ == "__main__":
    main()
