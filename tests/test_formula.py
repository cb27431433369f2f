"""`check --formula`: the whitelist, hostile input rejected unrun, right and wrong formulas judged."""

from __future__ import annotations

import json

import pytest
from gradscribe.check import formula
from gradscribe.check.formula import FormulaError, parse
from gradscribe.check.judge import check_formula
from gradscribe.derive.spec import load
from hypothesis import given, settings
from hypothesis import strategies as st

from gradscribe.cli import main

COLUMN = "2-3-3-2:tanh,relu,sigmoid:mse"
ROW = "3-4-3:leaky_relu@0.2,softmax:cross_entropy:row"


def _run(capsys, *args):
    status = main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


# ------------------------------------------------------------------------------ the whitelist

HOSTILE = [
    "dW1 = __import__('os').system('touch {sentinel}')",
    "__import__('os').system('touch {sentinel}')",
    "dW1 = open('{sentinel}', 'w')",
    "dW1 = eval(\"open('{sentinel}', 'w')\")",
    "dW1 = X.__class__.__bases__[0].__subclasses__()",
    "dW1 = np.exp.__globals__",
    "dW1 = getattr(X, 'T')",
    "dW1 = np.linalg.inv(X)",
    "dW1 = (lambda: open('{sentinel}', 'w'))()",
    "dW1 = [open('{sentinel}', 'w') for _ in X]",
    "dW1 = {{k: 1 for k in X}}",
    "dW1 = X if open('{sentinel}', 'w') else X",
    "dW1 = X ** 10**10",
    "dW1 = 9 ** 9 ** 9",
    "dW1 = X ** 1000",
    "dW1 = X ** 0.25",  # square roots (** 0.5) are part of the language (batch norm)
    "dW1 = 1e999 * X",
    "dW1 = 100000000000000000000000 * X",
    "dW1 = " + "(" * 500 + "X" + ")" * 500,
    "dW1 = " + "-" * 300 + "X",
    "dW1 = " + " + ".join(["X"] * 400),
    "dW1 = X; import os",
    "import os",
    "dW1 = f'{{X}}'",
    "dW1 = X[0]",
    "dW1 = X.sum(axis=__import__('os'))",
    "dW1 = X.sum(axis=5)",
    "dW1 = X.sum(keepdims=1)",
    "dW1 = X.reshape(-1)",
    "dW1 = X.dot(X)",
    "dW1 = _X",
    "dW1 = (X := 1)",
    "dW1 = X and X",
    "dW1 = X // 2",
    "dW1 = X << 2",
    "dW1 = ~X",
    "dW1 = 'text'",
    "dW1 = None",
    "dW1 = exp(X, X)",
    "dW1 = exp(x=X)",
    "dW1 = sigmoid",
    "dW1 = softmax_prime(G2)",
    "W1 = D1 @ X.T",
    "dW1, dB1 = D1, D1",
    "dW1 == D1",
    "",
]


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_formulas_exit_2_and_run_nothing(template, tmp_path, capsys, monkeypatch):
    sentinel = tmp_path / "sentinel"
    text = template.format(sentinel=sentinel)

    def never(*args, **kwargs):
        raise AssertionError("a rejected formula was evaluated")

    monkeypatch.setattr(formula, "evaluate", never)
    status, out, err = _run(capsys, "check", COLUMN, "--formula", text)
    assert status == 2, err
    assert err.startswith("gradscribe: error: --formula:") and len(err.strip().splitlines()) == 1
    assert out == ""
    assert not sentinel.exists()


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("dW1 = __import__('os').system('x')", "only whitelisted functions may be called"),
        ("dW1 = X.__class__", "'X.__class__': attribute '.__class__' is not allowed"),
        ("dW1 = (lambda: 1)()", "'(lambda: 1)()'"),
        ("dW1 = X ** 10**10", "'10**10': exponent must be an integer constant"),
        ("dW1 = [x for x in X]", "a comprehension is not part of the formula language"),
        ("dW1 = Q2", "'Q2': unknown symbol"),
        ("dW1 = W7", "the network has layers 1..3, so no W7"),
        ("dW4 = D4 @ R3.T", "left-hand side 'dW4': the network has layers 1..3"),
        ("dW1 = np.foo(X)", "unknown function 'foo'"),
        ("dW1 = " + "(" * 500 + "X" + ")" * 500, "characters long"),
        ("dW1 = " + "(" * 60 + "X" + ")" * 60, "nested more than 40 deep"),
    ],
)
def test_rejections_name_the_offending_piece(text, fragment):
    with pytest.raises(FormulaError) as info:
        parse(text, load(COLUMN))
    assert fragment in str(info.value)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="dWBDXTNPGR0123 =+-*/@().,_[]:'\"lambdaimportsexp", max_size=60))
def test_any_text_either_parses_or_raises_formula_error(text):
    try:
        parse(text, load(COLUMN))
    except FormulaError:
        pass


def test_the_language_parses_every_listed_construct():
    net = load(COLUMN)
    text = ("D1 = np.where(G1 > 0, 1, 0) * maximum(ones_like(G1), 0) * exp(log(tanh(G1))) "
            "+ (W2.T @ D2).sum(axis=1, keepdims=True) / N + sum(D1, axis=1, keepdims=True).mean() "
            "- sigmoid_prime(R0.T @ X) ** 2 * 0")
    parsed = parse(text, net)
    assert parsed.lhs == "D1" and parsed.layer == 1


# ------------------------------------------------------------------------------ judging

RIGHT = [
    (COLUMN, "dW3 = D3 @ R2.T"),
    (COLUMN, "dB3 = D3.sum(axis=1, keepdims=True)"),
    (COLUMN, "dB2 = np.sum(D2, axis=1, keepdims=True)"),
    (COLUMN, "D3 = 2 * (P - T) * P * (1 - P) / (N * 2)"),
    (COLUMN, "D3 = (P - T) * sigmoid_prime(G3) / N"),
    (COLUMN, "D2 = (W3.T @ D3) * (G2 > 0)"),
    (COLUMN, "D2 = (W3.T @ D3) * relu_prime(G2)"),
    (COLUMN, "D1 = (W2.T @ D2) * (1 - R1 ** 2)"),
    (COLUMN, "D1 = (W2.T @ D2) * tanh_prime(G1)"),
    (COLUMN, "dW1 = D1 @ X.T"),
    (COLUMN, "dW1 = D1 @ R0.T"),
    (ROW, "D2 = (P - T) / N"),
    (ROW, "D2 = (softmax(G2) - T) / N"),
    (ROW, "dW2 = R1.T @ D2"),
    (ROW, "dB2 = D2.sum(axis=0)"),
    (ROW, "D1 = (D2 @ W2.T) * where(G1 > 0, 1, 0.2)"),
    (ROW, "D1 = (D2 @ W2.T) * leaky_relu_prime(G1)"),
    (ROW, "dW1 = X.T @ D1"),
]


@pytest.mark.parametrize("net,text", RIGHT)
def test_right_formulas_are_judged_right_exactly(net, text):
    report = check_formula(net, text)
    assert report.ok, repr(report)
    assert any("exactly equal" in n for n in report.notes)


WRONG = [
    (COLUMN, "dW3 = (D3 @ R2.T).T", "dW3 is transposed (layer 3)"),
    (COLUMN, "dW2 = (D2 @ R1.T).T", "dW2 is transposed (layer 2): it holds the values of dW2.T"),
    (COLUMN, "dB3 = D3.sum(axis=1)", "right values in another shape: (2,) instead of (2, 1)"),
    (COLUMN, "dB3 = D3.sum(axis=0, keepdims=True)", "summed over the units of layer 3"),
    (COLUMN, "dB3 = D3.mean(axis=1, keepdims=True)", "factor of 1/N"),
    (COLUMN, "dB2 = D2.sum()", "collapsed to a scalar"),
    (COLUMN, "dB2 = D2", "not reduced over the batch"),
    (COLUMN, "D3 = 2 * (P - T) * P * (1 - P) / N", "factor of 2 (twice the right value) or n_L = 2"),
    (COLUMN, "D3 = (P - T) * P * (1 - P)", "factor of N (summed over the batch"),
    (COLUMN, "D3 = (T - P) * P * (1 - P) / N", "factor of -1"),
    (COLUMN, "D3 = (P - T) / N", "leaves out the activation derivative sigmoid'(G3) of layer 3"),
    (COLUMN, "D3 = (P - T) * sigmoid_prime(P) / N", "computes layer 3's sigmoid'(·) at R3 instead of G3"),
    (COLUMN, "D1 = W2.T @ D2", "leaves out the activation derivative tanh'(G1) of layer 1"),
    (COLUMN, "D1 = (W2.T @ D2) * sigmoid_prime(G1)", "uses sigmoid's derivative where layer 1's tanh' belongs"),
    (COLUMN, "D1 = (W2.T @ D2) * R1 * (1 - R1)", "uses sigmoid's derivative where layer 1's tanh' belongs"),
    (COLUMN, "D1 = (W2.T @ D2) * (1 - G1 ** 2)", "uses G1 where layer 1's tanh' formula needs the output R1"),
    (COLUMN, "D1 = (W2.T @ D2) * exp(G1)", "no simple cause found: max abs error"),
    (COLUMN, "dW1 = D1 @ X.T * 0.3333333333333333", "factor of 1/3"),
    (ROW, "D2 = (P - T) * sigmoid_prime(G2) / N", "no simple cause found"),
    (ROW, "dW2 = D2.T @ R1", "dW2 is transposed (layer 2): shape (3, 4) where (4, 3) belongs"),
    (ROW, "dB2 = D2.sum(axis=0, keepdims=True)", "right values in another shape: (1, 3) instead of (3,)"),
    (ROW, "dB1 = D1.sum(axis=1)", "summed over the units of layer 1"),
    (ROW, "D1 = D2 @ W2.T", "leaves out the activation derivative leaky_relu'(G1) of layer 1"),
    (ROW, "D1 = (D2 @ W2.T) * relu_prime(G1)", "uses relu's derivative where layer 1's leaky_relu' belongs"),
]


@pytest.mark.parametrize("net,text,fragment", WRONG)
def test_wrong_formulas_get_their_diagnosis(net, text, fragment):
    report = check_formula(net, text)
    assert not report.ok
    (result,) = report.params.values()
    assert fragment in result.diagnosis, result.diagnosis


def test_a_formula_right_only_to_float_precision_is_not_exact():
    report = check_formula("2-2:identity:half_sse", "D1 = (P - T) * 1.0000000000001")
    assert not report.ok
    assert "agrees numerically but not exactly" in report.params["D1"].diagnosis


def test_sigmoid_prime_inside_a_fused_loss_is_named():
    report = check_formula("2-3-2:relu,sigmoid:binary_cross_entropy", "D2 = (P - T) * sigmoid_prime(G2) / (N * 2)")
    assert "which the fused sigmoid + binary_cross_entropy delta (P - T) already accounts for" in (
        report.params["D2"].diagnosis)


# ------------------------------------------------------------------------------ command line


def test_cli_right_formula_exits_0(capsys):
    status, out, _ = _run(capsys, "check", COLUMN, "--formula", "dW2 = D2 @ R1.T")
    assert status == 0 and "all right" in out


def test_cli_nonconforming_shapes_are_a_wrong_formula(capsys):
    status, out, err = _run(capsys, "check", COLUMN, "--formula", "dW1 = D1 @ X", "--json")
    assert status == 1, err
    data = json.loads(out)
    entry = data["params"]["dW1"]
    assert data["ok"] is False and entry["ok"] is False
    assert entry["expected_shape"] == [3, 2] and entry["got_shape"] is None
    assert "'D1 @ X' multiplies (3, 3) by (2, 3)" in entry["diagnosis"]


def test_cli_formula_json_names_the_lhs(capsys):
    status, out, _ = _run(capsys, "check", ROW, "--formula", "dB1 = D1.sum(axis=1)", "--json")
    assert status == 1
    data = json.loads(out)
    assert list(data["params"]) == ["dB1"]
    assert data["params"]["dB1"]["got_shape"] == [3]


def test_cli_unknown_symbol_exits_2(capsys):
    status, _, err = _run(capsys, "check", COLUMN, "--formula", "dW2 = D9 @ R1.T")
    assert status == 2 and "D9" in err
