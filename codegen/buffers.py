"""Derivation right-hand sides as NumPy calls that write into preallocated buffers.

`BufferPrinter.into(expr, out)` prints one nested call that computes `expr` into the array
`out` and evaluates to it: `np.add(np.matmul(X, W1, out=G1), B1, out=G1)` for G1 = X W1 + B1,
`np.multiply(np.matmul(D2, W2.T, out=D1), np.greater(R1, 0, out=_t0), out=D1)` for
D1 = (D2 W2^T) * relu'(R1). Every ufunc gets `out=`, so a kernel that owns its buffers (a
workspace) allocates nothing per call; matrix products run on transposed views, never on
materialised transposes; a bias sum is one `np.add.reduce` into the gradient.

Buffer sharing: the first child of a call that needs a buffer computes into the call's own
`out` (an elementwise ufunc may overwrite its input in place); every other such child gets a
temporary from a `TempPool`. Activations and their derivatives are printed from the registry's
SymPy expressions, as `KernelPrinter` prints them (stable sigmoid and softplus through
`np.logaddexp`, np.where branches clamped to their domain), only with `out=` buffers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import sympy as sp
from sympy import MatMul, MatrixSymbol, Transpose

from ..derive import activations
from ..derive.functions import softplus
from ..derive.nodes import Activated, ActivationPrime
from .numpy_printer import KernelPrinter, _clamped, _ones, _split_coeff

#: Elementwise SymPy functions and the ufunc each prints as.
_UFUNCS = {sp.exp: "np.exp", sp.log: "np.log", sp.tanh: "np.tanh", sp.Abs: "np.absolute"}
_RELATIONS = {">": "np.greater", ">=": "np.greater_equal", "<": "np.less", "<=": "np.less_equal"}


@dataclass
class Buffer:
    """A workspace array: its name, NumPy shape text (in N) and whether it holds booleans."""

    name: str
    shape: str
    boolean: bool = False


@dataclass
class TempPool:
    """Temporaries, reused from one statement to the next when shape and kind agree."""

    prefix: str = "_t"
    buffers: list[Buffer] = field(default_factory=list)
    busy: set[str] = field(default_factory=set)
    pinned: set[str] = field(default_factory=set)

    def take(self, shape: str, boolean: bool = False) -> str:
        for buf in self.buffers:
            if buf.name not in self.busy and buf.shape == shape and buf.boolean == boolean:
                self.busy.add(buf.name)
                return buf.name
        buf = Buffer(f"{self.prefix}{len(self.buffers)}", shape, boolean)
        self.buffers.append(buf)
        self.busy.add(buf.name)
        return buf.name

    def release(self) -> None:
        """Free every temporary but the pinned ones."""
        self.busy = set(self.pinned)

    def pin(self) -> None:
        """Keep the busy temporaries busy until `unpin` (their values are read later on)."""
        self.pinned = set(self.busy)

    def unpin(self) -> None:
        self.pinned = set()
        self.busy.clear()


class BufferPrinter:
    """Prints matrix and elementwise expressions as NumPy calls into named buffers.

    Args:
        printer: prints the scalar factors (`2 / N`, `0.2`) and records the names used.
        temps: where temporaries come from.
        shape: the NumPy shape text of the temporaries of the statement being printed.
    """

    def __init__(self, printer: KernelPrinter, temps: TempPool):
        self.printer = printer
        self.temps = temps
        self.shape = ""
        self.pending: list[str] = []
        self.known: dict[str, str] | None = None
        self.ones: dict[str, str] = {}
        self.lse = False

    def ones_array(self, shape: str) -> str:
        """The name of a workspace array of ones of `shape` ("(N, 1)", "(1, 10)", "(N,)"): sums
        are products with it (D 1 is `np.dot(D, _ones_N)`), as the write-up writes them and at
        a fraction of the cost of `np.add.reduce`."""
        size = [d.strip() for d in shape.strip("()").split(",") if d.strip() not in ("", "1")]
        name = f"_ones_{size[0] if size else 1}"
        self.ones[name] = shape
        return name

    def remember(self, code: str, name: str) -> None:
        """Record that the call `code` (ending in `out=name`) left its value in `name`, so a
        later call with the same function and arguments reads `name` instead (see `known`)."""
        if self.known is not None:
            self.known[_key(code)] = name

    # ------------------------------------------------------------------ entry point

    def statement(self, expr, out: str, shape: str) -> list[str]:
        """The calls that compute `expr` into `out`: shared subexpressions first, then one call.

        An `expr` that is just a named array prints as that name (an alias, no call).
        """
        self.shape, self.pending = shape, []
        code = self.into(expr, out)
        lines, self.pending = self.pending + [code], []
        return lines

    def into(self, expr, out: str | None) -> str:
        """Code that evaluates to `expr`; into the buffer `out` when it needs one."""
        if isinstance(expr, (MatrixSymbol, sp.Symbol)):
            return self.printer.doprint(expr)
        if isinstance(expr, Transpose) and isinstance(expr.arg, MatrixSymbol):
            return f"{self.printer.doprint(expr.arg)}.T"  # a view, never a copy
        if isinstance(expr, sp.Expr) and expr.is_number:
            return _number(self.printer, expr)
        method = getattr(self, f"_{type(expr).__name__}", None)
        if method is None:
            for cls in type(expr).__mro__:
                method = getattr(self, f"_{cls.__name__}", None)
                if method is not None:
                    break
        if method is None:
            raise NotImplementedError(f"no buffered NumPy form for {type(expr).__name__}: {expr}")
        return method(expr, out)

    # ------------------------------------------------------------------ calls

    def call(self, func: str, args: list, out: str, extra: str = "", reuse: bool = True) -> str:
        """`func(arg, ..., out=out)`: the first argument that needs a buffer computes into `out`
        (unless `reuse` is False: `out` already holds a partial result), the others into temps.

        An argument is a SymPy expression, or a string of code that is passed as it is.
        """
        needs = [i for i, a in enumerate(args) if isinstance(a, sp.Basic) and not _atom(a)]
        share = needs[0] if needs and reuse else None
        codes = []
        for i, arg in enumerate(args):
            if isinstance(arg, str):
                codes.append(arg)
            elif i == share:
                codes.append(self.into(arg, out))
            elif i in needs:
                codes.append(self.into(arg, self._temp(arg)))
            else:
                codes.append(self.into(arg, None))
        tail = f", {extra}" if extra else ""
        code = f"{func}({', '.join(codes)}{tail}, out={out})"
        if self.known is not None and _key(code) in self.known:
            return self.known[_key(code)]  # computed already: P - T for the loss and delta_L
        return code

    def _temp(self, expr) -> str:
        return self.temps.take(self.shape, boolean=_boolean(expr))

    def _fold(self, func: str, args: list, out: str) -> str:
        code = self.call(func, args[:2], out)
        for arg in args[2:]:
            code = self.call(func, [code, arg], out, reuse=False)
        return code

    # ------------------------------------------------------------------ matrix structure

    def _MatAdd(self, expr, out):
        # Terms in the derivation's order; B 1^T and 1 B broadcast; a -1 coefficient subtracts.
        terms = [_broadcast(t) for t in expr.args]
        return self._signed_sum(terms, out)

    def _MatMul(self, expr, out):
        coeff, rest = _split_coeff(expr)
        factors = list(rest.args) if isinstance(rest, MatMul) else [rest]
        if coeff != 1:
            return self._scale(coeff, MatMul(*factors) if len(factors) > 1 else factors[0], out)
        if len(factors) == 2 and _ones(factors[1]) == "column":  # D 1: sum over the batch
            return self.call("np.dot", [factors[0], self.ones_array("(N, 1)")], out)
        if len(factors) == 2 and _ones(factors[0]) == "row":  # 1^T D: sum over the batch
            return self.call("np.dot", [self.ones_array("(N,)"), factors[1]], out)
        if len(factors) == 2 and _ones(factors[1]) == "row":  # B 1^T broadcasts
            return self.into(factors[0], out)
        if len(factors) == 2 and _ones(factors[0]) == "column":  # 1 B broadcasts
            return self.into(factors[1], out)
        if len(factors) != 2:
            raise NotImplementedError(f"a product of {len(factors)} matrices: {expr}")
        return self.call("np.dot", factors, out)

    def _HadamardProduct(self, expr, out):
        return self._fold("np.multiply", list(expr.args), out)

    def _Activated(self, expr: Activated, out):
        act = expr.activation
        if act.over_units is not None:
            return self._over_units(act.over_units, expr, out)
        g = _symbol(expr.arg)
        return self.into(act.value_at(activations.z, expr.alpha).xreplace({activations.z: g}), out)

    def _ActivationPrime(self, expr: ActivationPrime, out):
        act = expr.activation
        scalar = act.derivative_at(activations.z, activations.r, expr.alpha)
        scalar = scalar.xreplace({activations.z: _symbol(expr.g), activations.r: _symbol(expr.out)})
        return self._shared(scalar, out)

    def _over_units(self, record: activations.OverUnits, expr: Activated, out):
        # s = the sum over the units of the record's summand exp(u), computed shifted by the
        # units' maximum m (exp(u - m) never overflows) into `out`; LSE = m + log s_shifted is
        # log s. The value is then the record's value(summand, s) at the shifted summand and
        # sum where it is unchanged by the shift (softmax: exp(u) / s), else its stable form
        # in LSE.
        self.lse = True
        g = _symbol(expr.arg)
        u = record.exponent.xreplace({activations.z: g})
        u_code = self.into(u, None)
        if not _atom(u):
            u_code = self._temp(u)
            self.pending.append(self.into(u, u_code))
        axis, units = expr.axis, self.shape.strip("()").split(",")[expr.axis].strip()
        reduced = "(1, N)" if axis == 0 else "(N, 1)"
        total, log_total = self.temps.take(reduced), self.temps.take(reduced)
        ones = self.ones_array(f"(1, {units})" if axis == 0 else f"({units}, 1)")
        summed = f"np.dot({ones}, {out}, out={total})" if axis == 0 else f"np.dot({out}, {ones}, out={total})"
        self.pending += [
            f"np.maximum.reduce({u_code}, axis={axis}, keepdims=True, out=LSE)  # m: the max over the units",
            f"np.exp(np.subtract({u_code}, LSE, out={out}), out={out})  # exp({u_code} - m) <= 1",
            f"{summed}  # s: its sum over the units",
            f"np.add(LSE, np.log({total}, out={log_total}), out=LSE)  # LSE = m + log s",
        ]
        if _shift_invariant(record):
            shifted = {record.summand: sp.Symbol(out, real=True), activations.s: sp.Symbol(total, real=True)}
            return self.into(record.value.xreplace(shifted), out)
        lse = sp.Symbol("LSE", real=True)
        return self.into(record.stable.xreplace({activations.z: g, activations.lse: lse}), out)

    # ------------------------------------------------------------------ scalar structure

    def _Add(self, expr, out):
        return self._signed_sum(_add_terms(expr), out)

    def _Mul(self, expr, out):
        coeff, rest = expr.as_coeff_Mul()
        if coeff == -1:
            return self.call("np.negative", [rest], out)
        if coeff != 1:
            return self._scale(coeff, rest, out)
        num, den = sp.fraction(expr)
        if den != 1:
            return self.call("np.divide", [num, den], out)
        return self._fold("np.multiply", list(expr.args), out)

    def _Pow(self, expr, out):
        base, exp = expr.args
        if exp == 2:
            return self.call("np.square", [base], out)
        if exp == -1:
            return self.call("np.reciprocal", [base], out)
        if exp == sp.Rational(1, 2):
            return self.call("np.sqrt", [base], out)
        return self.call("np.power", [base, self.printer.doprint(exp)], out)

    def _Function(self, expr, out):
        func = _UFUNCS.get(type(expr))
        if func is None:
            raise NotImplementedError(f"no ufunc for {type(expr).__name__}")
        return self.call(func, list(expr.args), out)

    def _sigmoid(self, expr, out):
        # 1 / (1 + exp(-x)) = exp(-log(1 + exp(-x))): logaddexp never overflows.
        return self.into(sp.exp(-softplus(-expr.args[0])), out)

    def _softplus(self, expr, out):
        return self.call("np.logaddexp", ["0.0", expr.args[0]], out)

    def _Max(self, expr, out):
        return self._fold("np.maximum", sorted(expr.args, key=lambda a: a.is_number), out)

    def _Min(self, expr, out):
        return self._fold("np.minimum", sorted(expr.args, key=lambda a: a.is_number), out)

    def _Heaviside(self, expr, out):
        # H(x) with H(0) = 0: the comparison x > 0, into a boolean mask where H is a factor of
        # a product (a temporary), or into a float array (0.0 / 1.0) where it is a value.
        if len(expr.args) > 1 and expr.args[1] != 0:
            raise NotImplementedError("only Heaviside(x, 0) is printed")
        return self.call("np.greater", [expr.args[0], "0.0"], out)

    def _Relational(self, expr, out):
        return self.call(_RELATIONS[expr.rel_op], [expr.lhs, expr.rhs], out)

    def _Piecewise(self, expr, out):
        # _where(cond, a, b, out) is np.where into a buffer; every branch is evaluated
        # everywhere, so each is clamped to its own domain (exp of a large z cannot overflow).
        pieces = list(expr.args)
        if pieces[-1].cond != sp.true:
            raise NotImplementedError("a Piecewise needs a final True branch")
        self.printer.helpers.add("where")
        previous, branches = [], []
        for value, cond in pieces:
            domain = ([] if cond == sp.true else [cond]) + [sp.Not(c) for c in previous]
            branches.append((_clamped(value, domain), cond))
            previous.append(cond)
        rest = branches[-1][0]
        for value, cond in reversed(branches[:-1]):
            rest = _Where(cond, value, rest)
        return self._where(rest, out)

    def _where(self, node: _Where, out: str) -> str:
        # The else branch computes into out (the helper copies it first), the rest into temps.
        cond = self.into(node.cond, self.temps.take(self.shape, boolean=True))
        value = self.into(node.value, None if _atom(node.value) else self.temps.take(self.shape))
        if isinstance(node.other, _Where):
            other = self._where(node.other, out)
        else:
            other = self.into(node.other, None if _atom(node.other) else out)
        return f"_where({cond}, {value}, {other}, out={out})"

    # ------------------------------------------------------------------ helpers

    def _signed_sum(self, terms: list, out: str) -> str:
        """terms[0] + terms[1] + ...: a term with a negative coefficient is subtracted."""
        code = terms[0]
        for i, term in enumerate(terms[1:]):
            func, term = _signed(term)
            code = self.call(func, [code, term], out, reuse=i == 0)
        return code if isinstance(code, str) else self.into(code, out)

    def _scale(self, coeff, body, out: str) -> str:
        """coeff * body: `np.divide(body, N)`, `np.multiply(body, 2 / N)`, `np.negative(body)`."""
        if coeff == -1:
            return self.call("np.negative", [body], out)
        if coeff.is_number:  # alphas and halves print as decimals: 0.2, 0.5
            return self.call("np.multiply", [body, self.printer.doprint(coeff)], out)
        num, den = sp.fraction(sp.factor_terms(coeff))
        if num == 1:
            return self.call("np.divide", [body, self.printer.doprint(den)], out)
        return self.call("np.multiply", [body, f"{self.printer.doprint(num)} / {self._den(den)}"], out)

    def _den(self, den) -> str:
        code = self.printer.doprint(den)
        return code if den.is_Atom else f"({code})"

    def _shared(self, scalar: sp.Expr, out: str) -> str:
        """Print `scalar`, first computing its repeated subexpressions into temporaries."""
        replacements, (reduced,) = sp.cse(scalar, symbols=_names(), optimizations=None)
        names = {}
        for sym, sub in replacements:
            sub = sub.xreplace(names)
            temp = self.temps.take(self.shape)
            self.pending.append(self.into(sub, temp))
            names[sym] = sp.Symbol(temp, real=True)
        return self.into(reduced.xreplace(names), out)


@dataclass(frozen=True)
class _Where:
    """np.where(cond, value, other), possibly nested in `other`."""

    cond: sp.Basic
    value: sp.Basic
    other: object


def _names():
    return sp.numbered_symbols("_cse")


def _add_terms(expr: sp.Add) -> list:
    """An Add's terms, a positive non-number first where there is one (exp(x) - 1), else the
    number (1 - R1**2), so the first call reads like the formula."""
    numbers = [a for a in expr.args if a.is_number]
    others = [a for a in expr.args if not a.is_number]
    positive = [a for a in others if not a.as_coeff_Mul()[0].is_negative]
    if positive:
        first = positive[0]
        return [first] + [a for a in others if a is not first] + numbers
    return numbers + others


def _signed(term):
    """("np.subtract", -term) for a term with a negative coefficient, else ("np.add", term)."""
    if isinstance(term, sp.MatrixExpr):
        coeff, body = _split_coeff(term)
        if coeff.is_number and coeff.is_negative:
            return "np.subtract", body if coeff == -1 else MatMul(-coeff, body)
        return "np.add", term
    coeff, body = term.as_coeff_Mul()
    if coeff.is_negative:
        return "np.subtract", -term
    return "np.add", term


def _broadcast(term):
    """B 1^T (column) or 1 B (row) as the bias B itself, which NumPy broadcasts."""
    if isinstance(term, MatMul):
        coeff, rest = _split_coeff(term)
        factors = list(rest.args) if isinstance(rest, MatMul) else [rest]
        if coeff == 1 and len(factors) == 2:
            if _ones(factors[1]) == "row":
                return factors[0]
            if _ones(factors[0]) == "column":
                return factors[1]
    return term


@cache
def _shift_invariant(record: activations.OverUnits) -> bool:
    """Whether the record's value is unchanged when its summand and their sum s are both
    scaled by one positive factor (so exp(u - m) and their sum give the same value)."""
    c = sp.Symbol("c", positive=True)
    scaled = record.value.xreplace({record.summand: c * record.summand, activations.s: c * activations.s})
    return sp.simplify(scaled - record.value) == 0


def _key(code: str) -> str:
    """A call without its `out=`: what it computes, whatever buffer it writes."""
    head, _, _ = code.rpartition(", out=")
    return head + ")"


def _boolean(expr) -> bool:
    """Whether `expr` is a 0/1 mask that a temporary can hold as booleans: a comparison, or a
    step H(x) (relu's derivative) that multiplies something, which NumPy multiplies by a
    boolean array at a third of the cost of a float 0/1 array."""
    if isinstance(expr, ActivationPrime):
        expr = expr.activation.derivative_at(activations.z, activations.r, expr.alpha)
    return isinstance(expr, (sp.core.relational.Relational, sp.Heaviside))


def _number(printer: KernelPrinter, expr) -> str:
    """A number as a ufunc argument: integers as floats (`0.0`), which NumPy takes without an
    integer-overflow check and which, being Python floats, keep a float32 array float32."""
    if expr.is_Integer:
        return f"{int(expr)}.0"
    return printer.doprint(expr)


def _atom(expr) -> bool:
    if isinstance(expr, (MatrixSymbol, sp.Symbol)):
        return True
    if isinstance(expr, Transpose) and isinstance(expr.arg, MatrixSymbol):
        return True
    return isinstance(expr, sp.Expr) and expr.is_number


def _symbol(matrix) -> sp.Symbol:
    """The scalar symbol that stands for a named array in an elementwise expression."""
    if not isinstance(matrix, MatrixSymbol):
        raise TypeError(f"activations are printed on named arrays, got {matrix}")
    return sp.Symbol(matrix.name, real=True)



def total(printer: BufferPrinter, term: sp.Expr, shape: str) -> tuple[list[str], str]:
    """(lines, code): the sum over all elements of the elementwise `term`, into buffers.

    A sum of products is a dot product (`np.vdot(T, ...)`), a sum of squares too
    (`np.vdot(E, E)`); any other term is reduced with `np.add.reduce(..., axis=None)`.
    """
    printer.shape, printer.pending = shape, []
    text = ""
    parts = sorted(sp.Add.make_args(term), key=lambda part: bool(part.as_coeff_mul()[0] < 0))
    for part in parts:
        coeff, factors = part.as_coeff_mul()
        code = _summed(printer, list(factors))
        if coeff < 0:
            text += f" - {code}" if text else f"-{code}"
            coeff = -coeff
        else:
            text += f" + {code}" if text else code
        if coeff != 1:
            raise NotImplementedError(f"a loss term with a numeric factor: {part}")
    lines, printer.pending = printer.pending, []
    return lines, text


def _summed(printer: BufferPrinter, factors: list) -> str:
    if len(factors) == 1 and isinstance(factors[0], sp.Pow) and factors[0].exp == 2:
        name = _named(printer, factors[0].base)
        return f"np.vdot({name}, {name})"
    if len(factors) == 1:
        return f"np.add.reduce({_inline(printer, factors[0])}, axis=None)"
    first = sp.Mul(*factors[:-1]) if len(factors) > 2 else factors[0]
    return f"np.vdot({_inline(printer, first)}, {_inline(printer, factors[-1])})"


def _inline(printer: BufferPrinter, expr) -> str:
    return printer.into(expr, None if _atom(expr) else printer.temps.take(printer.shape))


def _named(printer: BufferPrinter, expr) -> str:
    """A name for `expr`: its own, or a temporary computed on a line of its own."""
    if _atom(expr):
        return printer.into(expr, None)
    temp = printer.temps.take(printer.shape)
    code = printer.into(expr, temp)
    printer.pending.append(code)
    printer.remember(code, temp)
    return temp
