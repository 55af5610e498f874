"""FakeRuntime's test hooks (its contract is tested in tests/conformance)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Unavailable
from dockyard.domain.ids import InstanceId
from dockyard.domain.instance import InstanceSpec, Owner, RunState
from dockyard.domain.spec import HealthCheck, ServiceSpec
from dockyard.runtimes.base import ProbeResult
from dockyard.runtimes.fake import FakeRuntime

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CHECK = HealthCheck(command=("true",))


def spec(instance_id: str) -> InstanceSpec:
    return InstanceSpec(
        team="shop",
        service="web",
        env=Environment.TEST,
        revision=1,
        instance_id=InstanceId(instance_id),
        spec=ServiceSpec(image="shop/web:1"),
    )


@pytest.fixture
def fake() -> FakeRuntime:
    return FakeRuntime(clock=lambda: T0)


async def test_start_is_deterministic(fake: FakeRuntime) -> None:
    first, second = await fake.start(spec("a")), await fake.start(spec("b"))
    assert (first.runtime_id, first.ip) == ("fake-000001", "10.88.0.3")
    assert (second.runtime_id, second.ip) == ("fake-000002", "10.88.0.4")
    assert first.started_at == T0


async def test_crash_then_restart_keeps_the_address(fake: FakeRuntime) -> None:
    started = await fake.start(spec("a"))
    fake.crash("a", exit_code=137)
    [crashed] = await fake.list(Owner())
    assert (crashed.state, crashed.exit_code, crashed.ip) == (RunState.EXITED, 137, None)

    restarted = await fake.restart(crashed)
    assert (restarted.state, restarted.exit_code, restarted.ip) == (
        RunState.RUNNING,
        None,
        started.ip,
    )


async def test_vanished_instance_is_gone_without_a_destroy(fake: FakeRuntime) -> None:
    await fake.start(spec("a"))
    fake.vanish("a")
    assert await fake.list(Owner()) == []
    assert (fake.starts, fake.destroys) == (1, 0)


async def test_probe_results_can_be_set_per_instance(fake: FakeRuntime) -> None:
    a, b = await fake.start(spec("a")), await fake.start(spec("b"))
    fake.set_probe("a", ProbeResult(ok=False, detail="503"))
    assert (await fake.probe(a, CHECK, port=None)).ok is False
    assert (await fake.probe(b, CHECK, port=None)).ok is True


async def test_unavailable_runtime_refuses_everything_until_restored(fake: FakeRuntime) -> None:
    started = await fake.start(spec("a"))
    fake.set_unavailable()
    with pytest.raises(Unavailable):
        await fake.list(Owner())
    with pytest.raises(Unavailable):
        await fake.destroy(started)
    fake.set_unavailable(False)
    await fake.destroy(started)
    assert fake.calls["destroy"] == 2 and await fake.list(Owner()) == []


async def test_logs_tail_the_emitted_lines(fake: FakeRuntime) -> None:
    started = await fake.start(spec("a"))
    fake.emit("a", "one", "two", "three")
    assert await fake.logs(started, tail=2) == ["two", "three"]
    assert await fake.logs(started, tail=0) == []
