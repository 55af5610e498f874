"""A program a test fixture starts and owns: its output in a log file, stopped by its own PID.

The object-store fixtures (moto's S3, the Swift servers, memcached) start several of these;
each is ended by the PID recorded here, never by name, so programs of other test runs on the
same machine are never touched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


class ChildProcess:
    """One program started by `start()`; `stop()` ends it (SIGTERM, then SIGKILL)."""

    def __init__(self, argv: Sequence[str], *, log_file: Path) -> None:
        self.argv = list(argv)
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self, *, env: dict[str, str] | None = None) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # a Ctrl-C of the test run reaches it only through us
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        """End the program if it still runs; returns once it has exited."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def wait_until(
    ready: Callable[[], bool], *, children: Sequence[ChildProcess], what: str, timeout_s: float
) -> None:
    """Return once `ready()` is true. RuntimeError, naming the log of the culprit, if one of
    `children` exits first or `timeout_s` passes; the caller stops the children."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for child in children:
            if not child.running():
                raise RuntimeError(
                    f"{child.argv[0]} exited while starting {what}: {child.log_tail()}"
                )
        if ready():
            return
        time.sleep(0.05)
    tails = "\n".join(f"--- {child.log_file}\n{child.log_tail(5)}" for child in children)
    raise RuntimeError(f"{what} did not answer in {timeout_s}s:\n{tails}")
