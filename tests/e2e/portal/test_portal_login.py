"""Logging in and out of the portal, and who sees which services."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.portal.conftest import World

pytestmark = pytest.mark.browser


def log_in(page: Page, portal_url: str, token: str) -> None:
    page.goto(f"{portal_url}/login")
    page.fill("#token", token)
    page.click("button[type=submit]")


def test_login_with_a_bad_token_shows_why_and_stays_on_the_form(
    page: Page, portal_url: str
) -> None:
    log_in(page, portal_url, "dy_000000000000_not-a-real-secret")

    expect(page.locator(".notice.error")).to_contain_text("That token is not valid")
    expect(page).to_have_url(re.compile(r"/ui/login$"))
    assert not [c for c in page.context.cookies() if c["name"] == "dockyard_portal"]


def test_team_token_lists_only_its_own_teams_services(
    page: Page, portal_url: str, world: World
) -> None:
    log_in(page, portal_url, world.payments_token)

    expect(page).to_have_url(f"{portal_url}/")
    rows = page.locator("table.services tbody tr")
    expect(rows).to_have_count(2)
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.service)") == ["api", "ledger"]
    expect(page.locator("[data-team=search]")).to_have_count(0)
    expect(page.locator("select#team")).to_have_count(0)  # no team picker for a team
    # Per-environment badges with ready/desired counts: api is deployed to test and online.
    api = page.locator("tr[data-service=api]")
    expect(api.locator(".badge")).to_have_count(4)
    expect(api.locator(".counts")).to_have_count(2)


def test_admin_sees_every_team_grouped_and_can_pick_one(
    page: Page, portal_url: str, world: World
) -> None:
    log_in(page, portal_url, world.admin_token)

    expect(page.locator("section.team")).to_have_count(2)
    page.select_option("select#team", "search")
    page.click(".picker button")
    expect(page.locator("section.team")).to_have_count(1)
    expect(page.locator("tr[data-service=indexer]")).to_be_visible()


def test_a_page_opened_without_login_returns_there_after_login(
    page: Page, portal_url: str, world: World
) -> None:
    target = f"{portal_url}/teams/payments/services/api?env=online"
    page.goto(target)
    expect(page).to_have_url(re.compile(r"/ui/login\?next="))

    page.fill("#token", world.payments_token)
    page.click("button[type=submit]")

    expect(page).to_have_url(target)
    expect(page.locator(".env-card.selected")).to_have_attribute("data-env", "online")


def test_logout_clears_the_session(page: Page, portal_url: str, world: World) -> None:
    log_in(page, portal_url, world.payments_token)
    page.click(".who button")

    expect(page).to_have_url(re.compile(r"/ui/login$"))
    page.goto(f"{portal_url}/")
    expect(page).to_have_url(re.compile(r"/ui/login\?next="))


def test_another_teams_service_is_not_found(page: Page, portal_url: str, world: World) -> None:
    log_in(page, portal_url, world.search_token)
    response = page.goto(f"{portal_url}/teams/payments/services/api")

    assert response is not None and response.status == 404
    expect(page.locator(".notice.error")).to_contain_text("Team 'payments' not found")
