"""observe.py: Engine API container JSON -> Observed, by table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.instance import RunState
from dockyard.runtimes.docker import observe

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LABELS = {
    "io.dockyard.managed": "true",
    "io.dockyard.team": "shop",
    "io.dockyard.service": "web",
    "io.dockyard.env": "online",
    "io.dockyard.revision": "12",
    "io.dockyard.instance": "abcde12345",
    "io.dockyard.template": "0123456789ab",
}
NETWORKS = {"Networks": {"dy-net": {"IPAddress": "172.18.0.5"}, "other": {"IPAddress": "10.0.0.9"}}}


def summary(**fields: Any) -> observe.SummaryJSON:
    base: dict[str, Any] = {
        "Id": "c0ffee",
        "Labels": LABELS,
        "State": "running",
        "Status": "Up 7 seconds",
        "Created": 1_700_000_000,
        "NetworkSettings": NETWORKS,
    }
    return cast(observe.SummaryJSON, base | fields)


@pytest.mark.parametrize(
    ("docker_state", "status", "state", "exit_code", "ip", "started"),
    [
        ("running", "Up 7 seconds", RunState.RUNNING, None, "172.18.0.5", NOW - timedelta(0, 7)),
        ("running", "Up Less than a second", RunState.RUNNING, None, "172.18.0.5", NOW),
        ("running", "Up 1 second", RunState.RUNNING, None, "172.18.0.5", NOW - timedelta(0, 1)),
        ("running", "Up About an hour", RunState.RUNNING, None, "172.18.0.5", None),
        (
            "paused",
            "Up 5 seconds (Paused)",
            RunState.RUNNING,
            None,
            "172.18.0.5",
            NOW - timedelta(0, 5),
        ),
        ("restarting", "Restarting (1) 2 seconds ago", RunState.RUNNING, None, "172.18.0.5", None),
        ("created", "Created", RunState.CREATED, None, None, None),
        ("exited", "Exited (137) 3 seconds ago", RunState.EXITED, 137, None, None),
        ("exited", "Exited (0) 2 hours ago", RunState.EXITED, 0, None, None),
        ("dead", "Dead", RunState.EXITED, None, None, None),
        ("removing", "Removal In Progress", RunState.EXITED, None, None, None),
    ],
)
def test_summary_maps_state_exit_code_ip_and_start(
    docker_state: str,
    status: str,
    state: RunState,
    exit_code: int | None,
    ip: str | None,
    started: datetime | None,
) -> None:
    found = observe.from_summary(
        summary(State=docker_state, Status=status), network="dy-net", now=NOW
    )
    assert found is not None
    assert (found.state, found.exit_code, found.ip, found.started_at) == (
        state,
        exit_code,
        ip,
        started,
    )


def test_summary_carries_the_owner_from_labels() -> None:
    found = observe.from_summary(summary(), network="dy-net", now=NOW)
    assert found is not None
    assert (found.team, found.service, found.env, found.revision) == (
        "shop",
        "web",
        Environment.ONLINE,
        12,
    )
    assert (found.instance_id, found.template_hash, found.runtime_id) == (
        "abcde12345",
        "0123456789ab",
        "c0ffee",
    )
    assert found.created_at == datetime.fromtimestamp(1_700_000_000, UTC)


@pytest.mark.parametrize(
    "labels",
    [
        None,
        {},
        {k: v for k, v in LABELS.items() if k != "io.dockyard.team"},
        LABELS | {"io.dockyard.env": "production"},
        LABELS | {"io.dockyard.revision": "seven"},
    ],
)
def test_containers_without_valid_labels_are_not_ours(labels: dict[str, str] | None) -> None:
    assert observe.from_summary(summary(Labels=labels), network="dy-net", now=NOW) is None


def test_ip_is_none_when_not_on_our_network() -> None:
    found = observe.from_summary(
        summary(NetworkSettings={"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}}),
        network="dy-net",
        now=NOW,
    )
    assert found is not None and found.ip is None


def inspect(state: dict[str, Any]) -> observe.InspectJSON:
    return {
        "Id": "c0ffee",
        "Created": "2026-01-02T03:00:00.123456789Z",
        "State": state,  # type: ignore[typeddict-item]
        "Config": {"Labels": LABELS},
        "NetworkSettings": NETWORKS,  # type: ignore[typeddict-item]
    }


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (
            {
                "Status": "exited",
                "ExitCode": 3,
                "StartedAt": "2026-01-02T03:00:01.5Z",
                "FinishedAt": "2026-01-02T03:00:02Z",
            },
            (
                RunState.EXITED,
                3,
                None,
                datetime(2026, 1, 2, 3, 0, 1, 500000, UTC),
                datetime(2026, 1, 2, 3, 0, 2, tzinfo=UTC),
            ),
        ),
        (
            {
                "Status": "running",
                "ExitCode": 0,
                "StartedAt": "2026-01-02T03:00:01.000000001Z",
                "FinishedAt": "2026-01-02T02:59:00Z",
            },
            (RunState.RUNNING, None, "172.18.0.5", datetime(2026, 1, 2, 3, 0, 1, tzinfo=UTC), None),
        ),
        (
            {
                "Status": "created",
                "ExitCode": 0,
                "StartedAt": "0001-01-01T00:00:00Z",
                "FinishedAt": "0001-01-01T00:00:00Z",
            },
            (RunState.CREATED, None, None, None, None),
        ),
    ],
)
def test_inspect_gives_exact_exit_code_and_times(
    state: dict[str, Any], expected: tuple[object, ...]
) -> None:
    found = observe.from_inspect(inspect(state), network="dy-net")
    assert found is not None
    assert (found.state, found.exit_code, found.ip, found.started_at, found.finished_at) == expected
    assert found.created_at == datetime(2026, 1, 2, 3, 0, 0, 123456, UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, None),
        ("", None),
        ("0001-01-01T00:00:00Z", None),
        ("not a time", None),
        ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02T03:04:05.987654321+00:00", datetime(2026, 1, 2, 3, 4, 5, 987654, UTC)),
    ],
)
def test_parse_time(text: str | None, expected: datetime | None) -> None:
    assert observe.parse_time(text) == expected
