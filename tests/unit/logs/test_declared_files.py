"""The agent's view of a container's declared log files: which files on the host are sources,
under which path in the container, and the service's multi-line rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.agent.logfiles import found_files, rotated, rule_of, split_under
from dockyard.agent.logs import sources_of
from dockyard.domain.environment import Environment
from dockyard.domain.logfiles import DeclaredFiles, LogMultiline, log_labels
from dockyard.logs.reader import Format
from dockyard.logs.record import Source

BASE = Source("shop", "web", Environment.TEST, "i1", host="h1")


@pytest.mark.parametrize(
    ("name", "others", "expected"),
    [
        ("app.log", ["app.log"], False),
        ("app.log.1", ["app.log"], True),
        ("app.log-20250101", ["app.log"], True),
        ("app.log.gz", [], True),
        ("other.log", ["app.log"], False),
        ("app.log.1", [], False),  # nothing it could have rotated from
    ],
)
def test_rotated_generations_belong_to_their_origin(
    name: str, others: list[str], expected: bool
) -> None:
    assert rotated(name, others) is expected


@pytest.mark.parametrize(
    ("files", "glob", "followed", "sources"),
    [
        (["app.log", "err.log", "notes.txt"], "*.log", [], ["app.log", "err.log"]),
        (["app.log", "app.log.1", "app.log.2.gz"], "*", [], ["app.log"]),
        # Renamed away, the new file not made yet: still the followed origin's generation.
        (["app.log.1"], "*", ["/app/logs/app.log"], []),
        (["app.log"], "app.log", [], ["app.log"]),
        ([], "*.log", [], []),
    ],
)
def test_files_matching_the_pattern_are_sources_under_their_container_path(
    tmp_path: Path, files: list[str], glob: str, followed: list[str], sources: list[str]
) -> None:
    for name in files:
        (tmp_path / name).write_text("x\n")
    (tmp_path / "sub.log").mkdir()  # a directory is no file to follow
    declared = DeclaredFiles(str(tmp_path), glob, f"/app/logs/{glob}")
    found = found_files(declared, BASE, followed=followed)
    assert [f.source.channel for f in found] == [f"/app/logs/{name}" for name in sources]
    assert all(f.source.instance == "i1" and f.source.host == "h1" for f in found)
    assert [Path(f.path).name for f in found] == sources


def test_a_missing_directory_has_no_sources(tmp_path: Path) -> None:
    declared = DeclaredFiles(str(tmp_path / "gone"), "*.log", "/app/logs/*.log")
    assert found_files(declared, BASE) == []


def test_container_labels_give_its_declared_files_and_multiline_rule(tmp_path: Path) -> None:
    root = tmp_path / "i1"
    (root / "0").mkdir(parents=True)
    (root / "0" / "app.log").write_text("x\n")
    labels = {
        "io.dockyard.managed": "true", "io.dockyard.team": "shop", "io.dockyard.service": "web",
        "io.dockyard.env": "test", "io.dockyard.revision": "1", "io.dockyard.instance": "i1",
        "io.dockyard.template": "t",
        **log_labels(("/app/logs/*.log",), LogMultiline(start="^E", max_wait_s=0.5),
                     root=str(root)),
    }  # fmt: skip
    info = {"Config": {"Labels": labels}, "LogPath": "/d/c-json.log", "HostConfig": {}}
    found = sources_of(info, host="h1")
    assert found is not None
    followed = found.followed(already=set())
    rule = rule_of(LogMultiline(start="^E", max_wait_s=0.5))
    assert [(f.source.channel, str(f.path), f.fmt, f.multiline) for f in followed] == [
        ("console", "/d/c-json.log", Format.JSON_FILE, rule),
        ("/app/logs/app.log", str(root / "0" / "app.log"), Format.PLAIN, rule),
    ]


def test_only_directories_under_the_files_dir_are_read(tmp_path: Path) -> None:
    root = tmp_path / "files"
    (root / "i1" / "0").mkdir(parents=True)
    (tmp_path / "escape").symlink_to("/etc")
    (root / "i1" / "link").symlink_to("/etc")

    def declared(directory: str) -> DeclaredFiles:
        return DeclaredFiles(directory, "*", "/app/logs/*")

    good = declared(str(root / "i1" / "0"))
    bad = [
        declared("/etc"),
        declared(str(root)),
        declared(str(root / ".." / "escape")),
        declared(str(root / "i1" / "link")),
        declared(str(tmp_path / "files-other")),
    ]
    assert split_under((good, *bad), root) == ((good,), tuple(bad))
