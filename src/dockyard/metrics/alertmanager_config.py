"""alertmanager.yml as Dockyard writes it (pure): every alert goes to the Dockyard server.

One webhook receiver: the server gets each alert as it fires and as it resolves, and keeps
the history and the teams' own receivers itself; Alertmanager only groups, repeats and
silences.
"""

from __future__ import annotations

from typing import Any

WEBHOOK_PATH = "/api/v1/alerts/webhook"
"""Where on the server Alertmanager posts its notifications."""
RECEIVER = "dockyard"
GROUP_BY = ("alertname", "team", "service", "env")
"""An alarm of one service in one environment is one notification, whatever its instances."""


def alertmanager_config(
    server_url: str,
    *,
    group_wait_s: int = 5,
    group_interval_s: int = 60,
    repeat_interval_s: int = 4 * 3600,
) -> dict[str, Any]:
    """alertmanager.yml: one route to one webhook at the server, resolved alerts included.

    group_wait is short because an alarm should reach its team within seconds; repeats are
    rare because the server keeps an alarm's state and shows it until it resolves.
    """
    return {
        "route": {
            "receiver": RECEIVER,
            "group_by": list(GROUP_BY),
            "group_wait": f"{group_wait_s}s",
            "group_interval": f"{group_interval_s}s",
            "repeat_interval": f"{repeat_interval_s}s",
        },
        "receivers": [
            {
                "name": RECEIVER,
                "webhook_configs": [
                    {"url": server_url.rstrip("/") + WEBHOOK_PATH, "send_resolved": True}
                ],
            }
        ],
    }
