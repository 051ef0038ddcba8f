"""Partner errors: unknown keys, and refusals that leave their trace in the audit log."""

from __future__ import annotations

from hub.errors import Forbidden, NotFound, Unauthorized
from i18n import N_

REASON_EXPIRY_PAST = N_("it must be in the future.")
REASON_EXPIRY_TOO_FAR = N_("a key may be valid for at most {days} days.")


class InvalidPartnerKey(Unauthorized):
    code = "invalid_partner_key"
    title = N_("Invalid partner key")
    detail = N_("This partner key is unknown, expired or revoked.")


class OutOfReach(NotFound):
    """A key used outside its communities or scopes: answered like a missing object, and audited."""

    code = "not_found"
    commit_changes = True


class HubAdminOnly(Forbidden):
    code = "hub_admin_required"
    title = N_("Reserved to hub administrators")
    detail = N_("Only hub administrators may manage partner organisations.")
