"""The bytes each kind of receiver is sent for a notice: Slack's and Mattermost's `text` (with
Slack's coloured attachment), Discord's `content` and embed, a WeCom robot's markdown, and
Dockyard's own JSON for plain webhooks; the e-mail's subject and body. Pure: no I/O.

Chat services cap their messages (Discord 2,000 characters of content, 4,096 of an embed's
description; WeCom 4,096 bytes of markdown), so long summaries are clipped, never refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from dockyard.domain.alarm import ReceiverKind
from dockyard.metrics.notice import Notice, Receiver

FIRING_COLOUR = 0xD00000
RESOLVED_COLOUR = 0x2EB886
DISCORD_CONTENT_MAX = 2000
DISCORD_DESCRIPTION_MAX = 4096
WECOM_MAX_BYTES = 4096
SLACK_TEXT_MAX = 3000  # Slack truncates longer messages in its clients
ELLIPSIS = "…"


def payload(receiver: Receiver, notice: Notice) -> bytes:
    """The UTF-8 JSON body to POST to `receiver` for `notice`.

    Raises ValueError for an EMAIL receiver: its message is `email_subject`/`email_body`."""
    if receiver.kind is ReceiverKind.EMAIL:
        raise ValueError("an e-mail receiver is sent a message, not a JSON payload")
    body = _SHAPES[receiver.kind](notice)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def headline(notice: Notice) -> str:
    """One line: `[FIRING] InstanceOOMKilled shop/cart (test)`."""
    where = notice.team if notice.service is None else f"{notice.team}/{notice.service}"
    if notice.env is not None:
        where = f"{where} ({notice.env})"
    return f"[{notice.state.upper()}] {notice.alarm} {where}"


def notice_json(notice: Notice) -> dict[str, Any]:
    """Dockyard's own JSON of a notice, for plain webhooks (times in ISO 8601, UTC offset kept)."""
    return {
        "team": notice.team,
        "service": notice.service,
        "env": notice.env,
        "alarm": notice.alarm,
        "severity": notice.severity,
        "state": notice.state,
        "summary": notice.summary,
        "labels": dict(sorted(notice.labels.items())),
        "starts_at": notice.starts_at.isoformat(),
        "ends_at": _iso(notice.ends_at),
        "link": notice.link,
    }


def email_subject(notice: Notice) -> str:
    return headline(notice)


def email_body(notice: Notice) -> str:
    """Plain text: the summary, then one `key: value` line per fact."""
    lines = [notice.summary, ""]
    lines += [f"{key}: {value}" for key, value in _facts(notice)]
    lines.append(f"started: {notice.starts_at.isoformat()}")
    if notice.ends_at is not None:
        lines.append(f"ended: {notice.ends_at.isoformat()}")
    if notice.link:
        lines.append(f"details: {notice.link}")
    return "\n".join(lines) + "\n"


def _slack(notice: Notice) -> dict[str, Any]:
    text = _clip(
        f"*{_slack_escape(headline(notice))}*: {_slack_escape(notice.summary)}", SLACK_TEXT_MAX
    )
    attachment: dict[str, Any] = {
        "fallback": _clip(f"{headline(notice)}: {notice.summary}", SLACK_TEXT_MAX),
        "color": _hex(notice),
        "title": headline(notice),
        "text": _clip(notice.summary, SLACK_TEXT_MAX),
        "fields": [{"title": k, "value": v, "short": True} for k, v in _facts(notice)],
        "ts": int(notice.starts_at.timestamp()),
    }
    if notice.link:
        attachment["title_link"] = notice.link
    return {"text": text, "attachments": [attachment]}


def _mattermost(notice: Notice) -> dict[str, Any]:
    lines = [f"**{headline(notice)}**", notice.summary]
    lines += [f"- {key}: {value}" for key, value in _facts(notice)]
    if notice.link:
        lines.append(f"[Details]({notice.link})")
    return {"text": _clip("\n".join(lines), SLACK_TEXT_MAX)}


def _discord(notice: Notice) -> dict[str, Any]:
    embed: dict[str, Any] = {
        "title": _clip(headline(notice), 256),
        "description": _clip(notice.summary, DISCORD_DESCRIPTION_MAX),
        "color": FIRING_COLOUR if notice.state == "firing" else RESOLVED_COLOUR,
        "fields": [{"name": k, "value": v, "inline": True} for k, v in _facts(notice)],
        "timestamp": notice.starts_at.isoformat(),
    }
    if notice.link:
        embed["url"] = notice.link
    content = _clip(f"**{headline(notice)}**: {notice.summary}", DISCORD_CONTENT_MAX)
    return {"content": content, "embeds": [embed]}


def _wecom(notice: Notice) -> dict[str, Any]:
    colour = "warning" if notice.state == "firing" else "info"
    lines = [f'<font color="{colour}">**{headline(notice)}**</font>', notice.summary]
    lines += [f'> {key}: <font color="comment">{value}</font>' for key, value in _facts(notice)]
    if notice.link:
        lines.append(f"[Details]({notice.link})")
    content = _clip_bytes("\n".join(lines), WECOM_MAX_BYTES)
    return {"msgtype": "markdown", "markdown": {"content": content}}


_SHAPES: dict[ReceiverKind, Callable[[Notice], dict[str, Any]]] = {
    ReceiverKind.WEBHOOK: notice_json,
    ReceiverKind.SLACK: _slack,
    ReceiverKind.MATTERMOST: _mattermost,
    ReceiverKind.DISCORD: _discord,
    ReceiverKind.WECOM: _wecom,
}


def _facts(notice: Notice) -> list[tuple[str, str]]:
    """The facts shown beside the summary, in a fixed order, absent ones left out."""
    facts = [
        ("team", notice.team),
        ("service", notice.service),
        ("env", notice.env),
        ("severity", notice.severity),
        ("instance", notice.labels.get("instance")),
        ("host", notice.labels.get("host")),
    ]
    return [(key, value) for key, value in facts if value]


def _hex(notice: Notice) -> str:
    return f"#{FIRING_COLOUR if notice.state == 'firing' else RESOLVED_COLOUR:06x}"


def _slack_escape(text: str) -> str:
    # Slack reads <...> as links and mentions: escape them so a summary cannot ping a channel.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def _clip_bytes(text: str, limit: int) -> str:
    if len(text.encode()) <= limit:
        return text
    room = limit - len(ELLIPSIS.encode())
    return text.encode()[:room].decode(errors="ignore") + ELLIPSIS


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
