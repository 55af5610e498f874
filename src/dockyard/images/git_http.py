"""`git http-backend` run as a CGI child, for git's smart HTTP protocol (clone, fetch, push).

The request body is streamed into the child as it arrives and its output streamed back, so a
pack is never held in memory whole: at most `QUEUED_CHUNKS` pieces of output wait for a slow
client before the child is made to wait too. The child runs in a process group of its own
(http-backend starts upload-pack, receive-pack, index-pack...), and `close` kills the whole
group: whatever way a request ends, nothing of it is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from dockyard.domain.errors import TooLarge, Unavailable
from dockyard.images.hosted import git_env

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
QUEUED_CHUNKS = 16
STDERR_KEPT = 2048
MAX_HEAD = 16 * 1024
# Receive-pack is on for every hosted repository: the server authorised the caller already
# (http-backend would also enable it for any REMOTE_USER); fsck refuses corrupt objects.
_CONFIG = (("http.receivepack", "true"), ("receive.fsckObjects", "true"))


@dataclass(frozen=True)
class CgiRequest:
    """What http-backend needs to know of one HTTP request (RFC 3875 meta-variables)."""

    method: str
    path_info: str
    """`/TEAM/SERVICE.git/info/refs` and the like, under the hosted repositories' root."""
    query: str = ""
    content_type: str = ""
    content_encoding: str = ""
    """`gzip` when git compressed the body; http-backend inflates it itself."""
    content_length: int | None = None
    """None for a chunked body: http-backend then reads until the end of its input."""
    remote_user: str = ""
    git_protocol: str = ""
    """The client's `Git-Protocol` header (`version=2`)."""


@dataclass(frozen=True)
class CgiHead:
    status: int
    headers: tuple[tuple[str, str], ...]


def cgi_env(request: CgiRequest, *, project_root: Path) -> dict[str, str]:
    """The child's whole environment for `request` (nothing of the server's own)."""
    env = {
        **git_env(),
        "GIT_PROJECT_ROOT": str(project_root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REQUEST_METHOD": request.method,
        "PATH_INFO": request.path_info,
        "QUERY_STRING": request.query,
        "CONTENT_TYPE": request.content_type,
        "REMOTE_USER": request.remote_user,
        "REMOTE_ADDR": "127.0.0.1",
        "GIT_CONFIG_COUNT": str(len(_CONFIG)),
    }
    for index, (key, value) in enumerate(_CONFIG):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    if request.content_length is not None:
        env["CONTENT_LENGTH"] = str(request.content_length)
    if request.content_encoding:
        env["HTTP_CONTENT_ENCODING"] = request.content_encoding
    if request.git_protocol:
        env["HTTP_GIT_PROTOCOL"] = request.git_protocol
    return env


def too_large(max_bytes: int) -> TooLarge:
    """The refusal of a request body over `max_bytes`."""
    mib, rest = divmod(max_bytes, 1024 * 1024)
    limit = f"{mib} MiB" if not rest else f"{max_bytes} bytes"
    return TooLarge(
        f"the request is larger than {limit} (DOCKYARD_GIT_MAX_BODY_MB); push fewer commits "
        "at a time, or ask the platform admin for a higher limit"
    )


def split_head(buffer: bytes) -> tuple[bytes, bytes] | None:
    """(the CGI head, the body's first bytes) once `buffer` holds the blank line ending the
    head; None while it does not yet."""
    ends = [(i, len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (i := buffer.find(sep)) >= 0]
    if not ends:
        return None
    index, size = min(ends)
    return buffer[:index], buffer[index + size :]


def parse_cgi_head(raw: bytes) -> CgiHead:
    """The status and headers of a CGI response head (RFC 3875 6.2): `Status: 404 Not Found`
    gives the status (default 200) and is not passed on; a malformed line raises ValueError."""
    status = 200
    headers: list[tuple[str, str]] = []
    for line in raw.decode("latin-1").replace("\r\n", "\n").split("\n"):
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or " " in name:
            raise ValueError(f"malformed CGI header line {line!r}")
        value = value.strip()
        if name.lower() == "status":
            code = value.split(" ", 1)[0]
            if not (code.isdigit() and 100 <= int(code) <= 599):
                raise ValueError(f"malformed CGI status {value!r}")
            status = int(code)
        else:
            headers.append((name, value))
    return CgiHead(status=status, headers=tuple(headers))


class Backend:
    """One run of `git http-backend`. Use `start`, then `feed`, `head`, `chunks`; always
    `close` (idempotent): it kills the child's process group if it still runs, and reaps it."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._head: asyncio.Future[CgiHead] = asyncio.get_running_loop().create_future()
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUED_CHUNKS)
        self._stderr = b""
        self._tasks = [
            asyncio.create_task(self._read_stdout()),
            asyncio.create_task(self._read_stderr()),
        ]

    @classmethod
    async def start(cls, request: CgiRequest, *, project_root: Path) -> Backend:
        process = await asyncio.create_subprocess_exec(
            "git", "http-backend",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=cgi_env(request, project_root=project_root),
            start_new_session=True,  # its own process group, killed as one by `close`
        )  # fmt: skip
        return cls(process)

    async def feed(self, body: AsyncIterable[bytes], *, max_bytes: int) -> None:
        """Stream `body` into the child, then end its input. TooLarge past `max_bytes` (the
        child is left to `close`). A child that stopped reading (it answered already, e.g. with
        an error) is not an error here: its answer says what happened."""
        stdin = self._process.stdin
        assert stdin is not None
        size = 0
        try:
            async for chunk in body:
                size += len(chunk)
                if size > max_bytes:
                    raise too_large(max_bytes)
                stdin.write(chunk)
                await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            stdin.close()

    async def head(self) -> CgiHead:
        """The response head, once the child wrote it; Unavailable if it wrote none."""
        return await asyncio.shield(self._head)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The response body after the head, as the child writes it, until it ends."""
        while (chunk := await self._queue.get()) is not None:
            yield chunk

    async def wait(self) -> int:
        """The child's exit status, once it exited (its output read to the end first)."""
        code = await self._process.wait()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if code != 0:
            log.warning("git http-backend exited %s: %s", code, self.stderr_tail)
        return code

    @property
    def stderr_tail(self) -> str:
        return self._stderr.decode("utf-8", "replace").strip()

    async def close(self) -> None:
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            await self._process.wait()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _read_stdout(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        buffer = b""
        try:
            while not self._head.done():
                chunk = await stdout.read(READ_SIZE)
                found = split_head(buffer + chunk)
                if found is not None:
                    self._head.set_result(parse_cgi_head(found[0]))
                    buffer = found[1]
                elif not chunk or len(buffer) + len(chunk) > MAX_HEAD:
                    raise ValueError("no CGI head")
                else:
                    buffer += chunk
        except ValueError as exc:
            await self._process.wait()
            await asyncio.wait(self._tasks[1:], timeout=1.0)  # stderr says why
            self._head.set_exception(
                Unavailable(f"git http-backend gave no answer ({exc}): {self.stderr_tail}")
            )
            return
        if buffer:
            await self._queue.put(buffer)
        while chunk := await stdout.read(READ_SIZE):
            await self._queue.put(chunk)
        await self._queue.put(None)

    async def _read_stderr(self) -> None:
        stderr = self._process.stderr
        assert stderr is not None
        while chunk := await stderr.read(READ_SIZE):
            self._stderr = (self._stderr + chunk)[-STDERR_KEPT:]
