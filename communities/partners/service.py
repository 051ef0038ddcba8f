"""Partner use cases: organisations and scoped keys (hub admins), publishing with a key, approval, audit."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

import asyncpg
import msgspec

from communities import service as communities
from communities.events import service as events
from communities.events.models import EventIn
from communities.models import PostIn
from communities.partners import queries
from communities.partners.errors import (
    REASON_EXPIRY_PAST,
    REASON_EXPIRY_TOO_FAR,
    HubAdminOnly,
    InvalidPartnerKey,
    OutOfReach,
)
from communities.partners.models import (
    AuditEntry,
    IssuedKey,
    KeyIn,
    KeyInfo,
    Partner,
    PartnerEventIn,
    PartnerEventResult,
    PartnerIn,
    PartnerKey,
    PartnerPostIn,
    PartnerPostResult,
    PartnerSettings,
    PartnerSettingsIn,
    Submission,
    SubmissionPage,
)
from hub.auth import CurrentUser
from hub.errors import REASON_EMPTY_TEXT, InvalidField, NotFound, checked_text
from hub.logs import get_logger
from hub.throttle import Failures
from i18n.content import Bilingual

log = get_logger("communities.partners")

KEY_PREFIX = "hubp_"
DEFAULT_KEY_DAYS = 365
MAX_KEY_DAYS = 730
QUEUE_LIMIT = 100
AUDIT_LIMIT = 200


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


# -- hub administration ----------------------------------------------------------------------------------


def _admin(user: CurrentUser) -> None:
    if not user.is_admin:
        raise HubAdminOnly()


async def _partner(conn: asyncpg.Connection, user: CurrentUser, partner_id: uuid.UUID) -> Partner:
    _admin(user)
    partner = await queries.partner_by_id(conn, partner_id)
    if partner is None:
        raise NotFound()
    return partner


async def create_partner(conn: asyncpg.Connection, user: CurrentUser, data: PartnerIn) -> Partner:
    """Hub admins register a partner organisation."""
    _admin(user)
    name = data.name.strip()
    if not name:
        raise InvalidField("name", REASON_EMPTY_TEXT)
    partner = await queries.insert_partner(
        conn, name=name, kind=data.kind, language=data.language, created_by=user.id
    )
    await queries.audit(conn, partner_id=partner.id, action="partner.create", actor_user_id=user.id)
    return partner


async def list_partners(conn: asyncpg.Connection, user: CurrentUser) -> list[Partner]:
    """Every partner organisation, by name, for hub admins."""
    _admin(user)
    return await queries.partners(conn)


async def get_partner(conn: asyncpg.Connection, user: CurrentUser, partner_id: uuid.UUID) -> Partner:
    return await _partner(conn, user, partner_id)


async def issue_key(
    conn: asyncpg.Connection, user: CurrentUser, partner_id: uuid.UUID, data: KeyIn
) -> IssuedKey:
    """A new key limited to named communities and scopes, until it expires; shown once, kept hashed."""
    await _partner(conn, user, partner_id)
    now = datetime.now(UTC)
    expires_at = data.expires_at or now + timedelta(days=DEFAULT_KEY_DAYS)
    if expires_at <= now:
        raise InvalidField("expires_at", REASON_EXPIRY_PAST)
    if expires_at > now + timedelta(days=MAX_KEY_DAYS):
        raise InvalidField("expires_at", REASON_EXPIRY_TOO_FAR, days=MAX_KEY_DAYS)
    community_ids = list(dict.fromkeys(data.community_ids))
    for community_id in community_ids:
        await communities.community_for_partner(conn, community_id)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    info = await queries.insert_key(
        conn,
        partner_id=partner_id,
        label=data.label.strip(),
        prefix=secret[:12],
        secret_hash=_hash(secret),
        scopes=sorted(set(data.scopes)),
        community_ids=community_ids,
        expires_at=expires_at,
    )
    await queries.audit(
        conn,
        partner_id=partner_id,
        key_id=info.id,
        actor_user_id=user.id,
        action="key.issue",
        detail={"scopes": info.scopes, "communities": [str(c) for c in community_ids]},
    )
    return IssuedKey(key=secret, info=info)


async def list_keys(conn: asyncpg.Connection, user: CurrentUser, partner_id: uuid.UUID) -> list[KeyInfo]:
    await _partner(conn, user, partner_id)
    return await queries.keys_of(conn, partner_id)


async def revoke_key(
    conn: asyncpg.Connection, user: CurrentUser, partner_id: uuid.UUID, key_id: uuid.UUID
) -> None:
    await _partner(conn, user, partner_id)
    if not await queries.revoke_key(conn, partner_id, key_id):
        raise NotFound()
    await queries.audit(
        conn, partner_id=partner_id, key_id=key_id, actor_user_id=user.id, action="key.revoke"
    )


async def audit_log(conn: asyncpg.Connection, user: CurrentUser, partner_id: uuid.UUID) -> list[AuditEntry]:
    """The partner's latest actions, newest first."""
    await _partner(conn, user, partner_id)
    return await queries.audit_of(conn, partner_id, AUDIT_LIMIT)


# -- publishing with a key -------------------------------------------------------------------------------


async def authenticate(
    conn: asyncpg.Connection,
    authorization: str | None,
    failures: Failures | None = None,
    address: str = "",
) -> PartnerKey:
    """The live key of an ``Authorization: Bearer hubp_…`` header; 401 for anything else, and 429 for an
    address that presented too many wrong keys (``failures`` counts them)."""
    if failures is not None:
        await failures.check(address)
    scheme, _, secret = (authorization or "").partition(" ")
    secret = secret.strip()
    key = None
    malformed = scheme.lower() != "bearer" or not secret.startswith(KEY_PREFIX) or len(secret) > 200
    if not malformed:
        key = await queries.live_key(conn, _hash(secret))
    if key is None:
        log.info("partner key refused", reason="malformed" if malformed else "unknown_or_revoked")
        if failures is not None:
            await failures.failed(address)
        raise InvalidPartnerKey()
    log.info("partner key used", partner_id=str(key.partner_id), key_id=str(key.id))
    return key


async def _reach(
    conn: asyncpg.Connection, key: PartnerKey, community_id: uuid.UUID, scope: str, action: str
) -> communities.Access:
    """The community if the key may ``scope`` there. Outside its communities or scopes the answer is 404,
    as for anything not one's own, and the attempt is kept in the audit log."""
    if community_id not in key.community_ids or scope not in key.scopes:
        await queries.audit(
            conn,
            partner_id=key.partner_id,
            key_id=key.id,
            action=f"{action}.denied",
            community_id=community_id,
            detail={"scope": scope},
        )
        log.info("partner key out of reach", key_id=str(key.id), action=action, scope=scope)
        raise OutOfReach()
    return await communities.community_for_partner(conn, community_id)


def _sender(key_or_name: PartnerKey | str) -> Bilingual:
    name = key_or_name.partner_name if isinstance(key_or_name, PartnerKey) else key_or_name
    return Bilingual(fr=name, de=name)


def _event_in(data: PartnerEventIn) -> EventIn:
    return EventIn(**{f: getattr(data, f) for f in EventIn.__struct_fields__})


def _post_in(data: PartnerPostIn) -> PostIn:
    return PostIn(
        title=data.title,
        body=data.body,
        priority=data.priority,
        publish_at=data.publish_at,
        expires_at=data.expires_at,
    )


async def _submit(
    conn: asyncpg.Connection,
    key: PartnerKey,
    community_id: uuid.UUID,
    kind: Literal["event", "post"],
    payload: bytes,
) -> uuid.UUID:
    submission_id = await queries.insert_submission(
        conn,
        partner_id=key.partner_id,
        key_id=key.id,
        community_id=community_id,
        kind=kind,
        payload=payload.decode(),
    )
    await queries.audit(
        conn,
        partner_id=key.partner_id,
        key_id=key.id,
        action=f"{kind}.submit",
        community_id=community_id,
        object_id=submission_id,
    )
    return submission_id


async def partner_event(
    conn: asyncpg.Connection, key: PartnerKey, data: PartnerEventIn, lang: str
) -> PartnerEventResult:
    """Publish an event (members are told), or queue it where the community approves partner content."""
    access = await _reach(conn, key, data.community_id, "events:write", "event")
    event_in = _event_in(data)
    await events.validated(conn, event_in)
    if await queries.requires_approval(conn, data.community_id):
        submission_id = await _submit(conn, key, data.community_id, "event", msgspec.json.encode(data))
        return PartnerEventResult(status="pending", submission_id=submission_id)
    event = await events.publish_event(
        conn, access, event_in, lang, partner_id=key.partner_id, sender_name=_sender(key)
    )
    await queries.audit(
        conn,
        partner_id=key.partner_id,
        key_id=key.id,
        action="event.publish",
        community_id=data.community_id,
        object_id=event.id,
    )
    return PartnerEventResult(status="published", event=event)


async def partner_post(
    conn: asyncpg.Connection, key: PartnerKey, data: PartnerPostIn, lang: str
) -> PartnerPostResult:
    """Publish a post in the community's name (members are told), or queue it for approval."""
    await _reach(conn, key, data.community_id, "posts:write", "post")
    checked_text("title", data.title)
    checked_text("body", data.body)
    if await queries.requires_approval(conn, data.community_id):
        submission_id = await _submit(conn, key, data.community_id, "post", msgspec.json.encode(data))
        return PartnerPostResult(status="pending", submission_id=submission_id)
    post = await communities.publish_partner_post(conn, data.community_id, _post_in(data), lang)
    await queries.audit(
        conn,
        partner_id=key.partner_id,
        key_id=key.id,
        action="post.publish",
        community_id=data.community_id,
        object_id=post.id,
    )
    return PartnerPostResult(status="published", post=post)


# -- community side: settings and approval ---------------------------------------------------------------


async def get_settings(
    conn: asyncpg.Connection, user: CurrentUser, community_id: uuid.UUID
) -> PartnerSettings:
    await communities.access_community(conn, user, community_id, "moderate")
    return PartnerSettings(community_id, await queries.requires_approval(conn, community_id))


async def set_settings(
    conn: asyncpg.Connection, user: CurrentUser, community_id: uuid.UUID, data: PartnerSettingsIn
) -> PartnerSettings:
    """Admins decide whether partner events and posts wait for a moderator's approval."""
    await communities.access_community(conn, user, community_id, "admin")
    await queries.set_requires_approval(conn, community_id, data.require_approval)
    return PartnerSettings(community_id, data.require_approval)


async def submissions(conn: asyncpg.Connection, user: CurrentUser, community_id: uuid.UUID) -> SubmissionPage:
    """The community's partner submissions waiting for a decision, oldest first."""
    await communities.access_community(conn, user, community_id, "moderate")
    return SubmissionPage(items=await queries.pending_submissions(conn, community_id, QUEUE_LIMIT))


async def decide(
    conn: asyncpg.Connection,
    user: CurrentUser,
    community_id: uuid.UUID,
    submission_id: uuid.UUID,
    *,
    approve: bool,
    lang: str,
) -> Submission:
    """Approve (publish now, with its notification) or reject a pending submission; deciding twice is 404."""
    access = await communities.access_community(conn, user, community_id, "moderate")
    found = await queries.lock_submission(conn, community_id, submission_id)
    if found is None or found[0].status != "pending":
        raise NotFound()
    submission, key_id = found
    result_id: uuid.UUID | None = None
    if approve:
        raw = json.dumps(submission.payload).encode()
        partner = _sender(submission.partner_name)
        if submission.kind == "event":
            data = msgspec.json.decode(raw, type=PartnerEventIn)
            event = await events.publish_event(
                conn, access, _event_in(data), lang, partner_id=submission.partner_id, sender_name=partner
            )
            result_id = event.id
        else:
            post_data = msgspec.json.decode(raw, type=PartnerPostIn)
            post = await communities.publish_partner_post(conn, community_id, _post_in(post_data), lang)
            result_id = post.id
    status = "approved" if approve else "rejected"
    await queries.decide_submission(
        conn, submission_id, status=status, decided_by=user.id, result_id=result_id
    )
    await queries.audit(
        conn,
        partner_id=submission.partner_id,
        key_id=key_id,
        actor_user_id=user.id,
        action=f"{submission.kind}.{'approve' if approve else 'reject'}",
        community_id=community_id,
        object_id=result_id or submission_id,
    )
    found = await queries.lock_submission(conn, community_id, submission_id)
    assert found is not None
    return found[0]
