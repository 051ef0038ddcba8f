"""Where domain packages plug into the hub: their routes, and their part of GDPR export and erasure."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from litestar.types import ControllerRouterHandler

#: "module:attribute" of each domain's list of route handlers, mounted under /v1.
ROUTES: tuple[str, ...] = (
    "messaging.routes:ROUTES",
    "communities.routes:ROUTES",
    "care.routes:ROUTES",
    "communities.events.routes:ROUTES",
    "communities.calendar.routes:ROUTES",
    "communities.partners.routes:ROUTES",
    "feedback.routes:ROUTES",
)

#: "module:attribute" of each domain's UserData section, in export order; erasure runs in reverse.
USER_DATA: tuple[str, ...] = (
    "messaging.service:USER_DATA",
    "communities.service:USER_DATA",
    "care.service:user_data",
    "communities.events.service:USER_DATA",
    "feedback.service:USER_DATA",
)


class UserData:
    """One domain's share of a person's data: what export shows and what erasure removes."""

    def __init__(
        self,
        name: str,
        export: Callable[[asyncpg.Connection, uuid.UUID], Awaitable[Any]],
        erase: Callable[[asyncpg.Connection, uuid.UUID], Awaitable[None]],
    ) -> None:
        self.name = name
        self.export = export
        self.erase = erase


def _load(path: str) -> Any:
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def domain_routes() -> Sequence[ControllerRouterHandler]:
    handlers: list[ControllerRouterHandler] = []
    for path in ROUTES:
        handlers.extend(_load(path))
    return handlers


def user_data_sections() -> list[UserData]:
    return [_load(path) for path in USER_DATA]
