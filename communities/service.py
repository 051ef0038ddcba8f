"""Community use cases: discovery, membership and roles, posts and feeds, moderation, publication."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

import asyncpg
import msgspec

from communities import queries
from communities.errors import (
    REASON_ALREADY_PUBLISHED,
    REASON_EXPIRES_BEFORE_PUBLISH,
    LastAdmin,
    NotAllowed,
    UrgentNotAllowed,
)
from communities.models import (
    Community,
    CommunityIn,
    CommunityPage,
    CommunityPatch,
    CommunityRow,
    Composer,
    MemberPage,
    Membership,
    MemberUpdate,
    MyMembership,
    PersonData,
    Post,
    PostIn,
    PostPage,
    PostPatch,
    PostRow,
    QueuedReport,
    Report,
    ReportIn,
    ReportPage,
)
from hub.auth import CurrentUser
from hub.domain import UserData
from hub.errors import REASON_BAD_CURSOR, InvalidField, NotFound, checked_text
from hub.pagination import decode_cursor, encode_cursor
from i18n.content import Bilingual, fold, pick
from messaging import service as messaging
from messaging.models import Audience
from territory import service as municipalities

Need = Literal["view", "read", "join", "member", "publish", "moderate", "admin"]
PostNeed = Literal["read", "report", "edit", "moderate"]

NAME_MAX = 120
DESCRIPTION_MAX = 2000
TITLE_MAX = 200
BODY_MAX = 10_000
PUBLISH_BATCH = 100

_RANK = {"member": 0, "publisher": 1, "moderator": 2, "admin": 3}
_NEED_RANK = {"member": 0, "publish": 1, "moderate": 2, "admin": 3}
_Position = tuple[datetime, uuid.UUID]


class Access(msgspec.Struct, frozen=True):
    """What the caller may do in a community: the community and their own membership, if any."""

    community: CommunityRow
    user_id: uuid.UUID | None

    @property
    def active_rank(self) -> int:
        c = self.community
        return _RANK[c.role] if c.role is not None and c.status == "active" else -1


# -- access ----------------------------------------------------------------------------------------------


async def access_community(
    conn: asyncpg.Connection, user: CurrentUser | None, community_id: uuid.UUID, need: Need = "view"
) -> Access:
    """The community if the caller may ``need`` it; NotFound when they may not even know it exists.

    Private communities exist only for their members and those who asked to join; a ban makes a private
    community disappear and leaves a public one readable but closed. Holding a private community's id is
    an invitation: it lets a signed-in person ask to join.
    """
    user_id = user.id if user else None
    community = await queries.community_for(conn, community_id, user_id)
    if community is None:
        raise NotFound()
    access = Access(community=community, user_id=user_id)
    public = community.visibility == "public"
    status = community.status
    if status == "banned":
        if not public:
            raise NotFound()
        if need in ("view", "read"):
            return access
        raise NotAllowed()
    visible = public or status in ("active", "pending")
    if need == "join":
        return access
    if not visible:
        raise NotFound()
    if need == "view":
        return access
    if need == "read":
        if public or status == "active":
            return access
        raise NotAllowed()
    if access.active_rank >= _NEED_RANK[need]:
        return access
    raise NotAllowed()


async def access_post(
    conn: asyncpg.Connection, user: CurrentUser | None, post_id: uuid.UUID, need: PostNeed = "read"
) -> tuple[Access, PostRow]:
    """The post if the caller may ``need`` it; NotFound when they may not read it.

    Hidden, scheduled and expired posts are readable only by their author and the community's moderators.
    """
    post = await queries.post_by_id(conn, post_id)
    if post is None:
        raise NotFound()
    try:
        access = await access_community(conn, user, post.community_id, "read")
    except NotAllowed:
        raise NotFound() from None
    is_author = user is not None and post.author_id == user.id and access.active_rank >= 0
    is_moderator = access.active_rank >= _RANK["moderator"]
    live = (
        post.published_at is not None
        and not post.hidden
        and (post.expires_at is None or post.expires_at > datetime.now(UTC))
    )
    if not live and not (is_author or is_moderator):
        raise NotFound()
    if need == "read":
        return access, post
    if access.community.status == "banned" or user is None:
        raise NotFound()
    if need == "report":
        return access, post
    if need == "edit" and (is_author or is_moderator):
        return access, post
    if need == "moderate" and is_moderator:
        return access, post
    raise NotAllowed()


# -- text checks -----------------------------------------------------------------------------------------


def _plain(content: Bilingual) -> Bilingual:
    """Names, descriptions and titles have no easy-to-read variants."""
    return Bilingual(fr=content.fr, de=content.de)


def _search_key(name: Bilingual, description: Bilingual) -> str:
    return fold(" ".join(t for t in (name.fr, name.de, description.fr, description.de) if t))


async def _check_codes(conn: asyncpg.Connection, codes: list[str]) -> list[str]:
    unique = list(dict.fromkeys(codes))
    await municipalities.check_known(conn, unique)
    return unique


# -- communities -----------------------------------------------------------------------------------------


def _community_out(row: CommunityRow, lang: str) -> Community:
    description = None if row.description.is_empty() else pick(row.description, lang)
    membership = MyMembership(role=row.role, status=row.status) if row.role and row.status else None
    return Community(
        id=row.id,
        name=pick(row.name, lang),
        description=description,
        kind=row.kind,
        visibility=row.visibility,
        join_policy=row.join_policy,
        municipality_codes=row.municipality_codes,
        member_count=row.member_count,
        created_at=row.created_at,
        membership=membership,
    )


async def create_community(
    conn: asyncpg.Connection, user: CurrentUser, data: CommunityIn, lang: str
) -> Community:
    """A new community; its creator is its first admin."""
    name = _plain(checked_text("name", data.name, NAME_MAX))
    description = _plain(checked_text("description", data.description, DESCRIPTION_MAX, required=False))
    codes = await _check_codes(conn, data.municipality_codes)
    community_id = await queries.insert_community(
        conn,
        name=name,
        description=description,
        kind=data.kind,
        visibility=data.visibility,
        join_policy=data.join_policy,
        search_key=_search_key(name, description),
        created_by=user.id,
    )
    await queries.set_municipalities(conn, community_id, codes)
    await queries.insert_membership(conn, community_id, user.id, role="admin", status="active")
    return await get_community(conn, user, community_id, lang)


async def get_community(
    conn: asyncpg.Connection, user: CurrentUser | None, community_id: uuid.UUID, lang: str
) -> Community:
    access = await access_community(conn, user, community_id, "view")
    return _community_out(access.community, lang)


async def update_community(
    conn: asyncpg.Connection, user: CurrentUser, community_id: uuid.UUID, data: CommunityPatch, lang: str
) -> Community:
    access = await access_community(conn, user, community_id, "admin")
    current = access.community
    name = (
        current.name
        if isinstance(data.name, msgspec.UnsetType)
        else _plain(checked_text("name", data.name, NAME_MAX))
    )
    description = (
        current.description
        if isinstance(data.description, msgspec.UnsetType)
        else _plain(checked_text("description", data.description, DESCRIPTION_MAX, required=False))
    )
    changes: dict[str, object] = {
        "name_fr": name.fr,
        "name_de": name.de,
        "description_fr": description.fr,
        "description_de": description.de,
        "search_key": _search_key(name, description),
    }
    for field in ("visibility", "join_policy", "kind"):
        value = getattr(data, field)
        if not isinstance(value, msgspec.UnsetType):
            changes[field] = value
    if not isinstance(data.municipality_codes, msgspec.UnsetType):
        codes = await _check_codes(conn, data.municipality_codes)
        await queries.set_municipalities(conn, community_id, codes)
    await queries.update_community(conn, community_id, changes)
    return await get_community(conn, user, community_id, lang)


async def discover(
    conn: asyncpg.Connection,
    user: CurrentUser | None,
    *,
    secret: str,
    municipality: str | None,
    q: str | None,
    kind: str | None,
    limit: int,
    cursor: str | None,
    lang: str,
) -> CommunityPage:
    after = _position(secret, "communities", cursor)
    words = fold(q).split() if q else None
    rows = await queries.discover(
        conn,
        user_id=user.id if user else None,
        municipality=municipality,
        words=words or None,
        kind=kind,
        after=after,
        limit=limit + 1,
    )
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(secret, ["communities", last.created_at, last.id])
    return CommunityPage(items=[_community_out(r, lang) for r in rows[:limit]], next_cursor=next_cursor)


def _position(secret: str, scope: str, cursor: str | None) -> _Position | None:
    """A cursor's (time, id) position; cursors of another listing are refused like tampered ones."""
    if not cursor:
        return None
    kind_, at, ident = decode_cursor(secret, cursor, tuple[str, datetime, uuid.UUID])
    if kind_ != scope:
        raise InvalidField("cursor", REASON_BAD_CURSOR)
    return at, ident


# -- membership ------------------------------------------------------------------------------------------


async def join(conn: asyncpg.Connection, user: CurrentUser, community_id: uuid.UUID) -> Membership:
    """Join: active at once where the policy is open, else pending approval. Joining twice changes nothing."""
    access = await access_community(conn, user, community_id, "join")
    status = "active" if access.community.join_policy == "open" else "pending"
    return await queries.insert_membership(conn, community_id, user.id, role="member", status=status)


async def _ensure_admin_remains(
    conn: asyncpg.Connection,
    community_id: uuid.UUID,
    before: Membership,
    *,
    role: str | None,
    status: str | None,
) -> None:
    """Refuse a change that would leave the community without an active admin."""
    if before.role != "admin" or before.status != "active":
        return
    if role == "admin" and status == "active":
        return
    if await queries.lock_admins(conn, community_id) <= 1:
        raise LastAdmin()


async def leave(conn: asyncpg.Connection, user: CurrentUser, community_id: uuid.UUID) -> None:
    """Leave, or withdraw a request to join; the last admin must hand over first. A ban cannot be left."""
    access = await access_community(conn, user, community_id, "view")
    if access.community.status not in ("active", "pending"):
        raise NotFound()
    current = await queries.membership_for_update(conn, community_id, user.id)
    if current is None:
        raise NotFound()
    await _ensure_admin_remains(conn, community_id, current, role=None, status=None)
    await queries.delete_membership(conn, community_id, user.id)


async def members(
    conn: asyncpg.Connection,
    user: CurrentUser,
    community_id: uuid.UUID,
    *,
    secret: str,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> MemberPage:
    await access_community(conn, user, community_id, "moderate")
    after = decode_cursor(secret, cursor, uuid.UUID) if cursor else None
    rows = await queries.members(conn, community_id, status=status, after=after, limit=limit + 1)
    next_cursor = encode_cursor(secret, rows[limit - 1].user_id) if len(rows) > limit else None
    return MemberPage(items=rows[:limit], next_cursor=next_cursor)


async def update_member(
    conn: asyncpg.Connection,
    user: CurrentUser,
    community_id: uuid.UUID,
    member_id: uuid.UUID,
    data: MemberUpdate,
) -> Membership | None:
    """Approve, reject, ban or change a role; None when the membership was removed.

    Moderators approve, reject and ban members and publishers; only admins change roles or act on
    moderators and admins.
    """
    access = await access_community(conn, user, community_id, "moderate")
    current = await queries.membership_for_update(conn, community_id, member_id)
    if current is None:
        raise NotFound()
    is_admin = access.active_rank >= _RANK["admin"]
    changes_role = not isinstance(data.role, msgspec.UnsetType) and data.role != current.role
    if not is_admin and (changes_role or _RANK[current.role] >= _RANK["moderator"]):
        raise NotAllowed()
    role = current.role if isinstance(data.role, msgspec.UnsetType) else data.role
    wanted = current.status if isinstance(data.status, msgspec.UnsetType) else data.status
    if wanted == "removed":
        await _ensure_admin_remains(conn, community_id, current, role=None, status=None)
        await queries.delete_membership(conn, community_id, member_id)
        return None
    await _ensure_admin_remains(conn, community_id, current, role=role, status=wanted)
    return await queries.update_membership(conn, community_id, member_id, role=role, status=wanted)


# -- posts -----------------------------------------------------------------------------------------------


def _post_out(row: PostRow, lang: str) -> Post:
    # lists are rendered by queries._listed, straight from their rows: the two must agree
    return Post(
        id=row.id,
        community_id=row.community_id,
        community_name=pick(row.community_name, lang),
        author_id=row.author_id,
        author_name=row.author_name,
        title=pick(row.title, lang),
        body=pick(row.body, lang),
        priority=row.priority,
        publish_at=row.publish_at,
        published_at=row.published_at,
        expires_at=row.expires_at,
        hidden=row.hidden,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _notify_published(conn: asyncpg.Connection, post: PostRow) -> None:
    """Hand a just-published post to delivery, in the transaction that publishes it."""
    exclude = (post.author_id,) if post.author_id else ()
    await messaging.notify(
        conn,
        kind="post",
        source_id=post.id,
        community_id=post.community_id,
        audience=Audience(community_id=post.community_id, exclude_user_ids=exclude),
        title=post.title,
        body=post.body,
        priority=post.priority,
        sender_id=post.author_id,
        sender_name=post.community_name,
        deep_link=f"/communities/{post.community_id}/posts/{post.id}",
    )


def _check_times(publish_at: datetime | None, expires_at: datetime | None) -> None:
    start = publish_at or datetime.now(UTC)
    if expires_at is not None and expires_at <= start:
        raise InvalidField("expires_at", REASON_EXPIRES_BEFORE_PUBLISH)


async def _new_post(
    conn: asyncpg.Connection, community_id: uuid.UUID, author_id: uuid.UUID | None, data: PostIn, lang: str
) -> Post:
    """Check and store a post; published now (and notified in the same transaction) or at ``publish_at``."""
    title = _plain(checked_text("title", data.title, TITLE_MAX))
    body = checked_text("body", data.body, BODY_MAX)
    _check_times(data.publish_at, data.expires_at)
    now = data.publish_at is None or data.publish_at <= datetime.now(UTC)
    post_id = await queries.insert_post(
        conn,
        community_id=community_id,
        author_id=author_id,
        title=title,
        body=body,
        priority=data.priority,
        publish_at=data.publish_at,
        expires_at=data.expires_at,
        publish_now=now,
    )
    post = await queries.post_by_id(conn, post_id)
    assert post is not None
    if now:
        await _notify_published(conn, post)
    return _post_out(post, lang)


async def create_post(
    conn: asyncpg.Connection, user: CurrentUser, community_id: uuid.UUID, data: PostIn, lang: str
) -> Post:
    """Publish now (and notify the community), or schedule for ``publish_at``."""
    access = await access_community(conn, user, community_id, "publish")
    if data.priority == "urgent" and access.active_rank < _RANK["moderator"]:
        raise UrgentNotAllowed()
    return await _new_post(conn, community_id, user.id, data, lang)


async def access_composer(
    conn: asyncpg.Connection, user: CurrentUser, community_id: uuid.UUID, lang: str
) -> Composer:
    """The community if the caller may publish in it (else NotFound), and whether they may post urgent."""
    try:
        access = await access_community(conn, user, community_id, "publish")
    except NotAllowed:
        raise NotFound() from None
    return Composer(
        community=_community_out(access.community, lang),
        name=access.community.name,
        may_post_urgent=access.active_rank >= _RANK["moderator"],
    )


async def post_audience(
    conn: asyncpg.Connection, user: CurrentUser, community_id: uuid.UUID
) -> list[uuid.UUID]:
    """Who a post of the caller would be notified to now: the active members but the author."""
    await access_composer(conn, user, community_id, "fr")
    return [m for m in await queries.active_member_ids(conn, community_id) if m != user.id]


async def post_notification(
    conn: asyncpg.Connection, user: CurrentUser, post_id: uuid.UUID, lang: str
) -> tuple[Post, uuid.UUID | None]:
    """A post and the notification that carried it (none while it is scheduled), for its author and
    the community's moderators; anyone else gets NotFound."""
    try:
        _, post = await access_post(conn, user, post_id, "edit")
    except NotAllowed:
        raise NotFound() from None
    return _post_out(post, lang), await messaging.notification_of(conn, "post", post_id)


async def get_post(conn: asyncpg.Connection, user: CurrentUser | None, post_id: uuid.UUID, lang: str) -> Post:
    _, post = await access_post(conn, user, post_id, "read")
    return _post_out(post, lang)


async def update_post(
    conn: asyncpg.Connection, user: CurrentUser, post_id: uuid.UUID, data: PostPatch, lang: str
) -> Post:
    """Authors and moderators correct a post; a published post is not notified again."""
    access, post = await access_post(conn, user, post_id, "edit")
    changes: dict[str, object] = {}
    if not isinstance(data.title, msgspec.UnsetType):
        title = _plain(checked_text("title", data.title, TITLE_MAX))
        changes.update(title_fr=title.fr, title_de=title.de)
    if not isinstance(data.body, msgspec.UnsetType):
        body = checked_text("body", data.body, BODY_MAX)
        changes.update(
            body_fr=body.fr, body_de=body.de, body_fr_simple=body.fr_simple, body_de_simple=body.de_simple
        )
    if not isinstance(data.priority, msgspec.UnsetType):
        if (
            data.priority == "urgent"
            and post.priority != "urgent"
            and access.active_rank < _RANK["moderator"]
        ):
            raise UrgentNotAllowed()
        changes["priority"] = data.priority
    publish_at = post.publish_at
    if not isinstance(data.publish_at, msgspec.UnsetType):
        if post.published_at is not None:
            raise InvalidField("publish_at", REASON_ALREADY_PUBLISHED)
        publish_at = data.publish_at
        changes["publish_at"] = publish_at
    expires_at = post.expires_at
    if not isinstance(data.expires_at, msgspec.UnsetType):
        expires_at = data.expires_at
        changes["expires_at"] = expires_at
    if "publish_at" in changes or "expires_at" in changes:
        _check_times(post.published_at or publish_at, expires_at)
    if changes:
        await queries.update_post(conn, post_id, changes)
    return await get_post(conn, user, post_id, lang)


async def delete_post(conn: asyncpg.Connection, user: CurrentUser, post_id: uuid.UUID) -> None:
    await access_post(conn, user, post_id, "edit")
    await queries.delete_post(conn, post_id)


async def community_posts(
    conn: asyncpg.Connection,
    user: CurrentUser | None,
    community_id: uuid.UUID,
    *,
    secret: str,
    limit: int,
    cursor: str | None,
    lang: str,
) -> PostPage:
    await access_community(conn, user, community_id, "read")
    after = _position(secret, "posts", cursor)
    rows = await queries.community_posts(conn, community_id, after=after, limit=limit + 1, lang=lang)
    return _post_page(secret, rows, limit)


async def feed(
    conn: asyncpg.Connection, user: CurrentUser, *, secret: str, limit: int, cursor: str | None, lang: str
) -> PostPage:
    """Posts of all my active memberships, newest first."""
    after = _position(secret, "posts", cursor)
    rows = await queries.feed(conn, user.id, after=after, limit=limit + 1, lang=lang)
    return _post_page(secret, rows, limit)


def _post_page(secret: str, rows: list[Post], limit: int) -> PostPage:
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        assert last.published_at is not None
        next_cursor = encode_cursor(secret, ["posts", last.published_at, last.id])
    return PostPage(items=rows[:limit], next_cursor=next_cursor)


async def publish_due(conn: asyncpg.Connection, limit: int = PUBLISH_BATCH) -> int:
    """Publish scheduled posts whose time has come, each with its notification; the number published.

    Concurrent callers never claim the same post (rows are locked and skipped), so a post is notified once.
    """
    claimed = await queries.claim_due_posts(conn, limit)
    for post_id in claimed:
        post = await queries.post_by_id(conn, post_id)
        assert post is not None
        await _notify_published(conn, post)
    return len(claimed)


# -- moderation ------------------------------------------------------------------------------------------


async def report_post(
    conn: asyncpg.Connection, user: CurrentUser, post_id: uuid.UUID, data: ReportIn
) -> Report:
    await access_post(conn, user, post_id, "report")
    return await queries.insert_report(conn, post_id, user.id, data.reason.strip())


async def set_hidden(
    conn: asyncpg.Connection, user: CurrentUser, post_id: uuid.UUID, *, hidden: bool, lang: str
) -> Post:
    """Hide a post from every feed, or restore it; either way its open reports are settled."""
    await access_post(conn, user, post_id, "moderate")
    await queries.set_hidden(conn, post_id, user.id if hidden else None)
    await queries.resolve_reports(conn, post_id, user.id)
    return await get_post(conn, user, post_id, lang)


async def moderated_communities(
    conn: asyncpg.Connection,
    user: CurrentUser,
    lang: str,
    *,
    role: Literal["moderator", "publisher"] = "moderator",
) -> list[Community]:
    """The communities the person moderates or administers (an active membership), by name; with
    ``role="publisher"``, those where they publish without moderating."""
    found = []
    for membership in await queries.memberships_of(conn, user.id):
        rank = _RANK[membership.role]
        wanted = rank >= _RANK["moderator"] if role == "moderator" else membership.role == "publisher"
        if membership.status == "active" and wanted:
            need: Need = "moderate" if role == "moderator" else "publish"
            access = await access_community(conn, user, membership.community_id, need)
            found.append(_community_out(access.community, lang))
    return sorted(found, key=lambda c: c.name.text.casefold())


async def report_queue(
    conn: asyncpg.Connection,
    user: CurrentUser,
    community_id: uuid.UUID,
    *,
    secret: str,
    limit: int,
    cursor: str | None,
    lang: str,
) -> ReportPage:
    await access_community(conn, user, community_id, "moderate")
    after = _position(secret, "reports", cursor)
    rows = await queries.open_reports(conn, community_id, after=after, limit=limit + 1)
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(secret, ["reports", last.created_at, last.id])
    items = [
        QueuedReport(
            id=r.id,
            post_id=r.post_id,
            post_title=pick(r.post_title, lang),
            post_hidden=r.post_hidden,
            reporter_id=r.reporter_id,
            reason=r.reason,
            created_at=r.created_at,
        )
        for r in rows[:limit]
    ]
    return ReportPage(items=items, next_cursor=next_cursor)


# -- GDPR ------------------------------------------------------------------------------------------------


async def export_person(conn: asyncpg.Connection, user_id: uuid.UUID) -> PersonData:
    return PersonData(
        memberships=await queries.memberships_of(conn, user_id),
        posts=await queries.posts_of(conn, user_id),
        reports=await queries.reports_of(conn, user_id),
    )


async def erase_person(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Delete the person's memberships and reports; keep their posts, detached from them.

    A post is published in the community's name (that is how it was notified) and other members rely on
    it: a choir's rehearsal plan or a village notice should not vanish because its writer left. What ties
    it to the person is the author link, and that is removed; anyone who also wants the text gone deletes
    their posts first (DELETE /v1/posts/{id}), which export lets them list.
    """
    await queries.delete_reports_of(conn, user_id)
    await queries.delete_memberships_of(conn, user_id)
    await queries.detach_author(conn, user_id)


USER_DATA = UserData("communities", export_person, erase_person)


# -- partner publications (called by communities.partners once a partner key has been checked) -----------


async def community_for_partner(conn: asyncpg.Connection, community_id: uuid.UUID) -> Access:
    """A community a partner key names, whatever its visibility (the key was issued for it by a hub admin)."""
    community = await queries.community_for(conn, community_id, None)
    if community is None:
        raise NotFound()
    return Access(community=community, user_id=None)


async def publish_partner_post(
    conn: asyncpg.Connection, community_id: uuid.UUID, data: PostIn, lang: str
) -> Post:
    """A post in the community's name on behalf of a partner: no author, never urgent; published now (and
    notified like any post) or scheduled for ``publish_at``."""
    if data.priority == "urgent":
        raise UrgentNotAllowed()
    return await _new_post(conn, community_id, None, data, lang)
