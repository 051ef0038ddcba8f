"""Routes of followed places: GET and PUT /v1/me/places."""

from __future__ import annotations

from litestar import Controller, Request, get, put
from litestar.datastructures import State
from litestar.params import JSONBody
from litestar.security.jwt import Token

from accounts.places import service
from accounts.places.models import Places, PlacesIn
from hub.auth import CurrentUser
from hub.deps import Conn
from hub.openapi import problems


class PlacesController(Controller):
    """The places the signed-in person follows besides home."""

    path = "/me/places"
    tags = ["accounts"]

    @get("/", responses=problems(), operation_id="listMyPlaces")
    async def places(self, conn: Conn, request: Request[CurrentUser, Token, State]) -> Places:
        """The places I follow besides home (up to 10, both countries)."""
        return await service.get_places(conn, request.user.id)

    @put("/", responses=problems(422), operation_id="replaceMyPlaces")
    async def replace(
        self, conn: Conn, request: Request[CurrentUser, Token, State], data: JSONBody[PlacesIn]
    ) -> Places:
        """Replace the places I follow: warnings, sensor alerts and feedback updates for them reach me too."""
        return await service.put_places(conn, request.user.id, data)
