"""Build logs in the log routes: env=build searches a service's build logs, build=N one build's,
and a team reads only its own builds' logs, like any other logs."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from dockyard.api import ApiDeps, build_api
from dockyard.cli import app
from dockyard.cli.context import CliEnv
from dockyard.domain.environment import Environment
from dockyard.domain.principal import Principal
from dockyard.domain.source import GitSource
from dockyard.logs.build_lines import Shipped, build_instance, build_source, to_batches
from dockyard.logs.center import LogCenter
from dockyard.logs.index import LogIndex, open_engine
from dockyard.logs.memory_stream import MemoryLogStream
from dockyard.logs.record import Batch, Line, Source
from dockyard.store import builds, images
from dockyard.store.db import Database

from .api_support import API, MovableClock, make_team

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette suggests httpx2 for its TestClient
    from fastapi.testclient import TestClient

ADMIN = Principal(token_id="setup", name="admin", team=None)
LOGS = f"{API}/teams/alpha/services/web/logs"


def request_builds(db: Database, clock: MovableClock, n: int) -> list[int]:
    """`n` builds of alpha/web, claimed; their ids."""
    ids = []
    with db.session() as session:
        images.set_source(
            session, ADMIN, team="alpha", service="web",
            source=GitSource(repo_url="file:///dev/null"), now=clock(),
        )  # fmt: skip
        for _ in range(n):
            builds.request_build(
                session, ADMIN, team="alpha", service="web", ref=None, force=False,
                deploy_to=None, now=clock(),
            )  # fmt: skip
            claimed = builds.claim_next(session, worker="test", now=clock())
            assert claimed is not None
            ids.append(claimed.id)
    return ids


@pytest.fixture
def index(tmp_path: Path, db: Database, clock: MovableClock, web: str) -> Iterator[LogIndex]:
    """Two builds of alpha/web (3 lines each) and one line of its test instance, indexed."""
    opened = open_engine("fts5", tmp_path / "index")
    batches: list[Batch] = []
    for number, build_id in enumerate(request_builds(db, clock, 2), start=1):
        source = build_source(team="alpha", service="web", number=number, build_id=build_id)
        log = f"==> build {number}\nStep 1/1 : FROM scratch\n==> pushed {number}\n"
        made, _ = to_batches(
            source, log, Shipped(), done=True, time_ns=10**18 + number, max_line_bytes=1024
        )
        batches += made
    instance = Source("alpha", "web", Environment.TEST, "0123456789")
    batches.append(Batch(instance, (Line(1, 10**18, "stdout", "serving"),)))
    opened.add(batches)
    opened.commit()
    yield opened
    opened.close()


@pytest.fixture
def logged(deps: ApiDeps, index: LogIndex) -> Iterator[TestClient]:
    center = LogCenter(index, stream=MemoryLogStream(), archive=None, index_days=7)
    app = build_api(ApiDeps(db=deps.db, clock=deps.clock, notify=deps.notify, logs=center))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def texts(answer: httpx.Response) -> list[str]:
    return [item["text"] for item in answer.json()["items"]]


def test_env_build_searches_the_services_build_logs_and_build_n_one_build(
    logged: TestClient, alpha: dict[str, str]
) -> None:
    every = logged.get(LOGS, params={"env": "build", "order": "oldest"}, headers=alpha)
    assert every.status_code == 200, every.text
    assert texts(every) == [
        "==> build 1", "Step 1/1 : FROM scratch", "==> pushed 1",
        "==> build 2", "Step 1/1 : FROM scratch", "==> pushed 2",
    ]  # fmt: skip
    second = logged.get(LOGS, params={"env": "build", "build": 2, "order": "oldest"}, headers=alpha)
    assert texts(second) == ["==> build 2", "Step 1/1 : FROM scratch", "==> pushed 2"]
    assert {item["instance"] for item in second.json()["items"]} == {build_instance(2, 2)}
    found = logged.get(LOGS, params={"env": "build", "build": 1, "q": "pushed"}, headers=alpha)
    assert texts(found) == ["==> pushed 1"]
    assert texts(logged.get(LOGS, params={"env": "test"}, headers=alpha)) == ["serving"]


def test_a_builds_lines_have_context_and_download_like_any_others(
    logged: TestClient, alpha: dict[str, str]
) -> None:
    around = logged.get(
        LOGS + "/context",
        params={"env": "build", "instance": build_instance(1, 1), "channel": "build", "seq": 2,
                "n": 1},
        headers=alpha,
    )  # fmt: skip
    assert around.status_code == 200, around.text
    assert [item["seq"] for item in around.json()["items"]] == [1, 2, 3]
    download = logged.get(
        LOGS + "/download",
        params={"env": "build", "build": 2, "since": "2000-01-01T00:00:00Z", "format": "text"},
        headers=alpha,
    )
    assert download.status_code == 200, download.text
    assert 'filename="alpha-web-build.log"' in download.headers["content-disposition"]
    assert len(download.text.splitlines()) == 3


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"env": "build", "build": 9}, 404, "build 9"),
        ({"env": "test", "build": 1}, 422, "env=build"),
        ({"env": "build", "build": 1, "instance": "0123456789"}, 422, "not both"),
        ({"env": "prod"}, 422, ""),
    ],
)
def test_a_build_that_is_not_there_or_asked_wrongly_is_refused(
    logged: TestClient, alpha: dict[str, str], params: dict[str, object], status: int, words: str
) -> None:
    answer = logged.get(LOGS, params=params, headers=alpha)
    assert answer.status_code == status, answer.text
    assert words in answer.text


def test_another_team_cannot_read_a_teams_build_logs(
    logged: TestClient, admin: dict[str, str], alpha: dict[str, str]
) -> None:
    bravo = make_team(logged, admin, "bravo")
    for params in ({"env": "build"}, {"env": "build", "build": 1}):
        answer = logged.get(LOGS, params=params, headers=bravo)
        assert answer.status_code == 404, answer.text
        assert "==>" not in answer.text
    assert len(texts(logged.get(LOGS, params={"env": "build"}, headers=admin))) == 6


def cli(client: TestClient, headers: dict[str, str], tmp_path: Path, *args: str) -> Result:
    env = CliEnv(
        environ={
            "HOME": str(tmp_path / "home"),
            "DOCKYARD_STATE_DIR": str(tmp_path / "state"),
            "DOCKYARD_URL": "http://testserver",
            "DOCKYARD_TOKEN": headers["Authorization"].removeprefix("Bearer "),
        },
        transport=client._transport,
        uid=1000,
    )
    return CliRunner().invoke(app, list(args), obj=env)


def test_the_cli_shows_one_builds_log_or_every_builds(
    logged: TestClient, alpha: dict[str, str], tmp_path: Path
) -> None:
    one = cli(logged, alpha, tmp_path, "logs", "web", "--build", "1", "--oldest")
    assert one.exit_code == 0, one.stderr
    assert "==> build 1" in one.stdout and "==> pushed 1" in one.stdout
    assert "build 2" not in one.stdout
    every = cli(logged, alpha, tmp_path, "logs", "web", "-e", "build", "-q", "pushed")
    assert every.exit_code == 0, every.stderr
    assert "==> pushed 1" in every.stdout and "==> pushed 2" in every.stdout
    around = cli(
        logged, alpha, tmp_path, "logs", "web", "-e", "build", "--context", "1",
        "--at", f"{build_instance(2, 2)}:2",
    )  # fmt: skip
    assert around.exit_code == 0, around.stderr
    assert "==> build 2" in around.stdout and "==> pushed 2" in around.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--build", "1", "-e", "test"), "leave --env out"),
        ((), "give the environment"),
        (("-e", "prod"), "unknown environment 'prod'"),
    ],
)
def test_the_cli_says_how_to_name_the_logs(
    logged: TestClient, alpha: dict[str, str], tmp_path: Path, args: tuple[str, ...], words: str
) -> None:
    result = cli(logged, alpha, tmp_path, "logs", "web", *args)
    assert result.exit_code == 2
    assert words in " ".join(result.stderr.split())
