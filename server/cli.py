"""The `hub` command: dev, serve, worker, migrate and territories load, with translated messages."""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from hub.settings import Settings, SettingsError, console_locale, environment, load_settings
from i18n import gettext_for, ngettext_for

logger = logging.getLogger("server.cli")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2

#: commands that sign nothing, so they run without HUB_SECRET_KEY outside development too
NO_SECRET_NEEDED = frozenset({"migrate", "territories", "admin"})


def _run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run a long-lived service on uvloop where it is installed (faster sockets for the API and the
    worker's fan-out), else on the standard event loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def build_parser(locale: str) -> argparse.ArgumentParser:
    _ = gettext_for(locale)

    class Formatter(argparse.HelpFormatter):
        def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
            super().add_usage(usage, actions, groups, prefix if prefix is not None else _("usage: "))

    def parser_of(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser._positionals.title = _("commands and arguments")
        parser._optionals.title = _("options")
        parser.add_argument("-h", "--help", action="help", help=_("show this help and exit"))
        return parser

    def server_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--host", default="127.0.0.1", help=_("address to listen on (default: 127.0.0.1)")
        )
        parser.add_argument("--port", type=int, default=8000, help=_("port to listen on (default: 8000)"))

    parser = parser_of(
        argparse.ArgumentParser(
            prog="hub",
            add_help=False,
            formatter_class=Formatter,
            description=_("The hub of the Pays de Bitche and its German neighbours."),
            epilog=_(
                "Configuration comes from HUB_* environment variables. Without HUB_DATABASE_URL and "
                "HUB_REDIS_URL, embedded PostgreSQL and Redis servers run in HUB_DATA_DIR (default: ./.hub)."
            ),
        )
    )
    commands = parser.add_subparsers(dest="command", metavar=_("COMMAND"), required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return parser_of(
            commands.add_parser(
                name, help=help_text, description=help_text, add_help=False, formatter_class=Formatter
            )
        )

    server_options(
        command(
            "dev",
            _(
                "development: API and worker together, with embedded servers, migrations, municipalities "
                "and local mail and push"
            ),
        )
    )
    server_options(command("serve", _("run the API (apply migrations first with “hub migrate”)")))
    worker = command("worker", _("run the background worker"))
    worker.add_argument(
        "--check",
        action="store_true",
        help=_("only check that a worker reported health recently (exit status 1 if none did)"),
    )
    worker.add_argument(
        "--lane",
        choices=("both", "bulk", "urgent"),
        default="both",
        help=_(
            "the queues this process serves: both (the default), bulk (fan-outs, digests, scheduled jobs) "
            "or urgent (care alerts, severe warnings), so that urgent work can have processes of its own"
        ),
    )
    migrate = command("migrate", _("apply pending database migrations"))
    migrate.add_argument("--status", action="store_true", help=_("only show which migrations are applied"))
    territories = command("territories", _("manage the municipalities of the hub"))
    territory_commands = territories.add_subparsers(dest="action", metavar=_("ACTION"), required=True)
    load = parser_of(
        territory_commands.add_parser(
            "load",
            help=_("load municipalities: the pilot region, or an INSEE or Destatis list"),
            description=_("load municipalities: the pilot region, or an INSEE or Destatis list"),
            add_help=False,
            formatter_class=Formatter,
        )
    )
    load.add_argument(
        "file",
        nargs="?",
        type=Path,
        metavar=_("FILE"),
        help=_("a communes list (INSEE COG or Destatis GV-ISys); without it, the pilot region"),
    )
    _admin_commands(command("admin", _("make or unmake hub administrators")), parser_of, Formatter, _)
    return parser


def _admin_commands(
    admin: argparse.ArgumentParser,
    parser_of: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
    formatter: type[argparse.HelpFormatter],
    _: Callable[[str], str],
) -> None:
    actions = admin.add_subparsers(dest="action", metavar=_("ACTION"), required=True)
    for name, help_text in (
        ("grant", _("make the account of an email address a hub administrator")),
        ("revoke", _("make a hub administrator an ordinary account again")),
        ("list", _("list the hub administrators")),
    ):
        action = parser_of(
            actions.add_parser(
                name, help=help_text, description=help_text, add_help=False, formatter_class=formatter
            )
        )
        if name != "list":
            action.add_argument("email", metavar=_("EMAIL"), help=_("the account's email address"))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `hub` console script; returns the exit code."""
    locale = console_locale(environment())
    args = build_parser(locale).parse_args(argv)
    try:
        code = _run(args)
    except KeyboardInterrupt:
        code = EXIT_OK
    return code


def _run(args: argparse.Namespace) -> int:
    from server import devserver

    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        env = environment()
        if args.command in NO_SECRET_NEEDED and not env.get("HUB_SECRET_KEY"):
            env["HUB_SECRET_KEY"] = secrets.token_urlsafe(48)  # never used: these commands sign nothing
        settings = load_settings(env, dev=args.command == "dev")
    except SettingsError as exc:
        _ = gettext_for(console_locale(env))
        print(
            _("Invalid configuration: {variable}: {message}").format(
                variable=exc.variable, message=exc.message
            ),
            file=sys.stderr,
        )
        return EXIT_CONFIG
    devserver.configure_logging(settings)
    _ = gettext_for(settings.console_locale)
    handlers: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
        "dev": _dev,
        "serve": _serve,
        "worker": _worker,
        "migrate": _migrate,
        "territories": _territories,
        "admin": _admin,
    }
    try:
        return handlers[args.command](settings, args)
    except devserver.StartupError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        # e.g. the data dir cannot be created: one line, not a traceback
        print(_("Cannot start: {error}").format(error=exc), file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:
        logger.exception("hub %s failed", args.command)
        print(_("hub stopped after an unexpected error: {error}").format(error=exc), file=sys.stderr)
        return EXIT_FAILED


def _migrate_or_fail(settings: Settings, database_url: str) -> str:
    from hub import db
    from server import devserver
    from server.domains import MIGRATIONS

    _ = gettext_for(settings.console_locale)
    try:
        return db.migrate(database_url, MIGRATIONS)
    except db.MigrationError as exc:
        raise devserver.StartupError(_("Migrations failed: {error}").format(error=exc)) from exc


def _say_migrated(settings: Settings, output: str) -> None:
    _ = gettext_for(settings.console_locale)
    applied = sum(1 for line in output.splitlines() if line.startswith("Applying:"))
    if applied:
        ngettext = ngettext_for(settings.console_locale)
        message = ngettext(
            "Database: {count} migration applied.", "Database: {count} migrations applied.", applied
        )
        print(message.format(count=applied), flush=True)
    else:
        print(_("Database: up to date."), flush=True)


def _dev(settings: Settings, args: argparse.Namespace) -> int:
    from server import devserver
    from server.domains import DOMAINS

    _ = gettext_for(settings.console_locale)
    print(_("Data directory: {path}").format(path=settings.data_dir), flush=True)
    sock = devserver.listen(args.host, args.port, settings.console_locale)
    try:
        with devserver.data_dir_servers(settings, "dev") as addresses:
            _say_migrated(settings, _migrate_or_fail(settings, addresses.database_url))

            async def run() -> None:
                from accounts import admin

                await devserver.load_reference_data(settings, addresses.database_url, DOMAINS)
                local = await devserver.start_local_endpoints(settings)
                if await admin.make_demo_admin(addresses.database_url):
                    local.notes.append(_(admin.DEV_NOTE).format(email=admin.DEMO_ADMIN_EMAIL))
                try:
                    await devserver.run_services(
                        local.settings,
                        addresses,
                        sock=sock,
                        worker=True,
                        notes=local.notes,
                        extra_routes=local.routes(),
                    )
                finally:
                    await local.close()

            _run_event_loop(run())
    finally:
        sock.close()
    print(_("Stopped."), flush=True)
    return EXIT_OK


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from server import devserver

    _ = gettext_for(settings.console_locale)
    sock = devserver.listen(args.host, args.port, settings.console_locale)
    try:
        with devserver.data_dir_servers(settings, "serve") as addresses:
            _run_event_loop(devserver.run_services(settings, addresses, sock=sock, worker=False))
    finally:
        sock.close()
    print(_("Stopped."), flush=True)
    return EXIT_OK


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from server import devserver

    _ = gettext_for(settings.console_locale)
    if args.check:
        return _worker_check(settings)
    with devserver.data_dir_servers(settings, "worker") as addresses:
        lanes = ("bulk", "urgent") if args.lane == "both" else (args.lane,)
        _run_event_loop(devserver.run_services(settings, addresses, sock=None, worker=True, lanes=lanes))
    print(_("Stopped."), flush=True)
    return EXIT_OK


def _worker_check(settings: Settings) -> int:
    """Exit 0 when a worker of the queue reported health recently, else 1 (for container health checks)."""
    from redis.exceptions import RedisError

    from server import devserver
    from workers.main import HEALTH_CHECK_INTERVAL, worker_healthy

    _ = gettext_for(settings.console_locale)
    redis_url = settings.redis_url or devserver.running_redis_url(settings)
    healthy = False
    if redis_url:
        try:
            healthy = asyncio.run(worker_healthy(redis_url, settings.queue_name))
        except (RedisError, OSError) as exc:
            print(_("Redis is unreachable: {error}").format(error=exc), file=sys.stderr)
    seconds = HEALTH_CHECK_INTERVAL + 1
    if healthy:
        print(_("A worker reported health in the last {seconds} seconds.").format(seconds=seconds))
        return EXIT_OK
    print(
        _("No worker reported health in the last {seconds} seconds.").format(seconds=seconds), file=sys.stderr
    )
    return EXIT_FAILED


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from hub import db
    from server import devserver
    from server.domains import MIGRATIONS

    _ = gettext_for(settings.console_locale)
    with devserver.data_dir_servers(settings, "migrate", with_redis=False) as addresses:
        if args.status:
            try:
                print(db.run_dbmate(addresses.database_url, MIGRATIONS, "status").rstrip(), flush=True)
            except db.MigrationError as exc:
                raise devserver.StartupError(_("Migrations failed: {error}").format(error=exc)) from exc
        else:
            _say_migrated(settings, _migrate_or_fail(settings, addresses.database_url))
    return EXIT_OK


def _territories(settings: Settings, args: argparse.Namespace) -> int:
    from server import devserver

    _ = gettext_for(settings.console_locale)
    with devserver.data_dir_servers(settings, "territories", with_redis=False) as addresses:
        _migrate_or_fail(settings, addresses.database_url)
        try:
            count = asyncio.run(_load_territories(addresses.database_url, args.file))
        except Exception as exc:
            message = _hub_error_text(settings.console_locale, exc)
            if message is None:
                raise
            print(message, file=sys.stderr)
            return EXIT_FAILED
    ngettext = ngettext_for(settings.console_locale)
    message = ngettext("{count} municipality loaded.", "{count} municipalities loaded.", count)
    print(message.format(count=count), flush=True)
    return EXIT_OK


def _admin(settings: Settings, args: argparse.Namespace) -> int:
    from accounts import admin
    from server import devserver

    with devserver.data_dir_servers(settings, "admin", with_redis=False) as addresses:
        _migrate_or_fail(settings, addresses.database_url)
        return asyncio.run(
            admin.run(
                addresses.database_url, args.action, getattr(args, "email", None), settings.console_locale
            )
        )


async def _load_territories(database_url: str, path: Path | None) -> int:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            from territory import service

            if path is None:
                return await service.load_pilot_region(conn)
            return await service.load_file(conn, path)
    finally:
        await conn.close()


def _hub_error_text(locale: str, exc: Exception) -> str | None:
    """A domain error rendered as one translated line, as the API would put it in ``detail``."""
    from hub.errors import HubError
    from i18n import translate

    if not isinstance(exc, HubError):
        return None
    params = dict(exc.params)
    if "reason" in params:
        others = {k: v for k, v in params.items() if k != "reason"}
        params["reason"] = translate(locale, params["reason"], **others)
    return translate(locale, exc.detail, **params)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
