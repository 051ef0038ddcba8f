"""Catalog maintenance with Babel: ``python -m i18n.catalogs update`` and ``python -m i18n.catalogs check``.

``update`` extracts each domain's strings (pybabel extract, mappings from pyproject.toml) into
``i18n/<domain>.pot`` and merges them into the fr/de/en catalogs (pybabel update/init).
``check`` fails on any entry that is empty, fuzzy, missing from a catalog or no longer in the code,
and on ``pybabel compile`` errors, for every domain and locale.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from i18n import DOMAINS, LOCALE_DIR, LOCALES

ROOT = Path(__file__).resolve().parent.parent
I18N = Path(__file__).resolve().parent


def _pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])  # type: ignore[no-untyped-call]


def extract(domain: str, output: Path) -> None:
    sources = [str(ROOT / folder) for folder in DOMAINS[domain] if (ROOT / folder).is_dir()]
    _pybabel(
        "extract",
        "-F",
        str(ROOT / "pyproject.toml"),
        "--no-location",
        "--sort-output",
        "--omit-header",
        "-k",
        "N_",
        "-o",
        str(output),
        *sources,
    )


def update() -> None:
    for domain in DOMAINS:
        pot = I18N / f"{domain}.pot"
        extract(domain, pot)
        for locale in LOCALES:
            po = LOCALE_DIR / locale / "LC_MESSAGES" / f"{domain}.po"
            if po.exists():
                _pybabel(
                    "update",
                    "-i",
                    str(pot),
                    "-d",
                    str(LOCALE_DIR),
                    "-l",
                    locale,
                    "-D",
                    domain,
                    "--no-fuzzy-matching",
                    "--ignore-obsolete",
                    "--omit-header",
                )
            else:
                _pybabel("init", "-i", str(pot), "-d", str(LOCALE_DIR), "-l", locale, "-D", domain)


def check() -> list[str]:
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for domain in DOMAINS:
            pot_path = Path(tmp) / f"{domain}.pot"
            extract(domain, pot_path)
            with pot_path.open("rb") as f:
                wanted = {m.id for m in read_po(f) if m.id}
            for locale in LOCALES:
                po = LOCALE_DIR / locale / "LC_MESSAGES" / f"{domain}.po"
                if not po.exists():
                    if wanted:
                        problems.append(f"{po.relative_to(ROOT)}: missing catalog")
                    continue
                with po.open("rb") as f:
                    catalog = read_po(f, locale=locale)
                present = set()
                for message in catalog:
                    if not message.id:
                        continue
                    present.add(message.id)
                    label = message.id if isinstance(message.id, str) else message.id[0]
                    strings = message.string if isinstance(message.string, tuple) else (message.string,)
                    if message.fuzzy:
                        problems.append(f"{po.relative_to(ROOT)}: fuzzy: {label!r}")
                    if not all(strings):
                        problems.append(f"{po.relative_to(ROOT)}: untranslated: {label!r}")
                    errors = list(message.check(catalog))
                    for error in errors:
                        problems.append(f"{po.relative_to(ROOT)}: {label!r}: {error}")
                for missing in sorted(wanted - present, key=str):
                    problems.append(f"{po.relative_to(ROOT)}: not in catalog (run update): {missing!r}")
                for obsolete in sorted(present - wanted, key=str):
                    problems.append(f"{po.relative_to(ROOT)}: no longer in the code: {obsolete!r}")
                try:
                    _pybabel(
                        "compile",
                        "-d",
                        str(LOCALE_DIR),
                        "-l",
                        locale,
                        "-D",
                        domain,
                        "-o",
                        str(Path(tmp) / f"{domain}-{locale}.mo"),
                    )
                except SystemExit as exc:  # pybabel exits on compile errors
                    problems.append(f"{po.relative_to(ROOT)}: pybabel compile failed ({exc.code})")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "check"
    if command == "update":
        update()
        return 0
    if command == "check":
        problems = check()
        for line in problems:
            print(line)
        print(f"catalogs: {len(problems)} problem(s)" if problems else "catalogs: complete")
        return 1 if problems else 0
    print("usage: python -m i18n.catalogs [update|check]")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
