"""Partner routes: /v1/partners (hub admins), /v1/partner (with a key), community approval queues."""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Router, delete, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.security.jwt import Token
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT
from litestar.types import ControllerRouterHandler

from communities.partners import service
from communities.partners.models import (
    AuditEntry,
    IssuedKey,
    KeyIn,
    KeyInfo,
    Partner,
    PartnerEventIn,
    PartnerEventResult,
    PartnerIn,
    PartnerKey,
    PartnerPostIn,
    PartnerPostResult,
    PartnerSettings,
    PartnerSettingsIn,
    Submission,
    SubmissionPage,
)
from hub.auth import CurrentUser
from hub.deps import Config, Conn, Queue
from hub.errors import request_locale
from hub.openapi import problems
from hub.throttle import PARTNER_KEY_FAILURES, PARTNER_KEY_WINDOW_S, Failures, client_address

#: requests per minute and key (or address, without a key) on the partner API
PARTNER_RATE_PER_MINUTE = 120

Lang = Annotated[str | None, QueryParameter(max_length=10, description="Reading language: fr, de or en")]
Signed = Request[CurrentUser, Token, State]
AnyRequest = Request[Any, Any, State]
Key = NamedDependency[PartnerKey]


async def provide_key(request: AnyRequest, conn: Conn, settings: Config, arq: Queue) -> PartnerKey:
    """The key presented; wrong keys are counted per client address, so keys cannot be guessed."""
    failures = Failures(
        arq, f"{settings.queue_name}:partnerkey", limit=PARTNER_KEY_FAILURES, window_s=PARTNER_KEY_WINDOW_S
    )
    address = client_address(request.scope, settings.trusted_proxies)
    return await service.authenticate(conn, request.headers.get("authorization"), failures, address)


def _caller(request: Request[Any, Any, Any]) -> str:
    """Rate limits count per key: a partner behind a shared address does not starve another."""
    header = request.headers.get("authorization", "")
    if header:
        return "key:" + hashlib.sha256(header.encode()).hexdigest()[:32]
    return "addr:" + client_address(request.scope, request.app.state.settings.trusted_proxies)


class PartnerAdminController(Controller):
    """Hub administrators register partner organisations and manage their keys."""

    path = "/partners"
    tags = ["partners"]

    @post("/", responses=problems(403, 422), operation_id="createPartner")
    async def create(self, conn: Conn, request: Signed, data: JSONBody[PartnerIn]) -> Partner:
        """Register a municipality, association, tourism office or care provider."""
        return await service.create_partner(conn, request.user, data)

    @post("/{partner_id:uuid}/keys", responses=problems(403, 404, 422), operation_id="issuePartnerKey")
    async def issue_key(
        self, conn: Conn, request: Signed, partner_id: FromPath[uuid.UUID], data: JSONBody[KeyIn]
    ) -> IssuedKey:
        """Issue a key (``hubp_…``, shown once) for named communities and scopes, until it expires."""
        return await service.issue_key(conn, request.user, partner_id, data)

    @get("/{partner_id:uuid}/keys", responses=problems(403, 404), operation_id="listPartnerKeys")
    async def keys(self, conn: Conn, request: Signed, partner_id: FromPath[uuid.UUID]) -> list[KeyInfo]:
        """The partner's keys (never the secret), live, expired and revoked."""
        return await service.list_keys(conn, request.user, partner_id)

    @delete(
        "/{partner_id:uuid}/keys/{key_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(403, 404),
        operation_id="revokePartnerKey",
    )
    async def revoke_key(
        self, conn: Conn, request: Signed, partner_id: FromPath[uuid.UUID], key_id: FromPath[uuid.UUID]
    ) -> None:
        """Revoke a key at once."""
        await service.revoke_key(conn, request.user, partner_id, key_id)

    @get("/{partner_id:uuid}/audit", responses=problems(403, 404), operation_id="listPartnerAudit")
    async def audit(self, conn: Conn, request: Signed, partner_id: FromPath[uuid.UUID]) -> list[AuditEntry]:
        """Everything done with the partner's keys and to them, newest first."""
        return await service.audit_log(conn, request.user, partner_id)


class PartnerController(Controller):
    """What a partner does with its key. A community or scope outside the key answers 404."""

    path = "/"
    tags = ["partner API"]
    dependencies = {"key": Provide(provide_key)}

    @post(
        "/events",
        opt={"public": True},
        responses=problems(401, 404, 422, 429, public=True),
        operation_id="publishPartnerEvent",
    )
    async def event(
        self, conn: Conn, request: AnyRequest, key: Key, data: JSONBody[PartnerEventIn], lang: Lang = None
    ) -> PartnerEventResult:
        """Publish a bilingual event (scope ``events:write``), or submit it where moderators approve first."""
        return await service.partner_event(conn, key, data, request_locale(request))

    @post(
        "/posts",
        opt={"public": True},
        responses=problems(401, 404, 422, 429, public=True),
        operation_id="publishPartnerPost",
    )
    async def post(
        self, conn: Conn, request: AnyRequest, key: Key, data: JSONBody[PartnerPostIn], lang: Lang = None
    ) -> PartnerPostResult:
        """Publish a post (scope ``posts:write``), or submit it where moderators approve first."""
        return await service.partner_post(conn, key, data, request_locale(request))


class CommunityPartnerController(Controller):
    """A community's stance on partner content and its approval queue."""

    path = "/communities/{community_id:uuid}"
    tags = ["partners"]

    @get("/partner-settings", responses=problems(403, 404), operation_id="getPartnerSettings")
    async def settings(
        self, conn: Conn, request: Signed, community_id: FromPath[uuid.UUID]
    ) -> PartnerSettings:
        """Whether partner events and posts need a moderator's approval in this community."""
        return await service.get_settings(conn, request.user, community_id)

    @put("/partner-settings", responses=problems(403, 404), operation_id="setPartnerSettings")
    async def set_settings(
        self,
        conn: Conn,
        request: Signed,
        community_id: FromPath[uuid.UUID],
        data: JSONBody[PartnerSettingsIn],
    ) -> PartnerSettings:
        """Admins require (or stop requiring) a moderator's approval of partner events and posts."""
        return await service.set_settings(conn, request.user, community_id, data)

    @get("/partner-submissions", responses=problems(403, 404), operation_id="listSubmissions")
    async def submissions(
        self, conn: Conn, request: Signed, community_id: FromPath[uuid.UUID]
    ) -> SubmissionPage:
        """Partner events and posts waiting for a moderator, oldest first."""
        return await service.submissions(conn, request.user, community_id)

    @post(
        "/partner-submissions/{submission_id:uuid}/approve",
        status_code=HTTP_200_OK,
        responses=problems(403, 404, 422),
        operation_id="approveSubmission",
    )
    async def approve(
        self,
        conn: Conn,
        request: Signed,
        community_id: FromPath[uuid.UUID],
        submission_id: FromPath[uuid.UUID],
        lang: Lang = None,
    ) -> Submission:
        """Publish it now, with its notification to the members."""
        return await service.decide(
            conn, request.user, community_id, submission_id, approve=True, lang=request_locale(request)
        )

    @post(
        "/partner-submissions/{submission_id:uuid}/reject",
        status_code=HTTP_200_OK,
        responses=problems(403, 404),
        operation_id="rejectSubmission",
    )
    async def reject(
        self,
        conn: Conn,
        request: Signed,
        community_id: FromPath[uuid.UUID],
        submission_id: FromPath[uuid.UUID],
        lang: Lang = None,
    ) -> Submission:
        """Moderators refuse a partner's event or post; nothing is published."""
        return await service.decide(
            conn, request.user, community_id, submission_id, approve=False, lang=request_locale(request)
        )


_limit = RateLimitConfig(
    rate_limit=("minute", PARTNER_RATE_PER_MINUTE), store="rate_limit", identifier_for_request=_caller
)

ROUTES: list[ControllerRouterHandler] = [
    PartnerAdminController,
    Router(path="/partner", route_handlers=[PartnerController], middleware=[_limit.middleware]),
    CommunityPartnerController,
]
