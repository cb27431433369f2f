"""`check --formula`: every wrong formula ends in WRONG, exit 1, figures and a diagnosis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest


@pytest.mark.parametrize(
    "net,text,worst",
    [
        ("2-3-1:tanh,identity:mse", "dW2 = D2 @ G1.T", "dW2["),
        ("2-3-1:tanh,identity:mse", "dB1 = D1.sum(axis=1, keepdims=True) + 1", "dB1["),
        ("2-3-1:tanh,identity:mse:row", "dW1 = X.T @ D1 + 1", "dW1["),
    ],
)
def test_unexplained_wrong_formula_names_its_worst_element(cli, net, text, worst):
    status, out, err = cli("check", net, "--formula", text, "--json")
    assert status == 1, err
    entry = next(iter(json.loads(out)["params"].values()))
    assert entry["ok"] is False and entry["max_abs_err"] > 0
    assert "no simple cause found" in entry["diagnosis"]
    assert worst in entry["diagnosis"] and "expected" in entry["diagnosis"]


def test_worst_element_is_the_largest_error():
    import numpy as np
    from gradscribe.check.diagnose import Draw
    from gradscribe.check.judge import worst_element

    want = [np.zeros((2, 2)), np.zeros((2, 2))]
    got = [np.array([[0.0, 0.1], [0.0, 0.0]]), np.array([[0.0, 0.0], [-0.5, 0.0]])]
    draws = [Draw(3, {}, {}), Draw(5, {}, {})]
    assert worst_element("dW1", got, want, draws) == "dW1[1, 0]: got -0.5, expected 0 (N = 5)"


# ------------------------------------------------------------------------------ formula limits

SMALL = "2-2-1:tanh,identity:mse"


@pytest.mark.parametrize(
    "text,fragment",
    [
        # the cost bound holds for the branch where() does not select, too
        ("dW2 = where(D2 @ R1.T > 100, (((D2 @ R1.T)**8)**8)**8, D2 @ R1.T)", "degree"),
        ("dW2 = where(D2 @ R1.T < 100, D2 @ R1.T, ((((G1**8)**8)**8)**8).sum())", "degree"),
        ("dW2 = D2 @ R1.T + 0 * where(X > 0, ((X**8)**8)**2, 0).sum()", "degree"),
        ("dW2 = D2 @ R1.T * " + "*".join(["(D2 @ R1.T)"] * 33), "degree"),
        ("dW2 = D2 @ R1.T + 0 * exp(exp(exp(exp(exp(D2 @ R1.T)))))", "nested more than 4"),
    ],
)
def test_costly_formulas_are_refused_unrun(cli, text, fragment):
    start = time.monotonic()
    status, out, err = cli("check", SMALL, "--formula", text)
    assert status == 2 and out == ""
    assert "too costly" in err and fragment in err and len(err.strip().splitlines()) == 1
    assert time.monotonic() - start < 5


@pytest.mark.parametrize(
    "text",
    [
        "dW2 = where(log(0 * D2 @ R1.T) > 0, 1, D2 @ R1.T)",
        "dW2 = where(D2 @ R1.T > log(0 * D2 @ R1.T), D2 @ R1.T, 1)",
        "dW2 = D2 @ R1.T * where(0 * log(0 * D2 @ R1.T) > 1, 1, 1)",
        "dW2 = D2 @ R1.T - (D2 @ R1.T > log(0 * D2 @ R1.T)) + 1",
        "dW2 = D2 @ R1.T + maximum(log(0 * D2 @ R1.T), 0) * 0",
        "dW2 = D2 @ R1.T + 0 * log(0 * D2 @ R1.T)",
        "dW2 = D2 @ R1.T + (log(-ones_like(D2 @ R1.T)) > 0)",
    ],
)
def test_nan_and_infinite_comparisons_end_in_a_verdict(cli, text):
    status, out, err = cli("check", SMALL, "--formula", text, "--json")
    assert status in (0, 1), err
    data = json.loads(out)
    entry = data["params"]["dW2"]
    assert data["ok"] is (status == 0)
    if status == 1:
        assert entry["diagnosis"]


# ------------------------------------------------------------------------------ wide networks


def test_a_wide_network_is_checked_on_capped_widths_and_says_so(cli):
    status, out, err = cli("check", "784-100000-10:relu,softmax:cross_entropy", "--formula",
                           "dW2 = 2 * D2 @ R1.T")
    assert status == 1, err
    assert "off by a factor of 2" in out
    assert "checked on capped widths" in out and "784-100000-10" in out


def test_check_of_the_widest_networks_stays_within_a_memory_limit(tmp_path):
    """Under a 3 GiB address-space limit (the draws at full size would need ~80 GB)."""
    pytest.importorskip("resource")
    module = tmp_path / "grads.py"
    module.write_text("def grads(params, X, T):\n    return {k: 0 * v for k, v in params.items()}\n")
    code = (
        "import sys, resource\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, resource.RLIM_INFINITY))\n"
        "from gradscribe.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    for args in (["--formula", "dW1 = D1 @ X.T"], ["--python", f"{module}:grads", "--memory", "1024"]):
        run = subprocess.run([sys.executable, "-c", code, "check", "100000-100000-100000:tanh,identity:mse",
                              *args], check=False, capture_output=True, text=True, env=env, timeout=600)
        assert run.returncode in (0, 1), run.stderr[-2000:]
        assert "checked on capped widths" in run.stdout
