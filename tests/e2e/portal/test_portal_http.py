"""The portal over plain HTTP (no browser): cookies, CSRF, static files, degraded modes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dockyard.domain.environment import Environment
from dockyard.portal import assets
from dockyard.store import tokens
from tests.e2e.portal.conftest import ADMIN, World, parent_app, serve

SERVICE = "/teams/payments/services/api"


@pytest.fixture
def client(portal_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=portal_url, follow_redirects=False, timeout=5) as http:
        yield http


def log_in(client: httpx.Client, token: str) -> str:
    """Log in and return the CSRF token the service page's forms carry."""
    answer = client.post("/login", data={"token": token, "next": "/ui/"})
    assert answer.status_code == 303
    page = client.get(SERVICE, params={"env": "test"})
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
    assert found is not None
    return found.group(1)


def test_session_cookie_is_httponly_strict_and_scoped_to_the_portal(
    client: httpx.Client, world: World
) -> None:
    answer = client.post("/login", data={"token": world.payments_token, "next": "/ui/"})

    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/ui" in cookie
    assert "secure" not in cookie  # cookie_secure is off in this deployment


def test_scale_without_the_csrf_token_is_refused_and_changes_nothing(
    client: httpx.Client, world: World
) -> None:
    log_in(client, world.payments_token)

    answer = client.post(
        f"{SERVICE}/envs/test/scale",
        data={"replicas": "9", "csrf": "0" * 64},
        headers={"HX-Request": "true"},
    )

    assert "out of date or was sent from another site" in answer.text
    assert [n for n, _, _ in world.revisions("payments", "api", Environment.TEST)] == [2, 1]
    assert world.notified == []


def test_scale_without_htmx_answers_with_the_whole_page(client: httpx.Client, world: World) -> None:
    csrf = log_in(client, world.payments_token)

    answer = client.post(
        f"{SERVICE}/envs/online/scale",
        data={"replicas": "4", "expected_revision": "1", "csrf": csrf},
    )

    assert answer.status_code == 200
    assert "<html" in answer.text
    assert "online scaled to 4: revision 2" in answer.text
    assert world.revisions("payments", "api", Environment.ONLINE)[0] == (2, "scale 2 -> 4", 4)


def test_pages_redirect_to_login_and_fragments_tell_htmx_to(client: httpx.Client) -> None:
    page = client.get(SERVICE)
    fragment = client.get(
        f"{SERVICE}/live",
        headers={"HX-Request": "true", "HX-Current-URL": f"http://x/ui{SERVICE}?env=online"},
    )

    assert page.status_code == 303
    assert page.headers["location"] == "/ui/login?next=%2Fui%2Fteams%2Fpayments%2Fservices%2Fapi"
    assert fragment.headers["HX-Redirect"].startswith("/ui/login?next=%2Fui%2Fteams")
    assert "%3Fenv%3Donline" in fragment.headers["HX-Redirect"]


def test_only_mapped_vendor_files_are_served(client: httpx.Client) -> None:
    if assets.vendor_path("htmx.min.js") is None:
        pytest.skip(f"front-end assets are not installed: run `{assets.INSTALL_COMMAND}`")
    htmx = client.get("/static/vendor/htmx.min.js")

    assert htmx.status_code == 200
    assert b"htmx" in htmx.content[:2000]
    assert client.get("/static/vendor/package.json").status_code == 404
    assert client.get("/static/vendor/..%2Fpackage.json").status_code == 404


def test_missing_front_end_assets_show_a_banner_not_an_error(
    client: httpx.Client, world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(assets, "NODE_MODULES", tmp_path / "node_modules")
    log_in(client, world.payments_token)

    page = client.get(SERVICE)

    assert page.status_code == 200
    assert "Front-end assets are not installed" in page.text
    assert assets.INSTALL_COMMAND in page.text
    assert "vendor/htmx.min.js" not in page.text


def test_session_cookie_is_secure_when_the_portal_is_served_over_https(world: World) -> None:
    with serve(parent_app(world, cookie_secure=True)) as url:
        answer = httpx.post(f"{url}/ui/login", data={"token": world.admin_token, "next": "/ui/"})

    assert "secure" in answer.headers["set-cookie"].lower()


def test_a_revoked_token_ends_the_session(client: httpx.Client, world: World) -> None:
    log_in(client, world.payments_token)
    with world.db.session() as session:
        tokens.revoke_token(
            session, ADMIN, token_id=world.payments_token.split("_")[1], now=world.clock()
        )

    page = client.get(SERVICE)
    login = client.get(page.headers["location"].removeprefix("/ui"))

    assert page.status_code == 303
    assert "reason=ended" in page.headers["location"]
    assert "Your session has ended" in login.text
