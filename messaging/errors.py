"""Messaging errors."""

from __future__ import annotations

from hub.errors import Conflict, HubError
from i18n import N_


class NotAcknowledgeable(Conflict):
    code = "not_acknowledgeable"
    title = N_("No acknowledgement requested")
    detail = N_("This notification does not ask for an acknowledgement.")


class UnknownUnsubscribeLink(HubError):
    code = "unknown_unsubscribe_link"
    status = 404
    title = N_("Link not valid")
    detail = N_("This unsubscribe link is not valid or has expired.")
