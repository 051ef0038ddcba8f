"""Schemathesis against the OpenAPI document, in-process: no 5xx, and no status code the document hides."""

from __future__ import annotations

import secrets
from typing import Any

import hypothesis
import pytest
import schemathesis
from litestar import Litestar
from litestar.testing import AsyncTestClient
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.specs.openapi.checks import status_code_conformance

from hub.settings import Settings, load_settings
from server.app import create_app
from tests.conftest import Servers, user_factory


@pytest.fixture(scope="module")
def api_schema(settings: Settings, servers: Servers) -> Any:
    """A separate app instance (its own queue and rate-limit namespace) for the fuzzer."""
    env = {
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_SECRET_KEY": settings.secret_key,
        "HUB_QUEUE_NAME": f"hub-test-fuzz-{secrets.token_hex(4)}",
        "HUB_AUTH_RATE_PER_MINUTE": "100000",
    }
    app = create_app(load_settings(env), database_url=servers.database_url, redis_url=servers.redis_url)
    return schemathesis.openapi.from_asgi("/schema/openapi.json", app)


@pytest.fixture(scope="module")
async def bearer(client: AsyncTestClient[Litestar]) -> str:
    """A signed-in person, so the fuzzer reaches past authentication."""
    user = await user_factory(client)(locale="de", verified=False)
    return user.access_token


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis.settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_api_answers_only_documented_statuses_and_never_5xx(case: Any, bearer: str) -> None:
    headers = {} if case.path.startswith("/v1/auth/") else {"Authorization": f"Bearer {bearer}"}
    if case.method == "DELETE" and case.path == "/v1/me":
        headers = {}  # erasing the fuzzer's own account would end the run early; 401 is documented
    if case.method == "POST" and case.path == "/v1/auth/logout":
        headers = {}
    case.call_and_validate(headers=headers, checks=[not_a_server_error, status_code_conformance])


def _with_nul(value: Any) -> Any:
    """The same value with a NUL character inside every string (keys stay as the schema names them)."""
    if isinstance(value, str):
        return value[: len(value) // 2] + "\x00" + value[len(value) // 2 :]
    if isinstance(value, list):
        return [_with_nul(v) for v in value]
    if isinstance(value, dict):
        return {k: _with_nul(v) for k, v in value.items()}
    return value


@schema.parametrize()
@hypothesis.settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_nul_characters_in_every_field_and_parameter_are_never_a_5xx(case: Any, bearer: str) -> None:
    headers = (
        {}
        if case.path.startswith("/v1/auth/") or case.path == "/v1/me"
        else {"Authorization": f"Bearer {bearer}"}
    )
    if case.body is not None and case.body is not NOT_SET:
        case.body = _with_nul(case.body)
    if case.query:
        case.query = _with_nul(case.query)
    case.call_and_validate(headers=headers, checks=[not_a_server_error])


BROKEN_BODIES = (
    b'{"name": "\xff\xfe\xfd"}',  # not UTF-8
    b"[" * 3000 + b"]" * 3000,  # nested deeper than any decoder follows
    b'{"limit": 1e999, "capacity": 123456789012345678901234567890}',  # numbers out of every range
    b'{"a": "\\u0000"}',
)


async def test_broken_bodies_on_every_operation_are_a_4xx(
    client: AsyncTestClient[Litestar], bearer: str
) -> None:
    """Every operation of the document, signed in and not, with bodies no client should send."""
    spec = client.app.openapi_schema.to_schema()
    seen = 0
    for path, operations in spec["paths"].items():
        concrete = path
        for name in ("community_id", "post_id", "event_id", "partner_id", "key_id", "user_id", "circle_id"):
            concrete = concrete.replace("{" + name + "}", "00000000-0000-4000-8000-000000000000")
        concrete = concrete.replace("{", "").replace("}", "")
        for method in operations:
            if method not in {"post", "put", "patch"} or (method, path) == ("delete", "/v1/me"):
                continue
            for signed in (False, True):
                headers = {"Content-Type": "application/json", "Accept-Language": "de"}
                if signed:
                    headers["Authorization"] = f"Bearer {bearer}"
                for body in BROKEN_BODIES:
                    response = await client.request(method.upper(), concrete, content=body, headers=headers)
                    assert response.status_code < 500, (method, path, body[:40], response.text)
                    seen += 1
    assert seen > 100
