"""The image center against the bare Engine API, same run, same engine, same registry:

1. build + push of a small service through Dockyard (API request -> builder: ref resolved, git
   archive, build, push, manifest read back, image recorded; timed until the API says succeeded)
   against `docker build` + push of the same context straight through the Engine API, with
   BuildKit as Dockyard builds (and, for information, with the classic builder, `docker
   build`'s default on this engine). Target <= 1.15x. The repository is a local `file://`
   one, as Dockyard's hosted remotes are: the builder reads it in place. An http(s) source
   adds a `git fetch` (of one new commit: ~14 ms here through git's own local transport, more
   over a network).
2. a forced rebuild of an unchanged commit (layer cache warm) against its first build.
   Target <= 20 %. Also measured: the engine's own rebuild of the same context (`docker build`
   + push again, cache warm) against its own first build, which is the floor here: the engine
   takes ~40 ms for any build at all (even `FROM` alone), whatever it has cached.
3. a promotion: API call -> the controller rolling the new revision. Target <= 1 s.

Each round builds a fresh commit (new page content) for each side, so the COPY layer is new
for all; the base layers are in the registry already for all. Rounds rotate the order.

Run: .venv/bin/python -m benchmarks.build [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

import docker
import httpx

from benchmarks.harness import median
from dockyard.controller.config import ControllerSettings
from dockyard.domain.clock import utcnow
from dockyard.domain.source import GitSource
from dockyard.images import naming
from dockyard.images.context import GENERATED, make_context
from dockyard.images.git import Mirror
from dockyard.store.db import Database
from tests.support.engine import ensure_engine
from tests.support.git_repos import Repo, service_files
from tests.support.image_center import API, bearer, compose, image_settings, seed, serve
from tests.support.images import ensure_test_image
from tests.support.registry import remove_engine_images, start_registry

NETWORK = "dockyard-bench"


def _wait_build(api: httpx.Client, path: str, number: int) -> dict[str, Any]:
    """Follow the build's log as `dockyard build` does (long polls) until it ends."""
    offset = 0
    while True:
        page = api.get(f"{path}/builds/{number}/log", params={"after": offset, "wait": 5}).json()
        offset = page["next"]
        if page["done"]:  # the page that ends the log carries the finished build
            build = page["build"]
            if build["state"] != "succeeded":
                raise RuntimeError(build["reason"])
            return dict(build)


def dockyard_build(
    api: httpx.Client, path: str, *, force: bool = False
) -> tuple[float, str, float]:
    """(seconds from the request until the API says it succeeded, the digest, and the build
    time Dockyard records: from the builder taking the build to its end)."""
    started = time.perf_counter()
    number = api.post(f"{path}/builds", json={"force": force}).json()["number"]
    build = _wait_build(api, path, number)
    return time.perf_counter() - started, build["image"]["digest"], float(build["duration_s"])


def direct_context(repo: Repo, work: Path, *, labelled: bool) -> Path:
    """The context of the repo's HEAD: exactly what Dockyard sends the engine (its generated,
    labelled Dockerfile), or the plain commit (`labelled=False`). Made beforehand, not timed."""
    mirror = Mirror(work / "direct.git", repo.url)
    with mirror.locked():
        mirror.fetch()
        sha = mirror.resolve("main")
        into = work / f"direct-{sha[:12]}-{labelled}.tar"
        if not labelled:
            return mirror.export(sha, context=".", into=into)
        commit = mirror.commit(sha)
        labels = naming.oci_labels(
            source_url=repo.url, commit=sha, created=commit.committed_at.isoformat(),
            team="bench", service="direct",
        )  # fmt: skip
        return make_context(mirror, sha, source=GitSource(repo.url), labels=labels, into=into)


def direct_build(
    engine: docker.APIClient,
    context: Path,
    repository: str,
    tag: str,
    *,
    dockerfile: str,
    buildkit: bool = True,
) -> float:
    """`docker build` + push of `context` straight through the Engine API: with BuildKit
    (`version=2`, as Dockyard builds) or the classic builder (`docker build`'s default on this
    engine)."""
    started = time.perf_counter()
    with context.open("rb") as tar:
        if buildkit:
            _buildkit(tar, dockerfile=dockerfile, tag=f"{repository}:{tag}")
        else:
            for chunk in engine.build(
                fileobj=tar, custom_context=True, dockerfile=dockerfile,
                tag=f"{repository}:{tag}", rm=True, forcerm=True, decode=True,
            ):  # fmt: skip
                if "error" in chunk:
                    raise RuntimeError(chunk["error"])
    for chunk in engine.push(repository, tag=tag, stream=True, decode=True):
        if "error" in chunk:
            raise RuntimeError(chunk["error"])
    return time.perf_counter() - started


_SOCKET = httpx.Client(
    transport=httpx.HTTPTransport(uds="/var/run/docker.sock"), base_url="http://engine", timeout=120
)


def _buildkit(tar: BinaryIO, *, dockerfile: str, tag: str) -> None:
    """POST /build?version=2 with the tar as the body, read to the end (the engine's stream)."""
    params = {"t": tag, "dockerfile": dockerfile, "version": "2"}
    headers = {"Content-Type": "application/x-tar"}
    with _SOCKET.stream("POST", "/build", params=params, content=tar, headers=headers) as answer:
        for line in answer.iter_lines():
            if line and "error" in json.loads(line):
                raise RuntimeError(line)


def _wait_env(api: httpx.Client, path: str, env: str, *, revision: int, phase: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = api.get(f"{path}/envs/{env}").json()["status"]
        if found["revision"] == revision and found["phase"] in phase.split("|"):
            return
        time.sleep(0.005)
    raise TimeoutError(f"{env} revision {revision} never {phase}")


def promotion(api: httpx.Client, path: str, *, revision: int) -> tuple[float, float]:
    """(API call seconds, seconds from the call to the controller rolling the new revision)."""
    started = time.perf_counter()
    answer = api.post(f"{path}/promotions", json={"from": "test", "to": "sandbox"})
    called = time.perf_counter() - started
    answer.raise_for_status()
    _wait_env(api, path, "sandbox", revision=revision, phase="progressing|available")
    return called, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ensure_engine()
    engine = docker.APIClient(version="auto")
    image = ensure_test_image(engine)
    team = "b" + secrets.token_hex(4)
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        root = Path(tmp)
        registry = start_registry(root / "registry")
        db = Database.open(f"sqlite:///{root / 'dockyard.db'}")
        try:
            run(engine, db, registry, root=root, team=team, image=image, rounds=args.rounds)
        finally:
            db.close()
            registry.stop()
            remove_engine_images(engine, registry.address)
            _remove_team(engine, team)


def with_run_step(page: str) -> dict[str, str]:
    """The small service plus one RUN step (a build container, as most real Dockerfiles have)."""
    files = service_files(page)
    files["Dockerfile"] += "RUN wc -c /www/index.html > /www/size.txt\n"
    return files


Files = Callable[[str], dict[str, str]]
Samples = dict[str, list[float]]


def compare(
    api: httpx.Client, engine: docker.APIClient, kw: dict[str, Any], files: Files
) -> Samples:
    """`rounds` of: Dockyard's build, the engine building Dockyard's very context, the engine
    building the bare commit, then Dockyard forcing a rebuild of its commit (cache warm).
    Each side builds its own fresh commit, so none finds another's layer cached."""
    repo, root, path, target = kw["repo"], kw["root"], kw["path"], kw["direct_repo"]
    found: Samples = {
        "dockyard": [], "direct": [], "plain": [], "classic": [], "forced": [], "recorded": [],
        "forced_rec": [], "again": [],
    }  # fmt: skip
    tags: dict[str, str] = {}
    repo.commit(files(f"warm-up {secrets.token_hex(8)}"))
    dockyard_build(api, path)  # warm: base layers in the registry, mirror cloned
    for n in range(kw["rounds"]):
        repo.commit(files(f"direct {n} {secrets.token_hex(8)}"))
        same = direct_context(repo, root, labelled=True)
        repo.commit(files(f"plain {n} {secrets.token_hex(8)}"))
        bare = direct_context(repo, root, labelled=False)
        repo.commit(files(f"classic {n} {secrets.token_hex(8)}"))
        classic = direct_context(repo, root, labelled=True)
        repo.commit(files(f"dockyard {n} {secrets.token_hex(8)}"))
        contexts = {"direct": (same, GENERATED), "plain": (bare, "Dockerfile")}
        contexts["classic"] = (classic, GENERATED)
        sides = ["dockyard", "direct", "plain", "classic"]
        for side in sides[n % 4 :] + sides[: n % 4]:  # each side goes first in turn
            if side == "dockyard":
                elapsed, _, recorded = dockyard_build(api, path)
                found[side].append(elapsed)
                found["recorded"].append(recorded)
                continue
            context, dockerfile = contexts[side]
            tag = f"{side[0]}{n}-{secrets.token_hex(3)}"
            classic_side = side == "classic"
            found[side].append(
                direct_build(
                    engine, context, target, tag, dockerfile=dockerfile, buildkit=not classic_side
                )
            )
            tags[side] = tag
        elapsed, _, recorded = dockyard_build(api, path, force=True)
        found["forced"].append(elapsed)
        found["forced_rec"].append(recorded)
        # The engine's own rebuild of an unchanged commit: the same context, build + push again.
        again = direct_build(engine, same, target, tags["direct"], dockerfile=GENERATED)
        found["again"].append(again)
    return found


def run(engine: docker.APIClient, db: Database, registry: Any, **kw: Any) -> None:
    root, team = kw["root"], kw["team"]
    secrets_ = seed(db, team, kw["image"])
    settings = image_settings(registry, root / "builds")
    app, _parts = compose(
        db, settings=replace(settings, follow_s=1.0), clock=utcnow, network=NETWORK,
        controller=ControllerSettings(resync_s=5),
    )  # fmt: skip
    repo = Repo(root / "src")
    with serve(app) as url, httpx.Client(base_url=url, headers=bearer(secrets_["ci"])) as api:
        path = f"{API}/teams/{team}/services/web"
        api.put(f"{path}/source", json={"repo_url": repo.url}).raise_for_status()
        context = {
            **kw, "repo": repo, "path": path, "direct_repo": f"{registry.address}/{team}/direct",
        }  # fmt: skip
        small = compare(api, engine, context, service_files)
        with_run = compare(api, engine, context, with_run_step)
        # Promotion: test runs the last build (deploy), then sandbox takes it.
        api.put(f"{path}/promotion/policy", json={"soak_s": 0}).raise_for_status()
        digest = api.get(f"{path}/images").json()["items"][0]["reference"]
        api.post(f"{path}/envs/test/deploy", json={"image": digest}).raise_for_status()
        _wait_env(api, path, "test", revision=1, phase="available")
        called, rolling = promotion(api, path, revision=1)
    _report({"COPY only": small, "COPY + RUN": with_run}, called, rolling)


def _report(variants: dict[str, Samples], called: float, rolling: float) -> None:
    print(f"{'measure':<52} {'dockyard':>9} {'baseline':>9} {'ratio':>6}  target")

    def row(name: str, value: float, base: float | None, target: str) -> None:
        base_text = f"{base:9.3f}" if base is not None else f"{'-':>9}"
        ratio = f"{value / base:6.2f}" if base else f"{'-':>6}"
        print(f"{name:<52} {value:9.3f} {base_text} {ratio}  {target}")

    for name, found in variants.items():
        ours, theirs, plain, forced = (
            median(found[k]) for k in ("dockyard", "direct", "plain", "forced")
        )
        row(f"{name}: build + push (median s)", ours, theirs, "<= 1.15")
        row(f"{name}:   vs the bare commit (no labels)", ours, plain, "(info)")
        row(
            f"{name}:   vs the classic builder, same context",
            ours,
            median(found["classic"]),
            "(info)",
        )
        row(f"{name}: forced rebuild, cache warm", forced, ours, "<= 0.20")
        again = median(found["again"])
        row(f"{name}:   the engine's own: build + push again", again, theirs, "(info)")
        row(f"{name}:   forced rebuild vs the engine's own", forced, again, "(info)")
        row(
            f"{name}:   the same by recorded build time",
            median(found["forced_rec"]),
            median(found["recorded"]),
            "(info)",
        )
    row("promotion: API call (s)", called, None, "")
    row("promotion: call -> rolling (s)", rolling, None, "<= 1 s")
    print("baselines: the engine building with BuildKit the very context Dockyard sends it (the")
    print("service's Dockerfile plus the OCI LABEL line), and the bare commit; its classic")
    print("builder (`docker build`'s default on this engine); a forced rebuild against")
    print("Dockyard's own first build of a new commit (end to end through the API, and by the")
    print("build time Dockyard records, builder start to end). Samples (s):")
    for name, found in variants.items():
        for side, values in found.items():
            print(f"  {name:<11} {side:<9} {[round(v, 3) for v in values]}")


def _remove_team(engine: docker.APIClient, team: str) -> None:
    from tests.support.fixtures import remove_team_containers

    remove_team_containers(engine, team)


if __name__ == "__main__":
    main()
