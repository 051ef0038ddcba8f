"""Calendar routes: /v1/calendar/holidays."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.params import QueryParameter
from litestar.types import ControllerRouterHandler

from hub.deps import Conn
from hub.errors import request_locale
from hub.openapi import problems
from territory.calendar import service
from territory.calendar.models import HolidayCalendar
from territory.models import MunicipalityCode


class CalendarController(Controller):
    """Public holidays on both sides of the border."""

    path = "/calendar"
    tags = ["calendar"]

    @get("/holidays", opt={"public": True}, responses=problems(422, public=True), operation_id="listHolidays")
    async def holidays(
        self,
        conn: Conn,
        request: Request[Any, Any, State],
        municipality: Annotated[MunicipalityCode, QueryParameter(description="INSEE or AGS code")],
        year: Annotated[int, QueryParameter(ge=1900, le=2100)],
        lang: Annotated[str | None, QueryParameter(max_length=10)] = None,
    ) -> HolidayCalendar:
        """Public holidays of a municipality (Alsace-Moselle local holidays, German Länder) by year."""
        return await service.holiday_calendar(conn, municipality, year, request_locale(request))


ROUTES: list[ControllerRouterHandler] = [CalendarController]
