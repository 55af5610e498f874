"""DockerRuntime: the Runtime seam over one Docker engine's API (never the CLI).

The docker SDK blocks, so each verb runs its engine calls in one worker thread; SDK errors are
translated to Dockyard's vocabulary there, once (translate.py). Container arguments come from
container.py, Observed from observe.py, probes from probe.py: this module only sequences them.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import math
import socket
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import docker
from docker.errors import ImageNotFound
from docker.errors import NotFound as DockerNotFound

from dockyard.domain.errors import Conflict, NotFound, RuntimeFailure, Unavailable
from dockyard.domain.instance import (
    LABEL_ENV,
    LABEL_MANAGED,
    LABEL_PLATFORM,
    LABEL_SERVICE,
    LABEL_TEAM,
    InstanceSpec,
    Observed,
    Owner,
    Platform,
    RunState,
)
from dockyard.domain.spec import HealthCheck
from dockyard.runtimes.base import Capabilities, ProbeResult
from dockyard.runtimes.docker import observe
from dockyard.runtimes.docker.container import create_kwargs
from dockyard.runtimes.docker.gateways import Gateways, container_dns
from dockyard.runtimes.docker.lanes import Lane, Lanes
from dockyard.runtimes.docker.logdirs import LogDirs
from dockyard.runtimes.docker.network import BridgeNetwork
from dockyard.runtimes.docker.probe import command_probe, http_probe, tcp_probe
from dockyard.runtimes.docker.translate import engine_errors

T = TypeVar("T")
DEFAULT_SOCKET = "unix:///var/run/docker.sock"
# Measured here: dockerd tops out at 3-4 starts/s whatever the parallelism.
DEFAULT_PARALLEL_STARTS = 4
# Engine calls at once: the controllers' starts (4) and stops (16), with room for listings,
# probes and logs. Threads waiting on the engine's socket cost little.
DEFAULT_ENGINE_THREADS = 32
PING_TIMEOUT_S = 5.0


class DockerRuntime:
    """Instances as containers on one engine, joined to one user-defined bridge network.

    `pull_missing` lets `start` pull an image the engine lacks; off by default because images
    are built on the engine or pushed to a registry it is configured for, and a pull from
    anywhere else would be a surprise (and impossible on an offline host). `host` names the
    engine's host in errors about what runs there (its IPAM driver): this host by default.

    `platform` is the installation this runtime acts for: every container (and the bridge
    network) it makes is labelled with its id, and `list` returns only that platform's
    containers (Platform.owns), so other Dockyards on the same engine are never touched. None
    (tests and tools only; the server always gives one) labels nothing and lists every
    Dockyard container on the engine. `dns`: the resolvers every container gets (this host's
    dnsmasq, for service names). Without them, `dns_from_gateway` gives each container the
    gateway of the network it joins (where dnsmasq answers by default), learnt from the
    engine; with neither, containers keep the engine's default.
    """

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_SOCKET,
        network: str = "dockyard",
        pull_missing: bool = False,
        timeout_s: float = 60.0,
        parallel_starts: int = DEFAULT_PARALLEL_STARTS,
        engine_threads: int = DEFAULT_ENGINE_THREADS,
        host: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        platform: Platform | None = None,
        files_dir: Path | None = None,
        dns: tuple[str, ...] = (),
        dns_from_gateway: bool = False,
    ) -> None:
        self._base_url = base_url
        self._dns = dns
        self._dns_from_gateway = dns_from_gateway
        self._gateways = Gateways()
        self._host = host or socket.gethostname()
        self._files = LogDirs(files_dir) if files_dir is not None else None
        self._capabilities = Capabilities(
            parallel_starts=parallel_starts, log_files=files_dir is not None
        )
        self._platform = platform
        self._platform_labels = {LABEL_PLATFORM: platform.id} if platform else {}
        self._network = BridgeNetwork(network, labels=self._platform_labels)
        self._pull_missing = pull_missing
        self._timeout_s = timeout_s
        self._clock = clock
        self._client: docker.APIClient | None = None
        self._client_lock = threading.Lock()
        self._lanes = Lanes({"engine": engine_threads, "ping": 1})

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def network(self) -> str:
        return self._network.name

    def close(self) -> None:
        """Release the HTTP connections to the engine and the threads that made engine calls.
        The runtime reconnects if used again."""
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            self._lanes.close()

    async def ping(self) -> None:
        """Return once the engine answers; Unavailable if it does not within PING_TIMEOUT_S.

        A ping has a lane of its own, so a health check answers at once however many slow
        calls (stops waiting out a grace period, removals waiting on a gone IPAM driver) fill
        the engine lane.
        """
        try:
            async with asyncio.timeout(PING_TIMEOUT_S):
                await self._call("ping", lambda client: client.ping(), lane="ping")
        except TimeoutError:
            raise Unavailable(
                f"the Docker engine at {self._base_url} did not answer a ping within "
                f"{PING_TIMEOUT_S:g} s: it is hung or overloaded; check dockerd and its log"
            ) from None

    async def start(self, spec: InstanceSpec) -> Observed:
        if spec.spec.log_paths and self._files is None:
            raise RuntimeFailure(
                f"start {spec.name}: this Docker runtime collects no declared log files (it was "
                "given no log files directory): remove log_paths from the service, or configure "
                "DOCKYARD_LOG_FILES_DIR for the server",
                field="log_paths",
            )
        return await self._call(f"start {spec.name}", lambda client: self._start(client, spec))

    async def restart(self, observed: Observed) -> Observed:
        def restart(client: docker.APIClient) -> Observed:
            client.start(observed.runtime_id)
            return self._inspect(client, observed.runtime_id)

        return await self._call(f"restart instance {observed.instance_id}", restart)

    async def stop(self, observed: Observed, *, grace_s: float) -> None:
        try:
            await self._call(
                f"stop instance {observed.instance_id}",
                lambda client: client.stop(observed.runtime_id, timeout=math.ceil(grace_s)),
            )
        except NotFound:
            return

    async def destroy(self, observed: Observed) -> None:
        # Gone already, or its removal is already in progress: either way, destroyed.
        with contextlib.suppress(NotFound, Conflict):
            await self._call(
                f"destroy instance {observed.instance_id}",
                # v=True: anonymous volumes an image declares must not outlive the instance.
                lambda client: client.remove_container(observed.runtime_id, force=True, v=True),
            )
        if self._files is not None:
            # Its declared log files went to the log stream before the caller destroyed it.
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(
                self._lanes.get("engine"), self._files.remove, observed.instance_id
            )

    async def list(self, owner: Owner) -> builtins.list[Observed]:
        return await self._call("list instances", lambda client: self._list(client, owner))

    async def logs(self, observed: Observed, *, tail: int) -> builtins.list[str]:
        raw: bytes = await self._call(
            f"read logs of instance {observed.instance_id}",
            lambda client: client.logs(
                observed.runtime_id, stdout=True, stderr=True, tail=max(tail, 0)
            ),
        )
        return raw.decode("utf-8", errors="replace").splitlines()

    async def probe(
        self, observed: Observed, check: HealthCheck, *, port: int | None
    ) -> ProbeResult:
        if check.command:
            return await command_probe(
                self._call, observed.runtime_id, command=check.command, timeout_s=check.timeout_s
            )
        if check.tcp:
            return await tcp_probe(
                observed.ip,
                port=port if port is not None else check.port,
                timeout_s=check.timeout_s,
            )
        return await http_probe(
            observed.ip,
            port=port if port is not None else check.port,
            path=check.http_path or "/",
            timeout_s=check.timeout_s,
        )

    # -- blocking parts, run in a worker thread by _call -------------------------------------

    async def _call(
        self, action: str, fn: Callable[[docker.APIClient], T], *, lane: Lane = "engine"
    ) -> T:
        """`fn(client)` in a thread of the runtime's own (never the event loop's default
        executor, which the server's database work shares: slow engine calls must not starve
        it), its errors translated."""

        def run() -> T:
            with engine_errors(self._base_url, action, host=self._host):
                return fn(self._connect())

        return await asyncio.get_running_loop().run_in_executor(self._lanes.get(lane), run)

    def _connect(self) -> docker.APIClient:
        with self._client_lock:
            if self._client is None:
                # version="auto" asks the engine, so a down engine fails here (-> Unavailable).
                self._client = docker.APIClient(
                    base_url=self._base_url,
                    version="auto",
                    timeout=self._timeout_s,
                    # A connection kept for every thread that may call at once.
                    max_pool_size=self._lanes.threads,
                )
            return self._client

    def _start(self, client: docker.APIClient, spec: InstanceSpec) -> Observed:
        try:
            return self._create_and_start(client, spec)
        except DockerNotFound as exc:
            # With the image found, a 404 means the network was removed behind our back: one
            # made again under its name may have another gateway.
            self._gateways.forget(spec.network or self.network)
            if spec.network is not None:
                raise _missing_network(spec.network) from exc
            # Our own network: make it again and try once more.
            self._network.forget()
        try:
            return self._create_and_start(client, spec)
        except DockerNotFound as exc:
            raise RuntimeFailure(f"start {spec.name}: {exc.explanation}") from exc

    def _create_and_start(self, client: docker.APIClient, spec: InstanceSpec) -> Observed:
        if spec.network is None:  # segment networks are the agent's to make, not ours
            self._network.ensure(client)
        files = self._files
        made = files.make(spec) if files is not None else None
        try:
            container_id = self._create(client, spec)
            try:
                client.start(container_id)
                return self._inspect(client, container_id)
            except BaseException:
                # The contract: a failed start leaves nothing behind.
                _remove_quietly(client, container_id)
                raise
        except BaseException:
            if files is not None and made is not None and made.new:
                # Only a directory this start made: a taken name's is its instance's own.
                files.remove(spec.instance_id)
            raise

    def _create(self, client: docker.APIClient, spec: InstanceSpec) -> str:
        network = spec.network or self.network
        log_root = str(self._files.root(spec.instance_id)) if self._files is not None else None
        kwargs = create_kwargs(
            spec, network=network, api_version=client.api_version, log_root=log_root,
            dns=self._resolvers(client, network),
        )  # fmt: skip
        kwargs["labels"] = {**kwargs["labels"], **self._platform_labels}
        try:
            return str(client.create_container(**kwargs)["Id"])
        except ImageNotFound as exc:
            if not self._pull_missing:
                raise _missing_image(spec.spec.image) from exc
        client.pull(spec.spec.image)
        return str(client.create_container(**kwargs)["Id"])

    def _resolvers(self, client: docker.APIClient, network: str) -> tuple[str, ...]:
        use_gateway = self._dns_from_gateway and not self._dns
        return container_dns(
            explicit=self._dns,
            from_gateway=self._dns_from_gateway,
            gateway=self._gateways.of(client, network) if use_gateway else None,
        )

    def _inspect(self, client: docker.APIClient, container_id: str) -> Observed:
        found = observe.from_inspect(client.inspect_container(container_id), network=self.network)
        if found is None:
            raise RuntimeFailure(f"container {container_id} lost Dockyard's labels: destroy it")
        return found

    def _list(self, client: docker.APIClient, owner: Owner) -> builtins.list[Observed]:
        entries = client.containers(
            all=True, filters={"label": _label_filters(owner, self._platform)}
        )
        now = self._clock()
        result = []
        for entry in entries:
            labels = entry.get("Labels") or {}
            if self._platform is not None and not self._platform.owns(labels):
                continue
            found = observe.from_summary(entry, network=self.network, now=now)
            if found is not None and found.state is RunState.EXITED:
                # Only inspect gives an exited container's exact exit code and times.
                found = _inspect_or(client, found, network=self.network)
            if found is not None:
                adopted = self._platform is not None and LABEL_PLATFORM not in labels
                result.append(replace(found, adopted=True) if adopted else found)
        return result


def _label_filters(owner: Owner, platform: Platform | None) -> list[str]:
    filters = [f"{LABEL_MANAGED}=true"]
    if platform is not None and not platform.adopts_unlabelled:
        # The engine cannot select "this id or no label at all": with adoption, Platform.owns
        # sorts the listing instead.
        filters.append(f"{LABEL_PLATFORM}={platform.id}")
    for label, value in ((LABEL_TEAM, owner.team), (LABEL_SERVICE, owner.service)):
        if value is not None:
            filters.append(f"{label}={value}")
    if owner.env is not None:
        filters.append(f"{LABEL_ENV}={owner.env.value}")
    return filters


def _inspect_or(client: docker.APIClient, summary: Observed, *, network: str) -> Observed:
    try:
        detail = observe.from_inspect(client.inspect_container(summary.runtime_id), network=network)
    except DockerNotFound:
        return summary  # removed since the list call: what the list said is all there is
    return detail or summary


def _remove_quietly(client: docker.APIClient, container_id: str) -> None:
    try:
        client.remove_container(container_id, force=True, v=True)
    except Exception:  # the original error matters more; the garbage collector removes leftovers
        return


def _missing_network(network: str) -> RuntimeFailure:
    return RuntimeFailure(
        f"Docker network {network} does not exist on this engine: the agent (`dockyard agent`, "
        "started by `dockyard up`) creates one per segment; check that it runs",
        field="network",
    )


def _missing_image(image: str) -> RuntimeFailure:
    return RuntimeFailure(
        f"image {image} is not on this Docker engine and pulling is off: build it on the "
        "engine or push it to the registry the engine uses, then deploy again",
        field="image",
    )
