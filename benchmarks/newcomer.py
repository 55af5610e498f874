"""Issue 11's reproduction, repeated on a running platform: a service, `deploy --replicas 3`, one
instance's container removed by hand, `scale 10`, `rollback --to 1`, then checks (the engine's
containers are exactly the instances, every part of `dockyard status` healthy), `scale 0` and
the service deleted. Prints each run's time and outcome; stops at the first failure.

    .venv/bin/python -m benchmarks.newcomer --team shop --image shop/web:1 --runs 10

Runs the `dockyard` CLI as this host's admin (after `./run up`), against the platform's own
engine; the image must serve HTTP on 8080 (`--health-http /` is used).
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import time
from typing import Any

import docker

LABEL_SERVICE = "io.dockyard.service"


def cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "dockyard.cli", *args],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"dockyard {' '.join(args)}: {(done.stderr or done.stdout).strip()}")
    return done.stdout


def as_json(*args: str) -> Any:
    return json.loads(cli(*args, "-o", "json"))


def one_run(engine: docker.APIClient, *, team: str, image: str) -> float:
    started = time.monotonic()
    name = "n" + secrets.token_hex(3)
    scope = ("--team", team, "--env", "test")
    cli("service", "create", name, "--team", team, "--image", image, "--port", "8080",
        "--health-http", "/")  # fmt: skip
    try:
        cli("deploy", name, *scope, "--replicas", "3")
        victim = engine.containers(filters={"label": f"{LABEL_SERVICE}={name}"})[0]
        engine.remove_container(victim["Id"], force=True)
        cli("scale", name, "10", *scope)
        cli("rollback", name, *scope, "--to", "1")
        time.sleep(2)  # a pass or two: anything left over would show now
        running = engine.containers(all=True, filters={"label": f"{LABEL_SERVICE}={name}"})
        instances = as_json("instances", name, *scope)["items"]
        if len(running) != 3 or len(instances) != 3:
            raise RuntimeError(f"{len(running)} containers, {len(instances)} instances, not 3")
        unwell = [p for p in as_json("status")["parts"] if not p["healthy"]]
        if unwell:
            raise RuntimeError(f"unhealthy: {unwell}")
        cli("scale", name, "0", *scope)
    finally:
        cli("service", "delete", name, "--team", team)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--team", required=True)
    parser.add_argument("--image", required=True)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    engine = docker.APIClient(version="auto")
    for run in range(1, args.runs + 1):
        try:
            took = one_run(engine, team=args.team, image=args.image)
        except RuntimeError as exc:
            print(f"run {run}: FAILED: {exc}")
            sys.exit(1)
        print(f"run {run}: ok in {took:.1f} s")
    print(f"{args.runs} of {args.runs} runs passed")


if __name__ == "__main__":
    main()
