"""The nats-server program `dockyard up` runs: where it listens and keeps its store (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.cli.nats import nats_process
from dockyard.settings import Settings


@pytest.mark.parametrize(
    ("urls", "addr", "port"),
    [
        (None, "127.0.0.1", "4222"),  # the default URL
        ("nats://127.0.0.1:14222", "127.0.0.1", "14222"),
        ("nats://localhost", "localhost", "4222"),  # NATS's own port when none is named
        ("nats://[::1]:4333", "::1", "4333"),
    ],
)
def test_nats_server_listens_on_the_one_url_with_jetstream_in_the_state_dir(
    urls: str | None, addr: str, port: str
) -> None:
    environ = {"HOME": "/h", "DOCKYARD_STATE_DIR": "/srv/dy"}
    settings = Settings.from_env(environ | ({"DOCKYARD_NATS_URLS": urls} if urls else {}), uid=0)
    process = nats_process(settings)
    assert process.name == "nats"
    assert process.argv[1:] == (
        f"--addr={addr}", f"--port={port}", "--jetstream", "--store_dir=/srv/dy/nats",
        "--server_name=dockyard",
    )  # fmt: skip
    assert process.log_file == Path("/srv/dy/logs/nats.log")
