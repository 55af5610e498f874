"""The agent process keeps running through the netns work its bandwidth part does, and leaves
only when a signal is sent to it or a part fails: never silently, never with status 0 for a
failure.

Seen on a real host: every container start made the bandwidth part look up the instance's veth
inside the container's network namespace; pyroute2 did that in a forked child that it then ended
with SIGTERM, and the child, sharing asyncio's signal wake-up socket, made the agent read that
SIGTERM as its own and leave with status 0. These tests run `run_parts` in a process of its own,
as `dockyard agent` does, with a real network namespace.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="entering another network namespace needs root"
)

# The agent's own loop, with one part that looks up a veth in another namespace many times,
# from a worker thread as the bandwidth part does, then stays up until told to stop.
LOOKUPS = """
import asyncio, logging, sys
logging.basicConfig(level="INFO", format="%(levelname)s %(name)s %(message)s")
from pyroute2 import IPRoute
from dockyard.agent.main import run_parts
from dockyard.domain.errors import NotFound
from dockyard.network.veth import host_veth

def lookups(pid: int, count: int) -> list[str]:
    found = []
    with IPRoute() as host:
        for _ in range(count):
            try:
                found.append(host_veth(pid, host=host))
            except NotFound as exc:
                found.append(f"not found: {exc}")
    return found

async def part() -> None:
    found = await asyncio.to_thread(lookups, int(sys.argv[1]), int(sys.argv[2]))
    print("lookups done", found[-1], flush=True)
    await asyncio.Event().wait()

async def ended() -> None:
    await asyncio.sleep(float(sys.argv[3]))

parts = {"lookups": part()}
if float(sys.argv[3]) > 0:
    parts["short-lived"] = ended()
asyncio.run(run_parts(parts))
"""


@pytest.fixture
def namespace(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """A process in a network namespace of its own, with a veth to the host: (pid, host veth)."""
    holder = subprocess.Popen(["unshare", "--net", "sleep", "300"])
    veth = "dyt" + secrets.token_hex(4)
    try:
        deadline = time.monotonic() + 5
        while os.readlink(f"/proc/{holder.pid}/ns/net") == os.readlink("/proc/self/ns/net"):
            assert time.monotonic() < deadline, "unshare did not enter a new namespace"
            time.sleep(0.01)
        subprocess.run(
            ["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns",
             str(holder.pid)],
            check=True,
        )  # fmt: skip
        yield holder.pid, veth
    finally:
        subprocess.run(["ip", "link", "del", veth], check=False, capture_output=True)
        holder.kill()
        holder.wait()


def _run_agent(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], Path]:
    log = tmp_path / "agent.log"
    process = subprocess.Popen(
        [sys.executable, "-c", LOOKUPS, *args],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return process, log


def _wait_for(log: Path, text: str, process: subprocess.Popen[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text():
        assert process.poll() is None, f"the agent left (status {process.returncode}):\n" + (
            log.read_text()
        )
        assert time.monotonic() < deadline, f"no {text!r} in:\n{log.read_text()}"
        time.sleep(0.05)


def test_veth_lookups_in_another_namespace_do_not_stop_the_agent(
    tmp_path: Path, namespace: tuple[int, str]
) -> None:
    pid, veth = namespace
    process, log = _run_agent(tmp_path, str(pid), "40", "0")
    try:
        _wait_for(log, "lookups done", process, timeout_s=60)
        time.sleep(0.5)  # a signal read as the agent's own would have ended it by now
        assert process.poll() is None, log.read_text()
        assert f"lookups done {veth}" in log.read_text()
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    assert process.returncode == 0, log.read_text()
    assert "agent stopping: SIGTERM received" in log.read_text()


def test_a_part_that_returns_stops_the_agent_with_an_error(
    tmp_path: Path, namespace: tuple[int, str]
) -> None:
    pid, _ = namespace
    process, log = _run_agent(tmp_path, str(pid), "1", "0.2")
    try:
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text()
    assert process.returncode != 0, text
    assert "ERROR dockyard.agent agent part ended part=short-lived reason=it returned" in text
