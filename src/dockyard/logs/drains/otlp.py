"""OTLP drains: each send is one OTLP/HTTP JSON export (`POST .../v1/logs`), one ResourceLogs
per instance (resource attributes service.name, dockyard.team, dockyard.env,
dockyard.instance, host.name) holding its lines as LogRecords in order (timeUnixNano,
severityNumber/Text from the line's level, body; log.iostream and dockyard.seq attributes).
64-bit integers are JSON strings, as OTLP's JSON mapping writes them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dockyard.domain.drain import DrainSpec
from dockyard.logs.drains.level import OTLP_SEVERITY, line_level
from dockyard.logs.drains.poster import Poster
from dockyard.logs.record import Batch, Line, Source

LOGS_PATH = "/v1/logs"
SCOPE = {"name": "dockyard.drain"}


def export_url(url: str) -> str:
    """The collector's logs endpoint: `url` itself if it ends in /v1/logs, else that path
    appended to it (a collector's base URL is what most tools show)."""
    parts = urlsplit(url)
    if parts.path.rstrip("/").endswith(LOGS_PATH):
        return url
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + LOGS_PATH))


def encode(batches: Sequence[Batch]) -> bytes:
    """An ExportLogsServiceRequest as JSON: the batches' lines grouped by instance, in order."""
    groups: dict[tuple[str, str, str, str, str], tuple[Source, list[dict[str, Any]]]] = {}
    for batch in batches:
        s = batch.source
        key = (s.team, s.service, str(s.env), s.instance, s.host)
        records = groups.setdefault(key, (s, []))[1]
        records.extend(_record(line) for line in batch.lines)
    body = {
        "resourceLogs": [
            {
                "resource": {"attributes": _resource(source)},
                "scopeLogs": [{"scope": SCOPE, "logRecords": records}],
            }
            for source, records in groups.values()
        ]
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _resource(s: Source) -> list[dict[str, Any]]:
    return _attributes(
        {
            "service.name": s.service,
            "dockyard.team": s.team,
            "dockyard.env": str(s.env),
            "dockyard.instance": s.instance,
            "host.name": s.host,
        }
    )


def _record(line: Line) -> dict[str, Any]:
    level = line_level(line.text)
    return {
        "timeUnixNano": str(line.time_ns),
        "severityNumber": OTLP_SEVERITY[level],
        "severityText": level.upper(),
        "body": {"stringValue": line.text},
        "attributes": [
            *_attributes({"log.iostream": line.stream}),
            {"key": "dockyard.seq", "value": {"intValue": str(line.seq)}},
        ],
    }


def _attributes(values: dict[str, str]) -> list[dict[str, Any]]:
    return [{"key": k, "value": {"stringValue": v}} for k, v in values.items() if v]


class OtlpDestination:
    """POSTs OTLP/HTTP JSON to the drain's logs endpoint; see Poster for what `send` promises."""

    def __init__(self, spec: DrainSpec) -> None:
        self._poster = Poster(spec, export_url(spec.url), content_type="application/json")

    async def send(self, batches: Sequence[Batch]) -> None:
        await self._poster.post(encode(batches))

    async def close(self) -> None:
        await self._poster.close()
