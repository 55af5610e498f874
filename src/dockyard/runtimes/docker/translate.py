"""The one place where docker SDK and transport errors become Dockyard's error vocabulary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from docker.errors import APIError, DockerException
from requests.exceptions import RequestException

from dockyard.domain.errors import (
    Conflict,
    DockyardError,
    Exhausted,
    NotFound,
    RuntimeFailure,
    Unavailable,
)

HTTP_NOT_FOUND = 404
HTTP_CONFLICT = 409
IPAM_UNAVAILABLE = "IPAM unavailable"
# How Dockyard's IPAM driver words a segment with no free address (network/ipam/allocator.py).
IPAM_EXHAUSTED = " is exhausted ("
# How it words a segment the server has not published to etcd (network/ipam/directory.py).
IPAM_UNPUBLISHED = " is not configured in etcd"
# How the engine words a remote IPAM driver it cannot reach: its socket is gone (the agent is
# not running) or nobody listens on it (the agent was killed), or the plugin is not registered.
_DRIVER_CALL = "/IpamDriver."
_DIAL_FAILED = ("connect: no such file or directory", "connect: connection refused")
_PLUGIN_MISSING = ("plugin not found", "could not find plugin")


def unavailable(base_url: str, action: str, cause: object) -> Unavailable:
    return Unavailable(
        f"the Docker engine at {base_url} does not answer ({action}: {cause}): "
        "check that dockerd runs and its socket is reachable, then retry"
    )


def ipam_driver_gone(explanation: str) -> bool:
    """True if the engine failed because it could not reach the IPAM driver at all."""
    if any(words in explanation for words in _PLUGIN_MISSING):
        return True
    return _DRIVER_CALL in explanation and any(words in explanation for words in _DIAL_FAILED)


def from_api_error(exc: APIError, action: str, *, host: str | None = None) -> DockyardError:
    """An engine's refusal -> NotFound (404), Conflict (409), Exhausted or Unavailable (an
    IPAM wait: no free address, the driver or its segment not there yet) or RuntimeFailure
    (anything else). `host` names the engine's host in the IPAM driver's case."""
    explanation = exc.explanation or str(exc)
    if ipam_driver_gone(explanation):
        # The agent serving the driver is down on that host: a wait, not a refusal.
        return Unavailable(
            f"IPAM driver unavailable on host {host or 'of the Docker engine'} ({action}: "
            f"{explanation}): check that `dockyard agent` runs there (`dockyard status`); "
            "new instances wait and start once it serves again"
        )
    if exc.status_code == HTTP_NOT_FOUND:
        return NotFound(f"{action}: {explanation}")
    if exc.status_code == HTTP_CONFLICT:
        return Conflict(f"{action}: {explanation}")
    if IPAM_EXHAUSTED in explanation:
        # No free address in the segment: the instance waits until one is released. The
        # driver's own sentence leads, as the status shows it; what was being done follows.
        return Exhausted(f"{_from_segment(explanation)} ({action})")
    if IPAM_UNAVAILABLE in explanation or IPAM_UNPUBLISHED in explanation:
        # The IPAM driver could not reach etcd, or found no segment there yet: a wait, not a
        # refusal (network/ipam).
        return Unavailable(f"{action}: {explanation}")
    return RuntimeFailure(f"{action}: the Docker engine refused: {explanation}")


def _from_segment(explanation: str) -> str:
    """The IPAM driver's "segment X is exhausted (...)..." without the engine's prefixes."""
    start = explanation.rfind("segment ", 0, explanation.index(IPAM_EXHAUSTED))
    return explanation[start:] if start >= 0 else explanation


@contextmanager
def engine_errors(base_url: str, action: str, *, host: str | None = None) -> Iterator[None]:
    """Re-raise SDK and transport errors inside as Dockyard errors; theirs pass through.
    `host` is the name of the engine's host, for errors that name it."""
    try:
        yield
    except DockyardError:
        raise
    except APIError as exc:
        raise from_api_error(exc, action, host=host) from exc
    except (RequestException, ConnectionError, TimeoutError) as exc:
        # RequestException covers refused and timed-out connections to the socket.
        raise unavailable(base_url, action, exc) from exc
    except DockerException as exc:
        # Raised without an HTTP status, e.g. when the client cannot learn the API version.
        raise unavailable(base_url, action, exc) from exc
