"""The API fuzzer's target and its runs: a real `dockyard server` with state of its own, and
schemathesis (its command line, as a user would run it) driven over the server's OpenAPI document.

The server gets its own state directory, its own etcd (under its own prefix), an engine that
runs nothing (tests.support.empty_engine) and a registry address nobody listens on: a stateful
run with the admin token deletes whatever it can reach, and none of it may be another's, not
the live platform's, not another test's containers. Used by tests/e2e/test_api_fuzz.py (a short
run on every change) and benchmarks/fuzz.py (a long one).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.empty_engine import empty_engine
from tests.support.etcd import EtcdServer
from tests.support.nats import NatsServer
from tests.support.prometheus import instances_prometheus
from tests.support.server import ServerProcess, free_port

KNOWN_ODDS = 0.8
"""How often a path parameter names what exists rather than anything the schema allows."""

CHECKS_LEFT_OUT = {
    # Data the schema allows may still break a domain rule the schema cannot state (an image
    # reference's syntax, a CIDR, a name's characters): refusing it with 422 is right.
    "positive_data_acceptance": "schema-valid data may break a domain rule (422 by design)",
}


@dataclass(frozen=True)
class Known:
    """What the target holds before a run: a team, a token of it, a service deployed to test."""

    team: str
    service: str
    team_token: str


@dataclass(frozen=True)
class FuzzRun:
    """One schemathesis run: what was asked, what it printed, how it ended, how long it took."""

    argv: list[str]
    returncode: int
    output: str
    seconds: float

    def tail(self, lines: int = 150) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


NOT_FUZZED = r"/logs/follow$|/endpoints(/|$)"
"""Paths the fuzzer leaves out: a live tail answers for as long as the client listens, so every
call would end in the request timeout (tests/integration/api/test_api_logs.py tests it); so does
an endpoint watch or the all-services feed (`watch=1`, a query value the fuzzer cannot be kept
from), tested by tests/integration/api/test_api_endpoints.py and test_api_feed.py."""


@dataclass
class FuzzTarget:
    server: ServerProcess
    root: Path
    known: Known

    @property
    def openapi_url(self) -> str:
        return f"{self.server.url}/api/v1/openapi.json"

    @property
    def admin_token(self) -> str:
        return self.server.token

    def fuzz(
        self,
        token: str,
        *,
        max_examples: int,
        stateful_examples: int | None = None,
        max_steps: int | None = None,
        seed: int | None = None,
        phases: str = "examples,coverage,fuzzing,stateful",
        request_timeout_s: float = 10.0,
    ) -> FuzzRun:
        """Run schemathesis over every operation with `token`: every check but those left out
        (CHECKS_LEFT_OUT), and Dockyard's own (tests.support.fuzz_checks)."""
        config = self.root / f"schemathesis-{time.monotonic_ns()}.toml"
        config.write_text(
            _config(known=self.known, stateful_examples=stateful_examples, max_steps=max_steps)
        )
        argv = [
            sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color",
            "run", self.openapi_url,
            "--header", f"Authorization: Bearer {token}",
            "--checks", "all",
            "--exclude-checks", ",".join(CHECKS_LEFT_OUT),
            "--exclude-path-regex", NOT_FUZZED,
            "--phases", phases,
            "--max-examples", str(max_examples),
            "--request-timeout", str(request_timeout_s),
            "--workers", "1",
            "--generation-database", "none",
            "--output-sanitize", "true",
        ]  # fmt: skip
        if seed is not None:
            argv += ["--seed", str(seed)]
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.support.fuzz_checks"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO), env.get("PYTHONPATH")]))
        started = time.monotonic()
        done = subprocess.run(
            argv, cwd=self.root, env=env, capture_output=True, text=True, check=False
        )
        shown = [a if not a.startswith("Authorization") else "Authorization: ..." for a in argv]
        return FuzzRun(
            argv=shown,
            returncode=done.returncode,
            output=done.stdout + done.stderr,
            seconds=time.monotonic() - started,
        )


def seed_data(server: ServerProcess, *, team: str = "fuzz", service: str = "web") -> Known:
    """`team` with a token and `service` deployed to test, made through the API."""
    with server.client() as admin:
        admin.post("/api/v1/teams", json={"name": team}).raise_for_status()
        made = admin.post(f"/api/v1/teams/{team}/tokens", json={"name": "fuzzer"})
        made.raise_for_status()
        body = {
            "name": service,
            "image": f"{team}/{service}:1",
            "ports": [{"container_port": 8080}],
        }
        admin.post(f"/api/v1/teams/{team}/services", json=body).raise_for_status()
        deployed = admin.post(f"/api/v1/teams/{team}/services/{service}/envs/test/deploy")
        deployed.raise_for_status()
    return Known(team=team, service=service, team_token=str(made.json()["token"]))


_REPO = Path(__file__).resolve().parents[2]


REJECTIONS = (400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429)
"""What may answer data the schema forbids: schemathesis's list, and 413 (a generated body
over the API's 1 MiB is refused by its size before its shape is read)."""


def _config(*, known: Known, stateful_examples: int | None, max_steps: int | None) -> str:
    lines = [
        "[checks.negative_data_rejection]",
        f"expected-statuses = {list(REJECTIONS)}",
        "",
    ]
    if stateful_examples is not None:
        lines += ["[phases.stateful.generation]", f"max-examples = {stateful_examples}", ""]
    if max_steps is not None:
        lines += ["[phases.stateful]", f"max-steps = {max_steps}", ""]
    # Path parameters mostly name what exists (the seeded team and service, its revisions),
    # now and then anything else: the fuzzer reaches real data, not only 404s.
    bindings = {"team": [known.team], "svc": [known.service], "n": [1, 2], "number": [1]}
    for name, values in bindings.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    for name in bindings:
        lines.append(f'"path.{name}" = {{ dictionary = "{name}", probability = {KNOWN_ODDS} }}')
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def fuzz_target(root: Path) -> Iterator[FuzzTarget]:
    """A server over `root` (its state, etcd, nats-server and engine socket all inside) until
    the block ends. The server reads its log figures from nats-server's key-value board, so
    without one `/logs/stats` could only answer 503; its metrics from a Prometheus of its own
    (scraping instance series of the known team), so the metrics routes have data to answer
    with and never reach the host's."""
    (root / "etcd").mkdir(parents=True, exist_ok=True)
    (root / "state").mkdir(exist_ok=True)
    etcd = EtcdServer(root / "etcd")
    etcd.start()
    (root / "nats").mkdir(exist_ok=True)
    nats = NatsServer(root / "nats")
    try:
        nats.start()
        with (
            empty_engine(root / "engine.sock") as docker_host,
            instances_prometheus(root / "prometheus") as prometheus_url,
        ):
            server = ServerProcess(
                root / "state",
                network="dockyard-fuzz",
                extra_env={
                    "DOCKYARD_ETCD_ENDPOINTS": etcd.endpoint,
                    "DOCKYARD_ETCD_PREFIX": "/fuzz",
                    "DOCKYARD_DOCKER_HOST": docker_host,
                    "DOCKYARD_REGISTRY": f"127.0.0.1:{_closed_port()}",
                    "DOCKYARD_REGISTRY_MANAGED": "false",
                    "DOCKYARD_NATS_URLS": nats.url,
                    "DOCKYARD_PROMETHEUS_URL": prometheus_url,
                },
            )
            server.start()
            try:
                yield FuzzTarget(server=server, root=root, known=seed_data(server))
            finally:
                server.stop()
    finally:
        nats.remove()
        etcd.stop()


def _closed_port() -> int:
    """A loopback port nobody listens on (taken and let go: nothing answers there)."""
    return free_port()
