"""The pages the account emails link to: prove an address, choose a new password (no JavaScript needed)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable
from typing import Any, get_args

import asyncpg
import jinja2
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State

from accounts import verification
from accounts.models import Password, ResetPasswordRequest
from hub.deps import Conn
from hub.errors import HubError, request_locale
from i18n import N_, translate, translations

#: the shortest password accepted, read from the type the API validates with
MIN_PASSWORD_LENGTH: int = next(
    m.min_length for m in get_args(Password)[1:] if isinstance(m, msgspec.Meta) and m.min_length
)
MAX_PASSWORD_LENGTH: int = next(
    m.max_length for m in get_args(Password)[1:] if isinstance(m, msgspec.Meta) and m.max_length
)
MAX_TOKEN_LENGTH = 200

VERIFIED = N_("Your email address is confirmed. You can go back to the app.")
PASSWORD_CHANGED = N_(
    "Your new password is saved. Sign in with it in the app; every other session has ended."
)
PASSWORD_TOO_SHORT = N_("The new password must be at least {min} characters long.")
PASSWORD_TOO_LONG = N_("The new password may be at most {max} characters long.")
PASSWORDS_DIFFER = N_("The two passwords are not the same. Please type them again.")
LINK_INVALID = N_("This link is not valid or has expired. Ask for a new one in the app.")


@functools.cache
def _pages() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("accounts", "templates/pages"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
    )


def _render(
    request: Request[Any, Any, State], template: str, status: int = 200, **context: Any
) -> Response[str]:
    locale = request_locale(request)
    env = _pages().overlay()
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    html = env.get_template(template).render(locale=locale, lang_query=_lang_query(request), **context)
    headers = {
        "Content-Language": locale,
        # the token is in the address: never cached, never sent on to another site
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
    }
    return Response(html, status_code=status, media_type="text/html", headers=headers)


def _lang_query(request: Request[Any, Any, State]) -> str:
    lang = request.query_params.get("lang")
    return f"?lang={lang}" if lang in ("fr", "de", "en") else ""


async def _attempt(conn: asyncpg.Connection, action: Awaitable[Any]) -> HubError | None:
    """Run a use case in a savepoint: when it is refused, nothing of it stays (as through the API), and
    the refusal is shown on the page instead of a problem document."""
    try:
        async with conn.transaction():
            await action
    except HubError as exc:
        return exc
    return None


def _token(value: object) -> str:
    token = value if isinstance(value, str) else ""
    return token.strip()[:MAX_TOKEN_LENGTH]


# These forms carry the single-use token they act on and nothing else: no session or cookie is involved,
# so a forged cross-site POST could only spend a token its author already holds. A CSRF token would add
# nothing beyond it. Nothing is done on GET, since mail scanners open every link of an email.
# Their POSTs share the per-address limit of sign-in (mounted with it in the shell).


class AccountPages(Controller):
    """Prove an address and reset a password from the links of the account emails."""

    path = "/"
    tags = ["accounts"]
    include_in_schema = False

    @get("/verify-email", opt={"public": True}, media_type="text/html")
    async def verify_email_page(self, request: Request[Any, Any, State]) -> Response[str]:
        """A button that proves the address; opening the link alone changes nothing."""
        token = _token(request.query_params.get("token"))
        return _render(request, "verify.html.j2", token=token, state="ask" if token else "invalid")

    @post("/verify-email", opt={"public": True}, media_type="text/html")
    async def verify_email_submit(self, conn: Conn, request: Request[Any, Any, State]) -> Response[str]:
        """Prove the address with the form's token, as ``POST /v1/auth/verify-email`` does."""
        form = await request.form()
        token = _token(form.get("token"))
        error = await _attempt(conn, verification.verify_email(conn, token)) if token else None
        if not token or error is not None:
            detail = _detail(request, error) if error else translate(request_locale(request), LINK_INVALID)
            return _render(request, "verify.html.j2", status=400, token="", state="invalid", detail=detail)
        return _render(
            request,
            "verify.html.j2",
            token="",
            state="done",
            detail=translate(request_locale(request), VERIFIED),
        )

    @get("/reset-password", opt={"public": True}, media_type="text/html")
    async def reset_password_page(self, request: Request[Any, Any, State]) -> Response[str]:
        """A form for the new password (twice), with its minimum length."""
        token = _token(request.query_params.get("token"))
        return _render(
            request,
            "reset.html.j2",
            token=token,
            state="ask" if token else "invalid",
            min=MIN_PASSWORD_LENGTH,
        )

    @post("/reset-password", opt={"public": True}, media_type="text/html")
    async def reset_password_submit(self, conn: Conn, request: Request[Any, Any, State]) -> Response[str]:
        """Save the new password, as ``POST /v1/auth/password/reset`` does; every session ends."""
        locale = request_locale(request)
        form = await request.form()
        token = _token(form.get("token"))
        password = form.get("password")
        password = password if isinstance(password, str) else ""
        confirm = form.get("password_confirm")
        if not token:
            return _render(
                request,
                "reset.html.j2",
                status=400,
                token="",
                state="invalid",
                detail=translate(locale, LINK_INVALID),
                min=MIN_PASSWORD_LENGTH,
            )
        problem = None
        if isinstance(confirm, str) and confirm != password:
            problem = translate(locale, PASSWORDS_DIFFER)
        else:
            try:
                data = msgspec.convert({"token": token, "password": password}, ResetPasswordRequest)
            except msgspec.ValidationError:
                too_long = len(password) > MAX_PASSWORD_LENGTH
                problem = (
                    translate(locale, PASSWORD_TOO_LONG, max=MAX_PASSWORD_LENGTH)
                    if too_long
                    else translate(locale, PASSWORD_TOO_SHORT, min=MIN_PASSWORD_LENGTH)
                )
        if problem is not None:
            return _render(
                request,
                "reset.html.j2",
                status=422,
                token=token,
                state="ask",
                error=problem,
                min=MIN_PASSWORD_LENGTH,
            )
        error = await _attempt(conn, verification.reset_password(conn, data))
        if error is not None:
            return _render(
                request,
                "reset.html.j2",
                status=400,
                token="",
                state="invalid",
                detail=_detail(request, error),
                min=MIN_PASSWORD_LENGTH,
            )
        return _render(
            request,
            "reset.html.j2",
            token="",
            state="done",
            detail=translate(locale, PASSWORD_CHANGED),
            min=MIN_PASSWORD_LENGTH,
        )


def _detail(request: Request[Any, Any, State], error: HubError) -> str:
    return translate(request_locale(request), error.detail, **error.params)


PAGES = [AccountPages]
