"""What the bandwidth tests need from the host: root, and a kernel with ifb and HTB.

`shaping_unavailable()` probes by creating (and deleting) a throwaway ifb device with an HTB
qdisc, so a test skips with the precise reason instead of failing deep inside.
"""

from __future__ import annotations

import os
import secrets

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError


def shaping_unavailable() -> str | None:
    """None if bandwidth limits can be applied here, else why not."""
    if os.geteuid() != 0:
        return "bandwidth limits need root: tc qdiscs and ifb devices are changed over netlink"
    name = "dyt" + secrets.token_hex(4)
    with IPRoute() as ipr:
        try:
            ipr.link("add", ifname=name, kind="ifb")
        except NetlinkError as exc:
            return f"this kernel cannot create an ifb device ({exc}): load the ifb module"
        try:
            (index,) = ipr.link_lookup(ifname=name)
            ipr.tc("add", "htb", index, 0x10000, default=1)
        except NetlinkError as exc:
            return f"this kernel has no HTB qdisc ({exc}): load sch_htb"
        finally:
            ipr.link("del", ifname=name)
    return None
