"""The API against an OpenAPI-driven fuzzer (schemathesis): a real `dockyard server` of its own,
every operation, generated and boundary inputs, then stateful sequences along the document's
links, once with the admin token and once with a team token.

Passing means: no 5xx; every 4xx is Dockyard's JSON error naming the problem; status codes,
content types and headers are the ones the document gives; answers match their schemas; data
the schema forbids is refused; no operation ignores its token; a 405 lists what the path
serves. The runs are bounded (examples per operation, a deadline per request) to stay within
a minute or two each here; benchmarks/fuzz.py runs the same for much longer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.fuzzing import NOT_FUZZED, FuzzTarget, fuzz_target

pytestmark = pytest.mark.timeout(600)

MAX_EXAMPLES = 12
"""Examples per operation in the coverage and fuzzing phases (~55 operations: ~20 s a run)."""
STATEFUL_EXAMPLES = 150
"""Sequences along the document's links in the stateful phase (~10 s a run)."""
SEED = 20261206  # the same inputs every run: a failure here is reproduced by running it again


@pytest.fixture
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    # A short root: the engine's unix socket lives in it, and socket paths are 107 bytes at most.
    root = Path(tmp_path_factory.mktemp("fuzz", numbered=True))
    with fuzz_target(root) as made:
        yield made


@pytest.mark.parametrize("phases", ["examples,coverage,fuzzing", "stateful"])
@pytest.mark.parametrize("who", ["admin", "team"])
def test_fuzzer_finds_nothing_wrong_with_the_api(target: FuzzTarget, who: str, phases: str) -> None:
    # The stateful phase runs on its own server: after the fuzzing phase has deleted or
    # filled what it could, a stateful run on the same data follows few links.
    token = target.admin_token if who == "admin" else target.known.team_token
    run = target.fuzz(
        token,
        max_examples=MAX_EXAMPLES,
        stateful_examples=STATEFUL_EXAMPLES,
        seed=SEED,
        phases=phases,
    )
    assert run.returncode == 0, f"{' '.join(run.argv)}\n{run.tail()}"
    with target.server.client() as client:
        assert f"{_operations(client)} selected" in run.output, "not every operation was run"
        assert client.get("/healthz").status_code == 200, target.server.log_tail()


def _operations(client: httpx.Client) -> int:
    """How many operations of the server's own OpenAPI document the fuzzer is to run."""
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    return sum(
        1
        for path, item in paths.items()
        for method in item
        if method in methods and not re.search(NOT_FUZZED, path)
    )
