"""Settings.from_env: defaults for root and for users, and one-line errors naming the variable."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from dockyard.domain.errors import Invalid
from dockyard.settings import ClientCredentials, Settings, read_credentials, write_credentials


def test_root_defaults() -> None:
    settings = Settings.from_env({"HOME": "/root"}, uid=0)
    assert settings.paths.state_dir == Path("/var/lib/dockyard")
    assert settings.paths.credentials_file == Path("/etc/dockyard/credentials.json")
    assert settings.database.url == "sqlite:////var/lib/dockyard/dockyard.db"
    assert (settings.listen.host, settings.listen.port) == ("127.0.0.1", 8420)
    assert settings.listen.local_url == "http://127.0.0.1:8420"
    assert settings.docker.host == "unix:///var/run/docker.sock"
    assert settings.docker.host_is_default
    assert (settings.docker.network, settings.docker.parallel_starts) == ("dockyard", 4)
    assert settings.controller.resync_s == 10.0
    assert settings.controller.orphan_grace_s == 30.0
    assert settings.controller.progress_deadline_s == 120.0
    assert settings.controller.autoscale_s == 2.0
    assert settings.client.config_file == Path("/root/.config/dockyard/config.json")
    assert (settings.client.url, settings.client.token, settings.log_level) == (None, None, "info")
    assert settings.listen.public_url is None  # git remotes: the URL each request came to
    assert settings.images.sources.git_timeout_s == 3600.0
    assert settings.images.sources.retired_keep_s == 30 * 86400.0
    assert settings.images.builds.buildkit


def test_user_defaults_live_in_the_home_directory() -> None:
    settings = Settings.from_env({"HOME": "/home/ann"}, uid=1000)
    assert settings.paths.state_dir == Path("/home/ann/.local/share/dockyard")
    assert settings.paths.credentials_file == Path("/home/ann/.config/dockyard/credentials.json")
    assert settings.paths.run_dir == Path("/home/ann/.local/share/dockyard/run")


def test_values_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "HOME": "/h",
            "DOCKYARD_STATE_DIR": "/srv/dy",
            "DOCKYARD_DATABASE_URL": "postgresql+psycopg://dy@db/dy",
            "DOCKYARD_LISTEN_HOST": "0.0.0.0",
            "DOCKYARD_LISTEN_PORT": "9000",
            "DOCKYARD_DOCKER_HOST": "tcp://10.0.0.1:2375",
            "DOCKYARD_RESYNC_INTERVAL_S": "2.5",
            "DOCKYARD_LOG_LEVEL": "DEBUG",
            "DOCKYARD_URL": "https://dy.example/",
            "DOCKYARD_PUBLIC_URL": "https://dy.example:8443/cloud/",
            "DOCKYARD_GIT_TIMEOUT_S": "90",
            "DOCKYARD_GIT_KEEP_DELETED_DAYS": "7",
            "DOCKYARD_BUILDKIT": "false",
        },
        uid=0,
    )
    assert settings.listen.public_url == "https://dy.example:8443/cloud"
    assert settings.images.sources.git_timeout_s == 90.0
    assert settings.images.sources.retired_keep_s == 7 * 86400.0
    assert not settings.images.builds.buildkit
    assert settings.paths.logs_dir == Path("/srv/dy/logs")
    assert settings.database.url == "postgresql+psycopg://dy@db/dy"
    assert settings.listen.local_url == "http://127.0.0.1:9000"
    assert not settings.docker.host_is_default
    assert settings.controller.resync_s == 2.5
    assert settings.log_level == "debug"
    assert settings.client.url == "https://dy.example"


@pytest.mark.parametrize(
    ("name", "value", "hint"),
    [
        ("DOCKYARD_LISTEN_PORT", "http", "use a whole number from 1 to 65535"),
        ("DOCKYARD_LISTEN_PORT", "70000", "use a whole number from 1 to 65535"),
        ("DOCKYARD_STATE_DIR", "relative/dir", "use an absolute path"),
        ("DOCKYARD_DATABASE_URL", "mysql://x", "use sqlite:///PATH or postgresql+psycopg://"),
        ("DOCKYARD_DOCKER_HOST", "/var/run/docker.sock", "use unix:///PATH/docker.sock"),
        ("DOCKYARD_RESYNC_INTERVAL_S", "0", "use a number of seconds from 0.1 to 3600"),
        ("DOCKYARD_PROGRESS_DEADLINE_S", "nan", "use a number of seconds from 1 to 86400"),
        ("DOCKYARD_AUTOSCALE_INTERVAL_S", "0", "use a number of seconds from 0.2 to 600"),
        ("DOCKYARD_PARALLEL_STARTS", "0", "use a whole number from 1 to 64"),
        ("DOCKYARD_LOG_LEVEL", "loud", "use one of debug, info, warning, error, critical"),
        ("DOCKYARD_URL", "localhost:8420", "use http://HOST:PORT or https://HOST"),
        ("DOCKYARD_TOKEN", "", "it is empty"),
        ("DOCKYARD_PUBLIC_URL", "dy.example.com", "use the http:// or https:// URL"),
        ("DOCKYARD_PUBLIC_URL", "ftp://dy.example.com", "use the http:// or https:// URL"),
        ("DOCKYARD_PUBLIC_URL", "https://", "use the http:// or https:// URL"),
        ("DOCKYARD_PUBLIC_URL", "https://dy.example.com/?x=1", "no user, query or fragment"),
        ("DOCKYARD_PUBLIC_URL", "https://dy.example.com/#top", "no user, query or fragment"),
        ("DOCKYARD_PUBLIC_URL", "https://ann:pw@dy.example.com", "no user, query or fragment"),
        ("DOCKYARD_PUBLIC_URL", "https://dy.example.com:99999", "from 1 to 65535"),
        ("DOCKYARD_GIT_TIMEOUT_S", "0", "use a number of seconds from 1 to 604800"),
        ("DOCKYARD_GIT_KEEP_DELETED_DAYS", "-1", "use a whole number from 0 to 3650"),
        ("DOCKYARD_DOCKER_NETWORK", "", "it is empty"),
        ("DOCKYARD_SUPERVISOR", "runit", "use one of auto, systemd, supervisord"),
    ],
)
def test_an_invalid_value_names_the_variable_and_the_fix(name: str, value: str, hint: str) -> None:
    with pytest.raises(Invalid) as caught:
        Settings.from_env({"HOME": "/h", name: value}, uid=0)
    assert caught.value.field == name
    assert caught.value.message.startswith(f"{name}={value!r} is invalid: ")
    assert hint in caught.value.message
    assert "\n" not in caught.value.message


def test_credentials_round_trip_with_owner_only_permissions(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "credentials.json"
    write_credentials(path, ClientCredentials("http://h:1", "dy_t"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert read_credentials(path) == ClientCredentials("http://h:1", "dy_t")
    assert json.loads(path.read_text()) == {"url": "http://h:1", "token": "dy_t"}


def test_missing_credentials_are_none_and_malformed_ones_say_what_to_do(tmp_path: Path) -> None:
    assert read_credentials(tmp_path / "absent.json") is None
    broken = tmp_path / "broken.json"
    broken.write_text('{"url": 1}')
    with pytest.raises(Invalid, match="delete it and log in again"):
        read_credentials(broken)


@pytest.mark.parametrize(
    ("endpoints", "managed"),
    [
        (None, True),  # the default endpoint
        ("http://127.0.0.1:23790", True),  # one member on this host
        ("http://localhost:23790", True),
        ("http://[::1]:23790", True),
        ("http://10.0.0.5:2379", False),  # a member elsewhere
        ("http://127.0.0.1:2379,http://127.0.0.1:2389", False),  # a cluster
    ],
)
def test_up_runs_etcd_only_for_one_member_on_this_host(
    endpoints: str | None, managed: bool
) -> None:
    environ = {"HOME": "/h"} | ({"DOCKYARD_ETCD_ENDPOINTS": endpoints} if endpoints else {})
    assert Settings.from_env(environ, uid=0).etcd.managed is managed


@pytest.mark.parametrize(
    ("urls", "managed"),
    [
        (None, True),  # the default URL
        ("nats://127.0.0.1:14222", True),  # one server on this host
        ("nats://localhost:14222", True),
        ("nats://10.0.0.5:4222", False),  # a server elsewhere
        ("nats://127.0.0.1:4222,nats://127.0.0.1:4223", False),  # a cluster
    ],
)
def test_up_runs_nats_server_only_for_one_server_on_this_host(
    urls: str | None, managed: bool
) -> None:
    environ = {"HOME": "/h"} | ({"DOCKYARD_NATS_URLS": urls} if urls else {})
    assert Settings.from_env(environ, uid=0).logs.managed is managed


def test_the_supervisor_is_chosen_by_the_host_unless_named() -> None:
    assert Settings.from_env({"HOME": "/h"}, uid=0).supervisor.kind == "auto"
    named = Settings.from_env({"HOME": "/h", "DOCKYARD_SUPERVISOR": "systemd"}, uid=0)
    assert named.supervisor.kind == "systemd"


def test_an_engine_of_the_platforms_own_answers_under_its_root_by_default() -> None:
    settings = Settings.from_env({"HOME": "/h", "DOCKYARD_DOCKERD_ROOT": "/srv/engine"}, uid=0)
    assert settings.docker.dockerd_root == Path("/srv/engine")
    assert settings.docker.host == "unix:///srv/engine/docker.sock"
    assert settings.docker.managed and not settings.docker.host_is_default


@pytest.mark.parametrize(
    ("environ", "managed"),
    [
        ({}, True),
        ({"DOCKYARD_DOCKER_HOST": "unix:///run/other.sock"}, False),
        ({"DOCKYARD_DOCKER_HOST": "tcp://10.0.0.1:2375"}, False),
        ({"DOCKYARD_DOCKERD_ROOT": "/e", "DOCKYARD_DOCKER_HOST": "unix:///run/e.sock"}, True),
    ],
)
def test_up_manages_the_default_engine_or_one_of_its_own(
    environ: dict[str, str], managed: bool
) -> None:
    assert Settings.from_env({"HOME": "/h", **environ}, uid=0).docker.managed is managed


def test_an_engine_of_the_platforms_own_listens_on_a_unix_socket_only() -> None:
    with pytest.raises(Invalid) as caught:
        Settings.from_env(
            {"HOME": "/h", "DOCKYARD_DOCKERD_ROOT": "/e", "DOCKYARD_DOCKER_HOST": "tcp://h:2375"},
            uid=0,
        )
    assert caught.value.field == "DOCKYARD_DOCKER_HOST"
    assert "unix" in caught.value.message
