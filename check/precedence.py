"""Operator-precedence slips in a formula: ``(P - T) * 1 - R3**2`` meant as ``(P - T) * (1 - R3**2)``.

`regroupings` lists every way of moving one pair of brackets across a ``* / @`` that meets a
``+ -``, as new formula text (the caller parses it against the formula language and judges
it like the original). Only `ast` reads the text; nothing is evaluated here.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

_LOW = {ast.Add: "+", ast.Sub: "-"}
_HIGH = {ast.Mult: "*", ast.Div: "/", ast.MatMult: "@"}


@dataclass(frozen=True)
class Regrouping:
    """One regrouped reading: the whole formula as `text`, and the sentence that explains it."""

    text: str
    explanation: str


def _candidates(value) -> list[tuple[ast.BinOp, bool]]:
    """(node, its left operand is the tighter one) for each `a * b - c` / `a - b * c` node."""
    out = []
    for node in ast.walk(value):
        if isinstance(node, ast.BinOp) and type(node.op) in _LOW:
            for left, side in ((True, node.left), (False, node.right)):
                if isinstance(side, ast.BinOp) and type(side.op) in _HIGH:
                    out.append((node, left))
    return out


def regroupings(text: str, limit: int = 16) -> list[Regrouping]:
    """The formula with one ``a * b - c`` read as ``a * (b - c)`` (or ``a - b * c`` as
    ``(a - b) * c``), for each such place (at most `limit`); [] if the text does not parse."""
    try:
        count = len(_candidates(ast.parse(text.strip(), mode="exec").body[0].value))
    except (SyntaxError, ValueError, MemoryError, RecursionError, IndexError, AttributeError):
        return []
    out = []
    for index in range(min(count, limit)):
        module = ast.parse(text.strip(), mode="exec")  # a fresh tree for each regrouping
        assign = module.body[0]
        node, left = _candidates(assign.value)[index]
        low, inner = _LOW[type(node.op)], node.left if left else node.right
        high = _HIGH[type(inner.op)]
        a, b, c = ((inner.left, inner.right, node.right) if left
                   else (node.left, inner.left, inner.right))
        sa, sb, sc = (_operand(x) for x in (a, b, c))
        if left:  # a * b - c  ->  a * (b - c)
            new = ast.BinOp(a, inner.op, ast.BinOp(b, node.op, c))
            read, meant = f"({sa} {high} {sb}) {low} {sc}", f"{sa} {high} ({sb} {low} {sc})"
        else:  # a - b * c  ->  (a - b) * c
            new = ast.BinOp(ast.BinOp(a, node.op, b), inner.op, c)
            read, meant = f"{sa} {low} ({sb} {high} {sc})", f"({sa} {low} {sb}) {high} {sc}"
        assign.value = _Swap(node, new).visit(assign.value)
        out.append(Regrouping(
            ast.unparse(module),
            f"operator precedence: `{high}` binds tighter than `{low}`, so it computes `{read}`; "
            f"write `{meant}`"))
    return out


def _operand(node) -> str:
    """An operand's text, bracketed when it is itself a binary operation (but a power)."""
    text = ast.unparse(node)
    if isinstance(node, ast.BinOp) and not isinstance(node.op, ast.Pow):
        return f"({text})"
    return text


class _Swap(ast.NodeTransformer):
    def __init__(self, old, new):
        self.old, self.new = old, new

    def visit(self, node):
        if node is self.old:
            return self.new
        return super().visit(node)
