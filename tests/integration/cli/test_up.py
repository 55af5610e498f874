"""`dockyard up`, `status` and `down` on this host, with stand-ins for the two processes.

The server is fake_server.py (the real `dockyard server` is being assembled concurrently) and
the Docker engine is a thread answering `/_ping` on a loopback port, so these tests neither
need nor touch a real engine. Starting Debian's dockerd is covered by `./run up` on a fresh host.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dockyard.cli import names, nats
from dockyard.cli.monitoring import ready_problem, targets_health
from dockyard.cli.nats import nats_answers
from dockyard.cli.supervisord import Supervisord, SupervisordPaths
from dockyard.settings import Settings
from tests.integration.cli.conftest import Cli
from tests.integration.cli.fake_server import FIRST_TOKEN
from tests.support.dns_servers import free_port as free_udp_port
from tests.support.etcd import EtcdServer
from tests.support.nats import NatsServer

FAKE_SERVER = str(Path(__file__).with_name("fake_server.py"))
DNS_INSTALLED = all(
    Path(p).exists()
    for p in (names.PDNS_CANDIDATES[0], names.DNSMASQ_CANDIDATES[0], names.REMOTE_BACKEND)
)


class _Ping(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/_ping" else 404)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def engine() -> Iterator[str]:
    """A loopback stand-in for the Docker engine's /_ping; yields its DOCKYARD_DOCKER_HOST."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ping)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def host(
    cli: Cli, engine: str, free_port: Callable[[], int], etcd_server: EtcdServer
) -> Iterator[Cli]:
    """A CLI on a fresh host: no credentials yet, a free port, the fake server as `server`."""
    cli.use_fake_network = False
    cli.credentials_file.unlink()
    cli.environ["DOCKYARD_DOCKER_HOST"] = engine
    # A running etcd given by endpoint, as a Docker engine given by host: `up` uses it as it is.
    cli.environ["DOCKYARD_ETCD_ENDPOINTS"] = etcd_server.endpoint
    # The agent `up` starts serves its IPAM driver here, never on the host's real socket.
    cli.environ["DOCKYARD_IPAM_SOCKET"] = str(cli.credentials_file.parent / "ipam.sock")
    cli.environ["DOCKYARD_LISTEN_PORT"] = str(free_port())
    # `up` runs a real registry (docker-registry) on a free port under the test's state dir.
    cli.environ["DOCKYARD_REGISTRY"] = f"127.0.0.1:{free_port()}"
    # `up` runs a real nats-server (the log stream) on a free loopback port, store in state dir.
    cli.environ["DOCKYARD_NATS_URLS"] = f"nats://127.0.0.1:{free_port()}"
    # `up` runs real Prometheus and Alertmanager on free loopback ports, files in state dir.
    for part in ("PROMETHEUS", "ALERTMANAGER"):
        cli.environ[f"DOCKYARD_{part}_URL"] = f"http://127.0.0.1:{free_port()}"
    for part in ("AGENT", "INDEXER", "ARCHIVER", "BALANCER"):  # never the default metrics ports
        cli.environ[f"DOCKYARD_{part}_METRICS_ADDR"] = f"127.0.0.1:{free_port()}"
    # `up` runs the balancer (and its HAProxy) with routes on free loopback ports.
    cli.environ["DOCKYARD_BALANCER_HTTP_ADDR"] = f"127.0.0.1:{free_port()}"
    tcp = free_port()
    cli.environ["DOCKYARD_BALANCER_TCP_PORTS"] = f"{tcp}-{tcp}"
    # `up` runs PowerDNS and dnsmasq (where installed) on free loopback ports, never on 53.
    cli.environ["DOCKYARD_PDNS_ADDR"] = f"127.0.0.1:{free_udp_port()}"
    cli.environ["DOCKYARD_DNS_PORT"] = str(free_udp_port())
    yield cli
    cli("down", server_argv=(sys.executable, FAKE_SERVER))  # never leave it running


def _run(host: Cli, *args: str) -> tuple[int, str, str]:
    result = host(*args, server_argv=(sys.executable, FAKE_SERVER))
    return result.exit_code, result.stdout, result.stderr


def test_first_up_starts_the_server_and_shows_the_admin_token_once(host: Cli) -> None:
    code, out, err = _run(host, "up")
    assert code == 0, err
    port = host.environ["DOCKYARD_LISTEN_PORT"]
    assert f"listening on http://127.0.0.1:{port}" in out
    assert f"portal: http://127.0.0.1:{port}/ui/" in out
    assert FIRST_TOKEN in out.splitlines()
    assert "already logged in as admin" in out
    code, out, _ = _run(host, "up")
    assert code == 0
    assert "server: already running under the supervisor: pid" in out, out
    assert FIRST_TOKEN not in out


def test_status_reports_each_part_and_down_stops_only_what_up_started(host: Cli) -> None:
    _run(host, "up")
    supervisor = Supervisord(SupervisordPaths.of(Settings.from_env(host.environ)))
    state = supervisor.state("server")
    assert state is not None and state.alive
    pid = state.pid
    code, out, _ = _run(host, "status", "-o", "json")
    assert code == 0
    parts = {p["part"]: p for p in json.loads(out)["parts"]}
    assert sorted(parts) == sorted([
        "agent", "alertmanager", "archiver", "balancer", "builder", "controllers", "database",
        "docker engine", "drainer", "etcd", "indexer", "leader", "nats", "prometheus", "registry",
        "server", "state disk", "supervisor", "names", *(["pdns", "dnsmasq"] * DNS_INSTALLED),
    ])  # fmt: skip
    assert all(p["healthy"] for p in parts.values())
    assert parts["leader"]["detail"].startswith("this server")
    assert f"pid {pid} (supervised" in parts["server"]["detail"]
    assert parts["supervisor"]["detail"] == f"supervisord pid {supervisor.pid()}"

    code, out, _ = _run(host, "down")
    assert code == 0
    assert f"server: stopped (pid {pid})" in out
    assert "docker engine: not started by `dockyard up`; left alone" in out
    assert "supervisor: stopped (pid" in out
    assert supervisor.pid() is None
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()

    code, out, _ = _run(host, "status")
    assert code == 1
    server_row = next(line for line in out.splitlines() if line.strip().startswith("server"))
    assert "cannot reach Dockyard" in server_row
    assert "was not running" in _run(host, "down")[1]


@pytest.mark.skipif(not DNS_INSTALLED, reason=f"not installed: apt-get install {names.PACKAGES}")
def test_up_runs_the_dns_names_once_and_down_stops_them(host: Cli) -> None:
    code, out, err = _run(host, "up")
    assert code == 0, err
    settings = Settings.from_env(host.environ)
    for program in ("names", "pdns", "dnsmasq"):
        assert f"{program}: started under the supervisor: pid" in out, out
    zone = settings.names.zone
    assert names.dns_problem(names.resolver(settings), zone) is None
    assert names.dns_problem(settings.names.pdns, zone) is None
    code, out, _ = _run(host, "up")
    assert all(f"{p}: already running under the supervisor" in out for p in ("pdns", "dnsmasq"))
    code, out, _ = _run(host, "status", "-o", "json")
    rows = {
        p["part"]: p for p in json.loads(out)["parts"] if p["part"] in ("names", "pdns", "dnsmasq")
    }
    assert len(rows) == 3 and all(row["healthy"] for row in rows.values()), rows
    # Another zone changes dnsmasq's configuration: the supervisor restarts it with it.
    host.environ["DOCKYARD_DNS_ZONE"] = "corp.example"
    code, out, _ = _run(host, "up")
    assert "dnsmasq: restarted by the supervisor with its new settings" in out, out
    assert names.dns_problem(names.resolver(settings), "corp.example") is None
    code, out, _ = _run(host, "down")
    for program in ("names", "pdns", "dnsmasq"):
        assert f"{program}: stopped (pid" in out
    assert names.dns_problem(names.resolver(settings), "corp.example") is not None


def test_up_names_the_log_when_the_server_cannot_start(host: Cli) -> None:
    host.environ["DOCKYARD_CREDENTIALS_FILE"] = "/proc/no/such/dir/credentials.json"
    code, _, err = _run(host, "up")
    assert code == 1
    assert err.startswith("error: the server did not come up at http://127.0.0.1:")
    assert "server.log" in err and "FileNotFoundError" in err  # the tail of the server's log


def test_up_runs_nats_server_with_jetstream_once_and_down_stops_it(host: Cli) -> None:
    code, out, err = _run(host, "up")
    assert code == 0, err
    url = host.environ["DOCKYARD_NATS_URLS"]
    settings = Settings.from_env(host.environ)
    assert "nats: nats-server started under the supervisor: pid" in out
    assert f"at {url}, store {settings.paths.state_dir / 'nats'}" in out
    assert nats_answers(url)
    assert (settings.paths.state_dir / "nats" / "jetstream").is_dir()
    assert "Server is ready" in (settings.paths.logs_dir / "nats.log").read_text()
    supervisor = Supervisord(SupervisordPaths.of(settings))
    state = supervisor.state("nats")
    assert state is not None and state.alive
    code, out, _ = _run(host, "up")
    assert code == 0
    assert f"nats: nats-server already running under the supervisor: pid {state.pid}" in out
    code, out, _ = _run(host, "status", "-o", "json")
    nats = next(p for p in json.loads(out)["parts"] if p["part"] == "nats")
    assert nats["healthy"] and f"pid {state.pid} (supervised" in nats["detail"], nats
    code, out, _ = _run(host, "down")
    assert f"nats: stopped (pid {state.pid})" in out
    assert not nats_answers(url)


def test_up_uses_a_nats_cluster_as_it_is_and_refuses_one_that_does_not_answer(
    host: Cli, nats_server: NatsServer, free_port: Callable[[], int]
) -> None:
    host.environ["DOCKYARD_NATS_URLS"] = f"{nats_server.url},nats://127.0.0.1:{free_port()}"
    code, out, err = _run(host, "up")
    assert code == 0, err
    assert "nats: running at nats://127.0.0.1:" in out and "not started by dockyard up" in out
    _run(host, "down")
    host.environ["DOCKYARD_NATS_URLS"] = f"nats://127.0.0.1:{free_port()},nats://[::1]:4223"
    code, _, err = _run(host, "up")
    assert code == 1
    assert "no NATS server with JetStream answers" in err and "DOCKYARD_NATS_URLS" in err


def test_up_says_what_to_install_when_nats_server_is_missing(
    host: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(nats, "NATS_CANDIDATES", ())
    code, _, err = _run(host, "up")
    assert code == 1
    assert "apt-get install nats-server" in err and len(err.strip().splitlines()) == 1


def test_up_runs_prometheus_and_alertmanager_once_and_down_stops_them(host: Cli) -> None:
    host.environ["DOCKYARD_SCRAPE_INTERVAL_S"] = "1"
    code, out, err = _run(host, "up")
    assert code == 0, err
    settings = Settings.from_env(host.environ)
    urls = {
        "prometheus": host.environ["DOCKYARD_PROMETHEUS_URL"],
        "alertmanager": host.environ["DOCKYARD_ALERTMANAGER_URL"],
    }
    state = settings.paths.state_dir
    for name, url in urls.items():
        assert f"{name}: started under the supervisor: pid" in out, out
        assert f"at {url}, data {state / name}" in out
        assert ready_problem(url) is None
    config = json.loads((state / "prometheus" / "prometheus.yml").read_text())
    assert config["alerting"]["alertmanagers"][0]["static_configs"] == [
        {"targets": [urls["alertmanager"].removeprefix("http://")]}
    ]
    targets = json.loads((state / "prometheus/targets/dockyard/dockyard.json").read_text())
    assert [group["labels"]["component"] for group in targets] == ["agent", "indexer", "archiver"]
    # Alertmanager posts to the server's webhook with the token up wrote for it alone.
    token = settings.monitoring.webhook_token_file
    assert token.stat().st_mode & 0o777 == 0o600 and token.read_text().strip()
    alertmanager = json.loads((state / "alertmanager" / "alertmanager.yml").read_text())
    (webhook,) = alertmanager["receivers"][0]["webhook_configs"]
    assert webhook["http_config"]["authorization"]["credentials_file"] == str(token)
    # Then the alarm rule file, from the database (the fake server migrates none: up says so).
    assert "prometheus: alarm rules not written: the platform database failed" in out, out
    supervisor = Supervisord(SupervisordPaths.of(settings))
    pids = {name: _pid(supervisor, name) for name in urls}
    # Prometheus finds the agent, the indexer, the archiver and the balancer and scrapes them.
    deadline = time.monotonic() + 30
    while targets_health(urls["prometheus"]) != "4 of 4 targets up":
        assert time.monotonic() < deadline, targets_health(urls["prometheus"])
        time.sleep(0.2)

    code, out, _ = _run(host, "up")  # again: nothing changes
    assert code == 0
    for name, pid in pids.items():
        assert f"{name}: already running under the supervisor: pid {pid}" in out, out
    code, out, _ = _run(host, "status", "-o", "json")
    rows = {p["part"]: p for p in json.loads(out)["parts"]}
    for name, pid in pids.items():
        assert rows[name]["healthy"] and f"pid {pid} (supervised" in rows[name]["detail"]

    code, out, _ = _run(host, "down")
    for name, pid in pids.items():
        assert f"{name}: stopped (pid {pid})" in out
        assert ready_problem(urls[name]) is not None


def _pid(supervisor: Supervisord, name: str) -> int:
    state = supervisor.state(name)
    assert state is not None and state.alive, state
    return state.pid


def test_up_only_asks_a_prometheus_and_alertmanager_elsewhere(
    host: Cli, free_port: Callable[[], int]
) -> None:
    # 0.0.0.0 is not loopback, so `up` takes it for another host's and never runs anything
    # there; yet a connection to it stays on this machine (and finds nothing on a free port).
    elsewhere = {name: f"http://0.0.0.0:{free_port()}" for name in ("prometheus", "alertmanager")}
    host.environ["DOCKYARD_PROMETHEUS_URL"] = elsewhere["prometheus"]
    host.environ["DOCKYARD_ALERTMANAGER_URL"] = elsewhere["alertmanager"]
    code, out, err = _run(host, "up")
    assert code == 0, err
    for name, url in elsewhere.items():
        assert f"{name}: not started here: no answer at {url}" in out, out
    settings = Settings.from_env(host.environ)
    supervisor = Supervisord(SupervisordPaths.of(settings))
    assert supervisor.state("prometheus") is None and supervisor.state("alertmanager") is None
    code, out, _ = _run(host, "status", "-o", "json")
    assert code == 1  # they do not answer
    rows = {p["part"]: p for p in json.loads(out)["parts"]}
    assert not rows["prometheus"]["healthy"]
    assert "(an existing one, not run here)" in rows["prometheus"]["detail"]
