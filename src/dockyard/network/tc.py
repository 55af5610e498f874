"""The kernel side of bandwidth limits: reads and changes qdiscs, classes, filters and ifb
devices over netlink (pyroute2), as `network/bandwidth.py` plans them.

Every change is idempotent: applying a plan twice, or after a half-applied one, converges. Errors
are translated once, here: a device that is gone (the instance stopped meanwhile) is NotFound,
anything else the kernel refuses is RuntimeFailure with the kernel's reason.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from dockyard.domain.errors import NotFound, RuntimeFailure
from dockyard.network.bandwidth import (
    AddIfb,
    Change,
    ClearIngress,
    ClearRoot,
    DeleteIfb,
    HtbRate,
    Redirect,
    SetRate,
    Shaping,
    ifb_alias,
    ifb_name,
    veth_of_alias,
)
from dockyard.network.veth import host_veth

log = logging.getLogger("dockyard.network.tc")

TC_H_ROOT = 0xFFFFFFFF
INGRESS_HANDLE = 0xFFFF0000
HTB_ROOT = 0x10000  # 1:
HTB_CLASS = 0x10001  # 1:1, the default class: every packet goes there without a filter
ETH_P_ALL = 0x0003
IFB_TXQLEN = 1000  # an ifb starts at 32 packets, too shallow a queue for a full-speed sender
_ABSENT = (errno.ENOENT, errno.EINVAL)  # what deleting a qdisc that is not there answers


class TrafficControl:
    """Shaping of host-side veths in the host's network namespace. Use from one thread."""

    def __init__(self) -> None:
        self._ipr = IPRoute()

    def close(self) -> None:
        self._ipr.close()

    def __enter__(self) -> TrafficControl:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ---- reading ----

    def veth_of(self, pid: int) -> str:
        """The host-side veth of process `pid`'s eth0; NotFound if there is none."""
        return host_veth(pid, host=self._ipr)

    def read(self, veth: str) -> Shaping:
        """The shaping `veth` carries now; NotFound if there is no such device."""
        with _translated(veth):
            index = self._index(veth)
            qdiscs = self._qdiscs(index)
            ifb = self._link(ifb_name(veth))
            ifb_index = int(ifb["index"]) if ifb is not None else None
            return Shaping(
                to_instance=self._rate(index, qdiscs),
                ifb=ifb_index is not None,
                from_instance=(
                    None if ifb_index is None else self._rate(ifb_index, self._qdiscs(ifb_index))
                ),
                ingress=any(q.get("kind") == "ingress" for q in qdiscs),
                redirect=ifb_index is not None and self._redirects(index, ifb_index),
            )

    def orphan_ifbs(self) -> list[str]:
        """Dockyard's ifb devices whose veth is gone (its instance stopped): safe to delete."""
        with _translated("ifb devices"):
            names = {link.get("ifname") for link in self._ipr.get_links()}
            return [
                str(link.get("ifname"))
                for link in self._ipr.get_links()
                if _kind(link) == "ifb"
                and (veth := veth_of_alias(link.get("ifalias"))) is not None
                and veth not in names
            ]

    def _link(self, name: str) -> Any | None:
        found = self._ipr.link_lookup(ifname=name)
        return self._ipr.get_links(found[0])[0] if found else None

    def _index(self, device: str) -> int:
        found = self._ipr.link_lookup(ifname=device)
        if not found:
            raise NotFound(f"network device {device} not found: its instance has stopped")
        return int(found[0])

    def _qdiscs(self, index: int) -> list[Any]:
        return list(self._ipr.get_qdiscs(index))

    def _rate(self, index: int, qdiscs: list[Any]) -> int | None:
        """Rate (bytes/s) of class 1:1 under an HTB root 1: on `index`, if there is one."""
        if not _has_our_root(qdiscs):
            return None
        for cls in self._ipr.get_classes(index):
            if cls["handle"] == HTB_CLASS and cls.get("kind") == "htb":
                rate64 = cls.get(("TCA_OPTIONS", "TCA_HTB_RATE64"))
                return int(rate64 or cls.get(("TCA_OPTIONS", "TCA_HTB_PARMS"))["rate"])
        return None

    def _redirects(self, index: int, ifb_index: int) -> bool:
        """True if a u32 filter on `index`'s ingress redirects to `ifb_index`."""
        for flt in self._ipr.get_filters(index, parent=INGRESS_HANDLE):
            actions = flt.get(("TCA_OPTIONS", "TCA_U32_ACT"))
            for _, action in actions["attrs"] if actions else ():
                parms = action.get(("TCA_ACT_OPTIONS", "TCA_MIRRED_PARMS"))
                if action.get("TCA_ACT_KIND") == "mirred" and parms["ifindex"] == ifb_index:
                    return True
        return False

    # ---- changing ----

    def apply(self, changes: Iterable[Change]) -> None:
        """Carry out `changes` in order. On failure the earlier ones stay applied; the next
        `read` + `plan` picks up from there."""
        for change in changes:
            with _translated(change.device):
                self._apply(change)

    def _apply(self, change: Change) -> None:
        match change:
            case SetRate(device, rate):
                self._set_rate(self._index(device), rate)
            case ClearRoot(device):
                self._delete_qdisc(self._index(device), parent=TC_H_ROOT)
            case AddIfb(name, veth):
                self._add_ifb(name, veth)
            case Redirect(veth, ifb):
                self._redirect(self._index(veth), self._index(ifb))
            case ClearIngress(veth):
                self._delete_qdisc(self._index(veth), parent=INGRESS_HANDLE)
            case DeleteIfb(name):
                self._delete_ifb(name)

    def _set_rate(self, index: int, rate: HtbRate) -> None:
        if not _has_our_root(self._qdiscs(index)):
            # `replace` swaps whatever root is there; on our own HTB root it would be refused
            # (HTB cannot change its options), hence the check.
            self._ipr.tc("replace", "htb", index, HTB_ROOT, default=HTB_CLASS & 0xFFFF)
        # Changes the class in place when it exists: queued packets stay, the rate is live.
        self._ipr.tc(
            "replace-class",
            "htb",
            index,
            HTB_CLASS,
            parent=HTB_ROOT,
            rate=rate.rate,
            ceil=rate.rate,
            burst=rate.burst,
            cburst=rate.burst,
            quantum=rate.quantum,
        )

    def _redirect(self, veth_index: int, ifb_index: int) -> None:
        self._delete_qdisc(veth_index, parent=INGRESS_HANDLE)
        self._ipr.tc("add", "ingress", veth_index, INGRESS_HANDLE)
        self._ipr.tc(
            "add-filter",
            "u32",
            veth_index,
            parent=INGRESS_HANDLE,
            protocol=ETH_P_ALL,
            prio=1,
            keys=["0x0/0x0+0"],  # matches every packet
            target=HTB_CLASS,  # required by pyroute2's u32 (REFERENCE.md); unused by mirred
            action={
                "kind": "mirred",
                "direction": "egress",
                "action": "redirect",
                "ifindex": ifb_index,
            },
        )

    def _delete_qdisc(self, index: int, *, parent: int) -> None:
        try:
            self._ipr.tc("del", index=index, parent=parent)
        except NetlinkError as exc:
            if exc.code not in _ABSENT:
                raise

    def _add_ifb(self, name: str, veth: str) -> None:
        existing = self._link(name)
        if existing is None:
            try:
                self._ipr.link("add", ifname=name, kind="ifb", txqlen=IFB_TXQLEN)
            except NetlinkError as exc:
                if exc.code != errno.EEXIST:
                    raise
            existing = self._link(name)
        elif veth_of_alias(existing.get("ifalias")) not in (None, veth):
            raise RuntimeFailure(f"device {name} already exists and belongs to another veth")
        if existing is None:
            raise NotFound(f"ifb device {name} vanished while being created")
        self._ipr.link("set", index=existing["index"], ifalias=ifb_alias(veth), state="up")

    def _delete_ifb(self, name: str) -> None:
        found = self._ipr.link_lookup(ifname=name)
        if not found:
            return
        try:
            self._ipr.link("del", index=found[0])
        except NetlinkError as exc:
            if exc.code != errno.ENODEV:
                raise


def _has_our_root(qdiscs: list[Any]) -> bool:
    """True if the root qdisc among `qdiscs` is an HTB with handle 1: (the one we add)."""
    return any(
        q["parent"] == TC_H_ROOT and q.get("kind") == "htb" and q["handle"] == HTB_ROOT
        for q in qdiscs
    )


def _kind(link: Any) -> str | None:
    kind = link.get(("IFLA_LINKINFO", "IFLA_INFO_KIND"))
    return str(kind) if kind is not None else None


@contextmanager
def _translated(device: str) -> Iterator[None]:
    """Netlink errors become domain errors: a vanished device NotFound, the rest RuntimeFailure."""
    try:
        yield
    except NetlinkError as exc:
        if exc.code == errno.ENODEV:
            raise NotFound(f"network device {device} is gone: its instance has stopped") from exc
        raise RuntimeFailure(f"traffic control on {device} failed: {exc.args[-1]}") from exc
