"""Two overlapping segments posted at the same moment to one server: 201 and 409, at once.

The second create reaches the segments' lock while the first, holding it, is still publishing
to etcd on the server's event loop (forced: the first's publish waits until the second waits
for the lock). The second must wait in a worker thread, not on the event loop: blocked there
it would stall the first's publish, and the whole server, until the database gave up.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

import pytest
from sqlalchemy.orm import Session

from dockyard.domain.segment import FixedAddress, Segment
from dockyard.store import segments

from .conftest import IpamApi

API = "/api/v1"
WAIT_S = 20.0


@pytest.mark.timeout(60)
def test_overlapping_creates_at_once_answer_201_and_409_without_stalling_the_server(
    ipam_api: IpamApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_locked, second_waits = threading.Event(), threading.Event()
    calls = itertools.count()
    lock = segments.lock_segments

    def watched_lock(session: Session) -> None:
        if next(calls) == 1:
            second_waits.set()
        lock(session)
        first_locked.set()

    directory = ipam_api.ipam.directory
    publish = directory.publish

    async def held_publish(segment: Segment, fixed: list[FixedAddress]) -> None:
        if segment.name == "a":
            for _ in range(int(WAIT_S / 0.05)):
                if second_waits.is_set():
                    break
                await asyncio.sleep(0.05)
        await publish(segment, fixed)

    monkeypatch.setattr(segments, "lock_segments", watched_lock)
    monkeypatch.setattr(directory, "publish", held_publish)
    answers: dict[str, Any] = {}

    def post(name: str, cidr: str) -> None:
        if name == "b":
            first_locked.wait(WAIT_S)
        body = {"name": name, "cidr": cidr, "environments": ["test"]}
        answers[name] = ipam_api.client.post(f"{API}/segments", json=body, headers=ipam_api.admin)

    started = time.monotonic()
    threads = [
        threading.Thread(target=post, args=args, daemon=True)
        for args in (("a", "10.40.0.0/24"), ("b", "10.40.0.0/25"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S * 2)
    elapsed = time.monotonic() - started

    assert second_waits.is_set(), "the second create never reached the lock"
    assert answers["a"].status_code == 201, answers["a"].text
    assert answers["b"].status_code == 409, answers["b"].text
    assert "overlaps segment a (10.40.0.0/24)" in answers["b"].json()["message"]
    assert elapsed < 5, f"the server stalled for {elapsed:.1f} s"
    listed = ipam_api.client.get(f"{API}/segments", headers=ipam_api.admin).json()["items"]
    assert [item["name"] for item in listed] == ["a"]
