"""Debian's HAProxy 2.6 in master-worker mode, run as a child of the balancer, and its two
sockets: the worker's runtime API (stats socket) and the master's CLI (reload).

The balancer owns HAProxy rather than `dockyard up` running it as a program of its own: the
configuration must exist before HAProxy starts and only the balancer writes it, and a reload
is asked through the master socket by that same process. HAProxy binds with SO_REUSEPORT, so a
restarted balancer starts its HAProxy beside one left by a balancer that was killed, and then
soft-stops the old one (`SIGUSR1`: it stops listening and finishes its connections).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from dockyard.domain.errors import RuntimeFailure, Unavailable

log = logging.getLogger("dockyard.balancer")
ANSWER_S = 10.0
OK_ANSWERS = ("changed from", "no need to change")
"""Runtime API answers that report a success (other non-empty answers are errors)."""


@dataclass(frozen=True)
class HaproxyFiles:
    """Where one HAProxy keeps its configuration, map, sockets and PID file."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "haproxy.cfg"

    @property
    def map_file(self) -> Path:
        return self.root / "hosts.map"

    @property
    def stats_socket(self) -> Path:
        return self.root / "haproxy.sock"

    @property
    def master_socket(self) -> Path:
        return self.root / "master.sock"

    @property
    def pid_file(self) -> Path:
        return self.root / "haproxy.pid"


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` in one rename: HAProxy never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    partial.replace(path)


async def ask(socket: Path, command: str, *, timeout_s: float = ANSWER_S) -> str:
    """One command on a HAProxy CLI socket (several joined by `;`), and its whole answer.
    Unavailable if the socket does not answer."""
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_unix_connection(str(socket))
            try:
                writer.write(command.encode() + b"\n")
                await writer.drain()
                writer.write_eof()  # the master CLI answers only once its input ends
                return (await reader.read()).decode(errors="replace")
            finally:
                writer.close()
    except (OSError, TimeoutError) as exc:
        raise Unavailable(f"HAProxy's socket {socket} does not answer: {exc!r}") from exc


def failures(answer: str) -> list[str]:
    """The error lines of a runtime API answer."""
    lines = [line.strip() for line in answer.splitlines() if line.strip()]
    return [line for line in lines if not any(ok in line for ok in OK_ANSWERS)]


class Haproxy:
    """One HAProxy master process, started and reloaded by this process."""

    def __init__(self, files: HaproxyFiles, *, binary: str = "haproxy") -> None:
        self.files = files
        self._binary = binary
        self._process: asyncio.subprocess.Process | None = None

    async def check(self, config: Path) -> None:
        """RuntimeFailure with HAProxy's words unless `config` is valid."""
        process = await asyncio.create_subprocess_exec(
            self._binary, "-c", "-q", "-f", str(config),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeFailure(
                f"HAProxy refuses {config}: {out.decode(errors='replace')[-2000:]}"
            )

    async def start(self) -> None:
        """Start HAProxy on the written configuration and wait until its worker answers;
        soft-stop one a killed balancer left behind."""
        await self.check(self.files.config)
        left = _recorded_pid(self.files.pid_file)
        self.files.stats_socket.unlink(missing_ok=True)
        self._process = await asyncio.create_subprocess_exec(
            self._binary, "-W", "-db", "-f", str(self.files.config),
            "-S", f"{self.files.master_socket},mode,600", "-p", str(self.files.pid_file),
        )  # fmt: skip
        await self._wait_worker(old=None)
        if left is not None and left != self._process.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(left, signal.SIGUSR1)
                log.info("soft-stopped the HAProxy (pid %d) an earlier balancer left", left)
        log.info("HAProxy started: master pid %d", self._process.pid)

    async def reload(self) -> None:
        """Load the written configuration in a new worker (the old one finishes its
        connections), and wait until the new worker answers."""
        await self.check(self.files.config)
        old = await self.worker_pid()
        answer = await ask(self.files.master_socket, "reload")
        if answer.strip():
            raise RuntimeFailure(f"HAProxy's master refused a reload: {answer.strip()}")
        await self._wait_worker(old=old)

    async def apply(self, commands: tuple[str, ...]) -> list[str]:
        """Run runtime API commands in order; the error lines, if any."""
        errors: list[str] = []
        for start in range(0, len(commands), 50):  # one connection per batch of commands
            batch = commands[start : start + 50]
            errors += failures(await ask(self.files.stats_socket, ";".join(batch)))
        return errors

    async def worker_pid(self) -> int | None:
        """The PID of the worker answering the stats socket, or None if none answers."""
        try:
            info = await ask(self.files.stats_socket, "show info", timeout_s=1.0)
        except Unavailable:
            return None
        for line in info.splitlines():
            if line.startswith("Pid:"):
                return int(line.split(":", 1)[1])
        return None

    def exit_status(self) -> int | None:
        """The master's exit status once it ended; None while it runs or before `start`."""
        return None if self._process is None else self._process.returncode

    async def stop(self, *, timeout_s: float = 10.0) -> None:
        """Stop the master and its workers (SIGTERM, SIGKILL after `timeout_s`)."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            async with asyncio.timeout(timeout_s):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()

    async def _wait_worker(self, *, old: int | None) -> None:
        deadline = time.monotonic() + ANSWER_S
        while time.monotonic() < deadline:
            if self._process is not None and self._process.returncode is not None:
                raise RuntimeFailure(f"HAProxy exited with status {self._process.returncode}")
            pid = await self.worker_pid()
            if pid is not None and pid != old:
                return
            await asyncio.sleep(0.02)
        raise RuntimeFailure(f"HAProxy's worker did not answer within {ANSWER_S:.0f} s")


def _recorded_pid(pid_file: Path) -> int | None:
    """The PID in `pid_file` if that process still runs HAProxy (not a reused PID)."""
    try:
        pid = int(pid_file.read_text().split()[0])
        command = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError, IndexError):
        return None
    return pid if command == "haproxy" else None
