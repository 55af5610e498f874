"""Building and pushing on the Docker engine, through its API (the docker SDK, never the CLI).

Builds use the engine's BuildKit (`version=2`, the context in the request body: no session
needed) unless told to use the classic builder. BuildKit makes only the layers a Dockerfile
adds, where the classic builder creates and commits a container for every step, metadata
ones too: measured here, a COPY-only service built in 0.10 s against 0.26 s, one with a RUN
step in 0.29 s against 0.61 s, and a fully cached rebuild in 0.04 s against 0.05 s.

Both calls stream: every line the engine sends goes to `on_line` as it arrives (BuildKit's
progress decoded by `buildkit_trace`), so the build log grows while the build runs. An error
the engine reports in the stream (a failing RUN, a missing base image, a push the registry
refused) becomes `EngineError` with the engine's own words; an engine that does not answer,
`EngineError` too, saying so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import docker
from docker.errors import APIError, DockerException
from requests.exceptions import RequestException

from dockyard.images.buildkit_trace import TraceLog

Line = Callable[[str], None]


class EngineError(Exception):
    """The engine refused or failed a build or a push; the message is the reason to show."""


class Engine:
    """One engine's build and push. Blocking: call from a worker thread."""

    def __init__(self, base_url: str, *, timeout_s: float = 1800.0, buildkit: bool = True) -> None:
        self._base_url = base_url
        self._timeout_s = timeout_s
        self._version: str | None = None
        self.buildkit = buildkit

    def _client(self) -> docker.APIClient:
        """A client of its own for each call (safe from any thread). The API version is
        negotiated once: `version="auto"` is one more round trip (~6 ms) on every call."""
        try:
            client = docker.APIClient(
                base_url=self._base_url, version=self._version or "auto", timeout=self._timeout_s
            )
        except (DockerException, RequestException) as exc:
            self._version = None
            raise EngineError(
                f"the Docker engine at {self._base_url} does not answer: {exc}"
            ) from exc
        self._version = client.api_version
        return client

    def build(
        self,
        context: Path,
        *,
        dockerfile: str,
        tag: str,
        on_line: Line,
        deadline: float,
        labels: Mapping[str, str] | None = None,
    ) -> str:
        """Build the tar `context` and tag the result `tag`; returns the image id.

        Intermediate containers are removed even when a step fails (forcerm). The layer cache
        is used: an unchanged step is not run again.
        """
        client = self._client()
        trace = TraceLog()
        try:
            with context.open("rb") as tar:
                if self.buildkit:
                    stream = _buildkit_build(
                        client, tar, dockerfile=dockerfile, tag=tag, labels=labels
                    )
                else:
                    stream = client.build(
                        fileobj=tar, custom_context=True, dockerfile=dockerfile, tag=tag,
                        labels=dict(labels) if labels else None, rm=True, forcerm=True,
                        decode=True, pull=False,
                    )  # fmt: skip
                image_id = None
                for chunk in _until(stream, deadline, what="the build"):
                    image_id = _build_chunk(chunk, on_line, trace) or image_id
        except (APIError, RequestException) as exc:
            self._version = None  # the engine may have been replaced: negotiate again
            reason = _explain(exc)
            if self.buildkit and "buildkit" in reason.lower():
                reason += " (an engine without BuildKit: set DOCKYARD_BUILDKIT=false)"
            raise EngineError(f"the engine failed the build: {reason}") from exc
        finally:
            client.close()
        if image_id is None:
            raise EngineError("the engine finished the build without naming an image")
        return image_id

    def push(self, repository: str, tag: str, *, on_line: Line, deadline: float) -> str:
        """Push `repository:tag`; returns the digest the engine reports for it."""
        client = self._client()
        digest = None
        seen: dict[str, str] = {}
        try:
            stream = client.push(repository, tag=tag, stream=True, decode=True)
            for chunk in _until(stream, deadline, what="the push"):
                digest = _push_chunk(chunk, seen, on_line) or digest
        except (APIError, RequestException) as exc:
            self._version = None  # the engine may have been replaced: negotiate again
            raise EngineError(f"the push to the registry failed: {_explain(exc)}") from exc
        finally:
            client.close()
        if digest is None:
            raise EngineError(f"the engine pushed {repository}:{tag} without reporting a digest")
        return digest

    def import_image(self, tar: Path, *, repository: str, tag: str, changes: list[str]) -> str:
        """`docker import` of a root filesystem tar: the image id of repository:tag."""
        client = self._client()
        try:
            with tar.open("rb") as data:
                answer = client.import_image_from_data(
                    data, repository=repository, tag=tag, changes=changes
                )
            return str(client.inspect_image(f"{repository}:{tag}")["Id"]) if answer else ""
        except (APIError, RequestException) as exc:
            self._version = None  # the engine may have been replaced: negotiate again
            raise EngineError(f"importing {repository}:{tag} failed: {_explain(exc)}") from exc
        finally:
            client.close()


def _until(
    stream: Iterator[dict[str, Any]], deadline: float, *, what: str
) -> Iterator[dict[str, Any]]:
    for chunk in stream:
        yield chunk
        if time.monotonic() > deadline:
            raise EngineError(f"{what} took longer than the build timeout; it was stopped")


def _buildkit_build(
    client: docker.APIClient,
    tar: BinaryIO,
    *,
    dockerfile: str,
    tag: str,
    labels: Mapping[str, str] | None,
) -> Iterator[dict[str, Any]]:
    """POST /build with BuildKit. The SDK's `build()` cannot ask for it; its request helpers
    (the engine's errors raised, the JSON stream decoded) are used as `build()` uses them."""
    params = {"t": tag, "dockerfile": dockerfile, "version": "2", "pull": "0"}
    if labels:
        params["labels"] = json.dumps(dict(labels))
    response = client._post(  # private, as said
        client._url("/build"),
        data=tar,
        params=params,
        headers={"Content-Type": "application/x-tar"},
        stream=True,
        timeout=None,
    )
    stream: Iterator[dict[str, Any]] = client._stream_helper(response, decode=True)
    return stream


def _build_chunk(chunk: dict[str, Any], on_line: Line, trace: TraceLog) -> str | None:
    """Log one chunk of a build stream; the image id if the chunk names it."""
    if chunk.get("id") == "moby.buildkit.trace":
        on_line(trace.lines(str(chunk.get("aux") or "")))
        return None
    if "error" in chunk:
        detail = (chunk.get("errorDetail") or {}).get("message") or chunk["error"]
        on_line(f"ERROR: {detail}\n")
        raise EngineError(f"the build failed: {str(detail).strip()}")
    if "stream" in chunk:
        on_line(str(chunk["stream"]))
    elif "status" in chunk:
        on_line(f"{chunk['status']} {chunk.get('progress', '')}".rstrip() + "\n")
    aux = chunk.get("aux")
    return str(aux["ID"]) if isinstance(aux, dict) and "ID" in aux else None


def _push_chunk(chunk: dict[str, Any], seen: dict[str, str], on_line: Line) -> str | None:
    """Log a push chunk once per layer and state (not every progress tick); a digest if any."""
    if "error" in chunk:
        detail = (chunk.get("errorDetail") or {}).get("message") or chunk["error"]
        on_line(f"ERROR: {detail}\n")
        raise EngineError(f"the registry refused the push: {str(detail).strip()}")
    aux = chunk.get("aux")
    if isinstance(aux, dict) and "Digest" in aux:
        return str(aux["Digest"])
    status, layer = str(chunk.get("status") or ""), str(chunk.get("id") or "")
    if status and seen.get(layer) != status:
        seen[layer] = status
        on_line(f"{layer + ': ' if layer else ''}{status}\n")
    return None


def _explain(exc: Exception) -> str:
    if isinstance(exc, APIError):
        return str(exc.explanation or exc)
    return f"{exc.__class__.__name__}: {exc}"
