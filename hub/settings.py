"""The hub's settings: one frozen Struct built from HUB_* environment variables, here and nowhere else."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from i18n import gettext_for

DEFAULT_FCM_ENDPOINT = "https://fcm.googleapis.com"
DEFAULT_MAIL_FROM = "Hub Pays de Bitche <no-reply@hub.localhost>"
WARNING_FEED_KINDS = ("cap-atom", "dwd", "nina")


class SettingsError(Exception):
    """A configuration value is wrong; the message names the variable, in the console language."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable
        self.message = message


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the hub is configured with; passed in, never imported as a global."""

    data_dir: Path
    secret_key: str
    database_url: str | None = None
    redis_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    #: HUB_PUBLIC_URL was set; otherwise links follow the address ``hub dev`` / ``hub serve`` listens on
    public_url_set: bool = False
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = DEFAULT_MAIL_FROM
    fcm_credentials_file: Path | None = None
    fcm_endpoint: str = DEFAULT_FCM_ENDPOINT
    console_locale: str = "fr"
    queue_name: str = "hub:queue"
    #: pushes in flight per worker lane (one keep-alive connection each): sized for the round trip to FCM
    push_concurrency: int = 256
    #: the FCM project's quota, shared by all workers through Redis
    fcm_quota_per_minute: int = 600_000
    #: jobs each worker runs at once on the urgent queue (besides its bulk jobs)
    urgent_jobs: int = 8
    #: asyncpg's prepared statements per connection; 0 behind a pooler that cannot keep them
    statement_cache_size: int = 100
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    dev_mode: bool = False
    auth_rate_per_minute: int = 20
    log_level: str = "INFO"
    #: official warning feeds as (kind, url): kinds in WARNING_FEED_KINDS
    warning_feeds: tuple[tuple[str, str], ...] = ()
    warning_poll_seconds: int = 60
    #: MQTT broker the worker subscribes to for sensor uplinks (none: no subscription)
    mqtt_url: str | None = None
    #: days delivered or failed deliveries, inbox items, finished emails and ended sessions are kept
    retention_days: int = 180
    #: days the access logs (partner audit, care access log) are kept
    access_log_retention_days: int = 365
    #: proxies whose X-Forwarded-For is believed (addresses or networks); none by default
    trusted_proxies: tuple[str, ...] = ()
    #: ``json`` (one JSON object a line) or ``console`` (readable lines, the default of ``hub dev``)
    log_format: str = "json"
    #: a scraper sending ``Authorization: Bearer <token>`` may read /metrics from anywhere
    metrics_token: str | None = None
    #: addresses or networks (comma-separated) that may read /metrics; empty: loopback only
    metrics_allow: str = ""
    #: where a worker running on its own serves its metrics (loopback only); None: not served
    worker_metrics_port: int | None = None


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def environment() -> dict[str, str]:
    """A copy of the process environment: the one place the hub reads it (the CLI passes it on)."""
    return dict(os.environ)


def console_locale(env: Mapping[str, str]) -> str:
    """The language of console messages: HUB_LANG, else the usual locale variables, else French."""
    raw = env.get("HUB_LANG") or env.get("LC_ALL") or env.get("LC_MESSAGES") or env.get("LANG") or "fr"
    code = raw.split(".")[0].split("_")[0].lower()
    return code if code in {"fr", "de", "en"} else "fr"


def load_settings(env: Mapping[str, str] | None = None, *, dev: bool = False) -> Settings:
    """Build the settings from the environment; ``dev`` allows generated secrets kept in the data dir."""
    env = os.environ if env is None else env
    locale = console_locale(env)
    _ = gettext_for(locale)

    def fail(variable: str, message: str) -> SettingsError:
        return SettingsError(variable, message)

    def url(variable: str, schemes: set[str]) -> str | None:
        value = env.get(variable, "").strip()
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in schemes or not (parts.hostname or parts.path or parts.query):
            raise fail(
                variable,
                _("expected a URL starting with {schemes}").format(schemes=", ".join(sorted(schemes))),
            )
        return value

    def integer(variable: str, default: int, low: int, high: int) -> int:
        value = env.get(variable, "").strip()
        if not value:
            return default
        try:
            number = int(value)
        except ValueError:
            raise fail(variable, _("expected a whole number")) from None
        if not low <= number <= high:
            raise fail(variable, _("expected a number from {low} to {high}").format(low=low, high=high))
        return number

    def boolean(variable: str, default: bool) -> bool:
        value = env.get(variable)
        if value is None:
            return default
        if value.strip().lower() in _TRUE:
            return True
        if value.strip().lower() in _FALSE:
            return False
        raise fail(variable, _("expected true or false"))

    def proxies(variable: str) -> tuple[str, ...]:
        networks = []
        for item in env.get(variable, "").replace(",", " ").split():
            try:
                networks.append(str(ipaddress.ip_network(item, strict=False)))
            except ValueError:
                raise fail(
                    variable,
                    _("expected IP addresses or networks, such as {example}").format(
                        example="10.0.0.0/8 127.0.0.1"
                    ),
                ) from None
        return tuple(networks)

    data_dir = Path(env.get("HUB_DATA_DIR") or ".hub").expanduser().absolute()
    if data_dir.exists() and not data_dir.is_dir():
        raise fail("HUB_DATA_DIR", _("not a directory"))

    database_url = url("HUB_DATABASE_URL", {"postgres", "postgresql"})
    redis_url = url("HUB_REDIS_URL", {"redis", "rediss", "unix"})
    public_url = url("HUB_PUBLIC_URL", {"http", "https"}) or "http://127.0.0.1:8000"
    fcm_endpoint = url("HUB_FCM_ENDPOINT", {"http", "https"}) or DEFAULT_FCM_ENDPOINT
    mqtt_url = url("HUB_MQTT_URL", {"mqtt", "mqtts"})

    secret_key = env.get("HUB_SECRET_KEY", "").strip()
    if secret_key and len(secret_key) < 32:
        raise fail("HUB_SECRET_KEY", _("must be at least 32 characters long"))
    if not secret_key:
        if not dev:
            raise fail("HUB_SECRET_KEY", _("required outside of development mode"))
        secret_key = _dev_secret(data_dir)

    credentials_raw = env.get("HUB_FCM_CREDENTIALS_FILE", "").strip()
    credentials = Path(credentials_raw).expanduser() if credentials_raw else None
    if credentials is not None and not credentials.is_file():
        raise fail("HUB_FCM_CREDENTIALS_FILE", _("file not found: {path}").format(path=credentials))

    smtp_host = env.get("HUB_SMTP_HOST", "").strip() or None
    mail_from = env.get("HUB_MAIL_FROM", "").strip() or DEFAULT_MAIL_FROM
    if "@" not in mail_from:
        raise fail("HUB_MAIL_FROM", _("expected an email address"))
    log_level = (env.get("HUB_LOG_LEVEL") or "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise fail(
            "HUB_LOG_LEVEL", _("expected one of {choices}").format(choices="DEBUG, INFO, WARNING, ERROR")
        )
    log_format = (env.get("HUB_LOG_FORMAT") or ("console" if dev else "json")).strip().lower()
    if log_format not in {"json", "console"}:
        raise fail("HUB_LOG_FORMAT", _("expected one of {choices}").format(choices="json, console"))
    metrics_allow = env.get("HUB_METRICS_ALLOW", "").strip()
    try:
        parse_networks(metrics_allow)
    except ValueError:
        raise fail("HUB_METRICS_ALLOW", _("expected IP addresses or networks separated by commas")) from None
    metrics_token = env.get("HUB_METRICS_TOKEN", "").strip() or None
    if metrics_token is not None and len(metrics_token) < 16:
        raise fail("HUB_METRICS_TOKEN", _("must be at least 16 characters long"))
    worker_metrics_port = integer("HUB_WORKER_METRICS_PORT", 0, 0, 65535) or None

    warning_feeds: list[tuple[str, str]] = []
    for item in env.get("HUB_WARNING_FEEDS", "").split():
        kind, _sep, feed_url = item.partition("=")
        parts = urlsplit(feed_url)
        if kind not in WARNING_FEED_KINDS or parts.scheme not in {"http", "https"} or not parts.hostname:
            raise fail(
                "HUB_WARNING_FEEDS",
                _("expected kind=url pairs separated by spaces, with a kind among {kinds}").format(
                    kinds=", ".join(WARNING_FEED_KINDS)
                ),
            )
        warning_feeds.append((kind, feed_url))

    return Settings(
        data_dir=data_dir,
        secret_key=secret_key,
        database_url=database_url,
        redis_url=redis_url,
        public_url=public_url.rstrip("/"),
        public_url_set=bool(env.get("HUB_PUBLIC_URL", "").strip()),
        smtp_host=smtp_host,
        smtp_port=integer("HUB_SMTP_PORT", 25, 1, 65535),
        smtp_username=env.get("HUB_SMTP_USERNAME") or None,
        smtp_password=env.get("HUB_SMTP_PASSWORD") or None,
        smtp_starttls=boolean("HUB_SMTP_STARTTLS", False),
        mail_from=mail_from,
        fcm_credentials_file=credentials,
        fcm_endpoint=fcm_endpoint.rstrip("/"),
        console_locale=locale,
        queue_name=env.get("HUB_QUEUE_NAME") or "hub:queue",
        push_concurrency=integer("HUB_PUSH_CONCURRENCY", 256, 1, 4096),
        fcm_quota_per_minute=integer("HUB_FCM_QUOTA_PER_MINUTE", 600_000, 1, 100_000_000),
        urgent_jobs=integer("HUB_URGENT_JOBS", 8, 1, 256),
        statement_cache_size=integer("HUB_DATABASE_STATEMENT_CACHE", 100, 0, 10_000),
        access_token_minutes=integer("HUB_ACCESS_TOKEN_MINUTES", 15, 1, 24 * 60),
        refresh_token_days=integer("HUB_REFRESH_TOKEN_DAYS", 30, 1, 365),
        dev_mode=dev,
        auth_rate_per_minute=integer("HUB_AUTH_RATE_PER_MINUTE", 20, 1, 100_000),
        log_level=log_level,
        warning_feeds=tuple(warning_feeds),
        warning_poll_seconds=integer("HUB_WARNING_POLL_SECONDS", 60, 5, 24 * 3600),
        mqtt_url=mqtt_url,
        retention_days=integer("HUB_RETENTION_DAYS", 180, 1, 3650),
        access_log_retention_days=integer("HUB_ACCESS_LOG_RETENTION_DAYS", 365, 1, 3650),
        trusted_proxies=proxies("HUB_TRUSTED_PROXIES"),
        log_format=log_format,
        metrics_token=metrics_token,
        metrics_allow=metrics_allow,
        worker_metrics_port=worker_metrics_port,
    )


def parse_networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Addresses or networks separated by commas (``10.0.0.0/8, 192.0.2.7``); ValueError when one is not."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip()
    )


def _dev_secret(data_dir: Path) -> str:
    """The development secret, generated once and kept (0600) in the data directory."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key
