"""The layout's rules checked on the source: the kernel and i18n import no domain, nothing is wired by name."""

from __future__ import annotations

import ast
from pathlib import Path

from server.domains import DOMAINS, MIGRATIONS

ROOT = Path(__file__).resolve().parents[2]
#: packages the kernel (hub/) and i18n/ must not import
ABOVE_THE_KERNEL = {
    "accounts",
    "territory",
    "communities",
    "care",
    "messaging",
    "server",
    "workers",
    "devtools",
}
OUR_PACKAGES = {"hub", "i18n", *ABOVE_THE_KERNEL}


def _imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.partition(".")[0])
    return found


def test_kernel_and_i18n_import_no_domain() -> None:
    offending = {
        str(path.relative_to(ROOT)): sorted(_imported_packages(path) & ABOVE_THE_KERNEL)
        for package in ("hub", "i18n")
        for path in (ROOT / package).rglob("*.py")
        if _imported_packages(path) & ABOVE_THE_KERNEL
    }
    assert offending == {}


def test_no_package_of_ours_is_imported_by_a_name_in_a_string() -> None:
    offending = []
    for package in OUR_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "import_module"
                ):
                    offending.append(str(path.relative_to(ROOT)))
    assert offending == []


def test_every_domain_has_a_distinct_name_and_existing_migrations() -> None:
    names = [domain.name for domain in DOMAINS]
    assert len(names) == len(set(names))
    assert all(folder.is_dir() and any(folder.glob("*.sql")) for folder in MIGRATIONS)
    versions = [path.name.partition("_")[0] for folder in MIGRATIONS for path in folder.glob("*.sql")]
    assert len(versions) == len(set(versions))  # dbmate applies every folder together by version
