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
