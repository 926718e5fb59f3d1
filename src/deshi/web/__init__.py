"""The HTTP adapter: `create_app(settings)` builds the FastAPI app; routes live in web.api."""

from deshi.web.app import create_app

__all__ = ["create_app"]
