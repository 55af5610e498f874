"""Alertmanager's API v2, the part Dockyard uses: silences made and expired for an alarm.

Errors are translated here once: Alertmanager down or refusing is Unavailable (503), with
what it said, so the API records nothing of a silence that was not made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from dockyard.domain.errors import Unavailable

TIMEOUT_S = 10.0


@dataclass(frozen=True)
class AlertmanagerClient:
    url: str
    transport: httpx.BaseTransport | None = None
    """Tests may pass one; None: the network."""

    def create_silence(
        self,
        labels: Mapping[str, str],
        *,
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
    ) -> str:
        """A silence of alerts with exactly `labels` until `ends_at`; its id."""
        body = {
            "matchers": [
                {"name": k, "value": v, "isRegex": False, "isEqual": True}
                for k, v in sorted(labels.items())
            ],
            "startsAt": starts_at.isoformat(),
            "endsAt": ends_at.isoformat(),
            "createdBy": created_by,
            "comment": comment or f"silenced by {created_by}",
        }
        answer = self._call("POST", "/api/v2/silences", json=body)
        silence = answer.get("silenceID") if isinstance(answer, dict) else None
        if not isinstance(silence, str):
            raise Unavailable(f"Alertmanager at {self.url} answered no silence id: {answer!r}")
        return silence

    def expire_silence(self, silence_id: str) -> None:
        """End the silence now; one already expired or unknown to Alertmanager is no error."""
        try:
            self._call("DELETE", f"/api/v2/silence/{silence_id}")
        except _NotThere:
            return

    def _call(self, method: str, path: str, *, json: Any = None) -> Any:
        try:
            with httpx.Client(timeout=TIMEOUT_S, transport=self.transport) as http:
                answer = http.request(method, self.url.rstrip("/") + path, json=json)
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"Alertmanager at {self.url} does not answer ({exc or type(exc).__name__}): "
                "nothing was changed; try again once it runs (`dockyard status`)"
            ) from exc
        if answer.status_code == httpx.codes.NOT_FOUND:
            raise _NotThere(answer.text)
        if answer.status_code >= 300:
            raise Unavailable(
                f"Alertmanager at {self.url} refused: {answer.status_code} {answer.text[:300]}"
            )
        return answer.json() if answer.content else None


class _NotThere(Unavailable):
    """Alertmanager knows no such thing (404)."""
