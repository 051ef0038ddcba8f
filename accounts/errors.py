"""Account errors."""

from __future__ import annotations

from hub.errors import Conflict, HubError
from i18n import N_


class EmailTaken(Conflict):
    code = "email_taken"
    title = N_("Email address already registered")
    detail = N_("An account with this email address already exists. Sign in instead.")


class InvalidRefreshToken(HubError):
    code = "invalid_refresh_token"
    status = 401
    title = N_("Session ended")
    detail = N_("This session has ended. Please sign in again.")


class RefreshTokenReused(InvalidRefreshToken):
    """A rotated refresh token came back: it was copied, so the whole session is ended (and stays ended)."""

    commit_changes = True


class InvalidAccountToken(HubError):
    """A verification or reset link that is unknown, already used, or expired (the same answer for all)."""

    code = "invalid_token"
    status = 400
    title = N_("Link not valid")
    detail = N_("This link is not valid or has expired. Ask for a new one.")


class AddressProvenElsewhere(Conflict):
    code = "email_taken"
    title = N_("Address already proven")
    detail = N_("Another account has already proven this email address. Sign in to that account instead.")
