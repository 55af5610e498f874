"""The steps and checks of the fault suite (tests/e2e/test_faults*.py): a service of its own
on a platform of tests/support/platform.py, a rollout with a process killed in its middle, and
the checks that it finished cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
from typing import Any

import docker

from dockyard.domain.instance import LABEL_SERVICE, LABEL_TEAM
from dockyard.network.etcd import Etcd
from dockyard.network.ipam import Directory, Keys
from tests.support.fixtures import remove_team_containers
from tests.support.platform import Platform, wait_for

ROLLOUT_S = 150.0
FAILED_KINDS = {"failed", "start-failed"}


def make_segment(platform: Platform) -> str:
    """A segment of the platform's own serving `test` (a /24 picked from its tag)."""
    segment = "f" + platform.tag
    cidr = f"10.{100 + int(platform.tag[:2], 16) % 100}.{int(platform.tag[2:4], 16)}.0/24"
    platform.cli("segments", "create", segment, "--cidr", cidr, "-e", "test")
    return segment


def tear_down(platform: Platform, engine: docker.APIClient, *, team: str, segment: str) -> None:
    """Leave nothing of the platform behind: its containers, its segment, its processes."""
    # The server first (a running one starts them again), then the containers while the
    # agent still serves their network's IPAM driver: without it the engine retries the
    # driver for minutes on each removal.
    try:
        platform.supervisor.stop("server")
        remove_team_containers(engine, team)
        # Out of etcd, or the agent makes the segment's network again after it is removed
        # (and a dockerd started later would wait ~15 s on its missing driver).
        asyncio.run(_withdraw(platform, segment))
        for network in engine.networks(names=[f"dyseg-{segment}"]):
            with contextlib.suppress(docker.errors.NotFound):  # the agent's sweep was first
                engine.remove_network(network["Id"])
    finally:
        # Whatever failed above, the platform's processes never outlive the test.
        platform.down()


async def _withdraw(platform: Platform, segment: str) -> None:
    etcd = Etcd(list(platform.settings.etcd.endpoints))
    try:
        await Directory(etcd, keys=Keys(platform.settings.etcd.prefix)).withdraw(segment)
    finally:
        await etcd.close()


def make_service(platform: Platform, team: str, image: str, replicas: int) -> str:
    """A new service of `team` (httpd on 8080, health /health each second), deployed to test."""
    name = "s" + secrets.token_hex(3)
    platform.cli(
        "service", "create", name, "--team", team, "--image", image, "--port", "8080",
        "--health-http", "/health", "--health-interval", "1",
    )  # fmt: skip
    platform.cli("deploy", name, "--team", team, "--env", "test", "--replicas", str(replicas))
    return name


def env_status(platform: Platform, team: str, service: str) -> dict[str, Any]:
    shown = platform.json("service", "show", service, "--team", team)
    found: dict[str, Any] = next(e for e in shown["environments"] if e["env"] == "test")
    return found


def revision(platform: Platform, team: str, service: str) -> int:
    """The revision the environment is asked to run, once the server answers again."""
    found: list[int] = []

    def answered() -> bool:
        try:
            found.append(env_status(platform, team, service)["current"]["number"])
        except (AssertionError, ValueError):  # the server is starting again
            return False
        return True

    wait_for(answered, timeout_s=60, what="the server answers again")
    return found[-1]


def available(platform: Platform, team: str, service: str, wanted: int, ready: int) -> bool:
    """True once revision `wanted` (or a later one) runs with `ready` instances ready."""
    try:
        status = env_status(platform, team, service)["status"] or {}
    except (AssertionError, ValueError):  # the server is being restarted
        return False
    return (
        status.get("phase") == "available"
        and status.get("revision", 0) >= wanted
        and status.get("ready") == ready
    )


def check_consistent(
    platform: Platform, engine: docker.APIClient, team: str, service: str, replicas: int
) -> None:
    """The engine's containers are exactly the instances, no address is shared, leaked or
    held twice, and no event says the rollout failed."""
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
        # `ipam check` exits non-zero while it finds something: read its JSON all the same.
        findings[:] = json.loads(platform.cli("ipam", "check", "-o", "json", ok=False))["findings"]
        return not findings

    wait_for(clean, timeout_s=60, what=f"ipam check finds nothing: {findings}")
    events = platform.json("events", service, "--team", team, "--env", "test")["items"]
    failed = [e for e in events if e["kind"] in FAILED_KINDS]
    assert not failed, failed


def restarted(platform: Platform, program: str, before: int) -> bool:
    state = platform.supervisor.state(program)
    return state is not None and state.alive and state.pid not in (0, before)


def kill_during(platform: Platform, program: str, *command: str) -> int:
    """Run the CLI `command` (a rollout, not waited for), `kill -9` the program at once, wait
    for its supervisor to start it again; returns the revision the rollout asked for."""
    before = platform.pid(program)
    platform.cli(*command)
    os.kill(before, signal.SIGKILL)
    wait_for(lambda: restarted(platform, program, before), timeout_s=30,
             what=f"the supervisor starts {program} again")  # fmt: skip
    service, team = command[1], command[command.index("--team") + 1]
    return revision(platform, team, service)
