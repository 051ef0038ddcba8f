"""The `hub` console script, run as a person would: embedded servers, migrations, config errors, dev stop/crash."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from devtools.embedded import free_port

HUB = shutil.which("hub") or str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "hub")
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    path = Path("/tmp") / f"hub-cli-{os.getpid()}-{secrets.token_hex(3)}"
    path.mkdir(mode=0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def hub_env(data_dir: Path, lang: str = "fr_FR.UTF-8", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "LC_"))}
    env.update(HUB_DATA_DIR=str(data_dir), LANG=lang, HUB_QUEUE_NAME=f"hub-cli-{secrets.token_hex(3)}")
    env.update(extra)
    return env


def hub(data_dir: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [HUB, *args], env=hub_env(data_dir, **extra), capture_output=True, text=True, timeout=120, check=False
    )


def server_processes(data_dir: Path) -> list[psutil.Process]:
    """PostgreSQL and Redis servers whose state is in this data dir."""
    found = []
    for process in psutil.process_iter():
        try:
            if str(data_dir / "postgres") in " ".join(process.cmdline()) or (
                process.name().startswith("redis-server") and Path(process.cwd()) == data_dir / "redis"
            ):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


class Dev:
    """A running `hub dev`."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(  # noqa: S603
            [HUB, "dev", "--port", str(self.port)],
            env=hub_env(data_dir, HUB_AUTH_RATE_PER_MINUTE="1000"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.output()
            try:
                if httpx.get(f"{self.base}/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "hub dev did not become ready"
            time.sleep(0.2)

    def output(self) -> str:
        if self.process.poll() is None:
            self.process.kill()
        out, _ = self.process.communicate(timeout=30)
        return out

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = 20) -> tuple[int, str]:
        self.process.send_signal(sig)
        out, _ = self.process.communicate(timeout=timeout)
        return self.process.returncode, out


def test_migrate_twice_is_a_no_op_the_second_time(data_dir: Path) -> None:
    first = hub(data_dir, "migrate")
    assert first.returncode == 0, first.stdout + first.stderr
    again = hub(data_dir, "migrate")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "à jour" in again.stdout
    status = hub(data_dir, "migrate", "--status")
    assert status.returncode == 0
    assert "Pending: 0" in status.stdout
    assert not server_processes(data_dir)


def test_two_migrations_started_at_once_both_succeed(data_dir: Path) -> None:
    runs = [
        subprocess.Popen(  # noqa: S603
            [HUB, "migrate"],
            env=hub_env(data_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    for run in runs:
        out, _ = run.communicate(timeout=120)
        assert run.returncode == 0, out
    assert not server_processes(data_dir)


@pytest.mark.parametrize(("variable", "value"), [("HUB_SMTP_PORT", "abc"), ("HUB_DATABASE_URL", "mysql://x")])
@pytest.mark.parametrize(("lang", "word"), [("fr_FR.UTF-8", "attendu"), ("de_DE.UTF-8", "erwartet")])
def test_a_bad_setting_stops_with_one_translated_line(
    tmp_path: Path, variable: str, value: str, lang: str, word: str
) -> None:
    result = subprocess.run(  # noqa: S603
        [HUB, "dev"],
        env=hub_env(tmp_path, lang=lang, **{variable: value}),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert word in lines[0]


def test_dev_keeps_data_across_a_stop_and_survives_a_crash(data_dir: Path) -> None:
    email = f"{uuid.uuid4().hex[:10]}@example.test"
    dev = Dev(data_dir)
    response = httpx.post(
        f"{dev.base}/v1/auth/register",
        json={
            "email": email,
            "password": PASSWORD,
            "display_name": "Lotte",
            "locale": "de",
            "municipality_code": "57089",
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    assert httpx.get(f"{dev.base}/dev/outbox", timeout=5).status_code == 200
    started = time.monotonic()
    code, out = dev.stop(signal.SIGINT)
    assert code == 0, out
    assert time.monotonic() - started < 15
    assert "Traceback" not in out
    assert not server_processes(data_dir)

    dev = Dev(data_dir)
    login = httpx.post(f"{dev.base}/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=10)
    assert login.status_code == 200, login.text
    children = psutil.Process(dev.process.pid).children(recursive=True)
    assert children
    dev.process.kill()
    dev.process.communicate(timeout=10)
    _gone, alive = psutil.wait_procs(children, timeout=20)
    assert not alive
    assert not server_processes(data_dir)

    dev = Dev(data_dir)
    login = httpx.post(f"{dev.base}/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=10)
    assert login.status_code == 200, login.text
    code, out = dev.stop(signal.SIGTERM)
    assert code == 0, out
    assert not server_processes(data_dir)
