"""Points in time as users type them on the command line: `15m`, `2h`, `3d` ago, or an
absolute RFC 3339 time or date (UTC unless it says otherwise)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import typer

_AGO = re.compile(r"^(\d{1,9})(s|m|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_moment(text: str, *, now: datetime, option: str) -> datetime:
    """The time `text` names, timezone-aware; typer.BadParameter (exit 2) naming `option`."""
    value = text.strip()
    ago = _AGO.match(value)
    if ago:
        return now - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a time: use an age (30s, 15m, 2h, 3d, 1w) or RFC 3339 "
            "(2026-12-06T10:00:00Z, 2026-12-06)",
            param_hint=option,
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
