"""Event errors and the reasons given for refused event fields."""

from __future__ import annotations

from hub.errors import Conflict, NotFound
from i18n import N_

REASON_ENDS_BEFORE_STARTS = N_("it must be later than the start of the event.")
REASON_TOO_LONG_EVENT = N_("an event may last at most {days} days.")
REASON_CAPACITY = N_("it must be at least 1, or null for no limit.")
REASON_CAPACITY_BELOW_ATTENDING = N_("{attending} people already attend; the capacity cannot be lower.")
REASON_UNKNOWN_ZONE = N_("{zone} is not a known time zone (use a name such as Europe/Paris).")


class EventCancelled(Conflict):
    code = "event_cancelled"
    title = N_("Event cancelled")
    detail = N_("This event has been cancelled; it cannot be changed or answered any more.")


class EventOver(Conflict):
    code = "event_over"
    title = N_("Event over")
    detail = N_("This event is already over.")


class UnknownFeedToken(NotFound):
    code = "unknown_feed_token"
    title = N_("Unknown calendar address")
    detail = N_("This calendar address is not valid any more. Create a new one in the app.")
