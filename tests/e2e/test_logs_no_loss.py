"""Proof of no loss: a whole `dockyard up` platform (agent, nats-server, indexer and archiver
under its supervisor) and a service whose instance writes numbered lines in bursts; while it
writes, the agent, the indexer and the archiver are killed with SIGKILL, nats-server is killed
and comes back, the container is restarted, and Docker rotates its json-file (the burst is
larger than the 10 MiB max-size Dockyard sets). Afterwards the index (through the API's
download) and the archive hold every number of every run exactly once, in order, per instance.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import signal
import tarfile
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import docker
import httpx
import pytest

from dockyard.logs.archive import Archive
from dockyard.logs.archiver import Limits
from tests.support.faults import make_segment, tear_down
from tests.support.platform import Platform, wait_for

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(os.geteuid() != 0, reason="the agent serves Docker's IPAM driver: root"),
]

ROUNDS, BURST = 24, 6000
"""Each run writes ROUNDS bursts of BURST lines (~80 bytes each: ~11.5 MiB, past Docker's
10 MiB rotation), half a second apart: about 15 s of writing to break things in."""
PAD = "x" * 48
ARCHIVER_ACK_WAIT_S = 2 * Limits().flush_interval_s  # as `dockyard archiver` sets it
WRITER = f"""\
FROM {{base}}
CMD ["sh", "-c", "httpd -p 8080 -h /www; r=$(date +%s)$RANDOM; i=0; b=0; \\
while [ $b -lt {ROUNDS} ]; do b=$((b+1)); j=0; \\
while [ $j -lt {BURST} ]; do j=$((j+1)); i=$((i+1)); echo \\"run=$r n=$i {PAD}\\"; done; \\
sleep 0.5; done; echo \\"run=$r done=$i\\"; exec sleep 100000"]
"""


def writer_image(engine: docker.APIClient, base: str) -> str:
    tag = "dockyard-test/logwriter:" + secrets.token_hex(3)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = WRITER.format(base=base).encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    for _ in engine.build(fileobj=buf, custom_context=True, tag=tag, rm=True, decode=True):
        pass
    return tag


@pytest.fixture
def platform(
    tmp_path_factory: pytest.TempPathFactory, docker_engine: docker.APIClient, test_image: str
) -> Iterator[tuple[Platform, str, str]]:
    found = Platform(tmp_path_factory.mktemp("lognl"))
    team = "l" + secrets.token_hex(4)
    segment = "f" + found.tag
    image = writer_image(docker_engine, test_image)
    try:
        found.up()
        found.cli("teams", "create", team)
        segment = make_segment(found)
        yield found, team, image
    finally:
        tear_down(found, docker_engine, team=team, segment=segment)
        docker_engine.remove_image(image, force=True)


def kill(platform: Platform, program: str) -> None:
    before = platform.pid(program)
    os.kill(before, signal.SIGKILL)
    wait_for(
        lambda: (
            (s := platform.supervisor.state(program)) is not None
            and s.alive
            and s.pid not in (0, before)
        ),
        timeout_s=60,
        what=f"the supervisor starts {program} again",
    )


def numbered(texts: Iterable[tuple[str, int, str]]) -> dict[str, list[tuple[str, int]]]:
    """Per instance, in line-number order: (run, n) of each writer line."""
    out: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
    for instance, seq, text in texts:
        fields = dict(part.split("=", 1) for part in text.split() if "=" in part)
        if "n" in fields:
            out[instance].append((seq, fields["run"], int(fields["n"])))
    return {i: [(run, n) for _, run, n in sorted(rows)] for i, rows in out.items()}


def check_every_number_once_in_order(
    found: dict[str, list[tuple[str, int]]], done: dict[str, int]
) -> None:
    for instance, rows in found.items():
        by_run: dict[str, list[int]] = defaultdict(list)
        for run, n in rows:
            by_run[run].append(n)
        for run, numbers in by_run.items():
            assert numbers == list(range(1, len(numbers) + 1)), (
                f"{instance} run {run}: not every number once in order "
                f"(first gap or repeat after {_first_bad(numbers)})"
            )
            if run in done:
                assert len(numbers) == done[run], (
                    f"{instance} run {run}: {len(numbers)} of {done[run]}"
                )


def _first_bad(numbers: list[int]) -> int:
    return next((i for i, n in enumerate(numbers, 1) if n != i), len(numbers))


def download(platform: Platform, team: str, service: str, since: datetime) -> list[dict[str, Any]]:
    settings = platform.settings
    token = json.loads(settings.paths.credentials_file.read_text())["token"]
    url = f"{settings.listen.local_url}/api/v1/teams/{team}/services/{service}/logs/download"
    params = {"env": "test", "since": since.isoformat()}
    answer = httpx.get(
        url, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=120
    )
    assert answer.status_code == 200, answer.text
    return [json.loads(line) for line in answer.text.splitlines()]


def test_no_line_is_lost_or_doubled_through_kills_restarts_and_rotation(
    platform: tuple[Platform, str, str], docker_engine: docker.APIClient
) -> None:
    host, team, image = platform
    since = datetime.now(UTC) - timedelta(minutes=1)
    service = "w" + secrets.token_hex(3)
    host.cli(
        "service", "create", service, "--team", team, "--image", image, "--port", "8080",
        "--health-http", "/health", "--health-interval", "1",
    )  # fmt: skip
    host.cli("deploy", service, "--team", team, "--env", "test", "--replicas", "1")
    [instance] = host.json("instances", service, "--team", team, "--env", "test")["items"]
    container = next(
        c
        for c in docker_engine.containers(
            all=True, filters={"label": f"io.dockyard.instance={instance['id']}"}
        )
    )

    time.sleep(2)
    kill(host, "agent")
    time.sleep(2)
    kill(host, "indexer")
    time.sleep(2)
    kill(host, "archiver")
    archiver_killed = time.monotonic()
    time.sleep(2)
    kill(host, "nats")
    time.sleep(3)
    docker_engine.restart(container["Id"], timeout=1)  # a second run of the writer begins

    def runs() -> tuple[list[str], dict[str, int]]:
        """The runs seen in order of their first line, and the last number of finished ones."""
        rows = download(host, team, service, since)
        fields = [dict(p.split("=", 1) for p in r["text"].split() if "=" in p) for r in rows]
        seen = list(dict.fromkeys(f["run"] for f in fields if "run" in f))
        return seen, {f["run"]: int(f["done"]) for f in fields if "done" in f}

    def second_run_done() -> bool:
        seen, done = runs()
        return len(seen) >= 2 and seen[-1] in done

    wait_for(second_run_done, timeout_s=240, what="the restarted writer's last line indexed")
    _, done = runs()

    def complete() -> bool:
        found = numbered(
            (r["instance"], r["seq"], r["text"]) for r in download(host, team, service, since)
        )
        return sum(len(rows) for rows in found.values()) >= sum(done.values())

    # Batches a killed indexer had fetched come again only after the stream's ack wait (30 s);
    # until then the lines after them wait too (logs/admission.py).
    wait_for(complete, timeout_s=120, what="every line of both runs indexed")
    indexed = download(host, team, service, since)
    check_every_number_once_in_order(
        numbered((r["instance"], r["seq"], r["text"]) for r in indexed), done
    )
    assert sum(done.values()) >= ROUNDS * BURST

    # What the killed archiver had fetched comes to the new one after its ack wait (it holds
    # batches until their object is written); it writes what it holds when it stops.
    time.sleep(max(0.0, archiver_killed + ARCHIVER_ACK_WAIT_S + 10 - time.monotonic()))
    host.supervisor.stop("archiver")
    archive = Archive(host.settings.logs.archive_url)
    archived = archive.lines(
        team, service, "test", since=since, until=datetime.now(UTC) + timedelta(hours=1)
    )
    check_every_number_once_in_order(
        numbered((a.source.instance, a.line.seq, a.line.text) for a in archived), done
    )
