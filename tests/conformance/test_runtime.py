"""The Runtime contract (dockyard.runtimes.base), one suite run against every runtime.

Each backend arranges a situation its own way (the fake through its hooks, Docker through the
container's command) and the assertions on the outcome are the same for all.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, TypeVar

import docker
import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Conflict, NotFound, RuntimeFailure, Unavailable
from dockyard.domain.ids import InstanceId, new_instance_id
from dockyard.domain.instance import (
    LABEL_PLATFORM,
    InstanceSpec,
    Observed,
    Owner,
    Platform,
    RunState,
)
from dockyard.domain.logfiles import files_of_labels
from dockyard.domain.spec import HealthCheck, Port, Resources, ServiceSpec
from dockyard.runtimes.base import Capabilities, Runtime
from dockyard.runtimes.docker import DockerRuntime
from dockyard.runtimes.fake import FakeRuntime
from tests.support.fixtures import TEST_NETWORK
from tests.support.images import HTTP_PORT

T = TypeVar("T")
MISSING_IMAGE = "dockyard-test/missing:1"
HTTPD = f"exec httpd -f -p {HTTP_PORT} -h /www"
HTTP_OK = HealthCheck(http_path="/health", port=HTTP_PORT, timeout_s=2.0)
HTTP_WRONG_PATH = HealthCheck(http_path="/no-such-page", port=HTTP_PORT, timeout_s=2.0)
COMMAND_OK = HealthCheck(command=("sh", "-c", "test -f /www/health"), timeout_s=5.0)
COMMAND_FAILS = HealthCheck(command=("sh", "-c", "test -f /www/missing"), timeout_s=5.0)


def instance(
    team: str,
    image: str,
    *,
    service: str = "web",
    env: Environment = Environment.TEST,
    command: tuple[str, ...] = (),
    resources: Resources | None = None,
    log_paths: tuple[str, ...] = (),
) -> InstanceSpec:
    spec = ServiceSpec(
        image=image,
        command=command,
        log_paths=log_paths,
        ports=(Port(HTTP_PORT),),
        resources=resources or Resources(cpus=0.25, memory_mb=64, pids=64),
        stop_grace_s=1,
    )
    return InstanceSpec(
        team=team, service=service, env=env, revision=3, instance_id=new_instance_id(), spec=spec
    )


def name_of(observed: Observed) -> str:
    """InstanceSpec.name, rebuilt from what the runtime reports."""
    return f"dy-{observed.team}-{observed.service}-{observed.env.value}-{observed.instance_id}"


async def eventually(
    fetch: Callable[[], Awaitable[T]], done: Callable[[T], bool], *, timeout_s: float = 10.0
) -> T:
    """Poll `fetch` until `done` holds or the time is up; return the last value either way."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    value = await fetch()
    while not done(value) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
        value = await fetch()
    return value


class Backend(Protocol):
    """One runtime under test, and how to arrange situations on it."""

    @property
    def runtime(self) -> Runtime: ...
    @property
    def image(self) -> str: ...
    @property
    def team(self) -> str: ...

    async def start_printing(self, line: str) -> Observed: ...
    async def start_crashing(self, exit_code: int) -> Observed: ...
    async def make_unhealthy(self, observed: Observed) -> None: ...
    async def forget_image(self, image: str) -> None: ...
    async def exists(self, name: str) -> bool: ...
    def unreachable(self) -> Runtime: ...
    def beside(self, platform: Platform | None) -> Runtime:
        """The runtime of another installation on the same engine (None: bound to none)."""
        ...

    def with_log_files(self, files_dir: Path | None) -> Runtime:
        """A runtime on the same engine keeping declared log files under `files_dir` (None:
        without declared log files)."""
        ...

    async def mounts_of(self, observed: Observed) -> dict[str, str]:
        """The instance's mounts: container directory -> host directory."""
        ...

    async def labels_of(self, observed: Observed) -> dict[str, str]: ...


@dataclass
class FakeBackend:
    runtime: FakeRuntime
    team: str
    image: str = "dockyard-test/busybox:1"
    made: list[FakeRuntime] = field(default_factory=list)

    async def start_printing(self, line: str) -> Observed:
        observed = await self.runtime.start(instance(self.team, self.image))
        self.runtime.emit(observed.instance_id, line)
        return observed

    async def start_crashing(self, exit_code: int) -> Observed:
        observed = await self.runtime.start(instance(self.team, self.image))
        self.runtime.crash(observed.instance_id, exit_code=exit_code)
        return observed

    async def make_unhealthy(self, observed: Observed) -> None:
        self.runtime.set_probe(observed.instance_id, False)

    async def forget_image(self, image: str) -> None:
        self.runtime.forget_image(image)

    async def exists(self, name: str) -> bool:
        return any(name_of(o) == name for o in await self.runtime.list(Owner()))

    def unreachable(self) -> Runtime:
        runtime = FakeRuntime()
        runtime.set_unavailable()
        return runtime

    def beside(self, platform: Platform | None) -> Runtime:
        return self.runtime.beside(platform)

    def with_log_files(self, files_dir: Path | None) -> Runtime:
        runtime = FakeRuntime(
            capabilities=Capabilities(log_files=files_dir is not None),
            files_dir=str(files_dir or "/unused"),
        )
        self.made.append(runtime)
        return runtime

    async def mounts_of(self, observed: Observed) -> dict[str, str]:
        return self._owning(observed).mounts_of(observed.instance_id)

    async def labels_of(self, observed: Observed) -> dict[str, str]:
        return self._owning(observed).labels_of(observed.instance_id)

    def _owning(self, observed: Observed) -> FakeRuntime:
        for runtime in [self.runtime, *self.made]:
            with contextlib.suppress(KeyError):
                runtime.spec_of(observed.instance_id)
                return runtime
        raise KeyError(observed.instance_id)


@dataclass
class DockerBackend:
    runtime: DockerRuntime
    team: str
    image: str
    client: docker.APIClient

    async def start_printing(self, line: str) -> Observed:
        script = f"echo {line}; {HTTPD}"
        return await self.runtime.start(
            instance(self.team, self.image, command=("sh", "-c", script))
        )

    async def start_crashing(self, exit_code: int) -> Observed:
        command = ("sh", "-c", f"exit {exit_code}")
        return await self.runtime.start(instance(self.team, self.image, command=command))

    async def make_unhealthy(self, observed: Observed) -> None:
        """Nothing to do: the checks the tests use on an unhealthy instance fail by themselves."""

    async def forget_image(self, image: str) -> None:
        """Nothing to do: MISSING_IMAGE is never built."""

    async def exists(self, name: str) -> bool:
        found = self.client.containers(all=True, filters={"name": name})
        return any(f"/{name}" in entry["Names"] for entry in found)

    def unreachable(self) -> Runtime:
        return DockerRuntime(base_url="unix:///tmp/dockyard-test-no-engine.sock")

    def beside(self, platform: Platform | None) -> Runtime:
        return DockerRuntime(network=self.runtime.network, platform=platform)

    def with_log_files(self, files_dir: Path | None) -> Runtime:
        return DockerRuntime(network=self.runtime.network, files_dir=files_dir)

    async def mounts_of(self, observed: Observed) -> dict[str, str]:
        data = self.client.inspect_container(observed.runtime_id)
        return {m["Destination"]: m["Source"] for m in data["Mounts"]}

    async def labels_of(self, observed: Observed) -> dict[str, str]:
        labels = self.client.inspect_container(observed.runtime_id)["Config"]["Labels"]
        return {k: v for k, v in labels.items() if k.startswith("io.dockyard.log-")}


@pytest.fixture(params=["fake", pytest.param("docker", marks=pytest.mark.docker)])
def backend(request: pytest.FixtureRequest, team: str) -> Iterator[Backend]:
    if request.param == "fake":
        yield FakeBackend(runtime=FakeRuntime(), team=team)
        return
    yield DockerBackend(
        runtime=request.getfixturevalue("docker_runtime"),
        team=request.getfixturevalue("docker_team"),
        image=request.getfixturevalue("test_image"),
        client=request.getfixturevalue("docker_engine"),
    )


async def test_started_instance_is_listed_running_with_its_owner(backend: Backend) -> None:
    spec = instance(backend.team, backend.image)
    started = await backend.runtime.start(spec)

    [listed] = await backend.runtime.list(Owner(team=backend.team))
    assert listed.state is RunState.RUNNING
    assert (listed.team, listed.service, listed.env) == (spec.team, spec.service, spec.env)
    assert (listed.instance_id, listed.revision) == (spec.instance_id, spec.revision)
    assert listed.template_hash == spec.spec.template_hash
    assert listed.runtime_id == started.runtime_id
    assert listed.ip is not None and listed.ip == started.ip
    assert listed.created_at is not None and listed.exit_code is None


async def test_list_selects_by_team_service_and_env(backend: Backend) -> None:
    other_team = backend.team + "-b"
    specs = [
        instance(backend.team, backend.image),
        instance(backend.team, backend.image, service="api"),
        instance(backend.team, backend.image, env=Environment.STABLE),
        instance(other_team, backend.image),
    ]
    for spec in specs:
        await backend.runtime.start(spec)

    async def ids(owner: Owner) -> set[InstanceId]:
        return {o.instance_id for o in await backend.runtime.list(owner)}

    web, api, stable, other = (s.instance_id for s in specs)
    assert await ids(Owner(team=backend.team)) == {web, api, stable}
    assert await ids(Owner(team=backend.team, service="web")) == {web, stable}
    assert await ids(Owner(team=backend.team, env=Environment.TEST)) == {web, api}
    assert await ids(Owner(team=other_team)) == {other}
    assert {web, api, stable, other} <= await ids(Owner())


def new_platform(*, adopts_unlabelled: bool = False) -> Platform:
    return Platform(id=secrets.token_hex(8), adopts_unlabelled=adopts_unlabelled)


async def test_platforms_on_one_engine_list_only_their_own_instances(backend: Backend) -> None:
    one, two = backend.beside(new_platform()), backend.beside(new_platform())
    mine = await one.start(instance(backend.team, backend.image))
    theirs = await two.start(instance(backend.team, backend.image))

    async def ids(runtime: Runtime, owner: Owner) -> list[InstanceId]:
        return [o.instance_id for o in await runtime.list(owner)]

    assert await ids(one, Owner(team=backend.team)) == [mine.instance_id]
    assert await ids(two, Owner(team=backend.team)) == [theirs.instance_id]
    # Engine-wide too: nothing of any other Dockyard on this engine (a live one included).
    assert await ids(one, Owner()) == [mine.instance_id]
    assert await ids(two, Owner()) == [theirs.instance_id]


async def test_unlabelled_instances_are_listed_only_by_a_platform_adopting_them(
    backend: Backend,
) -> None:
    old = await backend.beside(None).start(instance(backend.team, backend.image))
    new, upgraded = (
        backend.beside(new_platform()),
        backend.beside(new_platform(adopts_unlabelled=True)),
    )
    fresh = await new.start(instance(backend.team, backend.image))
    own = await upgraded.start(instance(backend.team, backend.image))

    found = {o.instance_id: o.adopted for o in await upgraded.list(Owner(team=backend.team))}
    assert found == {old.instance_id: True, own.instance_id: False}
    assert [o.instance_id for o in await new.list(Owner(team=backend.team))] == [fresh.instance_id]


async def test_start_of_unknown_image_fails_and_leaves_nothing(backend: Backend) -> None:
    await backend.forget_image(MISSING_IMAGE)
    spec = instance(backend.team, MISSING_IMAGE)

    with pytest.raises(RuntimeFailure, match=MISSING_IMAGE):
        await backend.runtime.start(spec)

    assert await backend.runtime.list(Owner(team=backend.team)) == []
    assert not await backend.exists(spec.name)


async def test_start_of_a_taken_name_conflicts_and_keeps_the_first(backend: Backend) -> None:
    spec = instance(backend.team, backend.image)
    first = await backend.runtime.start(spec)

    with pytest.raises(Conflict):
        await backend.runtime.start(spec)

    [listed] = await backend.runtime.list(Owner(team=backend.team))
    assert (listed.runtime_id, listed.state) == (first.runtime_id, RunState.RUNNING)


async def test_destroy_of_unknown_instance_succeeds(backend: Backend) -> None:
    started = await backend.runtime.start(instance(backend.team, backend.image))
    unknown = replace(started, instance_id=InstanceId("0000000000"), runtime_id="f" * 64)

    await backend.runtime.destroy(unknown)

    assert len(await backend.runtime.list(Owner(team=backend.team))) == 1


async def test_destroy_twice_succeeds_and_removes(backend: Backend) -> None:
    started = await backend.runtime.start(instance(backend.team, backend.image))

    await backend.runtime.destroy(started)
    await backend.runtime.destroy(started)

    assert await backend.runtime.list(Owner(team=backend.team)) == []
    assert not await backend.exists(name_of(started))


async def test_stop_leaves_an_exited_instance(backend: Backend) -> None:
    started = await backend.runtime.start(instance(backend.team, backend.image))

    await backend.runtime.stop(started, grace_s=0)

    [listed] = await backend.runtime.list(Owner(team=backend.team))
    assert listed.state is RunState.EXITED
    assert listed.exit_code is not None and listed.ip is None
    assert listed.finished_at is not None


async def test_stop_of_unknown_instance_succeeds(backend: Backend) -> None:
    started = await backend.runtime.start(instance(backend.team, backend.image))
    await backend.runtime.destroy(started)

    await backend.runtime.stop(started, grace_s=0)


async def test_restart_runs_the_same_instance_again(backend: Backend) -> None:
    started = await backend.runtime.start(instance(backend.team, backend.image))
    await backend.runtime.stop(started, grace_s=0)

    restarted = await backend.runtime.restart(started)

    assert restarted.state is RunState.RUNNING
    assert (restarted.instance_id, restarted.runtime_id) == (
        started.instance_id,
        started.runtime_id,
    )
    [listed] = await backend.runtime.list(Owner(team=backend.team))
    assert listed.state is RunState.RUNNING and listed.exit_code is None


async def test_restart_of_destroyed_instance_is_not_found(backend: Backend) -> None:
    started = await backend.runtime.start(instance(backend.team, backend.image))
    await backend.runtime.destroy(started)

    with pytest.raises(NotFound):
        await backend.runtime.restart(started)


async def test_probes_report_healthy_then_unhealthy(backend: Backend) -> None:
    started = await backend.runtime.start(instance(backend.team, backend.image))

    async def probe(check: HealthCheck) -> bool:
        result = await backend.runtime.probe(started, check, port=None)
        return result.ok

    # httpd may need a moment to listen after the container starts.
    assert await eventually(lambda: probe(HTTP_OK), bool)
    assert await probe(COMMAND_OK)
    await backend.make_unhealthy(started)
    assert not await probe(HTTP_WRONG_PATH)
    assert not await probe(COMMAND_FAILS)


async def test_probe_of_stopped_instance_is_unhealthy(backend: Backend) -> None:
    started = await backend.runtime.start(instance(backend.team, backend.image))
    await backend.runtime.stop(started, grace_s=0)
    [stopped] = await backend.runtime.list(Owner(team=backend.team))

    for check in (HTTP_OK, COMMAND_OK):
        assert not (await backend.runtime.probe(stopped, check, port=None)).ok


async def test_logs_return_what_the_instance_printed(backend: Backend) -> None:
    started = await backend.start_printing("hello-from-instance")

    lines = await eventually(
        lambda: backend.runtime.logs(started, tail=10), lambda ls: "hello-from-instance" in ls
    )

    assert "hello-from-instance" in lines


async def test_logs_of_unknown_instance_are_not_found(backend: Backend) -> None:
    started = await backend.runtime.start(instance(backend.team, backend.image))
    await backend.runtime.destroy(started)

    with pytest.raises(NotFound):
        await backend.runtime.logs(started, tail=10)


async def test_crashed_instance_is_exited_with_its_exit_code(backend: Backend) -> None:
    started = await backend.start_crashing(3)

    async def listed() -> list[Observed]:
        return await backend.runtime.list(Owner(team=backend.team))

    [crashed] = await eventually(listed, lambda found: found[0].state is RunState.EXITED)
    assert crashed.instance_id == started.instance_id
    assert (crashed.state, crashed.exit_code) == (RunState.EXITED, 3)
    assert crashed.finished_at is not None and crashed.started_at is not None


async def test_every_verb_raises_unavailable_when_the_engine_does_not_answer(
    backend: Backend,
) -> None:
    runtime = backend.unreachable()
    started = await backend.runtime.start(instance(backend.team, backend.image))
    calls: list[Callable[[], Awaitable[object]]] = [
        runtime.ping,
        lambda: runtime.start(instance(backend.team, backend.image)),
        lambda: runtime.list(Owner(team=backend.team)),
        lambda: runtime.destroy(started),
        lambda: runtime.stop(started, grace_s=0),
        lambda: runtime.restart(started),
        lambda: runtime.logs(started, tail=1),
    ]
    for call in calls:
        with pytest.raises(Unavailable):
            await call()


LOG_PATHS = ("/app/logs/*.log", "/app/audit/audit.log", "/app/logs/*.txt")


def close(runtime: Runtime) -> None:
    if isinstance(runtime, DockerRuntime):
        runtime.close()


async def test_start_declaring_log_files_without_support_fails_and_leaves_nothing(
    backend: Backend,
) -> None:
    runtime = backend.with_log_files(None)
    try:
        assert not runtime.capabilities.log_files
        spec = instance(backend.team, backend.image, log_paths=LOG_PATHS)
        with pytest.raises(RuntimeFailure, match="log files") as caught:
            await runtime.start(spec)
        assert caught.value.field == "log_paths"
        assert not await backend.exists(spec.name)
    finally:
        close(runtime)


async def test_declared_log_directories_are_mounted_per_instance_and_labelled(
    backend: Backend, tmp_path: Path
) -> None:
    runtime = backend.with_log_files(tmp_path)
    started = []
    try:
        assert runtime.capabilities.log_files
        for _ in range(2):
            spec = instance(
                backend.team, backend.image, log_paths=LOG_PATHS, command=("sh", "-c", HTTPD)
            )
            started.append(await runtime.start(spec))
        for observed in started:
            root = tmp_path / observed.instance_id
            # One mount per declared directory, and no other.
            assert await backend.mounts_of(observed) == {
                "/app/logs": f"{root}/0",
                "/app/audit": f"{root}/1",
            }
            files = files_of_labels(await backend.labels_of(observed))
            assert [(f.dir, f.glob, f.path) for f in files] == [
                (f"{root}/0", "*.log", "/app/logs/*.log"),
                (f"{root}/1", "audit.log", "/app/audit/audit.log"),
                (f"{root}/0", "*.txt", "/app/logs/*.txt"),
            ]
    finally:
        for observed in started:
            await runtime.destroy(observed)
        close(runtime)


@pytest.mark.docker
async def test_docker_log_directory_is_writable_kept_by_restart_and_removed_by_destroy(
    docker_team: str, test_image: str, docker_engine: docker.APIClient, tmp_path: Path
) -> None:
    runtime = DockerRuntime(network=TEST_NETWORK, files_dir=tmp_path)
    script = "echo one >> /app/logs/app.log; sleep 30"
    spec = instance(
        docker_team, test_image, log_paths=("/app/logs/*.log",), command=("sh", "-c", script)
    )
    started = await runtime.start(spec)
    try:
        leaf = tmp_path / spec.instance_id / "0"
        await eventually(
            lambda: asyncio.sleep(0, leaf / "app.log"), lambda p: p.exists(), timeout_s=10
        )
        assert leaf.stat().st_mode & 0o777 == 0o777
        assert (tmp_path / spec.instance_id).stat().st_mode & 0o777 == 0o700
        await runtime.stop(started, grace_s=0)
        await runtime.restart(started)
        await eventually(
            lambda: asyncio.sleep(0, leaf / "app.log"),
            lambda p: p.read_text() == "one\none\n",
            timeout_s=10,
        )
        await runtime.destroy(started)
        assert not (tmp_path / spec.instance_id).exists()
        assert not await DockerBackend(runtime, docker_team, test_image, docker_engine).exists(
            spec.name
        )
    finally:
        await runtime.destroy(started)
        close(runtime)


@pytest.mark.docker
async def test_docker_containers_are_limited_and_hardened(
    docker_runtime: DockerRuntime,
    docker_team: str,
    test_image: str,
    docker_engine: docker.APIClient,
) -> None:
    spec = instance(docker_team, test_image, resources=Resources(cpus=0.25, memory_mb=64, pids=64))
    spec = replace(
        spec,
        spec=replace(spec.spec, env=(("GREETING", "hi"),), capabilities=("NET_BIND_SERVICE",)),
    )
    started = await docker_runtime.start(spec)

    data = docker_engine.inspect_container(started.runtime_id)
    host = data["HostConfig"]
    assert data["Name"] == f"/{spec.name}"
    assert data["Config"]["Labels"].items() >= spec.labels.items()
    assert "GREETING=hi" in data["Config"]["Env"]
    assert (host["NanoCpus"], host["Memory"], host["PidsLimit"]) == (250_000_000, 64 << 20, 64)
    assert host["MemorySwap"] == host["Memory"]
    assert host["CapDrop"] == ["ALL"] and host["CapAdd"] == ["NET_BIND_SERVICE"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Privileged"] is False
    assert not host["Binds"] and not data["Mounts"]
    assert host["RestartPolicy"]["Name"] in ("", "no")
    assert host["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-size": "10m", "max-file": "3"},
    }
    assert list(data["NetworkSettings"]["Networks"]) == [docker_runtime.network]
    assert data["NetworkSettings"]["Networks"][docker_runtime.network]["IPAddress"] == started.ip


@pytest.mark.docker
async def test_docker_containers_and_network_name_their_platform(
    docker_team: str, test_image: str, docker_engine: docker.APIClient
) -> None:
    platform = new_platform()
    network = f"dockyard-test-{platform.id}"
    runtime = DockerRuntime(network=network, platform=platform)
    try:
        started = await runtime.start(instance(docker_team, test_image))

        labels = docker_engine.inspect_container(started.runtime_id)["Config"]["Labels"]
        assert labels[LABEL_PLATFORM] == platform.id
        assert docker_engine.inspect_network(network)["Labels"][LABEL_PLATFORM] == platform.id
        await runtime.destroy(started)
    finally:
        runtime.close()
        docker_engine.remove_network(network)
