"""Console errors: sign-in needed, a form not from our pages, a send already under way."""

from __future__ import annotations

from hub.errors import Conflict, HubError
from i18n import N_


class SignInRequired(HubError):
    code = "sign_in_required"
    status = 401
    title = N_("Sign-in required")
    detail = N_("Sign in to continue; your session may have expired.")


class FormExpired(HubError):
    code = "form_expired"
    status = 403
    title = N_("This form has expired")
    detail = N_("For your safety, this form can no longer be sent. Go back, reload the page and try again.")


class AlreadySending(Conflict):
    code = "already_sending"
    title = N_("Already being sent")
    detail = N_("This message is being sent right now. It will be sent only once.")
