"""The worked example: the spec's [example] numbers (or seeded ones) evaluated through every equation.

Seed 004's figures are the blog post's own (its forward values, its dW2) and the true bias
gradients the post gets wrong; every other network's numbers are checked against the
generated NumPy kernel, which is printed from the same derivation by a different route.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from gradscribe.codegen.kernel import render_network
from gradscribe.codegen.writeup import decimal, exact_decimal, render_writeup
from gradscribe.derive import spec
from gradscribe.derive.chain import derive
from gradscribe.derive.example import example_inputs, worked_example

DATA = Path(__file__).parent / "data"
SEED004 = DATA / "seed004.toml"


def seed004_text(example: str) -> str:
    """Seed 004's network with another [example] table."""
    head = SEED004.read_text().split("[example]")[0]
    return head + "[example]\n" + example


def test_seed004_shows_the_posts_numbers_and_the_true_bias_gradients():
    for fmt in ("tex", "md"):
        text = render_writeup(derive(spec.load(str(SEED004))), fmt)
        example = text[text.index("Worked example"):]
        # X, given exactly as written.
        assert r"X = \begin{pmatrix} 1 \\ 2 \\ 3 \end{pmatrix}" in example
        # The post's forward values: R1 and R2 (= P).
        assert r"&= \begin{pmatrix} 0.93702664 \\ 0.96442881 \end{pmatrix} \end{aligned} \tag{R1}" in example
        assert r"&= \begin{pmatrix} 0.86103399 \\ 0.75879129 \end{pmatrix} \end{aligned} \tag{R2}" in example
        # Its dW2 (right in the post) and the true bias gradients (wrong in the post).
        assert (
            r"\begin{pmatrix} 0.04047892 & 0.04166268 \\ 0.11298352 & 0.11628758 \end{pmatrix}"
            r" \end{aligned} \tag{dW2}" in example
        )
        assert r"\begin{pmatrix} 0.04319933 \\ 0.12057664 \end{pmatrix} \end{aligned} \tag{dB2}" in example
        assert r"\begin{pmatrix} 0.00747633 \\ 0.00174744 \end{pmatrix} \end{aligned} \tag{dB1}" in example
        # L = (1 / (N n_L)) * ((0.86103399 - 0.5)^2 + (0.75879129 - 0.1)^2) with N n_L = 2.
        assert "= 0.28217575" in example and r"\tag{L}" in example
        # sigma'(G2) = R2 (1 - R2), shown next to delta_2.
        assert r"\sigma'\left(G_{2}\right) = \begin{pmatrix} 0.11965446 \\ 0.18302707 \end{pmatrix}" in example


def test_every_equation_is_evaluated_under_its_own_tag():
    text = render_writeup(derive(spec.load(str(SEED004))), "md")
    example = text[text.index("## Worked example"):]
    for tag in ["G1", "R1", "G2", "R2", "P", "L", "D2", "dW2", "dB2", "D1", "dW1", "dB1"]:
        assert example.count(f"\\tag{{{tag}}}") == 1, tag


def test_no_example_section_without_a_table_or_the_flag():
    net = spec.default_network()
    assert "Worked example" not in render_writeup(derive(net), "tex")
    assert "Worked example" in render_writeup(derive(net), "tex", example=True)


def _module(net):
    path = Path(__import__("tempfile").mkdtemp()) / f"k_{net.digest()[:12]}.py"
    path.write_text(render_network(net), encoding="utf-8")
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def _array(matrix, name, net):
    values = np.array(matrix.tolist(), dtype=float)
    if name.startswith(("B", "dB")) and net.layout == "row":
        return values.reshape(-1)
    return values


@pytest.mark.parametrize(
    "net_text",
    [
        "1-8-4-1:relu,relu,identity:mse",
        "3-4-2:leaky_relu@0.2,softmax:cross_entropy:row",
        "2-3-3-1:elu,silu,sigmoid:binary_cross_entropy",
        "3-4-2:tanh,softplus:half_sse:row",
        "2-3-2:step,sigmoid:binary_cross_entropy:row",
        "4-3-3:sigmoid,softmax:cross_entropy",
    ],
)
def test_seeded_example_matches_the_generated_kernel(net_text):
    net = spec.load(net_text)
    worked = worked_example(derive(net))
    inputs, seeded = example_inputs(net)
    assert seeded and worked.batch == 2
    params = {name: _array(m, name, net) for name, m in inputs.items() if name not in ("X", "T")}
    X, T = _array(inputs["X"], "X", net), _array(inputs["T"], "T", net)
    kernel = _module(net)
    loss, grads = kernel.loss_and_grads(params, X, T)
    P, _ = kernel.forward(params, X)
    values = {v.name: _array(v.matrix, v.name, net) for v in worked.forward + worked.backward}
    np.testing.assert_allclose(values["P"], np.asarray(P), rtol=1e-12, atol=1e-14)
    assert float(worked.loss) == pytest.approx(loss, rel=1e-12, abs=1e-14)
    for key, grad in grads.items():
        np.testing.assert_allclose(values[f"d{key}"], grad, rtol=1e-11, atol=1e-13, err_msg=key)


def test_seeded_values_are_small_deterministic_and_fit_the_loss():
    net = spec.load("2-3-3:tanh,softmax:cross_entropy")
    first, _ = example_inputs(net)
    again, _ = example_inputs(spec.load("2-3-3:tanh,softmax:cross_entropy"))
    assert first == again
    T = first["T"]
    assert [sum(T[:, j]) for j in range(T.cols)] == [1, 1]  # one-hot columns
    assert all(v in (0, 1) for v in T)
    W = first["W1"]
    assert all(abs(v) < 1 and (10 * v).is_integer for v in W)
    bce, _ = example_inputs(spec.load("2-2:sigmoid:binary_cross_entropy:row"))
    assert all(v in (0, 1) for v in bce["T"]) and bce["B1"].shape == (1, 2)


def test_row_layout_example_takes_a_flat_bias(tmp_path):
    text = """\
name = "tiny"
layout = "row"
inputs = 2
loss = "half_sse"

[[layer]]
units = 1
activation = "identity"

[example]
X = [[1, 2], [3, -4]]
T = [[0.5], [0]]
W1 = [[0.25], [-0.5]]
B1 = [0.125]
"""
    net = spec.parse_toml(text)
    worked = worked_example(derive(net))
    values = {v.name: v.matrix for v in worked.forward + worked.backward}
    # G = X W + 1 B: [1*0.25 - 2*0.5 + 0.125, 3*0.25 + 4*0.5 + 0.125] = [-0.625, 2.875]
    assert [decimal(v) for v in values["G1"]] == ["-0.62500000", "2.87500000"]
    # dW = X^T (P - T) = [[1, 3], [2, -4]] @ [-1.125, 2.875]
    assert [decimal(v) for v in values["dW1"]] == ["7.50000000", "-13.75000000"]
    assert [decimal(v) for v in values["dB1"]] == ["1.75000000"]
    assert worked.loss == pytest.approx(0.5 * (1.125**2 + 2.875**2))


def test_a_table_with_only_x_and_t_seeds_the_parameters():
    net = spec.parse_toml(seed004_text("X = [[1], [2], [3]]\nT = [[0.5], [0.1]]\n"))
    inputs, seeded = example_inputs(net)
    assert seeded and inputs["X"] == sp.Matrix([[1], [2], [3]])
    assert "seeded" in render_writeup(derive(net), "md")


@pytest.mark.parametrize(
    "example, message",
    [
        ("T = [[0.5], [0.1]]\n", "example.X: missing"),
        ("X = [[1], [2], [3]]\n", "example.T: missing"),
        ("X = [[1, 2, 3]]\nT = [[0.5], [0.1]]\n", "example.X: must be 3 rows of 3 numbers (3, 3)"),
        ("X = [[1], [2], [3]]\nT = [[0.5, 1], [0.1, 1]]\n", "example.T: must be 2 rows of 1 number (2, 1)"),
        ("X = [[1], [2], [3]]\nT = [[0.5], ['a']]\n", "example.T[1][0]: must be a number, got 'a'"),
        ("X = [[1], [2], [true]]\nT = [[0.5], [0.1]]\n", "example.X[2][0]: must be a number, got True"),
        ("X = [[1], [2], [3]]\nT = [[0.5], [0.1]]\nW1 = [[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]\n",
         "example.B1: missing (give every W_l and B_l, or none"),
        ("X = [[1], [2], [3]]\nT = [[0.5], [0.1]]\nW3 = [[1]]\n", "example.W3: unknown key"),
        (("X = [[1], [2], [3]]\nT = [[0.5], [0.1]]\nW1 = [[0.1, 0.3], [0.2, 0.4]]\nB1 = [[0.5], [0.5]]\n"
         "W2 = [[0.7, 0.9], [0.8, 0.1]]\nB2 = [[0.3], [0.3]]\n"),
         "example.W1: must be 2 rows of 3 numbers (2, 3) in the column layout"),
        (("X = [[1], [2], [3]]\nT = [[0.5], [0.1]]\nW1 = [[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]\nB1 = [0.5, 0.5]\n"
         "W2 = [[0.7, 0.9], [0.8, 0.1]]\nB2 = [[0.3], [0.3]]\n"),
         "example.B1: must be 2 rows of 1 number (2, 1)"),
        ("X = [[1], [2], [3]]\nT = [[0.5], [nan]]\n", "example.T[1][0]: must be a finite number"),
        ("X = 3\nT = [[0.5], [0.1]]\n", "example.X: must be a nested array of numbers"),
        ("X = [[], [], []]\nT = [[], []]\n", "example.X: needs at least one sample"),
        (("X = [[1, 1, 1, 1, 1, 1, 1, 1, 1], [2, 2, 2, 2, 2, 2, 2, 2, 2], [3, 3, 3, 3, 3, 3, 3, 3, 3]]\n"
         "T = [[0.5], [0.1]]\n"), "example: a batch of 9 samples is too wide to print"),
    ],
)
def test_bad_example_tables_are_exit_2_naming_the_key(tmp_path, cli, example, message):
    path = tmp_path / "net.toml"
    path.write_text(seed004_text(example))
    status, out, err = cli("derive", str(path), "-o", str(tmp_path / "out.tex"))
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{path}: {message}" in err, err
    assert not (tmp_path / "out.tex").exists()


def test_derive_example_flag_and_a_network_too_wide_to_print(cli):
    status, out, err = cli("derive", "2-3-1:tanh,identity:mse", "--example", "--format", "md")
    assert status == 0 and "## Worked example" in out and "seeded" in out
    status, out, err = cli("derive", "784-10:softmax:cross_entropy", "--example")
    assert status == 2 and out == ""
    assert "--example: n_0 = 784 is too wide to print a worked example (at most 8 units" in err


def test_number_formatting():
    assert decimal(sp.Rational(-1, 10**12)) == "0.00000000"
    assert decimal(sp.Rational(1, 3)) == "0.33333333"
    assert decimal(sp.Rational(-2, 3)) == "-0.66666667"
    assert decimal(0) == "0.00000000"
    assert exact_decimal(sp.Rational(1, 10)) == "0.1"
    assert exact_decimal(sp.Integer(-3)) == "-3"
    assert exact_decimal(sp.Rational(1, 200)) == "0.005"


def test_seed004_latex_compiles(pdflatex, tmp_path):
    from test_writeup import compile_tex

    log = compile_tex(pdflatex, tmp_path, render_writeup(derive(spec.load(str(SEED004))), "tex"))
    assert "Overfull \\hbox" not in log


@pytest.mark.parametrize(
    "net", ["1-8-4-1:relu,relu,identity:mse", "8-8-8:elu,softmax:cross_entropy:row"]
)
def test_widest_examples_compile_without_overfull_boxes(pdflatex, tmp_path, net):
    from test_writeup import compile_tex

    log = compile_tex(pdflatex, tmp_path, render_writeup(derive(spec.load(net)), "tex", example=True))
    assert "Overfull \\hbox" not in log
