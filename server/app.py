"""The application factory: create_app(settings) wires routes, the database pool, Redis, auth and errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from arq.connections import ArqRedis
from litestar import Litestar, Request, Router
from litestar.config.app import AppConfig
from litestar.config.compression import CompressionConfig
from litestar.datastructures import MutableScopeHeaders, State
from litestar.di import Provide
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi import OpenAPIConfig
from litestar.stores.redis import RedisStore
from litestar.types import ControllerRouterHandler, Message, Middleware, OnAppInitHandler, Scope

from hub import db
from hub.auth import TokenIssuer, build_jwt_auth, resolve_viewer
from hub.domain import UserData
from hub.errors import EXCEPTION_HANDLERS, scope_request_id
from hub.idempotency import idempotency_middleware
from hub.input_guard import input_guard_middleware
from hub.logs import request_logging_middleware, structlog_config
from hub.metrics import metrics_handler, prometheus_config
from hub.openapi import document_examples, document_problem_codes, document_problems, operation_id
from hub.queue import queue_pool
from hub.settings import Settings
from hub.throttle import client_address
from server import docs
from server.domains import DOMAINS

logger = logging.getLogger("hub")

REQUEST_BODY_LIMIT = 64 * 1024  # bytes; routes that take more say so themselves


async def add_request_id(message: Message, scope: Scope) -> None:
    """Echo the request id (the caller's ``X-Request-ID`` if sane, else ours) on every response."""
    if message["type"] == "http.response.start":
        MutableScopeHeaders.from_message(message)["X-Request-ID"] = scope_request_id(scope)


def _outermost(middleware: Middleware) -> OnAppInitHandler:
    """Put ``middleware`` outside every other one (authentication included), whatever registered them."""

    def install(app_config: AppConfig) -> AppConfig:
        app_config.middleware.insert(0, middleware)
        return app_config

    return install


def route_handlers(settings: Settings) -> list[ControllerRouterHandler]:
    """Every API route of the hub, under /v1 (health checks live at the root)."""
    from accounts.pages import AccountPages
    from accounts.routes import AuthController
    from server.health import health_router
    from server.open_page import open_in_app

    def client(request: Request[Any, Any, Any]) -> str:
        return client_address(request.scope, settings.trusted_proxies)

    auth_limit = RateLimitConfig(
        rate_limit=("minute", settings.auth_rate_per_minute),
        store="rate_limit",
        identifier_for_request=client,
    )
    auth_router = Router(path="/", route_handlers=[AuthController], middleware=[auth_limit.middleware])
    v1: list[ControllerRouterHandler] = [auth_router]
    # the account pages' forms (links from emails) are limited like sign-in; opening them is not
    page_limit = RateLimitConfig(
        rate_limit=("minute", settings.auth_rate_per_minute),
        store="rate_limit",
        identifier_for_request=client,
        check_throttle_handler=lambda request: request.method == "POST",
    )
    account_pages = Router(path="/", route_handlers=[AccountPages], middleware=[page_limit.middleware])
    pages: list[ControllerRouterHandler] = [account_pages, open_in_app]
    for domain in DOMAINS:
        v1.extend(domain.routes)
        pages.extend(domain.pages() if callable(domain.pages) else domain.pages)
    scrapes = [scrape for domain in DOMAINS for scrape in domain.metrics]
    return [
        Router(path="/v1", route_handlers=v1),
        *pages,
        health_router,
        metrics_handler(scrapes),
        docs.assets_router(),
    ]


def create_app(
    settings: Settings, *, database_url: str, redis_url: str, extra_routes: Sequence[Any] = ()
) -> Litestar:
    """Build the API for resolved server addresses (embedded or configured ones)."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        app.state.db_pool = await db.create_pool(
            database_url, statement_cache_size=settings.statement_cache_size
        )
        app.state.arq = await queue_pool(redis_url, settings.queue_name)
        try:
            yield
        finally:
            await app.state.arq.aclose()
            await app.state.db_pool.close()

    async def provide_arq(state: State) -> ArqRedis:
        return state.arq  # type: ignore[no-any-return]

    async def provide_settings() -> Settings:
        return settings

    user_data = [section for domain in DOMAINS for section in domain.user_data]

    async def provide_user_data() -> list[UserData]:
        return user_data

    jwt_auth = build_jwt_auth(settings)

    issuer = TokenIssuer(jwt_auth)

    async def provide_issuer() -> TokenIssuer:
        return issuer

    app = Litestar(
        route_handlers=[*route_handlers(settings), *extra_routes],
        lifespan=[lifespan],
        dependencies={
            "conn": Provide(db.provide_transaction),
            "read_conn": Provide(db.provide_read_connection),
            "arq": Provide(provide_arq),
            "settings": Provide(provide_settings),
            "issuer": Provide(provide_issuer),
            "user_data": Provide(provide_user_data),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        on_app_init=[
            jwt_auth.on_app_init,
            # counts requests authentication refuses too (it is inside)
            _outermost(prometheus_config().middleware),
            _outermost(db.request_connection_middleware),
            _outermost(request_logging_middleware),
        ],
        middleware=[input_guard_middleware, idempotency_middleware],
        before_request=resolve_viewer,
        logging_config=structlog_config(),
        before_send=[add_request_id],
        stores={
            "rate_limit": RedisStore.with_client(url=redis_url, namespace=f"{settings.queue_name}:ratelimit")
        },
        request_max_body_size=REQUEST_BODY_LIMIT,
        compression_config=CompressionConfig(backend="gzip", minimum_size=2048, gzip_compress_level=6),
        openapi_config=OpenAPIConfig(
            title="Hub — Pays de Bitche, Saarpfalz, Pfalz",
            version="1.0.0",
            path="/schema",
            render_plugins=docs.render_plugins(),
            use_handler_docstrings=True,
            operation_id_creator=operation_id,
        ),
        state=State({"settings": settings, "jwt_auth": jwt_auth}),
        debug=False,
    )
    document_problems(app)
    document_problem_codes(app)
    document_examples(app)
    return app
