"""Judge one layer's backward code against its local derivation: `check layer:... --python`.

`check_layer(spec, "FILE:NAME")` runs the code in the isolated worker (`worker.layer_child`):
on each draw (x with means and spreads far from 0 and 1, γ ≠ 1, a fresh dout) it calls the
forward, then the backward with a copy of dout, and compares every returned gradient with the
layer's derivation evaluated at the same point. What the derivation leaves to conventions is
read from what the forward did: dropout's mask and its scaling from out / x, batch norm's ε
from its output, integer or one-hot targets from which the code takes. A wrong gradient gets
the sentence of the first modelled slip that reproduces it at every draw, else its worst
element. The report is judge's `CheckReport`, with one `ParamResult` per gradient.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..derive.chain import N as BATCH
from ..derive.evaluate import NumpyBackend, evaluate
from ..derive.layers import (
    VECTOR_PARAMS,
    LayerDerivation,
    LayerSpec,
    derive_layer,
    parse_layer,
)
from . import calling, conventions
from .diagnose import RTOL, close, errors, precision_of, shape_text
from .judge import CheckReport, ParamResult, worst_element
from .layer_calling import LayerJob
from .messages import Text
from .worker import runner, wire

DEFAULT_BATCHES = (3, 5, 4)
#: Inputs of kinked activations (and dropout's x, read back as out / x) stay this far from 0.
MARGIN = 0.05
#: how many times the measured rounding sensitivity a lower-precision result may be off
ROUNDOFF_MARGIN = 32


class LayerWorker(runner.WorkerAdapter):
    """The worker process for one layer's code: forward then backward per request."""

    entry = "layer_child"

    def run_layer(self, arrays: dict) -> calling.Outcome:
        """What the code returned on `arrays` (x, parameters, dout or t), as float64 arrays.

        Raises:
            runner.FuncFailed: the code hung, ended its process or broke the protocol.
        """
        self.ready()
        if self.fatal:
            raise runner.FuncFailed(self._failure, raised=False)
        self.batch = int(np.shape(arrays["x"])[1 if self.batch_axis == 1 else 0])
        try:
            self._transmit(wire.encode({"kind": "call"}, arrays))
            header, sent = self._receive()
        except runner._Ended as ended:
            why = Text("worker.instead", why=ended.why) if ended.why.startswith("ended") else ended.why
            raise runner.FuncFailed(self._give_up(Text("worker.failed", label=self.label, why=why,
                                                       batch=self.batch)), raised=False) from None
        outcome = runner._outcome(header, sent, {})
        if outcome is None:
            raise runner.FuncFailed(self._give_up(f"{self.label} disturbed the checker's worker: "
                                                  "it sent back a malformed reply"), raised=False)
        return outcome


def job_of(spec: LayerSpec, forward: str | None = None) -> LayerJob:
    """The plain-data description of `spec` the worker gets."""
    def number(v):
        return None if v is None else float(v)

    return LayerJob(spec.kind.name, spec.kind.family, spec.kind.params, spec.kind.grads,
                    spec.layout, number(spec.p), number(spec.eps), number(spec.alpha), forward)


# --------------------------------------------------------------------------- draws


@dataclass
class LayerDraw:
    """One point: what the code gets (`arrays`), the derivation's inputs (`env`, 2-D) and,
    once the code ran, everything the derivation gives there (`values`)."""

    batch: int
    arrays: dict
    env: dict
    labels: np.ndarray | None = None
    values: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def draw(derivation: LayerDerivation, batch: int, rng: np.random.Generator, nd: bool = False,
         targets: str = "labels") -> LayerDraw:
    """Inputs for one call: x far from mean 0 / variance 1 where that matters (affine, batch
    norm), away from kinks where there are some; γ away from 1; dout; the loss's targets."""
    spec = derivation.spec
    family = spec.kind.family
    column = spec.layout == "column"
    width_in, width_out = spec.width_in, spec.width_out

    def oriented(a):
        return a.T.copy() if column else a

    if family in ("affine", "batchnorm"):
        means = rng.uniform(-6, 6, width_in) * rng.choice((1.0, 0.5), width_in)
        spreads = rng.uniform(2, 4, width_in)
        x = means + spreads * rng.normal(size=(batch, width_in))
    elif family == "dropout":
        x = rng.normal(2, 2, size=(batch, width_in))
    else:
        x = rng.normal(0, 2, size=(batch, width_in))
    if family in ("activation", "dropout"):
        x = np.where(np.abs(x) < MARGIN, np.sign(x + 1e-300) * (MARGIN + np.abs(x)), x)
    env = {"x": oriented(x)}
    arrays = {}
    if family == "affine":
        w = rng.normal(size=(width_in, width_out)) / np.sqrt(width_in)
        b = rng.normal(size=width_out) * 0.5
        env["w"], env["b"] = oriented(w), (b[:, None] if column else b[None, :])
    if family == "batchnorm":
        low = rng.uniform(0.3, 0.7, width_in)
        high = rng.uniform(1.5, 3.0, width_in)
        env["gamma"] = rng.choice((-1.0, 1.0), width_in) * np.where(rng.random(width_in) < 0.5, low, high)
        env["beta"] = rng.normal(size=width_in)
        env["gamma"] = env["gamma"][:, None] if column else env["gamma"][None, :]
        env["beta"] = env["beta"][:, None] if column else env["beta"][None, :]
    labels = None
    if family == "loss":
        record = spec.kind.loss
        if record.targets == "distribution":
            labels = rng.integers(0, width_in, size=batch)
            t = np.zeros((batch, width_in))
            t[np.arange(batch), labels] = 1.0
        elif record.targets == "probability":
            t = rng.integers(0, 2, size=(batch, width_in)).astype(float)
        else:
            t = rng.normal(size=(batch, width_in))
        env["t"] = oriented(t)
        arrays["t"] = labels if (labels is not None and targets == "labels") else env["t"].copy()
    else:
        env["dout"] = oriented(rng.normal(size=(batch, width_out)))
        arrays["dout"] = env["dout"].copy()
    arrays["x"] = env["x"].copy()
    if nd and family == "affine" and not column:
        first = _smallest_factor(width_in)
        if first is not None:
            arrays["x"] = arrays["x"].reshape(batch, first, width_in // first)
    for name in spec.kind.params:
        value = env[name]
        arrays[name] = value.reshape(-1).copy() if name in VECTOR_PARAMS and not column else value.copy()
    return LayerDraw(batch, arrays, env, labels)


def _smallest_factor(n: int) -> int | None:
    for k in range(2, int(n**0.5) + 1):
        if n % k == 0:
            return k
    return None


# --------------------------------------------------------------------------- conventions read


def read_mask(d: LayerDraw, out: np.ndarray) -> np.ndarray:
    """Dropout's factor per entry, out / x: the 0/1 mask, or the mask already scaled."""
    return out.reshape(d.env["x"].shape) / d.env["x"]


def read_eps(d: LayerDraw, out: np.ndarray, column: bool) -> float | None:
    """Batch norm's ε, from the forward's output: x̂ = (out − β) / γ = (x − μ) / sqrt(σ² + ε)."""
    axis = 1 if column else 0
    x = d.env["x"]
    xhat = (out.reshape(x.shape) - d.env["beta"]) / d.env["gamma"]
    centred = x - x.mean(axis=axis, keepdims=True)
    var = (centred**2).mean(axis=axis, keepdims=True)
    with np.errstate(all="ignore"):
        std = centred / xhat
    std = np.where(np.abs(xhat) > 0.1, std, np.nan)
    per_unit = np.nanmedian(std, axis=axis, keepdims=True) ** 2 - var
    if not np.all(np.isfinite(per_unit)):
        return None
    return float(max(np.median(per_unit), 0.0))


def _complete(derivation: LayerDerivation, d: LayerDraw, got: dict) -> str | None:
    """The derivation's values at the draw, with what the forward did read back; or why the
    forward's output cannot be used."""
    spec = derivation.spec
    family = spec.kind.family
    env = dict(d.env)
    out = got.get("out")
    if family in ("dropout", "batchnorm"):
        if out is None:
            return Text("layer.error.no_out")
        if out.size != d.env["x"].size:
            return Text("layer.error.out_shape", shape=shape_text(out.shape))
        if family == "dropout":
            mask = read_mask(d, out)
            env["mask"] = mask * (1 - float(spec.p))  # the derivation scales by 1 / (1 - p)
        else:
            eps = read_eps(d, out, spec.layout == "column")
            if eps is None:
                return Text("layer.error.no_eps")
            env["epsilon"] = eps
            d.notes.append(eps)
    values = dict(env)
    backend = NumpyBackend()
    for eq in derivation.forward + derivation.backward:
        values[eq.name] = evaluate(eq.rhs, values, d.batch, backend)
    d.values = values
    return None


def expected(derivation: LayerDerivation, d: LayerDraw, name: str) -> np.ndarray:
    """Gradient `name` at draw `d`, shaped as the code's arrays are (dx like x, a row-layout
    db / dgamma / dbeta 1-D)."""
    value = np.asarray(d.values[name], dtype=float)
    if name == "dx":
        return value.reshape(d.arrays["x"].shape) if derivation.layout == "row" else value
    if name[1:] in VECTOR_PARAMS and derivation.layout == "row":
        return value.reshape(-1)
    return value


# --------------------------------------------------------------------------- checking


def check_layer(spec, func: str, forward: str | None = None, batch: int | None = None,
                targets: str | None = None, timeout: float = runner.DEFAULT_TIMEOUT,
                memory_mb: int = runner.DEFAULT_MEMORY_MB, seed: int = 0,
                lang: str = "en") -> CheckReport:
    """Judge one layer's code, ``"FILE:NAME"``, against the layer's derivation.

    Args:
        spec: a `LayerSpec` or its NET text (``"layer:affine:4-3"``).
        func: ``FILE:NAME``: a backward function (``NAME_backward``, paired with
            ``NAME_forward``), a loss function ``NAME(x, y) -> (loss, dx)`` or a layer class.
        forward: ``FILE:FUNC`` of the forward function, when it is not ``NAME_forward``.
        batch: fix the batch size of every draw (at least 2 for batch norm).
        targets: for softmax_cross_entropy: "labels" or "onehot" (default: labels, then one-hot
            if the code fails on labels).
        timeout, memory_mb: the worker's limits.
        lang: the language of the report's verdicts, diagnoses and notes ("en", "ko").

    Raises:
        conventions.CallingError: FILE or NAME cannot be found, imported or called.
        ValueError: `batch` or `targets` do not fit the layer.
    """
    spec = parse_layer(spec) if isinstance(spec, str) else spec
    derivation = derive_layer(spec)
    batches = _batches(spec, batch)
    if targets not in (None, "labels", "onehot", "soft"):
        raise ValueError(f"targets must be labels or onehot, not '{targets}'")
    path, sep, name = func.rpartition(":")
    if not sep or not path or not name:
        raise conventions.CallingError(f"expected FILE:NAME, got '{func}'")
    worker = LayerWorker(path, name, job_of(spec, forward), timeout=timeout, memory_mb=memory_mb)
    try:
        worker.ready()
        report = _check(derivation, worker, batches, seed, targets)
    finally:
        worker.close()
    report.output = worker.output
    report.lang = lang
    return report


def _batches(spec: LayerSpec, batch: int | None) -> tuple:
    if batch is None:
        return DEFAULT_BATCHES
    if batch < 1 or (spec.kind.family == "batchnorm" and batch < 2):
        raise ValueError("--batch must be at least 2 for batch norm (one sample has no variance)"
                         if spec.kind.family == "batchnorm" else "--batch must be at least 1")
    return (batch,) * len(DEFAULT_BATCHES)


def _check(derivation: LayerDerivation, worker: LayerWorker, batches, seed, targets) -> CheckReport:
    spec = derivation.spec
    rng = np.random.default_rng(seed)
    report = CheckReport(spec, f"{worker.label}", tuple(batches))
    report.notes += worker.notes
    label_form = targets or "labels"
    if targets is None and spec.kind.family == "loss" and spec.kind.loss.targets == "distribution":
        label_form, note = _target_form(derivation, worker, batches[0], seed)
        if note:
            report.notes.append(note)
    draws, results = [], []
    for index, n in enumerate(batches):
        d = draw(derivation, n, rng, nd=index == 1, targets=label_form)
        outcome, why = _call(worker, d)
        if outcome is not None and outcome.failure and outcome.raised:
            retry = None
            if index == 1 and d.arrays["x"].ndim > 2:  # code for 2-D x only
                retry = draw(derivation, n, rng, targets=label_form)
                note = Text("layer.note.nd", label=worker.label, shape=shape_text(d.arrays["x"].shape))
            if retry is not None:
                second, why = _call(worker, retry)
                if second is not None and not second.failure:
                    d, outcome = retry, second
                    report.notes.append(note)
        if outcome is None:
            report.error = why
            return report
        if outcome.failure:
            report.error = Text("layer.error.failure", failure=outcome.failure, batch=n)
            return report
        for note in outcome.notes:
            if note not in report.notes:
                report.notes.append(note)
        trouble = _complete(derivation, d, outcome.grads)
        if trouble:
            report.error = Text("layer.error.at", label=worker.label, why=trouble, batch=n)
            return report
        draws.append(d)
        results.append(outcome)
    _conventions_notes(report, derivation, draws)
    _loss_note(report, derivation, draws, results)
    for name in spec.kind.grads:
        got, bad = [], None
        for outcome in results:
            if name in outcome.bad:
                bad = f"{name}: {outcome.bad[name]}"
                break
            if name not in outcome.grads:
                bad = None if name != "dx" else Text("layer.not_returned", name=name)
                got = None
                break
            got.append(outcome.grads[name])
        want = [expected(derivation, d, name) for d in draws]
        if got is None and bad is None:
            if worker.notes and "read from" in " ".join(worker.notes) or name != "dx":
                report.params[name] = ParamResult(
                    name, False, None, None, tuple(want[0].shape), None,
                    Text("layer.missing", name=name))
            continue
        if bad is not None:
            report.params[name] = ParamResult(name, False, None, None, tuple(want[0].shape), None, bad)
            continue
        eps = max(precision_of(g) for g in got)  # float32 results cross back as float32
        report.params[name] = judge(derivation, draws, name, got, want, eps)
    return report


def _target_form(derivation: LayerDerivation, worker: LayerWorker, batch: int, seed: int):
    """("labels" or "onehot", the note saying so): what a softmax loss's code takes, read from
    which form it runs on and, where it runs on both, which one its loss is the definition's
    loss for (integer labels (N,) broadcast against (N, C) may run and mean nothing)."""
    ran = {}
    for form in ("labels", "onehot"):
        d = draw(derivation, batch, np.random.default_rng(seed + 7), targets=form)
        outcome, _ = _call(worker, d)
        if outcome is not None and not outcome.failure and _complete(derivation, d, outcome.grads) is None:
            ran[form] = _definition_loss(derivation, d), outcome.grads.get("loss")
    label = worker.label
    if set(ran) == {"onehot"}:
        return "onehot", Text("layer.note.onehot_only", label=label)
    if set(ran) == {"labels", "onehot"}:
        right = [form for form, (want, got) in ran.items()
                 if got is not None and got.size == 1 and np.isclose(float(got.reshape(())), want,
                                                                     rtol=1e-4, atol=1e-9)]
        if right == ["onehot"]:
            return "onehot", Text("layer.note.onehot_loss", label=label)
    return "labels", Text("layer.note.labels", label=label)


def _definition_loss(derivation: LayerDerivation, d: LayerDraw) -> float:
    """The loss of the layer's definition at draw `d` (its values computed)."""
    from ..derive import losses

    scale, term = derivation.loss
    fn = sp.lambdify((losses.p, losses.t), term, "numpy")
    prediction = np.asarray(d.values.get("p", d.values["x"]), float)
    targets = np.asarray(d.values["t"], float)
    with np.errstate(all="ignore"):
        terms = np.broadcast_to(fn(prediction, targets), targets.shape)
    if derivation.spec.kind.loss.targets == "distribution":
        terms = np.where(targets == 0, 0.0, terms)  # 0 log 0 = 0
    return float(scale.xreplace({BATCH: d.batch})) * float(np.sum(terms))


def _call(worker: LayerWorker, d: LayerDraw):
    try:
        return worker.run_layer(d.arrays), None
    except runner.FuncFailed as exc:
        return None, exc.message


def _conventions_notes(report: CheckReport, derivation: LayerDerivation, draws: list) -> None:
    spec = derivation.spec
    if spec.kind.family == "dropout":
        masks = [d.env["x"] for d in draws]
        factors = np.concatenate([np.asarray(d.values["mask"]).ravel() for d in draws]) \
            / (1 - float(spec.p))
        kept = factors[np.abs(factors) > 1e-9]
        scale = float(np.median(kept)) if kept.size else 0.0
        share = kept.size / factors.size if factors.size else 0.0
        del masks
        if abs(scale - 1) < 1e-6:
            how = Text("layer.dropout.unscaled")
        else:
            how = Text("layer.dropout.inverted", scale=f"{scale:.6g}")
        report.notes.append(Text("layer.note.dropout", how=how, share=f"{share:.0%}"))
    if spec.kind.family == "batchnorm":
        eps = [n for d in draws for n in d.notes if isinstance(n, float)]
        if eps:
            report.notes.append(Text("layer.note.eps", eps=f"{np.median(eps):.3g}"))


def _loss_note(report: CheckReport, derivation: LayerDerivation, draws: list, results: list) -> None:
    """A note when the loss a loss layer returned is not the loss of its definition."""
    if derivation.loss is None:
        return
    for d, outcome in zip(draws, results):
        got = outcome.grads.get("loss")
        if got is None or got.size != 1:
            return
        want = _definition_loss(derivation, d)
        if not np.isclose(float(got.reshape(())), want, rtol=1e-4, atol=1e-9):
            report.notes.append(Text("layer.note.loss", got=f"{float(got.reshape(())):.6g}",
                                     want=f"{want:.6g}", batch=d.batch))
            return


def _rtol(derivation: LayerDerivation, draws: list, name: str, eps: float) -> float:
    """The tolerance (relative to the largest entry, as `close`) for gradient `name` computed
    at unit roundoff `eps`: ROUNDOFF_MARGIN times the change of the derivation's value when
    every input and every intermediate quantity (x̂, dx̂, softmax's p, ...) moves by a relative
    ±eps, as the code's own rounding moves them (measured: a cancellation such as batch norm's
    dx at N = 2, nearly 0 by ε / (σ² + ε), shows up), plus eps; at least RTOL."""
    worst = 0.0
    backend = NumpyBackend()
    for i, d in enumerate(draws):
        want = np.asarray(d.values[name], float)
        scale = float(np.max(np.abs(want), initial=0.0))
        if scale == 0:
            continue
        for trial in range(2):
            r = np.random.default_rng(1000 * i + trial)

            def moved(v):
                return np.asarray(v, float) * (1 + eps * r.choice((-1.0, 1.0), np.shape(v)))

            values = {k: d.values[k] for k in derivation.constants}  # epsilon: as read
            values |= {k: (moved(d.values[k]) if k not in ("t", "mask") else d.values[k])
                       for k in derivation.inputs}
            for eq in derivation.forward + derivation.backward:
                value = evaluate(eq.rhs, values, d.batch, backend)
                values[eq.name] = value if eq.name == name else moved(value)
            worst = max(worst, float(np.max(np.abs(values[name] - want))) / scale + eps)
    return max(RTOL, ROUNDOFF_MARGIN * worst)


# --------------------------------------------------------------------------- verdicts


def judge(derivation: LayerDerivation, draws: list, name: str, got: list, want: list,
          eps: float) -> ParamResult:
    """The verdict on gradient `name` received at every draw."""
    rtol = _rtol(derivation, draws, name, eps)
    # the shapes shown are those of the first draw where they differ, if any
    g0, w0 = next(((g, w) for g, w in zip(got, want) if g.shape != w.shape), (got[0], want[0]))
    shape, got_shape = tuple(w0.shape), tuple(g0.shape)
    figures = [errors(g, w) for g, w in zip(got, want)]
    abs_err = rel_err = None
    if all(f[0] is not None for f in figures) and all(g.shape == w.shape for g, w in zip(got, want)):
        abs_err, rel_err = max(f[0] for f in figures), max(f[1] for f in figures)
    if all(close(g, w, rtol) for g, w in zip(got, want)):
        return ParamResult(name, True, abs_err, rel_err, shape, got_shape)
    from .layer_diagnose import explain

    try:
        diagnosis = explain(derivation, draws, name, got, want, rtol)
    except Exception:  # noqa: BLE001  # a candidate that cannot be evaluated must not hide the verdict
        diagnosis = None
    if diagnosis is None:
        diagnosis = Text("layer.no_cause", name=name)
        mismatch = next(((g.shape, w.shape, d.batch) for g, w, d in zip(got, want, draws)
                         if g.shape != w.shape), None)
        if mismatch is not None:
            diagnosis = Text("layer.no_cause.shape", text=diagnosis, got=shape_text(mismatch[0]),
                             want=shape_text(mismatch[1]), batch=mismatch[2])
        if abs_err is not None:
            diagnosis = Text("layer.no_cause.figures", text=diagnosis, abs=f"{abs_err:.3g}",
                             rel=f"{rel_err:.3g}")
    worst = (worst_element(name, got, want, draws)
             if all(g.shape == w.shape for g, w in zip(got, want)) else None)
    if worst and "worst" not in diagnosis:
        diagnosis = Text("layer.with_worst", text=diagnosis, worst=worst)
    return ParamResult(name, False, abs_err, rel_err, shape, got_shape, diagnosis)
