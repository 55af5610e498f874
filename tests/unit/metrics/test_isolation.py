"""A team's PromQL is confined to its own series: every selector, wherever it sits, carries the
team's matcher and no other team matcher; what cannot be parsed or confined is refused."""

from __future__ import annotations

import promql_parser as pp
import pytest

from dockyard.domain.errors import Invalid, Malformed
from dockyard.metrics.isolation import MAX_OPERATORS, MAX_QUERY_CHARS, confine

CONFINED = [
    ("up", 'up{team="shop"}'),
    ('cpu{service="web"}', 'cpu{service="web", team="shop"}'),
    ("rate(cpu[5m])", 'rate(cpu{team="shop"}[300s])'),
    ('sum by (instance) (rate(cpu{env="test"}[1m]))',
     'sum by (instance) (rate(cpu{env="test", team="shop"}[60s]))'),
    ("max_over_time(rate(cpu[1m])[1h:30s])",
     'max_over_time((rate(cpu{team="shop"}[60s]))[3600s:30s])'),
    ("a / on(x) group_left(y) b",
     'a{team="shop"} / on(x) group_left(y) b{team="shop"}'),
    ("a > bool b", 'a{team="shop"} > bool b{team="shop"}'),
    ("topk(3, mem)", 'topk(3, mem{team="shop"})'),
    ('count_values without (host) ("v", mem)',
     'count_values without (host) ("v", mem{team="shop"})'),
    ("-a ^ b", '-(a{team="shop"} ^ b{team="shop"})'),
    ("1 + 2 * 3", "1 + (2 * 3)"),
    ("vector(time())", "vector(time())"),
    ("cpu[1500ms]", 'cpu{team="shop"}[1500ms]'),
    ('mem{path=~"\\\\d+\\"x"}', 'mem{path=~"\\\\d+\\"x", team="shop"}'),
    ("mem{a=`raw`}", 'mem{a="raw", team="shop"}'),
    ('mem{a="é"}', 'mem{a="é", team="shop"}'),
]  # fmt: skip

ATTACKS = [
    # Another team's series named outright, negated, or by regular expression.
    ('cpu{team="bank"}', 'cpu{team="shop"}'),
    ('cpu{team!="shop"}', 'cpu{team="shop"}'),
    ('cpu{team=~"shop|bank"}', 'cpu{team="shop"}'),
    ('cpu{team=~".*"}', 'cpu{team="shop"}'),
    ('cpu{team=~".+",team!~"shop"}', 'cpu{team="shop"}'),
    ('cpu{team="shop",team="bank"}', 'cpu{team="shop"}'),
    # Every series by name pattern, or with no name at all.
    ('{__name__=~".+"}', '{__name__=~".+", team="shop"}'),
    ('{__name__=~"cpu|mem",team=""}', '{__name__=~"cpu|mem", team="shop"}'),
    # Another team's series brought in beside the team's own.
    ('cpu or cpu{team="bank"}', 'cpu{team="shop"} or cpu{team="shop"}'),
    ('cpu unless on() cpu{team="bank"}', 'cpu{team="shop"} unless on() cpu{team="shop"}'),
    ('sum(cpu{team="bank"}) + 0', 'sum(cpu{team="shop"}) + 0'),
    # A label rewritten: the input is still the team's own.
    ('label_replace(cpu{team="bank"}, "team", "shop", "", "")',
     'label_replace(cpu{team="shop"}, "team", "shop", "", "")'),
    # Existence of another team's series probed.
    ('absent(cpu{team="bank"})', 'absent(cpu{team="shop"})'),
    ('absent_over_time(cpu{team="bank"}[5m])', 'absent_over_time(cpu{team="shop"}[300s])'),
    # Hidden in time modifiers and subqueries.
    ('cpu{team="bank"} @ 1609746000.5', 'cpu{team="shop"} @ 1609746000.500'),
    ('cpu{team="bank"} offset 1h', 'cpu{team="shop"} offset 3600s'),
    ('rate(cpu{team="bank"}[5m] @ end() offset 1m)',
     'rate(cpu{team="shop"}[300s] offset 60s @ end())'),
    ('max_over_time((cpu{team="bank"} > 0)[10m:1m] @ start())',
     'max_over_time(((cpu{team="shop"} > 0))[600s:60s] @ start())'),
    # Alternatives inside the braces, each confined on its own.
    ('cpu{team="bank" or env="test"}', 'cpu{team="shop" or env="test", team="shop"}'),
]  # fmt: skip


@pytest.mark.parametrize(("written", "confined"), CONFINED + ATTACKS)
def test_every_selector_gets_the_team_matcher_and_no_other(written: str, confined: str) -> None:
    assert confine(written, "shop") == confined


@pytest.mark.parametrize(("written", "_"), CONFINED + ATTACKS)
def test_the_confined_text_parses_and_reads_only_the_team(written: str, _: str) -> None:
    teams: list[tuple[str, str]] = []

    def visit(node: pp.Expr) -> bool:
        if isinstance(node, pp.MatrixSelector):
            node = node.vector_selector
        if isinstance(node, pp.VectorSelector):
            groups = node.matchers.or_matchers or [node.matchers.matchers]
            for group in groups:
                found = [m for m in group if m.name == "team"]
                teams.extend((str(m.op), m.value) for m in found)
                assert len(found) == 1
        return True

    pp.walk(pp.parse(confine(written, "shop")), visit)
    assert {value for _, value in teams} <= {"shop"}
    assert {op for op, _ in teams} <= {str(pp.MatchOp.Equal)}


def test_a_team_name_needing_escapes_is_quoted() -> None:
    assert confine("up", 'we"ird\\') == 'up{team="we\\"ird\\\\"}'


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("sum(", "invalid PromQL"),
        ("cpu{team=}", "invalid PromQL"),
        ("rate(cpu)", "invalid PromQL"),
        ('cpu{"dotted.name"="x"}', "classic name"),
        ("x" * (MAX_QUERY_CHARS + 1), "at most"),
    ],
)
def test_what_cannot_be_parsed_or_confined_is_refused_with_the_reason(
    written: str, reason: str
) -> None:
    with pytest.raises(Invalid) as refused:
        confine(written, "shop")
    assert reason in refused.value.message
    assert refused.value.field == "query"


@pytest.mark.parametrize(
    "written",
    ["-" * MAX_OPERATORS + "a", "+".join(["a"] * (MAX_OPERATORS + 1)),
     "(" * MAX_OPERATORS + "a" + ")" * MAX_OPERATORS, 'a{b="' + "(" * 3000 + '"}'],
)  # fmt: skip
def test_the_most_nested_expressions_accepted_are_confined(written: str) -> None:
    assert 'team="shop"' in confine(written, "shop")


@pytest.mark.parametrize(
    "written",
    ["-" * (MAX_OPERATORS + 1) + "a", " or ".join(["a"] * (MAX_OPERATORS + 2)),
     "(" * 1900 + "a" + ")" * 1900],
)  # fmt: skip
def test_deeper_nesting_is_refused_before_parsing(written: str) -> None:
    """The parser's time grows with the square of the nesting, and its recursion overflows
    the native stack (ending the server) at some thousands of levels."""
    with pytest.raises(Malformed, match="operators and brackets"):
        confine(written, "shop")
