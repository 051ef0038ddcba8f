"""The OpenAPI document an app team generates a client from: ids, descriptions, names, problem codes, docs."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from accounts.models import LoginRequest, RegisterRequest
from communities.events.models import EventIn
from communities.models import CommunityIn, PostIn
from hub.errors import HubError, InvalidCredentials, NotFound
from hub.openapi import FRAMEWORK_PROBLEMS, problem_codes
from messaging.models import DeviceIn

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
#: camelCase, starting with a verb-like word, no version or path noise
READABLE_ID = re.compile(r"^[a-z][a-z]+(?:[A-Z][a-z0-9]*)*$")


@pytest.fixture(scope="module")
async def document(client: AsyncTestClient[Litestar]) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_operation_has_a_unique_readable_id_and_a_description(document: dict[str, Any]) -> None:
    found = operations(document)
    assert len(found) > 80
    problems: list[str] = []
    seen: dict[str, str] = {}
    for method, path, operation in found:
        where = f"{method} {path}"
        op_id = operation.get("operationId")
        if not op_id:
            problems.append(f"{where}: no operationId")
            continue
        if not READABLE_ID.match(op_id) or len(op_id) > 32 or op_id.lower().startswith("v1"):
            problems.append(f"{where}: unreadable operationId {op_id!r}")
        if op_id in seen:
            problems.append(f"{where}: operationId {op_id!r} also used by {seen[op_id]}")
        seen[op_id] = where
        description = (operation.get("description") or "").strip()
        if len(description) < 10 or description.endswith("Route Decorator."):
            problems.append(f"{where}: no description (the handler's docstring)")
    assert problems == []


def test_main_operations_have_the_names_an_app_team_expects(document: dict[str, Any]) -> None:
    ids = {(method, path): operation["operationId"] for method, path, operation in operations(document)}
    assert ids[("POST", "/v1/communities/{community_id}/posts")] == "createPost"
    assert ids[("GET", "/v1/feed")] == "listFeed"
    assert ids[("POST", "/v1/auth/login")] == "signIn"
    assert ids[("POST", "/v1/me/devices")] == "registerDevice"


def test_component_names_carry_no_module_prefix(document: dict[str, Any]) -> None:
    names = list(document["components"]["schemas"])
    assert [name for name in names if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", name)] == []
    assert {"Post", "PostIn", "Problem", "ProblemCode", "CircleEvent", "Event"} <= set(names)


def test_every_problem_code_is_an_enum_with_its_status(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["Problem"]["properties"]["code"] == {"$ref": "#/components/schemas/ProblemCode"}
    enum = schemas["ProblemCode"]["enum"]
    listed = dict(re.findall(r"- `([a-z_]+)`: (\d{3})", schemas["ProblemCode"]["description"]))
    assert sorted(listed) == sorted(enum)
    codes = problem_codes()
    assert {code: int(status) for code, status in listed.items()} == codes
    for code, status in FRAMEWORK_PROBLEMS.items():
        assert codes[code] == status
    for error in (NotFound, InvalidCredentials):
        assert codes[error.code] == error.status
    assert HubError.code not in codes, "the base class's placeholder code is never answered"


def test_every_error_class_of_every_domain_is_listed() -> None:
    def subclasses(cls: type[HubError]) -> list[type[HubError]]:
        return [c for sub in cls.__subclasses__() for c in (sub, *subclasses(sub))]

    codes = problem_codes()
    missing = [c.__qualname__ for c in subclasses(HubError) if "code" in vars(c) and c.code not in codes]
    assert missing == []
    assert {"email_taken", "last_admin", "invalid_partner_key", "already_claimed"} <= set(codes)


MAIN_BODIES: dict[str, type[msgspec.Struct]] = {
    "signUp": RegisterRequest,
    "signIn": LoginRequest,
    "createCommunity": CommunityIn,
    "createPost": PostIn,
    "registerDevice": DeviceIn,
    "createEvent": EventIn,
}


@pytest.mark.parametrize(("op_id", "body_type"), MAIN_BODIES.items())
def test_main_request_bodies_have_an_example_the_api_accepts(
    document: dict[str, Any], op_id: str, body_type: type[msgspec.Struct]
) -> None:
    ids = {operation["operationId"]: operation for _, _, operation in operations(document)}
    content = ids[op_id]["requestBody"]["content"]["application/json"]
    examples = content.get("examples") or {}
    assert examples, f"{op_id}: no example body"
    for example in examples.values():
        msgspec.json.decode(msgspec.json.encode(example["value"]), type=body_type, strict=True)


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.urls.append(str(found["src"]))
        if tag == "link" and found.get("href"):
            self.urls.append(str(found["href"]))


@pytest.mark.parametrize("page", ["/schema", "/schema/swagger"])
async def test_docs_pages_work_offline(client: AsyncTestClient[Litestar], page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    parser = _Assets()
    parser.feed(response.text)
    assert parser.urls, "the page loads its viewer"
    for url in parser.urls:
        assert url.startswith("/"), f"{url} is not served by the hub"
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
