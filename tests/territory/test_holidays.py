"""Holidays of both sides: Alsace-Moselle local holidays, German Länder, names in the reader's language."""

from __future__ import annotations

from datetime import date

from litestar import Litestar
from litestar.testing import AsyncTestClient

from territory.calendar import service

Client = AsyncTestClient[Litestar]


async def test_bitche_has_the_alsace_moselle_holidays_in_french_and_german(client: Client) -> None:
    fr = await client.get(
        "/v1/calendar/holidays", params={"municipality": "57089", "year": 2026, "lang": "fr"}
    )
    assert fr.status_code == 200, fr.text
    data = fr.json()
    assert (data["country"], data["subdivision"]) == ("FR", "57")
    names = {h["date"]: h["name"] for h in data["items"]}
    assert names["2026-04-03"] == "Vendredi saint"
    assert names["2026-12-26"] == "Saint-Étienne"
    assert names["2026-07-14"] == "Fête nationale"
    de = await client.get(
        "/v1/calendar/holidays", params={"municipality": "57089", "year": 2026, "lang": "de"}
    )
    german = {h["date"]: (h["name"], h["lang"]) for h in de.json()["items"]}
    assert german["2026-04-03"] == ("Karfreitag", "de")
    assert german["2026-12-26"] == ("Stephanstag", "de")


async def test_homburg_has_saarland_holidays(client: Client) -> None:
    r = await client.get(
        "/v1/calendar/holidays", params={"municipality": "10045114", "year": 2026, "lang": "de"}
    )
    data = r.json()
    assert (data["country"], data["subdivision"]) == ("DE", "SL")
    names = {h["date"]: h["name"] for h in data["items"]}
    assert names["2026-06-04"] == "Fronleichnam"
    assert names["2026-08-15"] == "Mariä Himmelfahrt"
    assert names["2026-10-03"] == "Tag der Deutschen Einheit"
    french = await client.get(
        "/v1/calendar/holidays", params={"municipality": "10045114", "year": 2026, "lang": "fr"}
    )
    assert {h["date"]: h["name"] for h in french.json()["items"]}["2026-06-04"] == "Fête-Dieu"


def test_rhineland_palatinate_keeps_corpus_christi_but_not_assumption() -> None:
    days = {h.date for h in service.holidays_of("07320000", 2026, "de")}  # Zweibrücken
    assert date(2026, 6, 4) in days and date(2026, 8, 15) not in days


def test_good_friday_and_26_december_are_holidays_in_moselle_only_not_in_the_rest_of_france() -> None:
    paris = {h.date for h in service.holidays_of("75056", 2026, "fr")}
    bitche = {h.date for h in service.holidays_of("57089", 2026, "fr")}
    assert {date(2026, 4, 3), date(2026, 12, 26)} <= bitche
    assert not {date(2026, 4, 3), date(2026, 12, 26)} & paris
    conflicts = service.conflicts(["75056", "57089"], [date(2026, 12, 26)], "fr")
    assert [(c.municipality_code, c.name) for c in conflicts] == [("57089", "Saint-Étienne")]


async def test_unknown_municipality_and_bad_year_are_refused(client: Client) -> None:
    r = await client.get("/v1/calendar/holidays", params={"municipality": "57999", "year": 2026})
    assert r.status_code == 422 and r.json()["code"] == "invalid_field"
    r = await client.get("/v1/calendar/holidays", params={"municipality": "57089", "year": 3000})
    assert r.status_code == 400
