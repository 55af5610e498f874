"""Small git repositories for build tests, made with the git program in a temp directory.

The default service is the busybox test image plus a page of its own: it builds in well under
a second and serves HTTP on 8080 with /health, so the image a build makes can really run.
"""

from __future__ import annotations

import functools
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.images import HTTP_PORT, TEST_IMAGE

AUTHOR = {
    "GIT_AUTHOR_NAME": "Ada Builder",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Builder",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
}


def service_files(page: str = "v1", *, base: str = TEST_IMAGE) -> dict[str, str]:
    return {
        "Dockerfile": f"FROM {base}\nCOPY www/ /www/\nEXPOSE {HTTP_PORT}\n",
        "www/index.html": f"<p>{page}</p>\n",
        "www/health": "ok\n",
    }


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **AUTHOR, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent)},
    )
    return done.stdout.strip()


class Repo:
    """A repository on disk; `url` is its file:// URL."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        git(path, "init", "--quiet", "--initial-branch=main")

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    def commit(self, files: dict[str, str], message: str = "change") -> str:
        """Write `files` (relative path -> text), commit everything; the new commit's id."""
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        git(self.path, "add", "--all")
        git(self.path, "commit", "--quiet", "--allow-empty", "-m", message)
        return git(self.path, "rev-parse", "HEAD")

    def tag(self, name: str) -> None:
        git(self.path, "tag", name)

    def branch(self, name: str) -> None:
        git(self.path, "checkout", "--quiet", "-B", name)


def service_repo(path: Path, *, page: str = "v1") -> Repo:
    repo = Repo(path)
    repo.commit(service_files(page), message=f"serve {page}")
    return repo


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def publish(repo: Repo, root: Path) -> None:
    """Copy `repo`'s branches and tags to the bare repository `root`/web.git, ready to be
    served over git's "dumb" HTTP protocol (made on the first call)."""
    served = root / "web.git"
    if not served.exists():
        subprocess.run(["git", "init", "--quiet", "--bare", str(served)], check=True)
    subprocess.run(
        ["git", "-C", str(served), "fetch", "--quiet", "--prune", str(repo.path),
         "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
        check=True,
    )  # fmt: skip
    subprocess.run(["git", "-C", str(served), "update-server-info"], check=True)


@contextmanager
def served_over_http(repo: Repo, root: Path) -> Iterator[str]:
    """`repo` published under `root` and served over plain HTTP until the block ends: a
    remote repository, fetched rather than read in place. `publish` again after commits."""
    publish(repo, root)
    handler = functools.partial(_Quiet, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/web.git"
    finally:
        server.shutdown()
        server.server_close()
