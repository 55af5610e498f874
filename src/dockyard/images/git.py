"""A service's repository, mirrored under the builder's work directory with the git program.

One bare mirror per service: each build fetches into it (incremental after the first), resolves
its ref there and exports the build context with `git archive`, so no working tree is checked
out and nothing of one build leaks into the next. A file lock per mirror keeps two builds of the
same service from fetching at once. Every failure is a `SourceError` whose message is the reason
a build shows.

A repository on this host (`file://`, Dockyard's hosted remotes among them) is not copied: the
mirror borrows its objects (git's alternates) and the ref a build names is read from the
repository's files (`local_refs`), where a fetch costs five processes. Git still runs only in
the mirror, with the mirror's own configuration: nothing in the source repository's
configuration (hooks, filters) ever runs. The mirror keeps no refs of a local source, so
nothing in it can point at an object the source has since pruned.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dockyard.domain.source import looks_like_commit
from dockyard.images.local_refs import git_dir, read_ref
from dockyard.images.loose_objects import NotLoose, read_commit, read_file

FETCH_TIMEOUT_S = 600.0
LOCAL_TIMEOUT_S = 120.0
# Never ask for credentials on a terminal, never read the user's git config for credentials.
GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "/bin/true",
    "GIT_CONFIG_NOSYSTEM": "1",
    "LC_ALL": "C",
}
FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_COMMIT_FORMAT = "%H%x00%an <%ae>%x00%cI%x00%B"
# git's own thresholds for `gc --auto` (gc.auto, gc.autoPackLimit).
GC_AUTO_LOOSE = 6700
GC_AUTO_PACKS = 50


class SourceError(Exception):
    """The source cannot give what the build needs: the message says what and why."""


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str
    message: str
    committed_at: datetime

    @property
    def short(self) -> str:
        return self.sha[:12]


class _Seen:
    """The commit each object id named in each mirror, least recently used first dropped: a
    bounded, thread-safe memo (builds run in worker threads), so rebuilds of a commit read
    it once."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._found: OrderedDict[tuple[str, str], Commit] = OrderedDict()

    def get(self, key: tuple[str, str]) -> Commit | None:
        with self._lock:
            found = self._found.get(key)
            if found is not None:
                self._found.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], commit: Commit) -> None:
        with self._lock:
            self._found[key] = commit
            self._found.move_to_end(key)
            while len(self._found) > self._size:
                self._found.popitem(last=False)


_SEEN = _Seen(512)


class Mirror:
    """The bare mirror of one service's repository at `path`."""

    def __init__(self, path: Path, url: str) -> None:
        self.path = path
        self.url = url
        self._local: Path | None = None
        """The git directory of a local source that `fetch` found readable in place."""

    @contextlib.contextmanager
    def locked(self) -> Iterator[Mirror]:
        """Hold the mirror for one build's fetch, resolve and export."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield self

    def fetch(self) -> str:
        """Bring branches and tags up to date with the repository; git's output."""
        if not (self.path / "HEAD").exists():
            self._git("init", "--bare", "--quiet", str(self.path), cwd=self.path.parent)
        self._local = local_repository(self.url)
        self._borrow(self._local)
        if self._local is not None:
            return f"{self.url} is on this host: its objects are read in place, not copied"
        # No automatic maintenance after each fetch (a process of its own, every build):
        # `tidy` runs it only when the mirror has grown enough to need it.
        output = self._git(
            "fetch", "--prune", "--force", "--no-write-fetch-head", "--no-auto-maintenance",
            self.url, "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*",
            timeout_s=FETCH_TIMEOUT_S,
            failure=f"cannot fetch {self.url}",
            with_stderr=True,
        )  # fmt: skip
        self.tidy()
        return output

    def _borrow(self, repository: Path | None) -> None:
        """Read objects from the git directory `repository` too, or only from the mirror's."""
        alternates = self.path / "objects" / "info" / "alternates"
        if repository is None:
            alternates.unlink(missing_ok=True)  # a fetched mirror must hold all it names
            return
        line = f"{os.path.abspath(repository / 'objects')}\n"
        with contextlib.suppress(FileNotFoundError):
            if alternates.read_text() == line:
                return
        alternates.parent.mkdir(parents=True, exist_ok=True)
        alternates.write_text(line)

    def has(self, ref: str) -> bool:
        """True if `ref` is a full commit id whose commit the mirror holds already (or can
        read from a local source): nothing a fetch brings can change what it names (a branch
        or tag name always needs the fetch)."""
        if not FULL_SHA.match(ref) or not (self.path / "HEAD").exists():
            return False
        self._borrow(local_repository(self.url))  # only ever from the source named now
        return self._try("cat-file", "-e", f"{ref}^{{commit}}") is not None

    def tidy(self) -> None:
        """Pack the mirror's loose objects once there are many, as git's own automatic
        maintenance would. Deciding takes no process: git's own estimate (one of the 256
        loose-object directories, scaled) is read here, and git runs only when it is due."""
        loose = self.path / "objects" / "17"
        packs = self.path / "objects" / "pack"
        many_loose = loose.is_dir() and len(os.listdir(loose)) > -(-GC_AUTO_LOOSE // 256)
        many_packs = packs.is_dir() and (
            sum(name.endswith(".pack") for name in os.listdir(packs)) > GC_AUTO_PACKS
        )
        if many_loose or many_packs:
            self._git("maintenance", "run", "--auto", "--quiet", timeout_s=FETCH_TIMEOUT_S)

    def resolve(self, ref: str) -> str:
        """The full commit `ref` names: a branch first, then a tag, then a commit id."""
        return self.find(ref).sha

    def find(self, ref: str) -> Commit:
        """The commit `ref` names (a branch first, then a tag, then a commit id), read with
        one git call per name tried; none for an object id this mirror read before (what an
        object id names never changes)."""
        candidates = [f"refs/heads/{ref}", f"refs/tags/{ref}"]
        if self._local is not None:  # the source's own refs, read now; the mirror has none
            local = self._local
            candidates = [sha for name in candidates if (sha := read_ref(local, name))]
        if looks_like_commit(ref):
            candidates.append(ref)
        for name in candidates:
            key = (str(self.path), name) if FULL_SHA.match(name) else None
            if key is not None and (known := _SEEN.get(key)) is not None:
                return known
            if key is not None and (loose := self._loose(name)) is not None:
                _SEEN.put(key, loose)
                return loose
            found = self._try(
                "show", "--no-patch", f"--format={_COMMIT_FORMAT}", f"{name}^{{commit}}", "--"
            )
            if found:
                commit = _parse_commit(found)
                if key is not None:
                    _SEEN.put(key, commit)
                return commit
        raise SourceError(
            f"unknown ref {ref!r}: no branch, tag or commit of that name in {self.url}"
        )

    def _objects(self) -> list[Path]:
        """Where the mirror's objects are: its own, and a local source's it borrows."""
        objects = [self.path / "objects"]
        if self._local is not None:
            objects.append(self._local / "objects")
        return objects

    def _loose(self, sha: str) -> Commit | None:
        """Commit `sha` read from its loose object (the mirror's, or a local source's), if
        it is stored so: no git process."""
        found = read_commit(self._objects(), sha)
        if found is None:
            return None
        return Commit(
            sha=sha, author=found.author, message=found.message.strip(),
            committed_at=found.committed_at,
        )  # fmt: skip

    def commit(self, sha: str) -> Commit:
        return _parse_commit(self._git("log", "-1", f"--format={_COMMIT_FORMAT}", sha))

    def check_context(self, sha: str, context: str) -> None:
        """SourceError unless the build context directory `context` is in commit `sha`."""
        tree = f"{sha}:{context}"
        if context not in ("", ".") and self._try("cat-file", "-e", tree) is None:
            raise SourceError(f"the build context directory {context!r} is not in commit {sha}")

    def export(
        self,
        sha: str,
        *,
        context: str,
        into: Path,
        add: Path | None = None,
        leave_out: Sequence[str] = (),
    ) -> Path:
        """The build context (`context` directory at `sha`) as a tar file at `into`, with the
        file `add` (not in the commit) at its root, without the paths `leave_out` (relative to
        the context; a directory with all under it). The caller checks first that the context
        directory is in the commit (`check_context`)."""
        tree = _tree(sha, context)
        into.parent.mkdir(parents=True, exist_ok=True)
        extra = [f"--add-file={add}"] if add is not None else []
        excluded = [f":(exclude,literal){path}" for path in leave_out]
        self._git("archive", "--format=tar", f"--output={into}", *extra, tree, "--", *excluded)
        return into

    def list_files(self, sha: str, context: str) -> list[str]:
        """Every file of the context directory at `sha`, relative to it (names exactly as
        committed: bytes that are not UTF-8 as surrogates)."""
        command = ["ls-tree", "-r", "-z", "--name-only", _tree(sha, context)]
        listed = self._bytes(command, request=b"")
        return [name.decode(errors="surrogateescape") for name in listed.split(b"\0") if name]

    def read_files(self, sha: str, paths: list[str]) -> dict[str, bytes | None]:
        """The content of each file of commit `sha` that `paths` names (None: no such file),
        read from loose objects where they are, else with one git process for all. A
        symbolic link inside the commit is followed, as the engine finds the file."""
        found: dict[str, bytes | None] = {}
        rest = []
        for path in paths:
            try:
                found[path] = read_file(self._objects(), sha, path)
            except NotLoose:
                rest.append(path)
        if rest:
            found.update(zip(rest, self._cat_files(sha, rest), strict=True))
        return found

    def _cat_files(self, sha: str, paths: list[str]) -> list[bytes | None]:
        request = "".join(f"{sha}:{path}\n" for path in paths).encode(errors="surrogateescape")
        answer = self._bytes(["cat-file", "--batch", "--follow-symlinks"], request=request)
        return _batch_answers(answer, len(paths))

    # -- running git --------------------------------------------------------------------------

    def _git(
        self,
        *args: str,
        cwd: Path | None = None,
        timeout_s: float = LOCAL_TIMEOUT_S,
        failure: str | None = None,
        with_stderr: bool = False,
    ) -> str:
        """git's output as text, stripped (with stderr too: progress and notices, for a log)."""
        out, err = self._run(args, cwd=cwd, timeout_s=timeout_s, failure=failure)
        # git reports progress and notices on stderr: part of a build's log, never of a value.
        text = (out + err) if with_stderr else out
        return text.decode(errors="replace").strip()

    def _bytes(self, args: list[str], *, request: bytes) -> bytes:
        """git's output exactly as it wrote it, `request` its input."""
        return self._run(args, request=request)[0]

    def _run(
        self,
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        timeout_s: float = LOCAL_TIMEOUT_S,
        failure: str | None = None,
        request: bytes | None = None,
    ) -> tuple[bytes, bytes]:
        """(stdout, stderr) of git in the mirror (or, with `cwd`, there); SourceError saying
        `failure` (or which git command) and why, if it fails or does not answer."""
        command = ["git", *args] if cwd else ["git", f"--git-dir={self.path}", *args]
        what = failure or f"git {args[0]}"
        try:
            done = subprocess.run(
                command, cwd=cwd, input=request, capture_output=True, timeout=timeout_s,
                env={**os.environ, **GIT_ENV}, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise SourceError(f"{what}: no answer in {timeout_s:g} s") from exc
        if done.returncode != 0:
            detail = _last_lines(done.stderr.decode(errors="replace"))
            detail = detail or f"git exited with {done.returncode}"
            raise SourceError(f"{failure or what + ' failed'}: {detail}")
        return bytes(done.stdout), bytes(done.stderr)

    def _try(self, *args: str) -> str | None:
        """git's output (maybe empty) if it succeeded, else None."""
        try:
            return self._git(*args)
        except SourceError:
            return None


def local_repository(url: str) -> Path | None:
    """The git directory of the repository a `file://` URL names on this host, if a mirror can
    read it in place (`local_refs.git_dir`); None for any other URL."""
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    return git_dir(Path(unquote(parts.path)))


def _tree(sha: str, context: str) -> str:
    """The tree-ish of the context directory `context` at commit `sha`."""
    return sha if context in ("", ".") else f"{sha}:{context}"


def _batch_answers(out: bytes, count: int) -> list[bytes | None]:
    """The contents `git cat-file --batch --follow-symlinks` answered, in order: a blob's
    bytes, None for anything else (missing, a directory, a link leading out of the commit)."""
    answers: list[bytes | None] = []
    at = 0
    for _ in range(count):
        end = out.index(b"\n", at)
        header = out[at:end].split(b" ")
        at = end + 1
        if header[-1] == b"missing":
            answers.append(None)
            continue
        size = int(header[-1])
        body = out[at : at + size]
        at += size + 1  # the content, and its newline
        answers.append(body if len(header) == 3 and header[1] == b"blob" else None)
    return answers


def _parse_commit(text: str) -> Commit:
    full, author, when, message = text.split("\x00", 3)
    return Commit(
        sha=full,
        author=author,
        message=message.strip(),
        committed_at=datetime.fromisoformat(when),
    )


def _last_lines(text: str, count: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-count:] if line.strip())
