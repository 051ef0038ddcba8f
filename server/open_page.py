"""The landing page of email links to the app: "open this in the app", in French and German."""

from __future__ import annotations

import functools
from typing import Any

import jinja2
from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.params import FromPath

from hub.errors import request_locale
from i18n import translations

#: the scheme the mobile app registers for its own links (``hubbitche:/care/alerts/…``); the app also
#: claims ``{HUB_PUBLIC_URL}/open/…`` as verified links, so on a phone with the app this page is skipped
APP_SCHEME = "hubbitche"


@functools.cache
def _pages() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("server", "templates"), autoescape=True, extensions=["jinja2.ext.i18n"]
    )


def _render(locale: str, app_link: str) -> str:
    env = _pages().overlay()
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    return env.get_template("open_section.html.j2").render(locale=locale, app_link=app_link)


@get(
    "/open/{path:path}",
    opt={"public": True},
    media_type="text/html",
    include_in_schema=False,
    sync_to_thread=False,
)
def open_in_app(request: Request[Any, Any, State], path: FromPath[str]) -> Response[str]:
    """Any app path from an email (a post, a care alert, an invitation, sign-in): a page that offers to open
    it in the app and says where to get the app; the reader's language first, then the other one."""
    locale = request_locale(request)
    first = locale if locale in ("fr", "de") else "fr"
    second = "de" if first == "fr" else "fr"
    app_link = f"{APP_SCHEME}:/{path.lstrip('/')}"
    sections = [_render(first, app_link), _render(second, app_link)]
    if locale == "en":
        sections.insert(0, _render("en", app_link))
    html = _pages().get_template("open.html.j2").render(locale=locale, sections=sections)
    return Response(
        html,
        media_type="text/html",
        headers={"Content-Language": locale, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
