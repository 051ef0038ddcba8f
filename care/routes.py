"""Care routes under /v1/care: directory, providers and alerts, circles, invitations, check-ins."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from litestar import Controller, Request, delete, get, post, put
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.security.jwt import Token
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from care import checkins, circles, common, providers, setup
from care.models import (
    AccessReadPage,
    Acknowledged,
    AlertCreated,
    AlertIn,
    AlertReport,
    Checkin,
    Circle,
    CircleEventPage,
    CircleIn,
    ClientList,
    ClientRegistration,
    CodeAnswer,
    CodeAnswerIn,
    ConsentIn,
    Escalation,
    InvitationIn,
    InvitationList,
    PendingCircleList,
    Plan,
    PlanIn,
    Provider,
    ProviderConsentIn,
    ProviderIn,
    ProviderKind,
    ProxyCircleIn,
    ServicePage,
    SetUpRequested,
    SetupRequestList,
    StaffIn,
)
from hub.auth import CurrentUser
from hub.deps import Config, Conn
from hub.errors import request_locale
from hub.openapi import problems

AuthRequest = Request[CurrentUser, Token, State]
Limit = Annotated[int, QueryParameter(name="limit", ge=1, le=100)]
Cursor = Annotated[str | None, QueryParameter(name="cursor", max_length=500)]


class ServicesController(Controller):
    """The public directory of verified care services."""

    path = "/care/services"
    tags = ["care"]

    @get("/", opt={"public": True}, responses=problems(422, public=True), operation_id="listCareServices")
    async def services(
        self,
        conn: Conn,
        request: Request[Any, Any, State],
        settings: Config,
        municipality: Annotated[
            str | None, QueryParameter(name="municipality", pattern=r"^(([0-9]{2}|2A|2B)[0-9]{3}|[0-9]{8})$")
        ] = None,
        kind: Annotated[ProviderKind | None, QueryParameter(name="kind")] = None,
        language: Annotated[str | None, QueryParameter(name="language", pattern=r"^[a-z]{2,3}$")] = None,
        cursor: Cursor = None,
        limit: Limit = 20,
    ) -> ServicePage:
        """The care directory: verified providers serving a municipality, of a kind, speaking a language."""
        return await providers.directory(
            conn,
            secret=settings.secret_key,
            locale=request_locale(request),
            municipality=municipality,
            kind=kind,
            language=language,
            cursor=cursor,
            limit=limit,
        )


class ProvidersController(Controller):
    """Care providers: registration, verification by a hub admin, staff, clients and alerts."""

    path = "/care/providers"
    tags = ["care"]

    @post("/", responses=problems(422), operation_id="registerProvider")
    async def register(self, conn: Conn, request: AuthRequest, data: JSONBody[ProviderIn]) -> Provider:
        """Register a care provider; it is listed once hub admins verify it."""
        return await providers.register_provider(conn, request.user, data)

    @get("/{provider_id:uuid}", responses=problems(404))
    async def get_provider(
        self, conn: Conn, request: AuthRequest, provider_id: FromPath[uuid.UUID]
    ) -> Provider:
        """One care provider, for its staff and hub admins (anyone else gets 404)."""
        return await common.access_provider(conn, request.user, provider_id)

    @post(
        "/{provider_id:uuid}/verify",
        status_code=HTTP_200_OK,
        responses=problems(403, 404),
        operation_id="verifyProvider",
    )
    async def verify(self, conn: Conn, request: AuthRequest, provider_id: FromPath[uuid.UUID]) -> Provider:
        """Hub admins verify a provider: it appears in the directory."""
        return await providers.verify_provider(conn, request.user, provider_id)

    @post("/{provider_id:uuid}/staff", status_code=HTTP_200_OK, responses=problems(404, 409, 422))
    async def add_staff(
        self, conn: Conn, request: AuthRequest, provider_id: FromPath[uuid.UUID], data: JSONBody[StaffIn]
    ) -> Provider:
        """The provider's staff add a colleague by the email address of their account."""
        return await providers.add_staff(conn, request.user, provider_id, data)

    @post("/{provider_id:uuid}/staff/me/accept", status_code=HTTP_200_OK, responses=problems(404))
    async def accept_staff(
        self, conn: Conn, request: AuthRequest, provider_id: FromPath[uuid.UUID]
    ) -> Provider:
        """Accept a staff seat the provider offered me."""
        return await providers.accept_staff(conn, request.user, provider_id)

    @delete("/{provider_id:uuid}/staff/me", status_code=HTTP_204_NO_CONTENT, responses=problems(404, 409))
    async def leave_staff(self, conn: Conn, request: AuthRequest, provider_id: FromPath[uuid.UUID]) -> None:
        """Leave the provider's staff, or turn down its offer."""
        await providers.leave_staff(conn, request.user, provider_id)

    @get("/{provider_id:uuid}/clients", responses=problems(404, 409))
    async def clients(
        self,
        conn: Conn,
        request: AuthRequest,
        provider_id: FromPath[uuid.UUID],
        status: Annotated[
            Literal["requested", "invited", "approved", "declined"], QueryParameter(name="status")
        ] = "requested",
    ) -> ClientList:
        """For staff: requests to be a client waiting for approval (or the clients in another state)."""
        return await providers.client_list(conn, request.user, provider_id, status)

    @post(
        "/{provider_id:uuid}/clients/{client_id:uuid}/approve",
        status_code=HTTP_200_OK,
        responses=problems(404, 409),
    )
    async def approve_client(
        self,
        conn: Conn,
        request: AuthRequest,
        provider_id: FromPath[uuid.UUID],
        client_id: FromPath[uuid.UUID],
    ) -> ClientRegistration:
        """For staff: approve a person's request to be a client; the provider's alerts reach them from now on."""
        return await providers.decide_client(conn, request.user, provider_id, client_id, True)

    @post(
        "/{provider_id:uuid}/clients/{client_id:uuid}/decline",
        status_code=HTTP_200_OK,
        responses=problems(404, 409),
    )
    async def decline_client(
        self,
        conn: Conn,
        request: AuthRequest,
        provider_id: FromPath[uuid.UUID],
        client_id: FromPath[uuid.UUID],
    ) -> ClientRegistration:
        """For staff: decline a person's request to be a client."""
        return await providers.decide_client(conn, request.user, provider_id, client_id, False)

    @post(
        "/{provider_id:uuid}/client-invitations", status_code=HTTP_202_ACCEPTED, responses=problems(404, 409)
    )
    async def invite_client(
        self, conn: Conn, request: AuthRequest, provider_id: FromPath[uuid.UUID], data: JSONBody[StaffIn]
    ) -> Provider:
        """For staff: invite a person to be a client (they accept by registering with their consent)."""
        return await providers.invite_client(conn, request.user, provider_id, data)

    @get("/{provider_id:uuid}/pending-circles", responses=problems(404))
    async def pending_circles(
        self, conn: Conn, request: AuthRequest, provider_id: FromPath[uuid.UUID]
    ) -> PendingCircleList:
        """For staff: circles asked for the provider's clients, waiting for the client's yes."""
        return await setup.pending_for_provider(conn, request.user, provider_id)

    @post("/{provider_id:uuid}/clients", status_code=HTTP_200_OK, responses=problems(404))
    async def become_client(
        self, conn: Conn, request: AuthRequest, provider_id: FromPath[uuid.UUID], data: JSONBody[ConsentIn]
    ) -> ClientRegistration:
        """Become a client of a provider, so its alerts reach me."""
        return await providers.register_client(conn, request.user, provider_id, data)

    @delete("/{provider_id:uuid}/clients/me", status_code=HTTP_200_OK, responses=problems(404))
    async def stop_being_client(
        self, conn: Conn, request: AuthRequest, provider_id: FromPath[uuid.UUID]
    ) -> ClientRegistration:
        """Stop being a client of a provider: no more alerts from it."""
        return await providers.withdraw_client(conn, request.user, provider_id)

    @post("/{provider_id:uuid}/alerts", responses=problems(404, 409, 422))
    async def send_alert(
        self, conn: Conn, request: AuthRequest, provider_id: FromPath[uuid.UUID], data: JSONBody[AlertIn]
    ) -> AlertCreated:
        """Staff send an alert to the provider's clients (urgent ones pass quiet hours)."""
        return await providers.send_alert(conn, request.user, provider_id, data)


class AlertsController(Controller):
    """A provider alert: its recipients acknowledge it, its provider reads the acknowledgement rates."""

    path = "/care/alerts"
    tags = ["care"]

    @get("/{alert_id:uuid}", responses=problems(404), operation_id="getAlertReport")
    async def report(self, conn: Conn, request: AuthRequest, alert_id: FromPath[uuid.UUID]) -> AlertReport:
        """For the provider's staff: who got the alert on which channel, and who acknowledged it."""
        return await providers.alert_report(conn, request.user, alert_id)

    @post(
        "/{alert_id:uuid}/ack",
        status_code=HTTP_200_OK,
        responses=problems(404),
        operation_id="acknowledgeAlert",
    )
    async def acknowledge(
        self, conn: Conn, request: AuthRequest, alert_id: FromPath[uuid.UUID]
    ) -> Acknowledged:
        """A client confirms they have seen an alert that asks for it."""
        return await providers.acknowledge_alert(conn, request.user, alert_id)


class CirclesController(Controller):
    """A senior's care circle: members, consent, its log, and answering a missed check-in."""

    path = "/care/circles"
    tags = ["care"]

    @post("/", responses=problems(409), operation_id="createCircle")
    async def create(self, conn: Conn, request: AuthRequest, data: JSONBody[CircleIn]) -> Circle:
        """A senior sets up their own circle of caregivers."""
        return await circles.create_circle(conn, request.user, data)

    @post(
        "/on-behalf",
        status_code=HTTP_202_ACCEPTED,
        responses=problems(422, 429),
        operation_id="createCircleOnBehalf",
    )
    async def create_on_behalf(
        self, conn: Conn, request: AuthRequest, data: JSONBody[ProxyCircleIn]
    ) -> SetUpRequested:
        """Ask to set up a senior's circle: the senior is asked, and nothing is shared until they agree.
        The answer is the same whatever the address."""
        return await circles.create_circle_for(conn, request.user, data)

    @post("/confirmations", opt={"public": True}, status_code=HTTP_200_OK, responses=problems(400, 409, 422))
    async def answer_with_code(self, conn: Conn, data: JSONBody[CodeAnswerIn]) -> CodeAnswer:
        """The senior confirms or refuses a circle set up on their behalf with the code of their notice."""
        return await circles.answer_with_code(conn, data)

    @get("/requests-about-me")
    async def requests_about_me(self, conn: Conn, request: AuthRequest) -> SetupRequestList:
        """Every request to set up my circle: who asked, when, and what came of it."""
        return await setup.requests_about_me(conn, request.user)

    @post("/{circle_id:uuid}/confirm", status_code=HTTP_200_OK, responses=problems(404, 409))
    async def confirm(
        self, conn: Conn, request: AuthRequest, circle_id: FromPath[uuid.UUID], data: JSONBody[ConsentIn]
    ) -> Circle:
        """The senior agrees to a circle set up on their behalf."""
        return await circles.confirm_circle(conn, request.user, circle_id, data)

    @post("/{circle_id:uuid}/refuse", status_code=HTTP_200_OK, responses=problems(404, 409))
    async def refuse(self, conn: Conn, request: AuthRequest, circle_id: FromPath[uuid.UUID]) -> Circle:
        """The senior refuses a circle set up on their behalf."""
        return await circles.refuse_circle(conn, request.user, circle_id)

    @post(
        "/{circle_id:uuid}/provider-consent", status_code=HTTP_202_ACCEPTED, responses=problems(404, 409, 422)
    )
    async def provider_consent(
        self,
        conn: Conn,
        request: AuthRequest,
        circle_id: FromPath[uuid.UUID],
        data: JSONBody[ProviderConsentIn],
    ) -> SetUpRequested:
        """Staff of a verified provider serving the senior record the consent they obtained."""
        return await circles.record_provider_consent(conn, request.user, circle_id, data)

    @get("/{circle_id:uuid}/reads", responses=problems(404, 422))
    async def reads(
        self,
        conn: Conn,
        request: AuthRequest,
        settings: Config,
        circle_id: FromPath[uuid.UUID],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> AccessReadPage:
        """For the senior only: who read their circle, its log and their check-in plan, and when."""
        return await circles.circle_reads(
            conn,
            request.user,
            circle_id,
            locale=request_locale(request),
            secret=settings.secret_key,
            cursor=cursor,
            limit=limit,
        )

    @get("/{circle_id:uuid}", responses=problems(404))
    async def get_circle(self, conn: Conn, request: AuthRequest, circle_id: FromPath[uuid.UUID]) -> Circle:
        """The circle, its members and their roles (members only)."""
        return await circles.get_circle(conn, request.user, circle_id)

    @post(
        "/{circle_id:uuid}/invitations",
        status_code=HTTP_200_OK,
        responses=problems(403, 404, 409, 422),
        operation_id="inviteToCircle",
    )
    async def invite(
        self, conn: Conn, request: AuthRequest, circle_id: FromPath[uuid.UUID], data: JSONBody[InvitationIn]
    ) -> Circle:
        """The senior (or who set the circle up) invites a caregiver; they must accept."""
        return await circles.invite(conn, request.user, circle_id, data)

    @delete(
        "/{circle_id:uuid}/members/{member_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(403, 404),
    )
    async def remove_member(
        self, conn: Conn, request: AuthRequest, circle_id: FromPath[uuid.UUID], member_id: FromPath[uuid.UUID]
    ) -> None:
        """The senior removes a member or cancels an invitation; a member leaves by removing themselves."""
        await circles.remove_member(conn, request.user, circle_id, member_id)

    @post(
        "/{circle_id:uuid}/consent/withdraw",
        status_code=HTTP_200_OK,
        responses=problems(403, 404),
        operation_id="withdrawCircleConsent",
    )
    async def withdraw_consent(
        self, conn: Conn, request: AuthRequest, circle_id: FromPath[uuid.UUID]
    ) -> Circle:
        """The senior withdraws their consent: the circle closes, no ladder runs, members lose access."""
        return await circles.withdraw_circle_consent(conn, request.user, circle_id)

    @put(
        "/{circle_id:uuid}/checkin-plan", responses=problems(403, 404, 409, 422), operation_id="setCirclePlan"
    )
    async def put_plan(
        self, conn: Conn, request: AuthRequest, circle_id: FromPath[uuid.UUID], data: JSONBody[PlanIn]
    ) -> Plan:
        """The senior's check-in plan, set by the senior or by who set the circle up for them."""
        return await checkins.put_circle_plan(conn, request.user, circle_id, data)

    @get("/{circle_id:uuid}/checkin-plan", responses=problems(403, 404), operation_id="getCirclePlan")
    async def get_plan(self, conn: Conn, request: AuthRequest, circle_id: FromPath[uuid.UUID]) -> Plan:
        """The senior's check-in plan, for the circle's members."""
        return await checkins.get_circle_plan(conn, request.user, circle_id)

    @get("/{circle_id:uuid}/events", responses=problems(404, 422), operation_id="listCircleEvents")
    async def events(
        self,
        conn: Conn,
        request: AuthRequest,
        settings: Config,
        circle_id: FromPath[uuid.UUID],
        cursor: Cursor = None,
        limit: Limit = 50,
    ) -> CircleEventPage:
        """The circle's log, newest first: check-ins, reminders, alerts, claims (each read is recorded)."""
        return await circles.circle_events(
            conn, request.user, circle_id, secret=settings.secret_key, cursor=cursor, limit=limit
        )

    @post(
        "/{circle_id:uuid}/escalations/{escalation_id:uuid}/claim",
        status_code=HTTP_200_OK,
        responses=problems(403, 404, 409),
        operation_id="claimEscalation",
    )
    async def claim(
        self,
        conn: Conn,
        request: AuthRequest,
        circle_id: FromPath[uuid.UUID],
        escalation_id: FromPath[uuid.UUID],
    ) -> Escalation:
        """A circle member says they are taking care of a missed check-in; the others are told."""
        return await checkins.claim(conn, request.user, circle_id, escalation_id)


class InvitationsController(Controller):
    """Invitations addressed to the signed-in person (by account or by email address)."""

    path = "/care/invitations"
    tags = ["care"]

    @get("/", operation_id="listMyInvitations")
    async def mine(self, conn: Conn, request: AuthRequest) -> InvitationList:
        """Invitations to circles waiting for my answer."""
        return await circles.my_invitations(conn, request.user)

    @post(
        "/{member_id:uuid}/accept",
        status_code=HTTP_200_OK,
        responses=problems(404, 409),
        operation_id="acceptInvitation",
    )
    async def accept(
        self, conn: Conn, request: AuthRequest, member_id: FromPath[uuid.UUID], data: JSONBody[ConsentIn]
    ) -> Circle:
        """Accept an invitation to a circle."""
        return await circles.accept_invitation(conn, request.user, member_id, data)

    @post(
        "/{member_id:uuid}/decline",
        status_code=HTTP_204_NO_CONTENT,
        responses=problems(404, 409),
        operation_id="declineInvitation",
    )
    async def decline(self, conn: Conn, request: AuthRequest, member_id: FromPath[uuid.UUID]) -> None:
        """Decline an invitation to a circle."""
        await circles.decline_invitation(conn, request.user, member_id)


class CheckinController(Controller):
    """The senior's daily check-in plan and the "I'm fine" itself."""

    path = "/care"
    tags = ["care"]

    @put("/checkin-plan", responses=problems(409, 422), operation_id="setMyPlan")
    async def put_plan(self, conn: Conn, request: AuthRequest, data: JSONBody[PlanIn]) -> Plan:
        """Set my own check-in plan: days, window and time zone."""
        return await checkins.put_plan(conn, request.user, data)

    @get("/checkin-plan", responses=problems(404), operation_id="getMyPlan")
    async def get_plan(self, conn: Conn, request: AuthRequest) -> Plan:
        """My own check-in plan, as a senior."""
        return await checkins.get_plan(conn, request.user)

    @post("/checkins", operation_id="checkIn")
    async def check_in(self, conn: Conn, request: AuthRequest) -> Checkin:
        """The senior's daily check-in: all is well (it stops the ladder of the day)."""
        return await checkins.check_in(conn, request.user)


ROUTES = [
    ServicesController,
    ProvidersController,
    AlertsController,
    CirclesController,
    InvitationsController,
    CheckinController,
]
