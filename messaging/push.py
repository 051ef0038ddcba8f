"""The push channel: FCM HTTP v1 over one pooled session, one outcome per message, never a retry loop."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import aiohttp
import google.auth.exceptions
import google.auth.transport.requests
import msgspec
import yarl
from google.oauth2 import service_account
from pyfcm import FCMNotification
from pyfcm.errors import FCMError, FCMNotRegisteredError, FCMSenderIdMismatchError, InvalidDataError

from messaging.metrics import observe_send
from messaging.quota import Quota

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
# Server-side trouble: the message was not taken, asking again later is right.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A token is renewed this long before it expires, so no send races its expiry.
_TOKEN_MARGIN = 300.0
_RESERVED_DATA_KEYS = frozenset({"from", "notification", "message_type", "collapse_key"})


class PushMessage(msgspec.Struct, frozen=True):
    """One push to one device; ``data`` carries the notification id and deep link, all values strings."""

    token: str
    title: str
    body: str
    data: dict[str, str]
    urgent: bool
    collapse_key: str | None = None


class PushOutcome(msgspec.Struct, frozen=True):
    """What became of one push; ``retry`` means the caller should schedule it again."""

    status: Literal["sent", "retry", "invalid_token", "failed"]
    message_id: str | None = None
    retry_after: float | None = None
    error: str | None = None
    #: the provider refused for the project's quota (429): every worker should slow down
    quota_exceeded: bool = False


class _Sent(msgspec.Struct, frozen=True):
    name: str


class _FieldViolation(msgspec.Struct, frozen=True):
    field: str = ""
    description: str = ""


class _ErrorDetail(msgspec.Struct, frozen=True, rename="camel"):
    error_code: str | None = None
    reason: str | None = None
    field_violations: list[_FieldViolation] = []


class _ErrorStatus(msgspec.Struct, frozen=True):
    code: int = 0
    message: str = ""
    status: str = ""
    details: list[_ErrorDetail] = []


class _ErrorBody(msgspec.Struct, frozen=True):
    error: _ErrorStatus


class _Reply:
    """Just enough of a requests.Response for pyfcm's parse_response to read our aiohttp answer."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.text = body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.text)


class _TimedRequest:
    """google-auth's requests transport with our timeout instead of its two-minute default."""

    def __init__(self, timeout: float) -> None:
        self._inner = google.auth.transport.requests.Request()
        self._timeout = timeout

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        return self._inner(url, method=method, body=body, headers=headers, timeout=self._timeout, **kwargs)

    def close(self) -> None:
        self._inner.session.close()


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header, given as seconds or as an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


#: stands for the device token in a body built once for many recipients (no real token looks like it)
_TOKEN_MARKER = "hub-token-" + "0" * 24
_TOKEN_MARKER_BYTES = _TOKEN_MARKER.encode()
_TEMPLATE_CACHE = 256


class PushSender:
    """Sends pushes through FCM HTTP v1; one instance per process, shared by all tasks."""

    def __init__(
        self,
        credentials_file: Path,
        endpoint: str,
        *,
        concurrency: int = 64,
        timeout: float = 10.0,
        quota: Quota | None = None,
    ) -> None:
        self._credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            str(credentials_file), scopes=[FCM_SCOPE]
        )
        project_id = self._credentials.project_id
        if not project_id:
            raise ValueError(f"{credentials_file}: no project_id in the service account file")
        self.project_id: str = project_id
        # parsed once: aiohttp would parse a string again for every push
        self.url = yarl.URL(f"{endpoint.rstrip('/')}/v1/projects/{project_id}/messages:send")
        self.concurrency = concurrency
        self.timeout = timeout
        #: the project's FCM quota shared with the other workers (none: not limited here)
        self.quota = quota
        # Only pyfcm's payload building and response mapping are used; its HTTP layer never runs.
        self._fcm = FCMNotification(credentials=self._credentials)
        self._templates: dict[tuple[Any, ...], bytes] = {}
        self._semaphore = asyncio.Semaphore(concurrency)
        self._token_lock = asyncio.Lock()
        self._authorization: str | None = None
        self._token_deadline = 0.0
        self._token_request = _TimedRequest(timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession | None:
        return self._session

    async def start(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.concurrency, keepalive_timeout=60.0)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                raise_for_status=False,
                # FCM sets no cookies: no jar to look through for every push
                cookie_jar=aiohttp.DummyCookieJar(),
            )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        self._token_request.close()

    async def __aenter__(self) -> PushSender:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def send(self, message: PushMessage) -> PushOutcome:
        """Send one push; never raises for network or FCM trouble, never sleeps, never retries."""
        session = self._session
        if session is None:
            raise RuntimeError("PushSender.start() was not awaited, or close() was")
        problem = _check_data(message.data)
        if problem is not None:
            return PushOutcome("failed", error=problem)
        payload = self.payload(message)
        async with self._semaphore:
            started = time.perf_counter()
            outcome = await self._post(session, payload, may_refresh=True)
        observe_send("push", time.perf_counter() - started, outcome.status)
        if outcome.quota_exceeded and self.quota is not None:
            await self.quota.pause(outcome.retry_after)
        return outcome

    async def send_many(self, messages: Sequence[PushMessage]) -> list[PushOutcome]:
        """Send all, at most ``concurrency`` at a time; outcomes in the order of ``messages``."""
        outcomes: list[PushOutcome | None] = [None] * len(messages)
        indices = iter(range(len(messages)))
        if self.quota is not None and messages:
            await self.quota.take(len(messages))

        async def worker() -> None:
            for i in indices:
                outcomes[i] = await self.send(messages[i])

        async with asyncio.TaskGroup() as group:
            for _ in range(min(self.concurrency, len(messages))):
                group.create_task(worker())
        return [outcome for outcome in outcomes if outcome is not None]

    def payload(self, message: PushMessage) -> bytes:
        """The FCM v1 request body, built by pyfcm.

        A fan-out sends the same text to thousands of tokens: pyfcm builds the body once per distinct
        content, with a marker where the token goes, and each message only swaps its token in.
        """
        key = (
            message.title,
            message.body,
            tuple(sorted(message.data.items())),
            message.urgent,
            message.collapse_key,
        )
        template = self._templates.get(key)
        if template is None:
            if len(self._templates) >= _TEMPLATE_CACHE:
                self._templates.clear()
            template = self._build(msgspec.structs.replace(message, token=_TOKEN_MARKER))
            self._templates[key] = template
        token = msgspec.json.encode(message.token)[1:-1]
        return template.replace(_TOKEN_MARKER_BYTES, token)

    def _build(self, message: PushMessage) -> bytes:
        priority_android = "high" if message.urgent else "normal"
        android: dict[str, Any] = {"priority": priority_android}
        apns_headers = {"apns-priority": "10" if message.urgent else "5", "apns-push-type": "alert"}
        aps: dict[str, Any] = {"interruption-level": "time-sensitive" if message.urgent else "active"}
        if message.urgent:
            aps["sound"] = "default"
        if message.collapse_key:
            # A copy sent again after a lost answer replaces the first on the device instead of stacking.
            android["collapse_key"] = message.collapse_key
            android["notification"] = {"tag": message.collapse_key}
            apns_headers["apns-collapse-id"] = message.collapse_key[:64]
        body: bytes = self._fcm.parse_payload(
            fcm_token=message.token,
            notification_title=message.title,
            notification_body=message.body,
            data_payload=dict(message.data),
            android_config=android,
            apns_config={"headers": apns_headers, "payload": {"aps": aps}},
        )
        return body

    async def _post(
        self, session: aiohttp.ClientSession, payload: bytes, *, may_refresh: bool
    ) -> PushOutcome:
        try:
            authorization = await self._authorization_header()
        except (google.auth.exceptions.GoogleAuthError, OSError) as exc:
            return PushOutcome("retry", error=f"OAuth token: {exc}")
        headers = {"Authorization": authorization, "Content-Type": "application/json; charset=UTF-8"}
        try:
            async with session.post(self.url, data=payload, headers=headers) as response:
                status = response.status
                body = await response.read()
                retry_after = response.headers.get("Retry-After")
        except TimeoutError:
            return PushOutcome("retry", error=f"timeout after {self.timeout}s")
        except (aiohttp.ClientError, OSError) as exc:
            return PushOutcome("retry", error=f"connection: {exc!r}")
        if status == 200:
            try:
                return PushOutcome("sent", message_id=msgspec.json.decode(body, type=_Sent).name)
            except msgspec.DecodeError:
                return PushOutcome("sent", error="FCM accepted the message without naming it")
        if status == 401 and may_refresh:
            await self._forget_token(authorization)
            return await self._post(session, payload, may_refresh=False)
        return self._classify(status, body, retry_after)

    def _classify(self, status: int, body: bytes, retry_after: str | None) -> PushOutcome:
        error = _decode_error(body)
        codes = {d.error_code for d in error.details if d.error_code} if error else set()
        text = f"{status} {error.status}: {error.message}" if error else f"{status}: {body[:200]!r}"
        if status in _RETRY_STATUSES or status >= 500:
            return PushOutcome(
                "retry", retry_after=parse_retry_after(retry_after), error=text, quota_exceeded=status == 429
            )
        # pyfcm maps statuses to its error classes; the FCM errorCode decides whether the token is at fault,
        # because a 404 or 403 from a misconfigured endpoint must not delete anybody's device.
        try:
            self._fcm.parse_response(_Reply(status, body))
        except FCMNotRegisteredError:
            if "UNREGISTERED" in codes:
                return PushOutcome("invalid_token", error=text)
        except FCMSenderIdMismatchError:
            if "SENDER_ID_MISMATCH" in codes:
                return PushOutcome("invalid_token", error=text)
        except InvalidDataError:
            if error is not None and _about_token(error):
                return PushOutcome("invalid_token", error=text)
        except FCMError:
            pass
        return PushOutcome("failed", error=text)

    async def _authorization_header(self) -> str:
        if self._authorization is not None and time.monotonic() < self._token_deadline:
            return self._authorization
        async with self._token_lock:
            if self._authorization is not None and time.monotonic() < self._token_deadline:
                return self._authorization
            credentials = self._credentials
            await asyncio.to_thread(credentials.refresh, self._token_request)
            lifetime = 3600.0
            if credentials.expiry is not None:
                expiry = credentials.expiry.replace(tzinfo=dt.UTC)
                lifetime = (expiry - dt.datetime.now(dt.UTC)).total_seconds()
            self._token_deadline = time.monotonic() + max(0.0, lifetime - min(_TOKEN_MARGIN, lifetime / 2))
            self._authorization = f"Bearer {credentials.token}"
            return self._authorization

    async def _forget_token(self, stale: str) -> None:
        async with self._token_lock:
            # Many sends may see the same 401 at once; only the first one throws the token away.
            if self._authorization == stale:
                self._authorization = None


def _decode_error(body: bytes) -> _ErrorStatus | None:
    try:
        return msgspec.json.decode(body, type=_ErrorBody).error
    except msgspec.DecodeError:
        return None


def _about_token(error: _ErrorStatus) -> bool:
    for detail in error.details:
        for violation in detail.field_violations:
            if violation.field == "message.token":
                return True
    return "registration token" in error.message.lower()


def _check_data(data: Mapping[str, object]) -> str | None:
    for key, value in data.items():
        if not isinstance(value, str):
            return f"data[{key!r}] must be a string, not {type(value).__name__}"
        if key in _RESERVED_DATA_KEYS or key.startswith(("google", "gcm")):
            return f"data key {key!r} is reserved by FCM"
    return None
