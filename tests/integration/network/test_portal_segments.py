"""The portal's segments page: usage per segment from etcd, and a clear line when etcd is down."""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime

from dockyard.network.ipam import Holder, pool_of
from dockyard.network.ipam.client import Ipam
from dockyard.portal import build_portal
from dockyard.portal.deps import PortalDeps
from tests.support.etcd import free_port

from .conftest import IpamApi

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _page(api: IpamApi, ipam: Ipam) -> str:
    clock = lambda: datetime.now(UTC)  # noqa: E731
    portal = build_portal(PortalDeps(db=api.db, clock=clock, notify=lambda key: None, ipam=ipam))
    token = api.admin["Authorization"].removeprefix("Bearer ")
    with TestClient(portal, base_url="http://testserver") as browser:
        assert browser.post("/login", data={"token": token, "next": "/"}).status_code in (200, 303)
        answer = browser.get("/segments")
        assert answer.status_code == 200
        return answer.text


def test_the_segments_page_shows_used_free_and_reserved(ipam_api: IpamApi) -> None:
    body = {
        "name": "off1",
        "cidr": "10.50.0.0/28",
        "environments": ["test"],
        "reserved": ["10.50.0.14"],
    }
    assert (
        ipam_api.client.post("/api/v1/segments", json=body, headers=ipam_api.admin).status_code
        == 201
    )
    segment, _ = ipam_api.client.portal.call(ipam_api.ipam.directory.load, "off1")  # type: ignore[union-attr]
    holder = Holder(host="h1", claim="", since=datetime.now(UTC), instance="i1")
    ipam_api.client.portal.call(ipam_api.ipam.book.allocate, pool_of(segment, []), holder)  # type: ignore[union-attr]
    ipam = Ipam.connect(
        ipam_api.ipam.etcd.endpoints, prefix=ipam_api.ipam.book.keys.prefix, clock=datetime.now
    )
    text = _page(ipam_api, ipam)
    row = re.search(r'<tr data-segment="off1">(.*?)</tr>', text, re.S)
    assert row is not None
    cells = re.findall(r'<td class="(used|free|reserved)">(\d+)</td>', row.group(1))
    assert dict(cells) == {"used": "1", "free": "11", "reserved": "2"}
    # h1 holds an address but never registered its agent (absent, registered never)
    host = re.search(r'<tr data-host="h1">(.*?)</tr>', text, re.S)
    assert host is not None and "absent" in host.group(1) and "never" in host.group(1)
    assert '<td class="addresses">1</td>' in host.group(1)


def test_the_segments_page_says_when_etcd_does_not_answer(ipam_api: IpamApi) -> None:
    body = {"name": "off1", "cidr": "10.51.0.0/28", "environments": ["test"]}
    ipam_api.client.post("/api/v1/segments", json=body, headers=ipam_api.admin)
    dead = Ipam.connect(
        [f"http://127.0.0.1:{free_port()}"], prefix="/x", clock=datetime.now, timeout_s=0.5
    )
    assert "IPAM unavailable: etcd at" in _page(ipam_api, dead)
