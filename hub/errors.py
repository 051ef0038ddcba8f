"""Domain errors with stable codes, and their rendering as localized RFC 9457 problem details."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any, ClassVar, get_type_hints

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.types import ExceptionHandlersMap
from litestar.utils.scope.state import ScopeState

from i18n import N_, negotiate, translate
from i18n.content import Bilingual

logger = logging.getLogger("hub.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"


class HubError(Exception):
    """A failure the caller can act on: a stable ``code``, an HTTP status, translatable title and detail.

    ``title`` and ``detail`` are message ids with ``{named}`` placeholders, filled from ``params`` and
    translated for the reader when the problem is rendered.
    """

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400
    title: ClassVar[str] = N_("The request could not be processed.")
    detail: ClassVar[str] = N_("The request could not be processed.")
    #: when true, the request's transaction commits before the error is answered
    commit_changes: ClassVar[bool] = False

    def __init__(
        self, *, headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None, **params: Any
    ):
        super().__init__(f"{self.code}: {params}")
        self.params = params
        self.headers = headers or {}
        self.extra = extra or {}


class NotFound(HubError):
    code = "not_found"
    status = 404
    title = N_("Not found")
    detail = N_("There is nothing here, or you may not see it.")


class Unauthorized(HubError):
    code = "unauthorized"
    status = 401
    title = N_("Sign-in required")
    detail = N_("Sign in to continue; your session may have expired.")


class InvalidCredentials(HubError):
    code = "invalid_credentials"
    status = 401
    title = N_("Sign-in failed")
    detail = N_("The email address or the password is not correct.")


class Forbidden(HubError):
    code = "forbidden"
    status = 403
    title = N_("Not allowed")
    detail = N_("You are not allowed to do this.")


class Conflict(HubError):
    code = "conflict"
    status = 409
    title = N_("Conflict")
    detail = N_("This conflicts with the current state of the resource.")


class InvalidField(HubError):
    """A field that decoded but whose value is not acceptable; ``field`` names it, ``reason`` says why."""

    code = "invalid_field"
    status = 422
    title = N_("Invalid value")
    detail = N_("The field {field} is not valid: {reason}")

    def __init__(self, field: str, reason: str, **params: Any) -> None:
        super().__init__(field=field, reason=reason, **params)


class BadRequest(HubError):
    code = "invalid_request"
    status = 400
    title = N_("Invalid request")
    detail = N_("The request is not valid.")


# Reasons for InvalidField, translated inside the detail sentence.
REASON_EMPTY_TEXT = N_("write it in French, in German, or in both.")
REASON_TOO_LONG = N_("it is longer than {max} characters.")
REASON_BAD_CURSOR = N_("this page cursor was not issued by the hub.")
REASON_CONTROL_CHARACTERS = N_(
    "it may not contain control characters or characters that reverse the writing direction."
)

#: names and titles are one line; other text may hold line breaks and tabs, never other control characters
_SINGLE_LINE_FIELDS = frozenset({"name", "title", "display_name"})
#: C0 and C1 control characters, and the bidirectional embeddings, overrides and isolates (a title that
#: displays differently from what it says)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def has_unsafe_characters(value: str, *, single_line: bool) -> bool:
    return bool((_UNSAFE if single_line else _UNSAFE_MULTILINE).search(value))


def checked_text(
    field: str, content: Bilingual, limit: int | None = None, *, required: bool = True
) -> Bilingual:
    """Bilingual content with blanks trimmed: written in at least one language (unless optional) and no
    variant longer than ``limit``; otherwise a 422 naming ``field``."""
    content = content.stripped()
    if required and content.is_empty():
        raise InvalidField(field, REASON_EMPTY_TEXT)
    single_line = field in _SINGLE_LINE_FIELDS
    for value in (content.fr, content.de, content.fr_simple, content.de_simple):
        if value and has_unsafe_characters(value, single_line=single_line):
            raise InvalidField(field, REASON_CONTROL_CHARACTERS)
    if limit is not None and content.longest() > limit:
        raise InvalidField(field, REASON_TOO_LONG, max=limit)
    return content


# -- rendering -------------------------------------------------------------------------------------------


def request_locale(request: Request[Any, Any, Any]) -> str:
    """The caller's language: ``lang`` parameter, then the signed-in user's locale, then Accept-Language."""
    user = request.scope.get("user")
    user_locale = getattr(user, "locale", None)
    return negotiate(request.query_params.get("lang"), user_locale, request.headers.get("accept-language"))


def scope_request_id(scope: Any) -> str:
    """The id a request is logged under: the caller's ``X-Request-ID`` if sane, else a new one, kept in
    the scope so the problem body, the log line and the response header all say the same."""
    state = scope.setdefault("state", {})
    rid = state.get("request_id")
    if not rid:
        incoming = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if incoming.isalnum() and 8 <= len(incoming) <= 64 else uuid.uuid4().hex
        state["request_id"] = rid
    return str(rid)


def request_id(request: Request[Any, Any, Any]) -> str:
    return scope_request_id(request.scope)


def problem(
    request: Request[Any, Any, Any],
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response[dict[str, Any]]:
    """One problem+json response, translated for the caller."""
    locale = request_locale(request)
    translated = dict(params or {})
    if "reason" in translated:
        others = {k: v for k, v in translated.items() if k != "reason"}
        translated["reason"] = translate(locale, translated["reason"], **others)
    body: dict[str, Any] = {
        "type": f"urn:hub:problem:{code}",
        "title": translate(locale, title),
        "status": status,
        "detail": translate(locale, detail, **translated),
        "code": code,
        "instance": request.url.path,
        "request_id": request_id(request),
    }
    if extra:
        body.update(extra)
    headers = dict(headers or {})
    headers["content-language"] = locale
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def handle_hub_error(request: Request[Any, Any, Any], exc: HubError) -> Response[dict[str, Any]]:
    return problem(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        params=exc.params,
        headers=exc.headers,
        extra=exc.extra,
    )


# msgspec's decode errors, mapped to codes with whole translated sentences.
_UNKNOWN_FIELD = re.compile(r"Object contains unknown field `(?P<name>[^`]+)`(?: - at `(?P<path>[^`]+)`)?")
_MISSING_FIELD = re.compile(r"Object missing required field `(?P<name>[^`]+)`(?: - at `(?P<path>[^`]+)`)?")
_AT_PATH = re.compile(r" - at `(?P<path>[^`]+)`")

_VALIDATION_MESSAGES = {
    "unknown_field": N_("The field {field} is not part of this request."),
    "missing_field": N_("The field {field} is required."),
    "invalid_value": N_("The field {field} has an invalid value."),
    "malformed_body": N_("The request body is not valid JSON."),
    "invalid_parameter": N_("The parameter {field} has an invalid value."),
    "too_short": N_("The field {field} must be at least {limit} character(s) long."),
    "too_long": N_("The field {field} may be at most {limit} character(s) long."),
    "too_small": N_("The field {field} must be at least {limit}."),
    "too_large": N_("The field {field} must be at most {limit}."),
    "out_of_range": N_("The field {field} holds a number out of range."),
    "not_allowed": N_("The field {field} must be one of: {allowed}."),
    "bad_format": N_("The field {field} does not have the expected format."),
}

# msgspec's constraint messages, turned into sentences that say what is valid
_CONSTRAINTS = (
    (re.compile(r"Expected `str` of length >= (?P<limit>\d+)"), "too_short"),
    (re.compile(r"Expected `str` of length <= (?P<limit>\d+)"), "too_long"),
    (re.compile(r"Expected `(?:int|float)` >= (?P<limit>-?[\d.]+)"), "too_small"),
    (re.compile(r"Expected `(?:int|float)` <= (?P<limit>-?[\d.]+)"), "too_large"),
    (re.compile(r"Number out of range"), "out_of_range"),
    (re.compile(r"Invalid enum value"), "not_allowed"),
    (re.compile(r"Expected `str` matching regex"), "bad_format"),
)


def _allowed_values(request: Request[Any, Any, Any], path: str) -> list[str]:
    """The values the body's field at ``path`` (``$.a.b[0].c``) accepts, from the route's body type."""
    handler = request.scope.get("route_handler")
    parameters = getattr(getattr(handler, "parsed_fn_signature", None), "parameters", {})
    data = parameters.get("data")
    if data is None:
        return []
    try:
        info: Any = msgspec.inspect.type_info(data.annotation)
    except Exception:
        return []
    for part in re.findall(r"\.([^.\[]+)|\[\d+\]", path.removeprefix("$")):
        info = _unwrap(info)
        if part and isinstance(info, msgspec.inspect.StructType):
            info = next((f.type for f in info.fields if f.encode_name == part), None)
        elif not part and isinstance(info, msgspec.inspect.ListType | msgspec.inspect.SetType):
            info = info.item_type
        if info is None:
            return []
    info = _unwrap(info)
    if isinstance(info, msgspec.inspect.LiteralType):
        return [str(v) for v in info.values]
    if isinstance(info, msgspec.inspect.EnumType):
        return [str(m.value) for m in info.cls]
    return []


def _unwrap(info: Any) -> Any:
    while True:
        if isinstance(info, msgspec.inspect.Metadata):
            info = info.type
        elif isinstance(info, msgspec.inspect.UnionType):
            kept = [t for t in info.types if type(t).__name__ not in {"NoneType", "UnsetType"}]
            if len(kept) != 1:
                return info
            info = kept[0]
        else:
            return info


def _field_path(path: str | None, name: str | None = None) -> str:
    parts = []
    if path:
        parts.append(path.removeprefix("$").lstrip("."))
    if name:
        parts.append(name)
    joined = ".".join(p for p in parts if p)
    return joined or "body"


def _classify(message: str, key: str | None, source: str | None) -> tuple[str, str]:
    if m := _UNKNOWN_FIELD.search(message):
        return "unknown_field", _field_path(m.group("path"), m.group("name"))
    if m := _MISSING_FIELD.search(message):
        return "missing_field", _field_path(m.group("path"), m.group("name"))
    if source in {"query", "path", "header", "cookie"} and key:
        return "invalid_parameter", key
    if m := _AT_PATH.search(message):
        return "invalid_value", _field_path(m.group("path"))
    if "JSON" in message or "malformed" in message.lower() or "Input data was truncated" in message:
        return "malformed_body", "body"
    return "invalid_value", key or "body"


#: at most this many problems are listed for one body
MAX_LISTED_ERRORS = 50


def _body_type(request: Request[Any, Any, Any]) -> Any:
    handler = request.scope.get("route_handler")
    parameters = getattr(getattr(handler, "parsed_fn_signature", None), "parameters", {})
    data = parameters.get("data")
    return None if data is None else data.annotation


def _each_field_error(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    """Every field of a JSON body that does not fit the route's Struct, checked one by one.

    msgspec stops at the first error, so the body is decoded again as plain JSON and each field's value
    converted against its own annotated type: missing required fields, unknown fields (when the Struct
    forbids them) and invalid values, in the Struct's field order. Entries have the shape of Litestar's,
    their paths from the body's root, so they are classified like the first one.
    """
    body = ScopeState.from_scope(request.scope).body
    annotation = _body_type(request)
    if not isinstance(body, bytes) or not body or annotation is None:
        return []
    try:
        info = _unwrap(msgspec.inspect.type_info(annotation))
        value = msgspec.json.decode(body)
    except (msgspec.DecodeError, TypeError, ValueError, RecursionError):
        return []
    if not isinstance(info, msgspec.inspect.StructType) or not isinstance(value, dict):
        return []
    try:
        hints = get_type_hints(info.cls, include_extras=True)
    except (NameError, TypeError):
        return []
    entries: list[dict[str, Any]] = []
    known = set()
    for field in info.fields:
        known.add(field.encode_name)
        if field.encode_name not in value:
            if field.required:
                entries.append(_entry(f"Object missing required field `{field.encode_name}`"))
            continue
        try:
            msgspec.convert(value[field.encode_name], hints[field.name])
        except msgspec.ValidationError as error:
            message, _, path = str(error).partition(" - at `$")
            entries.append(_entry(f"{message} - at `$.{field.encode_name}{path.rstrip('`')}`"))
        except (TypeError, KeyError):
            continue
    if info.forbid_unknown_fields:
        entries.extend(
            _entry(f"Object contains unknown field `{name}`") for name in value if name not in known
        )
    return entries[:MAX_LISTED_ERRORS]


def _entry(message: str) -> dict[str, Any]:
    return {"message": message, "key": None, "source": "body"}


def handle_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    locale = request_locale(request)
    entries = exc.extra if isinstance(exc.extra, list) else []
    if not entries:
        entries = [{"message": str(exc.detail), "key": None, "source": "body"}]
    if any(isinstance(e, dict) and e.get("source") in {None, "body"} for e in entries):
        # the first error stays first; the others of the body follow it
        entries = [*entries, *_each_field_error(request)]
    errors = []
    seen: set[tuple[str, str]] = set()
    first_params: dict[str, Any] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        message = str(entry.get("message", ""))
        kind, field = _classify(message, entry.get("key"), entry.get("source"))
        if field == "data":  # Litestar's name for the body, which the caller never sees
            field = "body"
        where = "body" if entry.get("source") in {None, "body"} else str(entry.get("source"))
        if (where, field) in seen:
            continue
        seen.add((where, field))
        params: dict[str, Any] = {"field": field}
        if kind == "invalid_value" and entry.get("source") in {None, "body"}:
            at = _AT_PATH.search(message)
            path = at.group("path") if at else "$." + field
            for pattern, refined in _CONSTRAINTS:
                if m := pattern.search(message):
                    params.update(m.groupdict())
                    if refined == "not_allowed":
                        allowed = _allowed_values(request, path)
                        if not allowed:
                            break
                        params["allowed"] = ", ".join(allowed)
                    kind = refined
                    break
        errors.append(
            {"code": kind, "field": field, "message": translate(locale, _VALIDATION_MESSAGES[kind], **params)}
        )
        first_params = first_params or params
    first = errors[0]
    code = "unknown_field" if first["code"] == "unknown_field" else "validation_failed"
    return problem(
        request,
        status=400,
        code=code,
        title=N_("Invalid request"),
        detail=_VALIDATION_MESSAGES[first["code"]],
        params=first_params,
        extra={"errors": errors},
    )


def _http(code: str, title: str, detail: str):  # type: ignore[no-untyped-def]
    def handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
        headers = dict(exc.headers or {})
        return problem(
            request, status=exc.status_code, code=code, title=title, detail=detail, headers=headers
        )

    return handler


def handle_client(request: Request[Any, Any, Any], exc: ClientException) -> Response[dict[str, Any]]:
    """A body the framework could not even decode (broken JSON, wrong content type)."""
    if exc.status_code != 400:
        return handle_http(request, exc)
    return problem(
        request,
        status=400,
        code="malformed_body",
        title=N_("Invalid request"),
        detail=N_("The request body is not valid JSON."),
        headers=dict(exc.headers or {}),
    )


def handle_too_many(
    request: Request[Any, Any, Any], exc: TooManyRequestsException
) -> Response[dict[str, Any]]:
    headers = dict(exc.headers or {})
    reset = next((v for k, v in headers.items() if k.lower() == "ratelimit-reset"), None)
    headers["Retry-After"] = str(max(1, int(reset))) if reset and reset.isdigit() else "60"
    return problem(
        request,
        status=429,
        code="rate_limited",
        title=N_("Too many requests"),
        detail=N_("Too many attempts. Please wait {seconds} seconds and try again."),
        params={"seconds": headers["Retry-After"]},
        headers=headers,
    )


def handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    """Any other framework HTTP error keeps its status with a generic, translated text."""
    if exc.status_code >= 500:
        return handle_unexpected(request, exc)
    return problem(
        request,
        status=exc.status_code,
        code="invalid_request",
        title=N_("Invalid request"),
        detail=N_("The request is not valid."),
        headers=dict(exc.headers or {}),
    )


def handle_unstorable(request: Request[Any, Any, Any], exc: asyncpg.DataError) -> Response[dict[str, Any]]:
    """A value that decoded but that PostgreSQL cannot hold (a NUL character, a number out of range):
    the caller's input, so a 400 rather than a 500; the transaction has been rolled back."""
    logger.info("refused unstorable input [request %s]: %s", request_id(request), type(exc).__name__)
    return problem(
        request,
        status=400,
        code="invalid_value",
        title=N_("Invalid request"),
        detail=N_(
            "A value of the request cannot be stored: text may not contain NUL characters, and numbers "
            "must stay within range."
        ),
    )


def handle_recursion(request: Request[Any, Any, Any], exc: RecursionError) -> Response[dict[str, Any]]:
    """JSON nested deeper than the decoder follows is the caller's malformed body, not our failure."""
    if "deserializ" not in str(exc) and "decod" not in str(exc):
        return handle_unexpected(request, exc)
    return problem(
        request,
        status=400,
        code="malformed_body",
        title=N_("Invalid request"),
        detail=N_("The request body is nested too deeply."),
    )


def handle_not_utf8(request: Request[Any, Any, Any], exc: UnicodeDecodeError) -> Response[dict[str, Any]]:
    """A body (or a parameter) that is not UTF-8 text: the caller's malformed input."""
    return problem(
        request,
        status=400,
        code="malformed_body",
        title=N_("Invalid request"),
        detail=N_("The request is not valid UTF-8 text."),
    )


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    rid = request_id(request)
    logger.error("unexpected error [request %s] %s %s", rid, request.method, request.url.path, exc_info=exc)
    return problem(
        request,
        status=500,
        code="internal_error",
        title=N_("Internal error"),
        detail=N_("Something went wrong on our side. Please try again later (reference {request_id})."),
        params={"request_id": rid},
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    HubError: handle_hub_error,
    ValidationException: handle_validation,
    NotAuthorizedException: _http(
        "unauthorized", N_("Sign-in required"), N_("Sign in to continue; your session may have expired.")
    ),
    PermissionDeniedException: _http("forbidden", N_("Not allowed"), N_("You are not allowed to do this.")),
    NotFoundException: _http(
        "not_found", N_("Not found"), N_("There is nothing here, or you may not see it.")
    ),
    MethodNotAllowedException: _http(
        "method_not_allowed", N_("Method not allowed"), N_("This address does not accept this method.")
    ),
    RequestEntityTooLarge: _http(
        "body_too_large", N_("Request too large"), N_("The request body is larger than this address accepts.")
    ),
    TooManyRequestsException: handle_too_many,
    ClientException: handle_client,
    HTTPException: handle_http,
    asyncpg.DataError: handle_unstorable,
    RecursionError: handle_recursion,
    UnicodeDecodeError: handle_not_utf8,
    Exception: handle_unexpected,
}
