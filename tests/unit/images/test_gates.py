"""Promotion gates, judged on environment facts alone (time passed in)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dockyard.domain.environment import Environment
from dockyard.images.gates import PromotionRefused, check, gates
from dockyard.store.promotions import EnvFacts, Policy

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
DIGEST = "sha256:" + "e" * 64
IMAGE = f"127.0.0.1:5000/shop/web@{DIGEST}"
TEST = Environment.TEST
SANDBOX = Environment.SANDBOX
ONLINE = Environment.ONLINE


def facts(env: Environment = TEST, *, since_s: float = 600, **changes: object) -> EnvFacts:
    healthy = EnvFacts(
        env=env, revision=3, image=IMAGE, replicas=2, created_by="shop/ci", created_at=NOW,
        phase="available", status_revision=3, available_since=NOW - timedelta(seconds=since_s),
    )  # fmt: skip
    return replace(healthy, **changes)  # type: ignore[arg-type]


def failed(found: list[object]) -> list[str]:
    return [g.name for g in found if not g.passed]  # type: ignore[attr-defined]


def judge(source: EnvFacts, target: Environment, **kw: object) -> list[str]:
    policy = kw.pop("policy", Policy(soak_s=300))
    approvers = kw.pop("approvers", [])
    requester = kw.pop("requester", "shop/ci")
    found = gates(
        source=source, target=target, policy=policy, approvers=approvers,  # type: ignore[arg-type]
        requester=requester, now=NOW,  # type: ignore[arg-type]
    )  # fmt: skip
    return failed(list(found))


@pytest.mark.parametrize(
    ("source", "target", "failing"),
    [
        (facts(), SANDBOX, []),
        (facts(since_s=299), SANDBOX, ["soak"]),
        (facts(since_s=300), SANDBOX, []),
        (facts(phase="degraded"), SANDBOX, ["health", "soak"]),
        (facts(status_revision=2), SANDBOX, ["health"]),
        (facts(image="shop/web:1"), SANDBOX, ["digest"]),
        (facts(image=None, revision=None), SANDBOX, ["digest", "health"]),
        (facts(SANDBOX), ONLINE, []),
        (facts(SANDBOX, phase="progressing"), ONLINE, ["health"]),
        (facts(TEST), ONLINE, ["path"]),  # online only from sandbox
        (facts(ONLINE), SANDBOX, ["path"]),
        (facts(ONLINE), Environment.STABLE, ["path"]),
        (facts(TEST), TEST, ["path"]),
    ],
)
def test_gates_pass_only_a_healthy_soaked_digest_along_the_path(
    source: EnvFacts, target: Environment, failing: list[str]
) -> None:
    assert judge(source, target) == failing


def test_soak_applies_into_sandbox_only() -> None:
    assert judge(facts(SANDBOX, since_s=1), ONLINE) == []


@pytest.mark.parametrize(
    ("approvers", "requester", "failing"),
    [
        ([], "shop/ci", ["approval"]),
        (["shop/ci"], "shop/ci", ["approval"]),  # approving your own promotion does not count
        (["shop/ci", "shop/lead"], "shop/ci", []),
        (["shop/lead"], "shop/ci", []),
        (["admin"], "shop/ci", []),
    ],
)
def test_online_approval_needs_another_member(
    approvers: list[str], requester: str, failing: list[str]
) -> None:
    policy = Policy(online_approval=True)
    assert (
        judge(facts(SANDBOX), ONLINE, policy=policy, approvers=approvers, requester=requester)
        == failing
    )


def test_no_approval_gate_without_the_policy() -> None:
    assert judge(facts(SANDBOX), ONLINE, policy=Policy(online_approval=False)) == []


def test_the_first_failed_gate_refuses_and_is_named() -> None:
    found = gates(
        source=facts(since_s=10), target=SANDBOX, policy=Policy(soak_s=300), approvers=[],
        requester="shop/ci", now=NOW,
    )  # fmt: skip
    with pytest.raises(PromotionRefused) as refused:
        check(found, source=TEST, target=SANDBOX)
    assert refused.value.field == "soak"
    assert "run healthy for 10 s of the 300 s soak time" in refused.value.message
