"""Builds from a git commit, end to end: the API records the request, the builder fetches,
builds on the real engine, pushes to the real registry and records the image."""

from __future__ import annotations

import re

import docker
import pytest

from dockyard.images import naming
from tests.integration.images.build_support import build, follow, set_source
from tests.integration.images.conftest import Center
from tests.support.git_repos import Repo, service_files

pytestmark = pytest.mark.docker


def test_a_build_pushes_one_digest_and_records_its_commit(
    center: Center, repo: Repo, docker_engine: docker.APIClient
) -> None:
    sha = repo.commit(service_files("v2"), message="serve v2\n\nwith a body")
    set_source(center, repo.url)
    done, log = build(center)

    assert done["state"] == "succeeded", done["reason"]
    image = done["image"]
    repository = f"{center.parts.settings.registry.address}/{center.team}/web"
    assert image["repository"] == repository
    assert image["tag"] == sha[:12]
    assert image["commit"] == done["commit"] == sha
    assert image["author"] == "Ada Builder <ada@example.com>"
    assert image["message"] == "serve v2\n\nwith a body"
    assert image["size_bytes"] > 100_000
    # The digest recorded is the registry's, and the engine's image carries it and the labels.
    registry_digest = center.parts.registry.digest(f"{center.team}/web", sha[:12])
    assert image["digest"] == registry_digest
    local = docker_engine.inspect_image(image["reference"])
    assert f"{repository}@{registry_digest}" in local["RepoDigests"]
    labels = local["Config"]["Labels"]
    assert labels[naming.LABEL_REVISION] == sha
    assert labels[naming.LABEL_SOURCE] == repo.url
    assert labels[naming.LABEL_CREATED].startswith(image["committed_at"][:19])
    # The whole log stays readable, from any offset.
    assert f"is commit {sha}" in log and "[1/2] FROM" in log and "pushing" in log
    whole = center.client.get(center.service() + "/builds/1/log", headers=center.ci).json()
    assert whole["text"] == log and whole["done"] is True
    assert whole["build"]["image"]["digest"] == registry_digest
    tail = center.client.get(
        center.service() + "/builds/1/log", params={"after": len(log) - 20}, headers=center.ci
    ).json()
    assert tail["text"] == log[-20:]


def test_a_built_commit_is_not_built_again_unless_forced(center: Center, repo: Repo) -> None:
    set_source(center, repo.url)
    first, _ = build(center)
    again, log = build(center)
    assert again["state"] == "succeeded"
    assert again["image"]["digest"] == first["image"]["digest"]
    assert "was built already" in log and "[1/2] FROM" not in log

    forced, log = build(center, force=True)
    assert forced["state"] == "succeeded"
    assert re.search(r"#(\d+) \[2/2\] COPY www/ /www/\n#\1 CACHED\n", log), log
    # The engine really built it again; the registry holds that very image, so no push.
    assert "nothing to push" in log and "==> pushing" not in log
    # The context kept from the first build is sent again, not exported from git again.
    assert "is the one sent last time" in log
    # Same commit, same context, warm cache, `created` from the commit: the very same image.
    assert forced["image"]["digest"] == first["image"]["digest"]
    listed = center.client.get(center.service() + "/images", headers=center.ci).json()["items"]
    assert [i["digest"] for i in listed] == [first["image"]["digest"]]


def test_branches_tags_and_short_commits_resolve(center: Center, repo: Repo) -> None:
    first = repo.commit(service_files("v2"), message="v2")
    repo.tag("v2.0")
    repo.branch("feature")
    second = repo.commit(service_files("v3"), message="v3")
    set_source(center, repo.url)

    assert build(center, ref="v2.0")[0]["commit"] == first
    assert build(center, ref="feature")[0]["commit"] == second
    assert build(center, ref=first[:8])[0]["commit"] == first
    assert build(center)[0]["commit"] == first  # the source's branch: main
    # A full commit id the mirror holds names that commit whatever a fetch would bring.
    done, log = build(center, ref=second, force=True)
    assert done["commit"] == second
    assert "is in the mirror" in log and "fetching" not in log


def test_a_dockerfile_in_a_subdirectory_builds_from_its_context(center: Center, repo: Repo) -> None:
    files = {f"services/web/{name}": text for name, text in service_files("sub").items()}
    files["services/web/docker/Web.dockerfile"] = files.pop("services/web/Dockerfile")
    repo.commit(files, message="move into services/web")
    set_source(center, repo.url, context="services/web", dockerfile="docker/Web.dockerfile")
    done, _ = build(center)
    assert done["state"] == "succeeded", done["reason"]


@pytest.mark.parametrize(
    ("setup", "ref", "reason"),
    [
        ("unreachable", None, "cannot fetch file://"),
        ("ok", "no-such-branch", "unknown ref 'no-such-branch'"),
        ("no-dockerfile", None, "no Dockerfile at 'Dockerfile'"),
        ("failing-step", None, "the build failed: executor failed running [/bin/sh -c exit 3]"),
    ],
)
def test_a_build_that_cannot_succeed_fails_with_its_reason_and_records_nothing(
    center: Center, repo: Repo, setup: str, ref: str | None, reason: str
) -> None:
    url = repo.url
    if setup == "unreachable":
        url = f"{repo.url}-nonexistent"  # under the source root, so it may be set
    elif setup == "no-dockerfile":
        repo.commit({"Dockerfile.old": "FROM scratch\n"}, message="x")
        (repo.path / "Dockerfile").unlink()
        repo.commit({}, message="remove the Dockerfile")
    elif setup == "failing-step":
        repo.commit({"Dockerfile": service_files()["Dockerfile"] + "RUN exit 3\n"})
    set_source(center, url)
    done, log = build(center, ref=ref, deploy_to="test")

    assert done["state"] == "failed"
    assert reason in done["reason"], done["reason"]
    assert "build failed:" in log
    # The reason ends with the log's last lines; nothing was recorded or released.
    assert done["reason"].splitlines()[-1] in log
    assert done["image"] is None
    assert center.client.get(center.service() + "/images", headers=center.ci).json()["items"] == []
    envs = center.client.get(center.service() + "/envs/test", headers=center.ci).json()
    assert envs["current"] is None


def test_a_build_without_a_source_is_refused(center: Center) -> None:
    answer = center.client.post(center.service() + "/builds", json={}, headers=center.ci)
    assert answer.status_code == 422
    assert "has no source" in answer.json()["message"]


def test_the_log_of_a_running_build_can_be_followed_from_any_offset(
    center: Center, repo: Repo
) -> None:
    set_source(center, repo.url)
    number = center.client.post(center.service() + "/builds", json={}, headers=center.ci).json()[
        "number"
    ]
    first = center.client.get(
        f"{center.service()}/builds/{number}/log", params={"wait": 10}, headers=center.ci
    ).json()
    assert first["text"]  # the long poll answered as soon as there was text
    done, log = follow(center, number)
    assert log.startswith(first["text"])
    assert done["state"] == "succeeded"


def test_a_dockerignore_keeps_tracked_files_out_of_the_image(
    center: Center, repo: Repo, docker_engine: docker.APIClient, test_image: str
) -> None:
    repo.commit(
        {
            "Dockerfile": f"FROM {test_image}\nCOPY . /app/\n",
            ".dockerignore": "# as docker build reads it\nsecret.txt\nDockerfile\n*.md\n!KEEP.md\n",
            "secret.txt": "not for the image",
            "notes.md": "nor this",
            "KEEP.md": "but this",
        }
    )
    set_source(center, repo.url)
    done, _ = build(center)
    assert done["state"] == "succeeded", done["reason"]
    container = docker_engine.create_container(
        done["image"]["reference"], command=["ls", "-a", "/app"]
    )
    try:
        docker_engine.start(container)
        docker_engine.wait(container, timeout=60)
        listed = set(docker_engine.logs(container).decode().split())
    finally:
        docker_engine.remove_container(container, force=True)
    assert {"KEEP.md", "www", ".dockerignore", "Dockerfile"} <= listed  # the two always go
    assert not {"secret.txt", "notes.md"} & listed


def test_a_dockerignore_docker_would_refuse_fails_the_build(center: Center, repo: Repo) -> None:
    repo.commit({".dockerignore": "[a-\n"})
    set_source(center, repo.url)
    done, _ = build(center)
    assert done["state"] == "failed"
    assert done["reason"].startswith(".dockerignore pattern '[a-' is not valid"), done["reason"]
