"""Type aliases for what routes get injected: the request's connection, the queue, settings, JWT auth."""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
from arq.connections import ArqRedis
from litestar.di import NamedDependency

from hub.auth import TokenIssuer
from hub.domain import UserData
from hub.settings import Settings

#: the connection of the request's one transaction (committed when the handler returns without error)
Conn: TypeAlias = NamedDependency[asyncpg.Connection]
#: a connection outside any transaction, for routes whose service only reads (one snapshot per statement)
ReadConn: TypeAlias = NamedDependency[asyncpg.Connection]
Queue: TypeAlias = NamedDependency[ArqRedis]
Config: TypeAlias = NamedDependency[Settings]
Issuer: TypeAlias = NamedDependency[TokenIssuer]
#: every domain's share of a person's data, in export order (erasure runs in reverse)
UserDataSections: TypeAlias = NamedDependency[list[UserData]]
