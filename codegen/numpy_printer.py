"""A NumPy printer for the derivation's matrix expressions: one small `_print_<Class>` per construct.

Matrix nodes print as NumPy array code over the write-up's names (`W1 @ X + B1`, `D2 @ W2.T`,
`D1.sum(axis=1, keepdims=True)`). An activation and its derivative print from the registry's
SymPy expressions, with z standing for the G array and r for the R array, so adding an
activation to `derive/` needs nothing here unless it uses a new scalar function.

Every form is chosen so that generated code keeps the caller's dtype (float32 in, float32 out)
and raises no RuntimeWarning for finite input: stable sigmoid and softplus through
`np.logaddexp`, `np.where` branches clamped to their own domain, and numeric branches cast to
the array's dtype.

Shared subexpressions inside an activation are pulled out with `sympy.cse` into `_t0, _t1, ...`
from one fixed name stream per printer, so a module prints identically on every run.
"""

from __future__ import annotations

import sympy as sp
from sympy import MatMul, MatrixSymbol, OneMatrix, Transpose
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE, precedence

from ..derive import activations
from ..derive.nodes import Activated, ActivationPrime

_RELATIONS = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class KernelPrinter(NumPyPrinter):
    """Prints derivation expressions as NumPy code for a generated kernel module.

    Attributes:
        pending: `(name, code)` assignments of shared subexpressions that the last printed
            expression refers to; `statement` hands them out ahead of the expression.
        used: every array name printed so far (what a function body must unpack).
        helpers: the module-level helpers the printed code calls (e.g. "logsumexp").
    """

    def __init__(self, settings=None):
        super().__init__({"fully_qualified_modules": True, **(settings or {})})
        self._temps = sp.numbered_symbols("_t")
        self._like: str | None = None
        self._last_precedence = PRECEDENCE["Atom"]
        self.pending: list[tuple[str, str]] = []
        self.used: set[str] = set()
        self.helpers: set[str] = set()

    # ------------------------------------------------------------------ entry points

    def statement(self, lhs: str, expr) -> list[tuple[str, str]]:
        """`[(name, code), ...]`: the shared subexpressions `expr` needs, then `lhs = expr`."""
        self.pending = []
        code = self.doprint(expr)
        lines, self.pending = self.pending + [(lhs, code)], []
        return lines

    def elementwise(self, expr: sp.Expr, like: str) -> str:
        """Print a scalar expression applied elementwise to arrays; numbers take `like`'s dtype."""
        outer, self._like = self._like, like
        try:
            return self._print(expr)
        finally:
            self._like = outer

    # ------------------------------------------------------------------ names and numbers

    def _module_format(self, fqn, register=True):
        # Generated modules `import numpy as np`.
        if fqn.startswith("numpy."):
            fqn = "np." + fqn[len("numpy."):]
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

    def _print_Mul(self, expr):
        # A decimal coefficient leads the product (0.2*G1), instead of (0.2)*G1 or G1/5.
        coeff, rest = expr.as_coeff_Mul()
        if coeff.is_Rational and not coeff.is_Integer and coeff > 0:
            decimal = self._print_Rational(coeff)
            if "/" not in decimal:
                return f"{decimal}*{self.parenthesize(rest, PRECEDENCE['Mul'])}"
        return super()._print_Mul(expr)

    def _print_Relational(self, expr):
        # Infix comparisons read better than np.greater(...) and broadcast the same.
        op = _RELATIONS[expr.rel_op]
        prec = PRECEDENCE["Relational"]
        return (
            f"{self.parenthesize(expr.lhs, prec)} {op} {self.parenthesize(expr.rhs, prec)}"
        )

    # ------------------------------------------------------------------ matrix structure

    def _print_MatAdd(self, expr):
        # Keep the derivation's term order (W1 @ X + B1); print P + (-1)*T as P - T.
        out = []
        for term in expr.args:
            coeff, rest = _split_coeff(term)
            if coeff.is_number and coeff.is_negative:
                code = self._scaled(-coeff, rest)
                out.append(("-", code))
            else:
                out.append(("+", self._print(term)))
        text = out[0][1] if out[0][0] == "+" else "-" + out[0][1]
        for sign, code in out[1:]:
            text += f" {sign} {code}"
        return text

    def _print_MatMul(self, expr):
        # Ones vectors are spelled as what they do: spread over the batch or sum over it.
        coeff, factors = _split_coeff(expr)
        factors = list(factors.args) if isinstance(factors, MatMul) else [factors]
        reduce = None
        if len(factors) > 1 and _ones(factors[-1]) == "row":
            factors = factors[:-1]  # B 1^T: NumPy broadcasts the column over the batch
        elif len(factors) > 1 and _ones(factors[0]) == "column":
            factors = factors[1:]  # 1 B: NumPy broadcasts the row over the batch
        elif len(factors) > 1 and _ones(factors[-1]) == "column":
            factors, reduce = factors[:-1], ".sum(axis=1, keepdims=True)"  # D 1: sum over batch
        elif len(factors) > 1 and _ones(factors[0]) == "row":
            factors, reduce = factors[1:], ".sum(axis=0)"  # 1^T D: sum over batch, shape (n,)
        code = " @ ".join(self._matmul_factor(f) for f in factors)
        if reduce is not None:
            code = (code if len(factors) == 1 and _atomic(factors[0]) else f"({code})") + reduce
        if coeff != 1:
            inner = MatMul(*factors) if len(factors) > 1 else factors[0]
            if reduce is None:
                return self._scaled(coeff, inner)
            return self.scaled(coeff, code, atomic=True)
        return code

    def _print_HadamardProduct(self, expr):
        # The elementwise product is NumPy's *.
        return " * ".join(self._hadamard_factor(arg) for arg in expr.args)

    def _print_Transpose(self, expr):
        arg = expr.arg
        code = self._print(arg)
        return f"{code}.T" if _atomic(arg) else f"({code}).T"

    def _print_OneMatrix(self, expr):
        # Only reached for a ones matrix that is not a broadcast or a batch sum.
        return f"np.ones(({self._print(expr.shape[0])}, {self._print(expr.shape[1])}))"

    # ------------------------------------------------------------------ activations

    def _print_Activated(self, expr):
        act = expr.activation
        if act.over_units is not None:
            return self._print_over_units(act.over_units, expr)
        g = self._array(expr.arg)
        scalar = act.value_at(activations.z, expr.alpha).xreplace({activations.z: g})
        return self._elementwise_shared(scalar, like=g.name)

    def _print_ActivationPrime(self, expr):
        act = expr.activation
        g, out = self._array(expr.g), self._array(expr.out)
        scalar = act.derivative_at(activations.z, activations.r, expr.alpha)
        scalar = scalar.xreplace({activations.z: g, activations.r: out})
        like = g.name if g in scalar.free_symbols else out.name
        return self._elementwise_shared(scalar, like=like)

    def _print_over_units(self, record: activations.OverUnits, expr):
        # The record's stable form (softmax: exp(G - lse)), lse a log-sum-exp over the units.
        g = self._array(expr.arg)
        scalar = record.stable.xreplace(
            {activations.z: g, activations.lse: self.lse_of(record, g, expr.axis)}
        )
        return self._elementwise_shared(scalar, like=g.name)

    def lse_of(self, record: activations.OverUnits, g: sp.Symbol, axis: int) -> sp.Expr:
        """lse = log s of an activation over the units, at the array `g`, as a printable node."""
        return LogSumExpOver(record.exponent.xreplace({activations.z: g}), sp.Integer(axis))

    def _print_LogSumExpOver(self, expr):
        # The module helper keeps the reduced axis, so the result broadcasts against G.
        self.helpers.add("logsumexp")
        return f"_logsumexp({self._print(expr.args[0])}, axis={expr.args[1]})"

    # ------------------------------------------------------------------ scalar functions

    def _print_sigmoid(self, expr):
        # 1 / (1 + exp(-x)) = exp(-log(1 + exp(-x))): logaddexp never overflows.
        return f"np.exp(-np.logaddexp(0.0, {self._neg(expr.args[0])}))"

    def _print_softplus(self, expr):
        # log(1 + exp(x)) without overflow for large x.
        return f"np.logaddexp(0.0, {self._print(expr.args[0])})"

    def _print_Heaviside(self, expr):
        # H(x) with H(0) = 0, as a mask in the array's dtype (a bool array would upcast).
        x = expr.args[0]
        if len(expr.args) > 1 and expr.args[1] != 0:
            raise NotImplementedError("only Heaviside(x, 0) is printed")
        return f"({self.parenthesize(x, PRECEDENCE['Relational'])} > 0).astype({self._dtype()})"

    def _print_Max(self, expr):
        # Elementwise maximum; Python int 0 keeps the array's dtype.
        return self._fold("np.maximum", expr.args)

    def _print_Min(self, expr):
        return self._fold("np.minimum", expr.args)

    def _print_Piecewise(self, expr):
        # np.where evaluates every branch everywhere: clamp each branch's argument to its
        # own domain (so exp of a large z in an unused branch cannot overflow), and cast
        # when every branch is a number (np.where(c, 1, 0.2) would be float64).
        pieces = list(expr.args)
        if pieces[-1].cond != sp.true:
            raise NotImplementedError("a Piecewise needs a final True branch to print as np.where")
        branches = []
        previous = []
        for value, cond in pieces:
            domain = [] if cond == sp.true else [cond]
            domain += [sp.Not(c) for c in previous]
            branches.append((_clamped(value, domain), cond))
            previous.append(cond)
        code = self._print(branches[-1][0])
        for value, cond in reversed(branches[:-1]):
            code = f"np.where({self._print(cond)}, {self._print(value)}, {code})"
        if all(value.is_number for value, _ in branches):
            code = f"{code}.astype({self._dtype()})"
        return code

    # ------------------------------------------------------------------ helpers

    def _elementwise_shared(self, scalar: sp.Expr, like: str) -> str:
        """Print a scalar expression over arrays, sharing repeated subexpressions as _tK."""
        if scalar.is_number:
            # A constant derivative (step's 0): an array of it, in the array's dtype.
            self.used.add(like)
            if scalar == 0:
                return f"np.zeros_like({like})"
            if scalar == 1:
                return f"np.ones_like({like})"
            return f"np.full_like({like}, {self._print(scalar)})"
        replacements, (reduced,) = sp.cse(scalar, symbols=self._temps, optimizations=None)
        for sym, sub in replacements:
            self.pending.append((sym.name, self.elementwise(sub, like)))
        code = self.elementwise(reduced, like)
        self._last_precedence = precedence(reduced)
        return code

    def _hadamard_factor(self, arg) -> str:
        code = self._print(arg)
        if isinstance(arg, (Activated, ActivationPrime)):
            if self._last_precedence < PRECEDENCE["Mul"]:
                return f"({code})"
            return code
        return code if _atomic(arg) or isinstance(arg, Transpose) else f"({code})"

    def _matmul_factor(self, arg) -> str:
        code = self._print(arg)
        return code if _atomic(arg) or isinstance(arg, Transpose) else f"({code})"

    def _scaled(self, coeff, matrix) -> str:
        """coeff * matrix as `matrix / (2*N)` or `0.5 * matrix`."""
        code = self._print(matrix)
        atomic = _atomic(matrix) or isinstance(matrix, Transpose)
        return self.scaled(coeff, code, atomic=atomic)

    def scaled(self, coeff, code: str, atomic: bool) -> str:
        """`coeff * code` printed as `code / (2*N)` or `0.5 * code`."""
        num, den = sp.fraction(sp.factor_terms(coeff))
        if not atomic:
            code = f"({code})"
        if num != 1:
            code = f"{self._print(num)} * {code}" if num != -1 else f"-{code}"
        if den != 1:
            den_code = self._print(den)
            code += f" / {den_code}" if den.is_Atom else f" / ({den_code})"
        return code

    def _neg(self, x) -> str:
        return self._print(-x)

    def _fold(self, func: str, args) -> str:
        # Arrays first, numbers last: np.maximum(G1, 0).
        args = sorted(args, key=lambda a: a.is_number)
        code = self._print(args[0])
        for arg in args[1:]:
            code = f"{func}({code}, {self._print(arg)})"
        return code

    def _dtype(self) -> str:
        if self._like is None:
            raise ValueError("a dtype-preserving form needs a reference array")
        return f"{self._like}.dtype"

    @staticmethod
    def _array(matrix) -> sp.Symbol:
        """The scalar symbol that stands for a named array in an elementwise expression."""
        if not isinstance(matrix, MatrixSymbol):
            raise TypeError(f"activations are printed on named arrays, got {matrix}")
        return sp.Symbol(matrix.name, real=True)


# ---------------------------------------------------------------------- module helpers


class LogSumExpOver(sp.Function):
    """log(sum(exp(u))) over an axis of the arrays in u, kept as a length-1 axis (printing only).

    args: (u, axis).
    """

    nargs = 2


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


def _atomic(expr) -> bool:
    return isinstance(expr, (MatrixSymbol, sp.Symbol))


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

