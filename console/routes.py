"""Console pages under /console: sign-in, overview, compose with preview and audience, follow-up, moderation."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any, TypeAlias
from urllib.parse import quote

from litestar import Controller, Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, TooManyRequestsException
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from accounts import service as accounts
from accounts.models import LoginRequest
from care import service as care
from communities import service as communities
from communities.partners import service as partners
from console import service
from console.errors import FormExpired, SignInRequired
from console.models import Draft, PostDraft
from console.pages import (
    CONSOLE_LOCALES,
    CSRF_COOKIE,
    CSRF_FIELD,
    SESSION_COOKIE,
    STATIC,
    console_locale,
    cookie,
    csrf_valid,
    is_htmx,
    render,
)
from hub.auth import CurrentUser
from hub.deps import Config, Conn, Issuer, Queue
from hub.errors import EXCEPTION_HANDLERS, HubError, InvalidCredentials
from i18n import N_, translate

logger = logging.getLogger("console")

Form = URLEncodedBody[dict[str, Any]]
#: the person signed in with the console cookie
Operator: TypeAlias = NamedDependency[CurrentUser]
DONE = ("hidden", "restored", "approved", "rejected", "verified", "accepted", "declined")
MEMBER_DONE = ("role", "banned", "unbanned")
ERROR_SIGN_IN = N_("The email address or the password is not correct.")


def _now() -> datetime:
    return datetime.now(UTC)


async def provide_operator(request: Request[Any, Any, Any], conn: Conn) -> CurrentUser:
    """The person signed in with the console's cookie; otherwise they are sent to the sign-in page."""
    token = request.cookies.get(SESSION_COOKIE, "")
    user = await accounts.session_user(conn, token) if token else None
    if user is None:
        raise SignInRequired()
    request.scope["user"] = user
    return user


def _form(request: Request[Any, Any, Any], data: dict[str, Any]) -> dict[str, str]:
    """The submitted fields, once the CSRF token has been checked against its cookie."""
    form = service.decode_form(data)
    if not csrf_valid(request, form.get(CSRF_FIELD)):
        raise FormExpired()
    return form


def _locale(request: Request[Any, Any, Any], user: CurrentUser | None) -> str:
    return console_locale(request, user.locale if user else None)


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/console") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console/"


async def _over_limit(queue: Queue, settings: Config, request: Request[Any, Any, Any], email: str) -> bool:
    """Sign-in attempts per client address and per account and minute, as for the API's sign-in."""
    address = request.client.host if request.client else "unknown"
    account = hashlib.sha256(email.strip().casefold().encode()).hexdigest()[:32]
    over = False
    for key in (f"address:{address}", f"account:{account}"):
        name = f"{settings.queue_name}:console:sign-in:{key}"
        count = await queue.incr(name)
        if count == 1:
            await queue.expire(name, 60)
        over = over or count > settings.auth_rate_per_minute
    return over


class SignInController(Controller):
    path = "/sign-in"

    @get("/")
    async def page(
        self, request: Request[Any, Any, Any], next: FromQuery[str | None] = None
    ) -> Response[str]:
        locale = _locale(request, None)
        return render(request, "sign_in.html.j2", locale, next=_safe_next(next), error=None, email="")

    @post("/")
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        issuer: Issuer,
        settings: Config,
        arq: Queue,
        data: Form,
    ) -> Response[Any]:
        form = _form(request, data)
        locale = _locale(request, None)
        email, password = form.get("email", "")[:254], form.get("password", "")[:256]
        if await _over_limit(arq, settings, request, email):
            raise TooManyRequestsException(headers={"Retry-After": "60"})
        try:
            signed_in = await accounts.login(
                conn, issuer, settings, LoginRequest(email=email, password=password)
            )
        except InvalidCredentials:
            logger.info("console sign-in refused")
            return render(
                request,
                "sign_in.html.j2",
                locale,
                status_code=401,
                next=_safe_next(form.get("next")),
                error=ERROR_SIGN_IN,
                email=email,
            )
        session = cookie(
            request,
            SESSION_COOKIE,
            signed_in.refresh_token,
            max_age=settings.refresh_token_days * 24 * 3600,
        )
        # A new CSRF token with the new session, so a token planted before sign-in is worth nothing after.
        fresh = cookie(request, CSRF_COOKIE, secrets.token_urlsafe(32), samesite="strict")
        return Redirect(_safe_next(form.get("next")), status_code=303, cookies=[session, fresh])


class ConsoleController(Controller):
    """Pages for signed-in operators: each object is reached through its domain's access check."""

    path = "/"
    dependencies = {"operator": provide_operator}

    @get("/")
    async def overview(
        self, request: Request[Any, Any, Any], conn: Conn, operator: Operator
    ) -> Response[str]:
        locale = _locale(request, operator)
        found = await service.overview(conn, operator, locale)
        return render(request, "overview.html.j2", locale, user=operator, overview=found)

    @post("/sign-out")
    async def sign_out(
        self, request: Request[Any, Any, Any], conn: Conn, operator: Operator, data: Form
    ) -> Response[Any]:
        _form(request, data)
        await accounts.logout(conn, operator)
        gone = cookie(request, SESSION_COOKIE, "", max_age=0)
        return Redirect("/console/sign-in", status_code=303, cookies=[gone])

    @get("/providers/{provider_id:uuid}")
    async def provider(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        operator: Operator,
        provider_id: FromPath[uuid.UUID],
    ) -> Response[str]:
        locale = _locale(request, operator)
        view = await service.provider_view(conn, operator, provider_id)
        return render(request, "provider.html.j2", locale, user=operator, view=view)

    @get("/providers/{provider_id:uuid}/compose")
    async def compose(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        operator: Operator,
        provider_id: FromPath[uuid.UUID],
    ) -> Response[str]:
        locale = _locale(request, operator)
        view = await service.provider_view(conn, operator, provider_id)
        draft, _ = service.read_draft({})
        return render(
            request, "compose.html.j2", locale, user=operator, provider=view.provider, draft=draft, check=None
        )

    @post("/providers/{provider_id:uuid}/preview")
    async def preview(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        settings: Config,
        operator: Operator,
        provider_id: FromPath[uuid.UUID],
        data: Form,
    ) -> Response[str]:
        """The push and the email in both languages and the audience; only the preview area for htmx."""
        form = _form(request, data)
        locale = _locale(request, operator)
        check = await service.check_alert(conn, operator, settings, provider_id, form, locale, _now())
        view = await service.provider_view(conn, operator, provider_id)
        return render(
            request,
            "_check.html.j2" if is_htmx(request) else "compose.html.j2",
            locale,
            user=operator,
            provider=view.provider,
            draft=check.draft,
            check=check,
            send_key=secrets.token_urlsafe(16),
            send_action=f"/console/providers/{provider_id}/alerts",
        )

    @post("/providers/{provider_id:uuid}/alerts")
    async def send(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        settings: Config,
        arq: Queue,
        operator: Operator,
        provider_id: FromPath[uuid.UUID],
        data: Form,
    ) -> Response[Any]:
        form = _form(request, data)
        locale = _locale(request, operator)
        check = await service.check_alert(conn, operator, settings, provider_id, form, locale, _now())
        confirmed = form.get("confirm") == "on"
        if check.errors or (check.needs_confirmation and not confirmed):
            view = await service.provider_view(conn, operator, provider_id)
            return render(
                request,
                "compose.html.j2",
                locale,
                status_code=422,
                user=operator,
                provider=view.provider,
                draft=check.draft,
                check=check,
                send_key=form.get("send_key") or secrets.token_urlsafe(16),
                send_action=f"/console/providers/{provider_id}/alerts",
                confirm_missing=check.needs_confirmation and not confirmed,
            )
        assert isinstance(check.draft, Draft)
        sent = await service.send_alert(
            conn,
            arq,
            settings,
            operator,
            provider_id,
            check.draft,
            form.get("send_key") or secrets.token_hex(16),
        )
        return Redirect(f"/console/alerts/{sent.id}", status_code=303)

    @get("/alerts/{alert_id:uuid}")
    async def alert(
        self, request: Request[Any, Any, Any], conn: Conn, operator: Operator, alert_id: FromPath[uuid.UUID]
    ) -> Response[str]:
        locale = _locale(request, operator)
        view = await service.alert_view(conn, operator, alert_id, locale)
        return render(request, "alert.html.j2", locale, user=operator, view=view)

    @get("/alerts/{alert_id:uuid}/live")
    async def alert_live(
        self, request: Request[Any, Any, Any], conn: Conn, operator: Operator, alert_id: FromPath[uuid.UUID]
    ) -> Response[str]:
        """The counts alone, polled by the alert page while the fan-out runs."""
        locale = _locale(request, operator)
        view = await service.alert_view(conn, operator, alert_id, locale)
        return render(request, "_alert_live.html.j2", locale, user=operator, view=view)

    @get("/communities/{community_id:uuid}/compose")
    async def compose_post(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        operator: Operator,
        community_id: FromPath[uuid.UUID],
    ) -> Response[str]:
        """A community post: both languages and their easy-to-read variants, priority, schedule."""
        locale = _locale(request, operator)
        composer = await communities.access_composer(conn, operator, community_id, locale)
        draft, _ = service.read_post_draft({}, locale, _now())
        return render(
            request,
            "post_compose.html.j2",
            locale,
            user=operator,
            composer=composer,
            draft=draft,
            check=None,
            date_example=service.date_pattern(locale),
        )

    @post("/communities/{community_id:uuid}/preview")
    async def preview_post(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        settings: Config,
        operator: Operator,
        community_id: FromPath[uuid.UUID],
        data: Form,
    ) -> Response[str]:
        """The post's push and email in both languages and its audience; only the preview area for htmx."""
        form = _form(request, data)
        locale = _locale(request, operator)
        check = await service.check_post(conn, operator, settings, community_id, form, locale, _now())
        composer = await communities.access_composer(conn, operator, community_id, locale)
        return render(
            request,
            "_check.html.j2" if is_htmx(request) else "post_compose.html.j2",
            locale,
            user=operator,
            composer=composer,
            draft=check.draft,
            check=check,
            send_key=secrets.token_urlsafe(16),
            send_action=f"/console/communities/{community_id}/posts",
            date_example=service.date_pattern(locale),
        )

    @post("/communities/{community_id:uuid}/posts")
    async def send_post(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        settings: Config,
        arq: Queue,
        operator: Operator,
        community_id: FromPath[uuid.UUID],
        data: Form,
    ) -> Response[Any]:
        """Publish or schedule the previewed post once, through the same service as ``createPost``."""
        form = _form(request, data)
        locale = _locale(request, operator)
        check = await service.check_post(conn, operator, settings, community_id, form, locale, _now())
        confirmed = form.get("confirm") == "on"
        if check.errors or (check.needs_confirmation and not confirmed):
            composer = await communities.access_composer(conn, operator, community_id, locale)
            return render(
                request,
                "post_compose.html.j2",
                locale,
                status_code=422,
                user=operator,
                composer=composer,
                draft=check.draft,
                check=check,
                send_key=form.get("send_key") or secrets.token_urlsafe(16),
                send_action=f"/console/communities/{community_id}/posts",
                confirm_missing=check.needs_confirmation and not confirmed,
                date_example=service.date_pattern(locale),
            )
        assert isinstance(check.draft, PostDraft)
        sent = await service.send_post(
            conn,
            arq,
            settings,
            operator,
            community_id,
            check.draft,
            form.get("send_key") or secrets.token_hex(16),
            locale,
        )
        return Redirect(f"/console/posts/{sent.id}", status_code=303)

    @get("/posts/{post_id:uuid}")
    async def post_follow_up(
        self, request: Request[Any, Any, Any], conn: Conn, operator: Operator, post_id: FromPath[uuid.UUID]
    ) -> Response[str]:
        locale = _locale(request, operator)
        view = await service.post_view(conn, operator, post_id, locale)
        return render(request, "post.html.j2", locale, user=operator, view=view)

    @get("/posts/{post_id:uuid}/live")
    async def post_live(
        self, request: Request[Any, Any, Any], conn: Conn, operator: Operator, post_id: FromPath[uuid.UUID]
    ) -> Response[str]:
        """The counts alone, polled by the post's page while the fan-out runs."""
        locale = _locale(request, operator)
        view = await service.post_view(conn, operator, post_id, locale)
        return render(request, "_post_live.html.j2", locale, user=operator, view=view)

    @get("/communities/{community_id:uuid}/moderation")
    async def moderation(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        settings: Config,
        operator: Operator,
        community_id: FromPath[uuid.UUID],
        done: FromQuery[str | None] = None,
    ) -> Response[str]:
        locale = _locale(request, operator)
        view = await service.moderation_view(conn, operator, settings, community_id, locale)
        return render(
            request,
            "moderation.html.j2",
            locale,
            user=operator,
            view=view,
            done=done if done in DONE else None,
        )

    @post("/communities/{community_id:uuid}/submissions/{submission_id:uuid}/{decision:str}")
    async def decide(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        operator: Operator,
        community_id: FromPath[uuid.UUID],
        submission_id: FromPath[uuid.UUID],
        decision: FromPath[str],
        data: Form,
    ) -> Response[Any]:
        """Approve (publish) or reject a partner's submission."""
        _form(request, data)
        if decision not in ("approve", "reject"):
            raise HTTPException(status_code=404)
        locale = _locale(request, operator)
        await partners.decide(
            conn, operator, community_id, submission_id, approve=decision == "approve", lang=locale
        )
        done = "approved" if decision == "approve" else "rejected"
        return Redirect(f"/console/communities/{community_id}/moderation?done={done}", status_code=303)

    @post("/communities/{community_id:uuid}/members/{member_id:uuid}/{answer:str}")
    async def join_request(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        operator: Operator,
        community_id: FromPath[uuid.UUID],
        member_id: FromPath[uuid.UUID],
        answer: FromPath[str],
        data: Form,
    ) -> Response[Any]:
        _form(request, data)
        if answer not in ("accept", "decline"):
            raise HTTPException(status_code=404)
        await service.answer_join_request(conn, operator, community_id, member_id, accept=answer == "accept")
        done = "accepted" if answer == "accept" else "declined"
        return Redirect(f"/console/communities/{community_id}/moderation?done={done}", status_code=303)

    @get("/communities/{community_id:uuid}/members")
    async def members(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        settings: Config,
        operator: Operator,
        community_id: FromPath[uuid.UUID],
        done: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> Response[str]:
        """Members with their roles, for the community's administrators: change a role, ban, lift a ban."""
        locale = _locale(request, operator)
        view = await service.members_view(conn, operator, settings, community_id, locale, cursor)
        return render(
            request,
            "members.html.j2",
            locale,
            user=operator,
            view=view,
            roles=service.ROLES,
            done=done if done in MEMBER_DONE else None,
        )

    @post("/communities/{community_id:uuid}/people/{member_id:uuid}/{action:str}")
    async def change_member(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        settings: Config,
        operator: Operator,
        community_id: FromPath[uuid.UUID],
        member_id: FromPath[uuid.UUID],
        action: FromPath[str],
        data: Form,
    ) -> Response[Any]:
        form = _form(request, data)
        locale = _locale(request, operator)
        done = await service.change_member(
            conn, operator, settings, community_id, member_id, action, form.get("role"), locale
        )
        return Redirect(f"/console/communities/{community_id}/members?done={done}", status_code=303)

    @get("/admin")
    async def admin(self, request: Request[Any, Any, Any], conn: Conn, operator: Operator) -> Response[str]:
        locale = _locale(request, operator)
        view = await service.admin_view(conn, operator)
        done = request.query_params.get("done")
        return render(request, "admin.html.j2", locale, user=operator, view=view, done=done in DONE and done)

    @post("/admin/providers/{provider_id:uuid}/verify")
    async def verify(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        operator: Operator,
        provider_id: FromPath[uuid.UUID],
        data: Form,
    ) -> Response[Any]:
        _form(request, data)
        await care.verify_provider(conn, operator, provider_id)
        return Redirect("/console/admin?done=verified", status_code=303)

    @get("/admin/partners/{partner_id:uuid}")
    async def partner(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        settings: Config,
        arq: Queue,
        operator: Operator,
        partner_id: FromPath[uuid.UUID],
        shown: FromQuery[str | None] = None,
    ) -> Response[str]:
        """The partner's keys; right after issuing, the new key once (a reload no longer shows it)."""
        locale = _locale(request, operator)
        view = await service.partner_view(conn, operator, partner_id)
        issued = await service.take_issued_key(arq, settings, operator, shown) if shown else None
        return render(request, "partner.html.j2", locale, user=operator, view=view, issued=issued, errors=[])

    @post("/admin/partners/{partner_id:uuid}/keys")
    async def issue_key(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        settings: Config,
        arq: Queue,
        operator: Operator,
        partner_id: FromPath[uuid.UUID],
        data: Form,
    ) -> Response[Any]:
        """A new key, handed to the next page once (never stored in clear; reloading issues nothing)."""
        form = _form(request, data)
        locale = _locale(request, operator)
        wanted, errors = service.read_key_form(form)
        if wanted is None:
            view = await service.partner_view(conn, operator, partner_id)
            return render(
                request,
                "partner.html.j2",
                locale,
                status_code=422,
                user=operator,
                view=view,
                issued=None,
                errors=errors,
            )
        token = await service.issue_key(conn, arq, settings, operator, partner_id, wanted)
        return Redirect(f"/console/admin/partners/{partner_id}?shown={token}", status_code=303)

    @post("/admin/partners/{partner_id:uuid}/keys/{key_id:uuid}/revoke")
    async def revoke_key(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        operator: Operator,
        partner_id: FromPath[uuid.UUID],
        key_id: FromPath[uuid.UUID],
        data: Form,
    ) -> Response[Any]:
        _form(request, data)
        await partners.revoke_key(conn, operator, partner_id, key_id)
        return Redirect(f"/console/admin/partners/{partner_id}", status_code=303)

    @post("/posts/{post_id:uuid}/{action:str}")
    async def moderate(
        self,
        request: Request[Any, Any, Any],
        conn: Conn,
        operator: Operator,
        post_id: FromPath[uuid.UUID],
        action: FromPath[str],
        data: Form,
    ) -> Response[Any]:
        form = _form(request, data)
        if action not in ("hide", "restore"):
            raise HTTPException(status_code=404)
        locale = _locale(request, operator)
        post = await communities.set_hidden(conn, operator, post_id, hidden=action == "hide", lang=locale)
        done = "hidden" if action == "hide" else "restored"
        del form
        return Redirect(f"/console/communities/{post.community_id}/moderation?done={done}", status_code=303)


# -- errors as pages -----------------------------------------------------------------------------------------

_GENERIC = {
    404: (N_("Not found"), N_("There is nothing here, or you may not see it.")),
    405: (N_("Method not allowed"), N_("This address does not accept this method.")),
    413: (N_("Request too large"), N_("The request body is larger than this address accepts.")),
    429: (N_("Too many requests"), N_("Too many attempts. Please wait {seconds} seconds and try again.")),
}


def page_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Errors on console pages are pages in the reader's language (sign-in needed: the sign-in page)."""
    if isinstance(exc, SignInRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        gone = cookie(request, SESSION_COOKIE, "", max_age=0)
        asked = request.query_params.get("lang")
        lang = f"&lang={asked}" if asked in CONSOLE_LOCALES else ""
        return Redirect(
            f"/console/sign-in?next={quote(target, safe='/')}{lang}", status_code=303, cookies=[gone]
        )
    user = request.scope.get("user")
    locale = console_locale(request, getattr(user, "locale", None))
    headers: dict[str, str] = {}
    params: dict[str, Any] = {}
    if isinstance(exc, HubError):
        status, title, detail, params = exc.status, exc.title, exc.detail, dict(exc.params)
        headers = dict(exc.headers)
    elif isinstance(exc, HTTPException) and exc.status_code < 500:
        status = exc.status_code
        title, detail = _GENERIC.get(status, (N_("Invalid request"), N_("The request is not valid.")))
        headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() == "retry-after"}
        if status == 429:
            headers.setdefault("Retry-After", "60")
            params = {"seconds": headers["Retry-After"]}
    else:
        logger.error("unexpected console error %s %s", request.method, request.url.path, exc_info=exc)
        status = 500
        title, detail = N_("Internal error"), N_("Something went wrong on our side. Please try again later.")
    return render(
        request,
        "error.html.j2",
        locale,
        status_code=status,
        headers=headers,
        user=user if isinstance(user, CurrentUser) else None,
        title=translate(locale, title),
        detail=_detail(locale, detail, params),
    )


def _detail(locale: str, detail: str, params: dict[str, Any]) -> str:
    if "reason" in params:
        others = {k: v for k, v in params.items() if k != "reason"}
        params = {**params, "reason": translate(locale, params["reason"], **others)}
    try:
        return translate(locale, detail, **params)
    except (KeyError, IndexError):
        return translate(locale, detail)


def pages() -> list[ControllerRouterHandler]:
    """The console's pages and its static files, mounted at the root of the hub (new routers per app)."""
    console = Router(
        path="/console",
        route_handlers=[SignInController, ConsoleController],
        opt={"public": True},
        # every kind the API answers with problem+json is a page here
        exception_handlers=dict.fromkeys([*EXCEPTION_HANDLERS, SignInRequired, FormExpired], page_error),
        include_in_schema=False,
    )
    static = create_static_files_router(
        path="/console/static", directories=[STATIC], opt={"public": True}, include_in_schema=False
    )
    return [console, static]
