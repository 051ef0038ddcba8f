"""Demo data for `hub dev`: cross-border communities with bilingual posts and a demo admin (idempotent)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from communities import queries, service
from communities.models import CommunityIn, PostIn
from hub.auth import CurrentUser, hash_password
from i18n.content import Bilingual
from territory import service as territory

#: sign in to the dev server with these to administer the demo communities
DEMO_EMAIL = "demo-admin@hub.localhost"
DEMO_PASSWORD = "demo-bitche-2026"  # noqa: S105 - a local demo account, created only by `hub dev`

_COMMUNITIES: list[tuple[CommunityIn, list[tuple[int, PostIn]]]] = [
    (
        CommunityIn(
            name=Bilingual(
                fr="Chorale transfrontalière Bitche–Zweibrücken",
                de="Grenzüberschreitender Chor Bitsch–Zweibrücken",
            ),
            description=Bilingual(
                fr="Nous chantons en français et en allemand, répétitions en alternance des deux côtés.",
                de="Wir singen auf Französisch und Deutsch und proben abwechselnd auf beiden Seiten.",
            ),
            municipality_codes=["57089", "07320000", "10045114"],
            kind="choir",
        ),
        [
            (
                50,
                PostIn(
                    title=Bilingual(fr="Répétition mardi à Bitche", de="Probe am Dienstag in Bitsch"),
                    body=Bilingual(
                        fr="Salle des fêtes, 19 h 30. Covoiturage depuis Zweibrücken à 18 h 45.",
                        de="Festsaal, 19:30 Uhr. Fahrgemeinschaft ab Zweibrücken um 18:45 Uhr.",
                        fr_simple="Mardi soir, on chante à Bitche.",
                        de_simple="Am Dienstag-Abend singen wir in Bitsch.",
                    ),
                ),
            ),
            (
                5,
                PostIn(
                    title=Bilingual(de="Konzert in der Homburger Stadtkirche"),
                    body=Bilingual(
                        de="Am 14. Dezember singen wir um 17 Uhr in Homburg. Bitte schwarze Kleidung mitbringen."
                    ),
                    priority="important",
                ),
            ),
        ],
    ),
    (
        CommunityIn(
            name=Bilingual(
                fr="Aînés du Pays de Bitche et de la Saarpfalz", de="Senioren Bitscherland und Saarpfalz"
            ),
            description=Bilingual(
                fr="Rencontres, sorties et entraide entre aînés des deux côtés de la frontière.",
                de="Treffen, Ausflüge und Nachbarschaftshilfe für Ältere diesseits und jenseits der Grenze.",
            ),
            municipality_codes=["57089", "57589", "57456", "10045112", "10045114"],
            kind="seniors",
        ),
        [
            (
                30,
                PostIn(
                    title=Bilingual(fr="Après-midi jeux à Blieskastel", de="Spielenachmittag in Blieskastel"),
                    body=Bilingual(
                        fr="Jeudi de 14 h à 17 h, café et gâteaux offerts. Un minibus part de Rohrbach à 13 h.",
                        de="Donnerstag 14 bis 17 Uhr, Kaffee und Kuchen gratis. Ein Kleinbus fährt um 13 Uhr ab Rohrbach.",
                    ),
                ),
            ),
            (
                2,
                PostIn(
                    title=Bilingual(fr="Alerte canicule", de="Hitzewarnung"),
                    body=Bilingual(
                        fr="Buvez régulièrement et prenez des nouvelles de vos voisins âgés.",
                        de="Trinken Sie regelmäßig und schauen Sie nach Ihren älteren Nachbarn.",
                    ),
                    priority="urgent",
                ),
            ),
        ],
    ),
    (
        CommunityIn(
            name=Bilingual(fr="Agenda Sarreguemines–Sarrebruck", de="Veranstaltungen Saargemünd–Saarbrücken"),
            description=Bilingual(fr="Marchés, concerts et fêtes de part et d’autre de la Sarre."),
            municipality_codes=["57631", "10041100"],
            kind="events",
        ),
        [
            (
                12,
                PostIn(
                    title=Bilingual(fr="Marché de Noël", de="Weihnachtsmarkt"),
                    body=Bilingual(
                        fr="Ouverture vendredi à Sarreguemines, navette gratuite depuis la gare de Sarrebruck.",
                        de="Eröffnung am Freitag in Saargemünd, kostenloser Shuttle ab Saarbrücken Hbf.",
                    ),
                ),
            )
        ],
    ),
]


async def seed(conn: asyncpg.Connection) -> None:
    """Create the demo admin, communities and posts, unless any community exists already."""
    if await queries.any_community(conn):
        return
    admin_id = await queries.ensure_user(
        conn,
        email=DEMO_EMAIL,
        password_hash=await hash_password(DEMO_PASSWORD),
        display_name="Démo Admin",
        locale="fr",
        municipality="57089",
        time_zone=await territory.time_zone_of(conn, "57089"),
    )
    admin = CurrentUser(
        id=admin_id,
        session_id=uuid.uuid4(),
        email=DEMO_EMAIL,
        display_name="Démo Admin",
        locale="fr",
        is_admin=False,
    )
    now = datetime.now(UTC)
    for community_in, posts in _COMMUNITIES:
        community = await service.create_community(conn, admin, community_in, "fr")
        for hours_ago, post_in in posts:
            post = await service.create_post(conn, admin, community.id, post_in, "fr")
            await queries.backdate_post(conn, post.id, now - timedelta(hours=hours_ago))
