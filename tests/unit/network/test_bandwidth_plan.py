"""The pure planning of bandwidth limits: from wanted limits and found shaping to tc changes."""

from __future__ import annotations

import pytest

from dockyard.domain.spec import Bandwidth
from dockyard.network.bandwidth import (
    IFNAMSIZ,
    AddIfb,
    Change,
    ClearIngress,
    ClearRoot,
    DeleteIfb,
    Redirect,
    SetRate,
    Shaping,
    htb_rate,
    ifb_alias,
    ifb_name,
    plan,
    veth_of_alias,
)

VETH = "veth1a2b3c4"
IFB = "dyb1a2b3c4"
MBIT = 125_000  # bytes/s in one Mbit/s


def shaped(*, to: int | None = None, out: int | None = None) -> Shaping:
    """What a veth carries after Dockyard applied `to`/`out` Mbit/s (None: not limited)."""
    return Shaping(
        to_instance=to * MBIT if to else None,
        ifb=out is not None,
        from_instance=out * MBIT if out else None,
        ingress=out is not None,
        redirect=out is not None,
    )


CASES: list[tuple[str, Bandwidth, Shaping, tuple[Change, ...]]] = [
    ("unlimited and nothing applied: nothing to do", Bandwidth(), Shaping(), ()),
    (
        "a new ingress limit shapes the veth's root",
        Bandwidth(ingress_mbit=20),
        Shaping(),
        (SetRate(VETH, htb_rate(20)),),
    ),
    (
        "a new egress limit: ifb first, shaped, then the redirect",
        Bandwidth(egress_mbit=30),
        Shaping(),
        (AddIfb(IFB, VETH), SetRate(IFB, htb_rate(30)), Redirect(VETH, IFB)),
    ),
    (
        "both limits, nothing applied",
        Bandwidth(egress_mbit=30, ingress_mbit=20),
        Shaping(),
        (
            SetRate(VETH, htb_rate(20)),
            AddIfb(IFB, VETH),
            SetRate(IFB, htb_rate(30)),
            Redirect(VETH, IFB),
        ),
    ),
    (
        "both limits already applied: nothing to do",
        Bandwidth(egress_mbit=30, ingress_mbit=20),
        shaped(to=20, out=30),
        (),
    ),
    (
        "changed rates change the classes only (live, nothing torn down)",
        Bandwidth(egress_mbit=10, ingress_mbit=50),
        shaped(to=20, out=30),
        (SetRate(VETH, htb_rate(50)), SetRate(IFB, htb_rate(10))),
    ),
    (
        "removing both limits removes the root, the redirect and then the ifb",
        Bandwidth(),
        shaped(to=20, out=30),
        (ClearRoot(VETH), ClearIngress(VETH), DeleteIfb(IFB)),
    ),
    (
        "removing only the egress limit keeps the ingress shaping",
        Bandwidth(ingress_mbit=20),
        shaped(to=20, out=30),
        (ClearIngress(VETH), DeleteIfb(IFB)),
    ),
    (
        "a half-applied egress limit (ifb without class) is completed",
        Bandwidth(egress_mbit=30),
        Shaping(ifb=True),
        (SetRate(IFB, htb_rate(30)), Redirect(VETH, IFB)),
    ),
    (
        "an ingress qdisc not redirecting to the ifb is replaced",
        Bandwidth(egress_mbit=30),
        Shaping(ifb=True, from_instance=30 * MBIT, ingress=True),
        (Redirect(VETH, IFB),),
    ),
    (
        "a stray ingress qdisc is removed when egress is unlimited",
        Bandwidth(),
        Shaping(ingress=True),
        (ClearIngress(VETH),),
    ),
    (
        "an ifb whose redirect is gone is recreated in place, not duplicated",
        Bandwidth(egress_mbit=30),
        Shaping(ifb=True, from_instance=30 * MBIT),
        (Redirect(VETH, IFB),),
    ),
]


@pytest.mark.parametrize(
    ("wanted", "found", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_plan_turns_found_shaping_into_wanted(
    wanted: Bandwidth, found: Shaping, expected: tuple[Change, ...]
) -> None:
    assert plan(VETH, wanted, found) == expected


@pytest.mark.parametrize(
    ("mbit", "rate", "burst", "quantum"),
    [
        (1, 125_000, 125 + 1514, 12_500),
        (10, 1_250_000, 1_250 + 1514, 125_000),
        (100, 12_500_000, 12_500 + 1514, 200_000),
        (100_000, 12_500_000_000, 12_500_000 + 1514, 200_000),
    ],
)
def test_htb_rate_is_the_limit_with_a_millisecond_of_burst(
    mbit: int, rate: int, burst: int, quantum: int
) -> None:
    got = htb_rate(mbit)
    assert (got.rate, got.burst, got.quantum) == (rate, burst, quantum)


@pytest.mark.parametrize(
    ("veth", "expected"),
    [
        ("veth1a2b3c4", "dyb1a2b3c4"),  # Docker's names keep their suffix
        ("vethabcdefghijk", "dybabcdefghijk"),  # the longest suffix that fits
    ],
)
def test_ifb_name_keeps_a_docker_veth_suffix(veth: str, expected: str) -> None:
    assert ifb_name(veth) == expected


def test_ifb_names_of_other_veths_are_hashed_to_fit_and_never_clash() -> None:
    names = {ifb_name(veth) for veth in ("cali12345678901", "eth0", "lxc-abc", "veth" + "x" * 11)}
    assert len(names) == 4
    assert all(len(name) <= IFNAMSIZ and name.startswith("dyb") for name in names)
    assert len(ifb_name("cali12345678901")) == IFNAMSIZ  # never equal to a suffix name (<= 14)


def test_ifb_alias_round_trips_and_foreign_aliases_are_not_ours() -> None:
    assert veth_of_alias(ifb_alias(VETH)) == VETH
    assert veth_of_alias(None) is None
    assert veth_of_alias("uplink to the lab") is None
