"""Feedback routes under /v1: catalogue, staff and keys, placing a report, staff work, mine, open data."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.security.jwt import Token
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from feedback import catalogue, public, service
from feedback.models import (
    AbuseIn,
    ApiKeyCreated,
    ApiKeyIn,
    FeatureCollection,
    FeedbackItem,
    FeedbackPage,
    ForwardIn,
    MunicipalStaffIn,
    Placement,
    ReleaseIn,
    SatisfactionIn,
    ServiceIn,
    ServiceOut,
    ServicePatch,
    StaffMember,
    StatusIn,
)
from hub.auth import CurrentUser, optional_user
from hub.deps import Conn
from hub.errors import request_locale
from hub.openapi import problems

AuthRequest = Request[CurrentUser, Token, State]
AnyRequest = Request[Any, Any, State]
Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size (at most 100)")]
Cursor = Annotated[str | None, QueryParameter(max_length=300, description="next_cursor of the previous page")]
Code = Annotated[str, QueryParameter(pattern=r"^(([0-9]{2}|2A|2B)[0-9]{3}|[0-9]{8})$")]
MUNICIPALITY = r"^(([0-9]{2}|2A|2B)[0-9]{3}|[0-9]{8})$"

Viewer = NamedDependency[CurrentUser | None]


async def provide_viewer(request: AnyRequest) -> CurrentUser | None:
    return await optional_user(request)


class FeedbackController(Controller):
    """Citizen feedback in the app: where a report goes, staff work on it, followers and abuse reports."""

    path = "/feedback"
    tags = ["feedback"]

    # -- catalogue, staff, keys --------------------------------------------------------------------------------

    @get("/services", responses=problems(403, 404))
    async def catalogue(
        self,
        conn: Conn,
        request: AuthRequest,
        municipality: Annotated[str | None, QueryParameter(pattern=MUNICIPALITY)] = None,
    ) -> list[ServiceOut]:
        """The catalogue as its managers see it: region-wide (hub admins) or one municipality's (its staff)."""
        return await catalogue.catalogue(conn, request.user, municipality)

    @post("/services", responses=problems(403, 404, 409, 422))
    async def create_service(self, conn: Conn, request: AuthRequest, data: JSONBody[ServiceIn]) -> ServiceOut:
        """A new service, bilingual name, description and group (both languages required)."""
        return await catalogue.create_service(conn, request.user, data)

    @patch("/services/{code:str}", responses=problems(404, 422))
    async def update_service(
        self, conn: Conn, request: AuthRequest, code: FromPath[str], data: JSONBody[ServicePatch]
    ) -> ServiceOut:
        """Change a service of the catalogue (its texts, keywords, order, or whether it is offered)."""
        return await catalogue.update_service(conn, request.user, code, data)

    @post("/staff", status_code=HTTP_200_OK, responses=problems(403, 422))
    async def grant_staff(
        self, conn: Conn, request: AuthRequest, data: JSONBody[MunicipalStaffIn]
    ) -> list[StaffMember]:
        """Hub admins: make someone staff of a municipality for feedback."""
        return await catalogue.grant_staff(conn, request.user, data)

    @get("/staff/{municipality_code:str}", responses=problems(404), operation_id="listMunicipalStaff")
    async def staff(
        self, conn: Conn, request: AuthRequest, municipality_code: FromPath[str]
    ) -> list[StaffMember]:
        """Hub admins: the feedback staff of a municipality."""
        return await catalogue.list_staff(conn, request.user, municipality_code)

    @delete(
        "/staff/{municipality_code:str}/{user_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(403, 404),
    )
    async def revoke_staff(
        self, conn: Conn, request: AuthRequest, municipality_code: FromPath[str], user_id: FromPath[uuid.UUID]
    ) -> None:
        """Hub admins: someone is no longer feedback staff of a municipality."""
        await catalogue.revoke_staff(conn, request.user, municipality_code, user_id)

    @post("/api-keys", responses=problems(403))
    async def create_api_key(
        self, conn: Conn, request: AuthRequest, data: JSONBody[ApiKeyIn]
    ) -> ApiKeyCreated:
        """Hub admins: a key for a partner's Open311 application (shown once)."""
        return await catalogue.create_api_key(conn, request.user, data)

    # -- before reporting --------------------------------------------------------------------------------------

    @get("/place", opt={"public": True}, responses=problems(public=True))
    async def place(
        self,
        conn: Conn,
        request: AnyRequest,
        lat: Annotated[float, QueryParameter(ge=-90, le=90)],
        long: Annotated[float, QueryParameter(ge=-180, le=180)],
        service_code: Annotated[str | None, QueryParameter(max_length=64)] = None,
    ) -> Placement:
        """Which municipality a report here would go to (or which to choose from), the emergency numbers of
        that country, and open reports of the same service within about 50 m to follow instead."""
        return await service.place(conn, request_locale(request), lat, long, service_code)

    # -- staff and reporters -----------------------------------------------------------------------------------

    @get("/municipalities/{municipality_code:str}/requests", responses=problems(404, 422))
    async def staff_list(
        self,
        conn: Conn,
        request: AuthRequest,
        municipality_code: FromPath[str],
        audience: Annotated[str, QueryParameter(pattern=r"^(municipality|care)$")] = "municipality",
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> FeedbackPage:
        """A municipality's reports for its staff; ``audience=care`` for care providers serving it."""
        return await service.staff_list(
            conn, request.user, request_locale(request), municipality_code, audience, cursor, limit
        )

    @get("/requests/{request_id:uuid}", responses=problems(404), operation_id="getReport")
    async def item(self, conn: Conn, request: AuthRequest, request_id: FromPath[uuid.UUID]) -> FeedbackItem:
        """One report, for its reporter, followers or the staff who handle it."""
        return await service.get_item(conn, request.user, request_locale(request), request_id)

    @post(
        "/requests/{request_id:uuid}/status", status_code=HTTP_200_OK, responses=problems(403, 404, 409, 422)
    )
    async def change_status(
        self, conn: Conn, request: AuthRequest, request_id: FromPath[uuid.UUID], data: JSONBody[StatusIn]
    ) -> FeedbackItem:
        """Staff: acknowledged → in progress → closed, each with a public note in French and German."""
        return await service.change_status(conn, request.user, request_locale(request), request_id, data)

    @post("/requests/{request_id:uuid}/forward", status_code=HTTP_200_OK, responses=problems(403, 404, 422))
    async def forward(
        self, conn: Conn, request: AuthRequest, request_id: FromPath[uuid.UUID], data: JSONBody[ForwardIn]
    ) -> FeedbackItem:
        """Staff: pass the report to the competent municipality, on either side of the border."""
        return await service.forward(conn, request.user, request_locale(request), request_id, data)

    @post("/requests/{request_id:uuid}/release", status_code=HTTP_200_OK, responses=problems(403, 404, 422))
    async def release(
        self, conn: Conn, request: AuthRequest, request_id: FromPath[uuid.UUID], data: JSONBody[ReleaseIn]
    ) -> FeedbackItem:
        """Staff: make the report public, with the photos chosen."""
        return await service.release(conn, request.user, request_locale(request), request_id, data)

    @post("/requests/{request_id:uuid}/satisfaction", status_code=HTTP_200_OK, responses=problems(404, 409))
    async def satisfaction(
        self,
        conn: Conn,
        request: AuthRequest,
        request_id: FromPath[uuid.UUID],
        data: JSONBody[SatisfactionIn],
    ) -> FeedbackItem:
        """The reporter, after closure: satisfied or not (not satisfied reopens it for review)."""
        return await service.satisfaction(conn, request.user, request_locale(request), request_id, data)

    @post("/requests/{request_id:uuid}/follow", status_code=HTTP_204_NO_CONTENT, responses=problems(404))
    async def follow(self, conn: Conn, request: AuthRequest, request_id: FromPath[uuid.UUID]) -> None:
        """Follow a report (a nearby one of the same kind) instead of reporting it again."""
        await service.follow(conn, request.user, request_id)

    @delete(
        "/requests/{request_id:uuid}/follow",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(404),
        operation_id="unfollowReport",
    )
    async def unfollow(self, conn: Conn, request: AuthRequest, request_id: FromPath[uuid.UUID]) -> None:
        """Stop following a report."""
        await service.unfollow(conn, request.user, request_id)

    @post("/requests/{request_id:uuid}/abuse", status_code=HTTP_204_NO_CONTENT, responses=problems(404))
    async def abuse(
        self, conn: Conn, request: AuthRequest, request_id: FromPath[uuid.UUID], data: JSONBody[AbuseIn]
    ) -> None:
        """Report a public report as abusive."""
        await service.report_abuse(conn, request.user, request_id, data)

    @get(
        "/photos/{photo_name:str}",
        opt={"public": True},
        media_type="image/jpeg",
        dependencies={"viewer": Provide(provide_viewer)},
        responses=problems(404, public=True),
    )
    async def photo(self, conn: Conn, viewer: Viewer, photo_name: FromPath[str]) -> Response[bytes]:
        """A released photo (``{id}.jpg``) for anyone, an unreleased one for the reporter and the staff."""
        content = await public.photo(conn, viewer, photo_name)
        return Response(
            content,
            media_type="image/jpeg",
            headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
        )


class MyFeedbackController(Controller):
    path = "/me/feedback"
    tags = ["feedback"]

    @get("/", responses=problems(422))
    async def mine(
        self, conn: Conn, request: AuthRequest, cursor: Cursor = None, limit: Limit = 20
    ) -> FeedbackPage:
        """The reports I made and those I follow, with their history in my language."""
        return await service.my_feedback(conn, request.user, request_locale(request), cursor, limit)


class OpenDataController(Controller):
    path = "/open-data"
    tags = ["feedback"]

    @get(
        "/feedback.geojson",
        opt={"public": True},
        media_type="application/geo+json",
        responses=problems(public=True),
    )
    async def geojson(
        self, conn: Conn, municipality: Annotated[str | None, QueryParameter(pattern=MUNICIPALITY)] = None
    ) -> FeatureCollection:
        """Released reports as GeoJSON (no reporter, no unreleased photo)."""
        return await public.open_data(conn, municipality)


ROUTES = [FeedbackController, MyFeedbackController, OpenDataController]
