"""The build log shipper over a real (SQLite) database and the in-memory stream: what it sends,
what waits, and that nothing is sent twice or lost across a stream outage or a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from dockyard.domain.clock import utcnow
from dockyard.domain.errors import Unavailable
from dockyard.domain.source import GitSource
from dockyard.logs.build_lines import build_instance
from dockyard.logs.build_shipper import BuildLogShipper
from dockyard.logs.checkpoint import CheckpointStore
from dockyard.logs.cut import marker
from dockyard.logs.memory_stream import MemoryLogStream
from dockyard.logs.record import Batch
from dockyard.store import builds, images
from dockyard.store.build_logs import MAX_READ
from dockyard.store.db import Database
from tests.support.image_center import ADMIN, seed

DAY_S = 86_400.0


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(f"sqlite:///{tmp_path / 'dockyard.db'}")
    seed(database, "shop", "busybox")
    with database.session() as session:
        images.set_source(
            session, ADMIN, team="shop", service="web",
            source=GitSource(repo_url="file:///dev/null"), now=utcnow(),
        )  # fmt: skip
    yield database
    database.close()


class Build:
    """One running build whose log a test writes the way BuildLog does (numbered pieces)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.session() as session:
            builds.request_build(
                session, ADMIN, team="shop", service="web", ref=None, force=False,
                deploy_to=None, now=utcnow(),
            )  # fmt: skip
            claimed = builds.claim_next(session, worker="test", now=utcnow())
        assert claimed is not None
        self.id, self.number = claimed.id, claimed.number
        self._seq = self._size = 0

    @property
    def instance(self) -> str:
        return build_instance(self.number, self.id)

    def write(self, text: str) -> None:
        with self.db.session() as session:
            builds.append_log(session, self.id, seq=self._seq, start=self._size, text=text)
        self._seq += 1
        self._size += len(text)

    def finish(self, *, ago_s: float = 0.0) -> None:
        with self.db.session() as session:
            builds.finish(session, self.id, now=utcnow() - timedelta(seconds=ago_s), image_id=None)


def shipper(db: Database, stream: MemoryLogStream, tmp_path: Path) -> BuildLogShipper:
    store = CheckpointStore(tmp_path / "checkpoints" / "builds")
    return BuildLogShipper(db, stream, store, keep_s=DAY_S, max_line_bytes=1024, interval_s=0.01)


def texts(stream: MemoryLogStream, instance: str) -> list[tuple[int, str]]:
    return [
        (ln.seq, ln.text) for b in stream.batches if b.source.instance == instance for ln in b.lines
    ]


async def test_complete_lines_go_at_once_and_the_last_one_when_the_build_ends(
    db: Database, tmp_path: Path
) -> None:
    stream = MemoryLogStream()
    ship = shipper(db, stream, tmp_path)
    build = Build(db)
    build.write("==> fetching\nStep 1/2 : FROM scr")
    assert await ship.ship_once() == 1
    build.write("atch\nno newline at the end")
    assert await ship.ship_once() == 1
    build.finish()
    assert await ship.ship_once() == 1
    assert await ship.ship_once() == 0
    assert texts(stream, build.instance) == [
        (1, "==> fetching"),
        (2, "Step 1/2 : FROM scratch"),
        (3, "no newline at the end"),
    ]
    source = stream.batches[0].source
    assert (source.team, source.service, str(source.env), source.channel) == (
        "shop", "web", "build", "build",
    )  # fmt: skip


async def test_a_build_made_while_the_stream_is_down_arrives_once_it_is_back(
    db: Database, tmp_path: Path
) -> None:
    stream = MemoryLogStream()
    ship = shipper(db, stream, tmp_path)
    stream.down = True
    build = Build(db)
    build.write("".join(f"line {n}\n" for n in range(1, 101)))
    build.finish(ago_s=30)
    with pytest.raises(Unavailable):
        await ship.ship_once()
    stream.down = False
    assert await ship.ship_once() == 100
    assert texts(stream, build.instance) == [(n, f"line {n}") for n in range(1, 101)]
    with db.session() as session:
        ended = builds.get_build(session, ADMIN, team="shop", service="web", number=1)
    assert ended.finished_at is not None
    # Dated to the build, not to the end of the outage.
    assert all(
        ln.time_ns <= ended.finished_at.timestamp() * 1e9 for b in stream.batches for ln in b.lines
    )


class AckLost(MemoryLogStream):
    """Stores the first `stored` batches, then answers as if it were down."""

    def __init__(self, stored: int) -> None:
        super().__init__()
        self.left = stored

    async def publish(self, batch: Batch) -> None:
        if self.left <= 0:
            raise Unavailable("the acknowledgement was lost")
        self.left -= 1
        await super().publish(batch)


async def test_a_restarted_shipper_sends_nothing_twice(db: Database, tmp_path: Path) -> None:
    stream = AckLost(stored=1)
    build = Build(db)
    build.write("".join(f"{n}\n" for n in range(1, 2501)))  # three batches
    with pytest.raises(Unavailable):
        await shipper(db, stream, tmp_path).ship_once()
    stream.left = 10**6
    build.write("2501\n")
    build.finish()
    restarted = shipper(db, stream, tmp_path)
    await restarted.ship_once()
    await shipper(db, stream, tmp_path).ship_once()  # and once more: all checkpointed
    assert [seq for seq, _ in texts(stream, build.instance)] == list(range(1, 2502))


async def test_checkpoints_of_builds_older_than_the_keep_window_are_forgotten(
    db: Database, tmp_path: Path
) -> None:
    stream = MemoryLogStream()
    old, new = Build(db), Build(db)
    for build in (old, new):
        build.write("done\n")
        build.finish()
    await shipper(db, stream, tmp_path).ship_once()
    store = CheckpointStore(tmp_path / "checkpoints" / "builds")
    assert len(store.keys()) == 2
    old.finish(ago_s=2 * DAY_S)
    await shipper(db, stream, tmp_path).ship_once()
    kept = store.keys()
    assert [key.split("/")[3] for key in kept] == [new.instance]


async def test_the_running_shipper_waits_out_an_outage(db: Database, tmp_path: Path) -> None:
    stream = MemoryLogStream()
    stream.down = True
    ship = shipper(db, stream, tmp_path)
    task = asyncio.create_task(ship.run())
    try:
        build = Build(db)
        build.write("first\n")
        await asyncio.sleep(0.1)
        assert ship.problem is not None
        stream.down = False
        build.write("second\n")
        for _ in range(200):
            if len(texts(stream, build.instance)) == 2:
                break
            await asyncio.sleep(0.05)
        assert texts(stream, build.instance) == [(1, "first"), (2, "second")]
        assert ship.problem is None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_line_longer_than_one_read_goes_in_cut_pieces(db: Database, tmp_path: Path) -> None:
    stream = MemoryLogStream()
    build = Build(db)
    build.write("x" * (MAX_READ + 10) + "\nend\n")
    assert await shipper(db, stream, tmp_path).ship_once() == 3
    first, rest, end = texts(stream, build.instance)
    assert first == (1, "x" * 1024 + marker(MAX_READ - 1024))
    assert rest == (2, "x" * 10)
    assert end == (3, "end")
