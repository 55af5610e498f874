"""A line's severity as each drain protocol writes it, from the level Dockyard finds in its
text (logs/level.py). A line without a level is sent as informational."""

from __future__ import annotations

from dockyard.logs.level import level_of

SYSLOG_SEVERITY = {"fatal": 2, "error": 3, "warn": 4, "info": 6, "debug": 7, "trace": 7}
"""RFC 5424 severities: crit, err, warning, informational, debug."""
OTLP_SEVERITY = {"fatal": 21, "error": 17, "warn": 13, "info": 9, "debug": 5, "trace": 1}
"""OpenTelemetry SeverityNumber of each level's first step (FATAL, ERROR, WARN ...)."""
UNKNOWN = "info"


def line_level(text: str) -> str:
    """One of logs/query.LEVELS; "info" when the line names none."""
    return level_of(text) or UNKNOWN
