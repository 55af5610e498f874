"""Commits and files read straight from a git object directory, when they are stored loose.

A push of a few commits to a hosted repository (and a commit made in a repository on this
host) leaves its objects loose: one zlib-compressed file each. The builder needs the author,
time and message of the commit it builds, and its Dockerfile and .dockerignore; reading them
from those files costs a fraction of a millisecond, where git costs a process (~3 ms) each.
Anything else (a packed object, an annotated tag to peel, a message in another encoding than
UTF-8, a symbolic link to follow, a file that does not parse) is left to git: `read_commit`
answers None, `read_file` raises NotLoose.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

_PERSON = re.compile(rb"^(?P<name>.*) <(?P<email>[^>]*)> (?P<when>\d+) (?P<zone>[+-]\d{4})$")
_OBJECT_ID = re.compile(r"^[0-9a-f]{40}$")
MAX_BYTES = 1024 * 1024
"""An object larger than this is left to git."""
_FILE_MODES = (b"100644", b"100755")
_TREE_MODE = b"40000"


class NotLoose(Exception):
    """What was asked cannot be read from loose objects alone: ask git."""


@dataclass(frozen=True)
class CommitFields:
    author: str
    """As git's `%an <%ae>`."""
    committed_at: datetime
    message: str
    tree: str


def read_commit(objects: list[Path], sha: str) -> CommitFields | None:
    """Commit `sha` from the first of the object directories `objects` holding it loose."""
    try:
        return parse(_raw(objects, sha))
    except NotLoose:
        return None


def read_file(objects: list[Path], commit: str, path: str) -> bytes | None:
    """The content of file `path` (`/`-separated) in `commit`; None if the commit has no such
    file. NotLoose if an object on the way is not loose or `path` is a symbolic link."""
    fields = parse(_raw(objects, commit))
    if fields is None:
        raise NotLoose(commit)
    sha = fields.tree
    parts = [part for part in path.split("/") if part not in ("", ".")]
    for depth, part in enumerate(parts):
        kind, body = _object(_raw(objects, sha))
        if kind != b"tree":
            raise NotLoose(sha)
        entry = _entries(body).get(part.encode(errors="surrogateescape"))
        if entry is None:
            return None
        mode, sha = entry
        last = depth == len(parts) - 1
        if not last and mode != _TREE_MODE:
            return None  # a file where a directory was named
        if last and mode not in _FILE_MODES:
            if mode == _TREE_MODE:
                return None  # a directory, not a file
            raise NotLoose(sha)  # a symbolic link (or a submodule): git follows it
    kind, body = _object(_raw(objects, sha))
    if kind != b"blob":
        raise NotLoose(sha)
    return body


def _raw(objects: list[Path], sha: str) -> bytes:
    if not _OBJECT_ID.match(sha):
        raise NotLoose(sha)
    for directory in objects:
        try:
            return (directory / sha[:2] / sha[2:]).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            continue
    raise NotLoose(sha)


def _object(raw: bytes) -> tuple[bytes, bytes]:
    """(type, body) of one compressed loose object. NotLoose if it does not parse."""
    try:
        data = zlib.decompressobj().decompress(raw, MAX_BYTES + 64)
    except zlib.error:
        raise NotLoose("not zlib") from None
    header, _, body = data.partition(b"\0")
    kind, _, size = header.partition(b" ")
    if size != str(len(body)).encode():
        raise NotLoose("cut short, or larger than MAX_BYTES")
    return kind, body


def _entries(tree: bytes) -> dict[bytes, tuple[bytes, str]]:
    """name -> (mode, object id) of a tree object's body. NotLoose if it does not parse."""
    found = {}
    at = 0
    while at < len(tree):
        space, nul = tree.find(b" ", at), tree.find(b"\0", at)
        if not at < space < nul or nul + 21 > len(tree):
            raise NotLoose("a tree that does not parse")
        found[tree[space + 1 : nul]] = (tree[at:space], tree[nul + 1 : nul + 21].hex())
        at = nul + 21
    return found


def parse(raw: bytes) -> CommitFields | None:
    """The fields of one compressed loose object, if it is a commit this module reads. Pure."""
    try:
        kind, body = _object(raw)
    except NotLoose:
        return None
    if kind != b"commit":
        return None
    head, _, message = body.partition(b"\n\n")
    found: dict[bytes, bytes] = {}
    for line in head.split(b"\n"):
        key, _, value = line.partition(b" ")
        if not line.startswith(b" "):  # a continuation belongs to a signature: not needed
            found.setdefault(key, value)
    if b"encoding" in found and found[b"encoding"].lower() not in (b"utf-8", b"utf8"):
        return None
    author, committer = _person(found.get(b"author")), _person(found.get(b"committer"))
    tree = found.get(b"tree", b"").decode(errors="replace")
    if author is None or committer is None or not _OBJECT_ID.match(tree):
        return None
    return CommitFields(
        author=author[0], committed_at=committer[1], message=message.decode(errors="replace"),
        tree=tree,
    )  # fmt: skip


def _person(value: bytes | None) -> tuple[str, datetime] | None:
    """`Name <email>` and the time of an author or committer line."""
    match = _PERSON.match(value or b"")
    if match is None:
        return None
    zone = match["zone"].decode()
    offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
    tz = timezone(-offset if zone[0] == "-" else offset)
    when = datetime.fromtimestamp(int(match["when"]), UTC).astimezone(tz)
    name = f"{match['name'].decode(errors='replace')} <{match['email'].decode(errors='replace')}>"
    return name, when
