"""Care errors with stable codes and translatable messages."""

from __future__ import annotations

from datetime import timedelta

from hub.errors import HubError
from i18n import N_

REASON_WINDOW_ORDER = N_("the window must end after it starts, on the same day.")
REASON_PAUSE_ORDER = N_("a pause must end on or after its first day.")
REASON_PROVIDER_REQUIRED = N_("a provider invitation names the provider.")
REASON_NOT_STAFF = N_("this address is not a staff member of that verified provider.")
REASON_SELF = N_("you cannot invite yourself.")
REASON_OWN_ADDRESS = N_("this is your own address: create your own circle instead.")


class ProviderNotVerified(HubError):
    code = "provider_not_verified"
    status = 409
    title = N_("Provider not verified")
    detail = N_("This provider has not been verified by the hub yet.")


class AlreadyStaff(HubError):
    code = "already_staff"
    status = 409
    title = N_("Already a staff member")
    detail = N_("This person is already a staff member of the provider.")


class CircleExists(HubError):
    code = "circle_exists"
    status = 409
    title = N_("Circle already exists")
    detail = N_("You already have a care circle.")


class CircleClosed(HubError):
    code = "circle_closed"
    status = 409
    title = N_("Circle closed")
    detail = N_("This care circle was closed when its consent was withdrawn.")


class AlreadyInvited(HubError):
    code = "already_invited"
    status = 409
    title = N_("Already invited")
    detail = N_("This address is already invited to or part of the circle.")


class InvitationNotOpen(HubError):
    code = "invitation_not_open"
    status = 409
    title = N_("Invitation no longer open")
    detail = N_("This invitation has already been answered or withdrawn.")


class NoCircle(HubError):
    code = "no_circle"
    status = 409
    title = N_("No care circle")
    detail = N_("Create your care circle before planning daily check-ins.")


class AlreadyClaimed(HubError):
    code = "already_claimed"
    status = 409
    title = N_("Someone is already checking")
    detail = N_("{name} is already checking.")


class EscalationOver(HubError):
    code = "escalation_over"
    status = 409
    title = N_("Nothing to check")
    detail = N_("This alert is over: the check-in arrived or the alert was stopped.")


class TooManyRequests(HubError):
    """Too many set-up requests or invitations from one person; nothing was done."""

    code = "too_many_requests"
    status = 429
    title = N_("Too many requests")
    detail = N_("You have sent too many of these requests for now. Please try again tomorrow.")

    def __init__(self, retry_after: timedelta = timedelta(days=1)) -> None:
        # the limits count over a sliding window: once it has passed, the oldest request no longer counts
        super().__init__(headers={"Retry-After": str(int(retry_after.total_seconds()))})


class SetupLimited(TooManyRequests):
    """The refused attempt is still recorded (the senior sees it), so the request's changes commit."""

    commit_changes = True


class CirclePending(HubError):
    code = "circle_pending"
    status = 409
    title = N_("Circle not confirmed yet")
    detail = N_("This care circle is waiting for the senior's agreement.")


class NotPending(HubError):
    code = "circle_not_pending"
    status = 409
    title = N_("Nothing to answer")
    detail = N_("This care circle is not waiting for an answer any more.")


class InvalidCode(HubError):
    code = "invalid_code"
    status = 400
    title = N_("Code not valid")
    detail = N_("This code is not valid or has expired.")


REASON_CONSENT_REQUIRED = N_("the consent text shown is required to confirm.")
REASON_NOT_CLIENT = N_("the senior is not an approved client of this verified provider.")


class LastStaff(HubError):
    code = "last_staff"
    status = 409
    title = N_("Last staff member")
    detail = N_("You are the provider's last staff member: add someone else before you leave.")
