"""The proof: every derived delta_l, dW_l and dB_l equals SymPy's own differentiation.

For concrete small shapes (widths capped, batch N fixed) the scalar loss is built entry by
entry from the activation and loss *definitions* (in elementary exp/log form), differentiated
with `sympy.diff`, and compared exactly with the derivation's formulas evaluated on the same
point. Points are exact rationals, drawn away from the kinks of ReLU-like activations; an
entry matches only if the difference simplifies to exactly 0. No floating point is involved.

Batch norm is differentiated through its batch statistics (mu and sigma^2 are functions of
every sample's G_l), with eps the layer's exact rational and 1 / sqrt(sigma^2 + eps) an
indeterminate (`functions.inv_sqrt`); a network with batch norm is proven at two batch sizes.
Dropout masks are exact 0/1 matrices drawn with the point; the weights' penalty is part of
the loss that is differentiated.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field, replace
from math import gcd

import sympy as sp

from . import activations
from .chain import Derivation, N, ShapeMismatch, derive
from .evaluate import ExactBackend, evaluate, over_units_exact, run
from .functions import elementary, inv_sqrt, sigmoid, softplus
from .losses import p as loss_p
from .losses import t as loss_t
from .spec import Network, check_batch

KINK_MARGIN = sp.Rational(1, 2)
#: Layers (from the output) whose references differentiate the whole scalar loss.
FULL_CHAIN_LAYERS = 3
#: The same with batch norm, which couples every sample and unit of a layer: the layers
#: below the output chain through the proven delta above (still through their own statistics).
FULL_CHAIN_LAYERS_NORMALIZED = 1


def full_chain_layers(network: Network) -> int:
    """How many layers, from the output, differentiate the whole loss."""
    return FULL_CHAIN_LAYERS_NORMALIZED if network.normalizes else FULL_CHAIN_LAYERS


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
    #: Not proven, and not shown wrong either: the identity test could not tell (`mismatch` says why).
    undecided: bool = False

    @classmethod
    def of(cls, name: str, label: str, shape: tuple, found: list, reference: str, kind: str) -> Verdict:
        """The verdict on one formula from its comparison at each point (None: equal there).

        It is wrong if any point shows it unequal, undecided if some point could not tell and
        none showed it unequal, proven if every point showed it equal.
        """
        bad = [m for m in found if m is not None]
        wrong = [m for m in bad if not m.undecided]
        first = (wrong or bad or [None])[0]
        return cls(name, label, not bad, shape, len(found), first and first.text, reference, kind,
                   undecided=bool(bad) and not wrong)


@dataclass
class ProofReport:
    network: Network
    proven_on: Network
    batch: int
    points: int
    verdicts: list[Verdict] = field(default_factory=list)
    built: bool = True  # False: a formula's shapes disagree, so the derivation was not built
    batches: tuple[int, ...] = ()  # every batch size proven at (batch norm: more than one)

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)

    @property
    def undecided(self) -> list[Verdict]:
        """The formulas neither proven nor shown wrong."""
        return [v for v in self.verdicts if v.undecided]

    @property
    def capped(self) -> bool:
        return self.proven_on.sizes != self.network.sizes

    def to_json(self) -> dict:
        data = {
            "ok": self.ok,
            "undecided": [v.name for v in self.undecided],
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
                    "undecided": v.undecided,
                    "reference": v.reference,
                    "reference_kind": v.reference_kind,
                }
                for v in self.verdicts
            },
        }
        if len(self.batches) > 1:  # batch norm: proven at more than one batch size
            data["proven_on"]["batches"] = list(self.batches)
        return data


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
        points: how many random exact points each formula is compared at (with batch norm,
            at N = batch and batch + 1 in turn, each at least once).
        seed: seeds the point generator; the same seed gives the same points.
    """
    small = capped_network(network, max_width)
    check_batch(network, batch, "verify")
    # Batch norm couples the samples: its formulas are proven at two batch sizes.
    batches = (batch, batch + 1) if network.normalizes else (batch,)
    report = ProofReport(network, small, batch, max(points, len(batches)), batches=batches)
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
    shapes = {}
    # The points take the batch sizes in turn, each size at least once.
    for index in range(max(points, len(batches))):
        size = batches[index % len(batches)]
        env = draw_point(derivation, size, rng)
        values = NamedValues()
        derived = _run(derivation, env, size, values)
        reference = _reference_gradients(derivation, env, derived, size, values)
        for eq in derivation.backward:
            shapes.setdefault(eq.name, tuple(int(d) for d in derived[eq.name].shape))
            mismatch = _compare(reference[eq.name], derived[eq.name], values)
            if mismatch is not None and len(batches) > 1:
                mismatch = replace(mismatch, text=f"N = {size}: {mismatch.text}")
            results.setdefault(eq.name, []).append(mismatch)
    for eq in derivation.backward:
        shape = shapes[eq.name]
        report.verdicts.append(Verdict.of(
            eq.name, eq.label, shape, results[eq.name],
            reference_method(small, eq.name, eq.layer), reference_kind(small, eq.name, eq.layer),
        ))
    return report


# ------------------------------------------------------------------------------ points


def _run(derivation: Derivation, env: dict, batch: int, values: NamedValues) -> dict:
    """Every equation evaluated exactly; only the backward pass's products get names."""
    values.name_products = False
    forward = run(replace(derivation, backward=()), env, batch, values)
    values.name_products = True
    return run(replace(derivation, forward=()), forward, batch, values)


def _rational(rng: random.Random, low: int = -3, high: int = 3, den: int = 1) -> sp.Rational:
    """A nonzero rational; integer by default (see `exactly_zero` for why)."""
    value = 0
    while value == 0:
        value = rng.randint(low, high)
    return sp.Rational(value, den)


def draw_point(derivation: Derivation, batch: int, rng: random.Random) -> dict:
    """Exact X, T, parameters and masks with every kinked activation's input (G_l, or Y_l
    after batch norm) at least KINK_MARGIN from 0.

    Biases of a kinked layer (beta_l after batch norm) are shifted by whole numbers, unit by
    unit and bottom layer first,
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
        for name in net.mask_names():  # dropout masks: exact 0/1, a kept unit in every row
            rows, cols = _shape(derivation, name, batch)
            env[name] = sp.Matrix(rows, cols, lambda i, j: sp.Integer(rng.randint(0, 1)))
        if _shift_off_kinks(derivation, env, batch):
            return env
    raise RuntimeError("could not draw a point away from the activations' kinks")


def _shift_off_kinks(derivation: Derivation, env: dict, batch: int) -> bool:
    """Shift kinked layers' biases in `env` (in place) off the kinks; False if one cannot be."""
    net = derivation.network
    column = net.layout == "column"
    values = NamedValues()
    values.name_products = False
    known = dict(env)
    for eq in derivation.forward:
        value = evaluate(eq.rhs, known, batch, values)
        normalized = net.batch_norm(eq.layer)
        kink_input = "batchnorm" if normalized else "linear"
        if eq.role == kink_input and net.layers[eq.layer - 1].act.kink:
            units = value if column else value.T
            shifts = [
                _integer_shift([values.numeric(v) for v in units.row(i)]) for i in range(units.rows)
            ]
            if any(shifts):
                bias = f"beta{eq.layer}" if normalized else f"B{eq.layer}"
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
    """dL/dG_l, dL/dW_l, dL/dB_l (and with batch norm dL/dY_l, dL/dGH_l, dL/dgamma_l,
    dL/dbeta_l) by `sympy.diff`, at the point `env`.

    For the last FULL_CHAIN_LAYERS layers the whole scalar loss is differentiated. Further
    down, a full expression of the loss grows like width**depth, so layer l differentiates
    sum(dL/dG_{l+1} * G_{l+1}(R_l)) instead, with dL/dG_{l+1} the reference already obtained
    one layer up, and dW_l, dB_l differentiate sum(dL/dG_l * G_l(W_l, B_l)) with the dL/dG_l
    just obtained: the chain rule, applied one definition at a time, at constant cost per
    layer. Every reference is `sympy.diff` of the definitions; none uses a derived formula.
    Batch norm is part of the definition of R_l(G_l): mu and sigma^2 over the batch, so
    dL/dG_l differentiates through them. The penalty c ||W_l||^2 is part of the loss.
    """
    net = derivation.network
    penalty = derivation.loss.penalty
    out = {}

    def grad(loss, sym, value, name=False, also=None):
        at = dict(zip(sym, value)) | (also or {})
        wrap = values.opaque if name else (lambda e: e)
        return sym.applyfunc(lambda s, loss=loss, at=at: wrap(sp.diff(loss, s).xreplace(at)))

    for l in range(net.depth, 0, -1):
        full = net.depth - l < full_chain_layers(net)

        def upper(r, l=l, full=full):
            """The loss (or its one-layer stand-in) as a function of R_l = r."""
            if full:
                return _loss_above(derivation, l, r, env, batch, derived, values)
            g_next = _linear(derivation, env[f"W{l + 1}"], env.get(f"B{l + 1}"), r, batch)
            return sum(d * h for d, h in zip(out[f"D{l + 1}"], g_next))

        def post(g, l=l, **given):
            return _post_linear(derivation, l, g, env, batch, derived, values, **given)

        # dL/dY_l and dL/dGH_l of a batch-norm layer, then dL/dG_l: symbols there, the rest exact.
        if net.batch_norm(l):
            y_sym = _symbol_matrix(f"y{l}", derived[f"Y{l}"].shape)
            out[f"DY{l}"] = grad(upper(post(None, y=y_sym)), y_sym, derived[f"Y{l}"], name=True)
            gh_sym = _symbol_matrix(f"gh{l}", derived[f"GH{l}"].shape)
            out[f"DGH{l}"] = grad(upper(post(None, gh=gh_sym)), gh_sym, derived[f"GH{l}"], name=True)
            for stem in ("gamma", "beta"):
                p_sym = _symbol_matrix(f"{stem}{l}", env[f"{stem}{l}"].shape)
                loss = upper(post(derived[f"G{l}"], **{stem: p_sym}))
                out[f"d{stem}{l}"] = grad(loss, p_sym, env[f"{stem}{l}"])
        g_sym = _symbol_matrix(f"g{l}", derived[f"G{l}"].shape)
        out[f"D{l}"] = grad(upper(post(g_sym)), g_sym, derived[f"G{l}"], name=True)
        # dL/dW_l and dL/dB_l: W_l and B_l symbolic (a layer without bias has no B_l).
        w_sym = _symbol_matrix(f"w{l}", env[f"W{l}"].shape)
        b_sym = _symbol_matrix(f"b{l}", env[f"B{l}"].shape) if net.has_bias(l) else None
        linear = _linear(derivation, w_sym, b_sym, derived[f"R{l - 1}"] if l > 1 else env["X"], batch)
        if full and not net.batch_norm(l):
            loss = upper(post(linear))
        else:  # chained through G_l's definition: linear in W_l and B_l
            loss = sum(d * h for d, h in zip(out[f"D{l}"], linear))
        if penalty is not None:  # the loss's c sum_k ||W_k||^2, W_l's part (the rest is constant)
            loss += penalty * sum(w**2 for w in w_sym)
        at = dict(zip(w_sym, env[f"W{l}"]))
        if b_sym is not None:
            at |= dict(zip(b_sym, env[f"B{l}"]))
        out[f"dW{l}"] = grad(loss, w_sym, env[f"W{l}"], also=at)
        if b_sym is not None:
            out[f"dB{l}"] = grad(loss, b_sym, env[f"B{l}"], also=at)
    return out


#: The kinds of reference a formula is proven against (`reference_kind`).
REFERENCE_KINDS = {
    "loss": "sympy.diff of the loss",
    "chained_delta": "sympy.diff of layer {next}'s definition chained with the proven D{next}",
    "chained_linear": "sympy.diff of G{layer}'s definition chained with the proven D{layer}",
}


def reference_kind(network: Network, name: str, layer: int) -> str:
    """Which kind of reference formula `name` of layer `layer` is proven against."""
    if network.depth - layer < full_chain_layers(network) and not (
        network.batch_norm(layer) and name.startswith(("dW", "dB"))
    ):
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
    at = derived[f"Y{l}" if net.batch_norm(l) else f"G{l}"]
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


def _post_linear(derivation: Derivation, l: int, g, env: dict, batch: int, derived, values,
                 gamma=None, beta=None, gh=None, y=None):
    """R_l from G_l = g, by the definitions: batch norm (if layer l has it), the activation,
    dropout. `gamma`, `beta` replace the point's; `gh` (GH_l) or `y` (Y_l) start part-way."""
    net = derivation.network
    if net.batch_norm(l) and y is None:
        if gh is None:
            gh = _normalized(g, net.layers[l - 1].eps, derivation.layout == "column", batch)
        gamma = env[f"gamma{l}"] if gamma is None else gamma
        beta = env[f"beta{l}"] if beta is None else beta
        y = _spread_mul(gh, gamma, derivation.layout) + _spread(beta, derivation.layout, batch)
    r = _activate(derivation, l, g if y is None else y, derived, values)
    p = net.dropout(l)
    if p is not None:  # inverted dropout with the point's exact 0/1 mask
        r = r.multiply_elementwise(env[f"M{l}"]) / (1 - p)
    return r


def _normalized(g, eps, column: bool, batch: int):
    """(g - mu) / sqrt(sigma^2 + eps) per unit, mu and sigma^2 the batch's mean and biased
    variance (each unit a row of g in the column layout, a column in the row layout)."""
    units = g if column else g.T
    rows = []
    for i in range(units.rows):
        row = list(units.row(i))
        mu = sum(row) / batch
        var = sum((x - mu) ** 2 for x in row) / batch
        s = inv_sqrt(var + eps)
        rows.append([(x - mu) * s for x in row])
    gh = sp.Matrix(rows)
    return gh if column else gh.T


def _spread(v, layout: str, batch: int):
    """A per-unit vector repeated over the batch."""
    return v * sp.ones(1, batch) if layout == "column" else sp.ones(batch, 1) * v


def _spread_mul(a, v, layout: str):
    """a with each unit scaled by its entry of v."""
    if layout == "column":
        return sp.Matrix(a.rows, a.cols, lambda i, j: v[i, 0] * a[i, j])
    return sp.Matrix(a.rows, a.cols, lambda i, j: v[0, j] * a[i, j])


def _loss_above(derivation: Derivation, first: int, r, env: dict, batch: int, derived, values):
    """The scalar loss (without the penalty, constant here) with R_first given as `r`."""
    net = derivation.network
    for l in range(first + 1, net.depth + 1):
        g_l = _linear(derivation, env[f"W{l}"], env.get(f"B{l}"), r, batch)
        r = _post_linear(derivation, l, g_l, env, batch, derived, values)
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

    #: Whether Hadamard products get opaque names (the backward pass's deltas only: a forward
    #: product, batch norm's, may go under exp, where the identity test needs its terms).
    name_products = True

    def hadamard(self, a, b):
        # delta_l: named, so delta_{l-1} refers to it instead of repeating it (backward only).
        product = super().hadamard(a, b)
        return product.applyfunc(self.opaque) if self.name_products else product

    def inverse_sqrt(self, a, eps):
        # An indeterminate per unit, as the reference's inv_sqrt (see functions.inv_sqrt).
        return a.applyfunc(lambda v: inv_sqrt(v + eps))

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
        """A 50-digit value of `expr`, its names replaced by their shadows (an opaque name's
        shadow computed when first needed)."""
        for symbol in expr.free_symbols:
            if symbol not in self._shadow and symbol in self.definitions:
                self._shadow[symbol] = self.numeric(self.definitions[symbol])
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


@dataclass(frozen=True)
class Mismatch:
    """Why a formula is not proven at one point: unequal, or (`undecided`) not decidable."""

    text: str
    undecided: bool = False


def _compare(reference: sp.Matrix, derived: sp.Matrix, values=None) -> Mismatch | None:
    """None if equal entry by entry (exactly); else the first entry shown unequal, or failing
    that the first the identity test cannot decide."""
    if reference.shape != derived.shape:
        return Mismatch(f"shape {derived.shape} but dL/d has shape {reference.shape}")
    undecided = None
    for i in range(reference.rows):
        for j in range(reference.cols):
            try:
                zero = exactly_zero(reference[i, j] - derived[i, j], values)
            except NotReducible as exc:
                undecided = undecided or Mismatch(
                    f"entry ({i}, {j}): undecided, the identity test cannot tell ({exc})", True
                )
                continue
            if not zero:
                return Mismatch(
                    f"entry ({i}, {j}): derived {sp.sstr(derived[i, j])[:80]} "
                    f"!= sympy.diff {sp.sstr(reference[i, j])[:80]}"
                )
    return undecided


def exactly_zero(expr: sp.Expr, values: NamedValues | None = None) -> bool:
    """Whether `expr`, a number built from exp, log, the hyperbolic functions, sigmoid and
    softplus, is identically 0; `NotReducible` where the test cannot tell.

    Everything is first written in one canonical set of functions: tanh, sech, cosh, sinh, coth,
    csch and sigmoid become rational functions of exp, softplus a log, exp of a sum a product
    of exps of its monomials (exp(a + 2b) -> x_a * x_b**2, exp(-m) = 1 / exp(m), with x =
    u**EXP_ROOTS so that halves and alphas like 0.01 stay exact), exp(k log u) = u**k, log of a
    positive rational a sum of logs of primes, log of a product or power a sum. The result is
    reduced modulo a 61-bit prime with every remaining atom a pseudo-random value derived from
    its reduced argument (a Schwartz-Zippel polynomial identity test; integer arithmetic, no
    floating point). Every rewrite is an identity, so 0 means "equal" (a nonzero expression
    reduces to 0 with probability about degree / 2**61).

    A nonzero residue means "not equal" only where the atoms left are independent: the
    monomials under exp have no linear relation modulo constants (checked at random
    assignments of the atoms), every log of a sum is a log(1 + exp(m)) sharing no cyclotomic
    factor with another, and no function outside the canonical set occurs. Otherwise it raises
    `NotReducible` ("undecided"), as it does for a power it cannot take exactly.
    """
    if expr == 0:
        return True
    residue = values.residue if values is not None else _Residue()
    if residue.of(expr) == 0:
        return True
    reason = residue.undecided(expr)
    if reason is not None:
        raise NotReducible(f"nonzero, but {reason}")
    return False


class NotReducible(ValueError):
    """An expression the identity test cannot decide: neither "equal" nor "not equal"."""


#: exp indeterminates are EXP_ROOTS-th powers (divisible by 2..10, 100 and 1000).
EXP_ROOTS = 2**6 * 3**3 * 5**3 * 7
_PRIME = 2**61 - 1
#: Functions rewritten through exp: each is a rational function of exp(factor * argument).
_VIA_EXP = {
    sp.tanh: (2, lambda x: ((x - 1), (x + 1))),
    sp.coth: (2, lambda x: ((x + 1), (x - 1))),
    sp.sinh: (1, lambda y: ((y * y - 1), (2 * y))),
    sp.cosh: (1, lambda y: ((y * y + 1), (2 * y))),
    sp.sech: (1, lambda y: ((2 * y), (y * y + 1))),
    sp.csch: (1, lambda y: ((2 * y), (y * y - 1))),
    sigmoid: (1, lambda y: (y, (y + 1))),
}
#: At most this many distinct exp monomials are checked for independence (else undecided).
MAX_EXPONENTS = 80


class _Residue:
    """Reduces an expression to an integer modulo _PRIME, atoms replaced by hashed values.

    `seed` picks another assignment of the atoms' values (the independence check uses several).
    """

    def __init__(self, values: NamedValues | None = None, seed: int = 0):
        self._memo: dict = {}
        self._values = values
        self._seed = seed

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
        if type(expr) in _VIA_EXP:
            factor, form = _VIA_EXP[type(expr)]
            top, bottom = form(pow(self._exp(expr.args[0]), factor, _PRIME))
            return top * self._power(bottom % _PRIME, -1) % _PRIME
        if isinstance(expr, sp.log):
            return self._log(expr.args[0])
        if isinstance(expr, softplus):
            return self._log(1 + sp.exp(expr.args[0]))
        if self._values is not None:
            if expr in self._values.definitions:
                return self.of(self._values.definitions[expr])
            branch = self._values.branch(expr)
            if branch is not None:
                return self.of(branch)
        if expr.is_Atom:
            raise NotReducible(f"unexpected atom {expr}")
        # A function outside the canonical set: a free indeterminate. Sound for "equal";
        # `undecided` keeps it from ever meaning "not equal".
        return self._atom(type(expr).__name__, *[self.of(a) for a in expr.args])

    def _exp(self, arg) -> int:
        if ("exp", arg) in self._memo:
            return self._memo["exp", arg]
        out = 1
        for key, power, base in self._exponent_terms(arg):
            if key is None:  # exp(k log u) = u**k
                out = out * self._power(self.of(base), power) % _PRIME
            else:
                out = out * self._power(self._atom("exp", key), power) % _PRIME
        self._memo["exp", arg] = out
        return out

    def _exponent_terms(self, arg):
        """exp(arg) as factors: (key, power in 1/EXP_ROOTS, None) for exp of the monomial
        whose residue is `key` (1 for e), or (None, k, u) for exp(k log u) = u**k."""
        if self._values is not None:  # a kink's branch may be a sum: split it like any other
            arg = self._values.resolve_kinks(arg)
        for term in sp.Add.make_args(sp.expand(arg)):
            coeff, rest = term.as_coeff_Mul()
            if self._values is not None and self._values.log_argument(rest) is not None:
                rest = sp.log(self._values.log_argument(rest), evaluate=False)
            if isinstance(rest, sp.log):
                if not coeff.is_Integer:
                    raise NotReducible(f"exp of {sp.sstr(term)[:60]}: a root of a log's argument")
                yield None, int(coeff), rest.args[0]
                continue
            key = 1 if rest == 1 else self.of(rest)
            if key > _PRIME - key:  # exp(-m) = 1 / exp(m): one indeterminate for both
                key, coeff = _PRIME - key, -coeff
            power = coeff * EXP_ROOTS
            if not power.is_Integer:
                raise NotReducible(f"exp of {sp.sstr(term)[:60]}: coefficient too fine")
            yield key, int(power), rest

    def _log(self, u) -> int:
        """log(u) for real u > 0, split into logs of primes, exponents and log(1 + exp(m))."""
        u = self._resolved(u)
        if u.is_Rational:
            if u <= 0:
                raise NotReducible(f"log of {u}")
            return sum(k * self._atom("log", int(p)) for p, k in sp.factorrat(u).items()) % _PRIME
        if u is sp.E:
            return 1
        if isinstance(u, sp.exp) or (u.is_Pow and u.base is sp.E):
            return self.of(u.exp if u.is_Pow else u.args[0])
        if u.is_Pow and u.exp.is_Integer and self._positive(u.base):
            return int(u.exp) * self._log(u.base) % _PRIME
        if u.is_Mul and all(self._positive(f) for f in u.args):
            return sum(self._log(f) for f in u.args) % _PRIME
        shape = self._log1p_exp(u)
        if shape is not None:  # log(1 + e**a) = log(1 + e**-a) + a: one atom for a and -a
            key, shift = shape
            return (self._atom("log1pexp", *key) + self.of(shift)) % _PRIME
        return self._atom("log", self.of(u))

    def _log1p_exp(self, u):
        """For u = 1 + exp(a): (a key for log(1 + exp(m)) with m = ±a, and -a or 0), else None."""
        if not (u.is_Add and len(u.args) == 2 and sp.S.One in u.args):
            return None
        (e,) = [a for a in u.args if a is not sp.S.One]
        e = self._resolved(e)
        if e is sp.E:
            arg = sp.S.One
        elif isinstance(e, sp.exp) or (e.is_Pow and e.base is sp.E):
            arg = e.exp if e.is_Pow else e.args[0]
        else:
            return None
        terms = sorted(self._exponent_terms(arg), key=lambda t: (t[0] is None, t[0] or 0))
        if not terms or any(key is None for key, _, _ in terms):
            return None
        sign = 1 if terms[0][1] > 0 else -1
        key = tuple((k, sign * p) for k, p, _ in terms)
        return key, (arg if sign < 0 else sp.S.Zero)

    def _resolved(self, expr):
        while self._values is not None and expr in self._values.definitions:
            expr = self._values.definitions[expr]
        return expr

    def _positive(self, expr) -> bool:
        try:
            value = self._values.numeric(expr) if self._values is not None else sp.N(expr, 30)
            return bool(value > 0)
        except TypeError:  # not a real number
            return False

    # ------------------------------------------------------------------ deciding "not equal"

    def undecided(self, expr) -> str | None:
        """None if the nonzero residue of `expr` means "not equal"; else why it does not."""
        exponents: dict[int, sp.Expr] = {}  # exp's monomials, one per key (1, e, left out)
        logs: set = set()  # log(1 + exp(m)) seen: (m's direction, its multiple)
        seen, stack = set(), [expr]
        while stack:
            e = stack.pop()
            if e in seen or e.is_Rational or e is sp.E:
                continue
            seen.add(e)
            if self._values is not None and e in self._values.definitions:
                stack.append(self._values.definitions[e])
                continue
            if self._values is not None and isinstance(e, NamedValues._KINKS):
                branch = self._values.branch(e)
                if branch is None:
                    return f"no branch of {sp.sstr(e)[:40]} holds"
                stack.append(branch)
                continue
            if e.is_Add or e.is_Mul:
                stack.extend(e.args)
            elif e.is_Pow and e.base is not sp.E:
                stack.append(e.base)
            elif isinstance(e, sp.exp) or e.is_Pow or type(e) in _VIA_EXP:
                arg = e.exp if e.is_Pow else e.args[0]
                for key, _, rest in self._exponent_terms(arg):
                    if key is None:
                        stack.append(rest)  # exp(k log u) = u**k
                    elif key != 1:
                        exponents.setdefault(key, rest)
                        stack.append(rest)
            elif isinstance(e, (sp.log, softplus)):
                u = self._resolved(e.args[0] if isinstance(e, sp.log) else 1 + sp.exp(e.args[0]))
                reason = self._log_is_free(u, logs)
                if reason is not None:
                    return reason
                stack.append(u)
            elif e.is_Atom:
                return f"it holds the atom {e}"
            else:
                return f"it holds {type(e).__name__}, a function the test treats as unknown"
        return self._logs_related(logs) or self._dependent(exponents)

    def _log_is_free(self, u, logs: set) -> str | None:
        """None if log(u) is a log of primes, an exponent, or a log(1 + exp(m)) (recorded in
        `logs` for `_logs_related`); else why the test cannot treat it as an atom."""
        if u.is_Rational or u is sp.E or isinstance(u, sp.exp) or (u.is_Pow and u.base is sp.E):
            return None
        if u.is_Pow and u.exp.is_Integer and self._positive(u.base):
            return self._log_is_free(self._resolved(u.base), logs)
        if u.is_Mul and all(self._positive(f) for f in u.args):
            for f in u.args:
                reason = self._log_is_free(self._resolved(f), logs)
                if reason is not None:
                    return reason
            return None
        shape = self._log1p_exp(u)
        if shape is None:
            return f"it holds log({sp.sstr(u)[:40]}), a log the test cannot split"
        g = 0
        for _, p in shape[0]:
            g = gcd(g, abs(p))
        logs.add((tuple((k, p // g) for k, p in shape[0]), g))
        return None

    @staticmethod
    def _logs_related(logs: set) -> str | None:
        """None if the logs of 1 + w**g (w = exp(m), m primitive) in `logs` are independent.

        1 + w**g is the product of the cyclotomic polynomials Phi_n(w) with n | 2g, n not | g;
        these are irreducible, so the logs are independent iff their factor sets are.
        """
        if len(logs) < 2:
            return None
        vectors, index = [], {}
        for direction, g in logs:
            v2 = (g & -g).bit_length() - 1
            odd = g >> v2
            factors = {index.setdefault((direction, (2 << v2) * m), len(index)) for m in sp.divisors(odd)}
            vectors.append(factors)
        rows = [[1 if i in f else 0 for i in range(len(index))] for f in vectors]
        if _rank(rows) < len(rows):
            return "it holds logs of 1 + exp(m) related through a common factor"
        return None

    def _dependent(self, exponents: dict) -> str | None:
        """None if exp's monomials are linearly independent modulo constants (at random atoms)."""
        if not exponents:
            return None
        if len(exponents) > MAX_EXPONENTS:
            return f"it holds exp of {len(exponents)} monomials, too many to check for relations"
        monomials = list(exponents.values())
        size = len(monomials) + 1
        rows = []
        for seed in range(1, size + 1):
            other = _Residue(self._values, seed)
            rows.append([1] + [other.of(m) for m in monomials])
        if _rank(rows) < size:
            return "the monomials under exp are related (a linear relation modulo constants)"
        return None

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

    def _atom(self, name, *args) -> int:
        digest = hashlib.sha256(repr((name, self._seed) + args if self._seed else (name,) + args).encode()).digest()
        return int.from_bytes(digest[:8], "big") % (_PRIME - 2) + 2


def _rank(rows: list[list[int]]) -> int:
    """The rank of an integer matrix modulo _PRIME."""
    rows = [list(r) for r in rows]
    rank, cols = 0, len(rows[0]) if rows else 0
    for c in range(cols):
        pivot = next((i for i in range(rank, len(rows)) if rows[i][c] % _PRIME), None)
        if pivot is None:
            continue
        rows[rank], rows[pivot] = rows[pivot], rows[rank]
        inv = pow(rows[rank][c], -1, _PRIME)
        for i in range(len(rows)):
            if i != rank and rows[i][c] % _PRIME:
                f = rows[i][c] * inv % _PRIME
                rows[i] = [(a - f * b) % _PRIME for a, b in zip(rows[i], rows[rank])]
        rank += 1
    return rank
