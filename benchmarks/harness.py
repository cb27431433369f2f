"""Gradient checks, interleaved timing and the performance table.

`check` compares every contender's loss and gradients with textbook NumPy in float64, which
is itself checked first against central differences along a random direction. `measure`
times the contenders round by round in one process: in each round every contender runs one
block of steps (the order rotates from round to round), and its time per step is divided by
the GEMM floor's in the same round. The table reports the median of those paired ratios and
their range over the rounds, so a neighbour's load on a shared machine slows both sides of a
ratio instead of one contender's median.

A regularized case (batch norm, dropout, weight decay) is checked and timed with the same
dropout masks for every contender; its floor is the GEMM floor plus one elementwise pass per
batch-norm layer forward and backward (see `contenders`), and its table is `table` with that
floor's title.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field

import numpy as np

from . import contenders
from .cases import Case, draw, draw_masks

#: Relative tolerance of a contender's gradient against the float64 reference (of the
#: largest element of that parameter's gradient), by dtype: a few thousand float roundings.
TOLERANCE = {np.dtype(np.float64): 1e-8, np.dtype(np.float32): 2e-3}


class GradientMismatch(AssertionError):
    """A contender's loss or gradient differs from the reference beyond the tolerance."""


@dataclass
class Result:
    """The timings of one case in one dtype."""

    case: Case
    dtype: np.dtype
    rounds: int
    times: dict[str, list[float]] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def ratios(self, name: str) -> np.ndarray:
        return np.array(self.times[name]) / np.array(self.times["floor"])


def reference(case: Case, params, X, T, masks=None, scales=None):
    """Loss and gradients from textbook NumPy in float64, checked by central differences.

    `masks`: a regularized case's dropout masks (default `draw_masks(case, X.dtype)`);
    `scales`: a dict to receive, for each gradient that is exactly 0 (a batch-norm layer's
    bias), the size of the sum whose rounding a contender may return instead.
    """
    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    X64, T64 = X.astype(np.float64), T.astype(np.float64)
    if masks is None:
        masks = draw_masks(case, X.dtype) if case.regularized else {}
    m64 = {k: np.asarray(v, dtype=np.float64) for k, v in masks.items()}

    def textbook(p, scales=None):
        if not case.regularized:
            return contenders.textbook(case, p, X64, T64)
        return contenders.textbook(case, p, X64, T64, m64, scales)

    value, grads = textbook(p64, scales)
    # A unit direction half along the gradient, half random: <v, g> is of the size of |g|,
    # and a step of 1e-6 crosses almost no relu kink.
    rng = np.random.default_rng(2)
    norm = np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
    noise = {k: rng.standard_normal(a.shape) for k, a in p64.items()}
    noise_norm = np.sqrt(sum(float(np.vdot(n, n)) for n in noise.values()))
    v = {k: (grads[k] / norm + noise[k] / noise_norm) / 2 for k in p64}
    h = 1e-6
    plus = textbook({k: p64[k] + h * v[k] for k in p64})[0]
    minus = textbook({k: p64[k] - h * v[k] for k in p64})[0]
    numeric = (plus - minus) / (2 * h)
    analytic = sum(float(np.vdot(v[k], grads[k])) for k in grads)
    # Rounding in the two losses (|L| eps / h) and the truncation error of the difference.
    tolerance = 1e-6 * norm + 1e-14 * abs(value) / h
    if abs(numeric - analytic) > tolerance:
        raise GradientMismatch(
            f"{case.inline}: textbook gradients <v, g> = {analytic!r} but central differences "
            f"give {numeric!r}"
        )
    return value, grads


def check(case: Case, built: list, params, X, T, masks=None) -> None:
    """Raise GradientMismatch naming the worst element unless every contender agrees.

    Each gradient is held to the tolerance relative to its largest element; a gradient that is
    exactly 0 in the reference (a batch-norm layer's bias) to the tolerance relative to the
    largest sum over the batch of |delta| it would be the sum of (its rounding).
    """
    scales: dict[str, float] = {}
    value, grads = reference(case, params, X, T, masks, scales)
    rtol = TOLERANCE[X.dtype]
    for contender in built:
        if contender.evaluate is None:
            continue
        got_value, got = contender.evaluate()
        if abs(got_value - value) > rtol * max(abs(value), 1e-12):
            raise GradientMismatch(f"{case.inline} {X.dtype} {contender.name}: loss {got_value!r}, expected {value!r}")
        for key, expected in grads.items():
            if key not in got or got[key].shape != expected.shape:
                shape = got[key].shape if key in got else None
                raise GradientMismatch(f"{contender.name}: d{key} has shape {shape}, expected {expected.shape}")
            err = np.abs(got[key] - expected)
            worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(err)), err.shape))
            scale = float(np.max(np.abs(expected)))
            if scale == 0.0:
                scale = scales.get(key, 0.0)
            if err[worst] > rtol * scale + 1e-30:
                raise GradientMismatch(
                    f"{case.inline} {X.dtype} {contender.name}: d{key}{list(worst)} = "
                    f"{float(got[key][worst])!r}, expected {float(expected[worst])!r} (largest |d{key}| {scale:.3g})"
                )


def measure(case: Case, dtype, names: list[str], rounds: int, block: float = 0.05, clock=time.perf_counter) -> Result:
    """Check the contenders, then time them interleaved for `rounds` rounds on `clock`.

    `time.process_time` (the CPU time of the process, all its threads) instead of the wall
    clock keeps the ratios steady on a shared machine, where a neighbour's load takes the
    core away in the middle of a block; with one thread per library it is the work done.
    """
    params, X, T = draw(case, dtype)
    masks = draw_masks(case, dtype) if case.regularized else {}
    result = Result(case, np.dtype(dtype), rounds)
    built = []
    for name in names:
        contender = contenders.build(name, case, params, X, T, masks)
        if isinstance(contender, contenders.Missing):
            result.missing[name] = contender.reason
        else:
            built.append(contender)
    check(case, built, params, X, T, masks)

    for contender in built:  # warm up: caches, JIT compilation, thread pools
        for _ in range(3):
            contender.step()
    floor = next(c for c in built if c.name == "floor")
    start = time.perf_counter()
    floor.step()
    reps = max(1, int(block / max(time.perf_counter() - start, 1e-7)))

    result.times = {c.name: [] for c in built}
    gc.collect()
    gc.disable()
    try:
        for r in range(rounds):
            order = built[r % len(built):] + built[: r % len(built)]
            for contender in order:
                step = contender.step
                start = clock()
                for _ in range(reps):
                    step()
                result.times[contender.name].append((clock() - start) / reps)
    finally:
        gc.enable()
    return result


def _seconds(t: float) -> str:
    if t < 1e-3:
        return f"{t * 1e6:.1f} µs"
    if t < 1:
        return f"{t * 1e3:.2f} ms"
    return f"{t:.2f} s"


#: The floor's title in the regularized cases' table.
REGULARIZED_FLOOR = "GEMM + BN floor"


def table(results: list[Result], names: list[str], floor: str = "GEMM floor") -> str:
    """The Markdown table: the floor's median time, each contender's median paired ratio."""
    others = [n for n in names if n != "floor"]
    head = ["network, batch", "dtype", floor] + [contenders.TITLES[n] for n in others] + ["target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for res in results:
        cells = [res.case.label, res.dtype.name, _seconds(float(np.median(res.times["floor"])))]
        for name in others:
            if name in res.missing:
                cells.append("not installed")
                continue
            ratios = res.ratios(name)
            cells.append(f"{np.median(ratios):.2f}× ({ratios.min():.2f}–{ratios.max():.2f})")
        cells.append(f"≤ {res.case.target:.2f}×")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: The textbook-style module's target against hand-written textbook NumPy (issue 22).
TEXTBOOK_TARGET = 1.10


def textbook_table(results: list[Result]) -> str:
    """The textbook style against hand-written textbook NumPy, paired round by round: on NumPy
    arrays, and (for reference) the same module on PyTorch tensors."""
    names = [n for n in ("textbook style", "textbook style, torch")
             if any(n in r.times or n in r.missing for r in results)]
    head = ["network, batch", "dtype", "textbook NumPy"] + [contenders.TITLES[n] for n in names] + ["target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for res in results:
        if "textbook" not in res.times:
            continue
        base = np.array(res.times["textbook"])
        cells = [res.case.label, res.dtype.name, _seconds(float(np.median(base)))]
        for name in names:
            if name not in res.times:
                cells.append("not installed")
                continue
            ratios = np.array(res.times[name]) / base
            cells.append(f"{np.median(ratios):.2f}× ({ratios.min():.2f}–{ratios.max():.2f})")
        cells.append(f"≤ {TEXTBOOK_TARGET:.2f}× (NumPy)")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
