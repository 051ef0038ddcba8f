"""The accounts domain as the hub mounts it: the profile routes and the account table's migrations."""

from __future__ import annotations

from pathlib import Path

from accounts.places import service as places
from accounts.places.routes import PlacesController
from accounts.routes import MeController
from hub.domain import Domain, Retention

#: sign-up and sign-in (``AuthController``) are mounted by the shell behind the per-address rate limit
DOMAIN = Domain(
    name="accounts",
    routes=(MeController, PlacesController),
    migrations=Path(__file__).parent / "migrations",
    catalog="hub",
    retention=(Retention("sessions", "sessions", "expires_at < now() OR revoked_at < $1"),),
    user_data=(places.USER_DATA,),
)
