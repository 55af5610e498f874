"""`deploy`, `scale` and `rollback` follow the rollout: exit 0 once available, 1 once failed.

Runs against the fake API of fake_api.py, whose toy controller readies one instance per poll
(an image named "broken" fails); the real API is being written concurrently.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.cli.conftest import Cli
from tests.integration.cli.fake_api import FakeApi


@pytest.fixture
def shop(cli: Cli) -> Cli:
    assert cli("service", "create", "shop", "--team", "web", "--image", "shop:1").exit_code == 0
    return cli


def _polls(api: FakeApi) -> int:
    return sum(1 for r in api.requests if r.method == "GET" and r.url.path.endswith("/envs/test"))


def test_deploy_waits_until_available_and_exits_0(shop: Cli, api: FakeApi) -> None:
    result = shop("deploy", "shop", "--team", "web", "--env", "test", "--replicas", "3",
                  "--set", "MODE=canary")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "revision 1 of shop in test: shop:1 x 3 (deploy)" in result.stdout
    assert "progressing: 1/3 ready" in result.stdout
    assert result.stdout.strip().endswith("revision 1 is available: 3/3 ready")
    assert _polls(api) == 3
    assert json.loads(api.requests[-4].content) == {"replicas": 3, "env": {"MODE": "canary"}}


def test_deploy_of_a_failing_image_exits_1_with_the_reason(shop: Cli) -> None:
    result = shop("deploy", "shop", "--team", "web", "--env", "test", "--image", "broken:2")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: revision 1 failed: instance crashed 3 times: exec /app: no such file\n"
    )


def test_no_wait_returns_right_after_the_release_is_recorded(shop: Cli, api: FakeApi) -> None:
    result = shop("deploy", "shop", "--team", "web", "--env", "test", "--no-wait")
    assert result.exit_code == 0
    assert _polls(api) == 0
    assert api.rollouts[("web", "shop", "test")].phase == "progressing"


def test_scale_to_zero_ends_when_the_environment_is_empty(shop: Cli) -> None:
    shop("deploy", "shop", "--team", "web", "--env", "test", "--replicas", "2")
    result = shop("scale", "shop", "0", "--team", "web", "--env", "test")
    assert result.exit_code == 0, result.stderr
    assert "revision 2 is available: 0/0 ready" in result.stdout


def test_rollback_restores_the_image_of_an_earlier_revision(shop: Cli, api: FakeApi) -> None:
    shop("deploy", "shop", "--team", "web", "--env", "test", "--image", "shop:1")
    shop("deploy", "shop", "--team", "web", "--env", "test", "--image", "shop:2")
    result = shop("rollback", "shop", "--team", "web", "--env", "test", "--to", "1")
    assert result.exit_code == 0, result.stderr
    newest = api.releases[("web", "shop", "test")][0]
    assert (newest["number"], newest["image"], newest["cause"]) == (3, "shop:1", "rollback")


def test_a_stale_expected_revision_is_refused(shop: Cli) -> None:
    shop("deploy", "shop", "--team", "web", "--env", "test")
    result = shop("deploy", "shop", "--team", "web", "--env", "test", "--expected-revision", "0")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: revision 1 is newest, not 0")


def test_waiting_gives_up_after_the_timeout_without_failing_the_rollout(
    shop: Cli, api: FakeApi
) -> None:
    clock = iter(range(0, 10_000, 100))
    result = shop(
        "deploy", "shop", "--team", "web", "--env", "test", "--replicas", "50", "--timeout", "250",
        monotonic=lambda: float(next(clock)),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "still rolling out after 250 s" in result.stderr
    assert api.rollouts[("web", "shop", "test")].phase == "progressing"


def test_ctrl_c_stops_waiting_not_the_rollout(shop: Cli, api: FakeApi) -> None:
    def interrupt(_seconds: float) -> None:
        raise KeyboardInterrupt

    result = shop("deploy", "shop", "--team", "web", "--env", "test", "--replicas", "5",
                  sleep=interrupt)  # fmt: skip
    assert result.exit_code == 130
    assert "keeps rolling out" in result.stderr
    assert api.rollouts[("web", "shop", "test")].phase == "progressing"
