"""API latency with 1,000 services in the database, 50 concurrent clients (`wrk -c 50 -t 2`).

Seeds one team with 1,000 services straight through the store, each deployed to `test` with
replicas=0 (so every service detail carries a current revision and a status, and no container
is ever started), starts the real `dockyard server` as a child process and drives it with wrk:

  healthz    GET /healthz                        the HTTP stack's floor (one trivial DB query)
  whoami     GET /api/v1/whoami                  the floor with token authentication
  list       GET /api/v1/teams/T/services        a page of 100 services (the default)
  detail     GET /api/v1/teams/T/services/S      one service with its four environments

Target (issue): p95 <= 50 ms for `list` and `detail`. The floors are the baseline of the same
run: on a shared, noisy machine only figures from one run compare.

The controllers are kept out of the measurement: with replicas=0 a pass only asks the engine for
an (empty) list of containers, and the resync interval is set to an hour, so after the first
pass over the 1,000 keys (waited for before measuring) the controllers stay idle.

Run: .venv/bin/python -m benchmarks.api_latency [--duration 10] [--connections 50]
Needs wrk (Debian package `wrk`) and a Docker engine (started if missing).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from dockyard.domain.environment import Environment
from dockyard.domain.principal import Principal
from dockyard.domain.spec import HealthCheck, Port, ServiceSpec
from dockyard.store import releases, services, teams, tokens
from dockyard.store.db import Database
from dockyard.store.models import EnvStatusRow
from dockyard.store.releases import Change
from tests.support.engine import ensure_engine
from tests.support.server import ServerProcess, running_server

TEAM = "bench"
SERVICES = 1000
TARGET_P95_MS = 50.0
SEEDER = Principal(token_id="bench", name="bench", team=None)

# wrk's Lua: the token on every request, and one JSON line of figures (microseconds) at the end.
LUA = """
wrk.headers["Authorization"] = "Bearer %(token)s"
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "p50": %%d, "p95": %%d, "p99": %%d, ' ..
    '"non2xx": %%d, "errors": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    targeted: bool


ENDPOINTS = (
    Endpoint("healthz", "/healthz", targeted=False),
    Endpoint("whoami", "/api/v1/whoami", targeted=False),
    Endpoint("list", f"/api/v1/teams/{TEAM}/services", targeted=True),
    Endpoint("detail", f"/api/v1/teams/{TEAM}/services/svc-0500", targeted=True),
)


@dataclass(frozen=True)
class Figures:
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    failed: int


def _spec(i: int) -> ServiceSpec:
    """A realistic template: ports, env, health check; a little different per service."""
    return ServiceSpec(
        image=f"registry.local:5000/{TEAM}/svc-{i:04d}:1.{i % 7}.0",
        command=("/app/server",),
        args=("--port", "8080"),
        ports=(Port(8080, name="http"), Port(9090, name="metrics")),
        env=tuple((f"SETTING_{k}", f"value-{i}-{k}") for k in range(5)),
        health_check=HealthCheck(http_path="/health"),
    )


def seed(state_dir: Path) -> str:
    """1,000 services of team TEAM, each deployed to test with 0 replicas; a team token."""
    db = Database.open(f"sqlite:///{state_dir / 'dockyard.db'}")
    now = datetime.now(UTC)
    try:
        with db.session() as session:
            teams.create_team(session, SEEDER, name=TEAM, description="", now=now)
            _, secret = tokens.create_token(
                session, SEEDER, team=TEAM, name="bench", expires_at=None, now=now
            )
            change = Change(who=SEEDER, now=now)
            for i in range(SERVICES):
                name = f"svc-{i:04d}"
                services.create_service(
                    session, SEEDER, team=TEAM, name=name, spec=_spec(i), now=now
                )
                releases.deploy(
                    session, change, team=TEAM, service=name, env=Environment.TEST, replicas=0
                )
    finally:
        db.close()
    return secret


def wait_for_first_passes(state_dir: Path, *, timeout_s: float = 300) -> None:
    """Until the controllers wrote a status for every deployed environment."""
    db = Database.open(f"sqlite:///{state_dir / 'dockyard.db'}", upgrade=False)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            with db.session() as session:
                done = session.scalar(select(func.count()).select_from(EnvStatusRow)) or 0
            if done >= SERVICES:
                return
            time.sleep(0.5)
    finally:
        db.close()
    raise TimeoutError(f"the controllers did not pass over {SERVICES} keys in {timeout_s:g}s")


def run_wrk(
    server: ServerProcess, script: Path, path: str, *, seconds: float, connections: int
) -> Figures:
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds:g}s", "-s", str(script),
         server.url + path],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    data = json.loads(out.strip().splitlines()[-1])
    return Figures(
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50"] / 1000,
        p95_ms=data["p95"] / 1000,
        p99_ms=data["p99"] / 1000,
        failed=data["non2xx"] + data["errors"],
    )


def check_answers(server: ServerProcess, token: str) -> None:
    """Each endpoint answers 200, and the detail shows a deployed, idle test environment."""
    with server.client() as client:
        client.headers["Authorization"] = f"Bearer {token}"
        for endpoint in ENDPOINTS:
            client.get(endpoint.path).raise_for_status()
        page = client.get(ENDPOINTS[2].path).json()
        detail = client.get(ENDPOINTS[3].path).json()
    assert len(page["items"]) == 100 and page["next"] == "svc-0099", page["next"]
    test = detail["environments"][0]
    assert test["current"]["number"] == 1 and test["status"]["phase"] == "idle", test


def print_table(results: dict[str, Figures], *, connections: int, seconds: float) -> None:
    print(f"API latency, {SERVICES} services, wrk -c {connections} -t 2 -d {seconds:g}s")
    print(f"{'endpoint':<10}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'failed':>8}"
          f"  target p95 <= {TARGET_P95_MS:g} ms")  # fmt: skip
    for endpoint in ENDPOINTS:
        f = results[endpoint.name]
        met = ("yes" if f.p95_ms <= TARGET_P95_MS else "NO") if endpoint.targeted else "-"
        print(f"{endpoint.name:<10}{f.rps:>9.0f}{f.p50_ms:>9.1f}{f.p95_ms:>9.1f}{f.p99_ms:>9.1f}"
              f"{f.failed:>8}  {met}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--connections", type=int, default=50)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: install Debian's wrk (apt-get install wrk)", file=sys.stderr)
        return 1
    ensure_engine()
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        state_dir = Path(tmp)
        token = seed(state_dir)
        script = state_dir / "bench.lua"
        script.write_text(LUA % {"token": token})
        env = {"DOCKYARD_RESYNC_INTERVAL_S": "3600"}
        with running_server(state_dir, network="dockyard-bench", extra_env=env) as server:
            wait_for_first_passes(state_dir)
            check_answers(server, token)
            results = {}
            for endpoint in ENDPOINTS:
                run_wrk(server, script, endpoint.path, seconds=args.warmup, connections=10)
                results[endpoint.name] = run_wrk(
                    server, script, endpoint.path,
                    seconds=args.duration, connections=args.connections,
                )  # fmt: skip
    print_table(results, connections=args.connections, seconds=args.duration)
    met = all(results[e.name].p95_ms <= TARGET_P95_MS for e in ENDPOINTS if e.targeted)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
