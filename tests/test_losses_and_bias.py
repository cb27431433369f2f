"""The summed losses (`sse`, `cross_entropy@sum`, `binary_cross_entropy@sum`) and layers without
bias (`bias = false`), through every feature: spec, registry, proof, kernel, write-ups, check.

Reference values below are restated from the contract (sections 1, 3 and 4), not taken from
the code under test.
"""

from __future__ import annotations

import itertools
import textwrap
import warnings

import numpy as np
import pytest
from gradscribe.check.finite_differences import load_kernel
from gradscribe.codegen.kernel import render_network
from gradscribe.codegen.writeup import render_writeup
from gradscribe.derive import activations, losses, proof, spec
from gradscribe.derive.chain import derive

ELEMENTWISE = [a.name for a in activations.ACTIVATIONS.values() if a.elementwise]
LAYOUTS = ["column", "row"]


def toml(loss="sse", layout="column", inputs=2, layers=(), reduction=None, name="net"):
    """A spec file's text; `layers` is a list of (units, activation, bias) triples."""
    head = f'name = "{name}"\nlayout = "{layout}"\ninputs = {inputs}\nloss = "{loss}"\n'
    if reduction is not None:
        head += f'reduction = "{reduction}"\n'
    for units, act, bias in layers:
        head += f'\n[[layer]]\nunits = {units}\nactivation = "{act}"\n'
        if bias is not None:
            head += f"bias = {'true' if bias else 'false'}\n"
    return head


BIAS_FREE = {
    # hidden layer without bias, output with: the common tutorial network
    "sse_hidden": {"loss": "sse", "layers": [(3, "tanh", False), (2, "identity", None)]},
    # no bias anywhere, a kinked hidden layer and a sigmoid output under sse
    "sse_none": {"loss": "sse", "layers": [(3, "leaky_relu", False), (2, "sigmoid", False)]},
    # summed BCE (Nielsen's network2) with the output layer bias-free
    "bce_sum_out": {
        "loss": "binary_cross_entropy", "reduction": "sum",
        "layers": [(3, "relu", None), (2, "sigmoid", False)],
    },
    # summed softmax cross-entropy without any bias
    "ce_sum_none": {
        "loss": "cross_entropy", "reduction": "sum", "layers": [(3, "elu", False), (3, "softmax", False)]
    },
}


def bias_free(key, layout):
    return spec.parse_toml(toml(layout=layout, **BIAS_FREE[key]), f"{key}.toml")


# ------------------------------------------------------------------------------ spec


def test_reduction_sum_names_the_summed_loss_in_file_and_inline():
    net = spec.parse_toml(
        toml("cross_entropy", layers=[(3, "softmax", None)], reduction="sum"), "n.toml"
    )
    assert net.loss == "cross_entropy@sum"
    assert net == spec.load("2-3:softmax:cross_entropy@sum")
    assert net.digest() == spec.load("2-3:softmax:cross_entropy@sum").digest()
    mean = spec.parse_toml(toml("cross_entropy", layers=[(3, "softmax", None)], reduction="mean"))
    assert mean.loss == "cross_entropy"
    bce = spec.load("2-3:sigmoid:binary_cross_entropy@sum:row")
    assert bce.loss == "binary_cross_entropy@sum" and bce.layout == "row"
    assert spec.load("2-3:relu:sse").loss == "sse"


def test_canonical_toml_round_trips_reduction_and_bias():
    net = bias_free("bce_sum_out", "row")
    text = net.to_toml()
    assert 'loss = "binary_cross_entropy"\nreduction = "sum"\n' in text
    assert text.count("bias = false") == 1
    again = spec.parse_toml(text)
    assert again == net and again.digest() == net.digest()
    assert [layer.bias for layer in net.layers] == [True, False]
    assert net.param_names() == ["W1", "B1", "W2"]
    assert net.inline() == "2-3-2:relu,sigmoid:binary_cross_entropy@sum:row (no bias in layer 2)"


@pytest.mark.parametrize(
    "text, message",
    [
        (toml("mse", layers=[(1, "relu", None)], reduction="sum"),
         "reduction: mse has no reduction to choose"),
        (toml("sse", layers=[(1, "relu", None)], reduction="mean"),
         "reduction: sse has no reduction to choose"),
        (toml("cross_entropy", layers=[(2, "softmax", None)], reduction="total"),
         'reduction: must be "mean" or "sum", got \'total\''),
        (toml("cross_entropy@sum", layers=[(2, "softmax", None)], reduction="mean"),
         'reduction: "mean" contradicts loss = "cross_entropy@sum"'),
        (toml("sse", layers=[(1, "relu", None)]).replace('"relu"\n', '"relu"\nbias = "no"\n'),
         "layer[1].bias: must be true or false, got 'no'"),
        (toml("sse", layers=[(2, "softmax", None)]),
         'softmax is supported only with loss = "cross_entropy" (got sse)'),
        (toml("binary_cross_entropy", layers=[(2, "tanh", None)], reduction="sum"),
         "binary_cross_entropy@sum needs a sigmoid output layer"),
    ],
)
def test_bad_reduction_and_bias_are_exit_2_with_one_line(tmp_path, cli, text, message):
    path = tmp_path / "net.toml"
    path.write_text(text)
    status, out, err = cli("derive", str(path))
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and message in err and str(path) in err, err


def test_summed_losses_are_known_inline_and_mse_sum_is_not(cli):
    status, _, err = cli("derive", "2-1:relu:mse@sum")
    assert status == 2 and "unknown loss 'mse@sum'" in err and err.count("\n") == 1


# ------------------------------------------------------------------------------ registry


def test_delta_coefficients_are_the_contracts():
    N, n = losses.N, losses.n
    expected = {
        "mse": 2 / (N * n), "half_sse": 1, "sse": 2,
        "cross_entropy": 1 / N, "binary_cross_entropy": 1 / (N * n),
        "cross_entropy@sum": 1, "binary_cross_entropy@sum": 1,
    }
    assert {name: loss.delta_coefficient for name, loss in losses.LOSSES.items()} == expected
    assert losses.get("cross_entropy@sum").term == losses.get("cross_entropy").term
    assert losses.get("binary_cross_entropy@sum").logit_term == losses.get("binary_cross_entropy").logit_term


# ------------------------------------------------------------------------------ proof


def proof_cases():
    # sse: every elementwise activation at the output (where f'_L meets the loss), both layouts
    for act, layout in itertools.product(ELEMENTWISE, LAYOUTS):
        alpha = "@0.2" if activations.get(act).takes_alpha else ""
        yield f"2-2:{act}{alpha}:sse:{layout}"
    for layout in LAYOUTS:
        yield f"2-2-2:tanh,softplus:sse:{layout}"
        yield f"2-2-2:relu,softmax:cross_entropy@sum:{layout}"
        yield f"2-2-2:silu,sigmoid:binary_cross_entropy@sum:{layout}"
    yield "2-3:softmax:cross_entropy@sum:row"


@pytest.mark.parametrize("net", list(proof_cases()))
def test_summed_losses_are_proven(net):
    report = proof.prove(spec.load(net))
    assert report.ok, [(v.name, v.mismatch) for v in report.verdicts if not v.ok]


@pytest.mark.parametrize("key, layout", itertools.product(BIAS_FREE, LAYOUTS))
def test_bias_free_layers_are_proven_and_have_no_db(key, layout):
    net = bias_free(key, layout)
    report = proof.prove(net, max_width=2)
    assert report.ok, [(v.name, v.mismatch) for v in report.verdicts if not v.ok]
    names = [v.name for v in report.verdicts]
    expected = {f"d{p}" for p in net.param_names()} | {f"D{l}" for l in range(1, net.depth + 1)}
    assert set(names) == expected


def test_a_wrong_summed_coefficient_is_caught(monkeypatch):
    # cross_entropy@sum with the mean's 1/N left in delta_L: the proof must reject it.
    monkeypatch.setattr(losses.Loss, "delta_coefficient", property(lambda self: 1 / losses.N))
    report = proof.prove(spec.load("2-3:softmax:cross_entropy@sum"), batch=2)
    assert not report.ok and {v.name for v in report.verdicts if not v.ok} == {"D1", "dW1", "dB1"}


# ------------------------------------------------------------------------------ kernels


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


ACTS = {
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "elu": lambda z: np.where(z > 0, z, np.exp(np.minimum(z, 0.0)) - 1.0),
    "tanh": np.tanh,
    "sigmoid": _sig,
    "softplus": lambda z: np.log1p(np.exp(z)),
}


def reference_forward(net, params, X):
    """P from contract section 1; a layer without bias has G_l = W_l R_{l-1}."""
    column = net.layout == "column"
    R = X
    for l, layer in enumerate(net.layers, start=1):
        G = params[f"W{l}"] @ R if column else R @ params[f"W{l}"]
        if layer.bias:
            G = G + params[f"B{l}"]
        if layer.activation == "softmax":
            e = np.exp(G - G.max(axis=0 if column else 1, keepdims=True))
            R = e / e.sum(axis=0 if column else 1, keepdims=True)
        else:
            R = ACTS[layer.activation](G)
    return R


def reference_loss(name, P, T):
    """Contract section 3: the summed forms, from P."""
    if name == "sse":
        return np.sum((P - T) ** 2)
    if name == "cross_entropy@sum":
        return -np.sum(T * np.log(P))
    if name == "binary_cross_entropy@sum":
        return -np.sum(T * np.log(P) + (1 - T) * np.log(1 - P))
    raise AssertionError(name)


def targets(net, rng, shape):
    column = net.layout == "column"
    if net.loss.startswith("cross_entropy"):
        T = rng.random(shape) + 0.1
        return T / T.sum(axis=0 if column else 1, keepdims=True)
    if net.loss.startswith("binary"):
        return rng.random(shape)
    return rng.standard_normal(shape)


KERNEL_CASES = [
    "3-4-2:tanh,identity:sse",
    "3-4-2:relu,sigmoid:sse:row",
    "3-4-3:softplus,softmax:cross_entropy@sum",
    "3-4-3:elu,softmax:cross_entropy@sum:row",
    "3-4-2:leaky_relu,sigmoid:binary_cross_entropy@sum",
    "3-4-2:tanh,sigmoid:binary_cross_entropy@sum:row",
] + [f"{key}:{layout}" for key, layout in itertools.product(BIAS_FREE, LAYOUTS)]


def network(case):
    key, _, layout = case.partition(":")
    return bias_free(key, layout) if key in BIAS_FREE else spec.load(case)


@pytest.mark.parametrize("case", KERNEL_CASES)
def test_kernel_matches_the_contract_and_central_differences(case):
    net = network(case)
    module = load_kernel(render_network(net), "k_" + net.digest()[:12])
    rng = np.random.default_rng(3)
    column = net.layout == "column"
    batch = 3
    params = module.init_params(rng)
    assert list(params) == net.param_names()
    for l in range(1, net.depth + 1):
        assert (f"B{l}" in params) == net.layers[l - 1].bias
    kinked = [l for l, layer in enumerate(net.layers, start=1) if layer.act.kink]
    for _ in range(50):
        params = {k: v + 0.5 * rng.standard_normal(v.shape) for k, v in params.items()}
        X = rng.standard_normal((net.sizes[0], batch) if column else (batch, net.sizes[0]))
        _, cache = module.forward(params, X)
        if all(np.min(np.abs(cache[f"G{l}"])) > 1e-3 for l in kinked):
            break
    T = targets(net, rng, (net.sizes[-1], batch) if column else (batch, net.sizes[-1]))
    P, _ = module.forward(params, X)
    P_ref = reference_forward(net, params, X)
    np.testing.assert_allclose(P, P_ref, rtol=1e-12, atol=1e-14)
    expected = reference_loss(net.loss, P_ref, T)
    value, grads = module.loss_and_grads(params, X, T)
    assert module.loss(P, T) == pytest.approx(expected, rel=1e-10)
    assert value == pytest.approx(expected, rel=1e-10)
    assert list(grads) == net.param_names()

    h = 1e-6
    for key, theta in params.items():
        fd = np.zeros_like(theta)
        for index in np.ndindex(theta.shape):
            plus, minus = theta.copy(), theta.copy()
            plus[index] += h
            minus[index] -= h
            fd[index] = (
                module.loss_and_grads({**params, key: plus}, X, T)[0]
                - module.loss_and_grads({**params, key: minus}, X, T)[0]
            ) / (2 * h)
        err = np.abs(fd - grads[key])
        worst = np.unravel_index(np.argmax(err), err.shape)
        # central differences: truncation ~ h^2 |f'''|, rounding ~ eps |L| / h
        tol = 1e-6 * max(1.0, np.max(np.abs(fd))) + 1e-9 * max(1.0, abs(value))
        assert err[worst] <= tol, (
            f"{case} d{key}{list(worst)}: kernel {grads[key][worst]!r} vs central differences "
            f"{fd[worst]!r}"
        )


@pytest.mark.parametrize("case", KERNEL_CASES[2:6])
def test_summed_cross_entropies_stay_finite_in_float32_on_extreme_inputs(case):
    net = network(case)
    module = load_kernel(render_network(net), "k32_" + net.digest()[:12])
    rng = np.random.default_rng(11)
    column = net.layout == "column"
    params = module.init_params(rng, dtype=np.float32)
    X = (1e6 * rng.standard_normal((3, 4) if column else (4, 3))).astype(np.float32)
    T = targets(net, rng, (net.sizes[-1], 4) if column else (4, net.sizes[-1])).astype(np.float32)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        P, _ = module.forward(params, X)
        value, grads = module.loss_and_grads(params, X, T)
        clipped = module.loss(np.asarray(P), T)
    assert P.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())
    assert np.isfinite(value) and np.isfinite(clipped) and value >= 0


# ------------------------------------------------------------------------------ write-ups


def test_sse_writeup_has_no_half_and_no_mean():
    md = render_writeup(derive(spec.load("2-3-1:tanh,identity:sse")), "md")
    assert r"L = \sum_{i,j} \left(P_{ij} - T_{ij}\right)^{2} \tag{L}" in md
    assert r"\delta_{2} = 2 \left(P - T\right) \tag{D2}" in md
    assert "## Loss: sum of squared errors" in md


def test_summed_cross_entropy_writeup_has_no_one_over_n():
    md = render_writeup(derive(spec.load("2-3:softmax:cross_entropy@sum:row")), "md")
    assert r"L = \sum_{i,j} - T_{ij} \log{\left(P_{ij} \right)} \tag{L}" in md
    assert r"\delta_{1} = P - T \tag{D1}" in md
    assert "summed cross-entropy" in md


@pytest.mark.parametrize("fmt", ["md", "tex"])
def test_bias_free_writeup_has_no_bias_symbol_or_gradient(fmt):
    net = bias_free("sse_hidden", "column")
    text = render_writeup(derive(net), fmt)
    assert "B_{1}" not in text and "dB1" not in text.replace("there is no dB1", "")
    assert "B_{2}" in text  # layer 2 keeps its bias
    assert "G_{1} = W_{1} X" in text
    assert "Layer 1 has no bias" in text


@pytest.mark.parametrize("case", ["bce_sum_out:row", "sse_none:column", "ce_sum_none:row"])
def test_bias_free_and_summed_writeups_compile(pdflatex, tmp_path, case):
    import subprocess

    (tmp_path / "doc.tex").write_text(render_writeup(derive(network(case)), "tex"))
    run = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:]
    assert "Overfull \\hbox" not in (tmp_path / "doc.log").read_text(errors="replace")


# ------------------------------------------------------------------------------ check


def test_formula_claims_about_a_missing_bias_are_input_errors(tmp_path, cli):
    path = tmp_path / "net.toml"
    path.write_text(toml(layout="row", **BIAS_FREE["sse_hidden"]))
    status, out, err = cli("check", str(path), "--formula", "dB1 = D1.sum(axis=0)")
    assert status == 2 and out == "" and err.count("\n") == 1
    assert "'dB1': layer 1 has no bias" in err
    status, _, err = cli("check", str(path), "--formula", "dW2 = R1.T @ D2 + B1")
    assert status == 2 and "'B1': layer 1 has no bias" in err and err.count("\n") == 1
    status, out, _ = cli("check", str(path), "--formula", "dW1 = X.T @ D1")
    assert status == 0, out
    status, out, _ = cli("check", str(path), "--formula", "dB2 = (P - T).sum(axis=0)")  # sse: 2 (P - T)
    assert status == 1, out


BACKPROP = textwrap.dedent(
    """
    import numpy as np

    def grads(params, X, T):
        # column layout, 3-tanh (no bias) - 2-identity, loss sse
        W1, W2, B2 = params["W1"], params["W2"], params["B2"]
        G1 = W1 @ X
        R1 = np.tanh(G1)
        P = W2 @ R1 + B2
        D2 = {factor} * (P - T)
        D1 = (W2.T @ D2) * (1 - R1 ** 2)
        return {{"W1": D1 @ X.T, "W2": D2 @ R1.T, "B2": D2.sum(axis=1, keepdims=True)}}
    """
)


@pytest.mark.parametrize("factor, status", [("2", 0), ("1", 1)])
def test_check_python_on_a_bias_free_sse_network(tmp_path, cli, factor, status):
    (tmp_path / "bp.py").write_text(BACKPROP.format(factor=factor))
    path = tmp_path / "net.toml"
    path.write_text(toml(**BIAS_FREE["sse_hidden"]))
    got, out, err = cli("check", str(path), "--python", f"{tmp_path / 'bp.py'}:grads", "--json")
    assert got == status, (out, err)
    import json

    report = json.loads(out)
    assert set(report["params"]) == {"W1", "W2", "B2"}
