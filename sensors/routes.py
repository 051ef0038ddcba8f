"""Sensor routes: sensors and rules, readings from partners and network servers, open data, the dashboard."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter, SkipValidation
from litestar.response import Stream
from litestar.security.jwt import Token
from litestar.status_codes import HTTP_200_OK, HTTP_304_NOT_MODIFIED
from litestar.types import ControllerRouterHandler

from communities.partners import service as partners
from hub.auth import CurrentUser, optional_user
from hub.deps import Conn, ReadConn
from hub.errors import Unauthorized, request_locale
from hub.openapi import problems
from i18n import negotiate
from sensors import public, rules, service
from sensors.errors import UnsupportedEvent
from sensors.models import (
    DryRun,
    IngestKey,
    IngestKeyIn,
    IngestResult,
    ObservationIn,
    Rule,
    RuleIn,
    Sensor,
    SensorIn,
    SensorList,
)

Lang = Annotated[str | None, QueryParameter(max_length=10, description="Reading language: fr, de or en")]
IngestKeyHeader = Annotated[
    str | None, HeaderParameter(name="X-Hub-Ingest-Key", max_length=200, required=False)
]
IfNoneMatch = Annotated[str | None, HeaderParameter(name="If-None-Match", max_length=2000, required=False)]
Signed = Request[CurrentUser, Token, State]
AnyRequest = Request[Any, Any, State]
#: the union of two Structs is not validated again (it comes from our own dependency)
Writer = NamedDependency[SkipValidation[service.Actor | None]]
#: ChirpStack sends every event to its HTTP integration; these carry nothing for the hub
IGNORED_CHIRPSTACK_EVENTS = frozenset({"join", "ack", "txack", "log", "location", "integration"})


async def provide_writer(request: AnyRequest, conn: Conn) -> service.Actor | None:
    """A signed-in person, or a partner key (``Bearer hubp_…``); None when neither is sent."""
    user = await optional_user(request)
    if user is not None:
        return user
    header = request.headers.get("authorization")
    if header:
        return await partners.authenticate(conn, header)
    return None


_WRITER = {"writer": Provide(provide_writer)}


class SensorController(Controller):
    """Sensors are public to read; hub administrators and partners with ``sensors:write`` add them."""

    path = "/sensors"
    tags = ["sensors"]

    @post(
        "/",
        opt={"public": True},
        dependencies=_WRITER,
        responses=problems(401, 403, 422, public=True),
        operation_id="createSensor",
    )
    async def create(
        self, conn: Conn, request: AnyRequest, writer: Writer, data: JSONBody[SensorIn], lang: Lang = None
    ) -> Sensor:
        """A sensor: bilingual name, kind, unit, municipality, location, expected interval, source, licence."""
        if writer is None:
            raise Unauthorized()
        return await service.create_sensor(conn, writer, data, request_locale(request))

    @get("/", opt={"public": True}, responses=problems(422, public=True))
    async def index(
        self,
        conn: ReadConn,
        request: AnyRequest,
        municipality: Annotated[str | None, QueryParameter(max_length=8, pattern=r"^[0-9AB]{5,8}$")] = None,
        lang: Lang = None,
    ) -> SensorList:
        """The sensors of a municipality (or all), with their latest reading."""
        return await service.list_sensors(conn, municipality, request_locale(request))

    @get("/{sensor_id:uuid}", opt={"public": True}, responses=problems(404, public=True))
    async def one(
        self, conn: ReadConn, request: AnyRequest, sensor_id: FromPath[uuid.UUID], lang: Lang = None
    ) -> Sensor:
        return await service.get_sensor(conn, sensor_id, request_locale(request))

    @post(
        "/{sensor_id:uuid}/observations",
        opt={"public": True},
        dependencies=_WRITER,
        responses=problems(401, 404, 413, 422, public=True),
    )
    async def observations(
        self,
        conn: Conn,
        request: AnyRequest,
        writer: Writer,
        sensor_id: FromPath[uuid.UUID],
        data: JSONBody[list[ObservationIn]],
        ingest_key: IngestKeyHeader = None,
        lang: Lang = None,
    ) -> IngestResult:
        """Readings ``[{value, observed_at}]`` from a partner key with ``sensors:write`` (its own sensors) or
        an ingest key; a reading already stored at the same instant is not added again."""
        if writer is None:
            await service.check_ingest_key(conn, ingest_key)
        return await service.add_observations(conn, writer, sensor_id, data)

    @post("/{sensor_id:uuid}/rules", responses=problems(401, 404, 422))
    async def add_rule(
        self,
        conn: Conn,
        request: Signed,
        sensor_id: FromPath[uuid.UUID],
        data: JSONBody[RuleIn],
        lang: Lang = None,
    ) -> Rule:
        """A rule (hub administrators): levels with clear thresholds, silence, rise, stuck value, audience."""
        return await rules.create_rule(conn, request.user, sensor_id, data, request_locale(request))

    @get("/{sensor_id:uuid}/rules/{rule_id:uuid}", responses=problems(401, 404))
    async def rule(
        self,
        conn: ReadConn,
        request: Signed,
        sensor_id: FromPath[uuid.UUID],
        rule_id: FromPath[uuid.UUID],
        lang: Lang = None,
    ) -> Rule:
        """A rule with its state (normal, pending, firing, recovering, no_data) and what it told."""
        return await rules.get_rule(conn, request.user, sensor_id, rule_id, request_locale(request))

    @post("/{sensor_id:uuid}/rules/dry-run", status_code=HTTP_200_OK, responses=problems(401, 404, 422))
    async def dry_run(
        self,
        conn: ReadConn,
        request: Signed,
        sensor_id: FromPath[uuid.UUID],
        data: JSONBody[RuleIn],
        lang: Lang = None,
    ) -> DryRun:
        """What a rule would have sent over the stored readings, before it is switched on; nothing is sent."""
        return await rules.dry_run(conn, request.user, sensor_id, data)

    @post("/ingest-keys", responses=problems(401, 403, 422))
    async def ingest_key(
        self, conn: Conn, request: Signed, data: JSONBody[IngestKeyIn], lang: Lang = None
    ) -> IngestKey:
        """A key for a network server's webhooks (``X-Hub-Ingest-Key``), shown once; hub administrators."""
        return await service.issue_ingest_key(conn, request.user, data)


class IngestController(Controller):
    """LoRaWAN network-server webhooks, authenticated by ``X-Hub-Ingest-Key``; replays are taken once."""

    path = "/ingest"
    tags = ["sensors"]

    @post(
        "/ttn", opt={"public": True}, status_code=HTTP_200_OK, responses=problems(401, 404, 422, public=True)
    )
    async def ttn(
        self, conn: Conn, request: AnyRequest, ingest_key: IngestKeyHeader = None, lang: Lang = None
    ) -> IngestResult:
        """A The Things Stack v3 uplink message (``decoded_payload``); idempotent on device and frame counter."""
        await service.check_ingest_key(conn, ingest_key)
        return await service.ingest_tts(conn, await request.body())

    @post(
        "/chirpstack",
        opt={"public": True},
        status_code=HTTP_200_OK,
        responses=problems(400, 401, 404, 422, public=True),
    )
    async def chirpstack(
        self,
        conn: Conn,
        request: AnyRequest,
        event: Annotated[str, QueryParameter(max_length=20)],
        ingest_key: IngestKeyHeader = None,
        lang: Lang = None,
    ) -> IngestResult:
        """A ChirpStack v4 HTTP integration event: ``up`` (decoded ``object``) or ``status`` (battery)."""
        await service.check_ingest_key(conn, ingest_key)
        if event in IGNORED_CHIRPSTACK_EVENTS:
            return IngestResult(accepted=0, duplicates=0, doubtful=0)
        if event not in ("up", "status"):
            raise UnsupportedEvent()
        return await service.ingest_chirpstack(conn, event, await request.body())


def _cached(etag: str, if_none_match: str | None, media_type: str, body: bytes) -> Response[bytes]:
    headers = {"ETag": etag, "Cache-Control": "public, max-age=60"}
    if public.matches(if_none_match, etag):
        return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


class OpenDataController(Controller):
    """Open data: every sensor as GeoJSON, readings as CSV; with ETags, source and licence."""

    path = "/open-data"
    tags = ["open data"]

    @get(
        "/sensors.geojson",
        opt={"public": True},
        responses=problems(public=True),
        operation_id="sensorsGeojson",
    )
    async def geojson(self, conn: ReadConn, if_none_match: IfNoneMatch = None) -> Response[bytes]:
        body, etag = await public.sensors_geojson(conn)
        return _cached(etag, if_none_match, "application/geo+json", body)

    @get("/observations.csv", opt={"public": True}, responses=problems(404, 422, public=True))
    async def csv(
        self,
        conn: ReadConn,
        state: State,
        sensor: Annotated[uuid.UUID | None, QueryParameter()] = None,
        start: Annotated[str | None, QueryParameter(name="from", max_length=40)] = None,
        end: Annotated[str | None, QueryParameter(name="to", max_length=40)] = None,
        if_none_match: IfNoneMatch = None,
        lang: Lang = None,
    ) -> Response[Any]:
        """Readings of a sensor (or all) in a range (``from``/``to``: dates or times with offset; the last 30
        days by default), streamed in time order; each row names its source and licence."""
        download = await public.observations_csv(conn, sensor, start, end)
        headers = {
            "ETag": download.etag,
            "Cache-Control": "public, max-age=60",
            "Content-Disposition": f'attachment; filename="{download.filename}"',
            "X-Licence": "; ".join(download.licences),
        }
        if public.matches(if_none_match, download.etag):
            return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
        return Stream(
            public.stream_csv(state.db_pool, download), media_type="text/csv; charset=utf-8", headers=headers
        )


@get("/dashboard/{municipality_code:str}", opt={"public": True}, include_in_schema=False)
async def dashboard(
    conn: ReadConn, request: AnyRequest, municipality_code: FromPath[str], lang: Lang = None
) -> Response[str]:
    """The public dashboard of a municipality, in French or German, readable without JavaScript."""
    locale = negotiate(lang, None, request.headers.get("accept-language"))
    page = await public.dashboard(conn, municipality_code, locale, datetime.now(UTC))
    return Response(
        public.render(page),
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "public, max-age=60", "Content-Language": page.lang},
    )


ROUTES: list[ControllerRouterHandler] = [SensorController, IngestController, OpenDataController]
PAGES: list[ControllerRouterHandler] = [dashboard]
