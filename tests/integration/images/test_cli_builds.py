"""The CLI's image commands against the real image center (API, builder, registry, engine)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dockyard.cli import app
from dockyard.cli.context import CliEnv
from tests.integration.images.conftest import Center
from tests.support.git_repos import Repo, service_files

pytestmark = pytest.mark.docker


def _cli(center: Center, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    token = center.ci["Authorization"].removeprefix("Bearer ")
    env = CliEnv(
        environ={
            "HOME": str(tmp_path / "home"),
            "DOCKYARD_STATE_DIR": str(tmp_path / "state"),
            "DOCKYARD_URL": "http://testserver",
            "DOCKYARD_TOKEN": token,
        },
        transport=center.client._transport,
        poll_interval_s=0.05,
        uid=1000,
    )
    result = CliRunner().invoke(app, list(args), obj=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_build_shows_the_log_live_and_ends_with_the_image(
    center: Center, repo: Repo, tmp_path: Path
) -> None:
    code, out, err = _cli(center, tmp_path, "source", "set", "web", "--repo", repo.url)
    assert code == 0, err
    code, out, err = _cli(center, tmp_path, "build", "web")
    assert code == 0, err
    assert "build 1 of web queued (main)" in out
    assert "[1/2] FROM" in out and "pushing" in out
    assert "build 1 succeeded: " in out and "@sha256:" in out

    code, out, _ = _cli(center, tmp_path, "builds", "web")
    assert code == 0 and "succeeded" in out
    code, out, _ = _cli(center, tmp_path, "images", "list", "web")
    assert code == 0 and repo.url not in out and "Ada Builder" in out
    code, out, _ = _cli(center, tmp_path, "build-log", "web", "1")
    assert code == 0 and "[1/2] FROM" in out


def test_a_failed_build_exits_1_with_its_reason(center: Center, repo: Repo, tmp_path: Path) -> None:
    repo.commit({"Dockerfile": service_files()["Dockerfile"] + "RUN exit 7\n"})
    _cli(center, tmp_path, "source", "set", "web", "--repo", repo.url)
    code, out, err = _cli(center, tmp_path, "build", "web", "--deploy", "test")
    assert code == 1
    assert (
        "error: build 1 failed: the build failed: executor failed running [/bin/sh -c exit 7]"
        in err
    )
    assert "RUN exit 7" in out


def test_promotion_commands_show_the_pipeline_and_the_refusing_gate(
    center: Center, repo: Repo, tmp_path: Path
) -> None:
    _cli(center, tmp_path, "source", "set", "web", "--repo", repo.url)
    assert _cli(center, tmp_path, "build", "web", "--deploy", "test")[0] == 0
    code, out, err = _cli(
        center, tmp_path, "promotion-policy", "web", "--soak", "30", "--approval",
        "--stable-follows", "online",
    )  # fmt: skip
    assert code == 0, err
    assert "soak 30 s, online approval on, stable follows online" in out
    code, out, _ = _cli(center, tmp_path, "override", "web", "--env", "online", "--replicas", "3",
                        "--set", "MODE=live")  # fmt: skip
    assert code == 0 and "MODE=live" in out
    code, out, _ = _cli(center, tmp_path, "pipeline", "web")
    assert code == 0
    test_row = next(line for line in out.splitlines() if line.strip().startswith("test"))
    assert "sha256:" in test_row and "health:" in test_row  # no controller: not rolled out
    code, _, err = _cli(
        center, tmp_path, "promote", "web", "--from", "test", "--to", "sandbox", "--no-wait"
    )
    assert code == 1
    assert "refused by the health gate" in err
