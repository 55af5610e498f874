"""A service's log flood budget in its spec, its labels and the CLI's options: what it may
declare (and the message it gets otherwise), how the CLI merges it, and that templates without
one keep their hash."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from dockyard.agent.logs import sources_of
from dockyard.cli.spec import SpecOptions, spec_patch
from dockyard.domain.errors import Invalid
from dockyard.domain.lograte import LogRate, rate_labels, rate_of_labels
from dockyard.domain.spec import ServiceSpec
from dockyard.logs.budget import UNLIMITED, Rate


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"lines_per_s": 0}, "from 1 to 1,000,000"),
        ({"lines_per_s": 2_000_000}, "from 1 to 1,000,000"),
        ({"lines_per_s": True}, "from 1 to"),
        ({"lines_per_s": 10, "burst": -1}, "log_rate.burst"),
        ("fast", "not an object"),
    ],
)
def test_out_of_range_budgets_are_refused_with_what_to_give(given: Any, says: str) -> None:
    with pytest.raises(Invalid, match=says):
        ServiceSpec.from_json({"image": "app:1", "log_rate": given})


@pytest.mark.parametrize(
    ("given", "rate"),
    [
        (None, None),
        (500, LogRate(500)),
        ({"lines_per_s": 500}, LogRate(500)),
        ({"lines_per_s": 500, "burst": 100}, LogRate(500, 100)),
    ],
)
def test_budget_round_trips_through_the_stored_spec(given: Any, rate: LogRate | None) -> None:
    spec = ServiceSpec.from_json({"image": "app:1", "log_rate": given})
    assert spec.log_rate == rate
    assert ServiceSpec.from_json(spec.to_json()) == spec


def test_a_template_without_budget_keeps_its_hash_and_one_with_a_budget_changes_it() -> None:
    plain = ServiceSpec(image="app:1")
    stored = plain.to_json()
    del stored["log_rate"]  # as stored before budgets existed
    assert ServiceSpec.from_json(stored).template_hash == plain.template_hash
    limited = ServiceSpec(image="app:1", log_rate=LogRate(100))
    assert limited.template_hash != plain.template_hash  # a label: the container is replaced


def test_labels_carry_the_budget_to_the_agent() -> None:
    assert rate_labels(None) == {}
    labels = rate_labels(LogRate(250, 1000))
    assert rate_of_labels(labels) == LogRate(250, 1000)
    with pytest.raises(Invalid, match="malformed"):
        rate_of_labels({"io.dockyard.log-rate": "{"})


def _container(labels: dict[str, str]) -> dict[str, Any]:
    owner = {
        "io.dockyard.team": "t", "io.dockyard.service": "s", "io.dockyard.env": "test",
        "io.dockyard.revision": "1", "io.dockyard.instance": "i1", "io.dockyard.template": "x",
    }  # fmt: skip
    return {"Config": {"Labels": {**owner, **labels}}, "LogPath": "/x-json.log"}


@pytest.mark.parametrize(
    ("labels", "rate"),
    [
        ({}, Rate(7)),  # none declared: the platform's default
        (rate_labels(LogRate(250, 1000)), Rate(250, 1000)),
        ({"io.dockyard.log-rate": "nonsense"}, Rate(7)),  # malformed: logged, the default
    ],
)
def test_agent_takes_the_declared_budget_else_the_default(
    labels: dict[str, str], rate: Rate
) -> None:
    found = sources_of(_container(labels), host="h", default_rate=Rate(7))
    assert found is not None and found.console is not None
    assert found.console.rate == rate


def test_agent_default_is_unlimited() -> None:
    found = sources_of(_container({}), host="h")
    assert found is not None and found.console is not None
    assert found.console.rate == UNLIMITED


@pytest.mark.parametrize(
    ("options", "current", "patch"),
    [
        (SpecOptions(log_rate=500), {}, {"log_rate": {"lines_per_s": 500}}),
        (
            SpecOptions(log_burst=9000),
            {"log_rate": {"lines_per_s": 500, "burst": 0}},
            {"log_rate": {"lines_per_s": 500, "burst": 9000}},
        ),
        (SpecOptions(no_log_rate=True), {"log_rate": {"lines_per_s": 5}}, {"log_rate": None}),
        (SpecOptions(), {"log_rate": {"lines_per_s": 5}}, {}),
    ],
)
def test_cli_options_merge_into_the_budget(
    options: SpecOptions, current: dict[str, Any], patch: dict[str, Any]
) -> None:
    assert spec_patch(options, current) == patch


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"no_log_rate": True, "log_rate": 5}, "--no-log-rate cannot"),
        ({"log_burst": 5}, "--log-burst needs a rate"),
    ],
)
def test_cli_refuses_contradictory_budget_options(kwargs: dict[str, Any], says: str) -> None:
    with pytest.raises(typer.BadParameter, match=says):
        spec_patch(SpecOptions(**kwargs), {})
