"""Event routes: community agendas, events, RSVPs, iCalendar and open-data feeds, feed tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.security.jwt import Token
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT, HTTP_304_NOT_MODIFIED
from litestar.types import ControllerRouterHandler

from communities.events import service
from communities.events.models import (
    EVENT_EXAMPLE,
    Event,
    EventIn,
    EventPage,
    EventPatch,
    Feed,
    FeedToken,
    Rsvp,
)
from hub.auth import CurrentUser, optional_user
from hub.deps import Config, Conn
from hub.errors import request_locale
from hub.openapi import problems

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size (at most 100)")]
Cursor = Annotated[str | None, QueryParameter(max_length=300, description="next_cursor of the previous page")]
Lang = Annotated[str | None, QueryParameter(max_length=10, description="Reading language: fr, de or en")]
IfNoneMatch = Annotated[str | None, HeaderParameter(name="If-None-Match", max_length=2000, required=False)]
IfModifiedSince = Annotated[
    str | None, HeaderParameter(name="If-Modified-Since", max_length=100, required=False)
]
Signed = Request[CurrentUser, Token, State]
AnyRequest = Request[Any, Any, State]
Viewer = NamedDependency[CurrentUser | None]


async def provide_viewer(request: AnyRequest) -> CurrentUser | None:
    return await optional_user(request)


_VIEWER = {"viewer": Provide(provide_viewer)}


def _feed_response(feed: Feed) -> Response[bytes]:
    headers = {
        "ETag": feed.etag,
        "Last-Modified": service.http_datetime(feed.last_modified),
        "Cache-Control": "private, max-age=300",
    }
    if feed.body is None:
        return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
    # Litestar adds the charset to a text/* media type itself: one charset parameter, not two
    return Response(feed.body, media_type=feed.media_type, headers=headers)


class CommunityEventController(Controller):
    """A community's agenda, its iCalendar feed and personal feed addresses."""

    path = "/communities/{community_id:uuid}"
    tags = ["events"]

    @post(
        "/events",
        responses=problems(403, 404, 422),
        operation_id="createEvent",
        opt={"example": EVENT_EXAMPLE},
    )
    async def create(
        self,
        conn: Conn,
        request: Signed,
        community_id: FromPath[uuid.UUID],
        data: JSONBody[EventIn],
        lang: Lang = None,
    ) -> Event:
        """Publishers, moderators and admins add an event; the community's members are told."""
        return await service.create_event(conn, request.user, community_id, data, request_locale(request))

    @get(
        "/events",
        opt={"public": True},
        dependencies=_VIEWER,
        responses=problems(403, 404, 422, public=True),
        operation_id="listEvents",
    )
    async def agenda(
        self,
        conn: Conn,
        settings: Config,
        request: AnyRequest,
        viewer: Viewer,
        community_id: FromPath[uuid.UUID],
        since: Annotated[
            datetime | None, QueryParameter(description="events ending after this instant")
        ] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
        lang: Lang = None,
    ) -> EventPage:
        """Events not yet over, soonest first, each with the public holidays on its dates."""
        return await service.community_events(
            conn,
            viewer,
            community_id,
            secret=settings.secret_key,
            since=since,
            limit=limit,
            cursor=cursor,
            lang=request_locale(request),
        )

    @get(
        "/events.ics",
        opt={"public": True},
        dependencies=_VIEWER,
        media_type="text/calendar",
        responses=problems(404, public=True),
        operation_id="getEventsCalendar",
    )
    async def ics(
        self,
        conn: Conn,
        request: AnyRequest,
        viewer: Viewer,
        community_id: FromPath[uuid.UUID],
        token: Annotated[
            str | None, QueryParameter(max_length=200, description="personal feed token")
        ] = None,
        if_none_match: IfNoneMatch = None,
        if_modified_since: IfModifiedSince = None,
        lang: Lang = None,
    ) -> Response[bytes]:
        """iCalendar feed (RFC 5545): public communities openly, private ones with ``?token=``; 304 when
        the caller's copy (ETag / Last-Modified) is current."""
        feed = await service.ics_feed(
            conn,
            viewer,
            community_id,
            token=token,
            lang=request_locale(request),
            if_none_match=if_none_match,
            if_modified_since=if_modified_since,
        )
        return _feed_response(feed)

    @post("/feed-token", status_code=HTTP_200_OK, responses=problems(403, 404))
    async def create_feed_token(
        self, conn: Conn, settings: Config, request: Signed, community_id: FromPath[uuid.UUID]
    ) -> FeedToken:
        """A personal calendar address (shown once); a new one revokes the previous one."""
        return await service.create_feed_token(conn, request.user, community_id, settings.public_url)

    @delete("/feed-token", status_code=HTTP_204_NO_CONTENT, responses=problems(404))
    async def revoke_feed_token(self, conn: Conn, request: Signed, community_id: FromPath[uuid.UUID]) -> None:
        """Revoke my personal calendar address for this community."""
        await service.revoke_feed_token(conn, request.user, community_id)


class EventController(Controller):
    """One event, answers to it, and the open-data feed of public events."""

    path = "/events"
    tags = ["events"]

    @get(
        "/open-data", opt={"public": True}, responses=problems(public=True), operation_id="listOpenDataEvents"
    )
    async def open_data(
        self,
        conn: Conn,
        request: AnyRequest,
        if_none_match: IfNoneMatch = None,
        if_modified_since: IfModifiedSince = None,
        lang: Lang = None,
    ) -> Response[bytes]:
        """Upcoming events of public communities as JSON (see OpenData); 304 on a current copy."""
        feed = await service.open_data(
            conn,
            lang=request_locale(request),
            if_none_match=if_none_match,
            if_modified_since=if_modified_since,
        )
        return _feed_response(feed)

    @get(
        "/{event_id:uuid}",
        opt={"public": True},
        dependencies=_VIEWER,
        responses=problems(404, public=True),
        operation_id="getEvent",
    )
    async def detail(
        self,
        conn: Conn,
        request: AnyRequest,
        viewer: Viewer,
        event_id: FromPath[uuid.UUID],
        lang: Lang = None,
    ) -> Event:
        """One event, with its places, waiting list and my answer."""
        return await service.get_event(conn, viewer, event_id, request_locale(request))

    @patch("/{event_id:uuid}", responses=problems(403, 404, 409, 422), operation_id="updateEvent")
    async def update(
        self,
        conn: Conn,
        request: Signed,
        event_id: FromPath[uuid.UUID],
        data: JSONBody[EventPatch],
        lang: Lang = None,
    ) -> Event:
        """Its creator or the community's moderators correct, move or cancel (``status: cancelled``) it."""
        return await service.update_event(conn, request.user, event_id, data, request_locale(request))

    @delete(
        "/{event_id:uuid}", status_code=HTTP_200_OK, responses=problems(403, 404), operation_id="cancelEvent"
    )
    async def cancel(
        self, conn: Conn, request: Signed, event_id: FromPath[uuid.UUID], lang: Lang = None
    ) -> Event:
        """Cancel: the event stays visible as cancelled (calendars drop it) and everyone who answered is told."""
        return await service.cancel_event(conn, request.user, event_id, request_locale(request))

    @post(
        "/{event_id:uuid}/rsvp",
        status_code=HTTP_200_OK,
        responses=problems(403, 404, 409),
        operation_id="attendEvent",
    )
    async def rsvp(self, conn: Conn, request: Signed, event_id: FromPath[uuid.UUID]) -> Rsvp:
        """Attend, or join the waiting list when it is full (members of the community)."""
        return await service.rsvp(conn, request.user, event_id)

    @delete(
        "/{event_id:uuid}/rsvp",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(404),
        operation_id="withdrawFromEvent",
    )
    async def withdraw(self, conn: Conn, request: Signed, event_id: FromPath[uuid.UUID]) -> None:
        """Stop attending (the first person waiting gets the place) or leave the waiting list."""
        await service.withdraw_rsvp(conn, request.user, event_id)


ROUTES: list[ControllerRouterHandler] = [CommunityEventController, EventController]
