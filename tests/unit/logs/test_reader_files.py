"""The reader on real files: Docker's rename rotation, a declared file's rename and
copy-truncate, a file rotated away unread (counted as lost), and a restart from the checkpoint
that makes the same lines under the same numbers."""

from __future__ import annotations

import json
import os
import re
import tracemalloc
from pathlib import Path

from dockyard.logs.checkpoint import Checkpoint, CheckpointStore
from dockyard.logs.multiline import MultilineRule
from dockyard.logs.reader import Format, Read, Reader, ReadLimits

LIMITS = ReadLimits(max_lines=1000, max_bytes=1 << 20, max_s=5.0, chunk_bytes=64)


class DockerFile:
    """Writes a json-file log as Docker does, and rotates it the same way (max-file files)."""

    def __init__(self, path: Path, max_file: int = 3) -> None:
        self.path = path
        self.max_file = max_file

    def write(self, *lines: str, stream: str = "stdout") -> None:
        with self.path.open("a") as out:
            for line in lines:
                entry = {"log": line + "\n", "stream": stream, "time": "2026-12-06T10:00:00.5Z"}
                out.write(json.dumps(entry) + "\n")

    def rotate(self) -> None:
        last = Path(f"{self.path}.{self.max_file - 1}")
        last.unlink(missing_ok=True)
        for n in range(self.max_file - 2, 0, -1):
            older = Path(f"{self.path}.{n}")
            if older.exists():
                older.rename(f"{self.path}.{n + 1}")
        self.path.rename(f"{self.path}.1")
        self.path.touch()


def docker_reader(path: Path, at: Checkpoint | None = None, *, rotate_bytes: int = 0) -> Reader:
    return Reader(
        path, fmt=Format.JSON_FILE, stream="", max_line_bytes=1024, at=at,
        rotate_bytes=rotate_bytes,
    )  # fmt: skip


def plain_reader(path: Path, at: Checkpoint | None = None) -> Reader:
    return Reader(path, fmt=Format.PLAIN, stream="/app/app.log", max_line_bytes=1024, at=at)


def texts(read: Read) -> list[tuple[int, str]]:
    return [(line.seq, line.text) for line in read.lines]


def test_docker_rotation_is_followed_through_the_old_file_first(tmp_path: Path) -> None:
    log = DockerFile(tmp_path / "c-json.log")
    log.write("1", "2")
    reader = docker_reader(log.path)
    assert texts(reader.read(LIMITS)) == [(1, "1"), (2, "2")]
    log.write("3")
    log.rotate()
    log.write("4")
    log.rotate()
    log.write("5")
    read = reader.read(LIMITS)
    assert texts(read) == [(3, "3"), (4, "4"), (5, "5")]
    assert read.lost == [] and read.at_end
    assert read.resume.inode == os.stat(log.path).st_ino


def test_restart_from_checkpoint_gives_the_same_numbers(tmp_path: Path) -> None:
    log = DockerFile(tmp_path / "c-json.log")
    log.write(*[str(n) for n in range(1, 11)])
    first = docker_reader(log.path)
    whole = texts(first.read(LIMITS))
    first.close()

    again = docker_reader(log.path)
    part = again.read(ReadLimits(max_lines=4, chunk_bytes=64))
    store = CheckpointStore(tmp_path / "checkpoints")
    store.save("src", part.resume)  # as the shipper does once the stream stored them
    again.close()
    log.rotate()  # the checkpoint's file is now x.1
    log.write("11")

    resumed = docker_reader(log.path, store.load("src"))
    rest = resumed.read(LIMITS)
    assert texts(part) + texts(rest) == [*whole, (11, "11")]
    assert rest.lost == []


def test_split_docker_line_resumes_at_its_first_part(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    entries = [("a", "x" * 40), ("a", "y\n"), ("b", "z\n")]
    with path.open("w") as out:
        for _, log in entries:
            out.write(json.dumps({"log": log, "stream": "stdout"}) + "\n")
    reader = docker_reader(path)
    # Small reads stop between the parts: the checkpoint may not pass the first part.
    read = reader.read(ReadLimits(max_lines=1, chunk_bytes=40))
    while not read.lines:
        assert read.resume.offset == 0
        read = reader.read(ReadLimits(max_lines=1, chunk_bytes=40))
    assert texts(read) == [(1, "x" * 40 + "y")]


def test_file_rotated_away_unread_is_counted_as_lost(tmp_path: Path) -> None:
    log = DockerFile(tmp_path / "c-json.log", max_file=2)
    log.write("1")
    reader = docker_reader(log.path)
    read = reader.read(ReadLimits(max_lines=1))
    checkpoint = read.resume
    reader.close()  # the agent stops here
    log.write("2", "3")
    log.rotate()
    log.write("4")
    log.rotate()  # the file holding 2 and 3 is deleted unread
    log.write("5")
    resumed = docker_reader(log.path, checkpoint, rotate_bytes=1000)
    rest = resumed.read(LIMITS)
    assert texts(rest) == [(2, "4"), (3, "5")]
    (lost,) = rest.lost
    assert lost.bytes == 1000 - checkpoint.offset
    assert "rotated away unread" in lost.what


def test_deleted_file_held_open_is_still_read_to_its_end(tmp_path: Path) -> None:
    log = DockerFile(tmp_path / "c-json.log", max_file=2)
    log.write("1")
    reader = docker_reader(log.path)
    assert texts(reader.read(LIMITS)) == [(1, "1")]
    log.write("2")
    log.rotate()
    log.rotate()  # "2" is in a file now deleted, but the reader holds it open
    log.write("3")
    read = reader.read(LIMITS)
    assert [t for _, t in texts(read)] == ["2", "3"]


def test_plain_file_renamed_then_recreated(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("one\ntwo\n")
    reader = plain_reader(path)
    assert texts(reader.read(LIMITS)) == [(1, "one"), (2, "two")]
    with path.open("a") as out:
        out.write("three\nunfinished")
    path.rename(tmp_path / "app.log.2026-12-06")
    path.write_text("four\n")
    read = reader.read(LIMITS)
    assert texts(read) == [(3, "three"), (4, "unfinished"), (5, "four")]
    assert read.lines[0].stream == "/app/app.log"


def test_plain_file_copy_truncated_is_read_again_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("one\ntwo\n")
    reader = plain_reader(path)
    assert len(reader.read(LIMITS).lines) == 2
    with path.open("r+") as out:
        out.truncate(0)
    with path.open("a") as out:
        out.write("three\n")
    read = reader.read(LIMITS)
    assert texts(read) == [(3, "three")]


def test_plain_file_without_newline_keeps_only_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    with path.open("wb") as out:
        for _ in range(64):
            out.write(b"z" * 65536)  # 4 MiB, no newline
    reader = Reader(path, fmt=Format.PLAIN, stream="f", max_line_bytes=1000, at=None)
    read = reader.read(ReadLimits(max_bytes=8 << 20, chunk_bytes=1 << 20, max_s=10))
    assert read.lines == [] and read.resume.offset == 0  # not a line yet: nothing to resume past
    with path.open("ab") as out:
        out.write(b"\xff\n")
    (line,) = reader.read(LIMITS).lines
    assert line.cut == 64 * 65536 + 1 - 1000
    assert line.text.startswith("z" * 1000) and line.text.endswith(f"[cut {line.cut} bytes]")


def test_final_read_flushes_a_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    path.write_text(json.dumps({"log": "bye", "stream": "stderr"}) + "\n")
    reader = docker_reader(path)
    assert reader.read(LIMITS).lines == []
    read = reader.read(LIMITS, final=True)
    assert [(ln.stream, ln.text) for ln in read.lines] == [("stderr", "bye")]
    assert read.resume.offset == path.stat().st_size


def test_malformed_lines_are_counted_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    path.write_bytes(b'garbage\n{"log":"ok\\n","stream":"stdout"}\n')
    read = docker_reader(path).read(LIMITS)
    assert texts(read) == [(1, "ok")] and read.malformed == 1


def test_multiline_rule_joins_a_trace_in_a_declared_file(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("2026-12-06 boom\n  at a()\n  at b()\n2026-12-06 next\n")
    rule = MultilineRule(re.compile(r"\d{4}-"), max_bytes=1000, max_wait_s=60)
    reader = Reader(path, fmt=Format.PLAIN, stream="f", max_line_bytes=1024, at=None,
                    multiline=rule)  # fmt: skip
    read = reader.read(LIMITS)
    assert texts(read) == [(1, "2026-12-06 boom\n  at a()\n  at b()")]
    assert read.resume.offset == len("2026-12-06 boom\n  at a()\n  at b()\n")  # "next" is held
    assert texts(reader.read(LIMITS, final=True)) == [(2, "2026-12-06 next")]


def test_unfinished_line_before_a_copy_truncate_ends_there(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("one\nhalf")
    reader = plain_reader(path)
    assert texts(reader.read(LIMITS)) == [(1, "one")]
    with path.open("r+") as out:
        out.truncate(0)
    path.write_text("new\n")
    assert texts(reader.read(LIMITS)) == [(2, "half"), (3, "new")]


def test_container_writing_without_newline_does_not_grow_memory(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    part = json.dumps({"log": "z" * 16384, "stream": "stdout"}) + "\n"  # as Docker splits
    with path.open("w") as out:
        out.write(part * 2048)  # 32 MiB of one line, no end yet
    reader = Reader(path, fmt=Format.JSON_FILE, stream="", max_line_bytes=16384, at=None)
    big = ReadLimits(max_bytes=64 << 20, chunk_bytes=1 << 20, max_s=60)
    tracemalloc.start()
    try:
        read = reader.read(big)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read.lines == [] and read.at_end
    assert peak < 8 << 20, f"reading 32 MiB of one line peaked at {peak >> 20} MiB"
    with path.open("a") as out:
        out.write(json.dumps({"log": "end\n", "stream": "stdout"}) + "\n")
    (line,) = reader.read(LIMITS).lines
    assert line.cut == 2048 * 16384 + 3 - 16384
