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
from benchmarks.cases import CASES, Case

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
    result = _run_benchmarks("--case", "1-8-4-1", "--case", "784-128-10", "--only", "torch",
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
