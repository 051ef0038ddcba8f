"""Log redaction: tokens in paths and query strings, bearer and partner keys, and email addresses never reach a log."""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"

#: path segments that are secrets themselves (one-click unsubscribe links, emailed tokens)
_SECRET_SEGMENT = re.compile(r"(/v1/unsubscribe/)[^/?#\s\"']+")
#: query parameters whose value is a secret or personal data
_SECRET_PARAMETER = re.compile(
    r"([?&](?:token|key|access_token|refresh_token|code|sig|signature|password|email|secret)=)[^&#\s\"']*",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_PARTNER_KEY = re.compile(r"\bhubp_[A-Za-z0-9_-]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_EMAIL = re.compile(r"[^\s@<>\"'(),;:\[\]]+@[^\s@<>\"'(),;:\[\]]+\.[^\s@<>\"'(),;:\[\]]+")


def redact(text: str) -> str:
    """``text`` without secrets in paths and query strings, bearer tokens, partner keys, JWTs or addresses."""
    text = _SECRET_SEGMENT.sub(rf"\g<1>{REDACTED}", text)
    text = _SECRET_PARAMETER.sub(rf"\g<1>{REDACTED}", text)
    text = _BEARER.sub(rf"\g<1>{REDACTED}", text)
    text = _PARTNER_KEY.sub(f"hubp_{REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    return _EMAIL.sub("[email]", text)


class RedactingFilter(logging.Filter):
    """A handler filter: each record's message and traceback are redacted before any formatter sees them.

    Placed on the handlers, it covers every library that logs through them (uvicorn's access lines,
    Litestar, arq, aiosmtplib) as well as the hub's own records.
    """

    _traceback = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):
            # A structlog event: its formatter redacts every string of it (hub.logs.redact_event) and
            # needs the event whole to render it as JSON or as a console line.
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._traceback.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
