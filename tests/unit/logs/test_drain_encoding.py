"""What each drain kind puts on the wire, as tables: RFC 5424 syslog frames with RFC 6587
octet counting, NDJSON records, OTLP/HTTP JSON exports; and the drain rules of domain/drain.py
(subjects, which lines a drain takes, refused specs)."""

from __future__ import annotations

import json
import re

import pytest

from dockyard.domain.drain import DrainKind, DrainSpec, consumer_name
from dockyard.domain.environment import Environment
from dockyard.domain.errors import Invalid
from dockyard.logs.drains import ndjson, otlp, syslog
from dockyard.logs.record import Batch, Line, Source

SOURCE = Source("alpha", "web", Environment.ONLINE, "a1b2c3d4e5", host="host-1")
T0 = 1_765_000_000_123_456_789  # 2025-12-06T05:46:40.123456789Z


def _batch(*texts: str, first: int = 1, source: Source = SOURCE) -> Batch:
    lines = tuple(
        Line(first + i, T0 + i, "stderr" if "ERROR" in t else "stdout", t)
        for i, t in enumerate(texts)
    )
    return Batch(source, lines)


# ---- syslog ----


def _unframe(data: bytes) -> list[bytes]:
    """Split octet-counted frames, checking each count."""
    out = []
    while data:
        length, _, rest = data.partition(b" ")
        out.append(rest[: int(length)])
        data = rest[int(length) :]
    return out


@pytest.mark.parametrize(
    ("text", "pri", "msgid"),
    [
        ("hello", "<14>", "stdout"),  # user.info: no level found
        ("ERROR boom", "<11>", "stderr"),  # user.err
        ("WARN low disk", "<12>", "stdout"),
        ('{"level":"debug","msg":"x"}', "<15>", "stdout"),
        ("FATAL gone", "<10>", "stdout"),  # crit
    ],
)
def test_a_syslog_frame_is_rfc5424_with_its_octet_count(text: str, pri: str, msgid: str) -> None:
    line = _batch(text).lines[0]
    framed = syslog.frame(SOURCE, line)
    (message,) = _unframe(framed)
    assert framed == f"{len(message)} ".encode() + message
    header, _, body = message.decode().partition(" [")
    assert header == f"{pri}1 2025-12-06T05:46:40.123456Z a1b2c3d4e5 web - {msgid}"
    sd, _, msg = body.partition("] ")
    assert sd == 'dockyard@32473 team="alpha" env="online" host="host-1" seq="1"'
    assert msg == "\ufeff" + text


def test_a_syslog_frame_counts_octets_not_characters_and_escapes_params() -> None:
    source = Source("alpha", "web", Environment.TEST, "i1", channel="/app/x.log", host='h"]\\')
    line = Line(3, T0, "/app/x.log", "naïve ünïcode\nsecond")
    (message,) = _unframe(syslog.frame(source, line))
    assert message.decode().endswith("\ufeffnaïve ünïcode\nsecond")
    assert " file [" in message.decode()  # a declared file's MSGID
    assert 'host="h\\"\\]\\\\"' in message.decode()


def test_syslog_header_fields_are_printable_ascii_within_their_limits() -> None:
    assert syslog._token("a b\tc", 48) == "a_b_c"
    assert syslog._token("x" * 60, 48) == "x" * 48
    assert syslog._token("", 48) == "-"


# ---- NDJSON ----


def test_ndjson_is_one_object_per_line_in_order() -> None:
    data = ndjson.encode([_batch("one", "ERROR two"), _batch("three", first=3)])
    assert data.endswith(b"\n")
    records = [json.loads(r) for r in data.splitlines()]
    assert [r["text"] for r in records] == ["one", "ERROR two", "three"]
    assert [r["seq"] for r in records] == [1, 2, 3]
    first = records[0]
    assert {k: first[k] for k in ("team", "service", "env", "instance", "stream")} == {
        "team": "alpha",
        "service": "web",
        "env": "online",
        "instance": "a1b2c3d4e5",
        "stream": "stdout",
    }
    assert first["time"] == "2025-12-06T05:46:40.123456789Z"
    assert [r["level"] for r in records] == ["", "error", ""]


# ---- OTLP ----


def test_otlp_groups_lines_by_instance_with_resource_attributes() -> None:
    other = Source("alpha", "api", Environment.TEST, "ffff000011")
    body = json.loads(otlp.encode([_batch("a", "ERROR b"), _batch("c", source=other)]))
    first, second = body["resourceLogs"]
    attributes = {a["key"]: a["value"]["stringValue"] for a in first["resource"]["attributes"]}
    assert attributes == {
        "service.name": "web",
        "dockyard.team": "alpha",
        "dockyard.env": "online",
        "dockyard.instance": "a1b2c3d4e5",
        "host.name": "host-1",
    }
    records = first["scopeLogs"][0]["logRecords"]
    assert [r["body"]["stringValue"] for r in records] == ["a", "ERROR b"]
    assert records[0]["timeUnixNano"] == str(T0)
    assert [(r["severityNumber"], r["severityText"]) for r in records] == [
        (9, "INFO"),
        (17, "ERROR"),
    ]
    assert second["scopeLogs"][0]["logRecords"][0]["body"]["stringValue"] == "c"


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("http://collector:4318", "http://collector:4318/v1/logs"),
        ("http://collector:4318/", "http://collector:4318/v1/logs"),
        ("https://c/otel/v1/logs", "https://c/otel/v1/logs"),
        ("https://c/otel", "https://c/otel/v1/logs"),
    ],
)
def test_otlp_posts_to_the_logs_endpoint(url: str, endpoint: str) -> None:
    assert otlp.export_url(url) == endpoint


# ---- drain rules ----


def _spec(**change: object) -> DrainSpec:
    values: dict[str, object] = {
        "team": "alpha",
        "name": "siem",
        "kind": DrainKind.HTTP,
        "url": "http://127.0.0.1:9000/in",
    }
    return DrainSpec(**{**values, **change})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("services", "envs", "subject"),
    [
        ((), (), "dockyard.logs.alpha.>"),
        (("web",), (), "dockyard.logs.alpha.web.*.*"),
        ((), (Environment.ONLINE,), "dockyard.logs.alpha.*.online.*"),
        (("web",), (Environment.TEST,), "dockyard.logs.alpha.web.test.*"),
        (("web", "api"), (Environment.TEST,), "dockyard.logs.alpha.*.test.*"),
    ],
)
def test_a_drains_consumer_reads_its_teams_subjects_only(
    services: tuple[str, ...], envs: tuple[Environment, ...], subject: str
) -> None:
    assert _spec(services=services, envs=envs).subject == subject


@pytest.mark.parametrize(
    ("team", "service", "env", "taken"),
    [
        ("alpha", "web", "test", True),
        ("alpha", "api", "test", True),
        ("alpha", "db", "test", False),
        ("alpha", "web", "online", False),
        ("bravo", "web", "test", False),
    ],
)
def test_a_drain_takes_the_lines_its_filter_names(
    team: str, service: str, env: str, taken: bool
) -> None:
    spec = _spec(services=("web", "api"), envs=(Environment.TEST, Environment.STABLE))
    assert spec.takes(team=team, service=service, env=env) is taken


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"url": "syslog://h:514"}, "url"),
        ({"kind": DrainKind.SYSLOG, "url": "syslog://h"}, "url"),
        ({"kind": DrainKind.SYSLOG, "url": "syslog://h:99999"}, "url"),
        ({"url": "http://h/ x"}, "url"),
        ({"url": "http://[::1/x"}, "url"),
        ({"url": "http://h:0x/"}, "url"),
        ({"ca_file": "/ca.pem"}, "ca_file"),
        ({"verify": False}, "ca_file"),
        ({"kind": DrainKind.SYSLOG, "url": "syslog://h:1", "headers": (("a", "b"),)}, "headers"),
        ({"headers": (("bad name", "b"),)}, "headers"),
        ({"headers": (("X-Token", "a\nb"),)}, "headers"),
        ({"name": "Bad"}, "name"),
    ],
)
def test_a_bad_drain_spec_is_invalid(change: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as raised:
        _spec(**change)
    assert raised.value.field == field


def test_tls_drains_may_carry_a_ca_file_and_skip_verification() -> None:
    assert _spec(kind=DrainKind.SYSLOG, url="syslog+tls://h:6514", verify=False).tls
    assert _spec(url="https://h/in", ca_file="/etc/ca.pem").tls


def test_a_drains_consumer_name_is_a_valid_durable_name() -> None:
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", consumer_name(12345))
