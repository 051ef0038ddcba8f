"""Community routes: /v1/communities, memberships, posts, feeds and moderation."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from litestar import Controller, Request, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.security.jwt import Token
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT
from litestar.types import ControllerRouterHandler

from communities import service
from communities.models import (
    COMMUNITY_EXAMPLE,
    POST_EXAMPLE,
    Community,
    CommunityIn,
    CommunityPage,
    CommunityPatch,
    Kind,
    MemberPage,
    Membership,
    MemberUpdate,
    Post,
    PostIn,
    PostPage,
    PostPatch,
    Report,
    ReportIn,
    ReportPage,
)
from hub.auth import CurrentUser, optional_user
from hub.deps import Config, Conn, ReadConn
from hub.errors import request_locale
from hub.openapi import problems
from hub.settings import Settings
from territory.models import MunicipalityCode

Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size (at most 100)")]
Cursor = Annotated[str | None, QueryParameter(max_length=300, description="next_cursor of the previous page")]
Lang = Annotated[str | None, QueryParameter(max_length=10, description="Reading language: fr, de or en")]
Signed = Request[CurrentUser, Token, State]
AnyRequest = Request[Any, Any, State]
#: the signed-in caller on routes anonymous callers may also use
Viewer = NamedDependency[CurrentUser | None]


async def provide_viewer(request: AnyRequest) -> CurrentUser | None:
    return await optional_user(request)


_VIEWER = {"viewer": Provide(provide_viewer)}


class CommunityController(Controller):
    """Communities, their members, posts and moderation queue."""

    path = "/communities"
    tags = ["communities"]

    @get(
        "/",
        opt={"public": True},
        dependencies=_VIEWER,
        responses=problems(422, public=True),
        operation_id="listCommunities",
    )
    async def discover(
        self,
        conn: Conn,
        settings: Config,
        request: AnyRequest,
        viewer: Viewer,
        municipality: Annotated[MunicipalityCode | None, QueryParameter()] = None,
        q: Annotated[str | None, QueryParameter(max_length=100)] = None,
        kind: Annotated[Kind | None, QueryParameter()] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
        lang: Lang = None,
    ) -> CommunityPage:
        """Public communities and private ones I belong to, by municipality, text (either language), kind."""
        return await service.discover(
            conn,
            viewer,
            secret=settings.secret_key,
            municipality=municipality,
            q=q,
            kind=kind,
            limit=limit,
            cursor=cursor,
            lang=request_locale(request),
        )

    @post("/", responses=problems(422), operation_id="createCommunity", opt={"example": COMMUNITY_EXAMPLE})
    async def create(
        self, conn: Conn, request: Signed, data: JSONBody[CommunityIn], lang: Lang = None
    ) -> Community:
        """Create a community; I become its admin."""
        return await service.create_community(conn, request.user, data, request_locale(request))

    @get(
        "/{community_id:uuid}",
        opt={"public": True},
        dependencies=_VIEWER,
        responses=problems(404, public=True),
        operation_id="getCommunity",
    )
    async def detail(
        self,
        conn: Conn,
        request: AnyRequest,
        viewer: Viewer,
        community_id: FromPath[uuid.UUID],
        lang: Lang = None,
    ) -> Community:
        """One community, with my membership in it."""
        return await service.get_community(conn, viewer, community_id, request_locale(request))

    @patch("/{community_id:uuid}", responses=problems(403, 404, 409, 422), operation_id="updateCommunity")
    async def update(
        self,
        conn: Conn,
        request: Signed,
        community_id: FromPath[uuid.UUID],
        data: JSONBody[CommunityPatch],
        lang: Lang = None,
    ) -> Community:
        """Admins change the community's names, description, municipalities, visibility, policy or kind."""
        return await service.update_community(conn, request.user, community_id, data, request_locale(request))

    @post(
        "/{community_id:uuid}/join",
        status_code=HTTP_200_OK,
        responses=problems(403, 404),
        operation_id="joinCommunity",
    )
    async def join(self, conn: Conn, request: Signed, community_id: FromPath[uuid.UUID]) -> Membership:
        """Join (active at once, or pending where admins approve); joining twice changes nothing."""
        return await service.join(conn, request.user, community_id)

    @delete(
        "/{community_id:uuid}/membership",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(404, 409),
        operation_id="leaveCommunity",
    )
    async def leave(self, conn: Conn, request: Signed, community_id: FromPath[uuid.UUID]) -> None:
        """Leave, or withdraw a request to join; the last admin must hand over first (409)."""
        await service.leave(conn, request.user, community_id)

    @get("/{community_id:uuid}/members", responses=problems(403, 404, 422), operation_id="listMembers")
    async def members(
        self,
        conn: Conn,
        settings: Config,
        request: Signed,
        community_id: FromPath[uuid.UUID],
        status: Annotated[Literal["pending", "active", "banned"] | None, QueryParameter()] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> MemberPage:
        """Moderators and admins list members (``status=pending`` for requests to approve)."""
        return await service.members(
            conn,
            request.user,
            community_id,
            secret=settings.secret_key,
            status=status,
            limit=limit,
            cursor=cursor,
        )

    @patch("/{community_id:uuid}/members/{user_id:uuid}", responses=problems(403, 404, 409))
    async def update_member(
        self,
        conn: Conn,
        request: Signed,
        community_id: FromPath[uuid.UUID],
        user_id: FromPath[uuid.UUID],
        data: JSONBody[MemberUpdate],
    ) -> Membership | None:
        """Approve, reject (``removed``), ban, or (admins) set a role; null when the membership is gone."""
        return await service.update_member(conn, request.user, community_id, user_id, data)

    @post("/{community_id:uuid}/posts", responses=problems(403, 404, 422), opt={"example": POST_EXAMPLE})
    async def create_post(
        self,
        conn: Conn,
        request: Signed,
        community_id: FromPath[uuid.UUID],
        data: JSONBody[PostIn],
        lang: Lang = None,
    ) -> Post:
        """Publishers, moderators and admins post (urgent: moderators and admins); ``publish_at`` schedules."""
        return await service.create_post(conn, request.user, community_id, data, request_locale(request))

    @get(
        "/{community_id:uuid}/posts",
        opt={"public": True},
        dependencies=_VIEWER,
        responses=problems(403, 404, 422),
        operation_id="listPosts",
    )
    async def posts(
        self,
        read_conn: ReadConn,
        settings: Config,
        request: AnyRequest,
        viewer: Viewer,
        community_id: FromPath[uuid.UUID],
        limit: Limit = 20,
        cursor: Cursor = None,
        lang: Lang = None,
    ) -> PostPage:
        """The community's posts, newest first, in my language (``fallback`` marks the other one)."""
        return await service.community_posts(
            read_conn,
            viewer,
            community_id,
            secret=settings.secret_key,
            limit=limit,
            cursor=cursor,
            lang=request_locale(request),
        )

    @get("/{community_id:uuid}/reports", responses=problems(403, 404, 422), operation_id="listReports")
    async def reports(
        self,
        conn: Conn,
        settings: Config,
        request: Signed,
        community_id: FromPath[uuid.UUID],
        limit: Limit = 50,
        cursor: Cursor = None,
        lang: Lang = None,
    ) -> ReportPage:
        """Moderators' queue of open reports, oldest first."""
        return await service.report_queue(
            conn,
            request.user,
            community_id,
            secret=settings.secret_key,
            limit=limit,
            cursor=cursor,
            lang=request_locale(request),
        )


class PostController(Controller):
    """Single posts: read, edit, delete, report, hide and restore."""

    path = "/posts"
    tags = ["communities"]

    @get(
        "/{post_id:uuid}",
        opt={"public": True},
        dependencies=_VIEWER,
        responses=problems(404, public=True),
        operation_id="getPost",
    )
    async def detail(
        self,
        conn: Conn,
        request: AnyRequest,
        viewer: Viewer,
        post_id: FromPath[uuid.UUID],
        lang: Lang = None,
    ) -> Post:
        """One post, in my language (``fallback`` marks the other one)."""
        return await service.get_post(conn, viewer, post_id, request_locale(request))

    @patch("/{post_id:uuid}", responses=problems(403, 404, 422), operation_id="updatePost")
    async def update(
        self,
        conn: Conn,
        request: Signed,
        post_id: FromPath[uuid.UUID],
        data: JSONBody[PostPatch],
        lang: Lang = None,
    ) -> Post:
        """Authors and moderators correct a post."""
        return await service.update_post(conn, request.user, post_id, data, request_locale(request))

    @delete(
        "/{post_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(403, 404),
        operation_id="deletePost",
    )
    async def remove(self, conn: Conn, request: Signed, post_id: FromPath[uuid.UUID]) -> None:
        """Authors and moderators delete a post; it leaves every feed."""
        await service.delete_post(conn, request.user, post_id)

    @post("/{post_id:uuid}/report", responses=problems(404), operation_id="reportPost")
    async def report(
        self, conn: Conn, request: Signed, post_id: FromPath[uuid.UUID], data: JSONBody[ReportIn]
    ) -> Report:
        """Report a post to the community's moderators."""
        return await service.report_post(conn, request.user, post_id, data)

    @post(
        "/{post_id:uuid}/hide", status_code=HTTP_200_OK, responses=problems(403, 404), operation_id="hidePost"
    )
    async def hide(
        self, conn: Conn, request: Signed, post_id: FromPath[uuid.UUID], lang: Lang = None
    ) -> Post:
        """Moderators take a post out of every feed."""
        return await service.set_hidden(
            conn, request.user, post_id, hidden=True, lang=request_locale(request)
        )

    @post(
        "/{post_id:uuid}/restore",
        status_code=HTTP_200_OK,
        responses=problems(403, 404),
        operation_id="restorePost",
    )
    async def restore(
        self, conn: Conn, request: Signed, post_id: FromPath[uuid.UUID], lang: Lang = None
    ) -> Post:
        """Moderators put a hidden post back."""
        return await service.set_hidden(
            conn, request.user, post_id, hidden=False, lang=request_locale(request)
        )


class FeedController(Controller):
    path = "/feed"
    tags = ["communities"]

    @get("/", responses=problems(422), operation_id="listFeed")
    async def feed(
        self,
        read_conn: ReadConn,
        state: State,
        request: Signed,
        limit: Limit = 20,
        cursor: Cursor = None,
        lang: Lang = None,
    ) -> PostPage:
        """Posts of all my communities, newest first, in my language."""
        # Settings from the app's state rather than a second dependency: Litestar resolves two dependencies
        # in a task group, which costs this busiest route about a tenth of its time.
        settings: Settings = state.settings
        return await service.feed(
            read_conn,
            request.user,
            secret=settings.secret_key,
            limit=limit,
            cursor=cursor,
            lang=request_locale(request),
        )


ROUTES: list[ControllerRouterHandler] = [CommunityController, PostController, FeedController]
