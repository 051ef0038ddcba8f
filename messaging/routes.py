"""Notification routes: devices, preferences, inbox and receipts, statistics, one-click unsubscribe."""

from __future__ import annotations

import functools
import uuid
from typing import Annotated

import jinja2
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.security.jwt import Token
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from hub.auth import CurrentUser
from hub.deps import Config, Conn
from hub.errors import request_locale
from hub.openapi import problems
from i18n import negotiate, translations
from messaging import service
from messaging.models import (
    DEVICE_EXAMPLE,
    Device,
    DeviceIn,
    InboxPage,
    Preferences,
    PreferencesIn,
    RetryFailed,
    Stats,
)
from messaging.pipeline import utcnow

UserRequest = Request[CurrentUser, Token, State]


class DeviceController(Controller):
    path = "/me/devices"
    tags = ["notifications"]

    @post("/", responses=problems(422), operation_id="registerDevice", opt={"example": DEVICE_EXAMPLE})
    async def register(self, conn: Conn, request: UserRequest, data: JSONBody[DeviceIn]) -> Device:
        """Register an FCM token (a token already known moves to this account)."""
        return await service.register_device(conn, request.user.id, data)

    @get("/", responses=problems())
    async def list_devices(self, conn: Conn, request: UserRequest) -> list[Device]:
        """My registered devices (their push tokens are not shown)."""
        return await service.list_devices(conn, request.user.id)

    @delete(
        "/{device_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(404),
        operation_id="removeDevice",
    )
    async def remove(self, conn: Conn, request: UserRequest, device_id: FromPath[uuid.UUID]) -> None:
        """Forget a device: it gets no more pushes."""
        await service.remove_device(conn, request.user.id, device_id)


class PreferenceController(Controller):
    path = "/me/preferences"
    tags = ["notifications"]

    @get("/", responses=problems(), operation_id="getPreferences")
    async def read(self, conn: Conn, request: UserRequest) -> Preferences:
        """My notification preferences: channels by community, digests and quiet hours."""
        return await service.get_preferences(conn, request.user.id)

    @put("/", responses=problems(422), operation_id="replacePreferences")
    async def replace(self, conn: Conn, request: UserRequest, data: JSONBody[PreferencesIn]) -> Preferences:
        """Replace my notification preferences as a whole."""
        return await service.set_preferences(conn, request.user.id, data)


class InboxController(Controller):
    path = "/"
    tags = ["notifications"]

    @get("/me/notifications", responses=problems(422), operation_id="listNotifications")
    async def inbox(
        self,
        conn: Conn,
        request: UserRequest,
        settings: Config,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, QueryParameter(max_length=300)] = None,
    ) -> InboxPage:
        """My notifications, newest first, in my language."""
        return await service.inbox(
            conn, request.user.id, request_locale(request), settings.secret_key, limit, cursor
        )

    @post(
        "/notifications/{notification_id:uuid}/read",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(404),
        operation_id="markNotificationRead",
    )
    async def read(self, conn: Conn, request: UserRequest, notification_id: FromPath[uuid.UUID]) -> None:
        """Mark one of my notifications as read."""
        await service.mark_read(conn, request.user.id, notification_id)

    @post(
        "/notifications/{notification_id:uuid}/ack",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(404, 409),
        operation_id="acknowledgeNotification",
    )
    async def ack(self, conn: Conn, request: UserRequest, notification_id: FromPath[uuid.UUID]) -> None:
        """Acknowledge an alert that asks for it."""
        await service.acknowledge(conn, request.user.id, notification_id)

    @get(
        "/notifications/{notification_id:uuid}/stats",
        responses=problems(404),
        operation_id="getNotificationStats",
    )
    async def stats(self, conn: Conn, request: UserRequest, notification_id: FromPath[uuid.UUID]) -> Stats:
        """For the sender: counts by channel and status, language and municipality."""
        return await service.stats(conn, request.user, notification_id)

    @post(
        "/notifications/{notification_id:uuid}/retry-failed", status_code=HTTP_200_OK, responses=problems(404)
    )
    async def retry_failed(
        self, conn: Conn, request: UserRequest, notification_id: FromPath[uuid.UUID]
    ) -> RetryFailed:
        """For the sender (or a hub admin): send the failed push and email deliveries again, now."""
        return await service.retry_failed(conn, request.user, notification_id, utcnow())


@functools.cache
def _pages() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("messaging", "templates/pages"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
    )
    return env


def _page(locale: str, *, done: bool, action: str) -> str:
    env = _pages().overlay()
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    return env.get_template("unsubscribe.html.j2").render(locale=locale, done=done, action=action)


class UnsubscribeController(Controller):
    """One-click unsubscribe (RFC 8058): no login; the token is the authorisation."""

    path = "/unsubscribe"
    tags = ["notifications"]

    @get(
        "/{token:str}",
        opt={"public": True},
        media_type="text/html",
        responses=problems(404, public=True),
        operation_id="unsubscribePage",
    )
    async def confirm_page(
        self, conn: Conn, request: Request[None, None, State], token: FromPath[str]
    ) -> Response[str]:
        """A small confirmation page in the reader's language (a link preview never unsubscribes)."""
        owner_locale = await service.unsubscribe_locale(conn, token, utcnow())
        locale = negotiate(
            request.query_params.get("lang"), owner_locale, request.headers.get("accept-language")
        )
        return Response(_page(locale, done=False, action=request.url.path), media_type="text/html")

    @post(
        "/{token:str}",
        opt={"public": True},
        status_code=HTTP_200_OK,
        media_type="text/html",
        responses=problems(404, public=True),
        operation_id="unsubscribe",
    )
    async def unsubscribe(
        self, conn: Conn, request: Request[None, None, State], token: FromPath[str]
    ) -> Response[str]:
        """Unsubscribe; repeating it changes nothing more."""
        owner_locale = await service.unsubscribe(conn, token, utcnow())
        locale = negotiate(
            request.query_params.get("lang"), owner_locale, request.headers.get("accept-language")
        )
        return Response(_page(locale, done=True, action=request.url.path), media_type="text/html")


ROUTES = [DeviceController, PreferenceController, InboxController, UnsubscribeController]
