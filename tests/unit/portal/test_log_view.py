"""The Logs page's pure parts: instance colours, cut lines, the form as filters, shown lines."""

from __future__ import annotations

import pytest

from dockyard.domain.environment import Environment
from dockyard.domain.errors import Invalid
from dockyard.logs.cut import marker
from dockyard.logs.index.base import Filters, Hit
from dockyard.portal.log_view import (
    PALETTE,
    LogForm,
    LogPage,
    colour_of,
    moment_ns,
    shown,
    split_cut,
)

TEST = Environment.TEST
NS = 1_000_000_000
T = 1_765_015_200 * NS  # 2025-12-06T10:00:00Z


def hit(text: str, *, stream: str = "stdout", instance: str = "7f3a9c01d2") -> Hit:
    return Hit(
        team="payments", service="api", env="test", instance=instance, channel="console",
        stream=stream, seq=7, time_ns=T + 123_456_789, level="error", text=text,
    )  # fmt: skip


def test_an_instance_keeps_its_colour_and_instances_spread_over_the_palette() -> None:
    ids = [f"{n:010x}" for n in range(200)]
    assert [colour_of(i) for i in ids] == [colour_of(i) for i in ids]
    assert colour_of("7f3a9c01d2") == 3  # a CRC: the same in every process, unlike hash()
    assert {colour_of(i) for i in ids} == set(range(PALETTE))


@pytest.mark.parametrize(
    ("text", "body", "cut"),
    [
        ("plain line", "plain line", 0),
        ("long" + marker(5000), "long", 5000),
        ("… [cut 12 bytes] in the middle", "… [cut 12 bytes] in the middle", 0),
        ("x" + marker(0), "x", 0),
        ("", "", 0),
    ],
)
def test_a_cut_line_is_split_from_its_marker(text: str, body: str, cut: int) -> None:
    assert split_cut(text) == (body, cut)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("2025-12-06T10:00", T),
        ("2025-12-06T10:00:00Z", T),
        ("2025-12-06 10:00:01", T + NS),
        ("2025-12-06T11:00:00+01:00", T),
        ("2025-12-06T10:00:00.5Z", T + NS // 2),
    ],
)
def test_form_times_are_utc_unless_they_say_otherwise(text: str, expected: int | None) -> None:
    assert moment_ns(text, "since") == expected


@pytest.mark.parametrize(
    ("form", "field", "words"),
    [
        (LogForm(since="yesterday"), "since", "not a time"),
        (LogForm(since="2025-12-06T10:00", until="2025-12-06T09:00"), "until", "later"),
        (LogForm(level="loud"), None, "unknown level"),
    ],
)
def test_a_wrong_form_names_its_field(form: LogForm, field: str | None, words: str) -> None:
    with pytest.raises(Invalid) as caught:
        form.filters(team="payments", service="api", env=TEST)
    assert caught.value.field == field and words in caught.value.message


def test_the_form_becomes_filters_of_the_service_and_environment() -> None:
    form = LogForm(q="boom", instance=" 7f3a ", stream="stderr", level="WARNING",
                   since="2025-12-06T10:00")  # fmt: skip
    assert form.filters(team="payments", service="api", env=TEST) == Filters(
        team="payments", service="api", env="test", instances=("7f3a",), streams=("stderr",),
        levels=("warn",), since_ns=T,
    )  # fmt: skip


def test_the_older_link_keeps_the_form_and_adds_the_cursor() -> None:
    form = LogForm(q='"a b" -c', level="error")
    page = LogPage("payments", "api", TEST, form, (), next_cursor="abc")
    assert (
        page.older_url("/ui/x/logs") == "/ui/x/logs?env=test&q=%22a+b%22+-c&level=error&cursor=abc"
    )
    assert LogPage("payments", "api", TEST, form, ()).older_url("/ui/x/logs") is None


def test_a_shown_line_links_its_instance_row_and_keeps_its_text_raw() -> None:
    line = shown(hit("<script>alert(1)</script>" + marker(9), stream="stderr"),
                 service_url="/ui/teams/payments/services/api")  # fmt: skip
    assert line.text == "<script>alert(1)</script>"  # escaped where it is drawn, never here
    assert (line.cut, line.stderr, line.time) == (9, True, "12-06 10:00:00.123")
    assert line.stamp == "2025-12-06T10:00:00.123456789Z"
    assert line.href == "/ui/teams/payments/services/api?env=test#instance-7f3a9c01d2"
    assert line.as_event()["colour"] == colour_of("7f3a9c01d2")
