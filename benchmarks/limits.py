"""Debian's redis-server run through Dockyard beside the same image under plain Docker with the
same limits (0.5 CPU, 256 MiB, 512 pids: every environment's default), SET/GET rates from
redis-benchmark on this host. Then the variables that could explain what is left between them:
the network (Dockyard's bridge network vs Docker's default bridge), Dockyard's container
configuration (init, dropped capabilities, no-new-privileges, log rotation) started directly,
and command health probes (none, every 5 s, every 0.5 s).

Each variant runs alone: started, measured, removed, and the variants take turns round after
round, so drift of this shared machine spreads over all of them. Everything runs on this host:
the server on a loopback port over a throwaway state directory, the containers on Docker's
default bridge and on a bridge network the benchmark makes (and removes).

Run: .venv/bin/python -m benchmarks.limits [--rounds 3] [--requests 100000]
"""

from __future__ import annotations

import argparse
import csv
import io
import secrets
import socket
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import httpx

from benchmarks.harness import dockyard_server, median
from dockyard.domain.environment import Environment
from dockyard.domain.ids import InstanceId
from dockyard.domain.instance import InstanceSpec
from dockyard.domain.spec import Port, Resources, ServiceSpec
from dockyard.runtimes.docker.container import MIB, NANO, create_kwargs
from tests.support.engine import ensure_engine
from tests.support.server import ServerProcess

IMAGE = "dockyard-bench/redis:local"
NETWORK = "dockyard-bench-limits"
PORT = 6379
LIMITS = Resources()  # the environments' defaults before anyone changes them
SERVER = "/usr/bin/redis-server"
CLI = "/usr/bin/redis-cli"
# Debian's redis-server is redis-check-rdb under another name: the binary picks its part by it.
BINARIES = {SERVER: Path("/usr/bin/redis-check-rdb"), CLI: Path(CLI)}
COMMAND = [
    SERVER,
    "--bind",
    "0.0.0.0",
    "--protected-mode",
    "no",
    "--save",
    "",
    "--appendonly",
    "no",
]
DEADLINE_S = 120.0


# ---- the image: the host's redis binaries and the libraries they load, FROM scratch --------


def _libraries(binary: Path) -> set[Path]:
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    found = set()
    for line in out.splitlines():
        words = line.split()
        path = words[2] if "=>" in words and len(words) > 2 else words[0]
        if path.startswith("/"):
            found.add(Path(path))
    return found


def _context() -> bytes:
    dockerfile = f"FROM scratch\nCOPY root/ /\nCMD {_json_list(COMMAND)}\n".encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        files = {Path(name): source for name, source in BINARIES.items()}
        for source in BINARIES.values():
            files.update({lib: lib for lib in _libraries(source)})
        for name, source in sorted(files.items()):
            tar.add(source.resolve(), arcname=f"root{name}")
    return buffer.getvalue()


def _json_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def build_image(client: docker.APIClient) -> None:
    stream = client.build(
        fileobj=io.BytesIO(_context()), custom_context=True, tag=IMAGE, rm=True, decode=True
    )
    errors = [chunk["error"] for chunk in stream if "error" in chunk]
    if errors:
        raise RuntimeError(f"building {IMAGE} failed: {'; '.join(errors)}")


# ---- measuring one server -------------------------------------------------------------------


def wait_redis(address: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, PORT), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"redis at {address}:{PORT} did not answer within {DEADLINE_S:g} s")


def rates(address: str, *, requests: int) -> dict[str, float]:
    """SET and GET requests/s of redis-benchmark (50 clients, no pipelining) against `address`."""
    out = subprocess.run(
        ["redis-benchmark", "-h", address, "-p", str(PORT), "-t", "set,get",
         "-n", str(requests), "-c", "50", "-P", "1", "--csv"],
        capture_output=True, text=True, check=True, timeout=DEADLINE_S,
    ).stdout  # fmt: skip
    rows = [row for row in csv.reader(io.StringIO(out)) if len(row) > 1 and row[0] != "test"]
    return {row[0]: float(row[1]) for row in rows}


# ---- the variants ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    name: str
    start: Callable[[], Any]


@contextmanager
def plain(client: docker.APIClient, *, limits: Resources | None, network: str) -> Iterator[str]:
    """`docker run` of the image, with `limits` (or none), on `network`."""
    config: dict[str, Any] = {"network_mode": network}
    if limits is not None:
        memory = limits.memory_mb * MIB
        config.update(nano_cpus=round(limits.cpus * NANO), mem_limit=memory, pids_limit=limits.pids)
    cid = client.create_container(IMAGE, host_config=client.create_host_config(**config))["Id"]
    try:
        client.start(cid)
        yield _address(client, cid, network)
    finally:
        client.remove_container(cid, force=True)


@contextmanager
def dockyard_config(client: docker.APIClient, *, network: str) -> Iterator[str]:
    """The container Dockyard would create for the service, created here directly."""
    spec = ServiceSpec(image=IMAGE, ports=(Port(PORT),), resources=LIMITS)
    instance = InstanceSpec(
        team="bench", service="redis", env=Environment.TEST, revision=1,
        instance_id=InstanceId("b" + secrets.token_hex(5)), spec=spec,
    )  # fmt: skip
    kwargs = create_kwargs(instance, network=network, api_version=client.api_version)
    kwargs["labels"] = {}  # not a Dockyard instance: no platform's collector may take it
    cid = client.create_container(**kwargs)["Id"]
    try:
        client.start(cid)
        yield _address(client, cid, network)
    finally:
        client.remove_container(cid, force=True)


def _address(client: docker.APIClient, cid: str, network: str) -> str:
    networks = client.inspect_container(cid)["NetworkSettings"]["Networks"]
    return str(networks[network]["IPAddress"])


class Through:
    """One service per probe setting on a Dockyard server, scaled 0 -> 1 -> 0 around each run."""

    def __init__(self, server: ServerProcess) -> None:
        self.api = server.client()
        self.team = "b" + secrets.token_hex(4)
        self.api.post("/api/v1/teams", json={"name": self.team}).raise_for_status()
        self.shown: list[str] = []

    def service(self, name: str, *, probe_s: float | None) -> None:
        body: dict[str, Any] = {"name": name, "image": IMAGE, "ports": [{"container_port": PORT}]}
        if probe_s is not None:
            body["health_check"] = {"command": [CLI, "ping"], "interval_s": probe_s}
        self.api.post(f"/api/v1/teams/{self.team}/services", json=body).raise_for_status()
        release = self._post(name, "deploy", {"replicas": 0})
        sources = release["resources_from"]
        self.shown.append(f"{name}: {release['spec']['resources']} from {sources}")

    @contextmanager
    def running(self, name: str) -> Iterator[str]:
        self._post(name, "scale", {"replicas": 1})
        try:
            env = self._until(name, lambda e: e["status"]["ready"] == 1 and e["instances"])
            yield str(env["instances"][0]["ip"])
        finally:
            self._post(name, "scale", {"replicas": 0})
            self._until(name, lambda e: not e["instances"])

    def _post(self, name: str, verb: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.api.post(f"{self._env(name)}/{verb}", json=body)
        answer.raise_for_status()
        found: dict[str, Any] = answer.json()
        return found

    def _env(self, name: str) -> str:
        return f"/api/v1/teams/{self.team}/services/{name}/envs/{Environment.TEST.value}"

    def _until(self, name: str, done: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            env: dict[str, Any] = self.api.get(self._env(name)).json()
            if done(env):
                return env
            time.sleep(0.05)
        raise TimeoutError(f"{name} did not settle within {DEADLINE_S:g} s")


def variants(client: docker.APIClient, through: Through) -> list[Variant]:
    through.service("redis", probe_s=None)
    through.service("redis-probe-5s", probe_s=5.0)
    through.service("redis-probe-05s", probe_s=0.5)
    return [
        Variant("docker, no limits, bridge", lambda: plain(client, limits=None, network="bridge")),
        Variant("docker, limits, bridge", lambda: plain(client, limits=LIMITS, network="bridge")),
        Variant(
            "docker, limits, dockyard net", lambda: plain(client, limits=LIMITS, network=NETWORK)
        ),
        Variant("dockyard config, direct", lambda: dockyard_config(client, network=NETWORK)),
        Variant("dockyard, no probe", lambda: through.running("redis")),
        Variant("dockyard, probe every 5 s", lambda: through.running("redis-probe-5s")),
        Variant("dockyard, probe every 0.5 s", lambda: through.running("redis-probe-05s")),
    ]


BASELINE = "docker, limits, bridge"


def report(results: dict[str, list[dict[str, float]]]) -> None:
    base = {op: median([run[op] for run in results[BASELINE]]) for op in ("SET", "GET")}
    print(
        f"{'variant':<30}{'SET/s':>10}{'GET/s':>10}{'SET ratio':>11}{'GET ratio':>11}"
        f"{'spread SET / GET':>20}"
    )
    for name, runs in results.items():
        got = {op: median([run[op] for run in runs]) for op in ("SET", "GET")}
        spread = [max(run[op] for run in runs) / min(run[op] for run in runs) for op in got]
        print(
            f"{name:<30}{got['SET']:>10.0f}{got['GET']:>10.0f}"
            f"{got['SET'] / base['SET']:>10.2f}x{got['GET'] / base['GET']:>10.2f}x"
            f"{spread[0]:>13.2f} / {spread[1]:.2f}"
        )
    print(
        f"ratios against {BASELINE!r} (0.5 CPU, 256 MiB, 512 pids), medians over the rounds; "
        "spread: the fastest round over the slowest"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args()
    ensure_engine()
    client = docker.APIClient(version="auto")
    build_image(client)
    if not client.networks(names=[NETWORK]):
        client.create_network(NETWORK, driver="bridge")
    try:
        with dockyard_server(network=NETWORK) as server:
            through = Through(server)
            chosen = variants(client, through)
            results: dict[str, list[dict[str, float]]] = {v.name: [] for v in chosen}
            for _ in range(args.rounds):
                for variant in chosen:
                    with variant.start() as address:
                        wait_redis(address)
                        results[variant.name].append(rates(address, requests=args.requests))
            print("\n".join(through.shown))
            through.api.close()
        report(results)
    finally:
        try:
            client.remove_network(NETWORK)
        except (docker.errors.APIError, httpx.HTTPError) as exc:
            print(f"network {NETWORK} left in place: {exc}")


if __name__ == "__main__":
    main()
