"""Real `leasehold serve` (and `fenced-resource serve`) processes on free loopback ports, with temp data files, and a
throwaway PostgreSQL cluster for the tests of several nodes.

The binaries are the repository's debug build (`.build/debug/`), or `LEASEHOLD_BIN` / `FENCED_RESOURCE_BIN`.
Async tests are plain coroutines run by `asyncio.run`, each bounded in time.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import socket
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import leasehold

REPO = Path(__file__).resolve().parents[3]
#: The longest any one async test may run.
TEST_TIMEOUT = 60.0


async def eventually(
    check: Callable[[], bool | Awaitable[bool]],
    what: str | Callable[[], str],
    attempts: int = 200,
    interval: float = 0.025,
) -> None:
    """Polls `check` (plain or async) until it holds, at most `attempts` times `interval` seconds apart; else fails
    saying `what` never happened (a function for a message made at that point, with what was seen)."""
    for _ in range(attempts):
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"never: {what() if callable(what) else what}")


async def collect_states(session: leasehold.Session, into: list[str]) -> None:
    """Appends each state `session` goes through to `into`, until its stream ends."""
    async for state in session.states():
        into.append(state)


def binary(variable: str, name: str) -> Path:
    path = Path(os.environ.get(variable) or REPO / ".build" / "debug" / name)
    if not path.is_file():
        pytest.fail(f"{path} not found: build it with `swift build` (or set {variable})")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Waits (at most 20 s, in 50 ms steps) until the port accepts connections."""
    for _ in range(400):
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not listen on {port}: {log.read_text()}")


class Server:
    """One `serve` process; `restart()` brings it back on the same port and data file."""

    def __init__(self, executable: Path, arguments: list[str], directory: Path, name: str) -> None:
        self.executable = executable
        self.arguments = arguments
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log = directory / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [str(self.executable), "serve", "--listen", self.address, *self.arguments]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_listening(self.port, self.process, self.log)

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def freeze(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def restart(self) -> None:
        self.kill()
        self.start()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A fresh `leasehold serve` with its own data file."""
    process = Server(binary("LEASEHOLD_BIN", "leasehold"), ["--data", str(tmp_path / "leasehold.db")], tmp_path, "leasehold")
    try:
        process.start()  # inside: a server that starts but never listens is stopped too
        yield process
    finally:
        process.stop()


class PostgresCluster:
    """A throwaway PostgreSQL cluster: `initdb` and `postgres` from Debian's `postgresql` package (which
    `scripts/install-deps.sh` installs), in a temporary folder, on a free loopback port, trusting loopback connections.

    `postgres` is this process's child, started directly (no `pg_ctl`), so that `stop()` stops it by its PID. A small
    shell watches this process and stops the cluster if it dies without tearing down. PostgreSQL refuses to run as
    root: as root (CI) the cluster runs as `nobody`. There is no skipping: a missing PostgreSQL fails the test.
    """

    #: The superuser the tests connect as.
    user = "leasehold"
    host = "127.0.0.1"

    def __init__(self) -> None:
        self.bin = self._find_bin()
        # Not pytest's tmp_path: its parent is private to root, and the cluster may run as nobody.
        self.directory = Path(tempfile.mkdtemp(prefix="leasehold-pg-py-", dir="/tmp"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._databases = 0

    @staticmethod
    def _find_bin() -> Path:
        root = Path("/usr/lib/postgresql")
        found = root.glob("*") if root.is_dir() else iter([])
        versions = sorted((int(path.name) for path in found if path.name.isdigit()), reverse=True)
        for version in versions:
            candidate = root / str(version) / "bin"
            if (candidate / "initdb").is_file() and (candidate / "postgres").is_file():
                return candidate
        pytest.fail(f"PostgreSQL is not installed (no {root}/*/bin/initdb): run scripts/install-deps.sh")

    def _as_owner(self, command: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return command
        return ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", *command]

    def start(self) -> None:
        if os.geteuid() == 0:
            os.chown(self.directory, 65534, 65534)
        data = self.directory / "data"
        environment = {**os.environ, "LC_ALL": "C"}
        initdb = [str(self.bin / "initdb"), "-D", str(data), "-U", self.user, "--auth=trust", "-E", "UTF8"]
        initdb += ["--locale=C", "--no-sync", "--no-instructions"]
        done = subprocess.run(
            self._as_owner(initdb), stdin=subprocess.DEVNULL, capture_output=True, env=environment, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}): {done.stdout.decode()}{done.stderr.decode()}")
        log = self.directory / "postgres.log"
        command = [str(self.bin / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(self.directory)]
        command += ["-c", f"listen_addresses={self.host}", "-c", "fsync=off", "-c", "max_connections=100"]
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                self._as_owner(command),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=environment,
            )
        script = f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; kill -INT {self.process.pid} 2>/dev/null"
        self._watchdog = subprocess.Popen(
            ["/bin/sh", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(400):  # at most 20 s, 50 ms apart
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}: {log.read_text()}")
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-q", "-h", self.host, "-p", str(self.port), "-U", self.user],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=10,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"postgres never accepted connections on {self.port}: {log.read_text()}")

    def create_database(self) -> str:
        """A new empty database; its `postgres://` URL."""
        self._databases += 1
        name = f"py_{os.getpid()}_{self._databases}"
        done = subprocess.run(
            [str(self.bin / "createdb"), "-h", self.host, "-p", str(self.port), "-U", self.user, name],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"createdb failed: {done.stdout.decode()}{done.stderr.decode()}")
        return f"postgres://{self.user}@{self.host}:{self.port}/{name}"

    def stop(self) -> None:
        """Stops `postgres` by its PID (SIGINT: fast shutdown; SIGKILL if it lingers), then the watchdog."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._watchdog is not None and self._watchdog.poll() is None:
            self._watchdog.kill()
            self._watchdog.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster for the test run (each test makes its own database), stopped by PID at the end."""
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Runs `async def` tests with `asyncio.run`, each within TEST_TIMEOUT."""
    function = pyfuncitem.obj
    if not inspect.iscoroutinefunction(function):
        return None
    arguments: dict[str, Any] = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}

    async def bounded() -> None:
        await asyncio.wait_for(function(**arguments), TEST_TIMEOUT)

    asyncio.run(bounded())
    return True
