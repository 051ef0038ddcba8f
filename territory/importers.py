"""Official municipality lists: INSEE COG communes (France) and Destatis GV-ISys (Germany), as CSV.

The format is recognised from the header; ``;`` and ``,`` delimiters and UTF-8 (with or without a byte
order mark) or Latin-1 text are accepted. A file is read and checked whole before anything is written,
so a bad line never leaves half a list behind.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from territory.errors import (
    REASON_BAD_AGS,
    REASON_BAD_COORDINATE,
    REASON_BAD_COUNTRY,
    REASON_BAD_INSEE_CODE,
    REASON_BAD_POSTAL_CODE,
    REASON_COLUMN_COUNT,
    REASON_DUPLICATE_CODE,
    REASON_EMPTY_FILE,
    REASON_EMPTY_NAME,
    REASON_MISSING_COLUMNS,
    REASON_NO_MUNICIPALITY,
    REASON_NOT_CSV,
    REASON_UNKNOWN_FORMAT,
    MunicipalityFileError,
    MunicipalityFileUnreadable,
)
from territory.loader import MunicipalityRow

SOURCE_COG = "INSEE-COG"
SOURCE_DESTATIS = "DESTATIS-GV"

_INSEE_CODE = re.compile(r"(?:[0-9]{2}|2A|2B)[0-9]{3}")
_POSTAL_CODE = re.compile(r"[0-9]{5}")
_COG_COLUMNS = ("typecom", "com", "libelle")
_DESTATIS_COLUMNS = ("satzart", "land", "rb", "kreis", "gemeinde", "gemeindename")
_PILOT_COLUMNS = ("country", "official_code", "name_fr", "name_de")
#: Destatis exports spell a few columns differently depending on the tool that wrote them
_ALIASES = {"gem": "gemeinde", "gemeindeschluessel_gemeinde": "gemeinde", "plz": "postleitzahl"}

Row = dict[str, str]


class _Reader:
    """Lines of one file as dicts keyed by lower-cased column names, with their 1-based line numbers."""

    def __init__(self, path: Path) -> None:
        self.name = path.name
        try:
            raw = path.read_bytes()
        except OSError:
            raise MunicipalityFileUnreadable(str(path)) from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        self.lines = text.splitlines()
        if not any(line.strip() for line in self.lines):
            raise self.error(1, REASON_EMPTY_FILE)
        header_line = self.lines[0]
        self.delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
        header = self._split(1, header_line)
        self.columns = [_ALIASES.get(c, c) for c in (h.strip().lower() for h in header)]

    def error(self, line: int, reason: str, **params: object) -> MunicipalityFileError:
        return MunicipalityFileError(self.name, line, reason, **params)

    def _split(self, number: int, line: str) -> list[str]:
        try:
            return next(csv.reader([line], delimiter=self.delimiter, strict=True))
        except (csv.Error, StopIteration):
            raise self.error(number, REASON_NOT_CSV) from None

    def require(self, columns: tuple[str, ...]) -> None:
        missing = [c for c in columns if c not in self.columns]
        if missing:
            raise self.error(1, REASON_MISSING_COLUMNS, columns=", ".join(missing))

    def rows(self) -> Iterator[tuple[int, Row]]:
        # csv.reader over the whole text would hide line numbers behind quoted line breaks, which
        # official lists never contain; one line is one record here.
        for number, line in enumerate(self.lines[1:], start=2):
            if not line.strip():
                continue
            values = self._split(number, line)
            if len(values) != len(self.columns):
                raise self.error(number, REASON_COLUMN_COUNT, found=len(values), expected=len(self.columns))
            yield number, {c: v.strip() for c, v in zip(self.columns, values, strict=True)}


def _is_format(columns: list[str], required: tuple[str, ...]) -> bool:
    return all(c in columns for c in required)


def _postal_code(reader: _Reader, number: int, value: str) -> str | None:
    if not value:
        return None
    if not _POSTAL_CODE.fullmatch(value):
        raise reader.error(number, REASON_BAD_POSTAL_CODE, value=value)
    return value


def _coordinate(reader: _Reader, number: int, value: str, limit: float) -> float | None:
    if not value:
        return None
    try:
        result = float(value.replace(",", "."))
    except ValueError:
        raise reader.error(number, REASON_BAD_COORDINATE, value=value) from None
    if not -limit <= result <= limit:
        raise reader.error(number, REASON_BAD_COORDINATE, value=value)
    return result


def _cog_row(reader: _Reader, number: int, row: Row) -> MunicipalityRow | None:
    if row["typecom"].upper() != "COM":
        return None  # associated and delegated communes, municipal arrondissements
    code = row["com"].upper()
    if not _INSEE_CODE.fullmatch(code):
        raise reader.error(number, REASON_BAD_INSEE_CODE, code=code)
    if not row["libelle"]:
        raise reader.error(number, REASON_EMPTY_NAME)
    return MunicipalityRow(code=code, country="FR", name_fr=row["libelle"], name_de=None, source=SOURCE_COG)


def destatis_name(gemeindename: str) -> str:
    """The municipality's name without its status ('Homburg, Kreisstadt' → 'Homburg').

    Destatis appends the status after the first comma (', Stadt', ', Kreisstadt', ', kreisfreie Stadt',
    ', Landeshauptstadt', ...); names themselves contain no comma.
    """
    return gemeindename.split(",", 1)[0].strip()


def _digits(value: str, width: int) -> str | None:
    """A key part padded back to its width (spreadsheets drop leading zeros), or None if malformed."""
    return value.zfill(width) if value.isdigit() and len(value) <= width else None


def _destatis_row(reader: _Reader, number: int, row: Row) -> MunicipalityRow | None:
    if row["satzart"] != "60":
        return None  # Land, Regierungsbezirk, Kreis and Gemeindeverband records
    parts = [
        _digits(row["land"], 2),
        _digits(row["rb"], 1),
        _digits(row["kreis"], 2),
        _digits(row["gemeinde"], 3),
    ]
    code = "".join(p or "" for p in parts)
    if any(p is None for p in parts):
        raise reader.error(
            number, REASON_BAD_AGS, code=row["land"] + row["rb"] + row["kreis"] + row["gemeinde"]
        )
    name = destatis_name(row["gemeindename"])
    if not name:
        raise reader.error(number, REASON_EMPTY_NAME)
    return MunicipalityRow(
        code=code,
        country="DE",
        name_fr=None,
        name_de=name,
        postal_code=_postal_code(reader, number, row.get("postleitzahl", "")),
        lat=_coordinate(reader, number, row.get("breitengrad", ""), 90),
        lon=_coordinate(reader, number, row.get("laengengrad", ""), 180),
        source=SOURCE_DESTATIS,
    )


def _pilot_row(reader: _Reader, number: int, row: Row) -> MunicipalityRow | None:
    country = row["country"].upper()
    code = row["official_code"].upper()
    if country not in ("FR", "DE"):
        raise reader.error(number, REASON_BAD_COUNTRY, country=row["country"])
    if country == "FR" and not _INSEE_CODE.fullmatch(code):
        raise reader.error(number, REASON_BAD_INSEE_CODE, code=code)
    if country == "DE" and not re.fullmatch(r"[0-9]{8}", code):
        raise reader.error(number, REASON_BAD_AGS, code=code)
    if not (row["name_fr"] or row["name_de"]):
        raise reader.error(number, REASON_EMPTY_NAME)
    return MunicipalityRow(
        code=code,
        country=country,
        name_fr=row["name_fr"] or None,
        name_de=row["name_de"] or None,
        postal_code=_postal_code(reader, number, row.get("postal_code", "")),
        lat=_coordinate(reader, number, row.get("lat", ""), 90),
        lon=_coordinate(reader, number, row.get("lon", ""), 180),
        grouping=row.get("grouping") or None,
        source=row.get("source") or None,
        verified=True,
    )


def read_file(path: Path) -> list[MunicipalityRow]:
    """Every municipality of an INSEE COG, Destatis GV-ISys or pilot-region CSV file, checked whole.

    Raises ``MunicipalityFileError`` naming the first bad line, or ``MunicipalityFileUnreadable``.
    """
    reader = _Reader(path)
    parse: Callable[[_Reader, int, Row], MunicipalityRow | None]
    if _is_format(reader.columns, _PILOT_COLUMNS):
        parse = _pilot_row
    elif "typecom" in reader.columns:
        reader.require(_COG_COLUMNS)
        parse = _cog_row
    elif "satzart" in reader.columns:
        reader.require(_DESTATIS_COLUMNS)
        parse = _destatis_row
    else:
        raise reader.error(1, REASON_UNKNOWN_FORMAT)
    rows: list[MunicipalityRow] = []
    first_line: dict[str, int] = {}
    for number, row in reader.rows():
        municipality = parse(reader, number, row)
        if municipality is None:
            continue
        if municipality.code in first_line:
            raise reader.error(
                number, REASON_DUPLICATE_CODE, code=municipality.code, first=first_line[municipality.code]
            )
        first_line[municipality.code] = number
        rows.append(municipality)
    if not rows:
        raise reader.error(max(len(reader.lines), 1), REASON_NO_MUNICIPALITY)
    return rows
