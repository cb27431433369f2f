"""`check --formula` on networks with weight decay, an L2 penalty, batch norm and dropout
(contract section 7).

The formula is judged as on a plain network (`judge.check_formula`); this module supplies what
differs: the points drawn (γ_l, β_l and the dropout masks M_l besides X, T, W_l, B_l, the
activations' inputs Y_l kept off their kinks), the values in the shapes NumPy code has them
(γ, β, μ, σ² flat in the row layout, like B_l), and the diagnoser, the one of
`gradscribe.check.diagnose` with the slips of section 7 added as more wrong derivations: the
dropout mask or its 1/(1 − p) left out, γ left out of batch norm's δ_l, its δ_l without the
terms through the batch's mean and variance, f' taken at G_l where batch norm's Y_l belongs,
dγ/dβ summed over the wrong axis or swapped, the penalty's factor off by a convention
(λW of `+wd@λ` against 2λW of `+l2@λ`), left out, or put on a bias.
"""

from __future__ import annotations

import re

import numpy as np
import sympy as sp
from sympy import HadamardProduct, MatAdd, MatMul, OneMatrix

from ..derive.chain import VECTOR_STEMS, Derivation, Equation, N
from ..derive.evaluate import NumpyBackend, run
from ..derive.nodes import Activated, ActivationPrime, InverseSqrt
from ..derive.normalization import batch_sum, spread
from ..derive.spec import PENALTIES, Network, check_batch, format_number, load
from .diagnose import RTOL, Diagnoser, Draw, Variant, close, shape_text
from .messages import Text

KINK_MARGIN = 1e-3

_NAME = re.compile(r"(dW|dB|dgamma|dbeta|DY|DGH|D)([0-9]+)\Z")
#: batch norm's δ^Y_l and δ^Ĝ_l, which a formula may claim too (DY1 = ..., DGH1 = ...)
_BN_DELTAS = ("DY", "DGH")


def layer_of(name: str) -> int:
    """The layer number in dW2, dB2, D2, dgamma2, dbeta2, W2, gamma2, ..."""
    return int(re.sub(r"^\D+", "", name))


def network(net) -> Network:
    """The network a formula is checked on: any network of contract sections 1 and 7."""
    return load(net) if isinstance(net, str) else net


def check_batches(net: Network, batches) -> None:
    """Batch norm needs at least two samples (one line, exit 2 on the command line)."""
    for batch in set(batches):
        check_batch(net, batch, "check")


def as_numpy(derivation: Derivation, name: str, value) -> np.ndarray:
    """`value` as NumPy code holds it: per-unit vectors (B_l, γ_l, β_l, μ_l, σ²_l and their
    gradients) flat in the row layout."""
    value = np.asarray(value, dtype=float)
    if derivation.layout == "row" and name.lstrip("d").startswith(VECTOR_STEMS):
        return value.reshape(-1)
    return value


# --------------------------------------------------------------------------- drawing points


def draw(derivation: Derivation, batch: int, rng: np.random.Generator,
         targets: str = "soft") -> Draw:
    """A float point with γ_l, β_l and the 0/1 masks M_l too; every kinked activation's input
    (Y_l after batch norm, else G_l) at least KINK_MARGIN from 0 (redrawn). `targets` as in
    `judge.draw` (with "labels" the draw holds the integer labels code gets in place of T)."""
    from .judge import _targets

    net = derivation.network
    column = net.layout == "column"
    sizes = net.sizes

    def orient(a):
        return a if column else a.T

    values = env = None
    for _ in range(100):
        env = {"X": orient(rng.normal(size=(sizes[0], batch)))}
        for l in range(1, net.depth + 1):
            w = rng.normal(size=(sizes[l], sizes[l - 1])) * (1.5 / np.sqrt(sizes[l - 1]))
            env[f"W{l}"] = orient(w)
            if net.has_bias(l):
                env[f"B{l}"] = orient(rng.normal(size=(sizes[l], 1)) * 0.5)
            if net.batch_norm(l):
                env[f"gamma{l}"] = orient(rng.uniform(0.5, 1.5, size=(sizes[l], 1)))
                env[f"beta{l}"] = orient(rng.normal(size=(sizes[l], 1)) * 0.5)
            p = net.dropout(l)
            if p is not None:
                env[f"M{l}"] = orient((rng.uniform(size=(sizes[l], batch)) >= float(p))
                                      .astype(float))
        env["T"], labels = _targets(net, batch, rng, targets)
        with np.errstate(all="ignore"):
            values = run(derivation, env, batch, NumpyBackend())
        inputs = [f"Y{l}" if net.batch_norm(l) else f"G{l}"
                  for l, layer in enumerate(net.layers, start=1) if layer.act.kink]
        if all(np.min(np.abs(values[k])) >= KINK_MARGIN for k in inputs):
            break
    return Draw(batch, env, values, labels=labels)


# --------------------------------------------------------------------------- wrong derivations


def _mapped(expr, fn):
    """`expr` with every sub-expression e for which fn(e) is not None replaced by it."""
    new = fn(expr)
    if new is not None:
        return new
    if not expr.args or isinstance(expr, (Activated, ActivationPrime, InverseSqrt)):
        return expr
    args = [_mapped(a, fn) for a in expr.args]
    if all(a is b for a, b in zip(args, expr.args)):
        return expr
    return expr.func(*args)


def _with(derivation: Derivation, changes: dict) -> Derivation:
    """The derivation with the backward equations named in `changes` given new right-hand
    sides (`changes[name](rhs)`; a change that returns None leaves the equation as it is)."""
    backward = []
    for eq in derivation.backward:
        if eq.name in changes:
            rhs = changes[eq.name](eq.rhs)
            if rhs is not None:
                eq = Equation(eq.lhs, rhs, eq.label, eq.layer, eq.role)
        backward.append(eq)
    return Derivation(derivation.network, derivation.symbols, derivation.forward,
                      derivation.loss, tuple(backward))


def _ones_like(symbol):
    return OneMatrix(*symbol.shape)


def _dropout_changes(derivation: Derivation, l: int, mask: bool, scale):
    """A change of layer l's upstream equation (δ^Y_l, or δ_l), whose masked term is
    (1/(1 - p)) (back ⊙ M_l): the mask kept or left out, the scale 1/(1 - p) kept (None) or
    replaced by `scale`."""
    M = derivation.symbols[f"M{l}"]
    keep = 1 / (1 - derivation.network.dropout(l))

    def build(had):
        parts = list(had.args) if mask else [a for a in had.args if a != M]
        inner = parts[0] if len(parts) == 1 else HadamardProduct(*parts)
        c = keep if scale is None else scale
        return inner if c == 1 else MatMul(c, inner)

    def masked(e):
        return isinstance(e, HadamardProduct) and M in e.args

    def fn(e):
        if isinstance(e, MatMul) and keep != 1 and any(a == keep for a in e.args):
            had = [a for a in e.args if masked(a)]
            if len(had) == 1 and len(e.args) == 2:
                return build(had[0])
        if keep == 1 and masked(e):
            return build(e)
        return None

    return lambda rhs: _mapped(rhs, fn)


def _uses_output(act, alpha) -> bool:
    """Whether the activation's derivative is written with its output r (sigmoid, tanh, elu)."""
    from ..derive import activations

    if not act.elementwise:
        return False
    deriv = sp.sympify(act.derivative_at(activations.z, activations.r, alpha))
    return activations.r in deriv.free_symbols


def _output_replaced(A, R):
    """A change that evaluates every f'(·) given the output A with R in its place."""
    def fn(e):
        if isinstance(e, ActivationPrime) and e.out == A:
            return ActivationPrime(e.args[0], e.args[1], e.g, R)
        return None

    return lambda rhs: _mapped(rhs, fn)


def section7_variants(derivation: Derivation, formula: bool = False) -> list[Variant]:
    """The wrong derivations of section 7's slips, each with its sentence. `formula`: also
    the slips only a formula can make (dW_{l+1} from A_l, before dropout, given R_l; code that
    builds dW from A_l ⊙ M_l has a forward pass without the rescaling, which `judge` names as
    the book's dropout convention)."""
    net = derivation.network
    column = net.layout == "column"
    s = derivation.symbols
    out, made = [], []

    def add(key, origin, slip, changes):
        changed = _with(derivation, changes)
        if changed.backward != derivation.backward:
            out.append(Variant(key, origin, slip, changed))
            made.append((key, origin, slip, changes))

    for l, layer in enumerate(net.layers, start=1):
        up = f"DY{l}" if net.batch_norm(l) else f"D{l}"
        p = net.dropout(l)
        if p is not None and up in {eq.name for eq in derivation.backward}:
            keep = 1 / (1 - p)
            fields = dict(l=l, p=format_number(p), scale=f"{float(keep):.6g}",
                          q=format_number(1 - p))
            add(f"nodrop{l}", l, Text("freg.slip.no_dropout", **fields),
                {up: _dropout_changes(derivation, l, False, 1)})
            add(f"nomask{l}", l, Text("freg.slip.no_mask", **fields),
                {up: _dropout_changes(derivation, l, False, None)})
            if keep != 1:
                add(f"noscale{l}", l, Text("freg.slip.no_scale", **fields),
                    {up: _dropout_changes(derivation, l, True, 1)})
                add(f"qscale{l}", l, Text("freg.slip.times_q", **fields),
                    {up: _dropout_changes(derivation, l, True, 1 - p)})
                add(f"pscale{l}", l, Text("freg.slip.over_p", **fields),
                    {up: _dropout_changes(derivation, l, True, 1 / p if p else None)})
            # f' written with the output (sigmoid's r (1 - r), tanh's 1 - r**2) taken from R_l,
            # after dropout, where the activation's own output A_l belongs
            if _uses_output(layer.act, net.alpha_of(l)):
                add(f"primeR{l}", l, Text("freg.slip.prime_of_r", act=layer.act.name, l=l,
                                          p=format_number(p)),
                    {up: _output_replaced(s[f"A{l}"], s[f"R{l}"])})
            # the layer above's dW built from A_l (before dropout), or from A_l ⊙ M_l unscaled
            above = f"dW{l + 1}"
            if formula and above in {eq.name for eq in derivation.backward}:
                A, R, M = s[f"A{l}"], s[f"R{l}"], s[f"M{l}"]
                add(f"dwA{l}", l + 1, Text("freg.slip.dw_before_dropout", l=l, above=l + 1,
                                           p=format_number(p)),
                    {above: lambda rhs, A=A, R=R: _mapped(rhs, lambda e: A if e == R else None)})
                if keep != 1:
                    add(f"dwAM{l}", l + 1, Text("freg.slip.dw_unscaled", l=l, above=l + 1,
                                                p=format_number(p), scale=f"{float(keep):.6g}"),
                        {above: lambda rhs, A=A, R=R, M=M: _mapped(
                            rhs, lambda e: HadamardProduct(A, M) if e == R else None)})
        if not net.batch_norm(l):
            continue
        act = layer.act
        G, DY = s[f"G{l}"], s[f"DY{l}"]
        GH, DGH = s[f"GH{l}"], s[f"DGH{l}"]
        VAR = s[f"VAR{l}"]
        eps = layer.eps
        inv = spread(InverseSqrt(VAR, eps), column)
        # f' at G_l (before batch norm) where Y_l belongs, or left out
        if act.elementwise and act.derivative != 1:
            alpha = net.alpha_of(l)

            def at_g(rhs, act=act, alpha=alpha, G=G):
                return _mapped(rhs, lambda e: ActivationPrime(act, alpha, G, Activated(act, alpha, G))
                               if isinstance(e, ActivationPrime) else None)

            def no_prime(rhs):
                if not isinstance(rhs, HadamardProduct):
                    return None
                rest = [a for a in rhs.args if not isinstance(a, ActivationPrime)]
                if len(rest) == len(rhs.args):
                    return None
                return rest[0] if len(rest) == 1 else HadamardProduct(*rest)

            add(f"primeG{l}", l, Text("freg.slip.prime_at_g", act=act.name, l=l),
                {f"DY{l}": at_g})
            add(f"primeY{l}", l, Text("freg.slip.prime_missing", act=act.name, l=l),
                {f"DY{l}": no_prime})
        # batch norm left out of the backward pass: δ_l = δ^Y_l
        add(f"skipbn{l}", l, Text("freg.slip.skips_bn", l=l), {f"D{l}": lambda rhs, DY=DY: DY})
        # γ left out of δ^Ĝ
        add(f"nogamma{l}", l, Text("freg.slip.no_gamma", l=l), {f"DGH{l}": lambda rhs, DY=DY: DY})
        # batch norm's δ_l without the terms through μ and σ²
        naive = HadamardProduct(DGH, inv)
        add(f"naive{l}", l, Text("freg.slip.naive", l=l), {f"D{l}": lambda rhs, e=naive: e})
        add(f"naivegamma{l}", l, Text("freg.slip.naive_no_gamma", l=l),
            {f"D{l}": lambda rhs, e=HadamardProduct(DY, inv): e})
        mean_term = MatMul(sp.S.NegativeOne, spread(batch_sum(DGH, column), column))
        var_term = MatMul(sp.S.NegativeOne, HadamardProduct(
            GH, spread(batch_sum(HadamardProduct(DGH, GH), column), column)))
        for key, kept in (("nomean", var_term), ("novar", mean_term)):
            partial = MatMul(1 / N, HadamardProduct(inv, MatAdd(MatMul(N, DGH), kept,
                                                                 evaluate=False)))
            add(f"{key}{l}", l, Text(f"freg.slip.{key}", l=l), {f"D{l}": lambda rhs, e=partial: e})
        # dγ and dβ swapped, dγ summing δ^Y ⊙ G_l where Ĝ_l belongs
        add(f"dgammabeta{l}", l, Text("freg.slip.dgamma_is_dbeta", l=l),
            {f"dgamma{l}": lambda rhs, e=batch_sum(DY, column): e})
        add(f"dbetagamma{l}", l, Text("freg.slip.dbeta_is_dgamma", l=l),
            {f"dbeta{l}": lambda rhs, e=batch_sum(HadamardProduct(DY, GH), column): e})
        add(f"dgammaG{l}", l, Text("freg.slip.dgamma_on_g", l=l),
            {f"dgamma{l}": lambda rhs, e=batch_sum(HadamardProduct(DY, G), column): e})
        if net.has_bias(l):
            add(f"dbias{l}", l, Text("freg.slip.bias_of_bn", l=l),
                {f"dB{l}": lambda rhs, e=batch_sum(DY, column): e})
    return _in_every_layer(derivation, made) + out


def _in_every_layer(derivation: Derivation, made: list) -> list[Variant]:
    """The same slip made in every layer it can be made in (code that loops over the layers
    repeats its slip): one variant per slip of two or more layers, named at its lowest."""
    groups: dict[str, list] = {}
    for key, origin, slip, changes in made:
        groups.setdefault(re.sub(r"[0-9]+\Z", "", key), []).append((origin, slip, changes))
    out = []
    for stem, group in groups.items():
        if len(group) < 2:
            continue
        merged = {}
        for _origin, _slip, changes in group:
            merged.update(changes)
        changed = _with(derivation, merged)
        if changed.backward == derivation.backward:
            continue
        lowest, slip, _ = group[0]
        others = ", ".join(str(origin) for origin, _, _ in group[1:])
        out.append(Variant(f"{stem}all", lowest, Text("freg.slip.every_layer", slip=slip,
                                                      others=others), changed))
    return out


# --------------------------------------------------------------------------- the diagnoser


class RegularizedDiagnoser(Diagnoser):
    """`Diagnoser` for a network with section 7's features: its variants and sentences, and
    the slips of section 7 tried before a plain factor can name them wrongly (a dropout
    scale 1/(1 − p) = 2 left out is not "half the right value")."""

    def __init__(self, derivation: Derivation, draws: list[Draw], formula: bool = False):
        super().__init__(derivation, draws)
        self._section7 = None
        self._formula = formula

    def zero_atol(self, name: str, d: Draw, rtol: float) -> float:
        """The absolute tolerance of gradient `name` at draw `d`: 1e-12, and for the
        exactly-zero dB_l of a batch-norm layer that keeps its bias, `rtol` times the largest
        sum of |δ_l| over the batch (what code that sums δ_l, zero only up to rounding, is
        off by)."""
        net = self.net
        if not name.startswith("dB"):
            return 1e-12
        l = layer_of(name)
        if not net.batch_norm(l) or f"D{l}" not in d.values:
            return 1e-12
        axis = 1 if net.layout == "column" else 0
        return max(1e-12, rtol * float(np.max(np.sum(np.abs(np.asarray(d.values[f"D{l}"], float)),
                                                      axis=axis), initial=0.0)))

    def _section7_variants(self):
        if self._section7 is None:
            self._section7 = section7_variants(self.derivation, self._formula)
        return self._section7

    def _all_variants(self):
        if self._variants is None:
            from .diagnose import variants

            self._variants = variants(self.derivation) + self._section7_variants()
        return self._variants

    def expected(self, name: str) -> list[np.ndarray]:
        return [as_numpy(self.derivation, name, d.values[name]) for d in self.draws]

    def _variant_values(self, variant: Variant, name: str) -> list[np.ndarray]:
        out = []
        backward_only = Derivation(variant.derivation.network, variant.derivation.symbols, (),
                                   variant.derivation.loss, variant.derivation.backward)
        forward = [eq.name for eq in self.derivation.forward]
        for d in self.draws:
            if variant.key not in d.variants:
                env = dict(d.env)
                env.update((k, d.values[k]) for k in forward)
                with np.errstate(all="ignore"):
                    d.variants[variant.key] = run(backward_only, env, d.batch, NumpyBackend())
            out.append(as_numpy(self.derivation, name, d.variants[variant.key][name]))
        return out

    def explain(self, name: str, got: list, rtol: float = RTOL) -> tuple[str, dict]:
        self._rtol = rtol
        layer = layer_of(name)
        if any(np.asarray(g).dtype == object or not np.all(np.isfinite(np.asarray(g, float)))
               for g in got):
            return Text("diag.nan", name=name, layer=layer), {}
        want = self.expected(name)
        same = all(np.shape(g) == w.shape for g, w in zip(got, want))
        if same:
            for v in self._section7_variants():
                if v.origin < layer:
                    continue
                if all(close(g, w, rtol) for g, w in zip(got, self._variant_values(v, name))):
                    if v.origin == layer:
                        return (Text("diag.slip", name=name, slip=v.slip),
                                {"origin": layer, "variant": v.key})
                    return (Text("diag.slip_above", name=name, origin=v.origin, slip=v.slip,
                                 layer=layer), {"origin": v.origin, "variant": v.key})
            penalty = self._penalty(name, layer, got, want)
            if penalty is not None:
                return penalty, {}
            bias = self._bias_of_batch_norm(name, layer, got)
            if bias is not None:
                return bias
        elif (name.startswith("dB") and self.net.batch_norm(layer)
              and all(np.size(g) and not np.any(np.asarray(g, float)) for g in got)):
            # dB_l = 0 of a batch-norm layer written as the number 0 (or zeros of another shape)
            return (Text("diag.reshaped", name=name, layer=layer, got=shape_text(np.shape(got[0])),
                         want=shape_text(want[0].shape)), {"shape": True})
        if name.startswith(("dgamma", "dbeta")):
            return self._explain_vector(name, layer, got, want, same)
        if name.startswith(_BN_DELTAS):
            return self._explain_delta(name, layer, got, want, same)
        return super().explain(name, got, rtol)

    def _explain_delta(self, name, layer, got, want, same):
        """DY_l or DGH_l (section 7's slips were tried before): transposed, another shape, a
        factor."""
        g_shape, w_shape = np.shape(got[0]), want[0].shape
        transposed = all(np.shape(g) == w.T.shape and close(g, w.T, self._rtol)
                         for g, w in zip(got, want))
        if same:
            if transposed:
                return Text("diag.transposed", name=name, layer=layer), {}
            return self._named_factor(name, layer, got, want)
        if transposed:
            return (Text("diag.transposed_shape", name=name, layer=layer,
                         got=shape_text(g_shape), want=shape_text(w_shape)), {})
        if all(np.size(g) == w.size and close(np.reshape(g, w.shape), w, self._rtol)
               for g, w in zip(got, want)):
            return (Text("diag.reshaped", name=name, layer=layer, got=shape_text(g_shape),
                         want=shape_text(w_shape)), {"shape": True})
        return None, {}

    def _bias_of_batch_norm(self, name, layer, got):
        """dB_l of a batch-norm layer (exactly 0) computed as δ_l summed over the batch, with a
        slip of δ_l (or above) that makes the sum no longer 0: that slip named."""
        if not (name.startswith("dB") and self.net.batch_norm(layer)):
            return None
        column = self.derivation.layout == "column"
        for v in self._section7_variants():
            if v.origin < layer:
                continue
            sums = [as_numpy(self.derivation, name, _batch_sum_values(D, column))
                    for D in self._variant_values(v, f"D{layer}")]
            if all(np.shape(g) == w.shape and close(g, w, self._rtol) for g, w in zip(got, sums)):
                key = "diag.slip" if v.origin == layer else "diag.slip_above"
                return (Text(key, name=name, slip=v.slip, origin=v.origin, layer=layer),
                        {"origin": v.origin, "variant": v.key})
        return None

    def two_slips(self, name: str, got: list, hints=(), rtol: float = RTOL):
        if name.startswith(("dgamma", "dbeta") + _BN_DELTAS):
            return None
        return super().two_slips(name, got, hints, rtol)

    # ------------------------------------------------------------------ the penalty
    def _penalty(self, name, layer, got, want):
        """dW_l with its penalty term c·W_l off (left out, weight decay's λ where the L2
        penalty's 2λ belongs or the other way round, another c), or a penalty on a bias, γ or
        β (c·B_l added to the right gradient)."""
        net = self.net
        stem = re.match(r"d(W|B|gamma|beta)\d+\Z", name)
        if stem is None:
            return None
        stem = stem.group(1)
        param = f"{stem}{layer}"
        right_c = 0.0
        if stem == "W" and net.penalty is not None:
            right_c = float(2 * net.penalty_coefficient)
        cs = []
        for g, w, d in zip(got, want, self.draws):
            P = as_numpy(self.derivation, param, d.env[param])
            g, w = np.asarray(g, float), np.asarray(w, float)
            data = w - right_c * P  # the gradient without the penalty's term
            denom = float(np.sum(P * P))
            if denom == 0 or g.shape != w.shape:
                return None
            c = float(np.sum((g - data) * P) / denom)
            if not close(g, data + c * P, self._rtol, self.zero_atol(name, d, self._rtol)):
                return None
            cs.append(c)
        c = cs[0]
        # the same c at every draw, to the precision the code computed in
        if any(abs(x - c) > max(1e-6, self._rtol) * max(abs(c), abs(right_c), 1e-12) for x in cs):
            return None
        if abs(c - right_c) <= 1e-9 * max(abs(right_c), 1e-12):
            return None  # right after all (within the tolerance of close)
        if stem != "W":
            if abs(c) < 1e-12:
                return None
            return Text("freg.pen.on_param", name=name, layer=layer, c=c, param=param,
                        what=Text(f"freg.pen.what.{'bias' if stem == 'B' else 'bn'}"),
                        penalty=self._penalty_text(), spelled=self._spelled(net.penalty))
        if net.penalty is None:
            return None  # a penalty on a network without one: judge's _penalty names it
        lam = float(net.penalty_lambda)
        fields = dict(name=name, layer=layer, param=param, c=c, lam=format_number(
            net.penalty_lambda), penalty=self._penalty_text(), spelled=self._spelled(net.penalty))
        if abs(c) <= 1e-9 * abs(right_c):
            return Text("freg.pen.missing", right=right_c, **fields)
        other = "l2" if net.penalty == "weight_decay" else "weight_decay"
        other_c = float(2 * PENALTIES[other][1]) * lam
        if abs(c - other_c) <= 1e-6 * abs(other_c):
            return Text(f"freg.pen.as_{other}", right=right_c, other=self._spelled(other),
                        **fields)
        return Text("freg.pen.other", right=right_c, **fields)

    def _spelled(self, penalty: str) -> str:
        """`+wd@0.01` or `+l2@0.01`: the loss suffix of a penalty with the network's λ."""
        return f"+{PENALTIES[penalty][0]}@{format_number(self.net.penalty_lambda)}"

    def _penalty_text(self):
        net = self.net
        if net.penalty is None:
            return Text("freg.pen.none")
        return Text(f"freg.pen.is_{net.penalty}", spelled=self._spelled(net.penalty),
                    lam=format_number(net.penalty_lambda))

    # ------------------------------------------------------------------ dγ and dβ
    def _explain_vector(self, name, layer, got, want, same):
        """dγ_l or dβ_l: transposed, another shape, reduced over the wrong axis, a factor."""
        g_shape, w_shape = np.shape(got[0]), want[0].shape
        if not same:
            if len(w_shape) == 2 and all(np.shape(g) == w.T.shape and close(g, w.T, self._rtol)
                                         for g, w in zip(got, want)):
                return (Text("diag.transposed_shape", name=name, layer=layer,
                             got=shape_text(g_shape), want=shape_text(w_shape)), {})
            if all(np.size(g) == w.size and close(np.reshape(g, w.shape), w, self._rtol)
                   for g, w in zip(got, want)):
                return (Text("diag.reshaped", name=name, layer=layer, got=shape_text(g_shape),
                             want=shape_text(w_shape)), {"shape": True})
        reduced = self._vector_reduction(name, layer, got)
        if reduced is not None:
            return reduced, {}
        if same:
            return self._named_factor(name, layer, got, want)
        return None, {}

    def _named_factor(self, name, layer, got, want):
        """(the sentence, facts) for a gradient off by one factor at every draw, or (None, {})."""
        factor = self._factor(got, want)
        if factor is None:
            return None, {}
        text, c, ratios = factor
        return (Text("diag.factor", name=name, layer=layer, text=text),
                {"factor": c, "ratios": ratios, "text": text})

    def _vector_reduction(self, name, layer, got):
        """dγ_l / dβ_l as its summand (δ^Y ⊙ Ĝ, δ^Y) reduced over the units, everything,
        averaged, or not reduced at all."""
        column = self.derivation.layout == "column"
        batch_axis, unit_axis = (1, 0) if column else (0, 1)
        gamma = name.startswith("dgamma")
        what = f"DY{layer} * GH{layer}" if gamma else f"DY{layer}"
        summands = []
        for d in self.draws:
            DY = np.asarray(d.values[f"DY{layer}"], float)
            summands.append(DY * np.asarray(d.values[f"GH{layer}"], float) if gamma else DY)
        fields = dict(name=name, layer=layer, what=what, batch_axis=batch_axis,
                      unit_axis=unit_axis, shape=shape_text(np.shape(got[0])))
        ways = [
            (lambda a: a.sum(axis=unit_axis, keepdims=True), "freg.red.units"),
            (lambda a: a.sum(axis=unit_axis), "freg.red.units"),
            (lambda a: a.mean(axis=unit_axis, keepdims=True), "freg.red.mean_units"),
            (lambda a: a.mean(axis=unit_axis), "freg.red.mean_units"),
            (lambda a: a.sum(), "freg.red.all"),
            (lambda a: a, "freg.red.none"),
        ]
        if np.shape(got[0]) != as_numpy(self.derivation, name, self.draws[0].values[name]).shape:
            ways.append((lambda a: a.mean(axis=batch_axis), "freg.red.mean_shape"))
            ways.append((lambda a: a.mean(axis=batch_axis, keepdims=True), "freg.red.mean_shape"))
        for fn, key in ways:
            if all(np.shape(g) == np.shape(fn(a)) and close(g, fn(a), self._rtol)
                   for g, a in zip(got, summands)):
                return Text(key, **fields)
        return None


def _batch_sum_values(D, column: bool) -> np.ndarray:
    D = np.asarray(D, dtype=float)
    return D.sum(axis=1, keepdims=True) if column else D.sum(axis=0, keepdims=True)


# --------------------------------------------------------------------------- another eps


def _literals(tree) -> set:
    """The numbers written in a formula's tree (not the network's constants eps, p, lam)."""
    out = set()
    if isinstance(tree, tuple):
        if len(tree) == 2 and tree[0] == "num" and isinstance(tree[1], (int, float)):
            out.add(tree[1])
        for item in tree:  # a node (its kind a str) or a call's tuple of arguments
            out |= _literals(item)
    return out


def _replaced(tree, old, new):
    if isinstance(tree, tuple):
        if len(tree) == 2 and tree[0] == "num" and type(tree[1]) is type(old) and tree[1] == old:
            return ("num", new)
        return tuple(_replaced(item, old, new) for item in tree)
    return tree


def other_eps(parsed, derivation: Derivation, draws: list, env_of) -> Text | None:
    """A wrong formula that is right once a small number written in it (1e-5, 1e-8, ...) is
    the ε of the network's batch norm: that number named as an ε the network does not have.
    `env_of(d)` is the formula's environment at draw d."""
    from . import formula as formula_lang

    net = derivation.network
    ours = sorted({layer.eps for layer in net.layers if layer.batch_norm})
    if not ours:
        return None
    small = sorted(v for v in _literals(parsed.tree) if isinstance(v, float) and 0 < v < 0.01)
    want = [as_numpy(derivation, parsed.lhs, d.values[parsed.lhs]) for d in draws]
    for value in small:
        for eps in ours:
            if sp.Rational(repr(value)) == eps:
                continue  # (another layer's ε may be written in this layer's formula)
            tree = _replaced(parsed.tree, value, sp.Rational(eps))
            moved = formula_lang.Formula(parsed.text, parsed.lhs, parsed.layer, tree)
            try:
                with np.errstate(all="ignore"):
                    got = [np.asarray(formula_lang.evaluate(moved, env_of(d), d.batch, net),
                                      dtype=float) for d in draws]
            except Exception:  # noqa: BLE001, S112  # shapes that do not conform: not this
                continue
            if all(g.shape == w.shape and close(g, w) for g, w in zip(got, want)):
                sym = "eps" if len(ours) == 1 else f"eps{parsed.layer}"
                return Text("freg.eps", name=parsed.lhs, layer=parsed.layer, got=repr(value),
                            eps=format_number(eps), sym=sym)
    return None


def prepared(derivation: Derivation, batches: tuple, rng) -> tuple:
    """(derivation, draws, diagnoser) for formulas on a network with section 7's features."""
    draws = [draw(derivation, b, rng) for b in batches]
    return derivation, draws, RegularizedDiagnoser(derivation, draws, formula=True)
