"""The log routes: search with filters and cursors, context, errors that name the problem, a
team that cannot read another's logs, downloads, and a live tail over server-sent events from
a real nats-server through a real HTTP server."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dockyard.api import ApiDeps, build_api
from dockyard.domain.environment import Environment
from dockyard.logs.center import LogCenter
from dockyard.logs.index import LogIndex, open_engine
from dockyard.logs.jetstream import JetStreamLogStream
from dockyard.logs.memory_stream import MemoryLogStream
from dockyard.logs.record import Batch, Line, Source
from tests.support.nats import NatsServer
from tests.support.serving import serve

from .api_support import API, TestClient, make_team

T0 = time.time_ns() - 60 * 10**9
WEB1 = Source("alpha", "web", Environment.TEST, "web-1")
WEB2 = Source("alpha", "web", Environment.TEST, "web-2")
LOGS = f"{API}/teams/alpha/services/web/logs"


def batch(source: Source, first: int, n: int, *, t: int = T0, word: str = "ok") -> Batch:
    return Batch(
        source,
        tuple(Line(s, t + s * 1000, "stdout", f"{word} line {s}") for s in range(first, first + n)),
    )


@pytest.fixture
def index(tmp_path: Path) -> Iterator[LogIndex]:
    opened = open_engine("fts5", tmp_path / "index")
    opened.add([batch(WEB1, 1, 150), batch(WEB2, 1, 5, t=T0 + 500, word="boom")])
    opened.commit()
    yield opened
    opened.close()


@pytest.fixture
def logged(deps: ApiDeps, index: LogIndex) -> Iterator[TestClient]:
    center = LogCenter(index, stream=MemoryLogStream(), archive=None, index_days=7)
    app = build_api(ApiDeps(db=deps.db, clock=deps.clock, notify=deps.notify, logs=center))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_a_search_pages_every_instance_newest_first(
    logged: TestClient, alpha: dict[str, str]
) -> None:
    seen: list[tuple[str, int]] = []
    cursor = None
    while True:
        params = {"env": "test", "limit": 40, **({"cursor": cursor} if cursor else {})}
        page = logged.get(LOGS, params=params, headers=alpha)
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [(item["instance"], item["seq"]) for item in body["items"]]
        cursor = body["next"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 155
    first = logged.get(LOGS, params={"env": "test", "limit": 1}, headers=alpha).json()["items"][0]
    assert (first["instance"], first["seq"]) == ("web-1", 150)
    assert first["time"].endswith("Z") and first["channel"] == "console"


def test_a_search_filters_by_text_instance_and_time(
    logged: TestClient, alpha: dict[str, str]
) -> None:
    boom = logged.get(LOGS, params={"env": "test", "q": "boom -line"}, headers=alpha).json()
    assert boom["items"] == []
    boom = logged.get(LOGS, params={"env": "test", "q": '"boom line"'}, headers=alpha).json()
    assert {i["instance"] for i in boom["items"]} == {"web-2"} and len(boom["items"]) == 5
    one = logged.get(
        LOGS, params={"env": "test", "instance": "web-1", "order": "oldest", "limit": 3},
        headers=alpha,
    ).json()  # fmt: skip
    assert [i["seq"] for i in one["items"]] == [1, 2, 3]
    other_env = logged.get(LOGS, params={"env": "online"}, headers=alpha).json()
    assert other_env["items"] == []


def test_context_shows_the_lines_around_one_line(logged: TestClient, alpha: dict[str, str]) -> None:
    answer = logged.get(
        LOGS + "/context", params={"env": "test", "instance": "web-1", "seq": 50, "n": 2},
        headers=alpha,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert [i["seq"] for i in answer.json()["items"]] == [48, 49, 50, 51, 52]


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"env": "test", "q": '"unclosed'}, "q", "never closed"),
        ({"env": "test", "q": "color:red"}, "q", "unknown field"),
        ({"env": "test", "level": "loud"}, "level", "unknown level"),
        ({"env": "test", "cursor": "garbage!"}, "cursor", "search again"),
        (
            {"env": "test", "since": "2026-12-06T10:00:00Z", "until": "2026-12-06T09:00:00Z"},
            "until",
            "later",
        ),
        ({"env": "test", "since": "2026-12-06T10:00:00"}, "since", "time zone"),
        ({"env": "test", "until": "yesterday noon"}, "until", "RFC 3339"),
    ],
)
def test_a_malformed_search_is_refused_naming_the_problem(
    logged: TestClient, alpha: dict[str, str], params: dict[str, str], field: str, words: str
) -> None:
    answer = logged.get(LOGS, params=params, headers=alpha)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error"] == "malformed_query"
    assert body["field"] == field and words in body["message"]


def test_another_team_cannot_read_or_download_the_logs(
    logged: TestClient, admin: dict[str, str], alpha: dict[str, str]
) -> None:
    bravo = make_team(logged, admin, "bravo")
    for path, params in (
        (LOGS, {"env": "test"}),
        (LOGS + "/context", {"env": "test", "instance": "web-1", "seq": 1}),
        (LOGS + "/download", {"env": "test", "since": "2000-01-01T00:00:00Z"}),
        (LOGS + "/follow", {"env": "test"}),
    ):
        answer = logged.get(path, params=params, headers=bravo)
        assert answer.status_code == 404, (path, answer.text)
        assert "web-1" not in answer.text
    assert len(logged.get(LOGS, params={"env": "test"}, headers=admin).json()["items"]) == 100


def test_a_download_holds_every_line_oldest_first(
    logged: TestClient, alpha: dict[str, str]
) -> None:
    answer = logged.get(
        LOGS + "/download", params={"env": "test", "since": "2000-01-01T00:00:00Z"}, headers=alpha
    )
    assert answer.status_code == 200, answer.text
    assert "attachment" in answer.headers["content-disposition"]
    records = [json.loads(line) for line in answer.text.splitlines()]
    assert len(records) == 155
    assert [r["time_ns"] for r in records] == sorted(r["time_ns"] for r in records)
    text = logged.get(
        LOGS + "/download",
        params={"env": "test", "since": "2000-01-01T00:00:00Z", "format": "text", "q": "boom"},
        headers=alpha,
    )
    assert [line.split(" ")[1] for line in text.text.splitlines()] == ["web-2"] * 5


def test_without_a_log_center_the_routes_answer_503(
    client: TestClient, alpha: dict[str, str]
) -> None:
    answer = client.get(LOGS, params={"env": "test"}, headers=alpha)
    assert answer.status_code == 503 and "log center" in answer.json()["message"]


def test_a_live_tail_streams_the_last_lines_then_new_ones_from_a_real_stream(
    deps: ApiDeps, index: LogIndex, alpha: dict[str, str], own_nats: NatsServer
) -> None:
    name = f"T{uuid.uuid4().hex[:8]}"
    stream = JetStreamLogStream([own_nats.url], max_bytes=64 << 20, name=name)
    center = LogCenter(index, stream=stream, archive=None, index_days=7)
    app = build_api(ApiDeps(db=deps.db, clock=deps.clock, notify=deps.notify, logs=center))
    received: list[dict[str, object]] = []
    with serve(app) as url, httpx.Client(base_url=url, headers=alpha, timeout=30) as http:
        done = threading.Event()

        def read() -> None:
            with http.stream("GET", LOGS + "/follow", params={"env": "test", "tail": 3}) as answer:
                assert answer.status_code == 200
                assert answer.headers["content-type"].startswith("text/event-stream")
                for line in answer.iter_lines():
                    if line.startswith("data: "):
                        received.append(json.loads(line[6:]))
                    if len(received) >= 6:
                        done.set()
                        return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        deadline = time.monotonic() + 20
        while len(received) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        publisher = JetStreamLogStream([own_nats.url], max_bytes=64 << 20, name=name)
        now = time.time_ns()
        third = Source("alpha", "web", Environment.TEST, "web-3")  # a new instance joins
        asyncio.run(_publish(publisher, [batch(WEB1, 151, 2, t=now), batch(third, 1, 1, t=now)]))
        assert done.wait(20), received
        reader.join(5)
    assert [(r["instance"], r["seq"]) for r in received] == [
        ("web-1", 148),
        ("web-1", 149),
        ("web-1", 150),
        ("web-1", 151),
        ("web-1", 152),
        ("web-3", 1),
    ]


async def _publish(stream: JetStreamLogStream, batches: list[Batch]) -> None:
    for b in batches:
        await stream.publish(b)
    await stream.close()


def test_a_live_tail_with_a_malformed_query_is_refused_before_it_streams(
    logged: TestClient, alpha: dict[str, str]
) -> None:
    answer = logged.get(LOGS + "/follow", params={"env": "test", "q": '"unclosed'}, headers=alpha)
    assert answer.status_code == 400 and answer.json()["field"] == "q"
