"""The fault suite: `kill -9` of each process `dockyard up` supervises, in the middle of a
scale-out of 10 instances and of a rolling update of 5. The supervisor brings the process back,
the rollout finishes, and afterwards the engine's containers (by Dockyard's labels) are exactly
the instances Dockyard reports, IPAM holds no leaked or duplicate address, and no event says a
rollout failed.

One platform (tests/support/platform.py) serves the whole module, as a host would; each test has
a service of its own. The Docker engine is the machine's own, shared with every other test and
not supervised by this `up`: test_faults_dockerd.py kills dockerd, on a platform with an engine
of its own.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from dockyard.cli.supervisor import START_ORDER
from dockyard.domain.instance import LABEL_SERVICE
from tests.support.faults import (
    ROLLOUT_S,
    available,
    check_consistent,
    kill_during,
    make_segment,
    make_service,
    restarted,
    tear_down,
)
from tests.support.platform import Platform, wait_for

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(os.geteuid() != 0, reason="the agent serves Docker's IPAM driver: root"),
]


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, docker_engine: docker.APIClient, test_image: str
) -> Iterator[tuple[Platform, str, str]]:
    """(platform, team, segment): up, a team, and a segment serving `test` of its own."""
    found = Platform(tmp_path_factory.mktemp("faults"))
    team = "f" + secrets.token_hex(4)
    segment = "f" + found.tag
    try:
        found.up()
        found.cli("teams", "create", team)
        segment = make_segment(found)
        yield found, team, segment
    finally:
        tear_down(found, docker_engine, team=team, segment=segment)


PROGRAMS = ["server", "agent", "etcd", "registry"]
# The log center's programs carry no rollout: test_logs_no_loss.py kills them mid-stream.
# Every program `up` starts here (the machine's engine is not the platform's own).
SUPERVISED = [program for program in START_ORDER if program != "dockerd"]


@pytest.mark.parametrize("program", PROGRAMS)
def test_a_scale_out_of_ten_finishes_through_a_kill(
    platform: tuple[Platform, str, str],
    docker_engine: docker.APIClient,
    test_image: str,
    program: str,
) -> None:
    host, team, _ = platform
    service = make_service(host, team, test_image, replicas=1)

    revision = kill_during(
        host, program, "scale", service, "10", "--team", team, "--env", "test", "--no-wait"
    )

    wait_for(
        lambda: available(host, team, service, revision, 10),
        timeout_s=ROLLOUT_S,
        what=f"10 instances ready after {program} was killed",
    )
    check_consistent(host, docker_engine, team, service, 10)


@pytest.mark.parametrize("program", PROGRAMS)
def test_a_rolling_update_of_five_finishes_through_a_kill(
    platform: tuple[Platform, str, str],
    docker_engine: docker.APIClient,
    test_image: str,
    program: str,
) -> None:
    host, team, _ = platform
    service = make_service(host, team, test_image, replicas=5)
    host.cli("service", "update", service, "--team", team, "--env", "ROLL=2")

    revision = kill_during(
        host, program, "deploy", service, "--team", team, "--env", "test", "--no-wait"
    )

    wait_for(
        lambda: available(host, team, service, revision, 5),
        timeout_s=ROLLOUT_S,
        what=f"the rolling update done after {program} was killed",
    )
    check_consistent(host, docker_engine, team, service, 5)
    instances = host.json("instances", service, "--team", team, "--env", "test")["items"]
    assert {i["revision"] for i in instances} == {revision}


def test_up_again_changes_nothing_that_works(platform: tuple[Platform, str, str]) -> None:
    host, _, _ = platform
    pids = {program: host.pid(program) for program in SUPERVISED}

    out = host.up()

    assert out.count("already running under the supervisor") == len(SUPERVISED), out
    assert {program: host.pid(program) for program in SUPERVISED} == pids


def test_status_shows_the_restarts_the_supervisor_made(platform: tuple[Platform, str, str]) -> None:
    host, _, _ = platform
    before = host.pid("agent")
    os.kill(before, signal.SIGKILL)
    wait_for(lambda: restarted(host, "agent", before), timeout_s=30, what="the agent back")

    shown: dict[str, Any] = {}

    def healthy() -> bool:  # the agent serves its driver a moment after it starts
        shown.update(json.loads(host.cli("status", "-o", "json", ok=False)))
        return all(part["healthy"] for part in shown["parts"])

    wait_for(healthy, timeout_s=30, what=f"every part healthy again: {shown}")
    parts = {p["part"]: p for p in shown["parts"]}
    assert "terminated by SIGKILL" in parts["agent"]["detail"]
    assert "restarts " in parts["agent"]["detail"]


def test_the_newcomer_path_deploy_remove_by_hand_scale_and_roll_back(
    platform: tuple[Platform, str, str], docker_engine: docker.APIClient, test_image: str
) -> None:
    """Issue 11's reproduction, once per run (benchmarks/newcomer.py repeats it on a host)."""
    host, team, _ = platform
    service = make_service(host, team, test_image, replicas=3)
    first = host.json("instances", service, "--team", team, "--env", "test")["items"][0]
    victim = docker_engine.containers(
        filters={"label": [f"{LABEL_SERVICE}={service}", f"io.dockyard.instance={first['id']}"]}
    )[0]
    docker_engine.remove_container(victim["Id"], force=True)

    host.cli("scale", service, "10", "--team", team, "--env", "test")
    host.cli("rollback", service, "--team", team, "--env", "test", "--to", "1")

    check_consistent(host, docker_engine, team, service, 3)
    events = host.json("events", service, "--team", team, "--env", "test")["items"]
    assert any(e["kind"] == "disappeared" and first["id"] in e["message"] for e in events)
    parts = json.loads(host.cli("status", "-o", "json"))["parts"]
    assert all(part["healthy"] for part in parts), parts
