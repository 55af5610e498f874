"""The one error vocabulary. Every layer raises these; each boundary translates them once.

Every message says what was wrong and what to do about it.
"""

from __future__ import annotations


class DockyardError(Exception):
    """Base of all errors Dockyard reports to a user."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(DockyardError):
    """The request itself is wrong: a bad name, value or combination."""

    code = "invalid"


class Malformed(Invalid):
    """A query the caller wrote cannot be read: its search syntax, a time or a time range, a
    level or a page cursor. The message names the part and how to write it; answered 400
    (a request that is well-formed but refused stays Invalid)."""

    code = "malformed_query"


class NotFound(DockyardError):
    """The thing named does not exist, or the caller may not see it."""

    code = "not_found"


class Conflict(DockyardError):
    """The request is valid but clashes with the current state (e.g. a concurrent change)."""

    code = "conflict"


class QuotaExceeded(DockyardError):
    """The request would take a team over its quota."""

    code = "quota_exceeded"


class Unauthorized(DockyardError):
    """No valid credentials were presented."""

    code = "unauthorized"


class Forbidden(DockyardError):
    """Valid credentials, but this caller may not do this."""

    code = "forbidden"


class TooLarge(DockyardError):
    """The request body is larger than the server accepts."""

    code = "too_large"


class Unavailable(DockyardError):
    """A backing part (engine, database, etcd) does not answer; retrying later may work."""

    code = "unavailable"


class MetricsUnavailable(Unavailable):
    """Prometheus, where Dockyard reads every metric from, does not answer: charts, `top` and
    the query API say so; nothing else depends on it."""

    code = "metrics_unavailable"


class Exhausted(Unavailable):
    """A shared pool (a network segment's addresses) has nothing left for now: instances wait,
    with this reason in their status, until something is freed; it is not a refusal."""

    code = "exhausted"


class DiskFull(Unavailable):
    """A disk Dockyard writes to (its state directory's, or the database server's) has no space
    left: writes are refused until space is freed, reads go on, nothing written is lost."""

    code = "disk_full"


class RuntimeFailure(DockyardError):
    """The runtime refused or failed an operation on an instance (not retryable as-is)."""

    code = "runtime_failure"
