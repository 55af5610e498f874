"""Bandwidth limits through the API: set on the service, listed in force for the host agents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dockyard.agent.limits import LimitKey, PlatformLimits
from dockyard.api import ApiDeps, build_api
from dockyard.domain.environment import Environment
from dockyard.domain.errors import Unavailable
from dockyard.domain.spec import Bandwidth
from dockyard.store.db import Database
from dockyard.store.platform import this_platform

from .api_support import API, TestClient, bearer, make_team


@pytest.fixture
def client(deps: ApiDeps) -> Iterator[TestClient]:
    """The API app, which serves the bandwidth routes."""
    app = build_api(deps)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def in_force(client: TestClient, headers: dict[str, str]) -> list[tuple[str, str, str, int, Any]]:
    answer = client.get(f"{API}/bandwidth", headers=headers)
    assert answer.status_code == 200, answer.text
    return [
        (i["team"], i["service"], i["env"], i["revision"], (i["egress_mbit"], i["ingress_mbit"]))
        for i in answer.json()["items"]
    ]


def limit(client: TestClient, web: str, headers: dict[str, str], **mbit: int | None) -> None:
    answer = client.patch(web, json={"bandwidth": mbit}, headers=headers)
    assert answer.status_code == 200, answer.text


def deploy(client: TestClient, web: str, headers: dict[str, str], env: str = "test") -> dict:
    answer = client.post(f"{web}/envs/{env}/deploy", json={}, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_limits_are_in_force_once_deployed_and_change_without_a_new_template(
    client: TestClient, admin, alpha, web
) -> None:
    first = deploy(client, web, alpha)
    limit(client, web, alpha, egress_mbit=30, ingress_mbit=20)
    assert in_force(client, admin) == []  # a template change acts at the next deploy

    second = deploy(client, web, alpha)

    assert second["template_hash"] == first["template_hash"]  # so no instance restarts
    assert second["spec"]["bandwidth"] == {"egress_mbit": 30, "ingress_mbit": 20}
    assert in_force(client, admin) == [("alpha", "web", "test", 2, (30, 20))]


def test_lifted_limits_leave_the_list(client: TestClient, admin, alpha, web) -> None:
    limit(client, web, alpha, egress_mbit=30)
    deploy(client, web, alpha)
    deploy(client, web, alpha, env="sandbox")
    assert [row[2] for row in in_force(client, admin)] == ["sandbox", "test"]

    limit(client, web, alpha, egress_mbit=None)
    deploy(client, web, alpha)

    assert in_force(client, admin) == [("alpha", "web", "sandbox", 1, (30, None))]


def test_a_team_token_sees_only_its_own_teams_limits(client: TestClient, admin, alpha, web):
    limit(client, web, alpha, ingress_mbit=5)
    deploy(client, web, alpha)
    beta = make_team(client, admin, "beta")

    assert in_force(client, beta) == []
    assert len(in_force(client, alpha)) == 1


@pytest.mark.parametrize("bad", [0, 100_001, 2.5, "10"])
def test_an_out_of_range_limit_is_refused_naming_the_field(client: TestClient, alpha, web, bad):
    answer = client.patch(web, json={"bandwidth": {"egress_mbit": bad}}, headers=alpha)
    assert answer.status_code == 422
    assert answer.json()["field"].startswith("bandwidth")


def test_the_agents_client_reads_the_limits_in_force_and_the_platform(
    client: TestClient, db: Database, admin, alpha, web
):
    limit(client, web, alpha, egress_mbit=30, ingress_mbit=20)
    deploy(client, web, alpha)
    client.headers.update(admin)
    source = PlatformLimits(client)

    limits = source.fetch()

    assert limits == {
        LimitKey("alpha", "web", Environment.TEST): Bandwidth(egress_mbit=30, ingress_mbit=20)
    }
    with db.reading() as connection:
        assert source.platform == this_platform(connection)  # only its containers are shaped


def test_a_refused_token_makes_the_limits_unavailable_not_empty(client: TestClient) -> None:
    client.headers.update(bearer("dy_not_a_token"))
    with pytest.raises(Unavailable, match="401"):
        PlatformLimits(client).fetch()


def test_no_server_makes_the_limits_unavailable() -> None:
    source = PlatformLimits.connect("http://127.0.0.1:9", "dy_x")  # discard port: nothing there
    try:
        with pytest.raises(Unavailable, match="does not answer"):
            source.fetch()
    finally:
        source.close()
