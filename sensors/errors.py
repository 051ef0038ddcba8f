"""Sensor errors with stable codes and translatable messages."""

from __future__ import annotations

from hub.errors import HubError
from i18n import N_

REASON_RANGE_ORDER = N_("the lowest valid value must be below the highest.")
REASON_LEVEL_DIRECTION = N_("a level is reached either above or below a value, not both and not neither.")
REASON_CLEAR_SIDE = N_(
    "the clear level must lie on the safe side of the level (below it for “above”, above it for “below”)."
)
REASON_LEVEL_ORDER = N_("levels go from the mildest to the most severe, all in the same direction.")
REASON_NOTHING_TO_WATCH = N_("a rule watches at least one level, missing data, a fast rise or a stuck value.")
REASON_AUDIENCE = N_("name the municipalities or the community to alert, not both.")
REASON_DATE_ORDER = N_("the end of the range must come after its start.")
REASON_BAD_DATE = N_("write a date as 2026-11-20 or a time as 2026-11-20T09:00:00+01:00.")


class InvalidIngestKey(HubError):
    code = "invalid_ingest_key"
    status = 401
    title = N_("Ingest key required")
    detail = N_("Send a valid ingest key in the X-Hub-Ingest-Key header.")


class UnknownDevice(HubError):
    code = "unknown_device"
    status = 404
    title = N_("Unknown device")
    detail = N_("No sensor of the hub has this device EUI.")


class InvalidPayload(HubError):
    code = "invalid_payload"
    status = 422
    title = N_("Unreadable payload")
    detail = N_("The payload is not a valid uplink of this network server: {reason}")


class UnsupportedEvent(HubError):
    code = "unsupported_event"
    status = 400
    title = N_("Unsupported event")
    detail = N_("Only the events “up” and “status” are taken in.")


class TooManyReadings(HubError):
    code = "too_many_readings"
    status = 413
    title = N_("Too many readings")
    detail = N_("Send at most {max} readings per request.")


REASON_TEMPLATE = N_(
    "the placeholder {placeholder} is not one of {{value}} {{unit}} {{place}} {{level}} {{trend}} {{sensor}}."
)
