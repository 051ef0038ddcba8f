"""Territory errors: an unknown municipality code, and municipality imports (which file, line, and why)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hub.errors import HubError, InvalidField
from i18n import N_, translate

REASON_UNKNOWN_MUNICIPALITIES = N_("unknown municipality codes: {codes}.")


class UnknownMunicipalities(InvalidField):
    """Municipality codes that exist in neither country's list, named in the message and in ``unknown_codes``."""

    def __init__(self, codes: Sequence[str], field: str = "municipality_codes") -> None:
        HubError.__init__(
            self,
            extra={"unknown_codes": list(codes)},
            field=field,
            reason=REASON_UNKNOWN_MUNICIPALITIES,
            codes=", ".join(codes),
        )


class _ImportError(HubError):
    def message(self, locale: str) -> str:
        """The whole detail sentence for a reader of ``locale`` (for the command line)."""
        params = {k: v for k, v in self.params.items() if k != "reason"}
        if "reason" in self.params:
            params["reason"] = translate(locale, self.params["reason"], **params)
        return translate(locale, self.detail, **params)


class MunicipalityFileError(_ImportError):
    """A municipality list that cannot be imported; ``line`` is 1-based, ``reason`` says why."""

    code = "invalid_municipality_file"
    status = 422
    title = N_("Invalid municipality file")
    detail = N_("The municipality file {file} cannot be imported, line {line}: {reason}")

    def __init__(self, file: str, line: int, reason: str, **params: Any) -> None:
        super().__init__(file=file, line=line, reason=reason, **params)
        self.line = line
        self.reason = reason


class MunicipalityFileUnreadable(_ImportError):
    code = "municipality_file_unreadable"
    status = 400
    title = N_("Unreadable municipality file")
    detail = N_("The municipality file {file} cannot be read.")

    def __init__(self, file: str) -> None:
        super().__init__(file=file)


# Reasons for MunicipalityFileError, translated inside its detail sentence.
REASON_EMPTY_FILE = N_("the file is empty.")
REASON_UNKNOWN_FORMAT = N_(
    "the header is neither an INSEE communes list (COG) nor a Destatis municipality list (GV-ISys)."
)
REASON_MISSING_COLUMNS = N_("the header lacks the columns {columns}.")
REASON_NOT_CSV = N_("it is not a valid CSV line.")
REASON_COLUMN_COUNT = N_("it has {found} columns where the header has {expected}.")
REASON_BAD_INSEE_CODE = N_("{code} is not a valid INSEE commune code.")
REASON_BAD_AGS = N_("{code} is not a valid 8-digit municipality key (AGS).")
REASON_BAD_COUNTRY = N_("{country} is not a country of the hub (FR or DE).")
REASON_EMPTY_NAME = N_("the municipality has no name.")
REASON_DUPLICATE_CODE = N_("the code {code} already appears on line {first}.")
REASON_BAD_POSTAL_CODE = N_("{value} is not a valid postal code.")
REASON_BAD_COORDINATE = N_("{value} is not a valid coordinate.")
REASON_NO_MUNICIPALITY = N_("the file lists no municipality.")
