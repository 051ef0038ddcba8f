"""Opaque, signed keyset cursors: a client cannot forge or alter a position."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import msgspec

from hub.errors import REASON_BAD_CURSOR, InvalidField


def encode_cursor(secret: str, position: Any) -> str:
    payload = msgspec.json.encode(position)
    mac = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(mac + payload).decode().rstrip("=")


def decode_cursor(secret: str, cursor: str, kind: type[Any] = list) -> Any:
    """The position a cursor stands for; a tampered or foreign cursor is a 422 naming ``cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        mac, payload = raw[:12], raw[12:]
        expected = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:12]
        if not hmac.compare_digest(mac, expected):
            raise ValueError("signature")
        return msgspec.json.decode(payload, type=kind)
    except (ValueError, msgspec.DecodeError, msgspec.ValidationError):
        raise InvalidField("cursor", REASON_BAD_CURSOR) from None
