"""Account routes: /v1/auth/* and /v1/me."""

from __future__ import annotations

from litestar import Controller, Request, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody
from litestar.security.jwt import Token
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from accounts import service
from accounts.models import (
    LOGIN_EXAMPLE,
    REGISTER_EXAMPLE,
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
from hub.deps import Config, Conn, Issuer, UserDataSections
from hub.openapi import problems


class AuthController(Controller):
    """Sign-up and sign-in; rate-limited per client address (see create_app)."""

    path = "/auth"
    tags = ["accounts"]

    @post(
        "/register",
        opt={"public": True, "example": REGISTER_EXAMPLE},
        responses=problems(409, 422, 429, public=True),
        operation_id="signUp",
    )
    async def register(
        self, conn: Conn, issuer: Issuer, settings: Config, data: JSONBody[RegisterRequest]
    ) -> AuthResponse:
        """Create an account and a first session; the answer carries the access and refresh tokens."""
        return await service.register(conn, issuer, settings, data)

    @post(
        "/login",
        opt={"public": True, "example": LOGIN_EXAMPLE},
        status_code=HTTP_200_OK,
        responses=problems(401, 429, public=True),
        operation_id="signIn",
    )
    async def login(
        self, conn: Conn, issuer: Issuer, settings: Config, data: JSONBody[LoginRequest]
    ) -> AuthResponse:
        """Sign in with email address and password; a new session with its tokens."""
        return await service.login(conn, issuer, settings, data)

    @post(
        "/refresh",
        opt={"public": True},
        status_code=HTTP_200_OK,
        responses=problems(401, 429, public=True),
        operation_id="refreshTokens",
    )
    async def refresh(
        self, conn: Conn, issuer: Issuer, settings: Config, data: JSONBody[RefreshRequest]
    ) -> TokenPair:
        """Exchange a refresh token for a new pair (rotated: a reused one revokes the session)."""
        return await service.refresh(conn, issuer, settings, data.refresh_token)

    @post("/logout", status_code=HTTP_204_NO_CONTENT, responses=problems(429), operation_id="signOut")
    async def logout(self, conn: Conn, request: Request[CurrentUser, Token, State]) -> None:
        """End the current session; its refresh token stops working."""
        await service.logout(conn, request.user)


class MeController(Controller):
    """The signed-in person's profile, export and erasure."""

    path = "/me"
    tags = ["accounts"]

    @get("/", responses=problems(404), operation_id="getMe")
    async def me(self, conn: Conn, request: Request[CurrentUser, Token, State]) -> User:
        """My profile."""
        return await service.profile(conn, request.user.id)

    @patch("/", responses=problems(404, 422), operation_id="updateMe")
    async def update(
        self, conn: Conn, request: Request[CurrentUser, Token, State], data: JSONBody[ProfileUpdate]
    ) -> User:
        """Change my profile: only the fields sent."""
        return await service.update_profile(conn, request.user.id, data)

    @get("/export", responses=problems(404), operation_id="exportMyData")
    async def export(
        self, conn: Conn, request: Request[CurrentUser, Token, State], user_data: UserDataSections
    ) -> Export:
        """Everything the hub keeps about me, every domain's section (GDPR art. 15 and 20)."""
        return await service.export(conn, request.user.id, user_data)

    @delete("/", status_code=HTTP_204_NO_CONTENT, responses=problems(404), operation_id="eraseMe")
    async def erase(
        self, conn: Conn, request: Request[CurrentUser, Token, State], user_data: UserDataSections
    ) -> None:
        """Erase my account and my data in every domain (GDPR art. 17), sessions included."""
        await service.erase(conn, request.user.id, user_data)
