"""The formula language of `gradscribe check --formula` (contract section 6).

A formula is one NumPy-style assignment, ``dW2 = D2 @ R1.T``. It is parsed with `ast` and
checked node by node against a whitelist *before* anything is evaluated: no string a user
writes is ever handed to `eval`, `exec` or SymPy's parser. The checked tree is a small
closed language of tuples that `evaluate` walks with NumPy semantics (broadcasting,
``keepdims``), either on float arrays or on NumPy object arrays of exact SymPy numbers.

Every rejection raises `FormulaError` with one line naming the offending piece.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..derive import activations
from ..derive.functions import elementary
from ..derive.spec import Network

MAX_LENGTH = 1000  # characters
MAX_NODES = 400  # AST nodes
MAX_DEPTH = 40  # nesting of the expression tree (and of brackets in the text)
MAX_EXPONENT = 8  # |k| in x ** k
MAX_LITERAL = 10**12
MAX_DEGREE = 64  # polynomial degree of any sub-expression, selected by where() or not
MAX_CALL_NESTING = 4  # functions applied to functions' results


class FormulaError(ValueError):
    """A formula outside the language, or naming what the network does not have."""


class FormulaShapeError(ValueError):
    """Operands whose shapes do not conform: a wrong formula, not a bad input."""


@dataclass(frozen=True)
class Formula:
    """A checked formula: what it claims (`lhs`, e.g. ``dW2``), its layer and its tree."""

    text: str
    lhs: str
    layer: int
    tree: tuple

    @property
    def rhs_text(self) -> str:
        return self.text.split("=", 1)[1].strip()


# --------------------------------------------------------------------------- the vocabulary

_LHS = re.compile(r"(dW|dB|dgamma|dbeta|DY|DGH|D)([1-9][0-9]*)\Z")
_SYMBOL = re.compile(r"(W|B|G|R|D)([0-9]+)\Z")
#: Contract section 7: a batch-norm layer's matrices (DGH, the gradient at GH, as derive names
#: it), a dropout layer's mask M and activation A before the mask (R = A * M / (1 - p)).
_BN_STEMS = ("gamma", "beta", "MU", "VAR", "GH", "Y", "DY", "DGH")
_DROPOUT_STEMS = ("M", "A")
_SECTION7 = re.compile(r"(gamma|beta|MU|VAR|GH|Y|DY|DGH|M|A)([0-9]+)\Z")
#: the layer's constants: batch norm's epsilon and dropout's p (eps2, p1, or eps / p when one
#: value serves every such layer), and the penalty's lambda
_CONSTANT = re.compile(r"(eps|p)([0-9]*)\Z")
LAMBDA_NAMES = ("lam", "lambda_")
_ELEMENTARY = {"exp": sp.exp, "log": sp.log, "tanh": sp.tanh, "sqrt": sp.sqrt}
_NUMPY_ELEMENTARY = {"exp": np.exp, "log": np.log, "tanh": np.tanh, "sqrt": np.sqrt}
_REDUCTIONS = ("sum", "mean")
#: Every other whitelisted function and how many positional arguments it takes.
_FUNCTIONS = {"maximum": 2, "where": 3, "ones_like": 1, "zeros_like": 1, "exp": 1, "log": 1,
              "tanh": 1, "sqrt": 1}
MAX_ROOT_DENOMINATOR = 2  # x ** (k/2): square roots are the only fractional powers
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.MatMult: "@"}
_COMPARE = {ast.Gt: ">", ast.Lt: "<", ast.GtE: ">=", ast.LtE: "<="}


def _activation_functions() -> dict[str, tuple[str, bool]]:
    """name -> (activation, is_derivative), one entry per registry record (and its _prime)."""
    out = {}
    for act in activations.ACTIVATIONS.values():
        out[act.name] = (act.name, False)
        if act.elementwise:
            out[act.name + "_prime"] = (act.name, True)
    return out


# --------------------------------------------------------------------------- parsing


def parse(text: str, net: Network) -> Formula:
    """Check `text` against the language and `net`; nothing in it is run.

    Raises:
        FormulaError: with one line naming the offending piece.
    """
    if not isinstance(text, str) or not text.strip():
        raise FormulaError("empty formula; write e.g. \"dW2 = D2 @ R1.T\"")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"formula is {len(text)} characters long; at most {MAX_LENGTH} allowed")
    depth = 0
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth > MAX_DEPTH:
            raise FormulaError(f"brackets nested more than {MAX_DEPTH} deep")
    try:
        module = ast.parse(text.strip(), mode="exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        msg = getattr(exc, "msg", None) or exc.__class__.__name__
        raise FormulaError(f"not a formula: {msg}") from None
    if len(module.body) != 1 or not isinstance(module.body[0], ast.Assign):
        raise FormulaError("a formula is one assignment NAME = expression, e.g. \"dW2 = D2 @ R1.T\"")
    assign = module.body[0]
    if len(assign.targets) != 1 or not isinstance(assign.targets[0], ast.Name):
        raise FormulaError("the left-hand side must be one name: dW<l>, dB<l> or D<l>"
                           + _lhs_more(net))
    lhs = assign.targets[0].id
    match = _LHS.match(lhs)
    if not match:
        raise FormulaError(f"left-hand side '{lhs}': must be dW<l>, dB<l> or D<l>"
                           f"{_lhs_more(net)} (e.g. dW2)")
    layer = int(match.group(2))
    if layer > net.depth:
        raise FormulaError(f"left-hand side '{lhs}': the network has layers 1..{net.depth}")
    if match.group(1) == "dB" and not net.has_bias(layer):
        raise FormulaError(f"left-hand side '{lhs}': layer {layer} has no bias (bias = false)")
    if match.group(1) in ("dgamma", "dbeta") and not _batch_norm(net, layer):
        raise FormulaError(f"left-hand side '{lhs}': layer {layer} has no batch norm, so no "
                           f"{match.group(1)[1:]}{layer}")
    if match.group(1) in ("DY", "DGH") and not _batch_norm(net, layer):
        raise FormulaError(f"left-hand side '{lhs}': layer {layer} has no batch norm, so no {lhs}"
                           f" (its δ is D{layer})")
    count = sum(1 for _ in ast.walk(assign.value))
    if count > MAX_NODES:
        raise FormulaError(f"formula has {count} syntax nodes; at most {MAX_NODES} allowed")
    tree = _Checker(text, net).visit(assign.value, 0)
    _cost(tree)
    return Formula(text.strip(), lhs, layer, tree)


def _batch_norm(net, layer: int) -> bool:
    return bool(getattr(net, "batch_norm", lambda l: False)(layer))


def _dropout(net, layer: int):
    return getattr(net, "dropout", lambda l: None)(layer)


def _lhs_more(net) -> str:
    """', dgamma<l>, dbeta<l>, DY<l>, DGH<l>' for a network with batch norm (the other
    left-hand sides: batch norm's parameter gradients and its δ^Y_l, δ^Ĝ_l)."""
    return ", dgamma<l>, dbeta<l>, DY<l>, DGH<l>" if getattr(net, "normalizes", False) else ""


def _known(net) -> str:
    """The symbols of the formula language for `net`, as the unknown-symbol message lists them."""
    known = "X, T, N, P, W<l>, B<l>, G<l>, R<l>, D<l>"
    if getattr(net, "normalizes", False):
        known += ", gamma<l>, beta<l>, MU<l>, VAR<l>, GH<l>, Y<l>, DY<l>, DGH<l>, eps"
    if getattr(net, "drops", False):
        known += ", M<l>, A<l>, p"
    if getattr(net, "penalty", None) is not None:
        known += ", lam"
    return known + ", ones"


def _cost(node) -> tuple[int, int]:
    """(polynomial degree, function nesting) of `node`; FormulaError past the bounds.

    Every sub-expression is bounded, whichever branch of where() selects it: the exact
    judgement evaluates them all.
    """
    kind = node[0]
    if kind == "sym":
        return 1, 0
    if kind in ("num", "ones"):
        return 0, 0
    if kind in ("neg", "T"):
        return _cost(node[1])
    if kind == "reduce":
        return _cost(node[2])
    if kind == "pow":
        degree, nesting = _cost(node[1])
        if not float(node[2]).is_integer():  # a square root: a function of its base
            if nesting + 1 > MAX_CALL_NESTING:
                raise FormulaError(f"too costly to evaluate: functions nested more than "
                                   f"{MAX_CALL_NESTING} deep")
            return 1, nesting + 1
        degree *= abs(int(node[2]))
        if degree > MAX_DEGREE:
            raise FormulaError(f"too costly to evaluate: nested powers reach degree {degree} "
                               f"(at most {MAX_DEGREE})")
        return degree, nesting
    if kind in ("bin", "cmp"):
        (a, na), (b, nb) = _cost(node[2]), _cost(node[3])
        degree = max(a, b) if node[1] in "+-<>=" else a + b
        if degree > MAX_DEGREE:
            raise FormulaError(f"too costly to evaluate: products reach degree {degree} "
                               f"(at most {MAX_DEGREE})")
        return (0 if kind == "cmp" else degree), max(na, nb)
    if kind in ("act", "call"):
        args = [node[3]] if kind == "act" else list(node[2])
        costs = [_cost(a) for a in args]
        nesting = max(n for _, n in costs)
        if kind == "call" and node[1] in ("where", "maximum", "ones_like", "zeros_like"):
            degree = 0 if node[1] in ("ones_like", "zeros_like") else max(d for d, _ in costs[-2:])
            return degree, nesting
        if nesting + 1 > MAX_CALL_NESTING:
            raise FormulaError(f"too costly to evaluate: functions nested more than "
                               f"{MAX_CALL_NESTING} deep")
        return 1, nesting + 1
    raise AssertionError(node)


class _Checker:
    """Turns a whitelisted `ast` expression into the tuple tree; raises on anything else."""

    def __init__(self, text: str, net: Network):
        self.text = text.strip()
        self.net = net
        self.functions = _activation_functions()

    def piece(self, node) -> str:
        segment = ast.get_source_segment(self.text, node) or type(node).__name__
        return segment if len(segment) <= 40 else segment[:37] + "..."

    def fail(self, node, why: str):
        raise FormulaError(f"'{self.piece(node)}': {why}")

    def visit(self, node, depth: int) -> tuple:
        if depth > MAX_DEPTH:
            self.fail(node, f"nested more than {MAX_DEPTH} deep")
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            self.fail(node, f"{_describe(node)} is not part of the formula language")
        return method(node, depth + 1)

    # ---------------------------------------------------------------- leaves
    def visit_Name(self, node, depth):
        name = node.id
        if name.startswith("_"):
            self.fail(node, "names starting with '_' are not allowed")
        if name in ("X", "T", "P", "N"):
            return ("sym", name)
        if name == "ones":
            return ("ones",)
        section7 = self._section7(node, name)
        if section7 is not None:
            return section7
        match = _SYMBOL.match(name)
        if match:
            stem, layer = match.group(1), int(match.group(2))
            if stem == "R" and layer == 0:
                return ("sym", "X")
            if not 1 <= layer <= self.net.depth:
                self.fail(node, f"the network has layers 1..{self.net.depth}, so no {name}")
            if stem == "B" and not self.net.has_bias(layer):
                self.fail(node, f"layer {layer} has no bias (bias = false), so no {name}")
            return ("sym", name)
        if name in self.functions or name in _FUNCTIONS or name in _REDUCTIONS:
            self.fail(node, "a function; call it, e.g. exp(G1)")
        self.fail(node, f"unknown symbol (known: {_known(self.net)})")

    def _section7(self, node, name):
        """Batch norm's and dropout's matrices and constants and the penalty's lambda
        (contract section 7), checked against the layers that have them; None for any other
        name."""
        net = self.net
        if name in LAMBDA_NAMES:
            if getattr(net, "penalty", None) is None:
                self.fail(node, "the network has no penalty on the weights (+wd@λ or +l2@λ), "
                                f"so no {name}")
            return ("num", sp.Rational(net.penalty_lambda))
        match = _SECTION7.match(name)
        if match:
            stem, layer = match.group(1), int(match.group(2))
            if not 1 <= layer <= net.depth:
                self.fail(node, f"the network has layers 1..{net.depth}, so no {name}")
            if stem in _BN_STEMS and not _batch_norm(net, layer):
                self.fail(node, f"layer {layer} has no batch norm, so no {name}")
            if stem in _DROPOUT_STEMS and _dropout(net, layer) is None:
                self.fail(node, f"layer {layer} has no dropout, so no {name}")
            return ("sym", name)
        match = _CONSTANT.match(name)
        if not match:
            return None
        stem, digits = match.group(1), match.group(2)
        what = "batch norm" if stem == "eps" else "dropout"

        def value(l):
            if stem == "eps":
                return net.layers[l - 1].eps if _batch_norm(net, l) else None
            return _dropout(net, l)

        if digits:
            layer = int(digits)
            if not 1 <= layer <= net.depth:
                self.fail(node, f"the network has layers 1..{net.depth}, so no {name}")
            if value(layer) is None:
                self.fail(node, f"layer {layer} has no {what}, so no {name}")
            return ("num", sp.Rational(value(layer)))
        values = {l: value(l) for l in range(1, net.depth + 1) if value(l) is not None}
        if not values:
            self.fail(node, f"the network has no {what}, so no {name}")
        if len(set(values.values())) > 1:
            self.fail(node, f"the {what} layers differ in {stem}: write {stem}<l> "
                            f"({', '.join(f'{stem}{l}' for l in values)})")
        return ("num", sp.Rational(next(iter(values.values()))))

    def visit_Constant(self, node, depth):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(node, "only numbers are allowed as constants")
        if (isinstance(value, float) and not np.isfinite(value)) or abs(value) > MAX_LITERAL:
            self.fail(node, f"number out of range (at most {MAX_LITERAL:.0e} in size)")
        return ("num", value)

    # ---------------------------------------------------------------- operators
    def visit_BinOp(self, node, depth):
        if isinstance(node.op, ast.Pow):
            return ("pow", self.visit(node.left, depth), self._exponent(node.right))
        op = _BINOPS.get(type(node.op))
        if op is None:
            self.fail(node, f"operator {type(node.op).__name__} is not allowed (use + - * / @ **)")
        return ("bin", op, self.visit(node.left, depth), self.visit(node.right, depth),
                self.piece(node))

    def _exponent(self, node):
        """An integer constant, or a half-integer one (``-0.5``, ``-1./2.``, ``(1/2)``) for a
        square root: an int, or a SymPy Rational with denominator 2."""
        value = _small_int(node)
        if value is not None and abs(value) <= MAX_EXPONENT:
            return value
        half = _constant_fraction(node)
        if (half is not None and half.denominator <= MAX_ROOT_DENOMINATOR
                and abs(half) <= MAX_EXPONENT):
            return int(half) if half.denominator == 1 else sp.Rational(half.numerator,
                                                                        half.denominator)
        self.fail(node, f"exponent must be an integer constant from -{MAX_EXPONENT} to "
                        f"{MAX_EXPONENT}, or a half (0.5, -1/2, ...) for a square root")

    def visit_UnaryOp(self, node, depth):
        if isinstance(node.op, ast.USub):
            return ("neg", self.visit(node.operand, depth))
        if isinstance(node.op, ast.UAdd):
            return self.visit(node.operand, depth)
        self.fail(node, f"operator {type(node.op).__name__} is not allowed")

    def visit_Compare(self, node, depth):
        if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARE:
            self.fail(node, "only one comparison > < >= <= at a time")
        return ("cmp", _COMPARE[type(node.ops[0])], self.visit(node.left, depth),
                self.visit(node.comparators[0], depth))

    # ---------------------------------------------------------------- attributes and calls
    def visit_Attribute(self, node, depth):
        if node.attr == "T":
            return ("T", self.visit(node.value, depth))
        if node.attr in _REDUCTIONS:
            self.fail(node, f"call it: .{node.attr}(axis=...)")
        self.fail(node, f"attribute '.{node.attr}' is not allowed (only .T, .sum(...), .mean(...))")

    def visit_Call(self, node, depth):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _REDUCTIONS and not _is_np(func.value):
            # x.sum(axis=..., keepdims=...)
            return self._reduction(node, func.attr, self.visit(func.value, depth), node.args, depth)
        if isinstance(func, ast.Attribute) and _is_np(func.value):
            name = func.attr
        elif isinstance(func, ast.Name):
            name = func.id
        else:
            self.fail(node, "only whitelisted functions may be called")
        if name.startswith("_"):
            self.fail(node, "names starting with '_' are not allowed")
        if name in _REDUCTIONS:
            if not node.args:
                self.fail(node, f"{name}(x, axis=...) needs the array")
            return self._reduction(node, name, self.visit(node.args[0], depth), node.args[1:], depth)
        if node.keywords:
            self.fail(node, f"{name}() takes no keyword arguments")
        if name in self.functions:
            act, derivative = self.functions[name]
            if len(node.args) != 1:
                self.fail(node, f"{name}() takes one argument")
            return ("act", act, derivative, self.visit(node.args[0], depth))
        if name in _FUNCTIONS:
            if len(node.args) != _FUNCTIONS[name]:
                self.fail(node, f"{name}() takes {_FUNCTIONS[name]} argument(s)")
            return ("call", name, tuple(self.visit(a, depth) for a in node.args))
        self.fail(node, f"unknown function '{name}' (allowed: {', '.join(sorted(_FUNCTIONS))}, "
                        "sum, mean, and the activations with their _prime)")

    def _reduction(self, node, op, operand, positional, depth):
        axis, keepdims = None, False
        if len(positional) > 1:
            self.fail(node, f"{op}() takes the axis and keepdims only")
        if positional:
            axis = self._axis(positional[0])
        for kw in node.keywords:
            if kw.arg == "axis":
                axis = self._axis(kw.value)
            elif kw.arg == "keepdims":
                if not (isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, bool)):
                    self.fail(kw.value, "keepdims must be True or False")
                keepdims = kw.value.value
            else:
                self.fail(node, f"{op}() accepts axis= and keepdims= only")
        return ("reduce", op, operand, axis, keepdims)

    def _axis(self, node):
        if isinstance(node, ast.Constant) and node.value is None:
            return None
        value = _small_int(node)
        if value is None or value not in (-2, -1, 0, 1):
            self.fail(node, "axis must be 0, 1, -1, -2 or None")
        return value


def _is_np(node) -> bool:
    return isinstance(node, ast.Name) and node.id == "np"


def _small_int(node):
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -1 if isinstance(node.op, ast.USub) else 1
        node = node.operand
    if isinstance(node, ast.Constant) and type(node.value) is int and abs(node.value) <= 10**6:
        return sign * node.value
    return None


def _constant_fraction(node, depth: int = 0):
    """The exact value of a constant exponent written with numbers, unary signs, * and / only
    (``-0.5``, ``-1./2.``, ``1/2``), as a Fraction; None for anything else."""
    from fractions import Fraction

    if depth > 6:
        return None
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        value = node.value
        if isinstance(value, float) and not np.isfinite(value):
            return None
        if abs(value) > 10**6:
            return None
        return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _constant_fraction(node.operand, depth + 1)
        if inner is None:
            return None
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.Mult)):
        a = _constant_fraction(node.left, depth + 1)
        b = _constant_fraction(node.right, depth + 1)
        if a is None or b is None or (isinstance(node.op, ast.Div) and b == 0):
            return None
        return a / b if isinstance(node.op, ast.Div) else a * b
    return None


def _describe(node) -> str:
    names = {
        "Lambda": "a lambda", "ListComp": "a comprehension", "SetComp": "a comprehension",
        "DictComp": "a comprehension", "GeneratorExp": "a generator", "Subscript": "indexing",
        "Starred": "unpacking", "JoinedStr": "an f-string", "IfExp": "a conditional expression",
        "BoolOp": "and/or", "NamedExpr": "an assignment expression", "Await": "await",
        "Yield": "yield", "List": "a list", "Tuple": "a tuple", "Dict": "a dict", "Set": "a set",
        "Slice": "a slice",
    }
    return names.get(type(node).__name__, type(node).__name__)


# --------------------------------------------------------------------------- evaluating


class FloatOps:
    """NumPy float arrays; activations through the derivation's own NumPy backend."""

    exact = False

    def __init__(self):
        from ..derive.evaluate import NumpyBackend

        self.backend = NumpyBackend()

    def number(self, value):
        return np.asarray(float(value))

    def elementary(self, name, a):
        with np.errstate(all="ignore"):
            return _NUMPY_ELEMENTARY[name](a)

    def activation(self, act, alpha, a, axis):
        with np.errstate(all="ignore"):
            return self.backend.apply(act, alpha, np.asarray(a, float), axis)

    def prime(self, act, alpha, a):
        backend = self.backend
        a = np.asarray(a, float)
        with np.errstate(all="ignore"):
            return backend.prime(act, alpha, a, backend.apply(act, alpha, a, 0))

    def maximum(self, a, b):
        return np.maximum(a, b)

    def compare(self, op, a, b):
        return {">": np.greater, "<": np.less, ">=": np.greater_equal, "<=": np.less_equal}[op](
            a, b
        ).astype(float)

    def ones_like(self, a):
        return np.ones_like(np.asarray(a, float))


class ExactOps:
    """NumPy object arrays of exact SymPy numbers."""

    exact = True

    def number(self, value):
        if isinstance(value, sp.Basic):  # a constant of the network (eps, p, lambda)
            return np.asarray(value, dtype=object)
        if isinstance(value, float):
            return np.asarray(sp.Rational(repr(value)), dtype=object)
        return np.asarray(sp.Integer(value), dtype=object)

    def _map(self, fn, *arrays):
        return np.asarray(np.frompyfunc(fn, len(arrays), 1)(*arrays), dtype=object)

    def elementary(self, name, a):
        return self._map(_ELEMENTARY[name], a)

    def activation(self, act, alpha, a, axis):
        if act.over_units is not None:  # softmax: normalised over the unit axis
            from ..derive.evaluate import over_units_exact

            matrix = over_units_exact(act.over_units, sp.Matrix(a.tolist()), axis)
            return np.array(matrix.tolist(), dtype=object)
        value = elementary(act.value_at(activations.z, alpha))
        return self._map(lambda x: value.xreplace({activations.z: x}), a)

    def prime(self, act, alpha, a):
        value = elementary(act.value_at(activations.z, alpha))
        deriv = elementary(act.derivative_at(activations.z, activations.r, alpha))
        return self._map(
            lambda x: deriv.xreplace({activations.z: x, activations.r: value.xreplace({activations.z: x})}),
            a,
        )

    def maximum(self, a, b):
        return self._map(lambda x, y: sp.Max(x, y), a, b)

    def compare(self, op, a, b):
        test = {">": lambda x, y: x > y, "<": lambda x, y: x < y,
                ">=": lambda x, y: x >= y, "<=": lambda x, y: x <= y}[op]
        return self._map(lambda x, y: sp.Integer(1) if bool(test(x, y)) else sp.Integer(0), a, b)

    def ones_like(self, a):
        return self._map(lambda x: sp.Integer(1), a)


_FLOAT_OPS: list = []


def _float_ops() -> FloatOps:
    """One shared FloatOps, so lambdified activations are built once per process."""
    if not _FLOAT_OPS:
        _FLOAT_OPS.append(FloatOps())
    return _FLOAT_OPS[0]


def evaluate(formula: Formula, env: dict, batch: int, net: Network, exact: bool = False):
    """The formula's value, symbols looked up in `env` (arrays as the NumPy code has them).

    Raises:
        FormulaShapeError: operands whose shapes do not conform (the message gives them).
    """
    ops = ExactOps() if exact else _float_ops()
    unit_axis = 0 if net.layout == "column" else 1
    alphas = {}
    for index, layer in enumerate(net.layers, start=1):
        alphas.setdefault(layer.activation, net.alpha_of(index))

    dtype = object if ops.exact else float

    def go(node):
        return np.asarray(step(node), dtype=dtype)

    def step(node):
        kind = node[0]
        if kind == "sym":
            if node[1] == "N":
                return ops.number(batch)
            return env[node[1]]
        if kind == "num":
            return ops.number(node[1])
        if kind == "ones":  # the contract's 1: (N, 1) in the column layout, (N,) in the row
            shape = (batch, 1) if net.layout == "column" else (batch,)
            return np.full(shape, ops.number(1)[()], dtype=dtype)
        if kind == "neg":
            return -go(node[1])
        if kind == "T":
            return go(node[1]).T
        if kind == "pow":
            base, k = go(node[1]), node[2]
            if not ops.exact:
                with np.errstate(all="ignore"):
                    return np.power(base, float(k))
            return ops._map(lambda x: x**k, base)
        if kind == "bin":
            _, op, left, right, text = node
            a, b = go(left), go(right)
            if op == "@":
                if left == ("ones",) and right == ("T", ("ones",)):
                    # 1 1ᵀ, the N x N matrix of ones, in either layout (the row layout's flat
                    # ones would make it the number N, which nobody means by ones @ ones.T)
                    return np.full((batch, batch), ops.number(1)[()], dtype=dtype)
                return _matmul(a, b, text)
            try:
                np.broadcast_shapes(a.shape, b.shape)
            except ValueError:
                raise FormulaShapeError(
                    f"'{text}' combines shapes {_shape(a)} and {_shape(b)}, which do not broadcast"
                ) from None
            with np.errstate(all="ignore"):
                return {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}[op](a, b)
        if kind == "cmp":
            return ops.compare(node[1], go(node[2]), go(node[3]))
        if kind == "reduce":
            _, op, operand, axis, keepdims = node
            a = go(operand)
            if axis is not None and not -a.ndim <= axis < a.ndim:
                raise FormulaShapeError(f"{op}(axis={axis}) of an array of shape {_shape(a)}")
            total = np.sum(a, axis=axis, keepdims=keepdims)
            total = np.asarray(total, dtype=object if ops.exact else float)
            if op == "mean":
                count = a.size if axis is None else a.shape[axis]
                total = total / (sp.Integer(count) if ops.exact else count)
            return total
        if kind == "act":
            _, name, derivative, arg = node
            act = activations.get(name)
            a = go(arg)
            if not act.elementwise:
                if derivative or a.ndim != 2:
                    raise FormulaShapeError(f"{name} needs a 2-D array of logits, got {_shape(a)}")
                return ops.activation(act, None, a, unit_axis)
            alpha = alphas.get(name, act.default_alpha)
            return ops.prime(act, alpha, a) if derivative else ops.activation(act, alpha, a, unit_axis)
        if kind == "call":
            _, name, args = node
            values = [go(a) for a in args]
            if name in _ELEMENTARY:
                return ops.elementary(name, values[0])
            if name == "ones_like":
                return ops.ones_like(values[0])
            if name == "zeros_like":  # dB_l of a batch-norm layer, np.zeros_like(B1)
                return ops.ones_like(values[0]) * ops.number(0)[()]
            try:
                np.broadcast_shapes(*(v.shape for v in values))
            except ValueError:
                shapes = ", ".join(_shape(v) for v in values)
                raise FormulaShapeError(f"{name}() of shapes {shapes}, which do not broadcast") from None
            if name == "maximum":
                return ops.maximum(*values)
            cond = np.asarray(values[0]).astype(bool)
            return np.where(cond, values[1], values[2])
        raise AssertionError(node)

    return np.asarray(go(formula.tree))


def _matmul(a, b, text):
    if a.ndim == 0 or b.ndim == 0:
        raise FormulaShapeError(f"'{text}': @ of a scalar ({_shape(a)} @ {_shape(b)}); use *")
    inner_a = a.shape[-1]
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b or a.ndim > 2 or b.ndim > 2:
        raise FormulaShapeError(
            f"'{text}' multiplies {_shape(a)} by {_shape(b)}: the inner sizes "
            f"{inner_a} and {inner_b} differ"
        )
    return np.asarray(a @ b)


def _shape(a) -> str:
    dims = np.shape(a)
    if len(dims) == 1:
        return f"({dims[0]},)"
    return "(" + ", ".join(map(str, dims)) + ")"
