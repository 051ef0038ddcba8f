"""Page rendering for the console: templates in the reader's language, cookies, CSRF tokens."""

from __future__ import annotations

import functools
import hmac
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from litestar import Request, Response
from litestar.datastructures import Cookie

import i18n
from i18n import negotiate
from i18n.content import pick
from i18n.formatting import format_datetime, format_number, format_percent

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

SESSION_COOKIE = "hub_console_session"
CSRF_COOKIE = "hub_console_csrf"
LANG_COOKIE = "hub_console_lang"
CSRF_FIELD = "csrf_token"
#: console languages: French and German (English is for the app's interface only)
CONSOLE_LOCALES = ("fr", "de")


@functools.cache
def _environment(locale: str) -> jinja2.Environment:
    """One environment per language with that language's catalogs (as the emails do)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.filters["datetime"] = lambda value: format_datetime(value, locale, "medium")
    env.filters["number"] = lambda value: format_number(value, locale)
    env.filters["percent"] = lambda value: format_percent(value, locale)
    env.filters["text"] = lambda value: pick(value, locale).text
    return env


def console_locale(request: Request[Any, Any, Any], user_locale: str | None) -> str:
    """``?lang=``, then the language switch's cookie, then the person's profile, then Accept-Language."""
    chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    locale = negotiate(chosen, user_locale, request.headers.get("accept-language"))
    return locale if locale in CONSOLE_LOCALES else "fr"


def secure(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https"


def csrf_token(request: Request[Any, Any, Any]) -> str:
    """The double-submit token: the cookie's value, or a new one that the response will set."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if len(token) < 32:
        token = request.scope.setdefault("state", {}).setdefault("console_csrf", secrets.token_urlsafe(32))
    return str(token)


def csrf_valid(request: Request[Any, Any, Any], submitted: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return len(cookie) >= 32 and submitted is not None and hmac.compare_digest(cookie, submitted)


def cookie(request: Request[Any, Any, Any], key: str, value: str, **options: Any) -> Cookie:
    """A console cookie: HttpOnly, SameSite, Secure over https, valid under /console only."""
    return Cookie(
        key=key,
        value=value,
        path="/console",
        httponly=options.pop("httponly", True),
        samesite=options.pop("samesite", "lax"),
        secure=secure(request),
        **options,
    )


def render(
    request: Request[Any, Any, Any],
    template: str,
    locale: str,
    *,
    status_code: int = 200,
    cookies: list[Cookie] | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response[str]:
    """A page (or an htmx fragment) in ``locale``, with the CSRF and language cookies it needs."""
    token = csrf_token(request)
    context.setdefault("user", None)
    path = request.url.path
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    switch = {code: f"{path}?{urlencode({**query, 'lang': code})}" for code in CONSOLE_LOCALES}
    body = (
        _environment(locale)
        .get_template(template)
        .render(
            locale=locale,
            locales=CONSOLE_LOCALES,
            csrf_field=CSRF_FIELD,
            csrf_token=token,
            language_links=switch,
            path=path,
            **context,
        )
    )
    all_cookies = list(cookies or [])
    if request.cookies.get(CSRF_COOKIE) != token:
        all_cookies.append(cookie(request, CSRF_COOKIE, token, samesite="strict"))
    asked = request.query_params.get("lang")
    if asked in CONSOLE_LOCALES and request.cookies.get(LANG_COOKIE) != asked:
        all_cookies.append(cookie(request, LANG_COOKIE, str(asked), max_age=365 * 24 * 3600))
    response_headers = {"Content-Language": locale, "Cache-Control": "no-store"}
    response_headers.update(headers or {})
    return Response(
        body,
        status_code=status_code,
        media_type="text/html; charset=utf-8",
        cookies=all_cookies,
        headers=response_headers,
    )


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"
