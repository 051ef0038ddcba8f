"""Console use cases over the domains' services: overview, compose checks, previews, audience, sending once."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Literal

import asyncpg
import msgspec
from babel import dates
from redis.asyncio import Redis

from care import service as care
from communities import service as communities
from communities.models import PostIn, Role
from communities.partners import service as partners
from communities.partners.models import KeyIn
from console.errors import AlreadySending
from console.models import (
    AdminView,
    AlertView,
    Check,
    Draft,
    MembersView,
    ModerationView,
    Overview,
    PartnerView,
    PendingSubmission,
    PostDraft,
    PostView,
    ProviderView,
    Sent,
    TextWarning,
)
from hub.auth import CurrentUser
from hub.errors import NotFound
from hub.settings import Settings
from i18n import N_, babel_locale
from i18n.content import Bilingual, localize
from i18n.formatting import format_date, reader_zone
from messaging import service as messaging
from messaging.models import Preview, Priority
from territory import service as municipalities

TITLE_MAX = 200
BODY_MAX = 4000
PRIORITIES: tuple[Priority, ...] = ("info", "important", "urgent")
#: how long a send key remembers the alert it created (a double click, a reload of the result page)
SEND_KEY_SECONDS = 24 * 3600

ERROR_NO_TEXT = N_("Write the title and the message in French, in German, or in both.")
ERROR_TITLE_TOO_LONG = N_("The title is too long.")
ERROR_BODY_TOO_LONG = N_("The message is too long.")
ERROR_BAD_PRIORITY = N_("Choose a priority.")
ERROR_BAD_REMINDER = N_("The reminder must come between 15 minutes and 48 hours after sending.")
ERROR_BAD_SCHEDULE = N_("The publication date or time cannot be read. Write them as shown above the fields.")
ERROR_SCHEDULE_PAST = N_("The publication time has already passed. Leave the fields empty to publish now.")
ERROR_SCHEDULE_FAR = N_("A post can be scheduled at most 365 days ahead.")
ERROR_URGENT_RESERVED = N_("Only the community's moderators and administrators may publish an urgent post.")
#: how far ahead a post may be scheduled from the console
SCHEDULE_MAX_DAYS = 365

WARNINGS: dict[tuple[str, str, str], str] = {
    ("title", "fr", "missing"): N_(
        "There is no French title: French-speaking readers will get the German one, marked as not translated."
    ),
    ("title", "de", "missing"): N_(
        "There is no German title: German-speaking readers will get the French one, marked as not translated."
    ),
    ("body", "fr", "missing"): N_(
        "There is no French message: French-speaking readers will get the German one, marked as not translated."
    ),
    ("body", "de", "missing"): N_(
        "There is no German message: German-speaking readers will get the French one, marked as not translated."
    ),
    ("title", "fr", "wrong_language"): N_("The French title seems to be written in German."),
    ("title", "de", "wrong_language"): N_("The German title seems to be written in French."),
    ("body", "fr", "wrong_language"): N_("The French message seems to be written in German."),
    ("body", "de", "wrong_language"): N_("The German message seems to be written in French."),
    ("body_simple", "fr", "wrong_language"): N_(
        "The easy-to-read French message seems to be written in German."
    ),
    ("body_simple", "de", "wrong_language"): N_(
        "The easy-to-read German message seems to be written in French."
    ),
}

# Frequent short words of each language: enough to tell a French text from a German one.
_FR_WORDS = frozenset(
    [
        "le",
        "la",
        "les",
        "du",
        "et",
        "est",
        "sont",
        "vous",
        "nous",
        "pour",
        "une",
        "un",
        "dans",
        "pas",
        "sur",
        "avec",
        "qui",
        "que",
        "il",
        "elle",
        "au",
        "aux",
        "ce",
        "cette",
        "votre",
        "vos",
        "merci",
        "chez",
        "très",
        "fait",
        "il",
        "y",
        "a",
        "boire",
        "restez",
        "ne",
    ]
)
_DE_WORDS = frozenset(
    [
        "der",
        "die",
        "das",
        "den",
        "dem",
        "und",
        "ist",
        "sind",
        "sie",
        "wir",
        "für",
        "ein",
        "eine",
        "einen",
        "nicht",
        "mit",
        "auf",
        "bei",
        "zu",
        "im",
        "ihr",
        "ihre",
        "bitte",
        "danke",
        "sehr",
        "viel",
        "trinken",
        "bleiben",
        "es",
        "zum",
        "zur",
    ]
)
_WORD = re.compile(r"[^\W\d_]+")


def guess_language(text: str) -> str | None:
    """'fr' or 'de' when the text clearly reads as one of them, None when it is too short to tell."""
    words = _WORD.findall(text.casefold())
    fr = sum(w in _FR_WORDS for w in words) + sum(c in "éèêàçôûœ" for c in text.casefold())
    de = sum(w in _DE_WORDS for w in words) + sum(c in "äöüß" for c in text.casefold())
    if fr >= 2 and fr > 2 * de:
        return "fr"
    if de >= 2 and de > 2 * fr:
        return "de"
    return None


def _text(form: Mapping[str, str], name: str) -> str | None:
    value = (form.get(name) or "").strip()
    return value or None


def read_texts(form: Mapping[str, str], *, simple: bool) -> tuple[Bilingual, Bilingual, list[str]]:
    """Title and message of both sides (with the easy-to-read variants of the message when ``simple``)."""
    errors: list[str] = []
    title = Bilingual(fr=_text(form, "title_fr"), de=_text(form, "title_de"))
    body = Bilingual(
        fr=_text(form, "body_fr"),
        de=_text(form, "body_de"),
        fr_simple=_text(form, "body_fr_simple") if simple else None,
        de_simple=_text(form, "body_de_simple") if simple else None,
    )
    if title.is_empty() or body.is_empty():
        errors.append(ERROR_NO_TEXT)
    if title.longest() > TITLE_MAX:
        errors.append(ERROR_TITLE_TOO_LONG)
    if body.longest() > BODY_MAX:
        errors.append(ERROR_BODY_TOO_LONG)
    return title, body, errors


def read_priority(form: Mapping[str, str], default: Priority) -> tuple[Priority, list[str]]:
    value = form.get("priority", default)
    for known in PRIORITIES:
        if value == known:
            return known, []
    return default, [ERROR_BAD_PRIORITY]


def read_draft(form: Mapping[str, str]) -> tuple[Draft, list[str]]:
    """The alert in a submitted compose form, and what keeps it from being sent."""
    title, body, errors = read_texts(form, simple=False)
    priority, wrong = read_priority(form, "important")
    errors += wrong
    try:
        remind = int(form.get("remind_after_minutes") or 120)
    except ValueError:
        remind = 0
    if not 15 <= remind <= 2880:
        errors.append(ERROR_BAD_REMINDER)
        remind = 120
    draft = Draft(
        title=title,
        body=body,
        priority=priority,
        ack_requested=form.get("ack_requested") == "on",
        remind_after_minutes=remind,
    )
    return draft, errors


def _alert_carry(draft: Draft) -> dict[str, str]:
    carry = {
        "title_fr": draft.title.fr or "",
        "title_de": draft.title.de or "",
        "body_fr": draft.body.fr or "",
        "body_de": draft.body.de or "",
        "priority": draft.priority,
        "remind_after_minutes": str(draft.remind_after_minutes),
    }
    if draft.ack_requested:
        carry["ack_requested"] = "on"
    return carry


def parse_local_time(day: str, time_of_day: str, locale: str) -> datetime | None:
    """A date and a time typed in the writer's language and local time (Babel's patterns), in UTC."""
    try:
        parsed_day = dates.parse_date(day, locale=babel_locale(locale))
        parsed_time = dates.parse_time(time_of_day, locale=babel_locale(locale))
    except (ValueError, IndexError):
        return None
    local = datetime.combine(parsed_day, parsed_time, tzinfo=reader_zone(locale))
    # a time that does not exist (the spring change) or exists twice (autumn) is read as the clock shows it
    return local.astimezone(UTC)


def date_pattern(locale: str) -> str:
    """How a date is typed in the writer's language (e.g. 30/11/2026 or 30.11.2026), as an example."""
    return format_date(date(2026, 11, 30), locale, "short")


def read_post_draft(form: Mapping[str, str], locale: str, now: datetime) -> tuple[PostDraft, list[str]]:
    """The community post in a submitted compose form, and what keeps it from being sent."""
    title, body, errors = read_texts(form, simple=True)
    priority, wrong = read_priority(form, "info")
    errors += wrong
    day, time_of_day = (form.get("publish_date") or "").strip(), (form.get("publish_time") or "").strip()
    publish_at: datetime | None = None
    if day or time_of_day:
        publish_at = parse_local_time(day, time_of_day or "00:00", locale) if day else None
        if publish_at is None:
            errors.append(ERROR_BAD_SCHEDULE)
        elif publish_at <= now:
            errors.append(ERROR_SCHEDULE_PAST)
            publish_at = None
        elif publish_at > now + timedelta(days=SCHEDULE_MAX_DAYS):
            errors.append(ERROR_SCHEDULE_FAR)
            publish_at = None
    draft = PostDraft(
        title=title,
        body=body,
        priority=priority,
        publish_at=publish_at,
        publish_date=day,
        publish_time=time_of_day,
    )
    return draft, errors


def _post_carry(draft: PostDraft) -> dict[str, str]:
    return {
        "title_fr": draft.title.fr or "",
        "title_de": draft.title.de or "",
        "body_fr": draft.body.fr or "",
        "body_de": draft.body.de or "",
        "body_fr_simple": draft.body.fr_simple or "",
        "body_de_simple": draft.body.de_simple or "",
        "priority": draft.priority,
        "publish_date": draft.publish_date,
        "publish_time": draft.publish_time,
    }


def text_warnings(draft: Draft | PostDraft) -> list[TextWarning]:
    """A side left empty (its readers get the other language, marked), or a text in the other language."""
    warnings: list[TextWarning] = []
    fields: tuple[tuple[str, Bilingual], ...] = (("title", draft.title), ("body", draft.body))
    for name, content in fields:
        for lang, value in (("fr", content.fr), ("de", content.de)):
            if not value:
                if not content.is_empty():
                    warnings.append(TextWarning(name, lang, "missing", WARNINGS[(name, lang, "missing")]))  # type: ignore[arg-type]
                continue
            guessed = guess_language(value)
            if guessed is not None and guessed != lang:
                warnings.append(
                    TextWarning(name, lang, "wrong_language", WARNINGS[(name, lang, "wrong_language")])  # type: ignore[arg-type]
                )
    for lang, value in (("fr", draft.body.fr_simple), ("de", draft.body.de_simple)):
        guessed = guess_language(value) if value else None
        if guessed is not None and guessed != lang:
            key = ("body_simple", lang, "wrong_language")
            warnings.append(TextWarning("body_simple", lang, "wrong_language", WARNINGS[key]))  # type: ignore[arg-type]
    return warnings


async def overview(conn: asyncpg.Connection, user: CurrentUser, locale: str) -> Overview:
    return Overview(
        providers=await care.staff_providers(conn, user),
        communities=await communities.moderated_communities(conn, user, locale),
        is_admin=user.is_admin,
        publishing=await communities.moderated_communities(conn, user, locale, role="publisher"),
    )


async def place_names(conn: asyncpg.Connection, codes: list[str], locale: str) -> dict[str, str]:
    """Municipality names in the reader's language (the official one where there is no translation)."""
    names: dict[str, str] = {}
    for m in await municipalities.by_codes(conn, [c for c in dict.fromkeys(codes) if c]):
        translated = getattr(m.name, locale, None) or m.name.fr or m.name.de
        names[m.code] = str(translated)
    return names


async def provider_view(conn: asyncpg.Connection, user: CurrentUser, provider_id: uuid.UUID) -> ProviderView:
    provider = await care.access_provider(conn, user, provider_id)
    alerts = await care.provider_alerts(conn, user, provider_id)
    clients = await care.alert_audience(conn, user, provider_id)
    return ProviderView(provider=provider, alerts=alerts, clients=len(clients))


def _previews(
    settings: Settings,
    title: Bilingual,
    body: Bilingual,
    sender_name: Bilingual,
    priority: Priority,
    deep_link: str,
    now: datetime,
) -> list[Preview]:
    """The push and the email in both languages, rendered by messaging's own code."""
    return [
        messaging.preview(
            lang,
            title=title,
            body=body,
            sender_name=sender_name,
            priority=priority,
            deep_link=deep_link,
            public_url=settings.public_url,
            sent_at=now,
        )
        for lang in ("fr", "de")
    ]


async def _check(
    conn: asyncpg.Connection,
    draft: Draft | PostDraft,
    errors: list[str],
    recipients: list[uuid.UUID],
    previews: Callable[[], list[Preview]],
    carry: dict[str, str],
    locale: str,
    now: datetime,
) -> Check:
    """Errors, warnings, previews (only for a draft without errors) and the audience now, by language and
    municipality; an urgent one passes quiet hours and is confirmed before it goes."""
    audience = await messaging.audience_preview(conn, recipients, priority=draft.priority, now=now)
    places = await place_names(conn, [c.key for c in audience.by_municipality], locale)
    return Check(
        draft=draft,
        errors=errors,
        warnings=text_warnings(draft),
        previews=[] if errors else previews(),
        audience=audience,
        places=places,
        needs_confirmation=draft.priority == "urgent",
        carry=carry,
    )


async def check_alert(
    conn: asyncpg.Connection,
    user: CurrentUser,
    settings: Settings,
    provider_id: uuid.UUID,
    form: Mapping[str, str],
    locale: str,
    now: datetime,
) -> Check:
    """The draft's errors and warnings, the push and email in both languages, and who would get it now."""
    provider = await care.access_provider(conn, user, provider_id)
    draft, errors = read_draft(form)
    recipients = await care.alert_audience(conn, user, provider_id)
    sender = Bilingual(fr=provider.name, de=provider.name)
    return await _check(
        conn,
        draft,
        errors,
        recipients,
        lambda: _previews(settings, draft.title, draft.body, sender, draft.priority, "/care/alerts/…", now),
        _alert_carry(draft),
        locale,
        now,
    )


async def check_post(
    conn: asyncpg.Connection,
    user: CurrentUser,
    settings: Settings,
    community_id: uuid.UUID,
    form: Mapping[str, str],
    locale: str,
    now: datetime,
) -> Check:
    """A community post checked as an alert is; its audience is counted at its publication time."""
    composer = await communities.access_composer(conn, user, community_id, locale)
    draft, errors = read_post_draft(form, locale, now)
    if draft.priority == "urgent" and not composer.may_post_urgent:
        errors.append(ERROR_URGENT_RESERVED)
    recipients = await communities.post_audience(conn, user, community_id)
    row = composer.name
    when = draft.publish_at or now
    link = f"/communities/{community_id}/posts/…"
    return await _check(
        conn,
        draft,
        errors,
        recipients,
        lambda: _previews(settings, draft.title, draft.body, row, draft.priority, link, when),
        _post_carry(draft),
        locale,
        when,
    )


async def _send_once(
    redis: Redis,
    settings: Settings,
    user: CurrentUser,
    send_key: str,
    create: Callable[[], Awaitable[uuid.UUID]],
) -> Sent:
    """Create once per compose form: a second submission of the same form (a double click, a reload)
    gets what the first one created instead of creating it again."""
    key = f"{settings.queue_name}:console:send:{user.id}:{send_key[:64]}"
    if not await redis.set(key, "pending", nx=True, ex=SEND_KEY_SECONDS):
        existing = await redis.get(key)
        value = existing.decode() if isinstance(existing, bytes) else str(existing)
        if value == "pending":
            raise AlreadySending()
        return Sent(id=uuid.UUID(value), replayed=True)
    try:
        created = await create()
    except BaseException:
        await redis.delete(key)
        raise
    await redis.set(key, str(created), ex=SEND_KEY_SECONDS)
    return Sent(id=created, replayed=False)


async def send_alert(
    conn: asyncpg.Connection,
    redis: Redis,
    settings: Settings,
    user: CurrentUser,
    provider_id: uuid.UUID,
    draft: Draft,
    send_key: str,
) -> Sent:
    """Send the alert once per compose form (see ``_send_once``)."""
    from care.models import AlertIn

    async def create() -> uuid.UUID:
        created = await care.send_alert(
            conn,
            user,
            provider_id,
            AlertIn(
                title=draft.title,
                body=draft.body,
                priority=draft.priority,
                ack_requested=draft.ack_requested,
                remind_after_minutes=draft.remind_after_minutes,
            ),
        )
        return created.id

    return await _send_once(redis, settings, user, send_key, create)


async def send_post(
    conn: asyncpg.Connection,
    redis: Redis,
    settings: Settings,
    user: CurrentUser,
    community_id: uuid.UUID,
    draft: PostDraft,
    send_key: str,
    locale: str,
) -> Sent:
    """Publish (or schedule) the post once per compose form, by the path the API's ``createPost`` takes."""

    async def create() -> uuid.UUID:
        data = PostIn(
            title=draft.title, body=draft.body, priority=draft.priority, publish_at=draft.publish_at
        )
        return (await communities.create_post(conn, user, community_id, data, locale)).id

    return await _send_once(redis, settings, user, send_key, create)


async def alert_view(
    conn: asyncpg.Connection, user: CurrentUser, alert_id: uuid.UUID, locale: str
) -> AlertView:
    report = await care.alert_report(conn, user, alert_id)
    provider = await care.access_provider(conn, user, report.provider_id)
    notification_id = await care.alert_notification(conn, user, alert_id)
    stats = await messaging.delivery_stats(conn, notification_id) if notification_id else None
    places = await place_names(conn, [r.key for r in report.by_municipality], locale)
    return AlertView(provider=provider, report=report, stats=stats, places=places)


async def post_view(conn: asyncpg.Connection, user: CurrentUser, post_id: uuid.UUID, locale: str) -> PostView:
    """A post's delivery counts, for its author and the community's moderators (others: NotFound)."""
    post, notification_id = await communities.post_notification(conn, user, post_id, locale)
    stats = await messaging.delivery_stats(conn, notification_id) if notification_id else None
    places = await place_names(conn, [c.key for c in stats.by_municipality] if stats else [], locale)
    return PostView(community_id=post.community_id, post=post, stats=stats, places=places)


def decode_form(raw: Mapping[str, object]) -> dict[str, str]:
    """Form fields as strings (the last value of a repeated field), whatever the parser gave."""
    out: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, list):
            value = value[-1] if value else ""
        out[str(key)] = value if isinstance(value, str) else msgspec.json.encode(value).decode()
    return out


async def moderation_view(
    conn: asyncpg.Connection, user: CurrentUser, settings: Settings, community_id: uuid.UUID, locale: str
) -> ModerationView:
    """A community's open reports and its partners' submissions waiting for a decision."""
    queue = await communities.report_queue(
        conn, user, community_id, secret=settings.secret_key, limit=100, cursor=None, lang=locale
    )
    community = await communities.get_community(conn, user, community_id, locale)
    pending = []
    for submission in (await partners.submissions(conn, user, community_id)).items:
        title = submission.payload.get("title")
        shown = title if isinstance(title, dict) else {}
        pending.append(
            PendingSubmission(
                id=submission.id,
                kind=submission.kind,
                partner_name=submission.partner_name,
                title=localize(locale, shown.get("fr"), shown.get("de")),
                created_at=submission.created_at,
            )
        )
    requests = await communities.members(
        conn, user, community_id, secret=settings.secret_key, status="pending", limit=100, cursor=None
    )
    return ModerationView(
        community=community, reports=queue.items, submissions=pending, join_requests=requests.items
    )


ROLES: tuple[Role, ...] = ("member", "publisher", "moderator", "admin")


async def members_view(
    conn: asyncpg.Connection,
    user: CurrentUser,
    settings: Settings,
    community_id: uuid.UUID,
    locale: str,
    cursor: str | None,
) -> MembersView:
    """The member list with roles and bans, for the community's administrators (others: NotFound)."""
    community = await communities.get_community(conn, user, community_id, locale)
    mine = community.membership
    if mine is None or mine.role != "admin" or mine.status != "active":
        raise NotFound()
    page = await communities.members(
        conn, user, community_id, secret=settings.secret_key, status=None, limit=100, cursor=cursor
    )
    shown = [m for m in page.items if m.status != "pending"]
    return MembersView(community=community, members=shown, next_cursor=page.next_cursor)


async def change_member(
    conn: asyncpg.Connection,
    user: CurrentUser,
    settings: Settings,
    community_id: uuid.UUID,
    member_id: uuid.UUID,
    action: str,
    role: str | None,
    locale: str,
) -> str:
    """Give a member another role, ban them or lift the ban; what was done, for the page's message."""
    from communities.models import MemberUpdate

    await members_view(conn, user, settings, community_id, locale, None)
    if action == "role":
        for known in ROLES:
            if role == known:
                await communities.update_member(conn, user, community_id, member_id, MemberUpdate(role=known))
                return "role"
        raise NotFound()
    if action in ("ban", "unban"):
        status: Literal["active", "banned"] = "banned" if action == "ban" else "active"
        await communities.update_member(conn, user, community_id, member_id, MemberUpdate(status=status))
        return "banned" if action == "ban" else "unbanned"
    raise NotFound()


async def answer_join_request(
    conn: asyncpg.Connection,
    user: CurrentUser,
    community_id: uuid.UUID,
    member_id: uuid.UUID,
    *,
    accept: bool,
) -> None:
    """Let someone in, or turn their request down (a moderator's decision, as in the app)."""
    from communities.models import MemberUpdate

    await communities.update_member(
        conn, user, community_id, member_id, MemberUpdate(status="active" if accept else "removed")
    )


async def admin_view(conn: asyncpg.Connection, user: CurrentUser) -> AdminView:
    """What hub admins look after: providers to verify, partner organisations."""
    return AdminView(
        providers=await care.providers_to_verify(conn, user),
        partners=await partners.list_partners(conn, user),
    )


async def partner_view(conn: asyncpg.Connection, user: CurrentUser, partner_id: uuid.UUID) -> PartnerView:
    partner = await partners.get_partner(conn, user, partner_id)
    return PartnerView(partner=partner, keys=await partners.list_keys(conn, user, partner_id))


ERROR_NO_SCOPE = N_("Choose what the key may do.")
ERROR_COMMUNITIES = N_("Give the identifier of at least one community, one per line.")


def read_key_form(form: Mapping[str, str]) -> tuple[KeyIn | None, list[str]]:
    """A key request from the form: scopes ticked, community identifiers one per line, a label."""
    errors: list[str] = []
    scopes = [s for s in ("events:write", "posts:write") if form.get(f"scope_{s.split(':')[0]}") == "on"]
    if not scopes:
        errors.append(ERROR_NO_SCOPE)
    ids: list[uuid.UUID] = []
    for line in re.split(r"[\s,;]+", form.get("community_ids", "")):
        if not line:
            continue
        try:
            ids.append(uuid.UUID(line))
        except ValueError:
            errors.append(ERROR_COMMUNITIES)
            break
    if not ids and ERROR_COMMUNITIES not in errors:
        errors.append(ERROR_COMMUNITIES)
    if errors:
        return None, errors
    return msgspec.convert(
        {"scopes": scopes, "community_ids": [str(i) for i in ids[:50]], "label": form.get("label", "")[:100]},
        KeyIn,
    ), []


#: how long a new key waits for the page that shows it once
SHOWN_KEY_SECONDS = 300


async def issue_key(
    conn: asyncpg.Connection,
    redis: Redis,
    settings: Settings,
    user: CurrentUser,
    partner_id: uuid.UUID,
    data: KeyIn,
) -> str:
    """Issue a key and keep it briefly for the one page that shows it; returns that page's token."""
    issued = await partners.issue_key(conn, user, partner_id, data)
    token = secrets.token_urlsafe(16)
    await redis.set(_shown_key(settings, user, token), issued.key, ex=SHOWN_KEY_SECONDS)
    return token


async def take_issued_key(redis: Redis, settings: Settings, user: CurrentUser, token: str) -> str | None:
    """The new key, the first time its page asks for it; None afterwards."""
    value = await redis.getdel(_shown_key(settings, user, token[:64]))
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _shown_key(settings: Settings, user: CurrentUser, token: str) -> str:
    return f"{settings.queue_name}:console:new-key:{user.id}:{token}"
