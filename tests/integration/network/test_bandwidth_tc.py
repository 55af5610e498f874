"""The tc adapter against the real kernel: on a veth pair the test creates (and removes)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from pyroute2 import IPRoute

from dockyard.domain.errors import NotFound
from dockyard.domain.spec import MAX_BANDWIDTH_MBIT, Bandwidth
from dockyard.network.bandwidth import (
    DeleteIfb,
    Shaping,
    htb_rate,
    ifb_name,
    plan,
)
from dockyard.network.tc import TrafficControl
from tests.support.shaping import shaping_unavailable

_MISSING = shaping_unavailable()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")


@pytest.fixture
def tc() -> Iterator[TrafficControl]:
    with TrafficControl() as control:
        yield control


@pytest.fixture
def veth() -> Iterator[str]:
    """A veth pair in the host namespace; yields one end. Both (and its ifb) removed after."""
    name = "dyt" + secrets.token_hex(4)
    with IPRoute() as ipr:
        ipr.link("add", ifname=name, kind="veth", peer=name + "p")
        ipr.link("set", ifname=name, state="up")
        ipr.link("set", ifname=name + "p", state="up")
    yield name
    with IPRoute() as ipr:
        for device in (name, ifb_name(name)):
            if ipr.link_lookup(ifname=device):
                ipr.link("del", ifname=device)


def qdisc_kinds(device: str) -> set[str]:
    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=device)
        return {str(q.get("kind")) for q in ipr.get_qdiscs(found[0])} if found else set()


def exists(device: str) -> bool:
    with IPRoute() as ipr:
        return bool(ipr.link_lookup(ifname=device))


def converge(tc: TrafficControl, veth: str, wanted: Bandwidth) -> Shaping:
    tc.apply(plan(veth, wanted, tc.read(veth)))
    return tc.read(veth)


def test_applied_limits_read_back_as_wanted_and_plan_nothing_more(
    tc: TrafficControl, veth: str
) -> None:
    assert tc.read(veth) == Shaping()

    found = converge(tc, veth, Bandwidth(egress_mbit=30, ingress_mbit=20))

    assert found == Shaping(
        to_instance=htb_rate(20).rate,
        ifb=True,
        from_instance=htb_rate(30).rate,
        ingress=True,
        redirect=True,
    )
    assert plan(veth, Bandwidth(egress_mbit=30, ingress_mbit=20), found) == ()
    assert "htb" in qdisc_kinds(ifb_name(veth))


def test_new_rates_change_the_classes_in_place(tc: TrafficControl, veth: str) -> None:
    converge(tc, veth, Bandwidth(egress_mbit=30, ingress_mbit=20))
    with IPRoute() as ipr:
        (ifb_before,) = ipr.link_lookup(ifname=ifb_name(veth))

    changes = plan(veth, Bandwidth(egress_mbit=10, ingress_mbit=50), tc.read(veth))
    tc.apply(changes)

    assert {type(c).__name__ for c in changes} == {"SetRate"}
    found = tc.read(veth)
    assert (found.to_instance, found.from_instance) == (htb_rate(50).rate, htb_rate(10).rate)
    assert found.redirect
    with IPRoute() as ipr:
        assert ipr.link_lookup(ifname=ifb_name(veth)) == [ifb_before]  # the same ifb, kept


def test_removing_limits_leaves_no_qdisc_and_no_ifb(tc: TrafficControl, veth: str) -> None:
    converge(tc, veth, Bandwidth(egress_mbit=30, ingress_mbit=20))

    found = converge(tc, veth, Bandwidth())

    assert found == Shaping()
    assert not exists(ifb_name(veth))
    assert not qdisc_kinds(veth) & {"htb", "ingress"}


def test_applying_the_same_changes_twice_is_harmless(tc: TrafficControl, veth: str) -> None:
    changes = plan(veth, Bandwidth(egress_mbit=30, ingress_mbit=20), Shaping())
    tc.apply(changes)
    tc.apply(changes)
    removal = plan(veth, Bandwidth(), tc.read(veth))
    tc.apply(removal)
    tc.apply(removal)

    assert tc.read(veth) == Shaping()


def test_rates_above_32_bits_read_back_exactly(tc: TrafficControl, veth: str) -> None:
    top = Bandwidth(egress_mbit=MAX_BANDWIDTH_MBIT, ingress_mbit=MAX_BANDWIDTH_MBIT)

    found = converge(tc, veth, top)

    assert found.to_instance == found.from_instance == MAX_BANDWIDTH_MBIT * 125_000
    assert plan(veth, top, found) == ()


def test_an_ifb_whose_veth_is_gone_is_an_orphan(tc: TrafficControl, veth: str) -> None:
    converge(tc, veth, Bandwidth(egress_mbit=30))
    assert ifb_name(veth) not in tc.orphan_ifbs()

    with IPRoute() as ipr:
        ipr.link("del", ifname=veth)  # as when the instance's container is removed

    assert ifb_name(veth) in tc.orphan_ifbs()
    tc.apply([DeleteIfb(ifb_name(veth))])
    assert not exists(ifb_name(veth))


def test_reading_a_device_that_is_gone_is_not_found(tc: TrafficControl) -> None:
    with pytest.raises(NotFound, match="dytmissing"):
        tc.read("dytmissing")
