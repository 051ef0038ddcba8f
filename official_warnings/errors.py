"""Errors of the warnings API."""

from __future__ import annotations

from hub.errors import InvalidField
from i18n import N_

REASON_UNKNOWN_MUNICIPALITY = N_("unknown municipality code {code}.")

__all__ = ["REASON_UNKNOWN_MUNICIPALITY", "InvalidField"]
