"""The public list of a municipality's released reports, server-rendered in French or German."""

from __future__ import annotations

import functools
from typing import Any

import jinja2
from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.params import FromPath

from feedback import public
from hub.deps import Config, Conn
from hub.errors import request_locale
from hub.openapi import problems
from i18n import N_, translate, translations
from i18n.formatting import format_datetime

STATUSES = {
    "open": N_("Received"),
    "acknowledged": N_("Acknowledged"),
    "in_progress": N_("In progress"),
    "closed": N_("Closed"),
}
RESOLUTIONS = {
    "solved": N_("solved"),
    "not_solved": N_("not solved"),
    "duplicate": N_("already reported"),
    "forwarded": N_("passed on to the competent authority"),
    "rejected": N_("rejected"),
}


@functools.cache
def _pages() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("feedback", "templates/pages"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
    )


class FeedbackPages(Controller):
    path = "/feedback"
    tags = ["feedback"]
    include_in_schema = False

    @get(
        "/{municipality_code:str}",
        opt={"public": True},
        media_type="text/html",
        responses=problems(404, public=True),
    )
    async def public_list(
        self,
        conn: Conn,
        request: Request[Any, Any, State],
        settings: Config,
        municipality_code: FromPath[str],
    ) -> Response[str]:
        """Released reports of a municipality, newest first, with their state and the municipality's notes."""
        locale = request_locale(request)
        if locale not in ("fr", "de"):
            locale = "fr"
        page = await public.public_page(conn, locale, "", municipality_code)
        env = _pages().overlay()
        env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
        html = env.get_template("list.html.j2").render(
            locale=locale,
            page=page,
            statuses={k: translate(locale, v) for k, v in STATUSES.items()},
            resolutions={k: translate(locale, v) for k, v in RESOLUTIONS.items()},
            dates={i.service_request_id: format_datetime(i.requested_datetime, locale) for i in page.items},
            geojson=f"/v1/open-data/feedback.geojson?municipality={page.code}",
        )
        return Response(html, media_type="text/html", headers={"Content-Language": locale})


PAGES = [FeedbackPages]
