"""Account routes: /v1/auth/* and /v1/me."""

from __future__ import annotations

from litestar import Controller, Request, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody
from litestar.security.jwt import Token
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from hub.accounts import service
from hub.accounts.models import (
    AuthResponse,
    Export,
    LoginRequest,
    ProfileUpdate,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
    User,
)
from hub.auth import CurrentUser
from hub.deps import Config, Conn, Issuer, Queue
from hub.openapi import problems
from hub.throttle import SIGN_IN_FAILURES, SIGN_IN_WINDOW_S, Failures


class AuthController(Controller):
    """Sign-up and sign-in; rate-limited per client address (see create_app)."""

    path = "/auth"
    tags = ["accounts"]

    @post("/register", opt={"public": True}, responses=problems(409, 422, 429, public=True))
    async def register(
        self, conn: Conn, issuer: Issuer, settings: Config, data: JSONBody[RegisterRequest]
    ) -> AuthResponse:
        return await service.register(conn, issuer, settings, data)

    @post("/login", opt={"public": True}, status_code=HTTP_200_OK, responses=problems(401, 429, public=True))
    async def login(
        self, conn: Conn, issuer: Issuer, settings: Config, arq: Queue, data: JSONBody[LoginRequest]
    ) -> AuthResponse:
        """Also limited per account: too many failures for one address of any origin is a 429."""
        failures = Failures(
            arq, f"{settings.queue_name}:signin", limit=SIGN_IN_FAILURES, window_s=SIGN_IN_WINDOW_S
        )
        return await service.login(conn, issuer, settings, data, failures)

    @post(
        "/refresh", opt={"public": True}, status_code=HTTP_200_OK, responses=problems(401, 429, public=True)
    )
    async def refresh(
        self, conn: Conn, issuer: Issuer, settings: Config, data: JSONBody[RefreshRequest]
    ) -> TokenPair:
        return await service.refresh(conn, issuer, settings, data.refresh_token)

    @post("/logout", status_code=HTTP_204_NO_CONTENT, responses=problems(429))
    async def logout(self, conn: Conn, request: Request[CurrentUser, Token, State]) -> None:
        await service.logout(conn, request.user)


class MeController(Controller):
    """The signed-in person's profile, export and erasure."""

    path = "/me"
    tags = ["accounts"]

    @get("/", responses=problems(404))
    async def me(self, conn: Conn, request: Request[CurrentUser, Token, State]) -> User:
        return await service.profile(conn, request.user.id)

    @patch("/", responses=problems(404, 422))
    async def update(
        self, conn: Conn, request: Request[CurrentUser, Token, State], data: JSONBody[ProfileUpdate]
    ) -> User:
        return await service.update_profile(conn, request.user.id, data)

    @get("/export", responses=problems(404))
    async def export(self, conn: Conn, request: Request[CurrentUser, Token, State]) -> Export:
        return await service.export(conn, request.user.id)

    @delete("/", status_code=HTTP_204_NO_CONTENT, responses=problems(404))
    async def erase(self, conn: Conn, request: Request[CurrentUser, Token, State]) -> None:
        await service.erase(conn, request.user.id)
