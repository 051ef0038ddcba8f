"""A loopback server speaking the FCM HTTP v1 protocol (OAuth token and messages:send), with fault injection."""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import itertools
import os
import secrets
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import msgspec
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CREDENTIALS_FILENAME = "fcm-local-credentials.json"
_FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
_ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"
_RESERVED_DATA_KEYS = frozenset({"from", "notification", "message_type", "collapse_key"})
_CLOCK_SKEW = 300


class Notification(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The cross-platform notification block of a message."""

    title: str | None = None
    body: str | None = None
    image: str | None = None


class AndroidConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The Android block of a message, the fields FCM accepts."""

    collapse_key: str | None = None
    priority: Literal["high", "normal", "HIGH", "NORMAL"] | None = None
    ttl: str | None = None
    restricted_package_name: str | None = None
    data: dict[str, str] | None = None
    notification: dict[str, Any] | None = None
    fcm_options: dict[str, Any] | None = None
    direct_boot_ok: bool | None = None


class ApnsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The APNs block of a message: HTTP/2 headers for Apple and the aps payload."""

    headers: dict[str, str] | None = None
    payload: dict[str, Any] | None = None
    fcm_options: dict[str, Any] | None = None


class _Message(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    token: str
    name: str | None = None
    notification: Notification | None = None
    data: dict[str, str] | None = None
    android: AndroidConfig | None = None
    apns: ApnsConfig | None = None
    webpush: dict[str, Any] | None = None
    fcm_options: dict[str, Any] | None = None


class _Envelope(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    message: _Message
    validate_only: bool = False


class RecordedMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A message the server accepted, as a test or the dev page sees it."""

    name: str
    token: str
    title: str | None
    body: str | None
    data: dict[str, str]
    android: AndroidConfig | None
    apns: ApnsConfig | None
    headers: dict[str, str]
    received_at: float


class Fault(msgspec.Struct, frozen=True, kw_only=True):
    """One scripted answer to a send: an HTTP status (None: answer normally), after an optional delay."""

    status: int | None = 503
    retry_after: str | None = None
    delay: float = 0.0


class FcmStats(msgspec.Struct, frozen=True, kw_only=True):
    """Counters since the last reset."""

    accepted: int
    validated_only: int
    unregistered: int
    invalid_token: int
    malformed: int
    unauthorized: int
    injected: int
    token_requests: int
    tokens_issued: int
    max_in_flight: int


class _FieldViolation(msgspec.Struct, frozen=True):
    field: str
    description: str


class _ErrorDetail(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    type: str = msgspec.field(name="@type")
    error_code: str | None = None
    reason: str | None = None
    field_violations: list[_FieldViolation] | None = None


class _ErrorStatus(msgspec.Struct, frozen=True):
    code: int
    message: str
    status: str
    details: list[_ErrorDetail]


class _ErrorBody(msgspec.Struct, frozen=True):
    error: _ErrorStatus


class _TokenAnswer(msgspec.Struct, frozen=True):
    access_token: str
    expires_in: int
    token_type: str


class _OAuthError(msgspec.Struct, frozen=True):
    error: str
    error_description: str


class _JwtHeader(msgspec.Struct, frozen=True):
    alg: str
    kid: str | None = None
    typ: str | None = None


class _JwtClaims(msgspec.Struct, frozen=True):
    iss: str
    aud: str
    scope: str
    iat: int
    exp: int


class _ServiceAccountFile(msgspec.Struct, frozen=True):
    type: str
    project_id: str
    private_key_id: str
    private_key: str
    client_email: str
    client_id: str
    auth_uri: str
    token_uri: str
    universe_domain: str = "googleapis.com"


_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_ERROR_CODES = {429: "QUOTA_EXCEEDED", 500: "INTERNAL", 503: "UNAVAILABLE"}


def _error_json(status: int, message: str, details: list[_ErrorDetail] | None = None) -> bytes:
    body = _ErrorBody(
        error=_ErrorStatus(
            code=status, message=message, status=_STATUS_NAMES.get(status, "UNKNOWN"), details=details or []
        )
    )
    return msgspec.json.encode(body)


def _fcm_detail(code: str) -> _ErrorDetail:
    return _ErrorDetail(type=_FCM_ERROR_TYPE, error_code=code)


_UNREGISTERED = _error_json(404, "Requested entity was not found.", [_fcm_detail("UNREGISTERED")])
_INVALID_TOKEN = _error_json(
    400,
    "The registration token is not a valid FCM registration token",
    [
        _fcm_detail("INVALID_ARGUMENT"),
        _ErrorDetail(
            type=_BAD_REQUEST_TYPE,
            field_violations=[_FieldViolation("message.token", "Invalid registration token")],
        ),
    ],
)
_UNAUTHENTICATED = _error_json(
    401,
    "Request had invalid authentication credentials. Expected OAuth 2 access token.",
    [_ErrorDetail(type=_ERROR_INFO_TYPE, reason="ACCESS_TOKEN_EXPIRED")],
)
_JSON = "application/json"


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class FcmLocal:
    """An FCM HTTP v1 endpoint on loopback, with its own service-account credentials file."""

    def __init__(
        self,
        directory: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        project_id: str = "hub-local",
        latency: float = 0.0,
        token_lifetime: int = 3600,
        record_limit: int = 100_000,
    ) -> None:
        self.directory = directory
        self.host = host
        self.project_id = project_id
        self.latency = latency
        self.token_lifetime = token_lifetime
        self._port = port
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public_key = self._key.public_key()
        self._key_id = secrets.token_hex(20)
        self.client_email = f"hub-push@{project_id}.iam.gserviceaccount.com"
        self._runner: web.ServerRunner | None = None
        self._tokens: dict[str, float] = {}
        self._unregistered: set[str] = set()
        self._invalid: set[str] = set()
        self._faults: collections.deque[Fault] = collections.deque()
        self._token_faults: collections.deque[Fault] = collections.deque()
        # Raw parts only: turning them into RecordedMessage is left to whoever reads them.
        self._records: collections.deque[_Record] = collections.deque(maxlen=record_limit)
        self._ids = itertools.count(1)
        self._id_prefix = f"0:{secrets.token_hex(4)}%"
        self._name_prefix = f"projects/{project_id}/messages/"
        self.base_url = ""
        self._reset_counters()

    def _reset_counters(self) -> None:
        self._accepted = 0
        self._validated_only = 0
        self._unregistered_count = 0
        self._invalid_count = 0
        self._malformed = 0
        self._unauthorized = 0
        self._injected = 0
        self._token_requests = 0
        self._tokens_issued = 0
        self._in_flight = 0
        self._max_in_flight = 0

    @property
    def credentials_file(self) -> Path:
        return self.directory / CREDENTIALS_FILENAME

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    @property
    def in_flight(self) -> int:
        """Sends being answered right now."""
        return self._in_flight

    @property
    def open_connections(self) -> int:
        """Client connections the server currently holds open."""
        if self._runner is None or self._runner.server is None:
            return 0
        return len(self._runner.server.connections)

    async def start(self) -> None:
        """Listen, then write the credentials file whose token_uri points here."""
        # The low-level server without an application or router: the send path is the benchmark's hot path.
        server = web.Server(self._dispatch, access_log=None)
        runner = web.ServerRunner(server, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port, reuse_address=True)
        await site.start()
        self._runner = runner
        port = runner.addresses[0][1]
        self.base_url = f"http://{self.host}:{port}"
        await asyncio.to_thread(self._write_credentials)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FcmLocal:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def _write_credentials(self) -> None:
        pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        info = _ServiceAccountFile(
            type="service_account",
            project_id=self.project_id,
            private_key_id=self._key_id,
            private_key=pem,
            client_email=self.client_email,
            client_id=str(secrets.randbelow(10**20)),
            auth_uri=f"{self.base_url}/auth",
            token_uri=self.token_uri,
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.credentials_file
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(msgspec.json.format(msgspec.json.encode(info)))
        tmp.replace(path)

    # Fault injection and inspection; plain container operations, safe to call from another thread.

    def unregister(self, *tokens: str) -> None:
        """These tokens answer 404 UNREGISTERED, like an app that was uninstalled."""
        self._unregistered.update(tokens)

    def invalidate(self, *tokens: str) -> None:
        """These tokens answer 400 INVALID_ARGUMENT, like a malformed registration token."""
        self._invalid.update(tokens)

    def fail_next(
        self, count: int, status: int | None = 503, *, retry_after: str | None = None, delay: float = 0.0
    ) -> None:
        """The next ``count`` sends get this answer instead of the normal one."""
        self._faults.extend([Fault(status=status, retry_after=retry_after, delay=delay)] * count)

    def fail_token_requests(self, count: int, status: int = 503) -> None:
        self._token_faults.extend([Fault(status=status)] * count)

    def revoke_tokens(self) -> None:
        """Every access token issued so far is refused from now on (401)."""
        self._tokens.clear()

    def messages(self, token: str | None = None) -> list[RecordedMessage]:
        records = list(self._records)
        return [_recorded(r) for r in records if token is None or r[1] == token]

    def stats(self) -> FcmStats:
        return FcmStats(
            accepted=self._accepted,
            validated_only=self._validated_only,
            unregistered=self._unregistered_count,
            invalid_token=self._invalid_count,
            malformed=self._malformed,
            unauthorized=self._unauthorized,
            injected=self._injected,
            token_requests=self._token_requests,
            tokens_issued=self._tokens_issued,
            max_in_flight=self._max_in_flight,
        )

    def reset(self) -> None:
        """Forget messages, faults, token states and counters; issued access tokens stay valid."""
        self._records.clear()
        self._faults.clear()
        self._token_faults.clear()
        self._unregistered.clear()
        self._invalid.clear()
        in_flight = self._in_flight
        self._reset_counters()
        self._in_flight = in_flight

    # HTTP handlers

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        method = request.method
        if method == "POST" and path.startswith(_SEND_PREFIX) and path.endswith(_SEND_SUFFIX):
            return await self._send(request, path[len(_SEND_PREFIX) : -len(_SEND_SUFFIX)])
        if path == "/token":
            if method == "POST":
                return await self._token(request)
        elif path == "/messages":
            if method == "GET":
                return self._list(request)
        else:
            return web.Response(status=404, body=_error_json(404, "Not found."), content_type=_JSON)
        return web.Response(status=405, body=_error_json(405, "Method not allowed."), content_type=_JSON)

    async def _token(self, request: web.BaseRequest) -> web.Response:
        self._token_requests += 1
        if self._token_faults:
            fault = self._token_faults.popleft()
            status = fault.status or 503
            error = "temporarily_unavailable" if status >= 500 else "access_denied"
            return web.Response(
                status=status,
                body=msgspec.json.encode(_OAuthError(error, "Scripted failure.")),
                content_type=_JSON,
            )
        form = await request.post()
        grant_type = form.get("grant_type")
        assertion = form.get("assertion")
        if grant_type != JWT_BEARER_GRANT or not isinstance(assertion, str):
            return self._oauth_error("unsupported_grant_type", "Expected a JWT bearer grant.")
        problem = self._verify_assertion(assertion)
        if problem is not None:
            return self._oauth_error("invalid_grant", problem)
        token = "ya29.local-" + secrets.token_urlsafe(32)
        self._tokens[token] = time.monotonic() + self.token_lifetime
        self._tokens_issued += 1
        answer = _TokenAnswer(access_token=token, expires_in=self.token_lifetime, token_type="Bearer")  # noqa: S106
        return web.Response(body=msgspec.json.encode(answer), content_type=_JSON)

    @staticmethod
    def _oauth_error(error: str, description: str) -> web.Response:
        body = msgspec.json.encode(_OAuthError(error, description))
        return web.Response(status=400, body=body, content_type=_JSON)

    def _verify_assertion(self, assertion: str) -> str | None:
        """Why this JWT is refused, or None when it is good."""
        parts = assertion.split(".")
        if len(parts) != 3:
            return "Invalid JWT: expected three segments."
        try:
            header = msgspec.json.decode(_b64url_decode(parts[0]), type=_JwtHeader)
            claims = msgspec.json.decode(_b64url_decode(parts[1]), type=_JwtClaims)
            signature = _b64url_decode(parts[2])
        except (msgspec.DecodeError, binascii.Error, ValueError) as exc:
            return f"Invalid JWT: {exc}"
        if header.alg != "RS256":
            return "Invalid JWT: only RS256 is accepted."
        if header.kid is not None and header.kid != self._key_id:
            return "Invalid JWT Signature: unknown key id."
        try:
            self._public_key.verify(
                signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            return "Invalid JWT Signature."
        now = time.time()
        if claims.iss != self.client_email:
            return "Invalid JWT: unknown issuer."
        if claims.aud not in (self.token_uri, GOOGLE_TOKEN_AUDIENCE):
            return "Invalid JWT: wrong audience."
        if FCM_SCOPE not in claims.scope.split():
            return "Invalid JWT: the firebase.messaging scope is missing."
        if claims.exp < now - _CLOCK_SKEW or claims.iat > now + _CLOCK_SKEW or claims.exp - claims.iat > 3600:
            return (
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
            )
        return None

    async def _send(self, request: web.BaseRequest, project_id: str) -> web.Response:
        self._in_flight += 1
        if self._in_flight > self._max_in_flight:
            self._max_in_flight = self._in_flight
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            authorization = request.headers.get("Authorization", "")
            expiry = self._tokens.get(authorization[7:]) if authorization.startswith("Bearer ") else None
            if expiry is None or expiry < time.monotonic():
                self._unauthorized += 1
                return web.Response(status=401, body=_UNAUTHENTICATED, content_type=_JSON)
            if project_id != self.project_id:
                return web.Response(
                    status=403,
                    body=_error_json(403, "Permission 'cloudmessaging.messages.create' denied on resource."),
                    content_type=_JSON,
                )
            if self._faults:
                fault = self._faults.popleft()
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.status is not None:
                    self._injected += 1
                    return self._fault_response(fault)
            raw = await request.read()
            try:
                envelope = msgspec.json.decode(raw, type=_Envelope)
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                return self._malformed_response(f"Invalid JSON payload received. {exc}", "message")
            message = envelope.message
            token = message.token
            if token in self._unregistered:
                self._unregistered_count += 1
                return web.Response(status=404, body=_UNREGISTERED, content_type=_JSON)
            if not token or token in self._invalid:
                self._invalid_count += 1
                return web.Response(status=400, body=_INVALID_TOKEN, content_type=_JSON)
            problem = _check_message(message)
            if problem is not None:
                return self._malformed_response(problem[1], problem[0])
            if envelope.validate_only:
                self._validated_only += 1
                return web.Response(
                    body=b'{"name":"' + self._name_prefix.encode() + b'fake_message_id"}', content_type=_JSON
                )
            name = f"{self._name_prefix}{self._id_prefix}{next(self._ids)}"
            self._records.append((name, token, message, request.raw_headers, time.time()))
            self._accepted += 1
            return web.Response(body=b'{"name":"' + name.encode() + b'"}', content_type=_JSON)
        finally:
            self._in_flight -= 1

    def _malformed_response(self, message: str, field: str) -> web.Response:
        self._malformed += 1
        detail = _ErrorDetail(type=_BAD_REQUEST_TYPE, field_violations=[_FieldViolation(field, message)])
        return web.Response(
            status=400,
            body=_error_json(400, message, [_fcm_detail("INVALID_ARGUMENT"), detail]),
            content_type=_JSON,
        )

    @staticmethod
    def _fault_response(fault: Fault) -> web.Response:
        status = fault.status or 503
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
        if status == 401:
            return web.Response(status=401, body=_UNAUTHENTICATED, content_type=_JSON, headers=headers)
        code = _ERROR_CODES.get(status)
        details = [_fcm_detail(code)] if code else []
        body = _error_json(status, "Scripted failure.", details)
        return web.Response(status=status, body=body, content_type=_JSON, headers=headers)

    def _list(self, request: web.BaseRequest) -> web.Response:
        token = request.query.get("token")
        return web.Response(body=msgspec.json.encode(self.messages(token)), content_type=_JSON)


_Record = tuple[str, str, _Message, tuple[tuple[bytes, bytes], ...], float]
_SEND_PREFIX = "/v1/projects/"
_SEND_SUFFIX = "/messages:send"


def _recorded(record: _Record) -> RecordedMessage:
    name, token, message, raw_headers, received_at = record
    notification = message.notification
    return RecordedMessage(
        name=name,
        token=token,
        title=notification.title if notification else None,
        body=notification.body if notification else None,
        data=message.data or {},
        android=message.android,
        apns=message.apns,
        headers={k.decode("latin-1"): v.decode("latin-1") for k, v in raw_headers},
        received_at=received_at,
    )


def _check_message(message: _Message) -> tuple[str, str] | None:
    """The field and reason FCM would refuse this message for, beyond its JSON shape."""
    for key in message.data or ():
        if key in _RESERVED_DATA_KEYS or key.startswith(("google", "gcm")):
            return f"message.data[{key}]", f"Invalid data payload key: {key}"
    apns = message.apns
    if apns is not None and apns.headers is not None:
        priority = apns.headers.get("apns-priority")
        if priority is not None and priority not in ("5", "10", "1"):
            return "message.apns.headers", f"Invalid apns-priority: {priority}"
    return None


class FcmLocalThread:
    """Runs an FcmLocal on its own event loop in a daemon thread, for the CLI."""

    def __init__(self, server: FcmLocal) -> None:
        self.server = server
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 30.0) -> FcmLocal:
        self._thread = threading.Thread(target=self._run, name="fcm-local", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the local FCM endpoint did not start")
        if self._error is not None:
            raise self._error
        return self.server

    def _run(self) -> None:
        loop = _new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self.server.start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.server.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)

    def __enter__(self) -> FcmLocal:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when it is installed (it comes with uvicorn's extras): it doubles what the endpoint sustains."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
