"""The fault suite: `kill -9` of each process `dockyard up` supervises, in the middle of a
scale-out of 10 instances and of a rolling update of 5. The supervisor brings the process back,
the rollout finishes, and afterwards the engine's containers (by Dockyard's labels) are exactly
the instances Dockyard reports, IPAM holds no leaked or duplicate address, and no event says a
rollout failed.

One platform (tests/support/platform.py) serves the whole module, as a host would; each test has
a service of its own. The Docker engine is the machine's own, shared with every other test and
not supervised by this `up`, so killing it is not among these cases (it needs a host whose
`dockyard up` started its dockerd).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from dockyard.domain.instance import LABEL_SERVICE, LABEL_TEAM
from dockyard.network.etcd import Etcd
from dockyard.network.ipam import Directory, Keys
from tests.support.fixtures import remove_team_containers
from tests.support.platform import Platform, wait_for

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(os.geteuid() != 0, reason="the agent serves Docker's IPAM driver: root"),
]

ROLLOUT_S = 150.0
FAILED_KINDS = {"failed", "start-failed"}


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
        cidr = f"10.{100 + int(found.tag[:2], 16) % 100}.{int(found.tag[2:4], 16)}.0/24"
        found.cli("segments", "create", segment, "--cidr", cidr, "-e", "test")
        yield found, team, segment
    finally:
        # The server first (a running one starts them again), then the containers while the
        # agent still serves their network's IPAM driver: without it the engine retries the
        # driver for minutes on each removal.
        found.supervisor.stop("server")
        remove_team_containers(docker_engine, team)
        # Out of etcd, or the agent makes the segment's network again after it is removed
        # (and a dockerd started later would wait ~15 s on its missing driver).
        asyncio.run(_withdraw(found, segment))
        for network in docker_engine.networks(names=[f"dyseg-{segment}"]):
            with contextlib.suppress(docker.errors.NotFound):  # the agent's sweep was first
                docker_engine.remove_network(network["Id"])
        found.down()


async def _withdraw(platform: Platform, segment: str) -> None:
    etcd = Etcd(list(platform.settings.etcd.endpoints))
    try:
        await Directory(etcd, keys=Keys(platform.settings.etcd.prefix)).withdraw(segment)
    finally:
        await etcd.close()


def _service(platform: Platform, team: str, test_image: str, replicas: int) -> str:
    name = "s" + secrets.token_hex(3)
    platform.cli(
        "service", "create", name, "--team", team, "--image", test_image, "--port", "8080",
        "--health-http", "/health", "--health-interval", "1",
    )  # fmt: skip
    platform.cli("deploy", name, "--team", team, "--env", "test", "--replicas", str(replicas))
    return name


def _status(platform: Platform, team: str, service: str) -> dict[str, Any]:
    shown = platform.json("service", "show", service, "--team", team)
    return next(e for e in shown["environments"] if e["env"] == "test")


def _revision(platform: Platform, team: str, service: str) -> int:
    """The revision the environment is asked to run, once the server answers again."""
    found: list[int] = []

    def answered() -> bool:
        try:
            found.append(_status(platform, team, service)["current"]["number"])
        except (AssertionError, ValueError):  # the server is starting again
            return False
        return True

    wait_for(answered, timeout_s=60, what="the server answers again")
    return found[-1]


def _available(platform: Platform, team: str, service: str, revision: int, ready: int) -> bool:
    try:
        status = _status(platform, team, service)["status"] or {}
    except (AssertionError, ValueError):  # the server is being restarted
        return False
    return (
        status.get("phase") == "available"
        and status.get("revision", 0) >= revision
        and status.get("ready") == ready
    )


def _check_consistent(
    platform: Platform, engine: docker.APIClient, team: str, service: str, replicas: int
) -> None:
    containers = engine.containers(
        all=True, filters={"label": [f"{LABEL_TEAM}={team}", f"{LABEL_SERVICE}={service}"]}
    )
    instances = platform.json("instances", service, "--team", team, "--env", "test")["items"]
    assert len(instances) == replicas
    labelled = sorted(c["Labels"]["io.dockyard.instance"] for c in containers)
    assert labelled == sorted(i["id"] for i in instances)
    addresses = [i["ip"] for i in instances]
    assert len(set(addresses)) == len(addresses)
    # An address the driver handed out just before it was killed is held for a container that
    # never started; the agent's collector frees it after its grace period (5 s here).
    findings: list[Any] = []

    def clean() -> bool:
        findings[:] = platform.json("ipam", "check")["findings"]
        return not findings

    wait_for(clean, timeout_s=60, what=f"ipam check finds nothing: {findings}")
    events = platform.json("events", service, "--team", team, "--env", "test")["items"]
    failed = [e for e in events if e["kind"] in FAILED_KINDS]
    assert not failed, failed


PROGRAMS = ["server", "agent", "etcd", "registry"]


def _restarted(platform: Platform, program: str, before: int) -> bool:
    state = platform.supervisor.state(program)
    return state is not None and state.alive and state.pid not in (0, before)


@pytest.mark.parametrize("program", PROGRAMS)
def test_a_scale_out_of_ten_finishes_through_a_kill(
    platform: tuple[Platform, str, str],
    docker_engine: docker.APIClient,
    test_image: str,
    program: str,
) -> None:
    host, team, _ = platform
    service = _service(host, team, test_image, replicas=1)

    revision = _kill_during(
        host, program, "scale", service, "10", "--team", team, "--env", "test", "--no-wait"
    )

    wait_for(
        lambda: _available(host, team, service, revision, 10),
        timeout_s=ROLLOUT_S,
        what=f"10 instances ready after {program} was killed",
    )
    _check_consistent(host, docker_engine, team, service, 10)


@pytest.mark.parametrize("program", PROGRAMS)
def test_a_rolling_update_of_five_finishes_through_a_kill(
    platform: tuple[Platform, str, str],
    docker_engine: docker.APIClient,
    test_image: str,
    program: str,
) -> None:
    host, team, _ = platform
    service = _service(host, team, test_image, replicas=5)
    host.cli("service", "update", service, "--team", team, "--env", "ROLL=2")

    revision = _kill_during(
        host, program, "deploy", service, "--team", team, "--env", "test", "--no-wait"
    )

    wait_for(
        lambda: _available(host, team, service, revision, 5),
        timeout_s=ROLLOUT_S,
        what=f"the rolling update done after {program} was killed",
    )
    _check_consistent(host, docker_engine, team, service, 5)
    instances = host.json("instances", service, "--team", team, "--env", "test")["items"]
    assert {i["revision"] for i in instances} == {revision}


def _kill_during(host: Platform, program: str, *command: str) -> int:
    """Run the CLI `command` (a rollout, not waited for), `kill -9` the program at once, wait
    for its supervisor to start it again; returns the revision the rollout asked for."""
    before = host.pid(program)
    host.cli(*command)
    os.kill(before, signal.SIGKILL)
    wait_for(lambda: _restarted(host, program, before), timeout_s=30,
             what=f"the supervisor starts {program} again")  # fmt: skip
    service, team = command[1], command[command.index("--team") + 1]
    return _revision(host, team, service)


def test_up_again_changes_nothing_that_works(platform: tuple[Platform, str, str]) -> None:
    host, _, _ = platform
    pids = {program: host.pid(program) for program in PROGRAMS}

    out = host.up()

    assert out.count("already running under the supervisor") == len(PROGRAMS), out
    assert {program: host.pid(program) for program in PROGRAMS} == pids


def test_status_shows_the_restarts_the_supervisor_made(platform: tuple[Platform, str, str]) -> None:
    host, _, _ = platform
    before = host.pid("agent")
    os.kill(before, signal.SIGKILL)
    wait_for(lambda: _restarted(host, "agent", before), timeout_s=30, what="the agent back")

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
    service = _service(host, team, test_image, replicas=3)
    first = host.json("instances", service, "--team", team, "--env", "test")["items"][0]
    victim = docker_engine.containers(
        filters={"label": [f"{LABEL_SERVICE}={service}", f"io.dockyard.instance={first['id']}"]}
    )[0]
    docker_engine.remove_container(victim["Id"], force=True)

    host.cli("scale", service, "10", "--team", team, "--env", "test")
    host.cli("rollback", service, "--team", team, "--env", "test", "--to", "1")

    _check_consistent(host, docker_engine, team, service, 3)
    events = host.json("events", service, "--team", team, "--env", "test")["items"]
    assert any(e["kind"] == "disappeared" and first["id"] in e["message"] for e in events)
    parts = json.loads(host.cli("status", "-o", "json"))["parts"]
    assert all(part["healthy"] for part in parts), parts
