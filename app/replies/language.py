"""The reply-template language: what a template may say, checked on its syntax tree.

The language is deliberately small: ``{{ variable }}``, a handful of text filters, ``{% if %}``,
``{% filter %}`` blocks and comments. There are no loops, macros or ``{% set %}``, no calls and no
attribute access, so every expression is evaluated at most once per appearance in the text:
nothing in the language can loop or recurse. Anything else is refused by name, with its line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from jinja2 import TemplateSyntaxError, nodes

from app.replies.sandbox import ENVIRONMENT, FILTERS

# The template language, as an allowlist of syntax nodes; anything else is refused by name.
_ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.If,
    nodes.FilterBlock,
    nodes.Name,
    nodes.Const,
    nodes.Filter,
    nodes.Test,
    nodes.Keyword,
    nodes.CondExpr,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Neg,
    nodes.Pos,
    nodes.Compare,
    nodes.Operand,
    nodes.Concat,
    nodes.Add,
    nodes.Sub,
    nodes.Mul,
    nodes.Div,
    nodes.FloorDiv,
    nodes.Mod,
    nodes.Pow,
    nodes.Getitem,
    nodes.Slice,
    nodes.Tuple,
    nodes.List,
)
_REFUSED_NODES: dict[type[nodes.Node], str] = {
    nodes.For: "loops ({% for %})",
    nodes.Macro: "macros ({% macro %})",
    nodes.CallBlock: "{% call %}",
    nodes.Assign: "{% set %}",
    nodes.AssignBlock: "{% set %}",
    nodes.With: "{% with %}",
    nodes.Block: "{% block %}",
    nodes.Extends: "{% extends %}: a template cannot read other templates",
    nodes.Include: "{% include %}: a template cannot read other templates or files",
    nodes.Import: "{% import %}: a template cannot read other templates or files",
    nodes.FromImport: "{% from ... import %}: a template cannot read other templates or files",
    nodes.Getattr: "attribute access ('.name'); use a filter such as |upper",
    nodes.Call: "function or method calls",
}


@dataclass(frozen=True)
class Problem:
    lineno: int
    message: str

    def __str__(self) -> str:
        return f"line {self.lineno}: {self.message}"


_FILTER_HINT = f" (available: {', '.join(sorted(FILTERS))})"


def parse(template_body: str) -> tuple[nodes.Template | None, list[Problem]]:
    """The template's syntax tree and the constructs in it outside the language; no tree when
    it does not parse (the one problem is the syntax error)."""
    try:
        tree = ENVIRONMENT.parse(template_body)
    except TemplateSyntaxError as e:
        return None, [Problem(e.lineno, e.message or "syntax error")]
    return tree, _language_problems(tree)


def _language_problems(tree: nodes.Template) -> list[Problem]:
    """Constructs outside the reply-template language, in order of appearance."""
    problems: list[Problem] = []
    for node in _walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            what = _REFUSED_NODES.get(type(node), f"'{type(node).__name__}'")
            problem = Problem(node.lineno, f"reply templates do not support {what}")
        elif isinstance(node, nodes.Name) and node.name == "self":
            problem = Problem(node.lineno, "reply templates do not support 'self'")
        elif isinstance(node, nodes.Filter) and node.name not in ENVIRONMENT.filters:
            problem = Problem(node.lineno, f"unknown filter '{node.name}'{_FILTER_HINT}")
        elif isinstance(node, nodes.Test) and node.name not in ENVIRONMENT.tests:
            problem = Problem(node.lineno, f"unknown test '{node.name}'")
        else:
            continue
        if problem not in problems:
            problems.append(problem)
    return problems


def _walk(tree: nodes.Node) -> Iterator[nodes.Node]:
    """Every node, depth first in source order."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(list(node.iter_child_nodes())))


def variables_read(tree: nodes.Template) -> list[nodes.Name]:
    """Variables the template reads, in order of appearance (``self`` is refused apart)."""
    return [
        node
        for node in _walk(tree)
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name != "self"
    ]
