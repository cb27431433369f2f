"""The proof: every derived delta_l, dW_l and dB_l equals SymPy's own differentiation.

For concrete small shapes (widths capped, batch N fixed) the scalar loss is built entry by
entry from the activation and loss *definitions* (in elementary exp/log form), differentiated
with `sympy.diff`, and compared exactly with the derivation's formulas evaluated on the same
point. Points are exact rationals, drawn away from the kinks of ReLU-like activations; an
entry matches only if the difference simplifies to exactly 0. No floating point is involved.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field, replace

import sympy as sp

from . import activations
from .chain import Derivation, N, ShapeMismatch, derive
from .evaluate import ExactBackend, evaluate, over_units_exact, run
from .functions import elementary
from .losses import p as loss_p
from .losses import t as loss_t
from .spec import Network

KINK_MARGIN = sp.Rational(1, 2)
#: Layers (from the output) whose references differentiate the whole scalar loss.
FULL_CHAIN_LAYERS = 3


@dataclass
class Verdict:
    """The outcome for one formula (`D2`, `dW2`, `dB2`)."""

    name: str
    label: str
    ok: bool
    shape: tuple[int, ...]
    points: int
    mismatch: str | None = None
    reference: str = "sympy.diff of the loss"
    reference_kind: str = "loss"


@dataclass
class ProofReport:
    network: Network
    proven_on: Network
    batch: int
    points: int
    verdicts: list[Verdict] = field(default_factory=list)
    built: bool = True  # False: a formula's shapes disagree, so the derivation was not built

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)

    @property
    def capped(self) -> bool:
        return self.proven_on.sizes != self.network.sizes

    def to_json(self) -> dict:
        return {
            "ok": self.ok,
            "built": self.built,
            "network": self.network.inline(),
            "proven_on": {
                "sizes": list(self.proven_on.sizes),
                "batch": self.batch,
                "points": self.points,
                "capped": self.capped,
            },
            "formulas": {
                v.name: {
                    "ok": v.ok,
                    "label": v.label,
                    "shape": list(v.shape),
                    "mismatch": v.mismatch,
                    "reference": v.reference,
                    "reference_kind": v.reference_kind,
                }
                for v in self.verdicts
            },
        }


def capped_network(network: Network, max_width: int) -> Network:
    """`network` with every width above `max_width` reduced to it."""
    layers = tuple(replace(layer, units=min(layer.units, max_width)) for layer in network.layers)
    return replace(network, inputs=min(network.inputs, max_width), layers=layers)


def prove(
    network: Network, max_width: int = 3, batch: int = 2, points: int = 2, seed: int = 0
) -> ProofReport:
    """Prove every formula of `network`'s derivation on shapes with widths <= `max_width`.

    Args:
        network: the network whose derivation is proven.
        max_width: widths above this are capped (the report says so).
        batch: the concrete batch size N.
        points: how many random exact points each formula is compared at.
        seed: seeds the point generator; the same seed gives the same points.
    """
    small = capped_network(network, max_width)
    report = ProofReport(network, small, batch, points)
    try:
        derivation = derive(small)
    except ShapeMismatch as exc:  # a formula that cannot even be built is a failed one
        shape = tuple(int(sp.sympify(d).xreplace({N: batch})) for d in exc.lhs_shape)
        report.built = False
        report.verdicts.append(
            Verdict(exc.name, f"eq:{exc.name}", False, shape, 0, str(exc), "not built", "none")
        )
        return report
    rng = random.Random(seed)
    results: dict[str, list] = {}
    for _ in range(points):
        env = draw_point(derivation, batch, rng)
        values = NamedValues()
        derived = run(derivation, env, batch, values)
        reference = _reference_gradients(derivation, env, derived, batch, values)
        for eq in derivation.backward:
            results.setdefault(eq.name, []).append(
                _compare(reference[eq.name], derived[eq.name], values)
            )
    for eq in derivation.backward:
        mismatches = [m for m in results[eq.name] if m is not None]
        shape = tuple(int(d) for d in derived[eq.name].shape)
        report.verdicts.append(
            Verdict(
                eq.name, eq.label, not mismatches, shape, points,
                mismatches[0] if mismatches else None, reference_method(small, eq.name, eq.layer),
                reference_kind(small, eq.name, eq.layer),
            )
        )
    return report


# ------------------------------------------------------------------------------ points


def _rational(rng: random.Random, low: int = -3, high: int = 3, den: int = 1) -> sp.Rational:
    """A nonzero rational; integer by default (see `exactly_zero` for why)."""
    value = 0
    while value == 0:
        value = rng.randint(low, high)
    return sp.Rational(value, den)


def draw_point(derivation: Derivation, batch: int, rng: random.Random) -> dict:
    """Exact X, T and parameters with every kinked layer's G at least KINK_MARGIN from 0.

    Biases of a kinked layer are shifted by whole numbers, unit by unit and bottom layer first,
    until the layer clears its kink (so the cost does not grow with the number of kinked
    layers); a layer without biases to shift makes the whole point be redrawn.
    """
    net = derivation.network
    for _ in range(200):
        env = {}
        for name in ["X"] + net.param_names():
            rows, cols = _shape(derivation, name, batch)
            env[name] = sp.Matrix(rows, cols, lambda i, j: _rational(rng))
        env["T"] = _targets(derivation, batch, rng)
        if _shift_off_kinks(derivation, env, batch):
            return env
    raise RuntimeError("could not draw a point away from the activations' kinks")


def _shift_off_kinks(derivation: Derivation, env: dict, batch: int) -> bool:
    """Shift kinked layers' biases in `env` (in place) off the kinks; False if one cannot be."""
    net = derivation.network
    column = net.layout == "column"
    values = NamedValues()
    known = dict(env)
    for eq in derivation.forward:
        value = evaluate(eq.rhs, known, batch, values)
        if eq.role == "linear" and net.layers[eq.layer - 1].act.kink:
            units = value if column else value.T
            shifts = [
                _integer_shift([values.numeric(v) for v in units.row(i)]) for i in range(units.rows)
            ]
            if any(shifts):
                bias = f"B{eq.layer}"
                if bias not in {m.name for m in eq.rhs.atoms(sp.MatrixSymbol)}:
                    return False
                step = sp.Matrix(shifts) if column else sp.Matrix([shifts])
                env[bias] = known[bias] = known[bias] + step
                value = evaluate(eq.rhs, known, batch, values)
        known[eq.name] = value
    return True


def _integer_shift(numbers) -> int:
    """The whole number s nearest 0 with |x + s| >= KINK_MARGIN for every x in `numbers`."""
    for size in range(len(numbers) + 2):
        for s in (size, -size):
            if all(abs(x + s) >= KINK_MARGIN for x in numbers):
                return s
    raise AssertionError("unreachable: each x rules out at most one whole number")


def _targets(derivation: Derivation, batch: int, rng: random.Random):
    net = derivation.network
    rows, cols = _shape(derivation, "T", batch)
    if net.loss_def.targets == "distribution":
        # Each sample's targets form a probability vector (the fused delta relies on it).
        weights = sp.Matrix(rows, cols, lambda i, j: rng.randint(1, 5))
        if net.layout == "column":
            return sp.Matrix(rows, cols, lambda i, j: sp.Rational(weights[i, j], sum(weights[:, j])))
        return sp.Matrix(rows, cols, lambda i, j: sp.Rational(weights[i, j], sum(weights[i, :])))
    if net.loss_def.targets == "probability":
        return sp.Matrix(rows, cols, lambda i, j: sp.Rational(rng.randint(0, 8), 8))
    return sp.Matrix(rows, cols, lambda i, j: _rational(rng, den=4))


def _shape(derivation: Derivation, name: str, batch: int) -> tuple[int, int]:
    return tuple(int(sp.sympify(d).xreplace({N: batch})) for d in derivation.symbols[name].shape)


# ------------------------------------------------------------------------------ reference


def _reference_gradients(
    derivation: Derivation, env: dict, derived: dict, batch: int, values: NamedValues
) -> dict:
    """dL/dG_l, dL/dW_l, dL/dB_l by `sympy.diff`, at the point `env`.

    For the last FULL_CHAIN_LAYERS layers the whole scalar loss is differentiated. Further
    down, a full expression of the loss grows like width**depth, so layer l differentiates
    sum(dL/dG_{l+1} * G_{l+1}(G_l)) instead, with dL/dG_{l+1} the reference already obtained
    one layer up, and dW_l, dB_l differentiate sum(dL/dG_l * G_l(W_l, B_l)) with the dL/dG_l
    just obtained: the chain rule, applied one definition at a time, at constant cost per
    layer. Every reference is `sympy.diff` of the definitions; none uses a derived formula.
    """
    net = derivation.network
    out = {}
    for l in range(net.depth, 0, -1):
        full = net.depth - l < FULL_CHAIN_LAYERS

        def loss_of(g, l=l, full=full):
            """The loss (or its one-layer stand-in) as a function of G_l = g."""
            if full:
                return _loss_from(derivation, l, g, env, batch, derived, values)
            r = _activate(derivation, l, g, derived, values)
            g_next = _linear(derivation, env[f"W{l + 1}"], env.get(f"B{l + 1}"), r, batch)
            return sum(d * h for d, h in zip(out[f"D{l + 1}"], g_next))

        # dL/dG_l: a symbolic G_l, the rest exact.
        g_sym = _symbol_matrix(f"g{l}", derived[f"G{l}"].shape)
        loss = loss_of(g_sym)
        at = dict(zip(g_sym, derived[f"G{l}"]))
        out[f"D{l}"] = g_sym.applyfunc(
            lambda s, loss=loss, at=at: values.opaque(sp.diff(loss, s).xreplace(at))
        )
        # dL/dW_l and dL/dB_l: W_l and B_l symbolic (a layer without bias has no B_l).
        w_sym = _symbol_matrix(f"w{l}", env[f"W{l}"].shape)
        at = dict(zip(w_sym, env[f"W{l}"]))
        b_sym = None
        if net.has_bias(l):
            b_sym = _symbol_matrix(f"b{l}", env[f"B{l}"].shape)
            at |= dict(zip(b_sym, env[f"B{l}"]))
        linear = _linear(derivation, w_sym, b_sym, derived[f"R{l - 1}"] if l > 1 else env["X"], batch)
        if full:
            loss = loss_of(linear)
        else:  # chained through G_l's definition: linear in W_l and B_l
            loss = sum(d * h for d, h in zip(out[f"D{l}"], linear))
        out[f"dW{l}"] = w_sym.applyfunc(lambda s, loss=loss, at=at: sp.diff(loss, s).xreplace(at))
        if b_sym is not None:
            out[f"dB{l}"] = b_sym.applyfunc(lambda s, loss=loss, at=at: sp.diff(loss, s).xreplace(at))
    return out


#: The kinds of reference a formula is proven against (`reference_kind`).
REFERENCE_KINDS = {
    "loss": "sympy.diff of the loss",
    "chained_delta": "sympy.diff of layer {next}'s definition chained with the proven D{next}",
    "chained_linear": "sympy.diff of G{layer}'s definition chained with the proven D{layer}",
}


def reference_kind(network: Network, name: str, layer: int) -> str:
    """Which kind of reference formula `name` of layer `layer` is proven against."""
    if network.depth - layer < FULL_CHAIN_LAYERS:
        return "loss"
    return "chained_delta" if name.startswith("D") else "chained_linear"


def reference_method(network: Network, name: str, layer: int) -> str:
    """How the reference for formula `name` of layer `layer` is obtained, in words."""
    kind = reference_kind(network, name, layer)
    return REFERENCE_KINDS[kind].format(layer=layer, next=layer + 1)


def _activate(derivation: Derivation, l: int, g, derived: dict, values: NamedValues):
    """Layer l's activation, from its elementary definition, applied to the matrix g.

    A kinked activation is applied entry by entry as the piece of its definition that holds
    around the point (where G_l takes the derived values, at least KINK_MARGIN from the kink):
    the same function there, so `sympy.diff` of it is the definition's derivative, and no
    Max/Piecewise of a long expression is left for SymPy to re-evaluate at every step.
    """
    net = derivation.network
    act = net.layers[l - 1].act
    if act.over_units is not None:  # softmax: normalised over the unit axis
        return over_units_exact(act.over_units, g, 0 if net.layout == "column" else 1)
    value = elementary(act.value_at(activations.z, net.alpha_of(l)))
    if not act.kink:
        return g.applyfunc(lambda x: value.xreplace({activations.z: x}))
    at = derived[f"G{l}"]
    pieces = {}

    def piece(i, j):
        sign = values.numeric(at[i, j]) > 0
        if sign not in pieces:
            pieces[sign] = _piece(value, activations.z, sp.Integer(1 if sign else -1))
        return pieces[sign].xreplace({activations.z: g[i, j]})

    return sp.Matrix(g.rows, g.cols, piece)


def _piece(expr, z, side):
    """`expr` (in z) with each kink replaced by the branch that holds for z of the sign of `side`."""

    def branch(kink):
        if isinstance(kink, (sp.Max, sp.Min)):
            pick = max if isinstance(kink, sp.Max) else min
            return pick(kink.args, key=lambda a: a.xreplace({z: side}))
        if isinstance(kink, sp.Heaviside):
            return sp.Integer(1) if kink.args[0].xreplace({z: side}) > 0 else sp.Integer(0)
        if isinstance(kink, sp.DiracDelta):
            return sp.Integer(0)
        for branch_value, condition in kink.args:
            if condition.xreplace({z: side}) == sp.true:
                return branch_value
        raise NotReducible(f"no branch of {kink} holds")

    return expr.replace(lambda e: isinstance(e, NamedValues._KINKS), branch)


def _symbol_matrix(stem: str, shape) -> sp.Matrix:
    rows, cols = shape
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{stem}_{i}_{j}", real=True))


def _linear(derivation, W, B, prev, batch):
    """G_l from W_l, B_l (None for a layer without bias) and R_{l-1}."""
    if derivation.layout == "column":
        return W * prev if B is None else W * prev + B * sp.ones(1, batch)
    return prev * W if B is None else prev * W + sp.ones(batch, 1) * B


def _loss_from(derivation: Derivation, first: int, g, env: dict, batch: int, derived, values):
    """The scalar loss, with layer `first`'s pre-activation given as `g`."""
    net = derivation.network
    r = _activate(derivation, first, g, derived, values)
    for l in range(first + 1, net.depth + 1):
        g_l = _linear(derivation, env[f"W{l}"], env.get(f"B{l}"), r, batch)
        r = _activate(derivation, l, g_l, derived, values)
    term = net.loss_def.term
    total = sum(term.xreplace({loss_p: pv, loss_t: tv}) for pv, tv in zip(r, env["T"]))
    return derivation.loss.scale.xreplace({N: batch}) * total


# ------------------------------------------------------------------------------ named values


class NamedValues(ExactBackend):
    """The exact backend, with every transcendental function value given a name.

    Nested transcendental numbers (tanh of a sum of tanhs of ...) make SymPy's automatic
    sign checks re-evaluate them numerically at every level, which costs exponentially in
    depth. Here each exp/tanh/log application in an activation's output becomes a symbol
    rho_k whose definition (in earlier names) is kept, so expressions stay polynomial in the
    names and sums are never hidden inside a name. The identity test looks the definitions
    up. Kinks (max, indicator, piecewise) take their branch from a 50-digit numeric shadow
    of the names; points are drawn far from kinks, so the shadow only selects a branch and
    never decides an equality.
    """

    _KINKS = (sp.Max, sp.Min, sp.Heaviside, sp.DiracDelta, sp.Piecewise)
    _TRANSCENDENTAL = (sp.exp, sp.tanh, sp.log)

    def __init__(self):
        self.definitions: dict[sp.Symbol, sp.Expr] = {}
        self._names: dict[sp.Expr, sp.Symbol] = {}
        self._shadow: dict[sp.Symbol, sp.Float] = {}
        self.residue = _Residue(self)  # one memo for every comparison at this point

    def apply(self, act, alpha, a, axis: int):
        if not (act.elementwise and act.kink):
            return super().apply(act, alpha, a, axis).applyfunc(self._named)
        # A kinked activation: the piece that holds at each entry (never a Max of a long sum).
        value = elementary(act.value_at(activations.z, alpha))
        pieces = {}

        def entry(x):
            side = sp.Integer(1 if self.numeric(x) > 0 else -1)
            if side not in pieces:
                pieces[side] = _piece(value, activations.z, side)
            return self._named(pieces[side].xreplace({activations.z: x}))

        return a.applyfunc(entry)

    def hadamard(self, a, b):
        # delta_l: named, so delta_{l-1} refers to it instead of repeating it (backward only).
        return super().hadamard(a, b).applyfunc(self.opaque)

    def _named(self, value):
        return self._name_atoms(self.resolve_kinks(value))

    def resolve_kinks(self, expr):
        """`expr` with every max, indicator and piecewise replaced by the branch that applies."""
        return expr.replace(lambda e: isinstance(e, self._KINKS), self.branch)

    def _name_atoms(self, expr):
        if expr.is_Atom:
            return expr
        rebuilt = expr.func(*[self._name_atoms(a) for a in expr.args])
        if not isinstance(rebuilt, self._TRANSCENDENTAL) and not (
            rebuilt.is_Pow and rebuilt.base is sp.E
        ):
            return rebuilt
        if rebuilt not in self._names:
            symbol = sp.Symbol(f"rho{len(self.definitions)}", real=True)
            self.definitions[symbol] = rebuilt
            self._names[rebuilt] = symbol
            self._shadow[symbol] = self.numeric(rebuilt)
        return self._names[rebuilt]

    def opaque(self, expr):
        """A name for `expr` that only the identity test looks into (never used under exp)."""
        if expr.is_Rational:
            return expr
        symbol = sp.Symbol(f"rho{len(self.definitions)}", real=True)
        self.definitions[symbol] = expr
        return symbol

    def numeric(self, expr) -> sp.Float:
        """A 50-digit value of `expr`, its names replaced by their shadows."""
        return sp.N(expr.xreplace(self._shadow), 50)

    def log_argument(self, expr):
        """u if `expr` is a name for log(u), else None."""
        definition = self.definitions.get(expr)
        return definition.args[0] if isinstance(definition, sp.log) else None

    def branch(self, expr):
        """For max/min, an indicator, a Dirac delta or a piecewise: the piece that applies; else None.

        A Dirac delta (or one of its derivatives) is 0 away from its kink, which is where
        points are drawn: `sympy.diff` of a step layer leaves one behind.
        """
        if isinstance(expr, sp.DiracDelta):
            if abs(self.numeric(expr.args[0])) < KINK_MARGIN / 2:
                raise NotReducible(f"a Dirac delta at its kink: {sp.sstr(expr)[:60]}")
            return sp.Integer(0)
        if isinstance(expr, (sp.Max, sp.Min)):
            pick = max if isinstance(expr, sp.Max) else min
            return pick(expr.args, key=self.numeric)
        if isinstance(expr, sp.Heaviside):
            return sp.Integer(1) if self.numeric(expr.args[0]) > 0 else sp.Integer(0)
        if isinstance(expr, sp.Piecewise):
            for piece, condition in expr.args:
                holds = condition.xreplace(self._shadow)
                if holds not in (sp.true, sp.false):
                    holds = holds.evalf(50)
                if holds == sp.true:
                    return piece
        return None


# ------------------------------------------------------------------------------ comparison


def _compare(reference: sp.Matrix, derived: sp.Matrix, values=None) -> str | None:
    """None if equal entry by entry (exactly); else a description of the first mismatch."""
    if reference.shape != derived.shape:
        return f"shape {derived.shape} but dL/d has shape {reference.shape}"
    for i in range(reference.rows):
        for j in range(reference.cols):
            try:
                zero = exactly_zero(reference[i, j] - derived[i, j], values)
            except NotReducible as exc:
                return f"entry ({i}, {j}): the identity test cannot decide it ({exc})"
            if not zero:
                return (
                    f"entry ({i}, {j}): derived {sp.sstr(derived[i, j])[:80]} "
                    f"!= sympy.diff {sp.sstr(reference[i, j])[:80]}"
                )
    return None


def exactly_zero(expr: sp.Expr, values: NamedValues | None = None) -> bool:
    """True if `expr` is identically 0 as a function of its transcendental atoms.

    A polynomial identity test over the integers modulo a 61-bit prime (Schwartz-Zippel):
    each distinct transcendental atom (exp of a monomial, tanh, log; innermost first) is an
    independent indeterminate with a pseudo-random value derived from its reduced argument,
    and exp is kept a homomorphism (exp(a + 2b) -> x_a * x_b**2, with x = u**EXP_ROOTS so
    that halves and alphas like 0.01 stay exact). An identically zero expression always
    reduces to exactly 0; a nonzero one does so with probability about degree / 2**61.
    Integer arithmetic throughout: no floating point.
    """
    if expr == 0:
        return True
    residue = values.residue if values is not None else _Residue()
    return residue.of(expr) == 0


class NotReducible(ValueError):
    """An expression the identity test cannot reduce."""


#: exp indeterminates are EXP_ROOTS-th powers (divisible by 2..10, 100 and 1000).
EXP_ROOTS = 2**6 * 3**3 * 5**3 * 7
_PRIME = 2**61 - 1


class _Residue:
    """Reduces an expression to an integer modulo _PRIME, atoms replaced by hashed values."""

    def __init__(self, values: NamedValues | None = None):
        self._memo: dict = {}
        self._values = values

    def of(self, expr) -> int:
        if expr in self._memo:
            return self._memo[expr]
        value = self._reduce(expr)
        self._memo[expr] = value
        return value

    def _reduce(self, expr) -> int:
        if expr.is_Rational:
            return self._rational(expr)
        if expr is sp.E:
            return self._exp(sp.Integer(1))
        if isinstance(expr, sp.exp):
            return self._exp(expr.args[0])
        if expr.is_Pow:
            if expr.base is sp.E:
                return self._exp(expr.exp)
            if expr.exp.is_Integer:
                return self._power(self.of(expr.base), int(expr.exp))
            raise NotReducible(f"non-integer power {sp.sstr(expr)[:60]}")
        if expr.is_Add:
            return sum(self.of(a) for a in expr.args) % _PRIME
        if expr.is_Mul:
            out = 1
            for a in expr.args:
                out = out * self.of(a) % _PRIME
            return out
        if isinstance(expr, sp.tanh):  # odd: tanh(-a) = -tanh(a)
            arg = self.of(expr.args[0])
            if arg > _PRIME - arg:
                return -self._atom("tanh", _PRIME - arg) % _PRIME
            return self._atom("tanh", arg)
        if self._values is not None:
            if expr in self._values.definitions:
                return self.of(self._values.definitions[expr])
            branch = self._values.branch(expr)
            if branch is not None:
                return self.of(branch)
        if expr.is_Atom:
            raise NotReducible(f"unexpected atom {expr}")
        return self._atom(type(expr).__name__, *[self.of(a) for a in expr.args])

    def _exp(self, arg) -> int:
        out = 1
        if self._values is not None:  # a kink's branch may be a sum: split it like any other
            arg = self._values.resolve_kinks(arg)
        for term in sp.Add.make_args(sp.expand(arg)):
            coeff, rest = term.as_coeff_Mul()
            if self._values is not None and self._values.log_argument(rest) is not None:
                rest = sp.log(self._values.log_argument(rest), evaluate=False)
            if isinstance(rest, sp.log):
                if not coeff.is_Integer:
                    raise NotReducible(f"exp of {sp.sstr(term)[:60]}: a root of a log's argument")
                out = out * self._power(self.of(rest.args[0]), int(coeff)) % _PRIME
                continue
            key = 1 if rest == 1 else self.of(rest)
            if key > _PRIME - key:  # exp(-m) = 1 / exp(m): one indeterminate for both
                key, coeff = _PRIME - key, -coeff
            root = self._atom("exp", key)
            power = coeff * EXP_ROOTS
            if not power.is_Integer:
                raise NotReducible(f"exp of {sp.sstr(term)[:60]}: coefficient too fine")
            out = out * self._power(root, int(power)) % _PRIME
        return out

    @staticmethod
    def _rational(q) -> int:
        if q.q % _PRIME == 0:
            raise NotReducible("denominator divisible by the modulus")
        return q.p * pow(q.q, -1, _PRIME) % _PRIME

    @staticmethod
    def _power(base: int, exponent: int) -> int:
        if base == 0 and exponent < 0:
            raise NotReducible("division by zero in the reduced expression")
        return pow(base, exponent, _PRIME)

    @staticmethod
    def _atom(name, *args) -> int:
        digest = hashlib.sha256(repr((name,) + args).encode()).digest()
        return int.from_bytes(digest[:8], "big") % (_PRIME - 2) + 2
