"""A log drain: a team's own destination (syslog, HTTP NDJSON, OTLP) that its services' log lines
are sent on to, as one more durable consumer of the log stream (logs/drainer.py delivers).

Pure rules only: what a valid drain is, which stream subject its consumer reads, which lines
it takes, and the delivery state the drainer reports.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Invalid
from dockyard.domain.ids import check_name

SUBJECT_ROOT = "dockyard.logs"  # logs/record.py's root: `dockyard.logs.TEAM.SERVICE.ENV.INSTANCE`
MAX_HEADERS = 16
URL_MAX = 1024


class DrainKind(enum.StrEnum):
    SYSLOG = "syslog"
    """RFC 5424 messages, octet-counted (RFC 6587), over TCP (`syslog://`) or TLS
    (`syslog+tls://`)."""
    HTTP = "http"
    """POST of NDJSON, one object per line."""
    OTLP = "otlp"
    """OTLP/HTTP JSON: POST to `/v1/logs`."""

    @classmethod
    def parse(cls, value: str) -> DrainKind:
        try:
            return cls(value)
        except ValueError:
            kinds = ", ".join(k.value for k in cls)
            raise Invalid(
                f"unknown drain kind {value!r}: use one of {kinds}", field="kind"
            ) from None


SCHEMES: dict[DrainKind, tuple[str, ...]] = {
    DrainKind.SYSLOG: ("syslog", "syslog+tls"),
    DrainKind.HTTP: ("http", "https"),
    DrainKind.OTLP: ("http", "https"),
}


@dataclass(frozen=True)
class DrainSpec:
    """What a team asked for. Empty `services` / `envs` mean all of them. `headers` (HTTP and
    OTLP) may hold secrets: they are stored, sent, and never shown back. `ca_file` (TLS) is a
    path on the host the drainer runs on; `verify=False` accepts any certificate."""

    team: str
    name: str
    kind: DrainKind
    url: str
    services: tuple[str, ...] = ()
    envs: tuple[Environment, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    ca_file: str | None = None
    verify: bool = True

    def __post_init__(self) -> None:
        check_name(self.team, field="team")
        check_name(self.name, field="name")
        for service in self.services:
            check_name(service, field="services")
        _check_url(self.kind, self.url)
        _check_headers(self.kind, self.headers)
        if (self.ca_file is not None or not self.verify) and not self.tls:
            raise Invalid(
                "ca_file and verify apply to TLS only: use a syslog+tls:// or https:// URL",
                field="ca_file",
            )

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme in ("syslog+tls", "https")

    @property
    def subject(self) -> str:
        """The stream subject its consumer is filtered to: the team's, narrowed to one service
        and/or one environment when only one is asked for (a stream consumer takes one filter;
        lists of several are applied by `takes`)."""
        service = self.services[0] if len(self.services) == 1 else "*"
        env = str(self.envs[0]) if len(self.envs) == 1 else "*"
        if service == "*" and env == "*":
            return f"{SUBJECT_ROOT}.{self.team}.>"
        return f"{SUBJECT_ROOT}.{self.team}.{service}.{env}.*"

    def takes(self, *, team: str, service: str, env: str) -> bool:
        """True if lines of this team, service and environment go to this drain."""
        return (
            team == self.team
            and (not self.services or service in self.services)
            and (not self.envs or env in self.envs)
        )


def _check_url(kind: DrainKind, url: str) -> None:
    if len(url) > URL_MAX or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise Invalid(f"drain URL must be one line of at most {URL_MAX} characters", field="url")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise Invalid(f"drain URL {url!r} cannot be read: {exc}", field="url") from exc
    schemes = SCHEMES[kind]
    if parts.scheme not in schemes:
        want = " or ".join(f"{s}://" for s in schemes)
        raise Invalid(f"a {kind} drain's URL must start with {want}, not {url!r}", field="url")
    try:
        port = parts.port
    except ValueError:
        raise Invalid(f"drain URL {url!r} has a bad port: use 1-65535", field="url") from None
    if not parts.hostname:
        raise Invalid(
            f"drain URL {url!r} names no host: e.g. {schemes[0]}://HOST:PORT", field="url"
        )
    if kind is DrainKind.SYSLOG and port is None:
        raise Invalid(f"a syslog drain's URL needs a port, e.g. {url}:6514", field="url")


def _check_headers(kind: DrainKind, headers: tuple[tuple[str, str], ...]) -> None:
    if headers and kind is DrainKind.SYSLOG:
        raise Invalid("headers apply to http and otlp drains only", field="headers")
    if len(headers) > MAX_HEADERS:
        raise Invalid(f"at most {MAX_HEADERS} headers per drain", field="headers")
    for name, value in headers:
        if not name or not all(c.isalnum() or c in "-_" for c in name):
            raise Invalid(
                f"header name {name!r}: use letters, digits, '-' and '_'", field="headers"
            )
        if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in value):
            raise Invalid(f"header {name}'s value holds a control character", field="headers")


def consumer_name(drain_id: int) -> str:
    """The durable stream consumer of the drain with this database id: a drain removed and made
    again under the same name is a new consumer, starting afresh."""
    return f"drain_{drain_id}"


@dataclass(frozen=True)
class DrainState:
    """How delivery goes, as the drainer last wrote it (None/0 before it first did)."""

    delivered: int = 0
    """Lines the destination accepted."""
    lost: int = 0
    """Lines never seen by this drain: gone from the stream (its size limit) before delivery."""
    pending: int = 0
    """Stream messages (batches) for this drain not yet delivered and acknowledged."""
    oldest_undelivered: datetime | None = None
    """When the oldest line still waiting for the destination was written."""
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    updated_at: datetime | None = None

    def lag_s(self, now: datetime) -> float | None:
        """Seconds the oldest line waiting for the destination has waited; None if none."""
        if self.oldest_undelivered is None:
            return None
        return max(0.0, (now - self.oldest_undelivered).total_seconds())


@dataclass(frozen=True)
class Drain:
    """A stored drain: its id (naming its consumer), spec, creation time and state."""

    id: int
    spec: DrainSpec
    created_at: datetime
    state: DrainState = field(default_factory=DrainState)
