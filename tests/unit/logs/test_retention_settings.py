"""The log center's retention, caps and archive S3 settings as read from the environment."""

from __future__ import annotations

import pytest

from dockyard.domain.errors import Invalid
from dockyard.logs.retention import Caps, Days
from dockyard.settings import LogSettings, Settings

G = 1 << 30


def _logs(**environ: str) -> LogSettings:
    return Settings.from_env({"HOME": "/h", **environ}, uid=0).logs


def test_defaults_keep_a_week_searchable_and_ninety_days_archived_without_caps() -> None:
    logs = _logs()
    assert (logs.index_retention, logs.archive_retention) == (Days(7), Days(90))
    assert (logs.index_days, logs.archive_days) == (7, 90)
    assert logs.index_caps == Caps()
    assert logs.retention_every_s == 600.0
    assert logs.archive_storage_options == {}


def test_days_per_environment_keep_a_bare_number_as_the_default() -> None:
    logs = _logs(DOCKYARD_LOG_INDEX_DAYS="7,online=30,stable=14", DOCKYARD_LOG_ARCHIVE_DAYS="30")
    assert logs.index_retention == Days(7, {"online": 30, "stable": 14})
    assert logs.index_days == 7 and logs.index_retention.of("online") == 30
    assert logs.archive_retention == Days(30)


def test_caps_for_the_host_and_per_team() -> None:
    logs = _logs(DOCKYARD_LOG_INDEX_CAP_BYTES="200G", DOCKYARD_LOG_TEAM_CAP_BYTES="20G,shop=50G")
    assert logs.index_caps == Caps(host=200 * G, team=20 * G, teams={"shop": 50 * G})
    assert logs.archive_cap_bytes is None
    assert _logs(DOCKYARD_LOG_ARCHIVE_CAP_BYTES="2T").archive_cap_bytes == 2 << 40
    assert logs.index_caps.of("bank") == 20 * G and logs.index_caps.of("shop") == 50 * G


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("DOCKYARD_LOG_INDEX_DAYS", "7,prod=30", "unknown environment"),
        ("DOCKYARD_LOG_ARCHIVE_DAYS", "0", "from 1 to 36500"),
        ("DOCKYARD_LOG_INDEX_CAP_BYTES", "lots", "not a size"),
        ("DOCKYARD_LOG_TEAM_CAP_BYTES", "20G,Shop=1G", "not a valid name"),
        ("DOCKYARD_LOG_ARCHIVE_S3_KEY", "k", "DOCKYARD_LOG_ARCHIVE_S3_SECRET is missing"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str, complaint: str) -> None:
    with pytest.raises(Invalid, match=complaint) as raised:
        _logs(**{name: value})
    assert raised.value.field in (name, "DOCKYARD_LOG_ARCHIVE_S3_SECRET")


def test_s3_options_go_to_fsspec_only_for_an_s3_archive() -> None:
    s3 = {
        "DOCKYARD_LOG_ARCHIVE_S3_ENDPOINT": "http://127.0.0.1:9000",
        "DOCKYARD_LOG_ARCHIVE_S3_KEY": "k",
        "DOCKYARD_LOG_ARCHIVE_S3_SECRET": "s",
        "DOCKYARD_LOG_ARCHIVE_S3_REGION": "eu-west-1",
    }
    logs = _logs(DOCKYARD_LOG_ARCHIVE_URL="s3://logs/dockyard", **s3)
    assert logs.archive_storage_options == {
        "endpoint_url": "http://127.0.0.1:9000",
        "key": "k",
        "secret": "s",
        "client_kwargs": {"region_name": "eu-west-1"},
    }
    assert _logs(DOCKYARD_LOG_ARCHIVE_URL="/srv/archive", **s3).archive_storage_options == {}
