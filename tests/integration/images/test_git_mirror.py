"""The builder's mirror of a repository and the build context made from it, with the real git
program: what a build reads, when it needs no fetch, and that a repository on this host is read
in place while a remote one is fetched."""

from __future__ import annotations

import hashlib
import tarfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.domain.source import GitSource
from dockyard.images.context import GENERATED, make_context
from dockyard.images.git import Mirror, SourceError
from tests.support.git_repos import Repo, git, publish, served_over_http, service_repo

LABELS = {"org.opencontainers.image.revision": "abc"}


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return service_repo(tmp_path / "src")


@pytest.fixture
def mirror(tmp_path: Path, repo: Repo) -> Mirror:
    return Mirror(tmp_path / "mirror.git", repo.url)


def _members(tar_path: Path) -> dict[str, bytes]:
    """The regular files of the tar at `tar_path`, by name."""
    found: dict[str, bytes] = {}
    with tarfile.open(tar_path) as tar:
        for member in tar.getmembers():
            data = tar.extractfile(member) if member.isfile() else None
            if data is not None:
                found[member.name] = data.read()
    return found


@pytest.fixture
def remote(repo: Repo, tmp_path: Path) -> Iterator[str]:
    with served_over_http(repo, tmp_path / "served") as url:
        yield url


def _own_objects(mirror: Mirror) -> list[Path]:
    """The objects stored in the mirror itself (loose or packed)."""
    objects = mirror.path / "objects"
    return [*objects.glob("[0-9a-f][0-9a-f]/*"), *objects.glob("pack/*.pack")]


def test_a_local_source_is_read_in_place_never_copied(mirror: Mirror, repo: Repo) -> None:
    mirror.fetch()
    assert mirror.find("main").sha == git(repo.path, "rev-parse", "HEAD")
    newer = repo.commit({"www/index.html": "v2\n"})
    assert mirror.find("main").sha == newer  # the branch as it is now
    assert mirror.has(newer)  # a commit id: read in place, no fetch needed
    assert _own_objects(mirror) == []
    git(repo.path, "pack-refs", "--all")  # refs packed are read as well as loose ones
    git(repo.path, "tag", "-a", "v2", "-m", "an annotated tag")
    git(repo.path, "symbolic-ref", "refs/heads/alias", "refs/heads/main")
    assert mirror.find("main").sha == mirror.find("v2").sha == mirror.find("alias").sha == newer
    git(repo.path, "checkout", "--quiet", "-b", "gone")
    git(repo.path, "checkout", "--quiet", "main")
    git(repo.path, "branch", "--quiet", "-D", "gone")
    mirror.fetch()
    with pytest.raises(SourceError, match="unknown ref 'gone'"):
        mirror.find("gone")


def test_a_remote_commit_is_held_once_fetched_and_a_branch_name_never_is(
    repo: Repo, remote: str, tmp_path: Path
) -> None:
    mirror = Mirror(tmp_path / "mirror.git", remote)
    sha = git(repo.path, "rev-parse", "HEAD")
    assert not mirror.has(sha)  # no mirror yet
    mirror.fetch()
    assert mirror.has(sha)
    assert not mirror.has("main")  # a name may move: it always needs the fetch
    assert not mirror.has(sha[:12])
    newer = repo.commit({"www/index.html": "v2\n"})
    publish(repo, tmp_path / "served")
    assert not mirror.has(newer)
    mirror.fetch()
    assert mirror.has(newer) and mirror.find("main").sha == newer


def test_a_mirror_that_read_a_local_source_fetches_all_of_a_remote_one(
    mirror: Mirror, repo: Repo, remote: str
) -> None:
    mirror.fetch()
    remote_mirror = Mirror(mirror.path, remote)  # the service's source changed
    remote_mirror.fetch()
    assert not (mirror.path / "objects" / "info" / "alternates").exists()
    assert _own_objects(remote_mirror)
    assert remote_mirror.find("main").sha == git(repo.path, "rev-parse", "HEAD")


def test_find_reads_a_branch_a_tag_and_a_commit_with_its_metadata(
    mirror: Mirror, repo: Repo
) -> None:
    first = repo.commit({"www/index.html": "v2\n"}, message="serve v2\n\nwith a body")
    repo.tag("v2")
    git(repo.path, "tag", "-a", "v2-annotated", "-m", "an annotated tag")
    second = repo.commit({"www/index.html": "v3\n"}, message="serve v3")
    mirror.fetch()

    found = mirror.find("v2")
    assert (found.sha, found.message) == (first, "serve v2\n\nwith a body")
    assert found.author == "Ada Builder <ada@example.com>"
    assert mirror.find("v2-annotated").sha == first  # peeled to its commit
    assert mirror.find("main").sha == second
    assert mirror.find(first[:8]) == mirror.commit(first)
    with pytest.raises(SourceError, match="unknown ref 'nope'"):
        mirror.find("nope")


def test_the_context_carries_the_commit_and_the_labelled_dockerfile_byte_for_byte(
    mirror: Mirror, repo: Repo, tmp_path: Path
) -> None:
    dockerfile = "FROM scratch\n# caf\xe9 in Latin-1, not UTF-8\nCOPY www/ /www/".encode("latin-1")
    (repo.path / "Dockerfile").write_bytes(dockerfile)
    sha = repo.commit({})
    mirror.fetch()

    tar = make_context(
        mirror, sha, source=GitSource(repo.url), labels=LABELS, into=tmp_path / "c.tar"
    )
    members = _members(tar)
    assert members["Dockerfile"] == dockerfile
    assert members["www/index.html"] == b"<p>v1</p>\n"
    assert (
        members[GENERATED] == dockerfile + b'\n\nLABEL "org.opencontainers.image.revision"="abc"\n'
    )


def test_a_dockerfile_in_a_subdirectory_context_and_a_linked_one_are_read(
    mirror: Mirror, repo: Repo, tmp_path: Path
) -> None:
    repo.commit({"svc/docker/Web.dockerfile": "FROM scratch\n", "svc/www/x": "x\n"})
    (repo.path / "svc" / "Linked").symlink_to("docker/Web.dockerfile")
    sha = repo.commit({})
    mirror.fetch()

    for name in ("docker/Web.dockerfile", "Linked"):
        source = GitSource(repo.url, context="svc", dockerfile=name)
        tar = make_context(mirror, sha, source=source, labels=LABELS, into=tmp_path / "c.tar")
        members = _members(tar)
        assert members[GENERATED].startswith(b"FROM scratch\n\nLABEL ")
        assert "www/x" in members and "Dockerfile" not in members


def test_a_missing_dockerfile_fails_and_leaves_no_context_behind(
    mirror: Mirror, repo: Repo, tmp_path: Path
) -> None:
    sha = git(repo.path, "rev-parse", "HEAD")
    mirror.fetch()
    into = tmp_path / "c.tar"
    source = GitSource(repo.url, dockerfile="Missing.dockerfile")
    with pytest.raises(SourceError, match=r"no Dockerfile at 'Missing\.dockerfile'"):
        make_context(mirror, sha, source=source, labels=LABELS, into=into)
    assert not into.exists()


def _loose_blobs_in_bucket_17(mirror: Mirror, count: int) -> None:
    """Write `count` real loose blobs whose ids start with 17 (the directory git samples)."""
    n = 0
    while count:
        body = f"filler {n}\n".encode()
        n += 1
        raw = b"blob %d\0" % len(body) + body
        sha = hashlib.sha1(raw).hexdigest()
        if sha.startswith("17"):
            path = mirror.path / "objects" / "17" / sha[2:]
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(zlib.compress(raw))
            count -= 1


def test_fetching_packs_the_mirror_only_once_git_would(
    repo: Repo, remote: str, tmp_path: Path
) -> None:
    mirror = Mirror(tmp_path / "mirror.git", remote)
    mirror.fetch()
    packs = mirror.path / "objects" / "pack"
    assert not list(packs.glob("*.pack"))  # a few loose objects: left alone
    _loose_blobs_in_bucket_17(mirror, 28)  # git's estimate: 28 * 256 > gc.auto (6700)
    repo.commit({"www/index.html": "v2\n"})
    publish(repo, tmp_path / "served")
    mirror.fetch()
    deadline = time.monotonic() + 10
    while not list(packs.glob("*.pack")):  # git packs in the background, as after its fetch
        assert time.monotonic() < deadline, "the mirror was never packed"
        time.sleep(0.05)
    assert mirror.find("main").message == "change"


def test_a_commit_read_by_its_id_is_not_read_again(mirror: Mirror, repo: Repo) -> None:
    mirror.fetch()
    first = mirror.find("main")  # a local source: its ref names an object id
    (mirror.path / "objects" / "info" / "alternates").unlink()  # git could not read it now
    assert mirror.find("main") == mirror.find(first.sha) == first
