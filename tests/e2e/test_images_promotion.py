"""Build once, promote the same digest test -> sandbox -> online, stable following online, on the
real engine, registry and controllers: the digest is the same in the registry, in every
environment's revision and in every running container; each environment keeps its own config;
every gate refuses what it must; provenance leads from an instance back to the commit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from dockyard.controller.config import ControllerSettings
from dockyard.domain.instance import LABEL_ENV, LABEL_SERVICE, LABEL_TEAM
from dockyard.store.db import Database
from tests.support.fixtures import TEST_NETWORK
from tests.support.git_repos import Repo, service_repo
from tests.support.image_center import Center, running_center
from tests.support.registry import RunningRegistry

pytestmark = pytest.mark.docker
FAST = ControllerSettings(resync_s=0.5, orphan_grace_s=5, progress_deadline_s=60)


@pytest.fixture
def center(
    tmp_path: Path,
    registry: RunningRegistry,
    docker_engine: docker.APIClient,
    test_image: str,
    docker_team: str,
) -> Iterator[Center]:
    db = Database.open(f"sqlite:///{tmp_path / 'dockyard.db'}")
    try:
        with running_center(
            db, registry, team=docker_team, image=test_image, work_dir=tmp_path / "builds",
            network=TEST_NETWORK, controller=FAST,
        ) as running:  # fmt: skip
            yield running
    finally:
        db.close()


def _env(center: Center, env: str) -> dict[str, Any]:
    answer = center.client.get(f"{center.service()}/envs/{env}", headers=center.ci)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def wait_available(center: Center, env: str, *, revision: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = _env(center, env)["status"]
        if status["revision"] == revision and status["phase"] == "available":
            return
        time.sleep(0.1)
    raise AssertionError(f"{env} revision {revision} not available: {_env(center, env)['status']}")


def _promote(center: Center, source: str, target: str, who: dict[str, str]) -> Any:
    return center.client.post(
        center.service() + "/promotions", json={"from": source, "to": target}, headers=who
    )


def _build_into_test(center: Center, repo: Repo) -> dict[str, Any]:
    put = center.client.put(
        center.service() + "/source", json={"repo_url": repo.url}, headers=center.ci
    )
    assert put.status_code == 200
    number = center.client.post(
        center.service() + "/builds", json={"deploy_to": "test"}, headers=center.ci
    ).json()["number"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        build = center.client.get(f"{center.service()}/builds/{number}", headers=center.ci).json()
        if build["state"] in ("succeeded", "failed"):
            assert build["state"] == "succeeded", build["reason"]
            return dict(build)
        time.sleep(0.1)
    raise AssertionError("the build did not finish")


def _containers(engine: docker.APIClient, team: str, env: str) -> list[dict[str, Any]]:
    found = engine.containers(
        filters={"label": [f"{LABEL_TEAM}={team}", f"{LABEL_SERVICE}=web", f"{LABEL_ENV}={env}"]}
    )
    return [engine.inspect_container(c["Id"]) for c in found]


def test_one_digest_moves_from_test_to_online_and_stable_never_rebuilt(
    center: Center, tmp_path: Path, docker_engine: docker.APIClient
) -> None:
    repo = service_repo(tmp_path / "src")
    put = center.client.put(
        center.service() + "/promotion/policy",
        json={"soak_s": 2, "online_approval": True, "stable_follows": "online"},
        headers=center.ci,
    )
    assert put.status_code == 200, put.text
    for env, body in (
        ("sandbox", {"replicas": 2, "env": {"LEVEL": "sandbox"}}),
        ("online", {"replicas": 1, "env": {"LEVEL": "online"}}),
    ):
        answer = center.client.put(
            f"{center.service()}/envs/{env}/overrides", json=body, headers=center.ci
        )
        assert answer.status_code == 200, answer.text

    build = _build_into_test(center, repo)
    digest = build["image"]["digest"]
    reference = build["image"]["reference"]
    wait_available(center, "test", revision=1)

    # Too early: test has not soaked yet. Online only from sandbox.
    refused = _promote(center, "test", "sandbox", center.ci)
    assert refused.status_code == 409
    assert refused.json()["error"] == "promotion_refused" and refused.json()["field"] == "soak"
    assert _promote(center, "test", "online", center.ci).json()["field"] == "path"
    time.sleep(2.1)
    promoted = _promote(center, "test", "sandbox", center.ci)
    assert promoted.status_code == 201, promoted.text
    assert promoted.json()["image"] == reference and promoted.json()["replicas"] == 2
    wait_available(center, "sandbox", revision=1)

    # Online needs an approval by someone other than the one promoting.
    assert _promote(center, "sandbox", "online", center.ci).json()["field"] == "approval"
    own = center.client.post(center.service() + "/approvals", json={}, headers=center.ci)
    assert own.status_code == 201 and own.json()["digest"] == digest
    assert _promote(center, "sandbox", "online", center.ci).json()["field"] == "approval"
    assert (
        center.client.post(center.service() + "/approvals", headers=center.lead).status_code == 201
    )
    promoted = _promote(center, "sandbox", "online", center.ci)
    assert promoted.status_code == 201, promoted.text
    wait_available(center, "online", revision=1)
    wait_available(center, "stable", revision=1)  # the follower took online's digest

    # The same digest everywhere: registry, each revision, each running container.
    tag = build["image"]["tag"]
    assert center.parts.registry.digest(f"{center.team}/web", tag) == digest
    for env, replicas, level in (
        ("test", 1, None), ("sandbox", 2, "sandbox"), ("online", 1, "online"), ("stable", 1, None),
    ):  # fmt: skip
        current = _env(center, env)["current"]
        assert current["image"] == reference, env
        containers = _containers(docker_engine, center.team, env)
        assert len(containers) == replicas, env
        for container in containers:
            assert container["Config"]["Image"] == reference
            local = docker_engine.inspect_image(container["Image"])  # by image id
            assert reference in local["RepoDigests"]
            variables = dict(v.split("=", 1) for v in container["Config"]["Env"] or [])
            assert variables.get("LEVEL") == level, env

    # Provenance of an online instance: digest -> commit -> build -> who released it where.
    instance = _env(center, "online")["instances"][0]["id"]
    found = center.client.get(
        f"/api/v1/teams/{center.team}/instances/{instance}/provenance", headers=center.lead
    ).json()
    assert found["digest"] == digest and found["env"] == "online"
    assert found["built"]["commit"] == build["commit"]
    assert found["build"]["number"] == build["number"]
    assert found["build_log"].endswith(f"/builds/{build['number']}/log")
    trail = [(s["env"], s["created_by"]) for s in found["releases"]]
    team = center.team
    assert trail == [
        ("test", f"{team}/ci"), ("sandbox", f"{team}/ci"), ("online", f"{team}/ci"),
        ("stable", f"{team}/stable-follower"),
    ]  # fmt: skip


def test_a_local_image_cannot_be_promoted(center: Center, test_image: str) -> None:
    deployed = center.client.post(
        center.service() + "/envs/test/deploy", json={"image": test_image}, headers=center.ci
    )
    assert deployed.status_code == 201
    wait_available(center, "test", revision=1)
    refused = _promote(center, "test", "sandbox", center.ci)
    assert refused.status_code == 409 and refused.json()["field"] == "digest"
