"""Feedback errors with stable codes and translatable messages."""

from __future__ import annotations

from hub.errors import HubError
from i18n import N_

REASON_UNKNOWN_SERVICE = N_("there is no such service in this municipality's catalogue.")
REASON_NO_LOCATION = N_("give the place as lat and long.")
REASON_OUTSIDE_REGION = N_("this place lies outside the region the hub serves.")
REASON_NOT_A_CANDIDATE = N_("this place does not lie in or next to that municipality.")
REASON_DESCRIPTION = N_("describe what you saw in at most {max} characters.")
REASON_PHOTO_FORMAT = N_("send photos as JPEG, PNG or WebP images.")
REASON_PHOTO_SIZE = N_("each photo may be at most {max} MB.")
REASON_PHOTO_COUNT = N_("at most {max} photos per report.")
REASON_MEDIA_URL = N_("upload the photo itself as media; links to photos are not fetched.")
REASON_RESOLUTION_REQUIRED = N_("say how the report was closed.")
REASON_RESOLUTION_ONLY_WHEN_CLOSED = N_("a report only gets a resolution when it is closed.")
REASON_DUPLICATE_OF = N_("a duplicate names the report it repeats, which must be another report.")
REASON_FORWARDED_TO = N_("name the authority the report was forwarded to.")
REASON_NO_ACCOUNT = N_("no account uses this address.")
REASON_BBOX = N_("give four numbers: west, south, east, north.")
REASON_DATE = N_("use a date and time such as 2026-11-29T10:00:00Z.")
REASON_PHOTO_NOT_OF_REPORT = N_("these photos do not belong to this report.")
REASON_BOTH_LANGUAGES = N_("write it in French and in German.")
REASON_ADDRESS = N_("no municipality of the region matches this address; give lat and long instead.")
REASON_SAME_MUNICIPALITY = N_("the report is already with this municipality.")


class ChooseMunicipality(HubError):
    """The place lies where two municipalities' cells meet (or at the border): the reporter chooses."""

    code = "choose_municipality"
    status = 409
    title = N_("Which municipality?")
    detail = N_(
        "This place lies between {names}. Choose the municipality the report is for with municipality_code."
    )


class ApiKeyRequired(HubError):
    code = "api_key_required"
    status = 403
    title = N_("Key required")
    detail = N_("Sign in, or send the api_key your application was given, to submit a report.")


class StaffOnly(HubError):
    code = "staff_only"
    status = 403
    title = N_("For staff only")
    detail = N_("Only the municipality's staff can change this report.")


class NotClosed(HubError):
    code = "not_closed"
    status = 409
    title = N_("Report still open")
    detail = N_("You can say whether you are satisfied once the report is closed.")


class ServiceExists(HubError):
    code = "service_exists"
    status = 409
    title = N_("Service already exists")
    detail = N_("A service with this code exists already.")


class InvalidTransition(HubError):
    code = "invalid_transition"
    status = 409
    title = N_("Status cannot change this way")
    detail = N_(
        "A report goes from open to acknowledged, in progress and closed; a closed report stays closed."
    )
