"""Municipalities: bilingual search, pagination, the pilot region and official COG/Destatis imports."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from i18n import translate
from territory import service
from territory.errors import MunicipalityFileError, MunicipalityFileUnreadable, UnknownMunicipalities
from territory.importers import destatis_name, read_file
from territory.loader import read_pilot_csv
from tests.conftest import Servers

COG_HEADER = "TYPECOM,COM,REG,DEP,CTCD,ARR,TNCC,NCC,NCCENR,LIBELLE,CAN,COMPARENT"
DESTATIS_HEADER = (
    "satzart;textkennzeichen;land;rb;kreis;vb;gemeinde;gemeindename;flaeche;bevoelkerung;"
    "postleitzahl;laengengrad;breitengrad"
)


@pytest.fixture
async def conn(servers: Servers) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    connection = await asyncpg.connect(servers.database_url)
    transaction = connection.transaction()
    await transaction.start()
    try:
        yield connection
    finally:
        await transaction.rollback()
        await connection.close()


async def _search(client: AsyncTestClient[Litestar], **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/municipalities", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _row(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM municipalities WHERE code = $1", code)


def _write(tmp_path: Path, name: str, lines: list[str], encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes("\n".join(lines).encode(encoding) + b"\n")
    return path


# -- search ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "code"),
    [
        ("saargemund", "57631"),
        ("Saargemünd", "57631"),
        ("sarreguemines", "57631"),
        ("bitsch", "57089"),
        ("BITCHE", "57089"),
        ("SARREBRUCK", "10041100"),
        ("saarbrücken", "10041100"),
        ("eguelshardt", "57188"),
        ("Egelshardt", "57188"),
        ("barenthal", "57046"),
    ],
)
async def test_search_matches_either_language_ignoring_case_and_accents(
    client: AsyncTestClient[Litestar], q: str, code: str
) -> None:
    body = await _search(client, q=q)
    assert code in [m["code"] for m in body["items"]]


async def test_saargemund_is_sarreguemines_with_both_names(client: AsyncTestClient[Litestar]) -> None:
    body = await _search(client, q="saargemund")
    match = next(m for m in body["items"] if m["code"] == "57631")
    assert match["country"] == "FR"
    assert match["name"] == {"fr": "Sarreguemines", "de": "Saargemünd"}
    assert match["name_fallback"] == []


async def test_country_filter_keeps_one_country(client: AsyncTestClient[Litestar]) -> None:
    german = await _search(client, country="DE", limit=100)
    french = await _search(client, country="FR", limit=100)
    assert german["items"]
    assert french["items"]
    assert {m["country"] for m in german["items"]} == {"DE"}
    assert {m["country"] for m in french["items"]} == {"FR"}
    assert all(len(m["code"]) == 8 for m in german["items"])
    # "sarre" is in Sarreguemines (FR) and Sarrebruck (DE): the filter decides.
    assert [m["code"] for m in (await _search(client, q="sarre", country="DE"))["items"]] == ["10041100"]


async def test_pages_neither_skip_nor_repeat(client: AsyncTestClient[Litestar], db: asyncpg.Pool) -> None:
    async with db.acquire() as connection:
        expected = [
            r["code"] for r in await connection.fetch("SELECT code FROM municipalities ORDER BY code")
        ]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        body = await _search(client, **params)
        assert len(body["items"]) <= 7
        seen += [m["code"] for m in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert pages == -(-len(expected) // 7)


async def test_pages_keep_the_query_across_pages(client: AsyncTestClient[Litestar]) -> None:
    first = await _search(client, q="bitche", limit=2)
    assert first["next_cursor"]
    second = await _search(client, q="bitche", limit=100, cursor=first["next_cursor"])
    codes = [m["code"] for m in first["items"] + second["items"]]
    # Bitche, Nousseviller-, Rohrbach- and Saint-Louis-lès-Bitche, each once, in order
    assert codes == ["57089", "57513", "57589", "57619"]


@pytest.mark.parametrize(("language", "words"), [("fr", ("champ", "cursor")), ("de", ("Feld", "cursor"))])
async def test_tampered_cursor_is_422_naming_cursor(
    client: AsyncTestClient[Litestar], language: str, words: tuple[str, str]
) -> None:
    cursor = (await _search(client, limit=2))["next_cursor"]
    assert cursor
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    response = await client.get(
        "/v1/municipalities", params={"limit": 2, "cursor": tampered}, headers={"Accept-Language": language}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["content-language"] == language
    problem = response.json()
    assert problem["code"] == "invalid_field"
    for word in words:
        assert word in problem["detail"]


async def test_limit_over_100_is_400(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/v1/municipalities", params={"limit": 101})
    assert response.status_code == 400
    problem = response.json()
    assert problem["errors"][0]["field"] == "limit"


async def test_unknown_german_name_falls_back_to_the_official_one_and_says_so(
    client: AsyncTestClient[Litestar],
) -> None:
    body = await _search(client, q="bousseviller")
    match = next(m for m in body["items"] if m["code"] == "57103")
    assert match["name"] == {"fr": "Bousseviller", "de": "Bousseviller"}
    assert match["name_fallback"] == ["de"]
    gersheim = next(m for m in (await _search(client, q="gersheim"))["items"] if m["code"] == "10045113")
    assert gersheim["name_fallback"] == ["fr"]


# -- the pilot region ------------------------------------------------------------------------------------


async def test_pilot_region_has_58_municipalities_in_their_groupings(conn: asyncpg.Connection) -> None:
    rows = read_pilot_csv()
    assert len(rows) == 58
    codes = [r.code for r in rows]
    stored = await conn.fetch("SELECT code, grouping FROM municipalities WHERE code = ANY($1::text[])", codes)
    assert len(stored) == 58
    groupings = Counter(r["grouping"] for r in stored)
    assert groupings["CC du Pays de Bitche"] == 46
    assert groupings["Saarpfalz-Kreis"] == 7


async def test_loading_the_pilot_region_twice_changes_nothing(conn: asyncpg.Connection) -> None:
    before = await conn.fetch("SELECT * FROM municipalities ORDER BY code")
    assert await service.load_pilot_region(conn) == 58
    assert await service.load_pilot_region(conn) == 58
    assert await service.load_file(conn, Path("territory/data/pilot_region.csv")) == 58
    after = await conn.fetch("SELECT * FROM municipalities ORDER BY code")
    assert [dict(r) for r in after] == [dict(r) for r in before]


# -- official lists --------------------------------------------------------------------------------------


async def test_cog_import_keeps_communes_only_and_marks_german_name_unknown(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    path = _write(
        tmp_path,
        "v_commune_2026.csv",
        [
            COG_HEADER,
            "COM,01001,84,01,01D,012,5,ABERGEMENT CLEMENCIAT,Abergement-Clémenciat,L'Abergement-Clémenciat,0108,",
            "COMD,01015,84,01,01D,011,1,ARBIGNIEU,Arbignieu,Arbignieu,0111,01015",
            "COM,2A004,94,2A,20D,2A1,1,AJACCIO,Ajaccio,Ajaccio,2A98,",
            "ARM,13201,93,13,13D,133,0,MARSEILLE 1ER ARRONDISSEMENT,Marseille 1er Arrondissement,"
            "Marseille 1er Arrondissement,13,13055",
        ],
    )
    assert await service.load_file(conn, path) == 2
    abergement = await _row(conn, "01001")
    assert abergement is not None
    assert abergement["country"] == "FR"
    assert abergement["name_fr"] == "L'Abergement-Clémenciat"
    assert abergement["name_de"] == "L'Abergement-Clémenciat"
    assert abergement["name_de_is_official_fallback"] is True
    assert abergement["name_fr_is_official_fallback"] is False
    assert abergement["source"] == "INSEE-COG"
    assert await _row(conn, "01015") is None
    assert await _row(conn, "13201") is None
    page = await service.search(conn, country="FR", q="abergement clemenciat", limit=10, cursor=None)
    assert [m.code for m in page.items] == ["01001"]
    assert page.items[0].name_fallback == ["de"]


async def test_destatis_import_builds_the_key_and_drops_the_status(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    path = _write(
        tmp_path,
        "AuszugGV.csv",
        [
            "\ufeff" + DESTATIS_HEADER,
            "10;;07;;;;;Rheinland-Pfalz;;;;;",
            "40;41;07;3;17;;;Pirmasens, kreisfreie Stadt;;;;;",
            '60;61;07;3;17;0000;000;Pirmasens, kreisfreie Stadt; 61,37; 40 403;66953;"7,600000";"49,200000"',
            "50;50;07;3;40;5001;;Dahner Felsenland;;;;;",
            "60;64;07;3;40;5001;203;Schönau (Pfalz); 10,00; 500;66996;7,75;49,06",
            "60;63;07;3;40;5001;204;Dahn, Stadt; 27,00; 4 500;66994;;",
        ],
    )
    assert await service.load_file(conn, path) == 3
    schoenau = await _row(conn, "07340203")
    assert schoenau is not None
    assert schoenau["country"] == "DE"
    assert schoenau["name_de"] == "Schönau (Pfalz)"
    assert schoenau["name_fr"] == "Schönau (Pfalz)"
    assert schoenau["name_fr_is_official_fallback"] is True
    assert schoenau["postal_code"] == "66996"
    assert (schoenau["lat"], schoenau["lon"]) == (49.06, 7.75)
    dahn = await _row(conn, "07340204")
    assert dahn is not None
    assert dahn["name_de"] == "Dahn"
    assert dahn["lat"] is None
    page = await service.search(conn, country="DE", q="schonau", limit=10, cursor=None)
    assert [m.code for m in page.items] == ["07340203"]


async def test_official_import_keeps_verified_names_of_the_pilot_region(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    cog = _write(
        tmp_path,
        "communes.csv",
        [
            COG_HEADER.lower().replace(",", ";"),
            "COM;57089;44;57;57D;576;0;BITCHE;Bitche;Bitche;5702;",
            "COM;57103;44;57;57D;576;0;BOUSSEVILLER;Bousseviller;Bousseviller;5702;",
        ],
        encoding="latin-1",
    )
    destatis = _write(
        tmp_path,
        "gv.csv",
        [
            DESTATIS_HEADER.replace(";", ","),
            '60,61,10,0,41,0100,100,"Saarbrücken, Landeshauptstadt", 167.52, 180 374,66111,"6,996933","49,234362"',
            '60,63,10,0,45,0114,114,"Homburg, Kreisstadt", 82.64, 41 934,66424,"7,338326","49,326826"',
        ],
        encoding="latin-1",
    )
    assert await service.load_file(conn, cog) == 2
    assert await service.load_file(conn, destatis) == 2
    bitche = await _row(conn, "57089")
    assert bitche is not None
    assert (bitche["name_fr"], bitche["name_de"]) == ("Bitche", "Bitsch")
    assert bitche["name_de_is_official_fallback"] is False
    assert bitche["grouping"] == "CC du Pays de Bitche"
    assert bitche["source"] == "FR-BASE;N-VGS;N-KB"
    saarbruecken = await _row(conn, "10041100")
    assert saarbruecken is not None
    assert (saarbruecken["name_fr"], saarbruecken["name_de"]) == ("Sarrebruck", "Saarbrücken")
    assert saarbruecken["name_fr_is_official_fallback"] is False
    homburg = await _row(conn, "10045114")
    assert homburg is not None
    assert homburg["name_fr"] == "Hombourg"
    # a name that was only a fallback stays one, still marked
    bousseviller = await _row(conn, "57103")
    assert bousseviller is not None
    assert bousseviller["name_de_is_official_fallback"] is True
    found = await service.search(conn, country=None, q="bitsch", limit=10, cursor=None)
    assert "57089" in [m.code for m in found.items]


async def test_bad_file_names_its_line_and_imports_nothing(conn: asyncpg.Connection, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "communes.csv",
        [
            COG_HEADER,
            "COM,01001,84,01,01D,012,5,ABERGEMENT CLEMENCIAT,Abergement-Clémenciat,L'Abergement-Clémenciat,0108,",
            "COM,1234,84,01,01D,012,5,X,X,Nowhere,0108,",
        ],
    )
    with pytest.raises(MunicipalityFileError) as caught:
        await service.load_file(conn, path)
    error = caught.value
    assert error.line == 3
    assert error.status == 422
    assert await _row(conn, "01001") is None
    assert error.message("fr") == (
        "Le fichier de communes communes.csv ne peut pas être importé, ligne 3 : "
        "1234 n'est pas un code commune INSEE valide."
    )
    assert error.message("de") == (
        "Die Gemeindedatei communes.csv kann nicht importiert werden, Zeile 3: "
        "1234 ist kein gültiger INSEE-Gemeindecode."
    )


@pytest.mark.parametrize(
    ("lines", "line", "reason"),
    [
        ([], 1, "the file is empty."),
        (["name,code", "Bitche,57089"], 1, "the header is neither"),
        (["TYPECOM,COM,NCC", "COM,57089,BITCHE"], 1, "the header lacks the columns {columns}."),
        ([COG_HEADER, "COM,57089,44,57"], 2, "it has {found} columns where the header has {expected}."),
        ([COG_HEADER, "COM,57089,44,57,57D,576,0,BITCHE,Bitche,,5702,"], 2, "the municipality has no name."),
        (
            [COG_HEADER, *["COM,57089,44,57,57D,576,0,BITCHE,Bitche,Bitche,5702,"] * 2],
            3,
            "the code {code} already appears on line {first}.",
        ),
        ([COG_HEADER, "COMD,57089,44,57,57D,576,0,BITCHE,Bitche,Bitche,5702,"], 2, "the file lists no"),
        (
            [DESTATIS_HEADER, "60;61;10;0;4x;0100;100;Saarbrücken;1;1;66111;6,9;49,2"],
            2,
            "{code} is not a valid",
        ),
        (
            [DESTATIS_HEADER, "60;61;10;0;41;0100;100;Saarbrücken;1;1;6611;6,9;49,2"],
            2,
            "{value} is not a valid ",
        ),
        ([DESTATIS_HEADER, "60;61;10;0;41;0100;100;Saarbrücken;1;1;66111;east;49,2"], 2, "{value} is not a"),
        (
            [DESTATIS_HEADER, '60;61;10;0;41;0100;100;"Saar"brücken;1;1;66111;6,9;49,2'],
            2,
            "it is not a valid",
        ),
    ],
)
async def test_bad_files_are_refused_with_their_line(
    conn: asyncpg.Connection, tmp_path: Path, lines: list[str], line: int, reason: str
) -> None:
    path = _write(tmp_path, "bad.csv", lines)
    with pytest.raises(MunicipalityFileError) as caught:
        await service.load_file(conn, path)
    assert caught.value.line == line
    assert caught.value.reason.startswith(reason)
    # every reason renders as a whole sentence in both languages
    for locale in ("fr", "de"):
        params = {k: v for k, v in caught.value.params.items() if k != "reason"}
        assert "{" not in translate(locale, caught.value.reason, **params)


async def test_missing_file_is_a_domain_error(conn: asyncpg.Connection, tmp_path: Path) -> None:
    with pytest.raises(MunicipalityFileUnreadable) as caught:
        await service.load_file(conn, tmp_path / "absent.csv")
    assert caught.value.message("de").startswith("Die Gemeindedatei ")


def test_destatis_status_suffixes_are_removed() -> None:
    assert destatis_name("Homburg, Kreisstadt") == "Homburg"
    assert destatis_name("Pirmasens, kreisfreie Stadt") == "Pirmasens"
    assert destatis_name("Blieskastel, Stadt") == "Blieskastel"
    assert destatis_name("Saarbrücken, Landeshauptstadt") == "Saarbrücken"
    assert destatis_name("Gersheim") == "Gersheim"


def test_spreadsheet_dropped_leading_zeros_are_restored(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "gv.csv", [DESTATIS_HEADER, "60;61;7;3;20;0;0;Zweibrücken, kreisfreie Stadt;;;66482;;"]
    )
    [row] = read_file(path)
    assert (row.code, row.name_de) == ("07320000", "Zweibrücken")


async def test_time_zone_follows_the_country_of_the_municipality(conn: asyncpg.Connection) -> None:
    assert await service.time_zone_of(conn, "57089") == "Europe/Paris"  # Bitche
    assert await service.time_zone_of(conn, "10045111") == "Europe/Berlin"  # Bexbach
    assert await service.time_zone_of(conn, None) == "Europe/Paris"


async def test_unknown_municipality_names_its_field_and_code(conn: asyncpg.Connection) -> None:
    with pytest.raises(UnknownMunicipalities) as refused:
        await service.time_zone_of(conn, "99999", "municipality")
    assert refused.value.params["field"] == "municipality"
    assert refused.value.extra == {"unknown_codes": ["99999"]}
    assert translate("de", refused.value.params["reason"], codes="99999") == (
        "unbekannte Gemeindeschlüssel: 99999."
    )
