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

from i18n import LOCALE_DIR, LOCALES

ROOT = Path(__file__).resolve().parent.parent
I18N = Path(__file__).resolve().parent

#: source paths whose strings live in a catalog other than their package's name; a file belongs to the
#: longest matching path. Any other package's catalog is its own name (``care/`` → ``care.po``), so a new
#: domain needs nothing here. One catalog per area keeps unrelated changes out of each other's files.
DECLARED: dict[str, tuple[str, ...]] = {
    "hub": ("hub", "i18n", "workers", "accounts"),
    "console": ("server", "devtools"),
    "communities": ("territory",),
    "events": ("communities/events", "communities/partners", "territory/calendar"),
    "warnings": ("official_warnings",),
    "operator": ("console",),
}


def _pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])  # type: ignore[no-untyped-call]


def domain_of(relative: str) -> str | None:
    """The catalog of ``relative`` (a path from the project root): the longest declared path that
    matches it, else its top-level package's name (None for a file at the root)."""
    best: tuple[int, str] | None = None
    for domain, paths in DECLARED.items():
        for prefix in paths:
            matches = relative == prefix or relative.startswith(prefix.rstrip("/") + "/")
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), domain)
    if best is not None:
        return best[1]
    package, _, rest = relative.partition("/")
    return package if rest else None


def _source_files() -> list[str]:
    files = []
    for pattern in ("**/*.py", "**/templates/**/*.j2"):
        for path in ROOT.glob(pattern):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith((".", "tests/", "bench/")) or "/." in relative:
                continue
            files.append(relative)
    return sorted(set(files))


def sources(domain: str) -> list[str]:
    return [relative for relative in _source_files() if domain_of(relative) == domain]


def domains() -> list[str]:
    """Every catalog: those of the source files, and those with a .po file in any locale."""
    found = {domain for relative in _source_files() if (domain := domain_of(relative)) is not None}
    found.update(po.stem for locale in LOCALES for po in (LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po"))
    return sorted(found)


def extract(domain: str, output: Path) -> None:
    files = sources(domain)
    if not files:
        output.write_text("")
        return
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
        *files,
    )


def update(only: str | None = None) -> None:
    for domain in [only] if only else domains():
        pot = I18N / f"{domain}.pot"
        extract(domain, pot)
        with pot.open("rb") as f:
            has_messages = any(m.id for m in read_po(f))
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
                )
            elif has_messages:
                _pybabel("init", "-i", str(pot), "-d", str(LOCALE_DIR), "-l", locale, "-D", domain)


def check(only: str | None = None) -> list[str]:
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for domain in [only] if only else domains():
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
                        "-i",
                        str(po),
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
    only = args[args.index("--domain") + 1] if "--domain" in args else None
    if only is not None and only not in domains():
        print(f"unknown domain {only}; one of {', '.join(domains())}")
        return 2
    if command == "update":
        update(only)
        return 0
    if command == "check":
        problems = check(only)
        for line in problems:
            print(line)
        print(f"catalogs: {len(problems)} problem(s)" if problems else "catalogs: complete")
        return 1 if problems else 0
    print("usage: python -m i18n.catalogs [update|check] [--domain NAME]")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
