"""The console's descriptor: pages at /console (no API routes, tables, jobs or data of its own)."""

from __future__ import annotations

from console.routes import pages
from hub.domain import Domain

DOMAIN = Domain(name="console", pages=pages, catalog="operator")
