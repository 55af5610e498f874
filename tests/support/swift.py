"""An OpenStack Swift all-in-one for the tests, from Debian's swift-* packages: one proxy with
tempauth, one account, one container and one object server, and the memcached tempauth keeps its
tokens in. One per test session, on free loopback ports, built in a temp dir, stopped by PID.

The layout is Swift's own "SAIO" reduced to one device and one replica: rings as
`swift-ring-builder` makes them, the device a plain folder (`mount_check = false`; the object
server keeps metadata in user xattrs, which the temp filesystem must support), every server in
one process (`workers = 0`, so the PID we hold is the server). Authentication is tempauth's v1.0
(`/auth/v1.0`, user `test:tester`, key `testing`), which distribution's swift driver speaks.
The servers' logs go to their files under the temp dir (`--verbose`); Swift also sends them to
syslog, which without /dev/log is UDP to 127.0.0.1:514, unanswered.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.child import ChildProcess, wait_until
from tests.support.server import free_port

SERVERS = ("account", "container", "object")
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with python3-swift
MEMCACHED = "/usr/bin/memcached"
PACKAGES = "swift-proxy swift-account swift-container swift-object memcached"
START_TIMEOUT_S = 30.0
USER, KEY = "test:tester", "testing"


@dataclass
class RunningSwift:
    """The proxy at `url`; its auth URL, user and key are what a Swift client needs."""

    url: str
    root: Path
    children: list[ChildProcess] = field(default_factory=list)
    user: str = USER
    key: str = KEY

    @property
    def auth_url(self) -> str:
        return f"{self.url}/auth/v1.0"

    def session(self) -> tuple[str, str]:
        """(storage URL, token) of the test account, from tempauth."""
        answer = httpx.get(
            self.auth_url, headers={"X-Auth-User": self.user, "X-Auth-Key": self.key}
        )
        answer.raise_for_status()
        return answer.headers["x-storage-url"], answer.headers["x-auth-token"]

    def objects(self, container: str) -> dict[str, int]:
        """Every object in `container`: name -> size as listed (all pages); {} if none."""
        storage, token = self.session()
        found: dict[str, int] = {}
        marker = ""
        while True:
            page = httpx.get(
                f"{storage}/{container}",
                params={"format": "json", "marker": marker},
                headers={"X-Auth-Token": token},
            )
            if page.status_code == 404:
                return found
            page.raise_for_status()
            items = page.json()
            if not items:
                return found
            found.update({item["name"]: int(item["bytes"]) for item in items})
            marker = items[-1]["name"]

    def size(self, container: str, name: str) -> int:
        """The bytes `name` holds: for a large object (a 0-byte manifest over segments, as the
        registry writes blobs) the sum of its segments, as Swift answers a HEAD."""
        storage, token = self.session()
        answer = httpx.head(f"{storage}/{container}/{name}", headers={"X-Auth-Token": token})
        answer.raise_for_status()
        return int(answer.headers["content-length"])

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()


def missing_programs() -> list[str]:
    programs = [
        SYSTEM_PYTHON,
        MEMCACHED,
        *(f"/usr/bin/swift-{name}-server" for name in (*SERVERS, "proxy")),
    ]
    return [path for path in programs if not os.access(path, os.X_OK)]


def supports_user_xattrs(folder: Path) -> bool:
    probe = folder / ".xattr-probe"
    probe.touch()
    try:
        os.setxattr(probe, "user.dockyard", b"1")
        return True
    except OSError:
        return False
    finally:
        probe.unlink()


def _server_conf(root: Path, *, name: str, port: int, user: str) -> str:
    return f"""\
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
user = {user}
swift_dir = {root}
devices = {root}/devices
mount_check = false
log_name = {name}

[pipeline:main]
pipeline = {name}-server

[app:{name}-server]
use = egg:swift#{name}
"""


def _proxy_conf(root: Path, *, port: int, memcached_port: int, user: str) -> str:
    account, password = USER.split(":")
    return f"""\
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
user = {user}
swift_dir = {root}
log_name = proxy

[pipeline:main]
pipeline = catch_errors proxy-logging cache tempauth proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_{account}_{password} = {KEY} .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:{memcached_port}

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:proxy-logging]
use = egg:swift#proxy_logging
"""


SWIFT_CONF = """\
[swift-hash]
swift_hash_path_suffix = dockyard-test

[storage-policy:0]
name = gold
default = yes
"""


# What `swift-ring-builder NAME.builder create 2 1 0`, `add r1z1-127.0.0.1:PORT/d1 1` and
# `rebalance` do, for the three rings in one run of Debian's python3: nine runs of the command
# cost ~4 s of CPU on a shared 2-core machine, this ~0.5 s.
RING_SCRIPT = """
import sys
from swift.common.ring import RingBuilder
root = sys.argv[1]
for spec in sys.argv[2:]:
    name, port = spec.split(":")
    builder = RingBuilder(2, 1, 0)  # 2^2 partitions, one replica, no min_part_hours
    builder.add_dev({"region": 1, "zone": 1, "ip": "127.0.0.1", "port": int(port),
                     "device": "d1", "weight": 1})
    builder.rebalance()
    builder.get_ring().save(f"{root}/{name}.ring.gz")
    builder.save(f"{root}/{name}.builder")
"""


def _build_rings(root: Path, ports: dict[str, int]) -> None:
    """The account, container and object rings: one device (d1) each, at its server's port."""
    specs = [f"{name}:{ports[name]}" for name in SERVERS]
    subprocess.run(
        [SYSTEM_PYTHON, "-c", RING_SCRIPT, str(root), *specs],
        check=True,
        capture_output=True,
        timeout=60,
    )


def write_layout(root: Path, ports: dict[str, int]) -> None:
    """swift.conf, the three rings, one config per server and the device folder under `root`."""
    user = pwd.getpwuid(os.getuid()).pw_name  # run as whoever we are; Swift's default is `swift`
    (root / "devices" / "d1").mkdir(parents=True)
    (root / "swift.conf").write_text(SWIFT_CONF)
    for name in SERVERS:
        (root / f"{name}-server.conf").write_text(
            _server_conf(root, name=name, port=ports[name], user=user)
        )
    (root / "proxy-server.conf").write_text(
        _proxy_conf(root, port=ports["proxy"], memcached_port=ports["memcached"], user=user)
    )
    _build_rings(root, ports)


def _listens(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _proxy_authenticates(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        answer = httpx.get(
            f"{url}/auth/v1.0", headers={"X-Auth-User": USER, "X-Auth-Key": KEY}, timeout=2
        )
        if answer.status_code != 200:
            return False
        account = httpx.head(
            answer.headers["x-storage-url"],
            headers={"X-Auth-Token": answer.headers["x-auth-token"]},
            timeout=2,
        )
        return account.status_code in (200, 204)
    return False


def start_swift(root: Path) -> RunningSwift:
    """Swift all-in-one under `root`; returns once the three storage servers listen and the
    proxy authenticates and finds the account (so memcached and the proxy serve too)."""
    ports = {name: free_port() for name in (*SERVERS, "proxy", "memcached")}
    write_layout(root, ports)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    memcached = [MEMCACHED, "-l", "127.0.0.1", "-p", str(ports["memcached"]), "-U", "0", "-m", "16"]
    if os.getuid() == 0:
        memcached += ["-u", "root"]  # as root, memcached starts only when told whom to run as
    children = [ChildProcess(memcached, log_file=root / "memcached.log")] + [
        ChildProcess(
            [f"/usr/bin/swift-{name}-server", str(root / f"{name}-server.conf"), "--verbose"],
            log_file=root / f"{name}.log",
        )
        for name in (*SERVERS, "proxy")
    ]
    running = RunningSwift(url=f"http://127.0.0.1:{ports['proxy']}", root=root, children=children)
    try:
        for child in children:
            child.start(env=env)
        wait_until(
            lambda: (
                all(_listens(ports[name]) for name in SERVERS) and _proxy_authenticates(running.url)
            ),
            children=children,
            what="the Swift proxy",
            timeout_s=START_TIMEOUT_S,
        )
    except BaseException:
        running.stop()
        raise
    return running


@pytest.fixture(scope="session")
def swift_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSwift]:
    """A Swift all-in-one for this session; skips (fails on CI) when Swift is not installed."""
    root = tmp_path_factory.mktemp("swift")
    problem = ""
    if missing := missing_programs():
        problem = f"{', '.join(missing)} missing: apt-get install {PACKAGES}"
    elif not supports_user_xattrs(root):
        problem = f"{root}'s filesystem has no user xattrs, which Swift's object server needs"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Swift tests: {problem}")
        pytest.skip(problem)
    running = start_swift(root)
    yield running
    running.stop()
