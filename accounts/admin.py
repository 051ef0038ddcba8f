"""`hub admin grant|revoke|list`: make or unmake hub administrators from the console, audited."""

from __future__ import annotations

import getpass
import logging
import sys

import asyncpg

from accounts import queries
from i18n import N_, gettext_for

logger = logging.getLogger("hub.admin")

#: the account `hub dev` seeds, which is a hub administrator there (and only there)
DEMO_ADMIN_EMAIL = "demo-admin@hub.localhost"

GRANTED = N_("{email} is now a hub administrator.")
ALREADY = N_("{email} is already a hub administrator.")
REVOKED = N_("{email} is no longer a hub administrator.")
NOT_ADMIN = N_("{email} is not a hub administrator.")
NO_ACCOUNT = N_("No account uses the address {email}.")
LIST_HEADER = N_("Hub administrators:")
LIST_EMPTY = N_("There is no hub administrator yet. Make one with “hub admin grant EMAIL”.")
LIST_LINE = N_("{email} ({name}), since {since}")
LIST_LINE_UNDATED = N_("{email} ({name})")
UNPROVEN = N_("Note: this address has not been proven by its owner yet.")
DEV_NOTE = N_(
    "Hub administrator: {email}. Make another with “hub admin grant EMAIL” (in another terminal, with the "
    "same HUB_DATA_DIR)."
)


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


async def _is_admin(conn: asyncpg.Connection, email: str) -> tuple[bool, bool] | None:
    """(is admin, address proven) of the account an address designates, or None without one."""
    owner = await queries.owner_of_address(conn, email)
    if owner is None:
        return None
    flags = await queries.admin_flags(conn, owner.id)
    return flags, owner.email_verified


async def run(database_url: str, action: str, email: str | None, locale: str) -> int:
    """Carry out one admin command, print its outcome in the console language; the exit code."""
    _ = gettext_for(locale)
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            if action == "list":
                admins = await queries.admins(conn)
                if not admins:
                    print(_(LIST_EMPTY), flush=True)
                    return 0
                print(_(LIST_HEADER), flush=True)
                for admin in admins:
                    line = LIST_LINE if admin.since else LIST_LINE_UNDATED
                    since = admin.since.date().isoformat() if admin.since else ""
                    print("  " + _(line).format(email=admin.email, name=admin.display_name, since=since))
                return 0
            assert email is not None
            email = email.strip()
            state = await _is_admin(conn, email)
            if state is None:
                print(_(NO_ACCOUNT).format(email=email), file=sys.stderr, flush=True)
                return 1
            is_admin, proven = state
            wanted = action == "grant"
            if is_admin == wanted:
                print(_(ALREADY if wanted else NOT_ADMIN).format(email=email), flush=True)
                return 0
            user_id = await queries.set_admin(conn, email, wanted)
            await queries.insert_admin_audit(conn, action, user_id, email, _operator())
            logger.info("hub administrator %s by %s", "granted" if wanted else "revoked", _operator())
            print(_(GRANTED if wanted else REVOKED).format(email=email), flush=True)
            if wanted and not proven:
                print(_(UNPROVEN), flush=True)
            return 0
    finally:
        await conn.close()


async def make_demo_admin(database_url: str) -> bool:
    """In `hub dev` only: the seeded demo account is a hub administrator with a proven address (audited
    once). False when there is no demo account."""
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            state = await _is_admin(conn, DEMO_ADMIN_EMAIL)
            if state is None:
                return False
            await queries.prove_address(conn, DEMO_ADMIN_EMAIL)
            if not state[0]:
                user_id = await queries.set_admin(conn, DEMO_ADMIN_EMAIL, True)
                await queries.insert_admin_audit(conn, "grant", user_id, DEMO_ADMIN_EMAIL, "hub dev")
            return True
    finally:
        await conn.close()
