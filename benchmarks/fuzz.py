"""The API fuzzer's long run: what tests/e2e/test_api_fuzz.py runs on every change (a dozen
examples per operation, sixty stateful sequences), here with as many as asked and a seed of its
own each run, against a fresh `dockyard server` per token (its own state, etcd and an engine
that runs nothing: tests.support.fuzzing).

Prints, for the admin token and for a team token: the command run, each phase's outcome, the
links the stateful phase followed, the failures (if any) and the time taken. Exits 1 if any run
found a failure. A failure prints its `curl` to reproduce it; `--seed N` repeats a run.

Run: .venv/bin/python -m benchmarks.fuzz [--examples 100] [--stateful 1000] [--seed N]
     [--who admin|team|both]
Needs Debian's etcd-server (as the test suite does); no Docker engine is used.
"""

from __future__ import annotations

import argparse
import re
import secrets
import sys
import tempfile
from pathlib import Path

from tests.support.fuzzing import FuzzRun, fuzz_target

_SHOWN = re.compile(
    r"^\s*(?:[✅❌⏭⚠️]+\s+\w+ \(in|Scenarios:|API Links:|Test cases:|\d+ generated|Failures:|"
    r"  ❌ ST|=+ .* in [\d.]+s)"
)


def summary(run: FuzzRun) -> str:
    """The lines of schemathesis's report worth a glance: phases, links, counts, failures."""
    lines = [line.rstrip() for line in run.output.splitlines() if _SHOWN.match(line)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="per operation and phase")
    parser.add_argument("--stateful", type=int, default=1000, help="stateful sequences")
    parser.add_argument("--seed", type=int, default=None, help="default: a new one")
    parser.add_argument("--who", choices=("admin", "team", "both"), default="both")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    found = False
    for who in ("admin", "team") if args.who == "both" else (args.who,):
        # As in the test: the stateful phase on a server of its own (see test_api_fuzz.py).
        for phases in ("examples,coverage,fuzzing", "stateful"):
            run, answers = _one_run(who, phases, args.examples, args.stateful, seed)
            print(f"== {who} token, {phases}: {' '.join(run.argv)}")
            print(summary(run))
            print(f"== exit {run.returncode} in {run.seconds:.1f} s; server healthz {answers}")
            if run.returncode != 0:
                found = True
                print(run.tail(400))
    print(f"seed {seed}: {'failures found' if found else 'nothing found'}")
    return 1 if found else 0


def _one_run(who: str, phases: str, examples: int, stateful: int, seed: int) -> tuple[FuzzRun, int]:
    with (
        tempfile.TemporaryDirectory(prefix="dyfz.") as root,
        fuzz_target(Path(root)) as target,
    ):
        token = target.admin_token if who == "admin" else target.known.team_token
        run = target.fuzz(
            token, max_examples=examples, stateful_examples=stateful, seed=seed, phases=phases
        )
        with target.server.client() as client:
            return run, client.get("/healthz").status_code


if __name__ == "__main__":
    sys.exit(main())
