"""How the portal shows the one error vocabulary: a short title and an HTTP status per kind."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.domain.errors import (
    Conflict,
    DockyardError,
    Forbidden,
    Invalid,
    Malformed,
    NotFound,
    QuotaExceeded,
    TooLarge,
    Unauthorized,
    Unavailable,
)

_SHOWN: dict[type[DockyardError], tuple[str, int]] = {
    Malformed: ("Not understood", 400),  # before Invalid: the first kind that fits is shown
    Invalid: ("Not accepted", 422),
    NotFound: ("Not found", 404),
    Conflict: ("Conflict", 409),
    QuotaExceeded: ("Over quota", 403),
    Unauthorized: ("Not logged in", 401),
    Forbidden: ("Not allowed", 403),
    TooLarge: ("Too large", 413),
    Unavailable: ("Unavailable", 503),
}


@dataclass(frozen=True)
class Notice:
    """A message shown inline: `ok` after a change, `error` when one was refused."""

    kind: str
    title: str
    message: str
    status_code: int = 200


def notice_for(exc: DockyardError) -> Notice:
    title, status = next(
        (shown for kind, shown in _SHOWN.items() if isinstance(exc, kind)), ("Failed", 500)
    )
    message = exc.message[:1].upper() + exc.message[1:]
    return Notice(kind="error", title=title, message=message, status_code=status)


def done(message: str) -> Notice:
    return Notice(kind="ok", title="Done", message=message)
