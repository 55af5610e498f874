"""The portal's image center pages in Debian's Chromium: start a build and watch its log arrive
live, see the image it made, then promote its digest from the pipeline view, a refused
promotion showing the gate that refused it.

The server is the composed one (API, portal, builder, follower) with the real engine and
registry; no controller runs, so environment status is written as the controller would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from dockyard.domain.clock import utcnow
from dockyard.domain.environment import Environment
from dockyard.domain.status import EnvPhase, EnvStatus
from dockyard.store import status
from dockyard.store.db import Database
from tests.e2e.portal.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.support.git_repos import service_repo
from tests.support.image_center import (
    API,
    bearer,
    compose,
    image_settings,
    seed,
    serve,
    with_portal,
)
from tests.support.registry import RunningRegistry

pytestmark = [pytest.mark.browser, pytest.mark.docker]


class Site:
    def __init__(self, url: str, db: Database, team: str, secrets: dict[str, str]) -> None:
        self.url = url
        self.db = db
        self.team = team
        self.secrets = secrets
        self.api = httpx.Client(base_url=url, headers=bearer(secrets["ci"]), timeout=30)

    @property
    def service_url(self) -> str:
        return f"{self.url}/ui/teams/{self.team}/services/web"

    @property
    def service_api(self) -> str:
        return f"{API}/teams/{self.team}/services/web"

    def available(self, env: Environment, revision: int) -> None:
        """Write what the controller would once `env` runs `revision` healthy."""
        with self.db.session() as session:
            key = status.key_for(session, team=self.team, service="web", env=env)
            assert key is not None
            status.write_pass(
                session, key, records=[], events=[], now=utcnow(),
                status=EnvStatus(EnvPhase.AVAILABLE, "ok", revision, 1, 1, 1),
            )  # fmt: skip


@pytest.fixture
def site(
    tmp_path: Path,
    registry: RunningRegistry,
    docker_engine: docker.APIClient,
    test_image: str,
    docker_team: str,
) -> Iterator[Site]:
    db = Database.open(f"sqlite:///{tmp_path / 'dockyard.db'}")
    secrets = seed(db, docker_team, test_image)
    app, parts = compose(db, settings=image_settings(registry, tmp_path / "builds"), clock=utcnow)
    with serve(with_portal(app, parts, clock=utcnow)) as url:
        running = Site(url, db, docker_team, secrets)
        repo = service_repo(tmp_path / "src")
        assert running.api.put(
            running.service_api + "/source", json={"repo_url": repo.url}
        ).is_success
        yield running
        running.api.close()
    db.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser, site: Site) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1360, "height": 1000})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{site.url}/ui/login")
    page.fill("#token", site.secrets["ci"])
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{site.url}/ui/")
    yield page
    context.close()


def test_a_build_started_in_the_portal_shows_its_log_live_and_its_image(
    page: Page, site: Site
) -> None:
    page.goto(site.service_url + "/builds")
    expect(page.locator("nav.tabs a[aria-current=page]")).to_have_text("Builds & images")
    page.click("#build-form button[type=submit]")

    expect(page).to_have_url(re.compile(r"/builds/1$"))
    log = page.locator("#build-log")
    expect(log).to_contain_text("[1/2] FROM", timeout=30_000)  # appended by the poller
    expect(page.locator("#build-head")).to_have_attribute("data-state", "succeeded", timeout=60_000)
    expect(page.locator("#build-poller")).to_have_attribute("data-done", "true")
    reference = page.locator("#build-head code.image-ref").inner_text()
    assert "@sha256:" in reference
    # What the page shows is the whole log, each piece once.
    whole = site.api.get(site.service_api + "/builds/1/log").json()["text"]
    assert log.inner_text().strip() == whole.strip()

    page.goto(site.service_url + "/builds")
    expect(page.locator("table.builds tr[data-build='1'] .badge")).to_have_text("succeeded")
    digest = reference.split("@", 1)[1]
    expect(page.locator(f"table.images tr[data-digest='{digest}']")).to_have_count(1)


def test_the_pipeline_promotes_a_digest_and_names_a_refusing_gate(page: Page, site: Site) -> None:
    built = site.api.post(site.service_api + "/builds", json={"deploy_to": "test"}).json()
    for _ in range(600):
        build = site.api.get(f"{site.service_api}/builds/{built['number']}").json()
        if build["state"] == "succeeded":
            break
        page.wait_for_timeout(100)
    digest = build["image"]["digest"]
    site.available(Environment.TEST, 1)

    page.goto(site.service_url + "/promotion")
    test = page.locator("article.stage[data-env=test]")
    expect(test).to_have_attribute("data-digest", digest)
    expect(test.locator("li.gate[data-gate=soak]")).to_have_class(re.compile("fail"))
    expect(test.locator("button.promote")).to_have_attribute("data-ready", "false")
    page.on("dialog", lambda dialog: dialog.accept())
    test.locator("button.promote").click()
    expect(page.locator(".notice.error")).to_contain_text("refused by the soak gate")

    site.api.put(site.service_api + "/promotion/policy", json={"soak_s": 0})
    expect(test.locator("li.gate[data-gate=soak]")).to_have_class(re.compile("pass"))  # polled
    expect(test.locator("button.promote")).to_have_attribute("data-ready", "true")
    test.locator("button.promote").click()
    expect(page.locator(".notice.ok")).to_contain_text("sandbox is at revision 1")
    sandbox = page.locator("article.stage[data-env=sandbox]")
    expect(sandbox).to_have_attribute("data-digest", digest)
