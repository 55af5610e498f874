"""The read model behind a service's Logs page: the search form turned into index filters, one
shown line per hit (for the page and for the live view's events alike), and the colour an
instance keeps in every view.

Pure apart from `visible_instances`, which reads the database to check that
the viewer may see the service, exactly as the service page does.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from dockyard.domain.errors import Invalid, Malformed
from dockyard.domain.principal import Principal
from dockyard.logs.archive import rfc3339
from dockyard.logs.build_lines import build_instance, build_number
from dockyard.logs.cut import MARKER
from dockyard.logs.index.base import Filters, Hit
from dockyard.logs.query import LEVELS, normal_level
from dockyard.logs.record import BUILD_ENV, LogEnv
from dockyard.portal.service_page import default_environment
from dockyard.store import build_logs
from dockyard.store import environments as store_envs
from dockyard.store.db import Database

PALETTE = 12
"""Instance colours (`.inst-c0` .. `.inst-c11` in portal.css); more instances share them."""
PAGE_LINES = 100
LIVE_TAIL = 200
"""Lines the live view starts with."""
MAX_FIELD_CHARS = 1024
_CUT = re.compile(re.escape(MARKER).replace(re.escape("{}"), r"(\d+)") + r"\Z")
_MOMENT_FIELDS = ("since", "until")


def colour_of(instance: str) -> int:
    """The palette slot of `instance`: the same in every view and every server process (a CRC,
    not Python's per-process salted hash)."""
    return zlib.crc32(instance.encode()) % PALETTE


def split_cut(text: str) -> tuple[str, int]:
    """`text` without the cut marker the agent appends to an overlong record, and the bytes
    the marker says were cut (0 when the line is whole)."""
    found = _CUT.search(text)
    if found is None:
        return text, 0
    return text[: found.start()], int(found.group(1))


def moment_ns(text: str, field: str) -> int | None:
    """Nanoseconds since the epoch of a form's time (RFC 3339, or a browser's
    `YYYY-MM-DDTHH:MM[:SS]`, read as UTC); None when empty; Malformed naming the field."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise Malformed(
            f"{field} {text!r} is not a time: use 2026-12-06T10:00 (UTC) or RFC 3339", field=field
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


@dataclass(frozen=True)
class LogForm:
    """What the search form holds, as typed (so the page can show it back)."""

    q: str = ""
    instance: str = ""
    stream: str = ""
    level: str = ""
    since: str = ""
    until: str = ""

    def __post_init__(self) -> None:
        for item in fields(self):
            if len(getattr(self, item.name)) > MAX_FIELD_CHARS:
                raise Invalid(f"{item.name} is too long: keep it under {MAX_FIELD_CHARS}")

    def filters(self, *, team: str, service: str, env: LogEnv) -> Filters:
        """The index filters for this form; Malformed naming the first field that is wrong."""
        levels: tuple[str, ...] = ()
        if self.level:
            found = normal_level(self.level)
            if not found:
                raise Malformed(f"unknown level {self.level!r}: use one of {', '.join(LEVELS)}")
            levels = (found,)
        since_ns, until_ns = (moment_ns(getattr(self, f), f) for f in _MOMENT_FIELDS)
        if since_ns is not None and until_ns is not None and until_ns <= since_ns:
            raise Malformed("until must be later than since", field="until")
        return Filters(
            team=team, service=service, env=str(env),
            instances=(self.instance.strip(),) if self.instance.strip() else (),
            streams=(self.stream.strip(),) if self.stream.strip() else (),
            levels=levels, since_ns=since_ns, until_ns=until_ns,
        )  # fmt: skip

    def query_string(self, env: LogEnv, **extra: str) -> str:
        """The URL query of this form in `env` (empty fields left out), plus `extra`."""
        pairs = {"env": str(env), **{f.name: getattr(self, f.name) for f in fields(self)}}
        return urlencode({k: v for k, v in {**pairs, **extra}.items() if v})

    def live(self) -> LogForm:
        """The form the live view follows: no time range (it starts now)."""
        return replace(self, since="", until="")


@dataclass(frozen=True)
class ShownLine:
    """One log line as the page and the live view show it. `text` is untrusted: it is only
    ever escaped (Jinja autoescape, `textContent` in logs.js), never marked safe."""

    time: str  # MM-DD HH:MM:SS.mmm, UTC
    stamp: str  # the full RFC 3339 time, for the tooltip
    instance: str
    colour: int
    channel: str
    seq: int
    stream: str
    level: str
    text: str
    cut: int
    href: str  # the instance's row on the service page, or a build line's build page
    origin: str = ""
    """The instance's revision, image digest and commit (log_origins.py); empty if unknown."""
    image: str = ""
    """The image reference the instance's revision runs (the origin's tooltip)."""

    @property
    def stderr(self) -> bool:
        return self.stream == "stderr"

    def as_event(self) -> dict[str, Any]:
        """The live view's `line` event data."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def shown(hit: Hit, *, service_url: str) -> ShownLine:
    """`hit` as shown, its instance linked to its row on the service page (`service_url`), a
    build's line to that build's page."""
    text, cut = split_cut(hit.text)
    number = build_number(hit.instance) if hit.env == BUILD_ENV else None
    href = (
        f"{service_url}/builds/{number}"
        if number is not None
        else f"{service_url}?env={hit.env}#instance-{hit.instance}"
    )
    full = rfc3339(hit.time_ns)
    return ShownLine(
        time=f"{full[5:10]} {full[11:23]}", stamp=full,
        instance=hit.instance, colour=colour_of(hit.instance), channel=hit.channel,
        seq=hit.seq, stream=hit.stream, level=hit.level, text=text, cut=cut,
        href=href,
    )  # fmt: skip


@dataclass(frozen=True)
class LogPage:
    """What the Logs page shows: the form, a page of lines newest first, the next cursor."""

    team: str
    service: str
    env: LogEnv
    form: LogForm
    instances: tuple[str, ...]  # the environment's current instances, offered in the form
    lines: tuple[ShownLine, ...] = ()
    next_cursor: str | None = None

    def older_url(self, base: str) -> str | None:
        if self.next_cursor is None:
            return None
        return f"{base}?{self.form.query_string(self.env, cursor=self.next_cursor)}"


def visible_instances(
    db: Database, who: Principal, *, team: str, service: str, env: LogEnv | None
) -> tuple[LogEnv, tuple[str, ...]]:
    """The environment to show (`env`, else the service page's default) and its instances
    (for build logs, the latest builds'); NotFound if the service does not exist or `who` may
    not see it."""
    with db.session() as session:
        envs = store_envs.environments(session, who, team=team, service=service)
        if env == BUILD_ENV:
            latest = build_logs.latest_builds(session, team=team, service=service)
            return BUILD_ENV, tuple(build_instance(number, id_) for number, id_ in latest)
    selected = env or default_environment(envs)
    view = next(view for view in envs if view.env == selected)
    return selected, tuple(inst.id for inst in view.instances)
