"""alertmanager.yml as Dockyard writes it (pure): every alert goes to the Dockyard server.

One webhook receiver: the server gets each alert as it fires and as it resolves, and keeps
the history and the teams' own receivers itself; Alertmanager only groups, repeats and
silences. The webhook carries the platform's webhook token (metrics/alarm_center.py) as a
bearer credential read from its file, so the token is never written into this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

WEBHOOK_PATH = "/api/v1/alerts/webhook"
"""Where on the server Alertmanager posts its notifications."""
RECEIVER = "dockyard"
GROUP_BY = ("alertname", "team", "service", "env", "host")
"""An alarm of one service in one environment (or of one host) is one notification, whatever
its instances."""
BUILTIN_MATCHER = 'dockyard_builtin="true"'
"""Dockyard's own event alarms (an instance exited, OOM-killed, crash-looping; no ready
instance; a host's disk full): posted to Alertmanager straight from the engine's events."""
BUILTIN_GROUP_WAIT_S = 1
"""Built-in alarms come from events, not from a scrape: they leave within a second."""


def alertmanager_config(
    server_url: str,
    *,
    token_file: Path | None = None,
    group_wait_s: int = 5,
    group_interval_s: int = 60,
    repeat_interval_s: int = 4 * 3600,
) -> dict[str, Any]:
    """alertmanager.yml: one route to one webhook at the server, resolved alerts included,
    authenticated with the token in `token_file` (None: no credential is sent).

    group_wait is short because an alarm should reach its team within seconds, and shorter
    still for built-in alarms; repeats are rare because the server keeps an alarm's state and
    shows it until it resolves.
    """
    webhook: dict[str, Any] = {"url": server_url.rstrip("/") + WEBHOOK_PATH, "send_resolved": True}
    if token_file is not None:
        webhook["http_config"] = {
            "authorization": {"type": "Bearer", "credentials_file": str(token_file)}
        }
    return {
        "route": {
            "receiver": RECEIVER,
            "group_by": list(GROUP_BY),
            "group_wait": f"{group_wait_s}s",
            "group_interval": f"{group_interval_s}s",
            "repeat_interval": f"{repeat_interval_s}s",
            "routes": [
                {
                    "receiver": RECEIVER,
                    "matchers": [BUILTIN_MATCHER],
                    "group_wait": f"{BUILTIN_GROUP_WAIT_S}s",
                    "group_interval": f"{min(group_interval_s, 10)}s",
                }
            ],
        },
        "receivers": [{"name": RECEIVER, "webhook_configs": [webhook]}],
    }
