"""GET /v1/municipalities: both countries' municipalities, searchable in either language."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter

from hub.deps import Conn
from hub.openapi import problems
from territory import service
from territory.models import MunicipalityPage


class MunicipalityController(Controller):
    path = "/municipalities"
    tags = ["territory"]

    @get("/", opt={"public": True}, responses=problems(422, public=True), operation_id="searchMunicipalities")
    async def search(
        self,
        conn: Conn,
        country: FromQuery[Literal["FR", "DE"] | None] = None,
        q: Annotated[str | None, QueryParameter(max_length=100)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> MunicipalityPage:
        """Municipalities of both countries; ``q`` matches either language, ignoring case and accents."""
        return await service.search(conn, country=country, q=q, limit=limit, cursor=cursor)
