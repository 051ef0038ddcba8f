"""OpenAPI documentation of the problem responses every route can give."""

from __future__ import annotations

import msgspec
from litestar import Litestar
from litestar.openapi.datastructures import ResponseSpec

from hub.auth import has_viewer


class FieldProblem(msgspec.Struct, frozen=True):
    code: str
    field: str
    message: str


class Problem(msgspec.Struct, frozen=True):
    """RFC 9457 problem details; ``title`` and ``detail`` are in the caller's language."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str
    request_id: str
    errors: list[FieldProblem] | None = None


_DESCRIPTIONS = {
    400: "Invalid request: malformed JSON, unknown or missing fields, wrong types or parameters",
    401: "Not signed in, or the token expired or was revoked",
    403: "Not allowed",
    404: "Not found, or not visible to the caller",
    409: "Conflict with the current state",
    413: "Request body too large",
    422: "A field decoded but its value is not acceptable",
    429: "Rate limited; see Retry-After",
    500: "Unexpected error, logged with the request id",
    503: "A backing service is unavailable",
}

ALWAYS = (400, 413, 500)


def problems(*statuses: int, public: bool = False) -> dict[int, ResponseSpec]:
    """Response specs for the given statuses plus those any route can answer (and 401 unless public)."""
    wanted = set(statuses) | set(ALWAYS)
    if not public:
        wanted.add(401)
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_DESCRIPTIONS.get(status, "Problem"),
            media_type="application/problem+json",
        )
        for status in sorted(wanted)
    }


def document_problems(app: Litestar) -> None:
    """Give every route the problem responses any route can answer (and 401 unless it is public and takes
    no optional viewer), keeping what the route documents itself; the OpenAPI document hides no status."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            # a public route with an optional viewer still refuses a bad token
            public = bool(handler.opt.get("public")) and not has_viewer(handler)
            handler.responses = {**problems(public=public), **(handler.responses or {})}
