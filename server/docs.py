"""The API documentation pages: Swagger UI served by the hub itself (no CDN), at /schema and /schema/swagger."""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

ASSETS = Path(__file__).parent / "docs_assets"
ASSETS_PATH = "/schema/assets"
SWAGGER = f"{ASSETS_PATH}/swagger-ui"


def render_plugins() -> list[SwaggerRenderPlugin]:
    """Swagger UI at /schema (the default page) and /schema/swagger, its files from ``assets_router``."""
    return [
        SwaggerRenderPlugin(
            path=["/", "/swagger"],
            js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            css_url=f"{SWAGGER}/swagger-ui.css",
            standalone_preset_js_url=f"{SWAGGER}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{SWAGGER}/favicon-32x32.png'>",
        )
    ]


def assets_router() -> Router:
    """The vendored Swagger UI files (see docs_assets/swagger-ui/VERSION.md), cached for a day."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[ASSETS],
        name="docs_assets",
        opt={"public": True},
        include_in_schema=False,
        cache_control=CacheControlHeader(max_age=86400, public=True),
    )
