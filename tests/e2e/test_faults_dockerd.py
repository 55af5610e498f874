"""The fault suite's dockerd cases: `kill -9` of the Docker engine in the middle of a scale-out
of 10 instances and of a rolling update of 5, on a platform whose `dockyard up` started and
supervises a dockerd of its own (DOCKYARD_DOCKERD_ROOT: its own data, run state, containerd,
socket; no bridge or iptables rules of its own), beside the machine's shared engine, which it
must not disturb. The supervisor brings dockerd back, the rollout finishes, and afterwards the
engine's containers are exactly Dockyard's instances, IPAM is clean and no event says a rollout
failed (the checks of tests/support/faults.py, as for the other processes in test_faults.py).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from dockyard.cli.platform import find_dockerd
from tests.support.faults import (
    ROLLOUT_S,
    available,
    check_consistent,
    kill_during,
    make_segment,
    make_service,
    tear_down,
)
from tests.support.images import ensure_test_image
from tests.support.own_engine import clean_own_engine
from tests.support.platform import Platform, wait_for

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(os.geteuid() != 0, reason="starting a dockerd of its own needs root"),
    pytest.mark.skipif(find_dockerd() is None, reason="dockerd is not installed"),
]


class OwnEngine:
    """The platform, its engine's client, the team and segment the tests use, the image."""

    def __init__(self, platform: Platform, engine: docker.APIClient) -> None:
        self.platform, self.engine = platform, engine
        self.team = "f" + secrets.token_hex(4)
        self.segment = "f" + platform.tag
        self.image = ""


@pytest.fixture(scope="module")
def own(
    tmp_path_factory: pytest.TempPathFactory, docker_engine: docker.APIClient
) -> Iterator[OwnEngine]:
    """`dockyard up` with an engine of its own, the test image built in it, a team and a
    segment; the shared engine (`docker_engine`) keeps answering throughout."""
    had_docker0 = Path("/sys/class/net/docker0").is_dir()
    platform = Platform(tmp_path_factory.mktemp("faults-dockerd"), own_engine=True)
    engine = docker.APIClient(base_url=platform.settings.docker.host, version="1.41")
    found = OwnEngine(platform, engine)
    try:
        out = platform.up()
        assert "dockerd started under the supervisor" in out, out
        found.image = ensure_test_image(engine)
        platform.cli("teams", "create", found.team)
        found.segment = make_segment(platform)
        yield found
    finally:
        tear_down(platform, engine, team=found.team, segment=found.segment)
        engine.close()
        assert platform.settings.docker.dockerd_root is not None
        clean_own_engine(platform.settings.docker.dockerd_root)
    assert docker_engine.ping(), "the machine's shared engine stopped answering"
    # A second dockerd must leave the host engine's default bridge alone (with --bridge=none
    # it deleted docker0, and every later container on the default network failed to start).
    if had_docker0:
        assert Path("/sys/class/net/docker0").is_dir(), "the host engine's docker0 was deleted"


def test_the_engine_is_the_platforms_own_and_supervised(own: OwnEngine) -> None:
    info = own.engine.info()
    root = own.platform.settings.docker.dockerd_root
    assert root is not None
    assert info["DockerRootDir"] == str(root / "data")
    assert own.platform.pid("dockerd") > 0


def test_a_scale_out_of_ten_finishes_through_a_dockerd_kill(own: OwnEngine) -> None:
    host, team = own.platform, own.team
    service = make_service(host, team, own.image, replicas=1)

    revision = kill_during(
        host, "dockerd", "scale", service, "10", "--team", team, "--env", "test", "--no-wait"
    )

    wait_for(
        lambda: available(host, team, service, revision, 10),
        timeout_s=ROLLOUT_S,
        what="10 instances ready after dockerd was killed",
    )
    check_consistent(host, own.engine, team, service, 10)


def test_a_rolling_update_of_five_finishes_through_a_dockerd_kill(own: OwnEngine) -> None:
    host, team = own.platform, own.team
    service = make_service(host, team, own.image, replicas=5)
    host.cli("service", "update", service, "--team", team, "--env", "ROLL=2")

    revision = kill_during(
        host, "dockerd", "deploy", service, "--team", team, "--env", "test", "--no-wait"
    )

    wait_for(
        lambda: available(host, team, service, revision, 5),
        timeout_s=ROLLOUT_S,
        what="the rolling update done after dockerd was killed",
    )
    check_consistent(host, own.engine, team, service, 5)
    instances = host.json("instances", service, "--team", team, "--env", "test")["items"]
    assert {i["revision"] for i in instances} == {revision}


def test_up_again_leaves_the_engine_and_its_containers_alone(own: OwnEngine) -> None:
    pid = own.platform.pid("dockerd")
    running = {c["Id"] for c in own.engine.containers()}

    out = own.platform.up()

    assert "dockerd already running under the supervisor" in out, out
    assert own.platform.pid("dockerd") == pid
    assert {c["Id"] for c in own.engine.containers()} == running
