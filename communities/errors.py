"""Community errors: refusals that the caller can see, with translatable messages."""

from __future__ import annotations

from hub.errors import Conflict, Forbidden
from i18n import N_

REASON_EXPIRES_BEFORE_PUBLISH = N_("it must be later than the publication time.")
REASON_ALREADY_PUBLISHED = N_("the post has already been published.")


class NotAllowed(Forbidden):
    """The caller sees the community but their role in it does not allow this."""

    code = "community_role_required"
    title = N_("Not allowed")
    detail = N_("Your role in this community does not allow this.")


class UrgentNotAllowed(Forbidden):
    code = "urgent_not_allowed"
    title = N_("Urgent posts are reserved")
    detail = N_("Only moderators and administrators may publish urgent posts.")


class LastAdmin(Conflict):
    code = "last_admin"
    title = N_("Last administrator")
    detail = N_(
        "You are the last administrator of this community. Give the administrator role to another member first."
    )
