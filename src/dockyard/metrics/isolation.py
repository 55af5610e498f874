"""Team isolation for PromQL: every selector a team writes is pinned to the team's own series.

Prometheus is never exposed to teams; the query API, charts and alarm rules pass a team's
expression through `confine` first, as prom-label-proxy does. The expression is parsed by a
real PromQL parser (`promql-parser`) and rendered back here, with every vector and matrix
selector (in subqueries, calls, aggregations and both sides of every operator) carrying
`team="<team>"` in place of any team matcher the author wrote. The text is rendered by
Dockyard rather than by the parser, whose own rendering does not escape label values; the
result is parsed again and checked, so a rendering mistake is refused, never run unconfined.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import timedelta

import promql_parser as pp

from dockyard.domain.errors import Malformed
from dockyard.metrics.prometheus_config import duration

TEAM_LABEL = "team"
MAX_QUERY_CHARS = 4000
"""Longer expressions are refused before parsing: the parser's recursion overflows the
native stack (a crash of the whole server) on inputs of some tens of thousands of characters."""

MAX_OPERATORS = 256
"""More operators and brackets than this are refused before parsing: the parser's time grows
with the square of the nesting (2 s for 2,000 levels), a cheap way to tie up the server."""
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_OPERATOR = re.compile(r"[-+*/%^(]|\b(?:and|or|unless)\b")

_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_OPS = (
    (pp.MatchOp.Equal, "="),
    (pp.MatchOp.NotEqual, "!="),
    (pp.MatchOp.Re, "=~"),
    (pp.MatchOp.NotRe, "!~"),
)
"""The parser's match operators are not hashable: looked up in order."""


def confine(expr: str, team: str) -> str:
    """`expr` with every selector restricted to series labelled `team=<team>`.

    Any team matcher in `expr` (=, !=, =~, !~) is dropped in favour of the team's own.
    Raises `Malformed` (an `Invalid`: 400 at the API), carrying the parser's message, if
    `expr` cannot be parsed or confined; nothing unconfined is ever returned.
    """
    rendered = _render(_parse(expr), team)
    try:
        # No limits on the text rendered: it only adds matchers and brackets to one that kept them.
        _check(pp.parse(rendered), team)
    except ValueError as e:
        raise Malformed(f"could not confine the PromQL expression: {e}", field="query") from e
    return rendered


def _parse(expr: str) -> pp.Expr:
    if not expr.strip():
        raise Malformed("the PromQL expression is empty: write one, e.g. up", field="query")
    if len(expr) > MAX_QUERY_CHARS:
        raise Malformed(
            f"the PromQL expression is {len(expr)} characters long; at most "
            f"{MAX_QUERY_CHARS} are accepted: use recording rules for long ones",
            field="query",
        )
    if len(_OPERATOR.findall(_STRING.sub('""', expr))) > MAX_OPERATORS:
        raise Malformed(
            f"the PromQL expression has more than {MAX_OPERATORS} operators and brackets: "
            "split it, or use recording rules",
            field="query",
        )
    try:
        return pp.parse(expr)
    except ValueError as e:
        raise Malformed(f"invalid PromQL: {e}", field="query") from e


def _render(node: object, team: str) -> str:
    try:
        return _expr(node, team)
    except RecursionError as e:
        raise Malformed("the PromQL expression is nested too deeply", field="query") from e


def _expr(node: object, team: str) -> str:
    if isinstance(node, pp.VectorSelector):
        return _selector(node, team) + _modifiers(node.offset, node.at)
    if isinstance(node, pp.MatrixSelector):
        vs = node.vector_selector
        return f"{_selector(vs, team)}[{_duration(node.range)}]{_modifiers(vs.offset, vs.at)}"
    if isinstance(node, pp.SubqueryExpr):
        if node.range is None:
            raise Malformed("a subquery needs a range, e.g. [1h:1m]", field="query")
        step = _duration(node.step) if node.step is not None else ""
        inner = f"({_expr(node.expr, team)})[{_duration(node.range)}:{step}]"
        return inner + _modifiers(node.offset, node.at)
    if isinstance(node, pp.ParenExpr):
        return f"({_expr(node.expr, team)})"
    if isinstance(node, pp.UnaryExpr):
        return f"-({_expr(node.expr, team)})"
    if isinstance(node, pp.BinaryExpr):
        return _binary(node, team)
    if isinstance(node, pp.AggregateExpr):
        return _aggregate(node, team)
    if isinstance(node, pp.Call):
        args = ", ".join(_expr(a, team) for a in node.args)
        return f"{_name(node.func.name)}({args})"
    if isinstance(node, pp.NumberLiteral):
        return _number(node.val)
    if isinstance(node, pp.StringLiteral):
        return _quote(node.val)
    raise Malformed(f"PromQL construct {type(node).__name__} is not supported", field="query")


def _selector(vs: pp.VectorSelector, team: str) -> str:
    """`name{matchers}` with the team's matcher replacing any the author wrote."""
    own = _matcher(pp.Matcher(pp.MatchOp.Equal, TEAM_LABEL, team))
    alternatives = [
        ", ".join([*(_matcher(m) for m in group if m.name != TEAM_LABEL), own])
        for group in _groups(vs.matchers)
    ]
    body = "{" + " or ".join(alternatives) + "}"
    if vs.name is None:
        return body
    if not _METRIC.fullmatch(vs.name):
        raise Malformed(f"metric name {vs.name!r} must be a classic name", field="query")
    return vs.name + body


def _groups(matchers: pp.Matchers) -> list[list[pp.Matcher]]:
    """The alternatives of a selector's braces (`{a="1" or b="2"}` has two), each of which
    must be confined on its own; without `or` there is one."""
    if not matchers.or_matchers:
        return [matchers.matchers]
    if matchers.matchers:
        raise Malformed("a selector mixing plain and `or` matchers is not supported", field="query")
    return matchers.or_matchers


def _matcher(m: pp.Matcher) -> str:
    op = next(text for op, text in _OPS if m.op == op)
    return f"{_name(m.name)}{op}{_quote(m.value)}"


def _binary(node: pp.BinaryExpr, team: str) -> str:
    lhs, rhs = _expr(node.lhs, team), _expr(node.rhs, team)
    # Operands that are operations themselves are bracketed: the tree, not precedence, decides.
    if isinstance(node.lhs, pp.BinaryExpr | pp.UnaryExpr):
        lhs = f"({lhs})"
    if isinstance(node.rhs, pp.BinaryExpr | pp.UnaryExpr):
        rhs = f"({rhs})"
    return f"{lhs} {node.op}{_bin_modifier(node.modifier)} {rhs}"


def _bin_modifier(mod: pp.BinModifier | None) -> str:
    if mod is None:
        return ""
    fill = mod.fill_values
    if fill is not None and (fill.lhs is not None or fill.rhs is not None):
        raise Malformed("fill modifiers on binary operators are not supported", field="query")
    text = " bool" if mod.return_bool else ""
    if mod.matching is not None:
        word = "on" if mod.matching.type == pp.LabelModifierType.Include else "ignoring"
        text += f" {word}({_labels(mod.matching.labels)})"
    group = _labels(mod.group_labels or [])
    if mod.card == pp.VectorMatchCardinality.ManyToOne:
        text += f" group_left({group})"
    elif mod.card == pp.VectorMatchCardinality.OneToMany:
        text += f" group_right({group})"
    return text


def _aggregate(node: pp.AggregateExpr, team: str) -> str:
    grouping = ""
    if node.modifier is not None:
        word = "by" if node.modifier.type == pp.AggModifierType.By else "without"
        grouping = f" {word} ({_labels(node.modifier.labels)})"
    inner = _expr(node.expr, team)
    if node.param is not None:
        inner = f"{_expr(node.param, team)}, {inner}"
    return f"{node.op}{grouping} ({inner})" if grouping else f"{node.op}({inner})"


def _modifiers(offset: timedelta | None, at: pp.AtModifier | None) -> str:
    text = ""
    if offset is not None:
        text += f" offset {_duration(offset)}"
    if at is not None:
        if at.type == pp.AtModifierType.Start:
            text += " @ start()"
        elif at.type == pp.AtModifierType.End:
            text += " @ end()"
        elif at.at is not None:
            text += f" @ {at.at.timestamp():.3f}"
    return text


def _duration(span: timedelta) -> str:
    return duration(span.total_seconds())


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _quote(text: str) -> str:
    """A PromQL double-quoted string: its escapes (\\", \\\\, \\n, \\uXXXX) are JSON's."""
    return json.dumps(text, ensure_ascii=False)


def _name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise Malformed(f"label or function name {name!r} must be a classic name", field="query")
    return name


def _labels(labels: list[str]) -> str:
    return ", ".join(_name(label) for label in labels)


def _check(node: pp.Expr, team: str) -> None:
    """Raise unless every selector under `node` matches `team="<team>"`, and only that, in
    every alternative of its braces."""
    for vs in _selectors(node):
        for group in _groups(vs.matchers):
            teams = [(m.op, m.value) for m in group if m.name == TEAM_LABEL]
            if teams != [(pp.MatchOp.Equal, team)]:
                raise Malformed(f"could not confine the PromQL selector {vs}", field="query")


def _selectors(node: object) -> Iterator[pp.VectorSelector]:
    """Every vector selector under `node`, matrix selectors' included."""
    if isinstance(node, pp.VectorSelector):
        yield node
    elif isinstance(node, pp.MatrixSelector):
        yield node.vector_selector
    elif isinstance(node, pp.BinaryExpr):
        yield from _selectors(node.lhs)
        yield from _selectors(node.rhs)
    elif isinstance(node, pp.AggregateExpr):
        yield from _selectors(node.param)
        yield from _selectors(node.expr)
    elif isinstance(node, pp.Call):
        for arg in node.args:
            yield from _selectors(arg)
    elif isinstance(node, pp.SubqueryExpr | pp.ParenExpr | pp.UnaryExpr):
        yield from _selectors(node.expr)
    elif not isinstance(node, pp.NumberLiteral | pp.StringLiteral | None):
        raise Malformed(f"PromQL construct {type(node).__name__} is not supported", field="query")
