"""SQL of communities, memberships, posts and reports; every function takes the connection first."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from communities.models import (
    CommunityRow,
    Member,
    Membership,
    Post,
    PostRow,
    QueuedReportRow,
    Report,
    StoredPost,
)
from hub.db import update_set
from i18n.content import Bilingual, localize

# -- communities -----------------------------------------------------------------------------------------

_COMMUNITY_COLUMNS = """
    c.id, c.name_fr, c.name_de, c.description_fr, c.description_de, c.kind, c.visibility, c.join_policy,
    c.created_at,
    ARRAY(SELECT cm.municipality_code FROM community_municipalities cm
          WHERE cm.community_id = c.id ORDER BY cm.municipality_code) AS municipality_codes,
    (SELECT count(*) FROM memberships a WHERE a.community_id = c.id AND a.status = 'active') AS member_count,
    m.role, m.status
"""


def _community(row: asyncpg.Record) -> CommunityRow:
    return CommunityRow(
        id=row["id"],
        name=Bilingual(fr=row["name_fr"], de=row["name_de"]),
        description=Bilingual(fr=row["description_fr"], de=row["description_de"]),
        kind=row["kind"],
        visibility=row["visibility"],
        join_policy=row["join_policy"],
        municipality_codes=list(row["municipality_codes"]),
        member_count=row["member_count"],
        created_at=row["created_at"],
        role=row["role"],
        status=row["status"],
    )


async def insert_community(
    conn: asyncpg.Connection,
    *,
    name: Bilingual,
    description: Bilingual,
    kind: str,
    visibility: str,
    join_policy: str,
    search_key: str,
    created_by: uuid.UUID | None,
) -> uuid.UUID:
    return await conn.fetchval(  # type: ignore[no-any-return]
        """
        INSERT INTO communities (name_fr, name_de, description_fr, description_de, kind, visibility,
                                 join_policy, search_key, created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id
        """,
        name.fr,
        name.de,
        description.fr,
        description.de,
        kind,
        visibility,
        join_policy,
        search_key,
        created_by,
    )


_COMMUNITIES_UPDATABLE = frozenset(
    {
        "name_fr",
        "name_de",
        "description_fr",
        "description_de",
        "kind",
        "visibility",
        "join_policy",
        "search_key",
    }
)


async def update_community(
    conn: asyncpg.Connection, community_id: uuid.UUID, changes: dict[str, Any]
) -> None:
    sql, values = update_set("communities", _COMMUNITIES_UPDATABLE, changes)
    await conn.execute(sql, community_id, *values)


async def set_municipalities(conn: asyncpg.Connection, community_id: uuid.UUID, codes: list[str]) -> None:
    await conn.execute("DELETE FROM community_municipalities WHERE community_id = $1", community_id)
    await conn.execute(
        "INSERT INTO community_municipalities (community_id, municipality_code) "
        "SELECT $1, code FROM unnest($2::text[]) AS code ON CONFLICT DO NOTHING",
        community_id,
        codes,
    )


async def community_for(
    conn: asyncpg.Connection, community_id: uuid.UUID, user_id: uuid.UUID | None
) -> CommunityRow | None:
    """The community with ``user_id``'s membership (role and status are null for non-members)."""
    row = await conn.fetchrow(
        f"""
        SELECT {_COMMUNITY_COLUMNS}
        FROM communities c LEFT JOIN memberships m ON m.community_id = c.id AND m.user_id = $2
        WHERE c.id = $1
        """,
        community_id,
        user_id,
    )
    return _community(row) if row else None


async def discover(
    conn: asyncpg.Connection,
    *,
    user_id: uuid.UUID | None,
    municipality: str | None,
    words: list[str] | None,
    kind: str | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[CommunityRow]:
    """Public communities and private ones the user belongs to (or asked to join), newest first.

    ``words`` are folded search words (letters, digits): each must occur in the search key.
    """
    rows = await conn.fetch(
        f"""
        SELECT {_COMMUNITY_COLUMNS}
        FROM communities c LEFT JOIN memberships m ON m.community_id = c.id AND m.user_id = $1
        WHERE (c.visibility = 'public' OR m.status IN ('active', 'pending'))
          AND ($2::text IS NULL OR EXISTS (
                SELECT 1 FROM community_municipalities cm
                WHERE cm.community_id = c.id AND cm.municipality_code = $2))
          AND ($3::text[] IS NULL OR c.search_key LIKE ALL ($3::text[]))
          AND ($4::text IS NULL OR c.kind = $4)
          AND ($5::timestamptz IS NULL OR (c.created_at, c.id) < ($5, $6::uuid))
        ORDER BY c.created_at DESC, c.id DESC
        LIMIT $7
        """,
        user_id,
        municipality,
        [f"%{w}%" for w in words] if words else None,
        kind,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_community(r) for r in rows]


async def any_community(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM communities)"))


# -- memberships -----------------------------------------------------------------------------------------


def _membership(row: asyncpg.Record) -> Membership:
    return Membership(
        community_id=row["community_id"],
        user_id=row["user_id"],
        role=row["role"],
        status=row["status"],
        joined_at=row["joined_at"],
    )


async def insert_membership(
    conn: asyncpg.Connection, community_id: uuid.UUID, user_id: uuid.UUID, *, role: str, status: str
) -> Membership:
    """The new membership, or the existing one unchanged (joining twice changes nothing)."""
    row = await conn.fetchrow(
        """
        INSERT INTO memberships (community_id, user_id, role, status) VALUES ($1, $2, $3, $4)
        ON CONFLICT (community_id, user_id) DO NOTHING
        RETURNING community_id, user_id, role, status, joined_at
        """,
        community_id,
        user_id,
        role,
        status,
    )
    if row is None:
        row = await conn.fetchrow(
            "SELECT community_id, user_id, role, status, joined_at FROM memberships "
            "WHERE community_id = $1 AND user_id = $2",
            community_id,
            user_id,
        )
    assert row is not None
    return _membership(row)


async def membership_for_update(
    conn: asyncpg.Connection, community_id: uuid.UUID, user_id: uuid.UUID
) -> Membership | None:
    row = await conn.fetchrow(
        "SELECT community_id, user_id, role, status, joined_at FROM memberships "
        "WHERE community_id = $1 AND user_id = $2 FOR UPDATE",
        community_id,
        user_id,
    )
    return _membership(row) if row else None


async def lock_admins(conn: asyncpg.Connection, community_id: uuid.UUID) -> int:
    """The number of active admins, with their rows locked so two admins cannot both step down at once."""
    rows = await conn.fetch(
        "SELECT user_id FROM memberships WHERE community_id = $1 AND role = 'admin' AND status = 'active' "
        "FOR UPDATE",
        community_id,
    )
    return len(rows)


async def update_membership(
    conn: asyncpg.Connection, community_id: uuid.UUID, user_id: uuid.UUID, *, role: str, status: str
) -> Membership:
    row = await conn.fetchrow(
        """
        UPDATE memberships SET role = $3, status = $4, updated_at = now()
        WHERE community_id = $1 AND user_id = $2
        RETURNING community_id, user_id, role, status, joined_at
        """,
        community_id,
        user_id,
        role,
        status,
    )
    assert row is not None
    return _membership(row)


async def delete_membership(conn: asyncpg.Connection, community_id: uuid.UUID, user_id: uuid.UUID) -> None:
    await conn.execute(
        "DELETE FROM memberships WHERE community_id = $1 AND user_id = $2", community_id, user_id
    )


async def members(
    conn: asyncpg.Connection,
    community_id: uuid.UUID,
    *,
    status: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[Member]:
    rows = await conn.fetch(
        """
        SELECT m.user_id, u.display_name, m.role, m.status, m.joined_at
        FROM memberships m JOIN users u ON u.id = m.user_id
        WHERE m.community_id = $1 AND ($2::text IS NULL OR m.status = $2)
          AND ($3::uuid IS NULL OR m.user_id > $3)
        ORDER BY m.user_id
        LIMIT $4
        """,
        community_id,
        status,
        after,
        limit,
    )
    return [Member(**dict(r)) for r in rows]


async def active_member_ids(conn: asyncpg.Connection, community_id: uuid.UUID) -> list[uuid.UUID]:
    """Everyone a post of the community is notified to (its audience, as messaging reads it)."""
    rows = await conn.fetch(
        "SELECT user_id FROM community_audience WHERE community_id = $1 ORDER BY user_id", community_id
    )
    return [r["user_id"] for r in rows]


async def memberships_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[Membership]:
    rows = await conn.fetch(
        "SELECT community_id, user_id, role, status, joined_at FROM memberships WHERE user_id = $1 "
        "ORDER BY joined_at",
        user_id,
    )
    return [_membership(r) for r in rows]


async def delete_memberships_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM memberships WHERE user_id = $1", user_id)


# -- posts -----------------------------------------------------------------------------------------------

_POST_COLUMNS = """
    p.id, p.community_id, c.name_fr AS community_name_fr, c.name_de AS community_name_de, p.author_id,
    u.display_name AS author_name, p.title_fr, p.title_de, p.body_fr, p.body_de, p.body_fr_simple,
    p.body_de_simple, p.priority, p.publish_at, p.published_at, p.expires_at, p.hidden_at IS NOT NULL AS hidden,
    p.created_at, p.updated_at
"""
#: lists show only visible posts (``_VISIBLE``), so they need no ``hidden`` column; ``_listed`` reads this order
_LISTED_COLUMNS = """
    p.id, p.community_id, c.name_fr, c.name_de, p.author_id, u.display_name, p.title_fr, p.title_de, p.body_fr,
    p.body_de, p.body_fr_simple, p.body_de_simple, p.priority, p.publish_at, p.published_at, p.expires_at,
    p.created_at, p.updated_at
"""


def _post(row: asyncpg.Record) -> PostRow:
    return PostRow(
        id=row["id"],
        community_id=row["community_id"],
        community_name=Bilingual(fr=row["community_name_fr"], de=row["community_name_de"]),
        author_id=row["author_id"],
        author_name=row["author_name"],
        title=Bilingual(fr=row["title_fr"], de=row["title_de"]),
        body=Bilingual(
            fr=row["body_fr"],
            de=row["body_de"],
            fr_simple=row["body_fr_simple"],
            de_simple=row["body_de_simple"],
        ),
        priority=row["priority"],
        publish_at=row["publish_at"],
        published_at=row["published_at"],
        expires_at=row["expires_at"],
        hidden=row["hidden"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _listed(row: asyncpg.Record, lang: str) -> Post:
    """A visible post of a list, rendered for the reader straight from its row (lists render every row)."""
    (
        id_,
        community_id,
        name_fr,
        name_de,
        author_id,
        author_name,
        title_fr,
        title_de,
        body_fr,
        body_de,
        body_fr_simple,
        body_de_simple,
        priority,
        publish_at,
        published_at,
        expires_at,
        created_at,
        updated_at,
    ) = row
    return Post(
        id=id_,
        community_id=community_id,
        community_name=localize(lang, name_fr, name_de),
        author_id=author_id,
        author_name=author_name,
        title=localize(lang, title_fr, title_de),
        body=localize(lang, body_fr, body_de, body_fr_simple, body_de_simple),
        priority=priority,
        publish_at=publish_at,
        published_at=published_at,
        expires_at=expires_at,
        hidden=False,
        created_at=created_at,
        updated_at=updated_at,
    )


async def insert_post(
    conn: asyncpg.Connection,
    *,
    community_id: uuid.UUID,
    author_id: uuid.UUID | None,
    title: Bilingual,
    body: Bilingual,
    priority: str,
    publish_at: datetime | None,
    expires_at: datetime | None,
    publish_now: bool,
) -> uuid.UUID:
    # clock_timestamp(), not now(): the order of publication, not of transaction start, drives the feeds
    return await conn.fetchval(  # type: ignore[no-any-return]
        """
        INSERT INTO posts (community_id, author_id, title_fr, title_de, body_fr, body_de, body_fr_simple,
                           body_de_simple, priority, publish_at, expires_at, published_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, CASE WHEN $12 THEN clock_timestamp() END)
        RETURNING id
        """,
        community_id,
        author_id,
        title.fr,
        title.de,
        body.fr,
        body.de,
        body.fr_simple,
        body.de_simple,
        priority,
        publish_at,
        expires_at,
        publish_now,
    )


async def post_by_id(conn: asyncpg.Connection, post_id: uuid.UUID) -> PostRow | None:
    row = await conn.fetchrow(
        f"""
        SELECT {_POST_COLUMNS}
        FROM posts p JOIN communities c ON c.id = p.community_id LEFT JOIN users u ON u.id = p.author_id
        WHERE p.id = $1
        """,
        post_id,
    )
    return _post(row) if row else None


_POSTS_UPDATABLE = frozenset(
    {
        "title_fr",
        "title_de",
        "body_fr",
        "body_de",
        "body_fr_simple",
        "body_de_simple",
        "priority",
        "publish_at",
        "expires_at",
    }
)


async def update_post(conn: asyncpg.Connection, post_id: uuid.UUID, changes: dict[str, Any]) -> None:
    sql, values = update_set("posts", _POSTS_UPDATABLE, changes)
    await conn.execute(sql, post_id, *values)


async def delete_post(conn: asyncpg.Connection, post_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM posts WHERE id = $1", post_id)


async def set_hidden(conn: asyncpg.Connection, post_id: uuid.UUID, hidden_by: uuid.UUID | None) -> None:
    """Hide (``hidden_by`` set) or restore (None) a post, resolving its open reports either way."""
    await conn.execute(
        "UPDATE posts SET hidden_at = CASE WHEN $2::uuid IS NULL THEN NULL ELSE now() END, hidden_by = $2, "
        "updated_at = now() WHERE id = $1",
        post_id,
        hidden_by,
    )


_VISIBLE = (
    "p.published_at IS NOT NULL AND p.hidden_at IS NULL AND (p.expires_at IS NULL OR p.expires_at > now())"
)


async def community_posts(
    conn: asyncpg.Connection,
    community_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
    lang: str,
) -> list[Post]:
    """Published, unhidden, unexpired posts of one community, newest first, in the reader's language."""
    keyset = "AND (p.published_at, p.id) < ($3, $4)" if after else ""
    args: list[Any] = [community_id, limit, *(after or ())]
    rows = await conn.fetch(
        f"""
        SELECT {_LISTED_COLUMNS}
        FROM posts p JOIN communities c ON c.id = p.community_id LEFT JOIN users u ON u.id = p.author_id
        WHERE p.community_id = $1 AND {_VISIBLE} {keyset}
        ORDER BY p.published_at DESC, p.id DESC
        LIMIT $2
        """,
        *args,
    )
    return [_listed(r, lang) for r in rows]


async def feed(
    conn: asyncpg.Connection,
    user_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
    lang: str,
) -> list[Post]:
    """The newest posts across a member's communities, in the reader's language.

    Each community's top ``limit`` (LATERAL over ``posts_feed_idx``), merged.
    """
    keyset = "AND (p.published_at, p.id) < ($3, $4)" if after else ""
    args: list[Any] = [user_id, limit, *(after or ())]
    rows = await conn.fetch(
        f"""
        SELECT {_LISTED_COLUMNS}
        FROM (
            SELECT top.id FROM memberships m
            CROSS JOIN LATERAL (
                SELECT p.id, p.published_at FROM posts p
                WHERE p.community_id = m.community_id AND {_VISIBLE} {keyset}
                ORDER BY p.published_at DESC, p.id DESC
                LIMIT $2
            ) top
            WHERE m.user_id = $1 AND m.status = 'active'
            ORDER BY top.published_at DESC, top.id DESC
            LIMIT $2
        ) f
        JOIN posts p ON p.id = f.id
        JOIN communities c ON c.id = p.community_id
        LEFT JOIN users u ON u.id = p.author_id
        ORDER BY p.published_at DESC, p.id DESC
        """,
        *args,
    )
    return [_listed(r, lang) for r in rows]


async def claim_due_posts(conn: asyncpg.Connection, limit: int) -> list[uuid.UUID]:
    """Mark due scheduled posts published and return them; a post is claimed by exactly one caller."""
    rows = await conn.fetch(
        """
        UPDATE posts SET published_at = clock_timestamp()
        WHERE id IN (
            SELECT id FROM posts
            WHERE published_at IS NULL AND publish_at <= now() AND hidden_at IS NULL
            ORDER BY publish_at
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        ) AND published_at IS NULL
        RETURNING id
        """,
        limit,
    )
    return [r["id"] for r in rows]


async def posts_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[StoredPost]:
    rows = await conn.fetch(
        "SELECT id, community_id, title_fr, title_de, body_fr, body_de, body_fr_simple, body_de_simple, "
        "priority, published_at, created_at FROM posts WHERE author_id = $1 ORDER BY created_at",
        user_id,
    )
    return [
        StoredPost(
            id=r["id"],
            community_id=r["community_id"],
            title=Bilingual(fr=r["title_fr"], de=r["title_de"]),
            body=Bilingual(
                fr=r["body_fr"], de=r["body_de"], fr_simple=r["body_fr_simple"], de_simple=r["body_de_simple"]
            ),
            priority=r["priority"],
            published_at=r["published_at"],
            created_at=r["created_at"],
        )
        for r in rows
    ]


async def detach_author(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute("UPDATE posts SET author_id = NULL WHERE author_id = $1", user_id)
    await conn.execute("UPDATE posts SET hidden_by = NULL WHERE hidden_by = $1", user_id)


# -- reports ---------------------------------------------------------------------------------------------


async def insert_report(
    conn: asyncpg.Connection, post_id: uuid.UUID, reporter_id: uuid.UUID, reason: str
) -> Report:
    """The report, or the reporter's earlier one on the same post (reopened if it had been resolved)."""
    row = await conn.fetchrow(
        """
        INSERT INTO post_reports (post_id, reporter_id, reason) VALUES ($1, $2, $3)
        ON CONFLICT (post_id, reporter_id)
        DO UPDATE SET reason = EXCLUDED.reason, resolved_at = NULL, resolved_by = NULL
        RETURNING id, post_id, reason, created_at
        """,
        post_id,
        reporter_id,
        reason,
    )
    assert row is not None
    return Report(**dict(row))


async def resolve_reports(conn: asyncpg.Connection, post_id: uuid.UUID, moderator_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE post_reports SET resolved_at = now(), resolved_by = $2 WHERE post_id = $1 AND resolved_at IS NULL",
        post_id,
        moderator_id,
    )


async def open_reports(
    conn: asyncpg.Connection,
    community_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[QueuedReportRow]:
    """Unresolved reports on a community's posts, oldest first (the queue is worked from the front)."""
    rows = await conn.fetch(
        """
        SELECT r.id, r.post_id, p.title_fr, p.title_de, p.hidden_at IS NOT NULL AS post_hidden, r.reporter_id,
               r.reason, r.created_at
        FROM post_reports r JOIN posts p ON p.id = r.post_id
        WHERE p.community_id = $1 AND r.resolved_at IS NULL
          AND ($2::timestamptz IS NULL OR (r.created_at, r.id) > ($2, $3::uuid))
        ORDER BY r.created_at, r.id
        LIMIT $4
        """,
        community_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [
        QueuedReportRow(
            id=r["id"],
            post_id=r["post_id"],
            post_title=Bilingual(fr=r["title_fr"], de=r["title_de"]),
            post_hidden=r["post_hidden"],
            reporter_id=r["reporter_id"],
            reason=r["reason"],
            created_at=r["created_at"],
        )
        for r in rows
    ]


async def reports_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[Report]:
    rows = await conn.fetch(
        "SELECT id, post_id, reason, created_at FROM post_reports WHERE reporter_id = $1 ORDER BY created_at",
        user_id,
    )
    return [Report(**dict(r)) for r in rows]


async def delete_reports_of(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM post_reports WHERE reporter_id = $1", user_id)


# -- demo data -------------------------------------------------------------------------------------------


async def ensure_user(
    conn: asyncpg.Connection,
    *,
    email: str,
    password_hash: str,
    display_name: str,
    locale: str,
    municipality: str,
    time_zone: str,
) -> uuid.UUID:
    """A demo account by email (its address proven: it is the hub's own), created if missing."""
    existing = await conn.fetchval("SELECT id FROM users WHERE lower(email) = lower($1)", email)
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    return await conn.fetchval(  # type: ignore[no-any-return]
        "INSERT INTO users (email, password_hash, display_name, locale, municipality_code, time_zone, "
        "email_verified_at) VALUES ($1, $2, $3, $4, $5, $6, now()) RETURNING id",
        email,
        password_hash,
        display_name,
        locale,
        municipality,
        time_zone,
    )


async def backdate_post(conn: asyncpg.Connection, post_id: uuid.UUID, published_at: datetime) -> None:
    await conn.execute(
        "UPDATE posts SET published_at = $2, created_at = $2 WHERE id = $1", post_id, published_at
    )
