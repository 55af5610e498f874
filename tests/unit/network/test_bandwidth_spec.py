"""Bandwidth limits in the service spec, the instance labels, and the agent's choice of limits."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.agent.bandwidth import wanted
from dockyard.agent.limits import LimitKey, parse_limits, parse_platform
from dockyard.domain.environment import Environment
from dockyard.domain.errors import Invalid
from dockyard.domain.ids import InstanceId
from dockyard.domain.instance import (
    LABEL_EGRESS_MBIT,
    LABEL_INGRESS_MBIT,
    InstanceSpec,
    Platform,
    bandwidth_from_labels,
)
from dockyard.domain.spec import MAX_BANDWIDTH_MBIT, Bandwidth, ServiceSpec
from dockyard.network.bandwidth import Shaping

IMAGE = "shop/web:1"


@pytest.mark.parametrize("value", [0, -1, MAX_BANDWIDTH_MBIT + 1, 2.5, True, "10"])
def test_out_of_range_or_non_integer_limits_are_invalid(value: Any) -> None:
    with pytest.raises(Invalid, match=r"bandwidth\.egress_mbit") as info:
        Bandwidth(egress_mbit=value)
    assert info.value.field == "bandwidth"


def test_limits_round_trip_through_json() -> None:
    spec = ServiceSpec(image=IMAGE, bandwidth=Bandwidth(egress_mbit=30, ingress_mbit=1))
    assert ServiceSpec.from_json(spec.to_json()) == spec


def test_a_spec_stored_before_limits_existed_is_unlimited() -> None:
    stored = ServiceSpec(image=IMAGE).to_json()
    del stored["bandwidth"]
    assert ServiceSpec.from_json(stored).bandwidth == Bandwidth()


def test_changing_only_limits_keeps_the_template_hash_so_nothing_restarts() -> None:
    plain = ServiceSpec(image=IMAGE)
    limited = ServiceSpec(image=IMAGE, bandwidth=Bandwidth(egress_mbit=30, ingress_mbit=20))
    assert limited.template_hash == plain.template_hash
    assert ServiceSpec(image="shop/web:2").template_hash != plain.template_hash


def test_the_hash_of_a_spec_stored_before_limits_existed_is_unchanged() -> None:
    # The hash a revision stored before this field existed: instances carry it in their labels.
    stored = {k: v for k, v in ServiceSpec(image=IMAGE).to_json().items() if k != "bandwidth"}
    assert ServiceSpec.from_json(stored).template_hash == ServiceSpec(image=IMAGE).template_hash


def instance(bandwidth: Bandwidth) -> InstanceSpec:
    return InstanceSpec(
        team="shop",
        service="web",
        env=Environment.TEST,
        revision=3,
        instance_id=InstanceId("a1b2c3d4e5"),
        spec=ServiceSpec(image=IMAGE, bandwidth=bandwidth),
    )


def test_instance_labels_carry_the_limits_it_starts_with() -> None:
    labels = instance(Bandwidth(egress_mbit=30)).labels
    assert labels[LABEL_EGRESS_MBIT] == "30"
    assert LABEL_INGRESS_MBIT not in labels
    assert bandwidth_from_labels(labels) == Bandwidth(egress_mbit=30)


@pytest.mark.parametrize("bad", ["", "fast", "0", "-5", str(MAX_BANDWIDTH_MBIT + 1)])
def test_malformed_limit_labels_mean_unlimited(bad: str) -> None:
    labels = {LABEL_EGRESS_MBIT: bad, LABEL_INGRESS_MBIT: "20"}
    assert bandwidth_from_labels(labels) == Bandwidth(ingress_mbit=20)


KEY = LimitKey("shop", "web", Environment.TEST)
LABELS = Bandwidth(egress_mbit=40)
ANSWER = {KEY: Bandwidth(ingress_mbit=25)}
SHAPED = Shaping(to_instance=25 * 125_000)

WANTED_CASES: list[tuple[str, dict[LimitKey, Bandwidth] | None, Shaping, Bandwidth | None]] = [
    ("the platform's answer rules", ANSWER, Shaping(), Bandwidth(ingress_mbit=25)),
    ("the platform's answer rules over existing shaping", ANSWER, SHAPED, ANSWER[KEY]),
    ("missing from the answer: unlimited", {}, SHAPED, Bandwidth()),
    ("no answer yet, nothing applied: the labels", None, Shaping(), LABELS),
    ("no answer yet, already shaped: left as it is", None, SHAPED, None),
]


@pytest.mark.parametrize(
    ("known", "found", "expected"),
    [case[1:] for case in WANTED_CASES],
    ids=[case[0] for case in WANTED_CASES],
)
def test_wanted_limits(
    known: dict[LimitKey, Bandwidth] | None, found: Shaping, expected: Bandwidth | None
) -> None:
    assert wanted(known=known, key=KEY, labels=LABELS, found=found) == expected


def test_the_api_answer_parses_into_limits_by_key() -> None:
    answer = {
        "items": [
            {
                "team": "shop",
                "service": "web",
                "env": "test",
                "revision": 4,
                "egress_mbit": None,
                "ingress_mbit": 25,
            }
        ]
    }
    assert parse_limits(answer) == ANSWER


def test_the_api_answer_names_the_platform_whose_containers_are_shaped() -> None:
    answer = {"items": [], "platform": "0123abcd", "adopts_unlabelled": True}
    assert parse_platform(answer) == Platform("0123abcd", adopts_unlabelled=True)
    assert parse_platform({"items": []}) is None  # a server from before platform labels


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"items": [{"team": "shop"}]},
        {"items": [{"team": "shop", "service": "web", "env": "prod"}]},
        {"items": [{"team": "shop", "service": "web", "env": "test", "egress_mbit": -3}]},
    ],
)
def test_a_malformed_api_answer_is_refused(answer: dict[str, Any]) -> None:
    with pytest.raises((KeyError, ValueError, Invalid)):
        parse_limits(answer)
