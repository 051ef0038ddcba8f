"""The accounts domain as the hub mounts it: the profile routes and the account table's migrations."""

from __future__ import annotations

from pathlib import Path

from accounts.routes import MeController
from hub.domain import Domain

#: sign-up and sign-in (``AuthController``) are mounted by the shell behind the per-address rate limit
DOMAIN = Domain(
    name="accounts",
    routes=(MeController,),
    migrations=Path(__file__).parent / "migrations",
    catalog="hub",
)
