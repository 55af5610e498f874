"""`git push` straight to Dockyard: the real git client against the server under uvicorn,
speaking smart HTTP to `git http-backend` with a team token as the password."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dockyard.cli import app as cli_app
from dockyard.cli.context import CliEnv
from dockyard.domain.clock import utcnow
from dockyard.domain.environment import Environment
from dockyard.domain.spec import ServiceSpec
from dockyard.store import services, status, teams, tokens
from dockyard.store.db import Database
from tests.support.git_repos import AUTHOR, Repo, git, service_files
from tests.support.image_center import (
    ADMIN,
    API,
    bearer,
    compose,
    image_settings,
    seed,
    serve,
    with_portal,
)
from tests.support.registry import RunningRegistry

pytestmark = pytest.mark.docker

OTHER = "otherteam"


@dataclass
class Remote:
    url: str
    team: str
    secrets: dict[str, str]
    hosted: Path
    home: Path
    db: Database

    def remote(self, token: str, service: str = "web") -> str:
        host = self.url.removeprefix("http://")
        return f"http://git:{token}@{host}/git/{self.team}/{service}.git"

    def api(self, path: str, **kw: Any) -> Any:
        answer = httpx.get(
            f"{self.url}{API}/teams/{self.team}/services/web{path}",
            headers=bearer(self.secrets["ci"]),
            timeout=30,
            **kw,
        )
        answer.raise_for_status()
        return answer.json()

    def git(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ["PATH"], "HOME": str(self.home), "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **AUTHOR,
        }  # fmt: skip
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@pytest.fixture
def remote(
    request: pytest.FixtureRequest,
    db: Database,
    registry: RunningRegistry,
    docker_engine: docker.APIClient,
    test_image: str,
    docker_team: str,
    tmp_path: Path,
) -> Iterator[Remote]:
    secrets = seed(db, docker_team, test_image)
    with db.session() as session:
        teams.create_team(session, ADMIN, name=OTHER, description="", now=utcnow())
        _, secrets["other"] = tokens.create_token(
            session, ADMIN, team=OTHER, name="ci", expires_at=None, now=utcnow()
        )
    settings = image_settings(registry, tmp_path / "builds")
    changes = getattr(request, "param", {})  # smaller limits, for the tests that ask
    settings = replace(settings, sources=replace(settings.sources, **changes))
    app, parts = compose(db, settings=settings, clock=utcnow)
    home = tmp_path / "home"
    home.mkdir()
    with serve(with_portal(app, parts, clock=utcnow)) as url:
        yield Remote(url, docker_team, secrets, settings.sources.hosted_dir, home, db)


@pytest.fixture
def work(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "work")
    repo.commit(service_files("pushed"), message="serve pushed")
    return repo


def _follow(remote: Remote, number: int, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page = remote.api(f"/builds/{number}/log", params={"wait": 5, "after": 0})
        if page["done"]:
            return dict(remote.api(f"/builds/{number}"))
    raise AssertionError(f"build {number} did not end in {timeout_s} s")


def test_a_push_to_main_builds_the_commit_and_deploys_it_to_test(
    remote: Remote, work: Repo
) -> None:
    sha = git(work.path, "rev-parse", "HEAD")
    pushed = remote.git("-C", str(work.path), "push", remote.remote(remote.secrets["ci"]), "main")

    assert pushed.returncode == 0, pushed.stderr
    assert "remote: dockyard: web now builds from this repository (main)" in pushed.stderr
    assert "remote: dockyard: build 1 of web queued for main" in pushed.stderr
    done = _follow(remote, 1)
    assert done["state"] == "succeeded", done["reason"]
    assert done["commit"] == sha
    assert done["deploy_to"] == "test" and done["requested_by"] == f"{remote.team}/ci"
    test_env = remote.api("/envs/test")
    assert test_env["current"]["image"] == done["image"]["reference"]
    described = remote.api("/git")
    assert described["url"] == f"{remote.url}/git/{remote.team}/web.git"
    assert described["builds_on_push"] is True
    assert described["source"]["repo_url"] == f"file://{remote.hosted}/{remote.team}/web.git"


def test_a_push_to_another_branch_is_stored_and_builds_nothing(remote: Remote, work: Repo) -> None:
    work.branch("feature")
    pushed = remote.git(
        "-C", str(work.path), "push", remote.remote(remote.secrets["ci"]), "feature"
    )

    assert pushed.returncode == 0, pushed.stderr
    assert "only pushes to main build" in pushed.stderr
    assert remote.api("/builds")["items"] == []
    listed = remote.git("ls-remote", remote.remote(remote.secrets["lead"]))
    assert "refs/heads/feature" in listed.stdout and "refs/heads/main" not in listed.stdout


def test_a_clone_gives_back_what_was_pushed(remote: Remote, work: Repo, tmp_path: Path) -> None:
    url = remote.remote(remote.secrets["ci"])
    for n in range(40):  # enough wanted refs that git gzips the clone's request
        work.tag(f"v1.{n}")
    assert remote.git("-C", str(work.path), "push", "--tags", url, "main").returncode == 0
    cloned = remote.git("clone", "--quiet", url, str(tmp_path / "clone"))

    assert cloned.returncode == 0, cloned.stderr
    assert (tmp_path / "clone" / "www" / "index.html").read_text() == "<p>pushed</p>\n"
    assert len(git(tmp_path / "clone", "tag").split()) == 40


def test_a_wrong_token_is_asked_for_again_and_nothing_is_stored(remote: Remote, work: Repo) -> None:
    pushed = remote.git("-C", str(work.path), "push", remote.remote("dy_wrong"), "main")

    assert pushed.returncode != 0
    assert "Authentication failed" in pushed.stderr
    assert not (remote.hosted / remote.team / "web.git").exists()
    bare = httpx.get(f"{remote.url}/git/{remote.team}/web.git/info/refs?service=git-receive-pack")
    assert bare.status_code == 401
    assert bare.headers["www-authenticate"] == 'Basic realm="Dockyard"'


def test_another_teams_token_finds_no_repository(remote: Remote, work: Repo) -> None:
    pushed = remote.git(
        "-C", str(work.path), "push", remote.remote(remote.secrets["other"]), "main"
    )

    assert pushed.returncode != 0
    assert "not found" in pushed.stderr
    assert not (remote.hosted / remote.team / "web.git").exists()


def _push_then_recreate(remote: Remote, work: Repo) -> None:
    """A push of a branch to `web`, then `web` deleted, purged and created again."""
    url = remote.remote(remote.secrets["ci"])
    work.branch("feature")  # stored only: no build of the service about to be deleted
    assert remote.git("-C", str(work.path), "push", url, "feature").returncode == 0
    with remote.db.session() as session:
        spec = ServiceSpec.from_json(services.service_row(session, ADMIN, remote.team, "web").spec)
    gone = httpx.delete(
        f"{remote.url}{API}/teams/{remote.team}/services/web", headers=bearer(remote.secrets["ci"])
    )
    assert gone.status_code == 202
    with remote.db.session() as session:  # what the controller does once nothing runs
        old_id = status.key_for(session, team=remote.team, service="web", env=Environment.TEST)
        assert old_id is not None
        status.purge_service(session, old_id.service_id)
    with remote.db.session() as session:
        services.create_service(
            session, ADMIN, team=remote.team, name="web", spec=spec, now=utcnow()
        )


def test_a_service_made_again_under_a_deleted_ones_name_sees_none_of_its_pushes(
    remote: Remote, work: Repo, tmp_path: Path
) -> None:
    url = remote.remote(remote.secrets["ci"])
    _push_then_recreate(remote, work)

    listed = remote.git("ls-remote", url)
    cloned = remote.git("clone", "--quiet", url, str(tmp_path / "clone"))

    assert listed.returncode == 0 and listed.stdout == "", listed.stderr
    assert cloned.returncode == 0 and git(tmp_path / "clone", "branch", "-a") == ""
    [kept] = (remote.hosted / remote.team / ".deleted").iterdir()
    assert git(kept, "rev-parse", "refs/heads/feature") == git(work.path, "rev-parse", "HEAD")


def test_naming_its_own_hosted_url_as_source_claims_the_repository_before_any_build(
    remote: Remote, work: Repo
) -> None:
    _push_then_recreate(remote, work)
    hosted = remote.hosted / remote.team / "web.git"

    answer = httpx.put(
        f"{remote.url}{API}/teams/{remote.team}/services/web/source",
        json={"repo_url": f"file://{hosted}", "branch": "feature"},
        headers=bearer(remote.secrets["ci"]),
    )

    assert answer.status_code == 200, answer.text
    assert git(hosted, "for-each-ref") == ""  # a build now finds no old commit to read
    [kept] = (remote.hosted / remote.team / ".deleted").iterdir()
    assert git(kept, "rev-parse", "refs/heads/feature") == git(work.path, "rev-parse", "HEAD")


def _backends(root: Path) -> list[int]:
    """PIDs of processes serving the hosted repositories under `root` (by their environment)."""
    wanted = f"GIT_PROJECT_ROOT={root}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if wanted in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"git:{token}".encode()).decode()


def _connect(remote: Remote) -> socket.socket:
    host, port = remote.url.removeprefix("http://").split(":")
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)  # no room to read ahead
    client.connect((host, int(port)))
    return client


def _gone_within(remote: Remote, seconds: float) -> list[int]:
    """The backends still running after waiting up to `seconds` for them to end."""
    deadline = time.monotonic() + seconds
    while _backends(remote.hosted) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _backends(remote.hosted)


def _left_behind(remote: Remote, request: bytes, *, read: int) -> list[int]:
    """Send `request`, read `read` bytes of the answer, check a backend runs, hang up; the
    backends still running a few seconds later."""
    with _connect(remote) as client:
        client.sendall(request)
        got = b""
        while len(got) < read:
            got += client.recv(4096)
        deadline = time.monotonic() + 10
        while not _backends(remote.hosted) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _backends(remote.hosted), "no git http-backend was running when the client left"
    return _gone_within(remote, 10)


def test_a_client_that_leaves_while_sending_leaves_no_git_process(remote: Remote) -> None:
    request = (
        f"POST /git/{remote.team}/web.git/git-upload-pack HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: {_basic(remote.secrets['ci'])}\r\n"
        "Content-Type: application/x-git-upload-pack-request\r\n"
        "Content-Length: 100000\r\n\r\n0032want "
    ).encode()
    assert _left_behind(remote, request, read=0) == []


def test_a_client_that_leaves_while_receiving_leaves_no_git_process(
    remote: Remote, work: Repo
) -> None:
    (work.path / "big.bin").write_bytes(os.urandom(16 * 1024 * 1024))  # more than all buffers
    sha = work.commit({}, message="big")
    url = remote.remote(remote.secrets["ci"])
    assert remote.git("-C", str(work.path), "push", url, "main").returncode == 0
    wants = f"0032want {sha}\n00000009done\n".encode()
    request = (
        f"POST /git/{remote.team}/web.git/git-upload-pack HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: {_basic(remote.secrets['ci'])}\r\n"
        "Content-Type: application/x-git-upload-pack-request\r\n"
        f"Content-Length: {len(wants)}\r\n\r\n"
    ).encode() + wants
    assert _left_behind(remote, request, read=64 * 1024) == []


def _upload_request(remote: Remote, body: bytes, *, length: int) -> bytes:
    return (
        f"POST /git/{remote.team}/web.git/git-upload-pack HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: {_basic(remote.secrets['ci'])}\r\n"
        "Content-Type: application/x-git-upload-pack-request\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode() + body


def _whole_answer(client: socket.socket) -> bytes:
    """Head and body of one HTTP answer with a Content-Length (they may come in two reads)."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = client.recv(4096)
        if not chunk:
            return answer
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = client.recv(4096)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


@pytest.mark.parametrize("remote", [{"git_timeout_s": 1.0}], indirect=True)
def test_a_client_that_stops_sending_is_answered_503_at_the_time_limit(remote: Remote) -> None:
    with _connect(remote) as client:
        client.sendall(_upload_request(remote, b"0032want ", length=100_000))
        client.settimeout(10)
        started = time.monotonic()
        answer = _whole_answer(client)
        took = time.monotonic() - started
        running = _backends(remote.hosted)

    assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
    assert b"DOCKYARD_GIT_TIMEOUT_S" in answer
    assert 0.5 < took < 5 and running == []


@pytest.mark.parametrize("remote", [{"git_timeout_s": 1.0}], indirect=True)
def test_a_client_that_stops_reading_loses_its_git_process_at_the_time_limit(
    remote: Remote, work: Repo
) -> None:
    url = remote.remote(remote.secrets["ci"])
    assert remote.git("ls-remote", url).returncode == 0  # makes the repository
    (work.path / "big.bin").write_bytes(os.urandom(16 * 1024 * 1024))  # more than all buffers
    sha = work.commit({}, message="big")
    git(work.path, "push", "--quiet", str(remote.hosted / remote.team / "web.git"), "main")
    wants = f"0032want {sha}\n00000009done\n".encode()
    with _connect(remote) as client:
        client.sendall(_upload_request(remote, wants, length=len(wants)))
        assert client.recv(4096).startswith(b"HTTP/1.1 200")
        assert _backends(remote.hosted), "no git http-backend runs while the answer waits"
        # Still connected, reading nothing more: only the time limit can end it.
        assert _gone_within(remote, 5) == []


@pytest.mark.parametrize(
    ("remote", "size"),
    [
        # sent with a Content-Length: refused before it is read
        ({"max_push_bytes": 4096}, 64 * 1024),
        # over git's 1 MiB post buffer: chunked, refused midway
        ({"max_push_bytes": 1024 * 1024}, 1536 * 1024),
    ],
    indirect=["remote"],
)
def test_a_push_over_the_limit_is_refused_and_stores_nothing(
    remote: Remote, work: Repo, size: int
) -> None:
    work.commit({"blob.bin": os.urandom(size).hex()}, message="too big")
    pushed = remote.git("-C", str(work.path), "push", remote.remote(remote.secrets["ci"]), "main")

    assert pushed.returncode != 0
    assert "413" in pushed.stderr
    assert remote.git("ls-remote", remote.remote(remote.secrets["ci"])).stdout == ""
    assert remote.api("/builds")["items"] == []


def _cli(remote: Remote, *args: str) -> tuple[int, str]:
    environ = {
        "HOME": str(remote.home), "DOCKYARD_STATE_DIR": str(remote.home / "state"),
        "DOCKYARD_URL": remote.url, "DOCKYARD_TOKEN": remote.secrets["ci"],
    }  # fmt: skip
    result = CliRunner().invoke(cli_app, list(args), obj=CliEnv(environ=environ, uid=1000))
    return result.exit_code, result.stdout + result.stderr


def test_the_cli_shows_the_remote_and_points_the_service_at_it(remote: Remote) -> None:
    url = f"{remote.url}/git/{remote.team}/web.git"
    code, out = _cli(remote, "source", "show", "web")
    assert code == 0, out
    assert f"git remote add dockyard {url}" in out and "the first push sets it" in out

    answer = httpx.put(
        f"{remote.url}{API}/teams/{remote.team}/services/web/source",
        json={"repo_url": "https://git.example.com/web.git"}, headers=bearer(remote.secrets["ci"]),
    )  # fmt: skip
    assert answer.status_code == 200
    code, out = _cli(remote, "source", "show", "web")
    assert "pushes are stored only" in out

    code, out = _cli(remote, "source", "set", "web", "--hosted", "--branch", "release")
    assert code == 0, out
    assert f"web builds from file://{remote.hosted}/{remote.team}/web.git (release)" in out
    described = remote.api("/git")
    assert described["builds_on_push"] is True and described["branch"] == "release"
    assert (remote.hosted / remote.team / "web.git" / "HEAD").read_text() == (
        "ref: refs/heads/release\n"
    )


def test_the_service_page_shows_the_push_url(remote: Remote) -> None:
    with httpx.Client(base_url=remote.url, timeout=10) as portal:
        portal.post("/ui/login", data={"token": remote.secrets["ci"], "next": "/ui/"})
        page = portal.get(f"/ui/teams/{remote.team}/services/web")
    assert page.status_code == 200
    assert f"{remote.url}/git/{remote.team}/web.git</code>" in page.text


def test_the_public_url_names_the_remote_whatever_host_the_request_came_to(
    db: Database, registry: RunningRegistry, docker_team: str, test_image: str, tmp_path: Path
) -> None:
    secrets = seed(db, docker_team, test_image)
    public = "https://dockyard.example.com/cloud"
    app, parts = compose(
        db, settings=image_settings(registry, tmp_path / "builds"), clock=utcnow,
        public_url=public,
    )  # fmt: skip
    app = with_portal(app, parts, clock=utcnow, public_url=public)
    url = f"{public}/git/{docker_team}/web.git"
    with TestClient(app, base_url="http://10.1.2.3:8420") as client:
        described = client.get(
            f"{API}/teams/{docker_team}/services/web/git", headers=bearer(secrets["ci"])
        )
        client.post("/ui/login", data={"token": secrets["ci"], "next": "/ui/"})
        page = client.get(f"/ui/teams/{docker_team}/services/web")

    assert described.json()["url"] == url
    assert f'<code id="git-remote">{url}</code>' in page.text
