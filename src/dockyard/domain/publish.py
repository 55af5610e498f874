"""Who may see a service's endpoints besides its own team: the service's `publish` setting.

`private` (the default): its own team only; `all`: every team; or a list of team names. The
admin sees every service's endpoints. What a caller may not see does not exist for it (404).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from dockyard.domain.errors import Invalid
from dockyard.domain.ids import check_name

PRIVATE = "private"
ALL = "all"
MAX_PUBLISH_TEAMS = 100

Publish: TypeAlias = str | tuple[str, ...]
"""`PRIVATE`, `ALL`, or the names of the teams it is published to (sorted, distinct)."""


def parse_publish(value: Any) -> Publish:
    """The setting from its JSON or CLI form: "private", "all", a list of team names, or a
    comma-separated string of them. Invalid (field `publish`) for anything else."""
    if value is None or value == PRIVATE:
        return PRIVATE
    if value == ALL:
        return ALL
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        raise Invalid("publish must be 'private', 'all' or a list of team names", field="publish")
    if len(value) > MAX_PUBLISH_TEAMS:
        raise Invalid(f"publish names at most {MAX_PUBLISH_TEAMS} teams", field="publish")
    return tuple(sorted({check_name(team, field="publish") for team in value}))


def publish_json(publish: Publish) -> str | list[str]:
    return publish if isinstance(publish, str) else list(publish)


def visible_to(publish: Publish, *, owner: str, caller: str | None) -> bool:
    """True if a caller of team `caller` (None: the admin) may see a service of team `owner`."""
    if caller is None or caller == owner or publish == ALL:
        return True
    return isinstance(publish, tuple) and caller in publish
