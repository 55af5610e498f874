"""The dockerd `dockyard up` runs: the host's default one as it always was, or one of the
platform's own whose state is all under its root and which leaves bridge and iptables alone."""

from __future__ import annotations

from pathlib import Path

from dockyard.cli.platform import dockerd_process, prepare_own_engine
from dockyard.network.bridge import own_bridge, remove_bridge
from dockyard.settings import Settings


def _settings(**environ: str) -> Settings:
    return Settings.from_env({"HOME": "/h", "DOCKYARD_STATE_DIR": "/s", **environ}, uid=0)


def test_the_default_engine_is_started_as_before() -> None:
    process = dockerd_process(_settings(), "/usr/sbin/dockerd")
    assert process.argv == ("/usr/sbin/dockerd", "--host", "unix:///var/run/docker.sock")
    assert process.pid_file == Path("/s/run/dockerd.pid")


def test_an_engine_of_its_own_keeps_everything_under_its_root() -> None:
    process = dockerd_process(_settings(DOCKYARD_DOCKERD_ROOT="/e"), "dockerd")
    assert process.argv == (
        "dockerd",
        "--host",
        "unix:///e/docker.sock",
        "--data-root=/e/data",
        "--exec-root=/e/run",
        "--pidfile=/e/dockerd.pid",
        "--config-file=/e/daemon.json",
        f"--bridge={own_bridge(Path('/e'))[0]}",
        "--iptables=false",
        "--ip-masq=false",
    )
    assert process.name == "dockerd"  # one program of the supervisor, as the default one


def test_its_configuration_file_is_written_once_and_then_left_to_the_operator(
    tmp_path: Path,
) -> None:
    docker = _settings(DOCKYARD_DOCKERD_ROOT=str(tmp_path / "engine")).docker
    bridge, _ = own_bridge(tmp_path / "engine")
    try:
        prepare_own_engine(docker)
        config = tmp_path / "engine" / "daemon.json"
        assert config.read_text() == "{}\n"
        config.write_text('{"debug": true}\n')

        prepare_own_engine(docker)

        assert config.read_text() == '{"debug": true}\n'
        # Its own bridge, made once: with --bridge=none dockerd deletes the host's docker0.
        assert (Path("/sys/class/net") / bridge).is_dir()
    finally:
        remove_bridge(bridge)
