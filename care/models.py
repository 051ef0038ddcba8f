"""Care requests and responses: providers, directory, alerts, circles, consent, check-ins, events."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Annotated, Literal

import msgspec

from i18n.content import Bilingual, Localized
from territory.models import MunicipalityCode

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
LanguageCode = Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2,3}$")]
LocaleCode = Literal["fr", "de", "en"]
ProviderKind = Literal[
    "home_care", "meals_on_wheels", "transport", "emergency_call", "day_care", "nursing", "other"
]
Priority = Literal["info", "important", "urgent"]
Role = Literal["family", "neighbour", "friend", "provider"]
Zone = Literal["Europe/Paris", "Europe/Berlin"]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
TextVersion = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class Contact(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    phone: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    email: Email | None = None
    website: Annotated[str, msgspec.Meta(max_length=300, pattern=r"^https?://")] | None = None


class ProviderIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kind: ProviderKind
    name: ShortText
    description: Bilingual
    languages: Annotated[list[LanguageCode], msgspec.Meta(min_length=1, max_length=10)]
    municipality_codes: Annotated[list[MunicipalityCode], msgspec.Meta(min_length=1, max_length=500)]
    contact: Contact = Contact()


class Provider(msgspec.Struct, frozen=True):
    """A provider as its staff and hub admins see it."""

    id: uuid.UUID
    kind: str
    name: str
    description: Bilingual
    languages: list[str]
    municipality_codes: list[str]
    contact: Contact
    verified: bool
    created_at: datetime


class Service(msgspec.Struct, frozen=True):
    """A verified provider in the directory, described in the reader's language (or marked fallback)."""

    provider_id: uuid.UUID
    kind: str
    name: str
    description: Localized
    languages: list[str]
    municipality_codes: list[str]
    contact: Contact


class ServicePage(msgspec.Struct, frozen=True):
    items: list[Service]
    next_cursor: str | None = None


class StaffIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email


class ConsentIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The consent text the person was shown: its version and the language it was shown in."""

    text_version: TextVersion
    locale: LocaleCode


class ClientRegistration(msgspec.Struct, frozen=True):
    provider_id: uuid.UUID
    consented_at: datetime
    withdrawn_at: datetime | None
    #: "requested" until the provider's staff approve it (alerts reach approved clients only); "approved"
    #: at once when the staff invited the person
    status: Literal["requested", "invited", "approved", "declined"] = "approved"


class ClientOut(msgspec.Struct, frozen=True):
    """A client (or a request to be one) as the provider's staff see it."""

    user_id: uuid.UUID
    display_name: str
    status: str
    consented_at: datetime
    decided_at: datetime | None


class ClientList(msgspec.Struct, frozen=True):
    items: list[ClientOut]


class AlertIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    title: Bilingual
    body: Bilingual
    priority: Priority = "important"
    ack_requested: bool = False
    #: when recipients who have not acknowledged get their one reminder
    remind_after_minutes: Annotated[int, msgspec.Meta(ge=15, le=2880)] = 120


class AlertCreated(msgspec.Struct, frozen=True):
    id: uuid.UUID
    recipients: int
    created_at: datetime


class Person(msgspec.Struct, frozen=True):
    user_id: uuid.UUID
    display_name: str


class Rate(msgspec.Struct, frozen=True):
    key: str
    recipients: int
    acknowledged: int
    rate: float


class AlertReport(msgspec.Struct, frozen=True):
    id: uuid.UUID
    provider_id: uuid.UUID
    priority: str
    ack_requested: bool
    created_at: datetime
    reminded_at: datetime | None
    recipients: int
    acknowledged: int
    by_language: list[Rate]
    by_municipality: list[Rate]
    not_acknowledged: list[Person]


class Acknowledged(msgspec.Struct, frozen=True):
    alert_id: uuid.UUID
    acknowledged_at: datetime


class CircleIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    consent: ConsentIn


ConsentMethod = Literal["in_person", "phone", "paper"]
CaregiverRole = Literal["family", "neighbour", "friend"]


class ObtainedConsentIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A senior's consent as the person setting up their circle obtained it: how, and the consent text the
    senior was shown (its version and the language it was shown in)."""

    method: ConsentMethod
    text_version: TextVersion
    locale: LocaleCode


class ProxyCircleIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Setting up the circle of a senior who has an account, with their consent; the person doing it joins
    the circle as a caregiver (``role``), with their own consent (``my_consent``)."""

    senior_email: Email
    my_consent: ConsentIn
    #: how the person asking says they obtained the senior's agreement; kept with the request, but the
    #: circle waits for the senior's own yes (or their verified provider's record of it) all the same
    senior_consent: ObtainedConsentIn | None = None
    role: CaregiverRole = "family"


class SetUpRequested(msgspec.Struct, frozen=True):
    """The answer to a set-up request, the same whether or not the address has an account: the senior is
    asked, and nothing is shared or set until they say yes."""

    status: Literal["requested"]
    requested_at: datetime


class SetupRequest(msgspec.Struct, frozen=True):
    """A request to set up the senior's circle, as the senior sees it."""

    id: uuid.UUID
    requested_by: Person
    requested_at: datetime
    #: "pending" (the senior was asked), "not_possible" (the senior already has or had a circle),
    #: "limited" (too many requests: nothing was done)
    outcome: str
    circle_id: uuid.UUID | None
    #: pending, active, refused, lapsed or closed (None when no circle was opened)
    circle_state: str | None


class SetupRequestList(msgspec.Struct, frozen=True):
    items: list[SetupRequest]


class PendingCircle(msgspec.Struct, frozen=True):
    """A request waiting for the yes of one of a provider's clients, for its staff."""

    circle_id: uuid.UUID
    senior: Person
    requested_by: Person | None
    requested_at: datetime
    expires_at: datetime | None


class PendingCircleList(msgspec.Struct, frozen=True):
    items: list[PendingCircle]


class CodeAnswerIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The senior's answer with the code of the notice (no sign-in needed)."""

    code: Annotated[str, msgspec.Meta(min_length=4, max_length=32)]
    answer: Literal["confirm", "refuse"]
    #: the consent text shown with the code (required to confirm)
    consent: ConsentIn | None = None


class CodeAnswer(msgspec.Struct, frozen=True):
    answer: Literal["confirm", "refuse"]
    circle_state: Literal["active", "refused"]


class ProviderConsentIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A verified provider's record that it obtained the senior's consent: how, and which text."""

    provider_id: uuid.UUID
    method: Literal["in_person", "phone", "paper"]
    text_version: TextVersion
    locale: LocaleCode


class AccessRead(msgspec.Struct, frozen=True):
    """One read of the senior's care data: who, what (with its name in the reader's language), when."""

    reader: Person | None
    what: str
    what_text: str
    at: datetime


class AccessReadPage(msgspec.Struct, frozen=True):
    items: list[AccessRead]
    next_cursor: str | None


class CircleConsent(msgspec.Struct, frozen=True):
    """The senior's consent to their circle as recorded (shown to the senior and to who recorded it)."""

    #: "app" when the senior gave it in the app, else how the person who recorded it obtained it
    method: str
    #: who recorded it (None when the senior gave it in the app)
    recorded_by: str | None
    text_version: str
    locale: str
    given_at: datetime
    withdrawn_at: datetime | None


class CircleMember(msgspec.Struct, frozen=True):
    id: uuid.UUID
    role: str
    state: str
    display_name: str | None
    provider_id: uuid.UUID | None
    #: shown to the senior only
    invited_email: str | None
    invited_at: datetime
    responded_at: datetime | None
    #: the member who set the circle up for the senior
    proxy: bool = False


class Circle(msgspec.Struct, frozen=True):
    id: uuid.UUID
    senior: Person
    created_at: datetime
    closed_at: datetime | None
    my_role: Literal["senior", "member"]
    members: list[CircleMember]
    #: who set the circle up for the senior (while still a member); None when the senior did
    proxy: Person | None = None
    consent: CircleConsent | None = None
    #: "pending" while a circle set up on the senior's behalf waits for their yes (only they see it then)
    state: Literal["pending", "active", "closed"] = "active"


class InvitationIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email
    role: Role
    provider_id: uuid.UUID | None = None
    #: the language of the email sent to an address without an account (the senior's by default);
    #: a registered invitee is always told in their own language
    locale: Literal["fr", "de"] | None = None


class Invitation(msgspec.Struct, frozen=True):
    id: uuid.UUID
    circle_id: uuid.UUID
    senior_name: str
    role: str
    state: str
    #: false when the address has no account yet: the invitation waits until it signs up
    registered: bool
    invited_at: datetime


class InvitationList(msgspec.Struct, frozen=True):
    items: list[Invitation]


class PauseIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    first_day: date
    last_day: date


class PlanIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Days are ISO weekdays (1 = Monday); the window is local time in ``zone`` (the senior's by default)."""

    days: Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=7)]], msgspec.Meta(min_length=1, max_length=7)]
    window_start: time
    window_end: time
    zone: Zone | None = None
    grace_minutes: Annotated[int, msgspec.Meta(ge=5, le=240)] = 30
    caregiver_ack_minutes: Annotated[int, msgspec.Meta(ge=5, le=240)] = 30
    pauses: Annotated[list[PauseIn], msgspec.Meta(max_length=50)] = []


class Plan(msgspec.Struct, frozen=True):
    id: uuid.UUID
    circle_id: uuid.UUID
    days: list[int]
    window_start: time
    window_end: time
    zone: str
    grace_minutes: int
    caregiver_ack_minutes: int
    pauses: list[PauseIn]
    active_from: datetime


class Checkin(msgspec.Struct, frozen=True):
    at: datetime
    local_date: date


class CircleEvent(msgspec.Struct, frozen=True):
    id: int
    kind: str
    at: datetime
    actor: str | None
    subject: str | None
    local_date: date | None
    escalation_id: uuid.UUID | None


class CircleEventPage(msgspec.Struct, frozen=True):
    items: list[CircleEvent]
    next_cursor: str | None = None


class Escalation(msgspec.Struct, frozen=True):
    id: uuid.UUID
    circle_id: uuid.UUID
    local_date: date
    state: str
    claimed_by: str | None
    claimed_at: datetime | None


class AlertSummary(msgspec.Struct, frozen=True):
    """One of a provider's alerts in its list: title as written, and how many have acknowledged it."""

    id: uuid.UUID
    title: Bilingual
    priority: str
    ack_requested: bool
    created_at: datetime
    recipients: int
    acknowledged: int
