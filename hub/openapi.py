"""OpenAPI documentation of the problem responses every route can give."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example, OpenAPIType, Reference, RequestBody, Schema
from litestar.types import Method

from hub.auth import has_viewer
from hub.errors import HubError


class FieldProblem(msgspec.Struct, frozen=True):
    code: str
    field: str
    message: str


class Problem(msgspec.Struct, frozen=True):
    """RFC 9457 problem details; ``title`` and ``detail`` are in the caller's language, ``code`` is stable
    (see ProblemCode)."""

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


# -- operation ids, problem codes ------------------------------------------------------------------------

#: problems answered by the framework's handlers in hub.errors (not raised as HubError classes)
FRAMEWORK_PROBLEMS: dict[str, int] = {
    "validation_failed": 400,
    "unknown_field": 400,
    "malformed_body": 400,
    "invalid_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "body_too_large": 413,
    "rate_limited": 429,
    "internal_error": 500,
}

_WORD = re.compile(r"[A-Za-z0-9]+")


def operation_id(handler: HTTPRouteHandler, method: Method, components: list[Any]) -> str:
    """A readable operation id from the handler's function name (``create_post`` → ``createPost``);
    handlers whose name says too little (``detail``, ``update``) set ``operation_id`` themselves."""
    words: list[str] = _WORD.findall(handler.handler_name)
    return words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:])


def _error_classes(base: type[HubError]) -> Iterator[type[HubError]]:
    for cls in base.__subclasses__():
        yield cls
        yield from _error_classes(cls)


def problem_codes() -> dict[str, int]:
    """Every problem ``code`` the API can answer and its HTTP status: the framework's and those of every
    HubError class loaded (the kernel's and each domain's)."""
    codes = dict(FRAMEWORK_PROBLEMS)
    for cls in _error_classes(HubError):
        if "code" in vars(cls):  # a base class that only shares behaviour answers its subclasses' codes
            codes.setdefault(cls.code, cls.status)
    return dict(sorted(codes.items()))


def document_problem_codes(app: Litestar) -> None:
    """Make ``Problem.code`` an enum of every code (component ``ProblemCode``), each with its status."""
    components = app.openapi_schema.components
    schemas = components.schemas if components.schemas is not None else {}
    codes = problem_codes()
    schemas["ProblemCode"] = Schema(
        type=OpenAPIType.STRING,
        title="ProblemCode",
        enum=list(codes),
        description="Stable code of a problem, with the HTTP status it comes with:\n\n"
        + "\n".join(f"- `{code}`: {status}" for code, status in codes.items()),
    )
    problem = schemas.get("Problem")
    if isinstance(problem, Schema) and problem.properties is not None:
        problem.properties["code"] = Reference(ref="#/components/schemas/ProblemCode")
    components.schemas = schemas


_PARAMETER_TYPE = re.compile(r":[^}]+}")


def document_examples(app: Litestar) -> None:
    """Give each request body the example its handler declares (``opt={"example": {...}}``), as the
    body's named example (``example``)."""
    paths = app.openapi_schema.paths or {}
    for route in app.routes:
        path_item = paths.get(_PARAMETER_TYPE.sub("}", route.path) or "/")
        for handler in getattr(route, "route_handlers", ()):
            value = handler.opt.get("example")
            if value is None or path_item is None:
                continue
            for method in handler.http_methods:
                operation = getattr(path_item, method.lower(), None)
                body = operation.request_body if operation is not None else None
                if isinstance(body, RequestBody):
                    for media in body.content.values():
                        media.examples = {"example": Example(summary="A typical body", value=value)}
