"""Warnings routes: in force for a place, one with its history, and the open-data GeoJSON."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter
from litestar.types import ControllerRouterHandler

from hub.auth import CurrentUser, optional_user
from hub.deps import Conn
from hub.errors import request_locale
from hub.openapi import problems
from i18n import negotiate
from official_warnings import service
from official_warnings.models import WarningDetail, WarningPage
from territory.models import MunicipalityCode

AnyRequest = Request[Any, Any, State]
Viewer = NamedDependency[CurrentUser | None]
Lang = Annotated[str | None, QueryParameter(max_length=10, description="Reading language: fr, de or en")]


async def provide_viewer(request: AnyRequest) -> CurrentUser | None:
    return await optional_user(request)


_VIEWER = {"viewer": Provide(provide_viewer)}


def _locale(request: AnyRequest, viewer: CurrentUser | None) -> str:
    if viewer is None:
        return request_locale(request)
    return negotiate(request.query_params.get("lang"), viewer.locale, request.headers.get("accept-language"))


class WarningController(Controller):
    """Official warnings (DWD, MeteoAlarm, NINA), readable without an account."""

    path = "/warnings"
    tags = ["warnings"]

    @get("/", opt={"public": True}, dependencies=_VIEWER, responses=problems(422, public=True))
    async def in_force(
        self,
        conn: Conn,
        request: AnyRequest,
        viewer: Viewer,
        municipality: Annotated[MunicipalityCode | None, QueryParameter()] = None,
        lang: Lang = None,
    ) -> WarningPage:
        """Warnings in force for a place (or everywhere), newest first, in the reader's language."""
        return await service.warnings_in_force(
            conn, municipality=municipality, locale=_locale(request, viewer)
        )

    @get(
        "/{warning_id:uuid}", opt={"public": True}, dependencies=_VIEWER, responses=problems(404, public=True)
    )
    async def detail(
        self,
        conn: Conn,
        request: AnyRequest,
        viewer: Viewer,
        warning_id: FromPath[uuid.UUID],
        lang: Lang = None,
    ) -> WarningDetail:
        """One warning with its history (alert → updates → cancel)."""
        return await service.warning_detail(conn, warning_id, locale=_locale(request, viewer))


class OpenDataController(Controller):
    path = "/open-data"
    tags = ["open data"]

    @get("/warnings.geojson", opt={"public": True}, responses=problems(public=True))
    async def warnings_geojson(self, conn: Conn) -> Response[dict[str, Any]]:
        """Warnings in force: one point per covered municipality, at its centroid (not the warning's shape)."""
        return Response(await service.open_data(conn), media_type="application/geo+json")


ROUTES: list[ControllerRouterHandler] = [WarningController, OpenDataController]
