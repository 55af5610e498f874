"""Scale one service 0 -> 30 instances (HTTP health check) and back to 0, through Dockyard,
against the same 30 containers started directly through the Engine API at the best
parallelism and polled over HTTP until they answer, then removed. Same run, same engine.

Run: .venv/bin/python -m benchmarks.scale [--instances 30] [--rounds 2]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import secrets
import time
from collections.abc import Callable

import docker
import httpx

from benchmarks.harness import dockyard_server, median
from dockyard.domain.environment import Environment
from dockyard.domain.ids import InstanceId
from dockyard.domain.instance import InstanceSpec
from dockyard.domain.spec import HealthCheck, Port, ServiceSpec
from dockyard.runtimes.docker.container import create_kwargs
from tests.support.engine import ensure_engine
from tests.support.images import ensure_test_image
from tests.support.server import ServerProcess

NETWORK = "dockyard-bench"
SPEC = {
    "ports": [{"container_port": 8080}],
    "health_check": {"http_path": "/health", "interval_s": 1, "timeout_s": 1, "retries": 3},
    "resources": {"cpus": 0.2, "memory_mb": 32, "pids": 64},
    "stop_grace_s": 5,
    # The baseline removes containers outright: measure stopping and removing, not the drain
    # period instances otherwise get before they are stopped.
    "drain_s": 0,
    "strategy": {"max_surge": 1, "max_unavailable": 0},
}


def _wait_http(url: str, deadline: float) -> None:
    with httpx.Client(timeout=0.5) as client:
        while time.monotonic() < deadline:
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
    raise TimeoutError(url)


def direct(
    client: docker.APIClient, image: str, *, count: int, parallel: int
) -> tuple[float, float]:
    """Create+start `count` containers with Dockyard's own container config, poll each until it
    answers HTTP, then force-remove them all. Returns (seconds to all healthy, seconds to gone)."""
    spec = ServiceSpec(
        image=image, ports=(Port(8080),), health_check=HealthCheck(http_path="/health")
    )
    team = "b" + secrets.token_hex(4)

    def start(i: int) -> str:
        instance = InstanceSpec(
            team=team,
            service="direct",
            env=Environment.TEST,
            revision=1,
            instance_id=InstanceId(f"d{i}"),
            spec=spec,
        )
        kwargs = create_kwargs(instance, network=NETWORK, api_version=client.api_version)
        cid: str = client.create_container(**kwargs)["Id"]
        client.start(cid)
        ip = client.inspect_container(cid)["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]
        _wait_http(f"http://{ip}:8080/health", time.monotonic() + 60)
        return cid

    began = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        ids = list(pool.map(start, range(count)))
    up = time.monotonic() - began
    began = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        list(pool.map(lambda cid: client.remove_container(cid, force=True), ids))
    return up, time.monotonic() - began


def _poll(api: httpx.Client, path: str, done: Callable[[dict[str, object]], bool]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        body = api.get(path).json()
        if done(body):
            return
        time.sleep(0.02)
    raise TimeoutError(path)


def through_dockyard(server: ServerProcess, image: str, *, count: int) -> tuple[float, float]:
    """Scale a service 0 -> count -> 0 through the API; time each until the API reports it."""
    team, service = "b" + secrets.token_hex(4), "web"
    with server.client() as api:
        api.post("/api/v1/teams", json={"name": team}).raise_for_status()
        api.post(
            f"/api/v1/teams/{team}/services", json={"name": service, "image": image, **SPEC}
        ).raise_for_status()
        base = f"/api/v1/teams/{team}/services/{service}/envs/test"
        api.post(f"{base}/deploy", json={"replicas": 0}).raise_for_status()
        _poll(api, base, lambda env: env["status"]["phase"] == "idle")  # type: ignore[index]
        began = time.monotonic()
        api.post(f"{base}/scale", json={"replicas": count}).raise_for_status()
        _poll(
            api,
            base,
            lambda env: (
                env["status"]["ready"] == count  # type: ignore[index]
                and env["status"]["phase"] == "available"
            ),
        )  # type: ignore[index]
        up = time.monotonic() - began
        began = time.monotonic()
        api.post(f"{base}/scale", json={"replicas": 0}).raise_for_status()
        _poll(api, base, lambda env: not env["instances"])
        return up, time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--parallel-starts", type=int, default=None, help="override the server's default"
    )
    args = parser.parse_args()
    extra = {}
    if args.parallel_starts:
        extra["DOCKYARD_PARALLEL_STARTS"] = str(args.parallel_starts)
    ensure_engine()
    client = docker.APIClient(version="auto")
    image = ensure_test_image(client)
    if not client.networks(names=[NETWORK]):
        client.create_network(NETWORK, driver="bridge")
    results: dict[str, list[tuple[float, float]]] = {"direct-4": [], "direct-8": [], "dockyard": []}
    with dockyard_server(network=NETWORK, extra_env=extra) as server:
        for _ in range(args.rounds):
            results["direct-4"].append(direct(client, image, count=args.instances, parallel=4))
            results["dockyard"].append(through_dockyard(server, image, count=args.instances))
            results["direct-8"].append(direct(client, image, count=args.instances, parallel=8))
    print(f"scale 0 -> {args.instances} -> 0, {args.rounds} rounds, median seconds")
    print(f"{'run':<12}{'to all healthy':>16}{'scale-in':>12}")
    for name, runs in results.items():
        print(
            f"{name:<12}{median([u for u, _ in runs]):>16.2f}{median([d for _, d in runs]):>12.2f}"
        )
    best_up = min(median([u for u, _ in results[k]]) for k in ("direct-4", "direct-8"))
    best_down = min(median([d for _, d in results[k]]) for k in ("direct-4", "direct-8"))
    ours_up = median([u for u, _ in results["dockyard"]])
    ours_down = median([d for _, d in results["dockyard"]])
    print(
        f"dockyard / best direct: scale-out {ours_up / best_up:.2f}x (target <= 1.2x), "
        f"scale-in {ours_down / best_down:.2f}x (target <= 1.2x)"
    )


if __name__ == "__main__":
    main()
