"""Open311 GeoReport v2 under /open311/v2: services, submitting and reading requests, errors as the spec has them."""

from __future__ import annotations

import math
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, Router, get, post
from litestar.datastructures import State, UploadFile
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import FromPath, QueryParameter
from litestar.status_codes import HTTP_201_CREATED

from feedback import catalogue, photos, public, service
from feedback.errors import (
    REASON_BBOX,
    REASON_DATE,
    REASON_MEDIA_URL,
    REASON_NO_LOCATION,
    REASON_PHOTO_COUNT,
    REASON_UNKNOWN_SERVICE,
)
from feedback.models import Open311Created, Open311Request, Open311Service
from hub.auth import CurrentUser, optional_user
from hub.deps import Config, Conn
from hub.errors import EXCEPTION_HANDLERS, BadRequest, HubError, InvalidField, NotFound
from hub.openapi import problems
from i18n import negotiate

AnyRequest = Request[Any, Any, State]

#: a few photos and the form around them
MAX_SUBMISSION_BYTES = photos.MAX_PHOTOS * photos.MAX_BYTES + 64 * 1024
MAX_TEXT = 10_000
DEFAULT_WINDOW = timedelta(days=90)


def _locale(request: AnyRequest) -> str:
    """Open311's ``locale`` parameter (fr, de, or a tag such as de_DE), else the usual negotiation."""
    user = request.scope.get("user")
    return negotiate(
        request.query_params.get("locale") or request.query_params.get("lang"),
        getattr(user, "locale", None),
        request.headers.get("accept-language"),
    )


Viewer = NamedDependency[CurrentUser | None]


async def provide_viewer(request: AnyRequest) -> CurrentUser | None:
    return await optional_user(request)


class Submission(msgspec.Struct, frozen=True):
    """A POST requests.json, from a form (urlencoded or multipart) or a JSON object."""

    service_code: str
    description: str
    lat: float | None = None
    long: float | None = None
    address_string: str | None = None
    api_key: str | None = None
    media_url: str | None = None
    municipality_code: str | None = None


def _float(field: str, value: Any, low: float, high: float) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidField(field, REASON_NO_LOCATION) from None
    if not math.isfinite(number) or not low <= number <= high:
        raise InvalidField(field, REASON_NO_LOCATION)
    return number


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise BadRequest()
    text = str(value)
    if len(text) > MAX_TEXT:
        raise BadRequest()
    return text


async def _read(request: AnyRequest) -> tuple[Submission, list[bytes]]:
    """The submitted fields and uploaded media, whatever the encoding; anything else is a 400."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    uploads: list[bytes] = []
    fields: dict[str, Any]
    if content_type == "application/json":
        try:
            decoded = msgspec.json.decode(await request.body())
        except msgspec.DecodeError:
            raise BadRequest() from None
        if not isinstance(decoded, dict):
            raise BadRequest()
        fields = decoded
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        fields = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key != "media":
                    raise BadRequest()
                if len(uploads) >= photos.MAX_PHOTOS:
                    raise InvalidField("media", REASON_PHOTO_COUNT, max=photos.MAX_PHOTOS)
                uploads.append(await value.read(photos.MAX_BYTES + 1))
            else:
                fields.setdefault(key, value)
    else:
        raise BadRequest()
    service_code = _text(fields, "service_code")
    description = _text(fields, "description")
    if not service_code:
        raise InvalidField("service_code", REASON_UNKNOWN_SERVICE)
    media_url = _text(fields, "media_url")
    if media_url:
        raise InvalidField("media_url", REASON_MEDIA_URL)
    submission = Submission(
        service_code=service_code,
        description=description or "",
        lat=_float("lat", fields.get("lat"), -90, 90),
        long=_float("long", fields.get("long"), -180, 180),
        address_string=_text(fields, "address_string"),
        api_key=_text(fields, "api_key") or request.query_params.get("api_key"),
        municipality_code=_text(fields, "municipality_code") or None,
    )
    if (submission.lat is None) != (submission.long is None) or (
        submission.lat is None and not submission.address_string
    ):
        raise InvalidField("lat", REASON_NO_LOCATION)
    return submission, uploads


def _date(field: str, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidField(field, REASON_DATE) from None
    if parsed.tzinfo is None:
        raise InvalidField(field, REASON_DATE)
    return parsed


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if not value:
        return None
    parts = value.split(",")
    if len(parts) != 4:
        raise InvalidField("bbox", REASON_BBOX)
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError:
        raise InvalidField("bbox", REASON_BBOX) from None
    if not all(math.isfinite(v) for v in (west, south, east, north)) or west > east or south > north:
        raise InvalidField("bbox", REASON_BBOX)
    return west, south, east, north


def _list(value: str | None, pattern: str) -> list[str] | None:
    if not value:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items or len(items) > 50 or not all(re.fullmatch(pattern, v) for v in items):
        raise BadRequest()
    return items


class Open311Controller(Controller):
    """GeoReport v2: ``jurisdiction_id`` is accepted and ignored (one hub serves the whole region)."""

    path = "/"
    tags = ["open311"]

    @get("/services.json", opt={"public": True}, responses=problems(public=True))
    async def services(
        self,
        conn: Conn,
        request: AnyRequest,
        locale: Annotated[str | None, QueryParameter(max_length=10)] = None,
        municipality: Annotated[
            str | None, QueryParameter(pattern=r"^(([0-9]{2}|2A|2B)[0-9]{3}|[0-9]{8})$")
        ] = None,
        jurisdiction_id: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> list[Open311Service]:
        """The service catalogue in French or German (``locale=fr|de``); with ``municipality`` its own too."""
        return await catalogue.open311_services(conn, _locale(request), municipality)

    @post(
        "/requests.json",
        opt={"public": True},
        status_code=HTTP_201_CREATED,
        request_max_body_size=MAX_SUBMISSION_BYTES,
        dependencies={"viewer": Provide(provide_viewer)},
        responses=problems(403, 409, 422, public=True),
    )
    async def create(self, conn: Conn, request: AnyRequest, viewer: Viewer) -> list[Open311Created]:
        """A new request (form, multipart with ``media`` files, or JSON): ``service_code``, ``lat``/``long`` or
        ``address_string``, ``description``; signed in, or with an application's ``api_key``. Extension:
        ``municipality_code`` when the place lies between municipalities."""
        submission, uploads = await _read(request)
        created = await service.submit(
            conn,
            user=viewer,
            api_key=submission.api_key,
            locale=_locale(request),
            service_code=submission.service_code,
            lat=submission.lat,
            lon=submission.long,
            description=submission.description,
            address_string=submission.address_string,
            municipality_code=submission.municipality_code,
            uploads=uploads,
        )
        return [created]

    @get("/requests.json", opt={"public": True}, responses=problems(422, public=True))
    async def requests(
        self,
        conn: Conn,
        request: AnyRequest,
        settings: Config,
        service_request_id: Annotated[str | None, QueryParameter(max_length=2000)] = None,
        service_code: Annotated[str | None, QueryParameter(max_length=2000)] = None,
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
        start_date: Annotated[str | None, QueryParameter(max_length=40)] = None,
        end_date: Annotated[str | None, QueryParameter(max_length=40)] = None,
        bbox: Annotated[str | None, QueryParameter(max_length=200)] = None,
        municipality: Annotated[
            str | None, QueryParameter(pattern=r"^(([0-9]{2}|2A|2B)[0-9]{3}|[0-9]{8})$")
        ] = None,
        locale: Annotated[str | None, QueryParameter(max_length=10)] = None,
        jurisdiction_id: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> list[Open311Request]:
        """Released requests, newest first: by ids, service codes, status (open, closed), dates, ``bbox``
        (west,south,east,north) or municipality."""
        ids = _list(service_request_id, r"[0-9a-fA-F-]{36}")
        start, end = _date("start_date", start_date), _date("end_date", end_date)
        if ids is None and start is None and end is None:
            start = datetime.now(UTC) - DEFAULT_WINDOW  # the spec's default: the most recent 90 days
        return await public.open311_requests(
            conn,
            _locale(request),
            settings.public_url,
            ids=[uuid.UUID(i) for i in ids] if ids else None,
            service_codes=_list(service_code, r"[a-z0-9][a-z0-9_-]{1,63}"),
            statuses=_list(status, r"open|closed"),
            start=start,
            end=end,
            bbox=_bbox(bbox),
            municipality_code=municipality,
            limit=1000,
        )

    @get("/requests/{request_id:str}", opt={"public": True}, responses=problems(404, public=True))
    async def request_by_id(
        self,
        conn: Conn,
        request: AnyRequest,
        settings: Config,
        request_id: FromPath[str],
        jurisdiction_id: Annotated[str | None, QueryParameter(max_length=200)] = None,
        locale: Annotated[str | None, QueryParameter(max_length=10)] = None,
    ) -> list[Open311Request]:
        """One released request (``requests/{id}.json``), as a list of one as the spec has it."""
        ident, _, extension = request_id.rpartition(".")
        if extension != "json":
            raise NotFound()
        try:
            parsed = uuid.UUID(ident)
        except ValueError:
            raise NotFound() from None
        return await public.open311_request(conn, _locale(request), settings.public_url, parsed)


def _open311_error(request: AnyRequest, exc: Exception) -> Response[Any]:
    """Errors as GeoReport v2 has them: a list of ``{code, description}``, in the caller's language."""
    handler: Any = None
    for cls in type(exc).__mro__:
        if cls in EXCEPTION_HANDLERS:
            handler = EXCEPTION_HANDLERS[cls]
            break
    problem = handler(request, exc)
    body = problem.content
    headers = {k: v for k, v in problem.headers.items() if k.lower() != "content-type"}
    return Response(
        [{"code": body["status"], "description": body["detail"], "problem": body["code"]}],
        status_code=body["status"],
        headers=headers,
        media_type="application/json",
    )


OPEN311 = Router(
    path="/open311/v2",
    route_handlers=[Open311Controller],
    exception_handlers={
        HubError: _open311_error,
        ValidationException: _open311_error,
        HTTPException: _open311_error,
    },
)
