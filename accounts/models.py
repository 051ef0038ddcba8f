"""Account requests and responses."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated, Literal

import msgspec

from territory.models import MunicipalityCode

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Password = Annotated[str, msgspec.Meta(min_length=10, max_length=256)]
DisplayName = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
LocaleCode = Literal["fr", "de", "en"]


class QuietHours(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Local wall-clock times between which non-urgent pushes wait (may span midnight: 22:00–07:00)."""

    start: time
    end: time


class RegisterRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email
    password: Password
    display_name: DisplayName
    locale: LocaleCode = "fr"
    municipality_code: MunicipalityCode | None = None


class LoginRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=254)]
    password: Annotated[str, msgspec.Meta(max_length=256)]


class RefreshRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    refresh_token: Annotated[str, msgspec.Meta(max_length=200)]


class User(msgspec.Struct, frozen=True):
    id: uuid.UUID
    email: str
    display_name: str
    locale: str
    municipality_code: str | None
    quiet_hours: QuietHours | None
    time_zone: str
    created_at: datetime


class ProfileUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Fields left out stay as they are; ``quiet_hours: null`` turns quiet hours off."""

    display_name: DisplayName | msgspec.UnsetType = msgspec.UNSET
    locale: LocaleCode | msgspec.UnsetType = msgspec.UNSET
    municipality_code: MunicipalityCode | msgspec.UnsetType | None = msgspec.UNSET
    quiet_hours: QuietHours | msgspec.UnsetType | None = msgspec.UNSET


class TokenPair(msgspec.Struct, frozen=True):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105
    expires_in: int = 900


class AuthResponse(msgspec.Struct, frozen=True):
    user: User
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105
    expires_in: int = 900


class SessionInfo(msgspec.Struct, frozen=True):
    id: uuid.UUID
    created_at: datetime
    refreshed_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class Export(msgspec.Struct, frozen=True):
    """Everything the hub holds about one person (GDPR art. 15 and 20)."""

    exported_at: datetime
    user: User
    sessions: list[SessionInfo]
    sections: dict[str, object]


#: example bodies for the API documentation (each decodes as its Struct: tests check it)
REGISTER_EXAMPLE = {
    "email": "marie.schmitt@example.org",
    "password": "Quetsches-de-Bitche-2026",
    "display_name": "Marie Schmitt",
    "locale": "fr",
    "municipality_code": "57089",
}
LOGIN_EXAMPLE = {"email": "marie.schmitt@example.org", "password": "Quetsches-de-Bitche-2026"}
