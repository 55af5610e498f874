"""Raw container JSON from the Engine API -> Observed. Pure: no I/O, `now` is passed in.

Two shapes arrive: the list endpoint's summary (cheap, one round trip for every container) and
the inspect document (one round trip each). `list` uses summaries and inspects only exited
containers, whose exit code and times only inspect gives exactly.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TypedDict

from dockyard.domain.ids import InstanceId
from dockyard.domain.instance import Observed, RunState, owner_from_labels
from dockyard.domain.segment import DOCKER_NETWORK_PREFIX


class EndpointJSON(TypedDict, total=False):
    IPAddress: str


class NetworkSettingsJSON(TypedDict, total=False):
    Networks: dict[str, EndpointJSON] | None


class SummaryJSON(TypedDict, total=False):
    """One entry of GET /containers/json."""

    Id: str
    Labels: dict[str, str] | None
    State: str
    Status: str
    Created: int
    NetworkSettings: NetworkSettingsJSON | None


class StateJSON(TypedDict, total=False):
    Status: str
    ExitCode: int
    StartedAt: str
    FinishedAt: str


class ConfigJSON(TypedDict, total=False):
    Labels: dict[str, str] | None


class InspectJSON(TypedDict, total=False):
    """The parts of GET /containers/{id}/json that Dockyard reads."""

    Id: str
    Created: str
    State: StateJSON
    Config: ConfigJSON
    NetworkSettings: NetworkSettingsJSON | None


# A container being removed or dead will not run again: to a controller it has exited.
_STATES = {
    "created": RunState.CREATED,
    "running": RunState.RUNNING,
    "restarting": RunState.RUNNING,
    "paused": RunState.RUNNING,
    "exited": RunState.EXITED,
    "dead": RunState.EXITED,
    "removing": RunState.EXITED,
}
_EXIT_STATUS = re.compile(r"^Exited \((-?\d+)\)")
_UP_STATUS = re.compile(r"^Up (Less than a second|1 second|(\d+) seconds)\b")


def run_state(docker_state: str) -> RunState:
    """Docker's state word -> RunState; an unknown word counts as exited (not running)."""
    return _STATES.get(docker_state.lower(), RunState.EXITED)


def parse_time(value: str | None) -> datetime | None:
    """An RFC 3339 time from Docker, or None for missing and Go's zero time (year 1)."""
    if not value or value.startswith("0001-"):
        return None
    # Docker writes nanoseconds; Python keeps microseconds.
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", value)
    try:
        return datetime.fromisoformat(trimmed)
    except ValueError:
        return None


def exit_code_from_status(status: str) -> int | None:
    """The exit code in a list Status such as "Exited (137) 3 seconds ago", if there is one."""
    match = _EXIT_STATUS.match(status)
    return int(match.group(1)) if match else None


def started_from_status(status: str, *, now: datetime) -> datetime | None:
    """Start time from a running container's Status, only while it is exact to the second.

    Docker words uptimes past a minute coarsely ("About an hour"); a time derived from those
    could be an hour off, so None is returned rather than a guess.
    """
    match = _UP_STATUS.match(status)
    if not match:
        return None
    seconds = int(match.group(2)) if match.group(2) else (1 if "1 second" in status else 0)
    return now - timedelta(seconds=seconds)


def ip_on(settings: NetworkSettingsJSON | None, network: str) -> str | None:
    """The container's address on `network` (else on a segment's network); None if it has
    none (e.g. not running)."""
    networks = (settings or {}).get("Networks") or {}
    endpoint = networks.get(network) or {}
    if not endpoint.get("IPAddress"):
        # Instances on a segment's network (InstanceSpec.network) are not on the default one.
        endpoint = next(
            (
                found
                for name, found in networks.items()
                if name.startswith(DOCKER_NETWORK_PREFIX) and found.get("IPAddress")
            ),
            endpoint,
        )
    return endpoint.get("IPAddress") or None


def from_summary(entry: SummaryJSON, *, network: str, now: datetime) -> Observed | None:
    """Observed from a list entry; None if its labels are not Dockyard's."""
    owner = owner_from_labels(entry.get("Labels") or {})
    if owner is None:
        return None
    team, service, env, revision, instance, template = owner
    state = run_state(entry.get("State", ""))
    status = entry.get("Status", "")
    created = entry.get("Created")
    return Observed(
        instance_id=InstanceId(instance),
        team=team,
        service=service,
        env=env,
        revision=revision,
        template_hash=template,
        runtime_id=entry.get("Id", ""),
        state=state,
        exit_code=exit_code_from_status(status) if state is RunState.EXITED else None,
        ip=ip_on(entry.get("NetworkSettings"), network) if state is RunState.RUNNING else None,
        created_at=datetime.fromtimestamp(created, UTC) if created else None,
        started_at=started_from_status(status, now=now) if state is RunState.RUNNING else None,
    )


def from_inspect(data: InspectJSON, *, network: str) -> Observed | None:
    """Observed from an inspect document; None if its labels are not Dockyard's."""
    owner = owner_from_labels(data.get("Config", {}).get("Labels") or {})
    if owner is None:
        return None
    team, service, env, revision, instance, template = owner
    raw_state = data.get("State", {})
    state = run_state(raw_state.get("Status", ""))
    return Observed(
        instance_id=InstanceId(instance),
        team=team,
        service=service,
        env=env,
        revision=revision,
        template_hash=template,
        runtime_id=data.get("Id", ""),
        state=state,
        exit_code=raw_state.get("ExitCode") if state is RunState.EXITED else None,
        ip=ip_on(data.get("NetworkSettings"), network) if state is RunState.RUNNING else None,
        created_at=parse_time(data.get("Created")),
        started_at=parse_time(raw_state.get("StartedAt")),
        finished_at=parse_time(raw_state.get("FinishedAt")) if state is RunState.EXITED else None,
    )
