"""Account routes: /v1/auth/* and /v1/me."""

from __future__ import annotations

from litestar import Controller, Request, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody
from litestar.security.jwt import Token
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from accounts import service, verification
from accounts.models import (
    LOGIN_EXAMPLE,
    REGISTER_EXAMPLE,
    Accepted,
    AuthResponse,
    ChangePasswordRequest,
    EmailVerified,
    Export,
    ForgotPasswordRequest,
    LoginRequest,
    ProfileUpdate,
    RefreshRequest,
    RegisterRequest,
    ResetPasswordRequest,
    SessionsEnded,
    TokenPair,
    User,
    VerifyEmailRequest,
)
from hub.auth import CurrentUser
from hub.deps import Config, Conn, Issuer, Queue, UserDataSections
from hub.openapi import problems
from hub.throttle import SIGN_IN_FAILURES, SIGN_IN_WINDOW_S, Failures


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
        self, conn: Conn, issuer: Issuer, settings: Config, arq: Queue, data: JSONBody[LoginRequest]
    ) -> AuthResponse:
        """Sign in with email address and password; a new session with its tokens. Also limited per account:
        too many failures for one address, from any origin, is a 429."""
        failures = Failures(
            arq, f"{settings.queue_name}:signin", limit=SIGN_IN_FAILURES, window_s=SIGN_IN_WINDOW_S
        )
        return await service.login(conn, issuer, settings, data, failures)

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

    @post("/logout-all", status_code=HTTP_204_NO_CONTENT, responses=problems(429))
    async def logout_all(self, conn: Conn, request: Request[CurrentUser, Token, State]) -> None:
        """End every session of the signed-in person, this one included (like logout, for all devices)."""
        await verification.logout_all(conn, request.user.id)

    @post(
        "/verify-email",
        opt={"public": True},
        status_code=HTTP_200_OK,
        responses=problems(400, 409, 429, public=True),
    )
    async def verify_email(self, conn: Conn, data: JSONBody[VerifyEmailRequest]) -> EmailVerified:
        """Prove an address with the token of the link sent to it."""
        return await verification.verify_email(conn, data.token)

    @post(
        "/password/forgot",
        opt={"public": True},
        status_code=HTTP_202_ACCEPTED,
        responses=problems(429, public=True),
    )
    async def forgot_password(self, conn: Conn, data: JSONBody[ForgotPasswordRequest]) -> Accepted:
        """Mail a reset link if the address has an account; the answer is always the same."""
        return await verification.forgot_password(conn, data.email)

    @post(
        "/password/reset",
        opt={"public": True},
        status_code=HTTP_200_OK,
        responses=problems(400, 422, 429, public=True),
    )
    async def reset_password(self, conn: Conn, data: JSONBody[ResetPasswordRequest]) -> SessionsEnded:
        """A new password from a reset link; every session ends."""
        return await verification.reset_password(conn, data)


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

    @post("/password", status_code=HTTP_200_OK, responses=problems(422))
    async def change_password(
        self, conn: Conn, request: Request[CurrentUser, Token, State], data: JSONBody[ChangePasswordRequest]
    ) -> SessionsEnded:
        """Change the password (the current one is asked); the person's other sessions end."""
        return await verification.change_password(conn, request.user, data)

    @post("/verify-email", status_code=HTTP_202_ACCEPTED)
    async def resend_verification(self, conn: Conn, request: Request[CurrentUser, Token, State]) -> Accepted:
        """Send a new verification link to the account's address (nothing when it is proven already)."""
        return await verification.send_verification(conn, await service.profile(conn, request.user.id))

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
