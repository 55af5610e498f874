"""The publish setting: parsing and who may see a service's endpoints."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.domain.errors import Invalid
from dockyard.domain.publish import Publish, parse_publish, publish_json, visible_to
from dockyard.domain.spec import ServiceSpec


@pytest.mark.parametrize(
    ("given", "parsed"),
    [
        (None, "private"),
        ("private", "private"),
        ("all", "all"),
        (["beta"], ("beta",)),
        (["gamma", "beta", "beta"], ("beta", "gamma")),
        ("gamma, beta", ("beta", "gamma")),
    ],
)
def test_publish_parses_its_json_and_cli_forms(given: Any, parsed: Publish) -> None:
    assert parse_publish(given) == parsed


@pytest.mark.parametrize("given", [[], "", ",", ["Bad Name"], 3, {"all": True}, ["a"] * 101])
def test_publish_refuses_anything_else(given: Any) -> None:
    with pytest.raises(Invalid) as caught:
        parse_publish(given)
    assert caught.value.field == "publish"


@pytest.mark.parametrize(
    ("publish", "caller", "visible"),
    [
        ("private", "alpha", True),  # its own team
        ("private", "beta", False),
        ("private", None, True),  # the admin
        ("all", "beta", True),
        (("beta",), "beta", True),
        (("beta",), "gamma", False),
    ],
)
def test_a_team_sees_its_own_and_what_is_published_to_it(
    publish: Publish, caller: str | None, visible: bool
) -> None:
    assert visible_to(publish, owner="alpha", caller=caller) is visible


def test_publish_round_trips_through_the_spec_and_never_changes_the_template() -> None:
    private = ServiceSpec(image="alpha/web:1")
    shared = ServiceSpec.from_json({**private.to_json(), "publish": ["beta"]})
    assert shared.publish == ("beta",)
    assert shared.to_json()["publish"] == publish_json(("beta",)) == ["beta"]
    assert ServiceSpec.from_json(shared.to_json()) == shared
    assert shared.template_hash == private.template_hash
    old = {k: v for k, v in private.to_json().items() if k != "publish"}
    assert ServiceSpec.from_json(old).publish == "private"
