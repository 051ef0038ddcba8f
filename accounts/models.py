"""Account requests and responses."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated, Literal

import msgspec
from litestar.openapi.spec.enums import OpenAPIFormat

from territory.models import MunicipalityCode

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Password = Annotated[str, msgspec.Meta(min_length=10, max_length=256)]
DisplayName = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
LocaleCode = Literal["fr", "de", "en"]


#: a local wall-clock time, ``HH:MM`` or ``HH:MM:SS``
WallClock = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
        # documented as a time: Litestar reads "extra" of extra_json_schema into the schema
        extra_json_schema={
            "description": "Local wall-clock time, HH:MM or HH:MM:SS",
            "examples": ["22:00"],
            "extra": {"format": OpenAPIFormat.TIME},
        },
    ),
]


def wall_clock(value: time) -> str:
    """``HH:MM``, or ``HH:MM:SS`` when the seconds matter."""
    return value.isoformat(timespec="seconds" if value.second else "minutes")


class QuietHours(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Local wall-clock times between which non-urgent pushes wait (may span midnight: 22:00–07:00)."""

    start: WallClock
    end: WallClock

    def times(self) -> tuple[time, time]:
        return time.fromisoformat(self.start), time.fromisoformat(self.end)


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
    #: the address was proven by a link sent to it (changing the address needs proving it again)
    email_verified: bool = False


class ProfileUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Fields left out stay as they are; ``quiet_hours: null`` turns quiet hours off."""

    display_name: DisplayName | msgspec.UnsetType = msgspec.UNSET
    #: a new address is not proven: a link is sent to it, and nothing matches the account by it until then
    email: Email | msgspec.UnsetType = msgspec.UNSET
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


class VerifyEmailRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class EmailVerified(msgspec.Struct, frozen=True):
    email_verified: bool


class ForgotPasswordRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=254)]


class Accepted(msgspec.Struct, frozen=True):
    """The request was taken; what follows (an email, or nothing) is not told."""

    status: str = "accepted"


class ResetPasswordRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    password: Password


class ChangePasswordRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    current_password: Annotated[str, msgspec.Meta(max_length=256)]
    new_password: Password


class SessionsEnded(msgspec.Struct, frozen=True):
    sessions_ended: int


#: example bodies for the API documentation (each decodes as its Struct: tests check it)
REGISTER_EXAMPLE = {
    "email": "marie.schmitt@example.org",
    "password": "Quetsches-de-Bitche-2026",
    "display_name": "Marie Schmitt",
    "locale": "fr",
    "municipality_code": "57089",
}
LOGIN_EXAMPLE = {"email": "marie.schmitt@example.org", "password": "Quetsches-de-Bitche-2026"}
