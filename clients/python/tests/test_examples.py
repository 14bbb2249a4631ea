"""The examples as users run them: work-queue workers (one killed with SIGKILL mid-item), a fenced write, and the
README's example."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

from conftest import REPO, Server, binary

EXAMPLES = REPO / "clients" / "python" / "examples"


async def run_worker(server: Server, items: list[str], done: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "work_queue.py"),
        "--server",
        server.address,
        "--items",
        ",".join(items),
        "--done",
        str(done),
        "--ttl",
        "2",
        "--work",
        "0.3",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_work_queue_processes_each_item_once_despite_a_killed_worker(server: Server, tmp_path: Path) -> None:
    items = [f"item-{n}" for n in range(8)]
    done = tmp_path / "done"
    victim = await run_worker(server, items, done)
    assert victim.stdout is not None
    first = (await asyncio.wait_for(victim.stdout.readline(), 20)).decode().split()
    assert first[0] == "start", first
    killed_item, killed_token = first[1], int(first[2])
    victim.send_signal(signal.SIGKILL)  # mid-item (0.3 s of work): it holds the lock and has not recorded the item
    await victim.wait()
    assert not (done / killed_item).exists()
    others = [await run_worker(server, items, done) for _ in range(2)]

    outputs = [await asyncio.wait_for(worker.communicate(), 40) for worker in others]
    for worker, (_, stderr) in zip(others, outputs):
        assert worker.returncode == 0, stderr.decode()
    lines = [line.split() for stdout, _ in outputs for line in stdout.decode().splitlines()]
    finished = [line for line in lines if line[0] == "done"]

    # Every item finished exactly once, and recorded once.
    assert sorted(line[1] for line in finished) == sorted(items)
    assert sorted(path.name for path in done.iterdir()) == sorted(items)
    # The killed worker's item was taken by another worker, under a newer grant, once its session expired.
    retaken = [line for line in finished if line[1] == killed_item]
    assert len(retaken) == 1 and int(retaken[0][2]) > killed_token
    assert (done / killed_item).read_text().split()[0] == retaken[0][2]


async def test_fenced_write_example_is_refused_its_stale_write(server: Server, tmp_path: Path) -> None:
    resources = Server(
        binary("FENCED_RESOURCE_BIN", "fenced-resource"),
        ["--data", str(tmp_path / "fenced.db"), "--lock-server", server.address],
        tmp_path,
        "fenced",
    )
    resources.start()
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(EXAMPLES / "fenced_write.py"),
            "--server",
            server.address,
            "--resource-server",
            resources.address,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    finally:
        resources.stop()
    output = stdout.decode()
    assert process.returncode == 0, output + stderr.decode()
    assert "A's late write refused: STALE_FENCING_TOKEN" in output
    assert "holds b'from B'" in output


async def test_readme_example_runs_as_written(server: Server) -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## The Python client") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    script = code.group(1)
    assert "127.0.0.1:7420" in script
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script.replace("127.0.0.1:7420", server.address),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()
    assert stdout.decode().count("processing") == 5
