"""Each receiver kind's payload for a notice: the shape its service reads, clipped to its
limits, and Dockyard's own JSON for plain webhooks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from dockyard.metrics.chat_payload import email_body, email_subject, headline
from dockyard.metrics.receivers import Notice, Receiver, ReceiverKind, payload

START = datetime(2026, 12, 7, 1, 2, 3, tzinfo=UTC)


def _notice(**changes: Any) -> Notice:
    fields: dict[str, Any] = {
        "team": "shop",
        "service": "cart",
        "env": "test",
        "alarm": "InstanceOOMKilled",
        "severity": "critical",
        "state": "firing",
        "summary": "cart-7 was killed for lack of memory",
        "labels": {"instance": "cart-7", "host": "h1"},
        "starts_at": START,
        "ends_at": None,
        "link": "https://dockyard.example/alarms/42",
    }
    return Notice(**{**fields, **changes})


def _body(kind: ReceiverKind, notice: Notice) -> Any:
    return json.loads(payload(Receiver("r", kind, "http://127.0.0.1:1/hook"), notice))


HEAD = "[FIRING] InstanceOOMKilled shop/cart (test)"
SAID = "cart-7 was killed for lack of memory"
LINK = "https://dockyard.example/alarms/42"
FACTS = {
    "team": "shop",
    "service": "cart",
    "env": "test",
    "severity": "critical",
    "instance": "cart-7",
    "host": "h1",
}
MATTERMOST_TEXT = "\n".join(
    [f"**{HEAD}**", SAID, *(f"- {k}: {v}" for k, v in FACTS.items()), f"[Details]({LINK})"]
)
WECOM_CONTENT = "\n".join(
    [
        f'<font color="warning">**{HEAD}**</font>',
        SAID,
        *(f'> {k}: <font color="comment">{v}</font>' for k, v in FACTS.items()),
        f"[Details]({LINK})",
    ]
)
INSTANCE_FIELD = {"title": "instance", "value": "cart-7", "short": True}


@pytest.mark.parametrize(
    ("kind", "path", "expected"),
    [
        (ReceiverKind.SLACK, ("text",), f"*{HEAD}*: {SAID}"),
        (ReceiverKind.SLACK, ("attachments", 0, "color"), "#d00000"),
        (ReceiverKind.SLACK, ("attachments", 0, "title_link"), LINK),
        (ReceiverKind.SLACK, ("attachments", 0, "fields", 4), INSTANCE_FIELD),
        (ReceiverKind.MATTERMOST, ("text",), MATTERMOST_TEXT),
        (ReceiverKind.DISCORD, ("content",), f"**{HEAD}**: {SAID}"),
        (ReceiverKind.DISCORD, ("embeds", 0, "color"), 0xD00000),
        (ReceiverKind.DISCORD, ("embeds", 0, "url"), LINK),
        (ReceiverKind.DISCORD, ("embeds", 0, "timestamp"), "2026-12-07T01:02:03+00:00"),
        (ReceiverKind.WECOM, ("msgtype",), "markdown"),
        (ReceiverKind.WECOM, ("markdown", "content"), WECOM_CONTENT),
        (ReceiverKind.WEBHOOK, ("alarm",), "InstanceOOMKilled"),
        (ReceiverKind.WEBHOOK, ("starts_at",), "2026-12-07T01:02:03+00:00"),
        (ReceiverKind.WEBHOOK, ("ends_at",), None),
        (ReceiverKind.WEBHOOK, ("labels",), {"host": "h1", "instance": "cart-7"}),
    ],
)
def test_payload_has_each_kinds_shape(
    kind: ReceiverKind, path: tuple[str | int, ...], expected: Any
) -> None:
    value = _body(kind, _notice())
    for step in path:
        value = value[step]
    assert value == expected


@pytest.mark.parametrize(
    ("kind", "path", "expected"),
    [
        (ReceiverKind.SLACK, ("attachments", 0, "color"), "#2eb886"),
        (ReceiverKind.DISCORD, ("embeds", 0, "color"), 0x2EB886),
        (ReceiverKind.WEBHOOK, ("state",), "resolved"),
        (ReceiverKind.WEBHOOK, ("ends_at",), "2026-12-07T01:12:03+00:00"),
    ],
)
def test_resolved_notice_reads_as_resolved(
    kind: ReceiverKind, path: tuple[str | int, ...], expected: Any
) -> None:
    resolved = _notice(state="resolved", ends_at=START.replace(minute=12))
    value = _body(kind, resolved)
    for step in path:
        value = value[step]
    assert value == expected
    assert "[RESOLVED]" in headline(resolved)


def test_host_alarm_without_service_names_only_the_team() -> None:
    notice = _notice(service=None, env=None, link=None, labels={})
    assert headline(notice) == "[FIRING] InstanceOOMKilled shop"
    body = _body(ReceiverKind.DISCORD, notice)
    assert "url" not in body["embeds"][0]
    assert [f["name"] for f in body["embeds"][0]["fields"]] == ["team", "severity"]


def test_slack_text_cannot_mention_a_channel() -> None:
    body = _body(ReceiverKind.SLACK, _notice(summary="<!channel> & friends"))
    assert "<!channel>" not in body["text"]
    assert "&lt;!channel&gt; &amp; friends" in body["text"]


@pytest.mark.parametrize(
    ("kind", "path", "limit", "measure"),
    [
        (ReceiverKind.DISCORD, ("content",), 2000, len),
        (ReceiverKind.DISCORD, ("embeds", 0, "description"), 4096, len),
        (ReceiverKind.WECOM, ("markdown", "content"), 4096, lambda s: len(s.encode())),
        (ReceiverKind.SLACK, ("text",), 3000, len),
    ],
)
def test_long_summary_is_clipped_to_the_services_limit(
    kind: ReceiverKind, path: tuple[str | int, ...], limit: int, measure: Any
) -> None:
    value = _body(kind, _notice(summary="é" * 10_000))
    for step in path:
        value = value[step]
    assert measure(value) <= limit
    assert value.endswith("…")


def test_email_has_headline_subject_and_facts_in_body() -> None:
    notice = _notice(state="resolved", ends_at=START.replace(minute=12))
    assert email_subject(notice) == "[RESOLVED] InstanceOOMKilled shop/cart (test)"
    body = email_body(notice)
    assert body.startswith("cart-7 was killed for lack of memory\n")
    assert "instance: cart-7\n" in body
    assert "ended: 2026-12-07T01:12:03+00:00\n" in body
    assert "details: https://dockyard.example/alarms/42\n" in body


def test_email_receiver_has_no_json_payload() -> None:
    with pytest.raises(ValueError, match="e-mail"):
        payload(Receiver("mail", ReceiverKind.EMAIL, "ops@example.com"), _notice())
