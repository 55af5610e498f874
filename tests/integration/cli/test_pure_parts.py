"""The CLI's pure decisions, by tables: K=V, spec merges, rollout verdicts, login choice."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from dockyard.cli.context import resolve_login
from dockyard.cli.options import parse_pair
from dockyard.cli.progress import Verdict, verdict
from dockyard.cli.spec import SpecOptions, spec_patch
from dockyard.settings import ClientCredentials


@pytest.mark.parametrize(
    ("text", "pair"),
    [
        ("A=1", ("A", "1")),
        ("A=", ("A", "")),
        ("URL=a=b", ("URL", "a=b")),
        (" A =x", ("A", "x")),
    ],
)
def test_parse_pair_splits_at_the_first_equals(text: str, pair: tuple[str, str]) -> None:
    assert parse_pair(text, option="--env") == pair


@pytest.mark.parametrize("text", ["A", "=1", "", " =x"])
def test_parse_pair_refuses_a_missing_key_or_equals(text: str) -> None:
    with pytest.raises(typer.BadParameter, match="is not KEY=VALUE"):
        parse_pair(text, option="--env")


CURRENT: dict[str, Any] = {
    "image": "a:1",
    "env": {"A": "1", "B": "2"},
    "resources": {"cpus": 0.5, "memory_mb": 256, "pids": 512},
    "health_check": {"http_path": "/ok", "command": [], "port": None, "interval_s": 5.0},
    "strategy": {"max_surge": 1, "max_unavailable": 0},
}


@pytest.mark.parametrize(
    ("options", "patch"),
    [
        (SpecOptions(), {}),
        (SpecOptions(image="a:2"), {"image": "a:2"}),
        (SpecOptions(cpus=2), {"resources": {"cpus": 2, "memory_mb": 256, "pids": 512}}),
        (SpecOptions(env={"C": "3"}, unset_env=("A",)), {"env": {"B": "2", "C": "3"}}),
        (SpecOptions(max_unavailable=1), {"strategy": {"max_surge": 1, "max_unavailable": 1}}),
        (SpecOptions(no_health=True), {"health_check": None}),
        (
            SpecOptions(health_interval=1.0),
            {"health_check": {"http_path": "/ok", "command": [], "port": None, "interval_s": 1.0}},
        ),
        (
            SpecOptions(health_cmd="test -f '/tmp/x y'"),
            {
                "health_check": {
                    "command": ["test", "-f", "/tmp/x y"],
                    "port": None,
                    "interval_s": 5.0,
                }
            },
        ),
        (SpecOptions(ports=("80",)), {"ports": [{"container_port": 80, "protocol": "tcp"}]}),
        (SpecOptions(log_paths=("/a/*.log", "/b/c.log")), {"log_paths": ["/a/*.log", "/b/c.log"]}),
        (SpecOptions(no_log_paths=True), {"log_paths": []}),
        (SpecOptions(log_multiline="^E"), {"log_multiline": {"start": "^E"}}),
        (SpecOptions(no_log_multiline=True), {"log_multiline": None}),
        (SpecOptions(drain_s=0), {"drain_s": 0}),
        (SpecOptions(stop_grace_s=30, drain_s=2.5), {"drain_s": 2.5, "stop_grace_s": 30}),
    ],
)
def test_spec_patch_touches_only_what_was_given(
    options: SpecOptions, patch: dict[str, Any]
) -> None:
    assert spec_patch(options, CURRENT) == patch


def test_a_new_multiline_start_keeps_the_rules_bounds() -> None:
    current = {"log_multiline": {"start": "^E", "max_bytes": 4096, "max_wait_s": 0.5}}
    patch = spec_patch(SpecOptions(log_multiline="^W"), current)
    assert patch == {"log_multiline": {"start": "^W", "max_bytes": 4096, "max_wait_s": 0.5}}


def test_health_options_without_any_check_are_refused() -> None:
    with pytest.raises(typer.BadParameter, match="need a check"):
        spec_patch(SpecOptions(health_port=8080), {})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"health_http": "/", "health_cmd": "true"},
        {"no_health": True, "health_interval": 1.0},
        {"ports": ("80/sctp",)},
        {"no_log_paths": True, "log_paths": ("/a/x.log",)},
        {"no_log_multiline": True, "log_multiline": "^E"},
    ],
)
def test_contradictory_options_are_refused_on_construction(kwargs: dict[str, Any]) -> None:
    with pytest.raises(typer.BadParameter):
        SpecOptions(**kwargs)


def _env(phase: str, revision: int | None, ready: int = 0, desired: int = 1) -> dict[str, Any]:
    status = {"phase": phase, "revision": revision, "ready": ready, "desired": desired}
    return {"status": status}


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        (_env("available", 4, 1, 1), Verdict.WAIT),  # still the revision before
        (_env("progressing", 5, 0, 3), Verdict.WAIT),
        (_env("degraded", 5, 2, 3), Verdict.WAIT),
        (_env("available", 5, 3, 3), Verdict.AVAILABLE),
        (_env("idle", 5, 0, 0), Verdict.AVAILABLE),  # scaled to zero
        (_env("failed", 5, 1, 3), Verdict.FAILED),
        (_env("progressing", 6), Verdict.SUPERSEDED),
        (_env("deleting", 5), Verdict.DELETING),
        ({"status": {}}, Verdict.WAIT),
    ],
)
def test_rollout_verdict(environment: dict[str, Any], expected: Verdict) -> None:
    assert verdict(environment, 5) is expected


LOGIN = ClientCredentials("http://remote:8420", "dy_user")
LOCAL = ClientCredentials("http://127.0.0.1:8420", "dy_admin")
DEFAULT = "http://127.0.0.1:8420"


@pytest.mark.parametrize(
    ("url", "token", "stored", "expected"),
    [
        (None, None, [], (DEFAULT, None)),
        (None, None, [LOCAL], (LOCAL.url, LOCAL.token)),
        (None, None, [LOGIN, LOCAL], (LOGIN.url, LOGIN.token)),
        (None, "dy_x", [LOGIN], (LOGIN.url, "dy_x")),
        (DEFAULT + "/", None, [LOGIN, LOCAL], (DEFAULT, LOCAL.token)),
        ("http://other:1", None, [LOGIN, LOCAL], ("http://other:1", None)),
        ("http://other:1", "dy_x", [LOGIN], ("http://other:1", "dy_x")),
    ],
)
def test_resolve_login(
    url: str | None,
    token: str | None,
    stored: list[ClientCredentials],
    expected: tuple[str, str | None],
) -> None:
    assert resolve_login(url=url, token=token, stored=stored, default_url=DEFAULT) == expected
