"""Contract section 7 in the write-ups: batch norm, dropout and the penalties in the shapes
table, the forward pass, the loss, labelled backward equations, the notes and the drawing;
the worked example's numbers against an independent NumPy forward pass and finite
differences; LaTeX that compiles in English and Korean."""

import re
import subprocess

import numpy as np
import pytest
import sympy as sp

from gradscribe.codegen.writeup import render_writeup
from gradscribe.derive import spec
from gradscribe.derive.chain import derive
from gradscribe.derive.example import worked_example



def compile_tex(pdflatex, tmp_path, text):
    """pdflatex on `text`; its log (pdflatex's own output may not be UTF-8 with Hangul)."""
    (tmp_path / "doc.tex").write_text(text)
    result = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path, capture_output=True, timeout=180,
    )
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert result.returncode == 0, log[-2000:]
    return log

NET = "3-4-2:bn+relu+dropout@0.5,bn+softmax:cross_entropy+wd@1e-4:row"


def test_markdown_has_every_new_symbol_equation_and_note():
    md = render_writeup(derive(spec.load(NET)), "md")
    for symbol in (r"\mu_{1}", r"\sigma^{2}_{1}", r"\hat{G}_{1}", r"\gamma_{1}", r"\beta_{1}",
                   r"Y_{1}", r"A_{1}", r"M_{1}", r"\mu_{2}", r"\gamma_{2}"):
        assert f"| ${symbol}$ |" in md, symbol
    assert "| $M_{2}$ |" not in md  # no dropout at the output
    tags = re.findall(r"\\tag\{([^}]*)\}", md)
    assert tags == ["G1", "MU1", "VAR1", "GH1", "Y1", "A1", "R1", "G2", "MU2", "VAR2", "GH2", "Y2", "R2",
                    "P", "L", "DY2", "dgamma2", "dbeta2", "DGH2", "D2", "dW2", "dB2", "DY1",
                    "dgamma1", "dbeta1", "DGH1", "D1", "dW1", "dB1"]
    assert r"\frac{1}{20000} \sum_{l=1}^{2} \lVert W_{l} \rVert_F^{2} \tag{L}" in md
    assert r"\frac{\partial L}{\partial B_{1}} = 0 \tag{dB1}" in md
    assert "Layer 1 keeps its bias, but $\\partial L / \\partial B_{1} = 0$ exactly" in md
    assert "Weight decay $\\lambda = 10^{-4}$" in md and "gains $\\lambda W_l$" in md
    assert "Layer 1 drops units with probability $p = 0.5$" in md
    assert "layer 1: BN + relu + dropout 0.5<br/>G1 → Y1 → R1" in md
    assert "layer 2: BN + softmax<br/>G2 → Y2 → R2" in md
    # the compact batch-norm delta, never an N x N matrix
    assert (r"N \delta^{\hat{G}}_{1} - \mathbf{1} \mathbf{1}^{\top} \delta^{\hat{G}}_{1} - \hat{G}_{1} \odot "
            r"\left(\mathbf{1} \mathbf{1}^{\top} \left(\delta^{\hat{G}}_{1} \odot \hat{G}_{1}\right)\right)") in md


def test_l2_note_and_korean_prose():
    net = spec.load("2-3-1:bn+tanh,identity:mse+l2@0.5")
    md = render_writeup(derive(net), "md")
    assert "L2 penalty $\\lambda = 0.5$" in md and "gains $2 \\lambda W_l$" in md
    assert r"0.5 \sum_{l=1}^{2} \lVert W_{l} \rVert_F^{2}" in md or \
        r"\frac{1}{2} \sum_{l=1}^{2} \lVert W_{l} \rVert_F^{2}" in md
    ko = render_writeup(derive(net), "md", lang="ko")
    assert "층 1은 배치를 정규화합니다" in ko and "L2 벌점" in ko and "편향을 유지하지만" in ko


@pytest.mark.parametrize("net", [NET, "3-4-3-2:bn@1e-7+tanh+dropout@0.25,elu+dropout@0.5,bn+sigmoid:binary_cross_entropy+l2@0.01"])
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_latex_compiles(pdflatex, tmp_path, net, lang):
    text = render_writeup(derive(spec.load(net)), "tex", example=True, lang=lang)
    log = compile_tex(pdflatex, tmp_path, text)
    assert "Output written" in log


EXAMPLE = """
name = "ex"
layout = "{layout}"
inputs = 2
loss = "mse"
weight_decay = 0.1

[[layer]]
units = 3
activation = "tanh"
batch_norm = true
eps = 0.01
dropout = 0.5

[[layer]]
units = 1
activation = "identity"

[example]
"""


def _numpy_loss(p, layout):
    """The network of EXAMPLE written out by hand in NumPy (column layout internally)."""
    X, T, W1, B1, g1, b1, M1, W2, B2 = (p[k] for k in ("X", "T", "W1", "B1", "gamma1", "beta1", "M1", "W2", "B2"))
    G1 = W1 @ X + B1
    mu = G1.mean(axis=1, keepdims=True)
    var = ((G1 - mu) ** 2).mean(axis=1, keepdims=True)
    Y1 = g1 * (G1 - mu) / np.sqrt(var + 0.01) + b1
    R1 = np.tanh(Y1) * M1 / 0.5
    P = W2 @ R1 + B2
    return ((P - T) ** 2).mean() + 0.05 * ((W1 ** 2).sum() + (W2 ** 2).sum())


@pytest.mark.parametrize("layout", ["column", "row"])
def test_worked_example_against_numpy_and_finite_differences(layout):
    column = {
        "X": [[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]], "T": [[0.3, -0.2, 0.1]],
        "W1": [[0.4, -0.6], [0.9, 0.2], [-0.3, 0.8]], "B1": [[0.1], [-0.2], [0.3]],
        "gamma1": [[1.5], [0.5], [-0.8]], "beta1": [[0.2], [-0.1], [0.4]],
        "M1": [[1, 0, 1], [1, 1, 0], [0, 1, 1]], "W2": [[0.7, -0.5, 0.3]], "B2": [[0.05]],
    }

    def toml_value(key, value):
        if layout == "row":
            value = np.array(value).T.tolist()
            if key in ("B1", "B2", "gamma1", "beta1"):
                value = value[0]
        return f"{key} = {value}"

    text = EXAMPLE.format(layout=layout) + "\n".join(toml_value(k, v) for k, v in column.items())
    net = spec.parse_toml(text, "ex.toml")
    worked = worked_example(derive(net))
    values = {v.name: np.array(v.matrix.tolist(), dtype=float) for v in worked.forward + worked.backward}
    orient = (lambda a: a) if layout == "column" else (lambda a: a.T)
    params = {k: np.array(v, dtype=float) for k, v in column.items()}
    assert float(worked.loss) == pytest.approx(_numpy_loss(params, layout), rel=1e-12)
    # every parameter gradient against central differences of the NumPy loss
    for name in ("W1", "B1", "gamma1", "beta1", "W2", "B2"):
        numeric = np.zeros_like(params[name])
        for index in np.ndindex(*params[name].shape):
            h = 1e-6
            up = {**params, name: params[name].copy()}
            down = {**params, name: params[name].copy()}
            up[name][index] += h
            down[name][index] -= h
            numeric[index] = (_numpy_loss(up, layout) - _numpy_loss(down, layout)) / (2 * h)
        derived = orient(values[f"d{name}"])
        if derived.shape != numeric.shape:
            derived = derived.reshape(numeric.shape)
        assert np.allclose(derived, numeric, atol=1e-7, rtol=1e-6), (name, derived, numeric)
    assert np.all(values["dB1"] == 0)  # exactly, not to rounding
