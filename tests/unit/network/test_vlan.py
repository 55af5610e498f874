"""VLAN attachment decisions, by tables: the sub-interface's name, what to create or fix, what is
refused, and which refusal a host without 802.1Q or without an uplink gives."""

from __future__ import annotations

import pytest

from dockyard.domain.errors import Conflict, NotFound
from dockyard.domain.segment import Segment
from dockyard.network.segment_networks import NoUplink, VlanUnsupported, vlan_refusal
from dockyard.network.vlan import (
    Attachment,
    BringUp,
    Create,
    Delete,
    Enslave,
    Label,
    Link,
    labelled_segments,
    plan_attach,
    plan_detach,
    vlan_ifname,
)

WANT = Attachment(segment="off1", uplink="eth1", vlan=42, bridge="dy-off1")
OURS = "dockyard:segment=off1"
UPLINK = Link("eth1", kind=None, up=True)
BRIDGE = Link("dy-off1", kind="bridge", up=True)


@pytest.mark.parametrize(
    ("uplink", "vlan", "name"),
    [
        ("eth1", 42, "eth1.42"),
        ("enp0s31f6", 4094, "enp0s31f6.4094"),
        ("bond0-uplinks", 7, "bond0-uplinks.7"),  # exactly 15
        ("bond0-uplinks", 42, "bond0-up28a3.42"),  # 16 plain: shortened, with a hash
        ("enx001122334455", 4094, "enx001d3ca.4094"),
    ],
)
def test_the_sub_interface_is_uplink_dot_vid_or_a_fitting_hashed_name(
    uplink: str, vlan: int, name: str
) -> None:
    assert vlan_ifname(uplink, vlan) == name
    assert len(name) <= 15 and name.endswith(f".{vlan}")


def test_long_uplinks_sharing_a_beginning_get_different_names() -> None:
    first, second = vlan_ifname("enx001122334455", 4094), vlan_ifname("enx001122334466", 4094)
    assert (first, second) == ("enx001d3ca.4094", "enx0016ca8.4094")


def links(*found: Link) -> dict[str, Link]:
    return {link.name: link for link in (UPLINK, BRIDGE, *found)}


@pytest.mark.parametrize(
    ("found", "steps"),
    [
        (
            links(),
            (
                Create("eth1.42", "eth1", 42),
                Label("eth1.42", OURS),
                Enslave("eth1.42", "dy-off1"),
                BringUp("eth1.42"),
            ),
        ),
        (
            links(Link("eth1.42", "vlan", 42, "eth1", "dy-off1", up=True, alias=OURS)),
            (),
        ),
        (  # made by hand (or half made by a pass that stopped): adopted and finished
            links(Link("eth1.42", "vlan", 42, "eth1")),
            (Label("eth1.42", OURS), Enslave("eth1.42", "dy-off1"), BringUp("eth1.42")),
        ),
        (
            links(Link("eth1.42", "vlan", 42, "eth1", "dy-off1", up=False, alias=OURS)),
            (BringUp("eth1.42"),),
        ),
        (  # the segment was re-made with another VLAN id: the old sub-interface goes
            links(Link("eth1.41", "vlan", 41, "eth1", "dy-off1", up=True, alias=OURS)),
            (
                Delete("eth1.41"),
                Create("eth1.42", "eth1", 42),
                Label("eth1.42", OURS),
                Enslave("eth1.42", "dy-off1"),
                BringUp("eth1.42"),
            ),
        ),
        (  # someone else's VLAN 41 is not ours to touch
            links(
                Link("eth1.41", "vlan", 41, "eth1", up=True, alias="uplink to the DMZ"),
                Link("eth1.42", "vlan", 42, "eth1", "dy-off1", up=True, alias=OURS),
            ),
            (),
        ),
    ],
)
def test_the_plan_creates_or_finishes_only_what_is_missing(
    found: dict[str, Link], steps: tuple[object, ...]
) -> None:
    assert plan_attach(WANT, found) == steps


@pytest.mark.parametrize(
    ("found", "words"),
    [
        (Link("eth1.42", "veth"), "is a veth interface, not a VLAN"),
        (Link("eth1.42", None), "is a plain interface, not a VLAN"),
        (Link("eth1.42", "vlan", 43, "eth1"), "is VLAN 43 on eth1, not VLAN 42 on eth1"),
        (Link("eth1.42", "vlan", 42, "eth2"), "is VLAN 42 on eth2, not VLAN 42 on eth1"),
        (
            Link("eth1.42", "vlan", 42, "eth1", "dy-off2", alias="dockyard:segment=off2"),
            "carries segment off2, which has the same VLAN",
        ),
        (Link("eth1.42", "vlan", 42, "eth1", "br-lan"), "is a port of bridge br-lan"),
    ],
)
def test_an_interface_of_that_name_that_is_something_else_is_refused_not_reused(
    found: Link, words: str
) -> None:
    with pytest.raises(Conflict, match=words) as caught:
        plan_attach(WANT, links(found))
    assert "segment off1 cannot use it" in caught.value.message


def test_a_missing_uplink_is_named_with_its_setting() -> None:
    with pytest.raises(NotFound, match=r"uplink eth1 \(DOCKYARD_UPLINK\) is not an interface"):
        plan_attach(WANT, {"dy-off1": BRIDGE})


def test_detaching_deletes_only_the_segments_own_vlan_sub_interfaces() -> None:
    found = [
        Link("eth1.42", "vlan", 42, "eth1", alias=OURS),
        Link("eth1.43", "vlan", 43, "eth1", alias="dockyard:segment=off2"),
        Link("eth1.44", "vlan", 44, "eth1", alias=None),
        Link("dyb1234", "ifb", alias=OURS),  # not a VLAN: never deleted here
    ]
    assert plan_detach("off1", found) == (Delete("eth1.42"),)
    assert plan_detach("gone", found) == ()
    assert labelled_segments(found) == {"off1", "off2"}


def segment(vlan: int | None) -> Segment:
    return Segment.parse(
        name="off1", cidr="10.9.0.0/24", gateway=None, environments=["test"], vlan=vlan
    )


@pytest.mark.parametrize(
    ("vlan", "uplink", "kernel", "refused", "words"),
    [
        (None, None, "Unknown device type", None, ""),
        (42, "eth1", None, None, ""),
        (42, "eth1", "Unknown device type", VlanUnsupported, "no 802.1Q VLAN support"),
        (42, None, "Unknown device type", VlanUnsupported, "says: Unknown device type"),
        (42, None, None, NoUplink, "no uplink is configured on this host: set DOCKYARD_UPLINK"),
    ],
)
def test_a_vlan_segment_is_refused_without_802_1q_first_then_without_an_uplink(
    vlan: int | None, uplink: str | None, kernel: str | None, refused: type | None, words: str
) -> None:
    refusal = vlan_refusal(segment(vlan), uplink=uplink, kernel=kernel)
    if refused is None:
        assert refusal is None
    else:
        assert type(refusal) is refused and refusal is not None
        assert words in refusal.message and "segment off1 needs VLAN 42" in refusal.message
