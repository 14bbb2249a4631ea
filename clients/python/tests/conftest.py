"""Real `leasehold serve` (and `fenced-resource serve`) processes on free loopback ports, with temp data files.

The binaries are the repository's debug build (`.build/debug/`), or `LEASEHOLD_BIN` / `FENCED_RESOURCE_BIN`.
Async tests are plain coroutines run by `asyncio.run`, each bounded in time.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
#: The longest any one async test may run.
TEST_TIMEOUT = 60.0


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
    process.start()
    try:
        yield process
    finally:
        process.stop()


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
