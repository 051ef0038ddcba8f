"""Demo data for `hub dev`: the demo admin as feedback staff, and two released reports (idempotent)."""

from __future__ import annotations

import uuid

import asyncpg

from feedback import queries

#: the demo admin of the communities' demo data (created there)
DEMO_EMAIL = "demo-admin@hub.localhost"
DEMO_MUNICIPALITIES = ("57089", "10045116")  # Bitche, Mandelbachtal

#: fixed ids, so seeding twice adds nothing
_REPORTS: tuple[tuple[uuid.UUID, str, str, float, float, str, str], ...] = (
    (
        uuid.UUID("5f0b7c1e-2d1a-4c55-9a43-0f0e1d2c3b01"),
        "street-light",
        "57089",
        49.0531,
        7.4275,
        "fr",
        "Le lampadaire devant la boulangerie de la rue Teyssier reste éteint depuis lundi.",
    ),
    (
        uuid.UUID("5f0b7c1e-2d1a-4c55-9a43-0f0e1d2c3b02"),
        "idea",
        "10045116",
        49.1971,
        7.1427,
        "de",
        "Eine Sitzbank am Radweg an der Blies wäre für ältere Radfahrer eine schöne Rast.",
    ),
)


async def seed(conn: asyncpg.Connection) -> None:
    """Run after the communities' demo (which creates the demo admin); nothing happens twice."""
    admin = await queries.user_by_email(conn, DEMO_EMAIL)
    if admin is not None:
        for code in DEMO_MUNICIPALITIES:
            await queries.grant_staff(conn, code, admin.id, admin.id)
    for request_id, service_code, code, lat, lon, locale, description in _REPORTS:
        if await queries.request(conn, request_id) is not None:
            continue
        await queries.insert_request(
            conn,
            {
                "id": request_id,
                "service_code": service_code,
                "municipality_code": code,
                "routing": "cell",
                "locale": locale,
                "description": description,
                "lat": lat,
                "lon": lon,
            },
        )
        await queries.release_request(conn, request_id, admin.id if admin is not None else None)
