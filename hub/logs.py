"""Structured logs: JSON lines (console lines in `hub dev`), request and job ids bound per task, redacted."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import IO, Any

import structlog
from litestar.enums import ScopeType
from litestar.logging.config import StructLoggingConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from structlog.typing import EventDict, Processor, WrappedLogger

from hub.redaction import RedactingFilter, redact

#: libraries that bring their own loggers: their records go through the same handler and renderer
LIBRARY_LOGGERS = ("litestar", "uvicorn", "uvicorn.error", "uvicorn.access", "arq")


def redact_event(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    """A processor that passes every string of a log line through ``redact``."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact(value)
    return event


def _one_line(logger: WrappedLogger, method: str, line: Any) -> Any:
    # A console record stays one line: a traceback is folded into it.
    return str(line).replace("\r", "").replace("\n", " | ")


def _shared(with_extra: bool) -> list[Processor]:
    chain: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
    ]
    if with_extra:
        chain.append(structlog.stdlib.ExtraAdder())
    chain.append(structlog.processors.TimeStamper(fmt="iso", utc=True))
    return chain


def structlog_processors() -> list[Processor]:
    """What a structlog logger does before handing its event to the standard library's handlers (whose
    filters still apply: every line, ours or a library's, ends in the same formatter)."""
    return [
        structlog.stdlib.filter_by_level,
        *_shared(with_extra=False),
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ]


def formatter(fmt: str) -> structlog.stdlib.ProcessorFormatter:
    """The one formatter of the hub's handler: JSON lines, or readable one-line records for a console."""
    renderer: Processor
    final: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if fmt == "json":
        final += [structlog.processors.format_exc_info, redact_event]
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
    else:
        final += [structlog.processors.format_exc_info, redact_event]
        renderer = structlog.dev.ConsoleRenderer(colors=False, pad_event_to=0)
    after = [_one_line] if fmt == "console" else []
    return structlog.stdlib.ProcessorFormatter(
        processors=[*final, renderer, *after], foreign_pre_chain=_shared(with_extra=True)
    )


def configure_logging(level: str, fmt: str = "json", stream: IO[str] | None = None) -> logging.Handler:
    """One handler on the root logger, rendering every record (structlog's and the libraries') as ``fmt``."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(RedactingFilter())  # no token, address or body in any line, the libraries' included
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in LIBRARY_LOGGERS:
        named = logging.getLogger(name)
        named.handlers[:] = []
        named.propagate = True
        named.setLevel(logging.NOTSET)
    # uvicorn's access line says less than the hub's own request line, without the request id
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # aiosmtpd logs every connection at INFO
    logging.getLogger("mail.log").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    structlog_config().configure()
    return handler


def structlog_config() -> StructLoggingConfig:
    """Litestar's structlog support, rendering through the standard library's handlers (see above)."""
    return StructLoggingConfig(
        processors=structlog_processors(),
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
        log_exceptions="never",
        pretty_print_tty=False,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structured logger: ``log.info("batch sent", notification_id=..., sent=3)``."""
    return structlog.stdlib.get_logger(name)


def current_request_id() -> str | None:
    """The id of the request (or of the request a job came from) this task works for, if any."""
    value = structlog.contextvars.get_contextvars().get("request_id")
    return value if isinstance(value, str) else None


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    """Bind ``values`` to every log line of the current task (and of the tasks it starts) for a while."""
    present = {key: value for key, value in values.items() if value is not None}
    with structlog.contextvars.bound_contextvars(**present):
        yield


def bind_batch(**values: Any) -> None:
    """Bind ``values`` to the rest of the current task's log lines (a job's task: they end with it)."""
    structlog.contextvars.bind_contextvars(**values)


def request_line_fields(scope: Mapping[str, Any]) -> MutableMapping[str, Any]:
    """What the request line says of a request: never its body, query string or headers."""
    return {
        "method": scope.get("method"),
        "route": scope.get("path_template") or "<unmatched>",
    }


_request_log = get_logger("hub.request")
#: requests logged at DEBUG only: health probes, metric scrapes, the documentation's assets
QUIET_PATHS = ("/health/", "/metrics", "/schema/assets/")


def request_logging_middleware(app: ASGIApp) -> ASGIApp:
    """Bind the request id to everything logged while a request runs (the jobs it enqueues take it
    along), and write one line per request: method, route template, status and duration."""
    from hub.errors import scope_request_id

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=scope_request_id(scope)):
            try:
                await app(scope, receive, send_status)
            except Exception as exc:
                # answered by the exception handlers outside this middleware (e.g. 401 from authentication)
                status = getattr(exc, "status_code", None) or getattr(exc, "status", None) or 500
                raise
            finally:
                # probes and scrapes every few seconds would drown the lines that matter
                quiet = str(scope.get("path", "")).startswith(QUIET_PATHS)
                (_request_log.debug if quiet else _request_log.info)(
                    "request",
                    **request_line_fields(scope),
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )

    return middleware
