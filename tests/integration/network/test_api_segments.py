"""Segments and fixed addresses over the REST API, with IPAM state in a real etcd."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from ipaddress import IPv4Address

import pytest

from dockyard.domain.segment import Segment
from dockyard.network.ipam import Holder, pool_of

from .conftest import IpamApi

API = "/api/v1"
OFFLINE = {"name": "off1", "cidr": "10.30.0.0/24", "environments": ["test", "stable"]}


def create(api: IpamApi, body: dict[str, object]) -> dict[str, object]:
    answer = api.client.post(f"{API}/segments", json=body, headers=api.admin)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def everything(api: IpamApi) -> tuple[object, ...]:
    """Database rows and etcd keys that a refused request must leave alone."""
    segments = api.client.get(f"{API}/segments", headers=api.admin).json()
    fixed = api.client.get(f"{API}/ipam/fixed", headers=api.admin).json()
    return (json.dumps(segments, sort_keys=True), json.dumps(fixed, sort_keys=True))


def test_a_created_segment_is_listed_with_its_usage_and_published_to_etcd(
    ipam_api: IpamApi,
) -> None:
    created = create(ipam_api, {**OFFLINE, "reserved": ["10.30.0.200-10.30.0.254"], "vlan": 7})
    assert created["gateway"] == "10.30.0.1" and created["bridge"] == "dy-off1"
    listed = ipam_api.client.get(f"{API}/segments", headers=ipam_api.team).json()["items"]
    assert [item["name"] for item in listed] == ["off1"]
    assert listed[0]["usage"] == {
        "capacity": 198,
        "used": 0,
        "free": 198,
        "reserved": 56,
        "fixed": 0,
    }
    segment, fixed = ipam_api.client.portal.call(ipam_api.ipam.directory.load, "off1")  # type: ignore[union-attr]
    assert str(segment.cidr) == "10.30.0.0/24" and segment.vlan == 7 and fixed == []


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({**OFFLINE, "name": "other", "cidr": "10.30.0.128/25"}, 409, "overlaps segment off1"),
        (
            {**OFFLINE, "name": "other", "cidr": "10.31.0.0/24", "gateway": "10.30.0.1"},
            422,
            "gateway",
        ),
        (
            {**OFFLINE, "name": "other", "cidr": "10.31.0.0/24", "reserved": ["10.9.0.1"]},
            422,
            "outside",
        ),
        ({**OFFLINE, "cidr": "10.31.0.0/24"}, 409, "already exists"),
        (
            {
                **OFFLINE,
                "name": "mixed",
                "cidr": "10.31.0.0/24",
                "environments": ["test", "online"],
            },
            422,
            "one network",
        ),
    ],
)
def test_bad_segments_are_refused_with_the_reason_and_change_nothing(
    ipam_api: IpamApi, body: dict[str, object], status: int, words: str
) -> None:
    create(ipam_api, OFFLINE)
    before = everything(ipam_api)
    answer = ipam_api.client.post(f"{API}/segments", json=body, headers=ipam_api.admin)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["message"]
    assert everything(ipam_api) == before


def test_only_the_admin_manages_segments(ipam_api: IpamApi) -> None:
    answer = ipam_api.client.post(f"{API}/segments", json=OFFLINE, headers=ipam_api.team)
    assert answer.status_code == 403


def test_fixed_addresses_must_lie_in_a_segment_of_their_environment(ipam_api: IpamApi) -> None:
    create(ipam_api, OFFLINE)
    fixed = {"team": "shop", "service": "web", "env": "test", "address": "10.30.0.10"}
    answer = ipam_api.client.post(f"{API}/ipam/fixed", json=fixed, headers=ipam_api.admin)
    assert answer.status_code == 201, answer.text
    before = everything(ipam_api)
    for bad, words in (
        ({**fixed, "env": "online"}, "outside every segment serving online"),
        ({**fixed, "address": "10.99.0.1"}, "outside every segment serving test"),
        ({**fixed, "address": "10.30.0.1"}, "gateway"),
    ):
        refused = ipam_api.client.post(f"{API}/ipam/fixed", json=bad, headers=ipam_api.admin)
        assert refused.status_code == 422 and words in refused.json()["message"]
    assert everything(ipam_api) == before
    _, published = ipam_api.client.portal.call(ipam_api.ipam.directory.load, "off1")  # type: ignore[union-attr]
    assert [str(item.address) for item in published] == ["10.30.0.10"]


def test_a_segment_with_live_addresses_is_not_deleted(ipam_api: IpamApi) -> None:
    create(ipam_api, OFFLINE)
    segment, _ = ipam_api.client.portal.call(ipam_api.ipam.directory.load, "off1")  # type: ignore[union-attr]
    holder = Holder(host="h1", claim="", since=datetime.now(UTC), instance="abc")
    lease = ipam_api.client.portal.call(ipam_api.ipam.book.allocate, pool_of(segment, []), holder)  # type: ignore[union-attr]
    before = everything(ipam_api)
    refused = ipam_api.client.delete(f"{API}/segments/off1", headers=ipam_api.admin)
    assert refused.status_code == 409
    assert "has 1 live addresses: 10.30.0.2 (abc)" in refused.json()["message"]
    assert everything(ipam_api) == before
    released = ipam_api.client.post(
        f"{API}/ipam/addresses/off1/{lease.address}/release", headers=ipam_api.admin
    )
    assert released.status_code == 200
    assert ipam_api.client.delete(f"{API}/segments/off1", headers=ipam_api.admin).status_code == 204
    history = ipam_api.client.get(
        f"{API}/ipam/history", params={"address": "10.30.0.2"}, headers=ipam_api.admin
    ).json()["items"]
    assert [(item["instance"], item["reason"]) for item in history] == [("abc", "admin")]
    by_instance = ipam_api.client.get(
        f"{API}/ipam/history", params={"instance": "abc"}, headers=ipam_api.admin
    ).json()["items"]
    assert [item["address"] for item in by_instance] == [str(IPv4Address("10.30.0.2"))]


def test_usage_counts_held_addresses(ipam_api: IpamApi) -> None:
    create(ipam_api, {**OFFLINE, "cidr": "10.32.0.0/29"})
    segment, _ = ipam_api.client.portal.call(ipam_api.ipam.directory.load, "off1")  # type: ignore[union-attr]
    for n in range(2):
        holder = Holder(host="h1", claim="", since=datetime.now(UTC), instance=f"i{n}")
        ipam_api.client.portal.call(ipam_api.ipam.book.allocate, pool_of(segment, []), holder)  # type: ignore[union-attr]
    shown = ipam_api.client.get(f"{API}/segments/off1", headers=ipam_api.admin).json()
    assert shown["usage"]["used"] == 2 and shown["usage"]["free"] == 3
    assert [item["instance"] for item in shown["addresses"]] == ["i0", "i1"]


def test_publishing_puts_etcd_right_and_writes_only_differences(ipam_api: IpamApi) -> None:
    from dockyard.network.ipam.publish import publish_segments

    create(ipam_api, OFFLINE)
    directory = ipam_api.ipam.directory
    portal = ipam_api.client.portal  # type: ignore[union-attr]
    portal.call(directory.withdraw, "off1")  # lost, e.g. etcd restored from an old backup
    stray = Segment.parse(name="stray", cidr="10.99.0.0/24", gateway=None, environments=["test"])
    portal.call(directory.publish, stray, [])
    assert portal.call(publish_segments, ipam_api.db, directory) == 2  # off1 back, stray gone
    assert [s.name for s, _ in portal.call(directory.load_all)] == ["off1"]
    assert portal.call(publish_segments, ipam_api.db, directory) == 0  # nothing rewritten
