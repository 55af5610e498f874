"""The disk of the state directory full under a whole platform (`dockyard up`: supervisor,
registry, etcd, server, agent, all keeping their data and logs there): writes are refused
clearly (the CLI's one line naming the disk, a push refused), `dockyard status` says the disk is
full, nothing is corrupted, and once space is freed every process runs again (brought back by
the supervisor, or by `dockyard up` run again), IPAM is clean, the registry takes and gives
images, and a deploy works. tests/e2e/test_disk_full.py covers the server alone in detail.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.support.faults import (
    ROLLOUT_S,
    available,
    check_consistent,
    make_segment,
    make_service,
    revision,
    tear_down,
)
from tests.support.platform import Platform, wait_for
from tests.support.registry import remove_engine_images
from tests.support.small_disk import SmallDisk, small_disk

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(os.geteuid() != 0, reason="the agent serves Docker's IPAM driver: root"),
]
# etcd preallocates 64 MiB of write-ahead log; the rest is the registry's, the database's and
# the logs' (a few MiB each here).
DISK_MB = 192
FULL_FOR_S = 20.0
PROGRAMS = ("registry", "etcd", "server", "agent")


class Host:
    def __init__(self, platform: Platform, disk: SmallDisk) -> None:
        self.platform, self.disk = platform, disk
        self.team = "f" + secrets.token_hex(4)
        self.segment = "f" + platform.tag


@pytest.fixture
def host(tmp_path: Path, docker_engine: docker.APIClient, test_image: str) -> Iterator[Host]:
    """A platform whose state directory is a small disk of its own, a team and a segment."""
    with small_disk(tmp_path / "state", size_mb=DISK_MB) as disk:
        platform = Platform(tmp_path)
        found = Host(platform, disk)
        try:
            platform.up()
            platform.cli("teams", "create", found.team)
            found.segment = make_segment(platform)
            yield found
        finally:
            disk.free()
            tear_down(platform, docker_engine, team=found.team, segment=found.segment)
            remove_engine_images(docker_engine, platform.settings.images.registry.address)


def _push(engine: docker.APIClient, source: str, repository: str, tag: str) -> str:
    """Push `source` as repository:tag; returns the digest, or "error: ..." as the engine said."""
    engine.tag(source, repository, tag)
    said = list(engine.push(repository, tag=tag, stream=True, decode=True))
    errors = [chunk["error"] for chunk in said if "error" in chunk]
    if errors:
        return f"error: {errors[-1]}"
    return next(str(c["aux"]["Digest"]) for c in said if "Digest" in c.get("aux", {}))


def _status(platform: Platform) -> dict[str, Any]:
    parts = json.loads(platform.cli("status", "-o", "json", ok=False))["parts"]
    return {part["part"]: part for part in parts}


def _integrity(database: Path) -> str:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def test_a_full_state_disk_refuses_writes_clearly_and_the_platform_recovers(
    host: Host, docker_engine: docker.APIClient, test_image: str
) -> None:
    platform, team, disk = host.platform, host.team, host.disk
    service = make_service(platform, team, test_image, replicas=1)
    repository = f"{platform.settings.images.registry.address}/{team}/web"
    assert not _push(docker_engine, test_image, repository, "v1").startswith("error")

    disk.fill()
    refused = platform.cli("scale", service, "2", "--team", team, "--env", "test", ok=False)
    lines = refused.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), refused
    assert "disk" in lines[0] and str(disk.root) in lines[0], refused
    pushed = _push(docker_engine, test_image, repository, "v2")
    assert pushed.startswith("error"), pushed
    shown = _status(platform)
    assert not shown["state disk"]["healthy"], shown
    assert "full" in shown["state disk"]["detail"], shown
    # Every process starts again on the full disk, as after a crash. etcd, starting, deletes
    # and makes again the log segment it preallocates (64 MiB): the disk is kept full
    # meanwhile, so it exits (status 1, seen 1-4 times) until a try holds or the supervisor
    # gives up on it; `up` below starts again whatever was given up.
    for program in PROGRAMS:
        os.kill(platform.pid(program), signal.SIGKILL)
    disk.keep_full(FULL_FOR_S)
    shown = _status(platform)
    assert not shown["state disk"]["healthy"], shown

    disk.free()
    out = platform.up()  # repairs what died meanwhile, changes nothing that runs
    assert "error" not in out.lower(), out
    wait_for(
        lambda: all(part["healthy"] for part in _status(platform).values()),
        timeout_s=60,
        what="every part healthy again",
    )
    assert _integrity(platform.settings.paths.state_dir / "dockyard.db") == "ok"
    assert not _push(docker_engine, test_image, repository, "v3").startswith("error")
    docker_engine.remove_image(f"{repository}:v1")
    docker_engine.pull(repository, tag="v1")
    platform.cli("scale", service, "2", "--team", team, "--env", "test", "--no-wait")
    wanted = revision(platform, team, service)
    wait_for(
        lambda: available(platform, team, service, wanted, 2),
        timeout_s=ROLLOUT_S,
        what="the service scaled to 2 once space was freed",
    )
    check_consistent(platform, docker_engine, team, service, 2)
