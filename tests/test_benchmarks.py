"""The benchmark harness (benchmarks/, outside the package): checks before it times, paired ratios."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import contenders, harness
from benchmarks.cases import CASES, REGULARIZED_CASES, Case, draw_masks

SMALL = Case("1-8-4-1:relu,relu,identity:mse", 16, 2.0)
CLASSIFIER = Case("5-7-3:relu,softmax:cross_entropy:row", 6, 1.1)


# PyTorch and JAX are timed in a process of their own (tests below): their threads and their
# libraries should not be loaded in this one, where the checker's tests fork their worker and the
# kernel tests read the floating-point status flags.
OWN_PROCESS = {"jax", "torch", "textbook style, torch"}
IN_PROCESS = [n for n in contenders.NAMES if n not in OWN_PROCESS]


def _run_benchmarks(*args):
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", "--rounds", "1", "--dtype", "float64", *args],
        cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=600, check=False,
    )


@pytest.mark.parametrize("case", [SMALL, CLASSIFIER], ids=["column-mse", "row-ce"])
def test_every_contender_agrees_with_the_checked_reference(case):
    result = harness.measure(case, np.float64, IN_PROCESS, rounds=2, block=0.002)
    timed = set(result.times) | set(result.missing)
    assert timed == set(IN_PROCESS)
    assert {"floor", "kernel, fresh", "textbook", "textbook style"} <= set(result.times)
    for name in result.times:
        assert len(result.times[name]) == 2 and all(t > 0 for t in result.times[name])
        assert result.ratios(name).shape == (2,)
    assert np.all(result.ratios("floor") == 1.0)


def test_jax_is_checked_and_timed_in_its_own_process():
    if importlib.util.find_spec("jax") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("jax is missing under CI=true: pyproject's test extra must install it")
        pytest.skip("jax is not installed")
    result = _run_benchmarks("--case", "1-8-4-1", "--only", "jax")
    assert result.returncode == 0, result.stderr[-2000:]
    row = next(line for line in result.stdout.splitlines() if line.startswith("| 1-8-4-1, 32 | float64"))
    assert "×" in row.split("|")[4] and "not installed" not in row


def test_a_wrong_gradient_is_caught_before_timing(monkeypatch):
    original = contenders.textbook

    def slipped(case, params, X, T):
        value, grads = original(case, params, X, T)
        grads["B1"] = grads["B1"] * 2  # a slip: the bias gradient doubled
        return value, grads

    params, X, T = harness.draw(SMALL, np.float64)
    built = [contenders.build("kernel, fresh", SMALL, params, X, T)]
    harness.check(SMALL, built, params, X, T)  # the real reference: no complaint
    monkeypatch.setattr(contenders, "textbook", slipped)
    with pytest.raises(harness.GradientMismatch, match="central differences"):
        harness.check(SMALL, built, params, X, T)


def test_a_missing_library_is_reported_not_raised(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    params, X, T = harness.draw(SMALL, np.float64)
    built = contenders.build("torch", SMALL, params, X, T)
    assert isinstance(built, contenders.Missing) and "not installed" in built.reason
    res = harness.Result(SMALL, np.dtype(np.float64), 1, {"floor": [1.0]}, {"torch": built.reason})
    assert "not installed" in harness.table([res], ["floor", "torch"])


def test_the_torch_contenders_agree_and_are_timed_in_their_own_process():
    """Says "skipped" where PyTorch is missing (a failure under CI=true, whose test extra
    installs it), where test_every_contender_agrees_with_the_checked_reference passes without it."""
    if importlib.util.find_spec("torch") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("torch is missing under CI=true: pyproject's test extra must install it")
        pytest.skip("torch is not installed: its contenders cannot be checked or timed")
    # the harness checks each contender's gradients against the reference before it times them
    result = _run_benchmarks("--suite", "plain", "--case", "1-8-4-1", "--case", "784-128-10", "--only", "torch",
                             "--only", "textbook style, torch")
    assert result.returncode == 0, result.stderr[-2000:]
    header = next(line for line in result.stdout.splitlines() if line.startswith("| network"))
    columns = [c.strip() for c in header.split("|")]
    for case in ("1-8-4-1, 32", "784-128-10, 64"):
        row = [c.strip() for c in next(
            line for line in result.stdout.splitlines() if line.startswith(f"| {case} | float64")).split("|")]
        for title in (contenders.TITLES["torch"], contenders.TITLES["textbook style, torch"]):
            cell = row[columns.index(title)]
            assert "×" in cell and "not installed" not in cell, (case, title, cell)


def test_the_cases_are_the_issues_four_shapes():
    assert [(c.sizes, c.batch, c.target) for c in CASES] == [
        ([1, 8, 4, 1], 32, 2.0),
        ([784, 128, 10], 64, 1.06),
        ([784, 256, 128, 10], 256, 1.04),
        ([1024, 1024, 1024, 10], 2048, 1.02),
    ]


def test_a_wrong_contender_is_named_with_its_worst_element():
    params, X, T = harness.draw(CLASSIFIER, np.float64)

    def evaluate():
        value, grads = contenders.textbook(CLASSIFIER, params, X, T)
        grads["W2"] = grads["W2"].copy()
        grads["W2"][3, 1] += 1e-3 * np.max(np.abs(grads["W2"]))
        return value, grads

    wrong = contenders.Contender("sloppy", lambda: None, evaluate)
    with pytest.raises(harness.GradientMismatch, match=r"sloppy: dW2\[3, 1\]"):
        harness.check(CLASSIFIER, [wrong], params, X, T)


def test_the_textbook_table_pairs_the_textbook_style_with_textbook_numpy_round_by_round():
    res = harness.Result(SMALL, np.dtype(np.float64), 3,
                         {"floor": [1.0, 1.0, 1.0], "textbook": [2.0, 4.0, 3.0], "textbook style": [2.2, 4.0, 6.0]},
                         {"textbook style, torch": "PyTorch is not installed"})
    text = harness.textbook_table([res])
    assert "| 1-8-4-1, 16 | float64 | 3.00 s | 1.10× (1.00–2.00) | not installed | ≤ 1.10× (NumPy) |" in text


# ---------------------------------------------------------------- regularized cases (issue 20)


TINY_REG = Case("5-7-6-3:bn+relu+dropout@0.5,bn+relu+dropout@0.5,softmax:cross_entropy+wd@1e-4:row", 8, 1.15)
TINY_PLAIN = Case("5-7-6-3:relu,relu,softmax:cross_entropy:row", 8, 1.15)
REG_IN_PROCESS = [n for n in contenders.REGULARIZED_NAMES if n not in OWN_PROCESS]


def test_the_regularized_cases_are_issue_20s():
    assert [(c.sizes, c.batch) for c in REGULARIZED_CASES] == [([784, 128, 10], 64), ([784, 256, 128, 10], 256)]
    for case in REGULARIZED_CASES:
        assert case.layout == "row" and case.loss == "cross_entropy" and case.weight_decay == 1e-4
        assert case.batch_norm == [True] * (case.depth - 1) and case.dropout == [0.5] * (case.depth - 1)
        assert case.regularized and case.label.endswith(f"bn+dropout+wd, {case.batch}")
    assert not any(c.regularized for c in CASES)
    # the masks: 0/1, shaped like the hidden layers' outputs, the same on every call
    masks = draw_masks(TINY_REG, np.float32)
    assert sorted(masks) == ["M1", "M2"] and masks["M1"].shape == (8, 7) and masks["M2"].shape == (8, 6)
    assert masks["M1"].dtype == np.float32 and set(np.unique(masks["M1"])) == {0.0, 1.0}
    assert np.array_equal(masks["M2"], draw_masks(TINY_REG, np.float32)["M2"])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_regularized_contender_agrees_with_the_checked_reference(dtype):
    result = harness.measure(TINY_REG, dtype, REG_IN_PROCESS, rounds=1, block=0.002)
    assert set(result.times) == set(REG_IN_PROCESS) and not result.missing
    for name in result.times:
        assert len(result.times[name]) == 1 and result.times[name][0] > 0


def _reference(case, params, X, T, masks):
    return harness.reference(case, params, X, T, masks)


def test_the_reference_holds_the_penalty_the_masks_and_a_zero_bias_gradient():
    params, X, T = harness.draw(TINY_REG, np.float64)
    masks = draw_masks(TINY_REG, np.float64)
    value, grads = _reference(TINY_REG, params, X, T, masks)
    no_wd = Case(TINY_REG.inline.replace("+wd@1e-4", ""), 8, 1.15)
    bare, bare_grads = _reference(no_wd, params, X, T, masks)
    # (lambda/2) sum ||W||^2 on the loss, lambda W on each dW, nothing on the rest
    penalty = 0.5e-4 * sum(float(np.sum(params[f"W{l}"] ** 2)) for l in (1, 2, 3))
    assert value - bare == pytest.approx(penalty, rel=1e-9)
    for key in params:
        extra = 1e-4 * params[key] if key.startswith("W") else 0.0
        assert np.allclose(grads[key] - bare_grads[key], extra, rtol=1e-9, atol=1e-15), key
    # a batch-norm layer's bias gradient is exactly 0; the output layer's is not
    assert np.all(grads["B1"] == 0) and np.all(grads["B2"] == 0) and np.all(grads["B3"] != 0)
    assert np.all(grads["gamma1"] != 0) and np.all(grads["beta2"] != 0)
    # a dropped unit passes no gradient: a whole column of layer 2 masked out -> its gamma's 0
    masked = {k: v.copy() for k, v in masks.items()}
    masked["M2"][:, 4] = 0
    assert _reference(TINY_REG, params, X, T, masked)[1]["gamma2"][4] == 0
    # inverted dropout: keeping every unit doubles R1 and R2 (p = 0.5), as W2, W3 doubled with no dropout would
    ones = {k: np.ones_like(v) for k, v in masks.items()}
    doubled = dict(params, W2=2 * params["W2"], W3=2 * params["W3"])
    no_drop = Case("5-7-6-3:bn+relu,bn+relu,softmax:cross_entropy:row", 8, 1.15)
    data = _reference(TINY_REG, params, X, T, ones)[0] - penalty
    assert data == pytest.approx(_reference(no_drop, doubled, X, T, {})[0], rel=1e-12)


@pytest.mark.parametrize("slip", ["no mask scaling", "no penalty", "penalty left out of dW"])
def test_a_reference_slip_on_a_regularized_case_is_caught(monkeypatch, slip):
    original = contenders.textbook_regularized

    def slipped(case, params, X, T, masks, scales=None):
        if slip == "no mask scaling":  # A * M instead of A * M / (1 - p)
            return original(case, params, X, T, {k: v * 0.5 for k, v in masks.items()}, scales)
        if slip == "no penalty":
            return original(Case(case.inline.replace("+wd@1e-4", ""), case.batch, 1.0), params, X, T, masks, scales)
        value, grads = original(case, params, X, T, masks, scales)
        return value, {k: g - 1e-4 * params[k] if k.startswith("W") else g for k, g in grads.items()}

    params, X, T = harness.draw(TINY_REG, np.float64)
    built = [contenders.build("kernel", TINY_REG, params, X, T)]
    harness.check(TINY_REG, built, params, X, T)  # the real reference: no complaint
    monkeypatch.setattr(contenders, "textbook_regularized", slipped)
    match = "central differences" if slip == "penalty left out of dW" else "kernel: (loss|d)"
    with pytest.raises(harness.GradientMismatch, match=match):
        harness.check(TINY_REG, built, params, X, T)


def test_a_zero_bias_gradient_is_held_to_the_rounding_of_its_sum():
    params, X, T = harness.draw(TINY_REG, np.float32)
    masks = draw_masks(TINY_REG, np.float32)
    value, grads = _reference(TINY_REG, params, X, T, masks)

    def contender(dB1):
        def evaluate():
            return value, dict(grads, B1=np.full(7, dB1))
        return contenders.Contender("zero?", lambda: None, evaluate)

    # float32 rounding of a sum over the batch is tolerated, a real gradient is not
    harness.check(TINY_REG, [contender(1e-9)], params, X, T, masks)
    with pytest.raises(harness.GradientMismatch, match=r"zero\?: dB1\[0\]"):
        harness.check(TINY_REG, [contender(1e-2)], params, X, T, masks)


class _CountingNumPy:
    """NumPy, recording the shapes of every np.multiply call."""

    def __init__(self):
        self.multiplies = []

    def __getattr__(self, name):
        return getattr(np, name)

    def multiply(self, a, b, **kw):
        self.multiplies.append((np.shape(a), np.shape(b), np.shape(kw.get("out"))))
        return np.multiply(a, b, **kw)


def test_the_floor_of_a_batch_norm_case_adds_one_pass_per_layer_forward_and_backward(monkeypatch):
    counting = _CountingNumPy()
    monkeypatch.setattr(contenders, "np", counting)
    for case, expected in ((TINY_PLAIN, []),
                           (TINY_REG, [((8, 7), (7,), (8, 7)), ((8, 6), (6,), (8, 6)),     # forward
                                       ((8, 6), (6,), (8, 6)), ((8, 7), (7,), (8, 7))])):  # backward
        params, X, T = harness.draw(case, np.float64)
        floor = contenders.build("floor", case, params, X, T)
        counting.multiplies.clear()
        floor.step()
        assert counting.multiplies == expected, case.inline


def test_the_regularized_table_names_its_floor():
    res = harness.Result(TINY_REG, np.dtype(np.float64), 2, {"floor": [1.0, 2.0], "kernel": [1.1, 2.4]}, {})
    text = harness.table([res], ["floor", "kernel"], floor=harness.REGULARIZED_FLOOR)
    assert text.splitlines()[0] == "| network, batch | dtype | GEMM + BN floor | generated kernel | target |"
    assert "| 5-7-6-3 bn+dropout+wd, 8 | float64 | 1.50 s | 1.15× (1.10–1.20) | ≤ 1.15× |" in text


def test_pytorch_and_jax_agree_on_a_regularized_case_in_their_own_process():
    missing = [m for m in ("torch", "jax") if importlib.util.find_spec(m) is None]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} missing under CI=true: pyproject's test extra must install them")
        pytest.skip(f"{missing} not installed")
    # the harness checks each contender's loss and gradients against the reference before timing
    result = _run_benchmarks("--suite", "regularized", "--case", "784-128-10:bn", "--only", "torch", "--only", "jax")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    header = [c.strip() for c in next(line for line in lines if line.startswith("| network")).split("|")]
    assert "GEMM + BN floor" in header
    row = [c.strip() for c in next(line for line in lines if line.startswith("| 784-128-10 bn+dropout+wd, 64 | float64")).split("|")]
    for title in (contenders.TITLES["torch"], contenders.TITLES["jax"]):
        assert "×" in row[header.index(title)], (title, row)
