"""Why one layer's gradient is wrong: the slips people make in layer code, each computed at the
checker's draws and matched against what the code returned at every draw.

Shape slips first (dx not reshaped back to x's shape, a transposed dw, db / dgamma / dbeta not
summed or summed over the wrong axis), then a constant factor (softmax's dx not divided by N,
a flipped sign), then each kind's own slips: an activation's derivative missing, taken at the
output, or written in terms of the output but applied to the input; dropout's backward
unmasked or unscaled; batch norm's dx without γ or without the mean terms, dγ from x instead
of x̂; a loss's dx from the scores instead of the probabilities, or without the targets.
"""

from __future__ import annotations

import numpy as np

from ..derive.evaluate import NumpyBackend, evaluate
from ..derive.layers import LayerDerivation
from .diagnose import close, shape_text
from .messages import Text

#: Factors a gradient may be off by, in the batch size N and the width C: (value, words).
_FACTORS = (
    (lambda n, c: n, "layer.factor.n"),
    (lambda n, c: 1 / n, "layer.factor.over_n"),
    (lambda n, c: c, "layer.factor.c"),
    (lambda n, c: 1 / c, "layer.factor.over_c"),
    (lambda n, c: n * c, "layer.factor.nc"),
    (lambda n, c: 1 / (n * c), "layer.factor.over_nc"),
    (lambda n, c: -1.0, "layer.factor.sign"),
    (lambda n, c: 2.0, "2"),  # a number reads the same in every language
    (lambda n, c: 0.5, "1/2"),
)


def explain(derivation: LayerDerivation, draws: list, name: str, got: list, want: list,
            rtol: float) -> str | None:
    """One sentence for a wrong gradient `name`, or None when no modelled slip reproduces it."""
    got = [np.asarray(g, dtype=float) for g in got]
    if not all(np.all(np.isfinite(g)) for g in got):
        return Text("layer.nan", name=name)

    def matches(values) -> bool:
        return all(v is not None and close(g, np.asarray(v, float), rtol)
                   for g, v in zip(got, values))

    same = all(g.shape == w.shape for g, w in zip(got, want))
    if not same:
        found = _shape_slip(derivation, draws, name, got, want, matches, rtol)
        if found:
            return found
    elif want[0].ndim == 2 and want[0].shape[0] == want[0].shape[1] and matches([w.T for w in want]):
        return Text("layer.transposed_square", name=name)
    for sentence, values in _slips(derivation, draws, name):
        try:
            if matches(values):
                return Text("diag.slip", name=name, slip=sentence)
        except (ValueError, TypeError):
            continue
    factor = _factor(derivation, draws, got, want, rtol) if same else None
    if isinstance(factor, Text) and factor.key == "layer.factor.over_n" and name in ("db", "dgamma", "dbeta"):
        factor = Text("layer.factor.mean")
    if factor:
        return Text("layer.factor", name=name, factor=factor)
    return None


# --------------------------------------------------------------------------- shapes


def _summand(derivation: LayerDerivation, d, name: str):
    """What gradient `name` sums over the batch, oriented like out (None for dx, dw)."""
    v = d.values
    if name in ("db", "dbeta"):
        return np.asarray(v["dout"], float)
    if name == "dgamma":
        return np.asarray(v["dout"], float) * np.asarray(v["xhat"], float)
    return None


def _shape_slip(derivation: LayerDerivation, draws, name, got, want, matches, rtol) -> str | None:
    column = derivation.layout == "column"
    batch_axis, unit_axis = (1, 0) if column else (0, 1)
    if all(g.size == w.size for g, w in zip(got, want)):
        if all(close(g.reshape(w.shape), w, rtol) for g, w in zip(got, want)):
            g, w, d = next((g, w, d) for g, w, d in zip(got, want, draws) if g.shape != w.shape)
            if w.ndim > 2 and name == "dx":
                return Text("layer.not_reshaped", got=shape_text(g.shape), want=shape_text(w.shape),
                            batch=d.batch)
            if g.ndim == 2 and w.ndim == 2 and all(
                    close(g, w.T, rtol) for g, w in zip(got, want)) and g.shape != w.shape:
                return _transposed(name, got, want)
            return Text("layer.reshaped", name=name, got=shape_text(g.shape),
                        want=shape_text(w.shape), batch=d.batch)
    if all(g.ndim == 2 and w.ndim == 2 and close(g, w.T, rtol) for g, w in zip(got, want)):
        return _transposed(name, got, want)
    summands = [_summand(derivation, d, name) for d in draws]
    if summands[0] is not None:
        what = {"db": "dout", "dbeta": "dout", "dgamma": "dout ⊙ x̂"}[name]
        if matches(summands):
            return Text("layer.not_summed", name=name, what=what, got=shape_text(got[0].shape),
                        axis=batch_axis)
        if matches([s.sum(axis=unit_axis) for s in summands]):
            return Text("layer.wrong_axis", name=name, units=unit_axis, batch=batch_axis)
        if matches([s.sum() for s in summands]):
            return Text("layer.summed_all", name=name)
    return None


def _transposed(name, got, want) -> str:
    return Text("layer.transposed.dw" if name == "dw" else "layer.transposed", name=name,
                got=shape_text(got[0].shape), want=shape_text(want[0].shape))


# --------------------------------------------------------------------------- factors


def _factor(derivation: LayerDerivation, draws, got, want, rtol) -> str | None:
    """The factor c with got = c · want at every draw, in words (N, C, −1, ...), or None."""
    ratios = []
    for g, w in zip(got, want):
        norm = float(np.sum(w * w))
        if norm == 0:
            return None
        c = float(np.sum(g * w)) / norm
        if c == 0 or not close(g, c * w, rtol):
            return None
        ratios.append(c)
    width = derivation.spec.width_in
    for value, key in _FACTORS:
        if all(abs(c - value(d.batch, width)) <= 1e-6 * abs(c) for c, d in zip(ratios, draws)):
            return Text(key) if key.startswith("layer.") else key
    if all(abs(c - ratios[0]) <= 1e-6 * abs(c) for c in ratios):
        return f"{ratios[0]:.6g}"  # a plain number reads the same in every language
    return None


# --------------------------------------------------------------------------- each kind's slips


def _slips(derivation: LayerDerivation, draws, name: str):
    """(sentence, value at every draw) for each modelled slip of the layer's kind."""
    family = derivation.spec.kind.family
    if family == "activation" and name == "dx":
        yield from _activation_slips(derivation, draws)
    elif family == "dropout":
        yield from _dropout_slips(derivation, draws)
    elif family == "affine" and name == "dx":
        yield (Text("layer.slip.w"),
               [_shaped(d, d.values["dout"] @ d.values["w"]) for d in draws])
    elif family == "batchnorm":
        yield from _batchnorm_slips(derivation, draws, name)
    elif family == "loss":
        yield from _loss_slips(derivation, draws)


def _shaped(d, value):
    return np.asarray(value, float).reshape(d.arrays["x"].shape)


def _activation_slips(derivation, draws):
    spec = derivation.spec
    act = spec.kind.activation
    backend = NumpyBackend()
    relu_like = act.name in ("relu", "leaky_relu", "elu", "step")
    missing = Text("layer.slip.mask_missing" if relu_like else "layer.slip.prime_missing")
    yield missing, [d.values["dout"] for d in draws]
    yield (Text("layer.slip.prime_alone"),
           [backend.prime(act, spec.alpha, d.values["x"], d.values["out"]) for d in draws])
    if act.derivative.free_symbols:
        at_out = []
        for d in draws:
            out = d.values["out"]
            at_out.append(d.values["dout"] * backend.prime(act, spec.alpha, out,
                                                           backend.apply(act, spec.alpha, out, 1)))
        yield Text("layer.slip.at_out"), at_out
        from ..derive import activations

        if act.derivative.has(activations.r):
            written = {"sigmoid": "r(1 − r)", "tanh": "1 − r²"}.get(act.name, Text("layer.slip.r_form"))
            yield (Text("layer.slip.r_on_x", written=written),
                   [d.values["dout"] * backend.prime(act, spec.alpha, d.values["x"], d.values["x"])
                    for d in draws])
    yield (Text("layer.slip.dout_mask"),
           [d.values["dout"] * (d.values["dout"] > 0) for d in draws])


def _dropout_slips(derivation, draws):
    keep = 1 - float(derivation.spec.p)
    factors = [np.asarray(d.values["mask"], float) / keep for d in draws]
    kept = np.concatenate([f[f != 0] for f in factors])
    scale = float(np.median(kept)) if kept.size else 1.0

    def shaped(values):
        return [np.asarray(v, float) for v in values]

    yield (Text("layer.slip.dropout_none"),
           shaped(d.values["dout"] for d in draws))
    if abs(scale - 1) > 1e-9:
        yield (Text("layer.slip.dropout_unmasked", scale=f"{scale:.6g}"),
               shaped(d.values["dout"] * scale for d in draws))
        yield (Text("layer.slip.dropout_unscaled", scale=f"{scale:.6g}"),
               shaped(d.values["dout"] * (f != 0) for d, f in zip(draws, factors)))
        yield (Text("layer.slip.dropout_twice"),
               shaped(d.values["dout"] * f * scale for d, f in zip(draws, factors)))
    else:
        yield (Text("layer.slip.dropout_extra", scale=f"{1 / keep:.6g}"),
               shaped(d.values["dout"] * f / keep for d, f in zip(draws, factors)))


def _batchnorm_slips(derivation, draws, name):
    column = derivation.layout == "column"
    axis = 1 if column else 0

    def stats(d):
        x = np.asarray(d.values["x"], float)
        centred = x - x.mean(axis=axis, keepdims=True)
        istd = 1 / np.sqrt((centred**2).mean(axis=axis, keepdims=True) + d.values["epsilon"])
        return x, centred, istd

    def vector(d, value):
        value = np.asarray(value, float)
        return value.reshape(-1) if not column else value.reshape(-1, 1)

    if name == "dx":
        no_gamma = []
        for d in draws:
            env = dict(d.values)
            env["gamma"] = np.ones_like(np.asarray(d.values["gamma"], float))
            no_gamma.append(evaluate(derivation.equation("dx").rhs, _with(derivation, env, d), d.batch,
                                     NumpyBackend()))
        yield Text("layer.slip.bn_gamma"), no_gamma
        naive = [np.asarray(d.values["gamma"], float) * stats(d)[2] * d.values["dout"] for d in draws]
        yield Text("layer.slip.bn_naive"), naive
        yield Text("layer.slip.bn_naive_gamma"), [stats(d)[2] * d.values["dout"] for d in draws]
    elif name == "dgamma":
        yield (Text("layer.slip.bn_dgamma_x"),
               [vector(d, (d.values["dout"] * stats(d)[0]).sum(axis=axis)) for d in draws])
        yield (Text("layer.slip.bn_dgamma_dbeta"),
               [vector(d, np.asarray(d.values["dout"], float).sum(axis=axis)) for d in draws])
    elif name == "dbeta":
        yield (Text("layer.slip.bn_dbeta_dgamma"),
               [vector(d, (np.asarray(d.values["dout"], float) * d.values["xhat"]).sum(axis=axis))
                for d in draws])


def _with(derivation, env, d):
    """`env` with every forward quantity recomputed from its inputs (γ changed)."""
    values = {k: v for k, v in env.items() if k in derivation.inputs or k == "epsilon"}
    backend = NumpyBackend()
    for eq in derivation.forward + derivation.backward:
        if eq.name == "dx":
            break
        values[eq.name] = evaluate(eq.rhs, values, d.batch, backend)
    return values


def _loss_slips(derivation, draws):
    spec = derivation.spec
    act = spec.kind.activation
    coeff = derivation.equation("dx").rhs
    if "p" in derivation.symbols:
        scores = []
        for d in draws:
            env = dict(d.values)
            env["p"] = env["x"]
            scores.append(evaluate(coeff, env, d.batch, NumpyBackend()))
        yield Text("layer.slip.scores", act=act.name), scores
    no_targets = []
    for d in draws:
        env = dict(d.values)
        env["t"] = np.zeros_like(np.asarray(env["t"], float))
        no_targets.append(evaluate(coeff, env, d.batch, NumpyBackend()))
    yield Text("layer.slip.no_targets"), no_targets
