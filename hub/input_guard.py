"""Input the hub never accepts, refused before any route runs: NUL characters in the path or query string."""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from hub.errors import BadRequest
from i18n import N_


class NulInRequest(BadRequest):
    code = "invalid_character"
    title = N_("Invalid request")
    detail = N_("The address or its parameters contain a NUL character, which no field accepts.")


def input_guard_middleware(app: ASGIApp) -> ASGIApp:
    """Refuse a NUL character in the path or the query string with a 400 (PostgreSQL cannot store one,
    and no text field of the hub accepts it); bodies are checked where they are decoded and stored."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            query = scope.get("query_string", b"")
            if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
                raise NulInRequest()
        await app(scope, receive, send)

    return middleware
