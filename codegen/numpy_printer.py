"""The NumPy printer of generated kernels: one `_print_<Class>` per construct, two styles.

`KernelPrinter` is a SymPy `NumPyPrinter`; its `style` setting picks how an equation prints
(contract section 5):

- `"fast"`: one nested NumPy call that writes into the equation's own array and evaluates to
  it, `np.add(np.dot(W1, X, out=G1), B1, out=G1)` for G1 = W1 X + B1 1^T. A method called with
  `out=NAME` prints such a call: the first child that needs a buffer computes into `out` (a
  ufunc may overwrite its input), every other one into a temporary from a `TempPool`; products
  run on transposed views; a sum over the batch is the product with a ones vector (D 1).
- `"textbook"`: one plain expression with operators over the array API namespace `xp`,
  `W1 @ X + B1`, `(W3.T @ D3) * xp.astype(R2 > 0, R2.dtype)`, `xp.sum(D3, axis=1,
  keepdims=True)`: what a method prints when called without `out`.

In both styles the scalars (`2 / N`, `0.2`) and the loss print as expressions. An activation and
its derivative print from the registry's SymPy expressions (z standing for the G array, r for
the R array), so a new activation needs nothing here unless it uses a new scalar function.

Every form keeps the caller's dtype (float32 in, float32 out) and raises no RuntimeWarning for
finite input: sigmoid and softplus through logaddexp, where-branches clamped to their own
domain, numeric branches in the array's dtype.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import ClassVar

import sympy as sp
from sympy import MatMul, MatrixSymbol, OneMatrix, Transpose
from sympy.matrices.expressions.matexpr import MatrixExpr
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE, precedence

from ..derive import activations
from ..derive.chain import N
from ..derive.functions import softplus
from ..derive.nodes import Activated, ActivationPrime
from .buffers import TempPool

STYLES = ("fast", "textbook")

#: Elementwise SymPy functions and the ufunc each prints as (attached below in one loop).
_UFUNCS = {sp.exp: "exp", sp.log: "log", sp.tanh: "tanh", sp.Abs: "absolute"}
_RELATIONS = {">": "greater", ">=": "greater_equal", "<": "less", "<=": "less_equal"}
_INFIX = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class KernelPrinter(NumPyPrinter):
    """Prints derivation expressions as a generated kernel's NumPy code.

    Settings:
        style: "fast" (calls into buffers, `np.`) or "textbook" (expressions, `xp.`).

    Attributes:
        temps: where the fast style's temporaries come from.
        shape: the NumPy shape text of the temporaries of the statement being printed.
        pending: fast: calls that the statement being printed needs first.
        known: fast: calls already computed (without their `out=`) -> the array holding them.
        ones: fast: the ones vectors sums multiply by, name -> shape.
        lse: fast: an activation over the units computed its log-sum-exp into LSE.
        used: every array name printed so far (what a function body must unpack).
        helpers: the module-level helpers the printed code calls (e.g. "logsumexp").
        notes: textbook: what the statements printed since it was emptied say beyond the
            write-up (a derivative written in the output R, a stable form), one line each.
    """

    _default_settings: ClassVar[dict] = {**NumPyPrinter._default_settings, "style": "fast"}

    def __init__(self, settings=None, temps: TempPool | None = None):
        super().__init__({"fully_qualified_modules": True, **(settings or {})})
        if self._settings["style"] not in STYLES:
            raise ValueError(f"unknown kernel style {self._settings['style']!r}")
        self.temps = temps if temps is not None else TempPool()
        self.shape = ""
        self.pending: list[str] = []
        self.known: dict[str, str] | None = None
        self.ones: dict[str, str] = {}
        self.lse = False
        self.used: set[str] = set()
        self.helpers: set[str] = set()
        self.notes: list[str] = []
        self._like: str | None = None

    @property
    def fast(self) -> bool:
        return self._settings["style"] == "fast"

    @property
    def ns(self) -> str:
        """The array namespace the printed code calls: `np` (fast) or `xp` (textbook)."""
        return "np" if self.fast else "xp"

    # ------------------------------------------------------------------ entry points

    def statement(self, expr, out: str, shape: str) -> list[str]:
        """The code of `out = expr`'s right-hand side: fast, the calls that compute `expr`
        into `out` (shared subexpressions first; an alias where `expr` is a named array);
        textbook, the one expression."""
        if not self.fast:
            return [self.expression(expr)]
        self.shape, self.pending = shape, []
        code = self.into(expr, out)
        lines, self.pending = self.pending + [code], []
        return lines

    def expression(self, expr, like: str | None = None) -> str:
        """`expr` as an expression; numbers that must take an array's dtype take `like`'s."""
        outer, self._like = self._like, like if like is not None else self._like
        try:
            return self._print(expr)
        finally:
            self._like = outer

    def elementwise(self, expr: sp.Expr, like: str) -> str:
        """A scalar expression applied elementwise to arrays; numbers take `like`'s dtype."""
        return self.expression(expr, like)

    def function(self, name: str) -> str:
        """A function of the namespace: `np.sum`, `xp.sum`."""
        return f"{self.ns}.{name}"

    def into(self, expr, out: str | None) -> str:
        """Fast: code that evaluates to `expr`, computed into the buffer `out` where it needs one."""
        if _atom(expr):
            return self._number(expr) if _is_number(expr) else self._print(expr)
        return self._print(expr, out=out)

    # ------------------------------------------------------------------ names and numbers

    def _module_format(self, fqn, register=True):
        # Generated modules `import numpy as np`; textbook ones call the namespace `xp`.
        if fqn.startswith("numpy."):
            fqn = f"{self.ns}." + fqn[len("numpy."):]
        return super()._module_format(fqn, register)

    def _print_MatrixSymbol(self, expr):
        # Record each array used, so a function body unpacks exactly what it needs.
        self.used.add(expr.name)
        return expr.name

    def _print_Symbol(self, expr):
        if not expr.name.startswith("_t"):
            self.used.add(expr.name)
        return expr.name

    def _print_Rational(self, expr):
        # Alphas come from decimals in the spec: print 0.2, not 1/5, where that is exact.
        decimal = repr(float(expr))
        if sp.Rational(decimal) == expr:
            return decimal
        return f"{expr.p}/{expr.q}"

    def _print_Half(self, expr):
        return self._print_Rational(expr)

    def _number(self, expr) -> str:
        """A number as a call's argument: integers as floats (`0.0`), which NumPy takes without
        an integer-overflow check and which, being Python floats, keep float32 arrays float32."""
        if expr.is_Integer:
            return f"{int(expr)}.0"
        return self.doprint(expr)

    # ------------------------------------------------------------------ matrix structure

    def _print_MatAdd(self, expr, out=None):
        # Terms in the derivation's order (W1 @ X + B1); B 1^T and 1 B broadcast; P + (-1) T
        # is P - T.
        terms = [_broadcast(t) for t in expr.args]
        if out is not None:
            return self._signed_sum(terms, out)
        text = ""
        for term in terms:
            coeff, rest = _split_coeff(term)
            if coeff.is_number and coeff.is_negative:
                text += f" - {self._scaled(-coeff, rest)}" if text else f"-{self._scaled(-coeff, rest)}"
            else:
                text += f" + {self._print(term)}" if text else self._print(term)
        return text

    def _print_MatMul(self, expr, out=None):
        # Ones vectors are spelled as what they do: a sum over the batch (D 1, 1^T D) or a
        # broadcast (B 1^T, 1 B).
        coeff, rest = _split_coeff(expr)
        factors = _unspread(list(rest.args) if isinstance(rest, MatMul) else [rest])
        if coeff != 1:
            body = MatMul(*factors) if len(factors) > 1 else factors[0]
            return self._scale(coeff, body, out) if out is not None else self._scaled(coeff, body)
        if len(factors) == 2 and _ones(factors[1]) == "row":  # B 1^T broadcasts
            return self.into(factors[0], out) if out is not None else self._print(factors[0])
        if len(factors) == 2 and _ones(factors[0]) == "column":  # 1 B broadcasts
            return self.into(factors[1], out) if out is not None else self._print(factors[1])
        if len(factors) == 2 and _ones(factors[1]) == "column":  # D 1: sum over the batch
            if out is not None:  # (the summand never shares `out`: its shape is another)
                return self.call("np.dot", [factors[0], self.ones_array("(N, 1)")], out,
                                 reuse=False)
            return f"{self.function('sum')}({self._print(factors[0])}, axis=1, keepdims=True)"
        if len(factors) == 2 and _ones(factors[0]) == "row":  # 1^T D: sum over the batch
            if out is not None:
                return self.call("np.dot", [self.ones_array("(N,)"), factors[1]], out,
                                 reuse=False)
            return f"{self.function('sum')}({self._print(factors[1])}, axis=0)"
        if len(factors) != 2:
            raise NotImplementedError(f"a product of {len(factors)} matrices: {expr}")
        if out is not None:
            return self.call("np.dot", factors, out)
        return " @ ".join(self._factor(f) for f in factors)

    def _print_HadamardProduct(self, expr, out=None):
        # The elementwise product: NumPy's multiply, the operator *; A * A as np.square(A),
        # which computes A once (batch norm's variance: one pass fewer over the batch).
        if out is not None:
            if len(expr.args) == 2 and expr.args[0] == expr.args[1]:
                return self.call("np.square", [expr.args[0]], out)
            return self._fold("np.multiply", list(expr.args), out)
        return " * ".join(self._factor(arg) for arg in expr.args)

    def _print_Transpose(self, expr, out=None):
        # A view: W2.T (the fast style meets only transposed names, which `into` prints).
        if out is not None:
            raise NotImplementedError(f"no in-place form for the transpose of {expr.arg}")
        return f"{self._factor(expr.arg)}.T"

    def _print_InverseSqrt(self, expr, out=None):
        # Batch norm's 1 / sqrt(VAR + eps), per unit.
        eps = self._number(expr.eps)
        if out is None:
            return f"1 / {self.function('sqrt')}({self._factor(expr.arg)} + {eps})"
        inner = self.call("np.add", [expr.arg, eps], out)
        return f"np.reciprocal(np.sqrt({inner}, out={out}), out={out})"

    def _print_ZeroMatrix(self, expr, out=None):
        # A batch-norm layer's dB_l: exactly zero.
        if out is not None:
            return f"np.copyto({out}, 0)"
        return f"{self.function('zeros_like')}({self._like_name()})"

    # ------------------------------------------------------------------ activations

    def _print_Activated(self, expr, out=None):
        # f(G) from the record: its value at z = G (softmax: its stable form in lse).
        act, g = _activation(expr), _symbol(_argument(expr))
        if act.over_units is not None:
            if out is not None:
                return self._over_units(act.over_units, expr, out)
            lse = self.lse_of(act.over_units, g, _axis(expr))
            self._note(f"{act.name}({g}) in its stable form, through the log-sum-exp")
            return self.expression(act.over_units.stable.xreplace({activations.z: g, activations.lse: lse}), g.name)
        scalar = act.value_at(activations.z, _alpha(expr)).xreplace({activations.z: g})
        return self.into(scalar, out) if out is not None else self.expression(scalar, g.name)

    def _print_ActivationPrime(self, expr, out=None):
        # f'(G) from the record, in z = G and r = R (what forward kept).
        act, g, r = _activation(expr), _symbol(_prime_input(expr)), _symbol(_prime_output(expr))
        scalar = act.derivative_at(activations.z, activations.r, _alpha(expr))
        scalar = scalar.xreplace({activations.z: g, activations.r: r})
        if out is not None:
            return self._shared(scalar, out)
        like = g.name if g in scalar.free_symbols else r.name
        if r in scalar.free_symbols:
            self._note(f"{act.name}'({g}) written in {r} = {act.name}({g})")
        if scalar.is_number:  # a constant derivative (step's 0): an array of it
            self.used.add(like)
            return {0: f"xp.zeros_like({like})", 1: f"xp.ones_like({like})"}.get(
                scalar, f"xp.full_like({like}, {self._print(scalar)})"
            )
        return self.expression(scalar, like)

    def _over_units(self, record: activations.OverUnits, expr, out: str) -> str:
        # s = the sum over the units of the record's summand exp(u), computed shifted by the
        # units' maximum m (exp(u - m) never overflows) into `out`; LSE = m + log s_shifted is
        # log s. The value is then the record's value(summand, s) at the shifted summand and
        # sum where it is unchanged by the shift (softmax: exp(u) / s), else its stable form
        # in LSE.
        self.lse = True
        g = _symbol(_argument(expr))
        u = record.exponent.xreplace({activations.z: g})
        u_code = self.into(u, None) if _atom(u) else self._temp(u)
        if not _atom(u):
            self.pending.append(self.into(u, u_code))
        axis, units = _axis(expr), self.shape.strip("()").split(",")[_axis(expr)].strip()
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

    def lse_of(self, record: activations.OverUnits, g: sp.Symbol, axis: int) -> sp.Expr:
        """lse = log s of an activation over the units, at the array `g`, as a printable node."""
        return LogSumExpOver(record.exponent.xreplace({activations.z: g}), sp.Integer(axis))

    def _print_LogSumExpOver(self, expr):
        # A module helper that keeps the reduced axis, so the result broadcasts against G.
        name = "_logsumexp" if self.fast else "logsumexp"
        self.helpers.add("logsumexp")
        return f"{name}({self._print(expr.args[0])}, axis={expr.args[1]})"

    # ------------------------------------------------------------------ scalar structure

    def _print_Add(self, expr, out=None):
        if out is None and self.fast:
            return super()._print_Add(expr)
        if out is None:  # textbook: a positive term first, as formulas are written
            terms = _add_terms(expr)
            text = self._print(terms[0])
            for term in terms[1:]:
                if term.could_extract_minus_sign():
                    text += f" - {self.parenthesize(-term, PRECEDENCE['Add'] + 1)}"
                else:
                    text += f" + {self.parenthesize(term, PRECEDENCE['Add'])}"
            return text
        return self._signed_sum(_add_terms(expr), out)

    def _print_Mul(self, expr, out=None):
        coeff, rest = expr.as_coeff_Mul()
        if out is None:
            # A decimal coefficient leads the product (0.2*G1), instead of (0.2)*G1 or G1/5.
            if coeff.is_Rational and not coeff.is_Integer and coeff > 0:
                decimal = self._print_Rational(coeff)
                if "/" not in decimal:
                    return f"{decimal}*{self.parenthesize(rest, PRECEDENCE['Mul'])}"
            return super()._print_Mul(expr)
        if coeff == -1:
            return self.call("np.negative", [rest], out)
        if coeff != 1:
            return self._scale(coeff, rest, out)
        num, den = sp.fraction(expr)
        if den != 1:
            return self.call("np.divide", [num, den], out)
        return self._fold("np.multiply", list(expr.args), out)

    def _print_Pow(self, expr, out=None, rational=False):
        if out is None:
            return super()._print_Pow(expr, rational=rational)
        base, exp = expr.args
        if exp == 2:
            return self.call("np.square", [base], out)
        if exp == -1:
            return self.call("np.reciprocal", [base], out)
        if exp == sp.Rational(1, 2):
            return self.call("np.sqrt", [base], out)
        return self.call("np.power", [base, self._print(exp)], out)

    def _print_Relational(self, expr, out=None):
        # Infix comparisons read better than greater(...) and broadcast the same.
        if out is not None:
            return self.call(f"np.{_RELATIONS[expr.rel_op]}", [expr.lhs, expr.rhs], out)
        prec = PRECEDENCE["Relational"]
        op = _INFIX[expr.rel_op]
        return f"{self.parenthesize(expr.lhs, prec)} {op} {self.parenthesize(expr.rhs, prec)}"

    def _print_sigmoid(self, expr, out=None):
        # 1 / (1 + exp(-x)) = exp(-log(1 + exp(-x))): logaddexp never overflows. The textbook
        # calls the module's sigmoid, which says so.
        if out is not None:
            return self.into(sp.exp(-softplus(-expr.args[0])), out)
        self.helpers.add("sigmoid")
        return f"sigmoid({self._print(expr.args[0])})"

    def _print_softplus(self, expr, out=None):
        # log(1 + exp(x)) as logaddexp(0, x), which never overflows.
        if out is not None:
            return self.call("np.logaddexp", ["0.0", expr.args[0]], out)
        if self.fast:
            return f"np.logaddexp(0.0, {self._print(expr.args[0])})"
        self.helpers.add("softplus")
        return f"softplus({self._print(expr.args[0])})"

    def _print_Max(self, expr, out=None):
        # Arrays first, numbers last: maximum(G1, 0.0).
        return self._fold(f"{self.ns}.maximum", _arrays_first(expr.args), out)

    def _print_Min(self, expr, out=None):
        return self._fold(f"{self.ns}.minimum", _arrays_first(expr.args), out)

    def _print_Heaviside(self, expr, out=None):
        # H(x) with H(0) = 0: the comparison x > 0; fast, into a boolean mask where H is a
        # factor of a product (a temporary) or into a float array where it is a value;
        # textbook, cast to the array's dtype (the standard does not mix bool and float).
        if len(expr.args) > 1 and expr.args[1] != 0:
            raise NotImplementedError("only Heaviside(x, 0) is printed")
        if out is not None:
            return self.call("np.greater", [expr.args[0], "0.0"], out)
        x = self.parenthesize(expr.args[0], PRECEDENCE["Relational"])
        return f"xp.astype({x} > 0, {self._dtype()})"

    def _print_Piecewise(self, expr, out=None):
        # where() evaluates every branch everywhere: each branch's argument is clamped to its
        # own domain (exp of a large z in an unused branch cannot overflow).
        pieces = list(expr.args)
        if pieces[-1].cond != sp.true:
            raise NotImplementedError("a Piecewise needs a final True branch")
        previous, branches = [], []
        for value, cond in pieces:
            domain = ([] if cond == sp.true else [cond]) + [sp.Not(c) for c in previous]
            branches.append((_clamped(value, domain), cond))
            previous.append(cond)
        if out is not None:
            self.helpers.add("where")
            rest = branches[-1][0]
            for value, cond in reversed(branches[:-1]):
                rest = _Where(cond, value, rest)
            return self._where(rest, out)
        if any(clamped != value for (clamped, _), (value, _) in zip(branches, pieces)):
            self._note("the branch where() discards is clamped to its own side, so it cannot overflow")
        last = branches[-1][0]
        # Numbers only: the last branch is an array of the reference array's dtype and shape.
        code = self._print(last) if not all(v.is_number for v, _ in branches) else (
            f"xp.full_like({self._like_name()}, {self._number(last)})"
        )
        for value, cond in reversed(branches[:-1]):
            value_code = self._number(value) if value.is_number else self._print(value)
            code = f"xp.where({self._print(cond)}, {value_code}, {code})"
        return code

    def _where(self, node: _Where, out: str) -> str:
        # The else branch computes into out (the helper copies it first), the rest into temps.
        cond = self.into(node.cond, self.temps.take(self.shape, boolean=True))
        value = self.into(node.value, None if _atom(node.value) else self.temps.take(self.shape))
        if isinstance(node.other, _Where):
            other = self._where(node.other, out)
        else:
            other = self.into(node.other, None if _atom(node.other) else out)
        return f"_where({cond}, {value}, {other}, out={out})"

    # ------------------------------------------------------------------ fast: calls into buffers

    def call(self, func: str, args: list, out: str, extra: str = "", reuse: bool = True) -> str:
        """`func(arg, ..., out=out)`: the first argument that needs a buffer computes into `out`
        (unless `reuse` is False: `out` already holds a partial result), the others into temps.

        An argument is a SymPy expression, or a string of code that is passed as it is.
        """
        needs = [i for i, a in enumerate(args) if isinstance(a, sp.Basic) and not _atom(a)]
        # the first argument that needs a buffer of out's own shape computes into out
        fits = [i for i in needs if self._value_shape(args[i]) == self._shape_of(out)]
        share = fits[0] if fits and reuse else None
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

    def total(self, term: sp.Expr, shape: str) -> tuple[list[str], str]:
        """Fast: (lines, code), the sum over all elements of the elementwise `term`.

        A sum of products is a dot product (`np.vdot(T, ...)`), a sum of squares too
        (`np.vdot(E, E)`); any other term is reduced with `np.add.reduce(..., axis=None)`.
        """
        self.shape, self.pending = shape, []
        text = ""
        parts = sorted(sp.Add.make_args(term), key=lambda part: bool(part.as_coeff_mul()[0] < 0))
        for part in parts:
            coeff, factors = part.as_coeff_mul()
            code = self._summed(list(factors))
            if coeff < 0:
                text += f" - {code}" if text else f"-{code}"
                coeff = -coeff
            else:
                text += f" + {code}" if text else code
            if coeff != 1:
                raise NotImplementedError(f"a loss term with a numeric factor: {part}")
        lines, self.pending = self.pending, []
        return lines, text

    def _summed(self, factors: list) -> str:
        if len(factors) == 1 and isinstance(factors[0], sp.Pow) and factors[0].exp == 2:
            name = self._named(factors[0].base)
            return f"np.vdot({name}, {name})"
        if len(factors) == 1:
            return f"np.add.reduce({self._inline(factors[0])}, axis=None)"
        first = sp.Mul(*factors[:-1]) if len(factors) > 2 else factors[0]
        return f"np.vdot({self._inline(first)}, {self._inline(factors[-1])})"

    def _inline(self, expr) -> str:
        return self.into(expr, None if _atom(expr) else self.temps.take(self.shape))

    def _named(self, expr) -> str:
        """A name for `expr`: its own, or a temporary computed on a line of its own."""
        if _atom(expr):
            return self.into(expr, None)
        temp = self.temps.take(self.shape)
        code = self.into(expr, temp)
        self.pending.append(code)
        self.remember(code, temp)
        return temp

    def _temp(self, expr) -> str:
        return self.temps.take(self._value_shape(expr), boolean=_boolean(expr))

    def _shape_of(self, name: str) -> str:
        """The shape text of the buffer `name`: a temporary's own, else the statement's."""
        for buf in self.temps.buffers if self.temps is not None else ():
            if buf.name == name:
                return buf.shape
        return self.shape

    def _value_shape(self, expr) -> str:
        """The shape text of the array `expr` evaluates to (a temporary's shape): a spread
        vector (B 1^T) is the vector, a sum over the batch (D 1, 1^T D) one value per unit."""
        if not isinstance(expr, MatrixExpr):
            return self.shape
        if isinstance(expr, MatMul):
            coeff, rest = _split_coeff(expr)
            factors = _unspread(list(rest.args) if isinstance(rest, MatMul) else [rest])
            if len(factors) == 2 and _ones(factors[1]) == "row":
                return self._value_shape(factors[0])
            if len(factors) == 2 and _ones(factors[0]) == "column":
                return self._value_shape(factors[1])
            if len(factors) == 2 and _ones(factors[1]) == "column":
                return f"({factors[0].shape[0]}, 1)"
            if len(factors) == 2 and _ones(factors[0]) == "row":
                return f"({factors[1].shape[1]},)"
        rows, cols = expr.shape
        if rows == 1 and cols != N:  # a row-layout vector: a flat NumPy array
            return f"({cols},)"
        return f"({rows}, {cols})"

    def _fold(self, func: str, args: list, out: str | None) -> str:
        """func(func(a, b), c) ...: into `out`, or as an expression."""
        if out is None:
            code = self._print(args[0])
            for arg in args[1:]:
                code = f"{func}({code}, {self._number(arg) if arg.is_number else self._print(arg)})"
            return code
        code = self.call(func, args[:2], out)
        for arg in args[2:]:
            code = self.call(func, [code, arg], out, reuse=False)
        return code

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
            return self.call("np.multiply", [body, self.doprint(coeff)], out)
        num, den = sp.fraction(sp.factor_terms(coeff))
        if num == 1:
            return self.call("np.divide", [body, self.doprint(den)], out)
        return self.call("np.multiply", [body, f"{self.doprint(num)} / {self._den(den)}"], out)

    def _den(self, den) -> str:
        code = self.doprint(den)
        return code if den.is_Atom else f"({code})"

    def _shared(self, scalar: sp.Expr, out: str) -> str:
        """Print `scalar`, first computing its repeated subexpressions into temporaries."""
        replacements, (reduced,) = sp.cse(scalar, symbols=sp.numbered_symbols("_cse"), optimizations=None)
        names = {}
        for sym, sub in replacements:
            sub = sub.xreplace(names)
            temp = self.temps.take(self.shape)
            self.pending.append(self.into(sub, temp))
            names[sym] = sp.Symbol(temp, real=True)
        return self.into(reduced.xreplace(names), out)

    # ------------------------------------------------------------------ expressions

    def _factor(self, arg) -> str:
        """`arg` as an operand of @, * or .T: parenthesised unless it binds tighter."""
        code = self._print(arg)
        if _atomic(arg) or isinstance(arg, Transpose):
            return code
        if isinstance(arg, (MatMul, sp.MatAdd, sp.HadamardProduct)) or _is_activation_node(arg):
            scalar_prec = self._node_precedence(arg)
            return code if scalar_prec >= PRECEDENCE["Mul"] else f"({code})"
        return f"({code})"

    def _node_precedence(self, arg) -> int:
        """How tightly a printed matrix node binds: products and sums need brackets as factors;
        an activation binds as its printed scalar form does (a call binds tightest)."""
        if not _is_activation_node(arg):
            return PRECEDENCE["Add"]
        act = _activation(arg)
        if isinstance(arg, ActivationPrime):
            scalar = act.derivative_at(activations.z, activations.r, _alpha(arg))
            if scalar.is_number:
                return PRECEDENCE["Atom"]
        elif act.over_units is not None:
            return PRECEDENCE["Atom"]
        else:
            scalar = act.value_at(activations.z, _alpha(arg))
        if isinstance(scalar, sp.Piecewise):
            return PRECEDENCE["Atom"]
        return precedence(scalar)

    def _scaled(self, coeff, matrix) -> str:
        """coeff * matrix as `matrix / (2*N)`, `2 / N * matrix` or `0.5 * matrix`."""
        code = self._print(matrix)
        atomic = _atomic(matrix) or isinstance(matrix, Transpose)
        return self.scaled(coeff, code, atomic=atomic, lead=True)

    def scaled(self, coeff, code: str, atomic: bool, lead: bool = False) -> str:
        """`coeff * code` printed as `code / (2*N)` or `0.5 * code`; with `lead`, a numerator
        other than 1 leads as a fraction, `2 / N * code`, as the write-up writes it."""
        num, den = sp.fraction(sp.factor_terms(coeff))
        if not atomic:
            code = f"({code})"
        if lead and num != 1 and num != -1 and den != 1:
            den_code = self._print(den) if den.is_Atom else f"({self._print(den)})"
            return f"{self._print(num)} / {den_code} * {code}"
        if num != 1:
            code = f"{self._print(num)} * {code}" if num != -1 else f"-{code}"
        if den != 1:
            den_code = self._print(den)
            code += f" / {den_code}" if den.is_Atom else f" / ({den_code})"
        return code

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def _dtype(self) -> str:
        return f"{self._like_name()}.dtype"

    def _like_name(self) -> str:
        if self._like is None:
            raise ValueError("a dtype-preserving form needs a reference array")
        self.used.add(self._like)
        return self._like


def _ufunc_printer(func, name: str):
    """`_print_<Function>` for an elementwise function: `np.NAME(x, out=...)` into a buffer, or
    NumPyPrinter's `np.exp(x)` / `xp.exp(x)` as an expression."""
    expression = getattr(NumPyPrinter, f"_print_{func.__name__}")

    def method(self, expr, out=None):
        if out is None:
            return expression(self, expr)
        return self.call(f"np.{name}", list(expr.args), out)

    return method


for _func, _name in _UFUNCS.items():
    setattr(KernelPrinter, f"_print_{_func.__name__}", _ufunc_printer(_func, _name))


def kernel_printer(style: str = "fast", temps: TempPool | None = None) -> KernelPrinter:
    """The printer of one kernel module in `style` ("fast" or "textbook")."""
    return KernelPrinter({"style": style}, temps=temps)


# ---------------------------------------------------------------------- reading the nodes
# Activation nodes are read only through these, so what a node carries can change in one place.


def _is_activation_node(expr) -> bool:
    return isinstance(expr, (Activated, ActivationPrime))


def _activation(node) -> activations.Activation:
    """The activation record an `Activated` or `ActivationPrime` node holds."""
    return node.record


def _alpha(node):
    """The node's alpha (None for an activation that takes none)."""
    return node.alpha


def _argument(node):
    """The matrix an `Activated` node applies its activation to (G_l)."""
    return node.arg


def _axis(node) -> int:
    """The unit axis of an `Activated` node (0 column, 1 row)."""
    return node.axis


def _prime_input(node):
    """The matrix an `ActivationPrime` is the derivative at (G_l)."""
    return node.g


def _prime_output(node):
    """The activation's output at that matrix (R_l), which the derivative may be written in."""
    return node.out


# ---------------------------------------------------------------------- module helpers


class LogSumExpOver(sp.Function):
    """log(sum(exp(u))) over an axis of the arrays in u, kept as a length-1 axis (printing only).

    args: (u, axis).
    """

    nargs = 2


@dataclass(frozen=True)
class _Where:
    """where(cond, value, other), possibly nested in `other`."""

    cond: sp.Basic
    value: sp.Basic
    other: object


def _split_coeff(expr):
    """(scalar coefficient, matrix part) of a matrix term."""
    if isinstance(expr, MatMul):
        coeff, matrices = expr.as_coeff_matrices()
        if not matrices:
            return coeff, expr
        rest = matrices[0] if len(matrices) == 1 else MatMul(*matrices)
        return coeff, rest
    return sp.S.One, expr


def _ones(expr) -> str | None:
    """'row' for a 1 x N ones matrix (1^T), 'column' for N x 1, else None."""
    if isinstance(expr, Transpose) and isinstance(expr.arg, OneMatrix):
        expr = OneMatrix(expr.arg.shape[1], expr.arg.shape[0])
    if isinstance(expr, OneMatrix):
        rows, cols = expr.shape
        if rows == 1 and cols != 1:
            return "row"
        if cols == 1 and rows != 1:
            return "column"
    return None


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


def _unspread(factors: list) -> list:
    """A batch sum spread back over the batch (D 1 1^T, 1 1^T D: batch norm's) as the sum
    alone, which NumPy broadcasts; other products unchanged."""
    if len(factors) == 3 and _ones(factors[1]) == "column" and _ones(factors[2]) == "row":
        return factors[:2]
    if len(factors) == 3 and _ones(factors[0]) == "column" and _ones(factors[1]) == "row":
        return factors[1:]
    return factors


def _broadcast(term):
    """B 1^T (column) or 1 B (row) as the bias B itself, which NumPy broadcasts."""
    if isinstance(term, MatMul):
        coeff, rest = _split_coeff(term)
        factors = _unspread(list(rest.args) if isinstance(rest, MatMul) else [rest])
        if coeff == 1 and len(factors) == 2 and (
            (_ones(factors[1]) == "column") or (_ones(factors[0]) == "row")
        ):
            return MatMul(*factors)
        if coeff == 1 and len(factors) == 2:
            if _ones(factors[1]) == "row":
                return factors[0]
            if _ones(factors[0]) == "column":
                return factors[1]
    return term


def _arrays_first(args) -> list:
    return sorted(args, key=lambda a: a.is_number)


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
        expr = _activation(expr).derivative_at(activations.z, activations.r, _alpha(expr))
    return isinstance(expr, (sp.core.relational.Relational, sp.Heaviside))


def _is_number(expr) -> bool:
    return isinstance(expr, sp.Expr) and expr.is_number


def _atom(expr) -> bool:
    if isinstance(expr, (MatrixSymbol, sp.Symbol)):
        return True
    if isinstance(expr, Transpose) and isinstance(expr.arg, MatrixSymbol):
        return True
    return _is_number(expr)


def _atomic(expr) -> bool:
    return isinstance(expr, (MatrixSymbol, sp.Symbol))


def _symbol(matrix) -> sp.Symbol:
    """The scalar symbol that stands for a named array in an elementwise expression."""
    if not isinstance(matrix, MatrixSymbol):
        raise TypeError(f"activations are printed on named arrays, got {matrix}")
    return sp.Symbol(matrix.name, real=True)


def _clamped(value: sp.Expr, domain: list) -> sp.Expr:
    """`value` with each tested symbol clamped to the branch's domain, where that matters.

    Only branches that are not polynomial in the symbol can overflow outside their domain
    (exp in ELU's negative branch); polynomial branches are left as written.
    """
    for cond in domain:
        if isinstance(cond, sp.Not):
            cond = cond.args[0].negated if isinstance(cond.args[0], sp.core.relational.Relational) else cond
        if not isinstance(cond, sp.core.relational.Relational):
            continue
        lhs, rhs = cond.lhs, cond.rhs
        if not (isinstance(lhs, sp.Symbol) and rhs.is_number):
            continue
        if lhs not in value.free_symbols or value.is_polynomial(lhs):
            continue
        bound = sp.Max(lhs, rhs) if cond.rel_op in (">", ">=") else sp.Min(lhs, rhs)
        value = value.xreplace({lhs: bound})
    return value
