"""The textbook-style module (contract section 5, `--style textbook`): one plain line per
equation, paired with the write-up's equations by tag; the same loss and gradients as the fast
kernel from NumPy, array-api-strict, PyTorch (float32 and float64) and JAX
inputs (JAX also under jax.jit), for every activation and loss in both layouts; float32 in, float32 out; no
RuntimeWarning on extreme inputs; ruff-clean.

PyTorch and JAX run in a process of their own (tests/textbook_libraries.py), so this process
never starts their threads before the checker forks its worker. A missing library skips its
test on a developer's machine and fails it under CI=true (pyproject's `test` extra installs them).
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from gradscribe.codegen.kernel import render_network
from gradscribe.codegen.writeup import render_writeup
from gradscribe.derive import spec
from gradscribe.derive.chain import derive

sys.path.insert(0, str(Path(__file__).resolve().parent))
import textbook_libraries

ELEMENTWISE = ["identity", "relu", "leaky_relu@0.2", "elu@0.5", "sigmoid", "tanh", "softplus", "silu", "step"]
NO_BIAS = """name = "no_bias"
layout = "row"
inputs = 3
loss = "binary_cross_entropy"
reduction = "sum"
[[layer]]
units = 4
activation = "elu"
alpha = 0.7
bias = false
[[layer]]
units = 3
activation = "sigmoid"
"""


def nets() -> list[str]:
    """Every elementwise activation with every loss it may meet, both layouts, and the rest."""
    out = []
    for act, layout in itertools.product(ELEMENTWISE, ("column", "row")):
        out += [
            f"3-4-3:{act},{act}:mse:{layout}",
            f"3-4-3:{act},{act}:half_sse:{layout}",
            f"3-4-3:{act},softmax:cross_entropy:{layout}",
            f"3-4-3:{act},sigmoid:binary_cross_entropy:{layout}",
        ]
    out += [
        "3-4-2:tanh,relu:sse",
        "3-4-4-3:silu,leaky_relu,softmax:cross_entropy@sum:row",
        "3-4-3:softplus,sigmoid:binary_cross_entropy@sum",
        "1-8-4-1:relu,relu,identity:mse",
    ]
    return out


NETS = nets()
BATCH = 5


def regularized() -> list[str]:
    """Batch norm, dropout and the penalties (contract section 7) with every elementwise
    activation, every loss, both layouts."""
    outputs = [("identity", "mse"), ("tanh", "half_sse"), ("sigmoid", "sse"), ("softmax", "cross_entropy"),
               ("sigmoid", "binary_cross_entropy"), ("softmax", "cross_entropy@sum"),
               ("sigmoid", "binary_cross_entropy@sum")]
    penalties = ["+wd@0.1", "+l2@0.05", ""]
    out = []
    for i, act in enumerate(ELEMENTWISE):
        top, loss = outputs[i % len(outputs)]
        bn_top = "bn+" if i % 3 == 0 else ""
        layout = ("column", "row")[i % 2]
        out.append(f"3-4-3-3:bn+{act}+dropout@0.5,bn@1e-7+{act}+dropout@0.25,{bn_top}{top}:"
                   f"{loss}{penalties[i % 3]}:{layout}")
    out += ["3-4-3:bn+relu,softmax:cross_entropy+wd@1e-4:row",
            "3-4-3:tanh+dropout@0.5,identity:mse+l2@0.01:column",
            "3-4-3:relu,identity:mse+wd@0.5:row"]
    return out


REGULARIZED = regularized()


def load_net(text: str):
    return spec.parse_toml(text) if "\n" in text else spec.load(text)


def draw(net, seed: int):
    """float64 params (biases nonzero), X and targets T valid for the loss."""
    rng = np.random.default_rng(seed)
    column = net.layout == "column"
    params = {}
    for l in range(1, net.depth + 1):
        n_in, n_out = net.sizes[l - 1], net.sizes[l]
        params[f"W{l}"] = rng.standard_normal((n_out, n_in) if column else (n_in, n_out))
        if net.has_bias(l):
            params[f"B{l}"] = 0.5 * rng.standard_normal((n_out, 1) if column else (n_out,))
        if net.batch_norm(l):  # gamma away from 1, beta away from 0
            params[f"gamma{l}"] = 1 + 0.4 * rng.standard_normal((n_out, 1) if column else (n_out,))
            params[f"beta{l}"] = 0.4 * rng.standard_normal((n_out, 1) if column else (n_out,))
    X = rng.standard_normal((net.sizes[0], BATCH) if column else (BATCH, net.sizes[0]))
    shape = (net.sizes[-1], BATCH) if column else (BATCH, net.sizes[-1])
    if net.loss.startswith("cross_entropy"):
        T = rng.random(shape)
        T /= T.sum(axis=0 if column else 1, keepdims=True)
    elif net.loss.startswith("binary_cross_entropy"):
        T = rng.random(shape)
    else:
        T = rng.standard_normal(shape)
    return params, X, T


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Both styles of every net, with its inputs, in one folder (tests/textbook_libraries.py)."""
    folder = tmp_path_factory.mktemp("textbook")
    manifest = []
    for i, text in enumerate(NETS + [NO_BIAS] + REGULARIZED):
        net = load_net(text)
        (folder / f"fast_{i}.py").write_text(render_network(net), encoding="utf-8")
        (folder / f"textbook_{i}.py").write_text(render_network(net, "textbook"), encoding="utf-8")
        params, X, T = draw(net, seed=i)
        mask_rng = np.random.default_rng(100 + i)
        masks = {m: (mask_rng.random((net.sizes[int(m[1:])], BATCH) if net.layout == "column"
                                     else (BATCH, net.sizes[int(m[1:])])) < 0.6).astype(np.float64)
                 for m in net.mask_names()}
        np.savez(folder / f"data_{i}.npz", X=X, T=T, **{f"p_{k}": v for k, v in params.items()},
                 **{f"m_{k}": v for k, v in masks.items()})
        manifest.append({"net": net.inline(), "fast": f"fast_{i}.py", "textbook": f"textbook_{i}.py",
                         "data": f"data_{i}.npz", "stateful": net.normalizes or net.drops,
                         "penalty": net.penalty is not None, "running": net.normalizes})
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def require(library: str) -> None:
    if importlib.util.find_spec(library) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{library} is missing under CI=true: pyproject's test extra must install it")
        pytest.skip(f"{library} is not installed")


# Each compared value is a handful of operations deep (at most 3 layers of width <= 4, a batch
# of 5), so two evaluations of the same formulas in different orders differ by a few dozen
# roundings of the largest magnitude; 256 units of the dtype's rounding leave room for that,
# while a slip in any formula changes a value by its own size.
ROUNDINGS = 256


def assert_within_rounding(records: list[dict]) -> None:
    assert records, "nothing was compared"
    bad = []
    for r in records:
        eps = float(np.finfo(r["dtype"]).eps)
        if not r["error"] <= ROUNDINGS * eps or r["dtype_out"] != r["expect_dtype"]:
            bad.append(f"{r['library']} {r['dtype']} {r['net']}: {r['worst']} "
                       f"(relative error {r['error']:.3g}, bound {ROUNDINGS * eps:.3g}; dtype out {r['dtype_out']})")
    assert not bad, f"{len(bad)} of {len(records)} values differ from the fast kernel:\n" + "\n".join(bad[:10])


@pytest.mark.parametrize("library", ["numpy", "array_api_strict"])
def test_same_loss_and_gradients_as_the_fast_kernel(rendered, library):
    if library != "numpy":
        require(library)
    records = textbook_libraries.compare(rendered, library)
    assert {r["net"] for r in records} == {load_net(t).inline() for t in NETS + [NO_BIAS] + REGULARIZED}
    assert_within_rounding(records)


@pytest.mark.parametrize("library", ["torch", "jax"])
def test_same_loss_and_gradients_on_pytorch_and_jax(rendered, library):
    require(library)
    script = Path(textbook_libraries.__file__)
    result = subprocess.run(
        [sys.executable, str(script), str(rendered), library],
        capture_output=True, text=True, check=False, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    records = json.loads(result.stdout)
    whats = {r["what"] for r in records}
    assert {"P", "G1", "loss(P, T)", "loss", "dW1"} <= whats
    if library == "jax":
        assert {"jit loss", "jit dW1"} <= whats
    assert_within_rounding(records)


def test_a_slip_is_caught(rendered, tmp_path):
    # The comparison is not vacuous: a textbook module whose bias gradient sums over the
    # wrong axis differs from the fast kernel by far more than rounding.
    manifest = json.loads((rendered / "manifest.json").read_text(encoding="utf-8"))
    entry = next(e for e in manifest if e["net"] == "1-8-4-1:relu,relu,identity:mse:column")
    text = (rendered / entry["textbook"]).read_text(encoding="utf-8")
    slipped = text.replace("dB2 = xp.sum(D2, axis=1, keepdims=True)", "dB2 = 2 * xp.sum(D2, axis=1, keepdims=True)")
    assert slipped != text
    for name in ("fast", "data"):
        (tmp_path / entry[name]).write_bytes((rendered / entry[name]).read_bytes())
    (tmp_path / entry["textbook"]).write_text(slipped, encoding="utf-8")
    (tmp_path / "manifest.json").write_text(json.dumps([entry]), encoding="utf-8")
    with pytest.raises(AssertionError, match=r"dB2\[0, 0\]"):
        assert_within_rounding(textbook_libraries.compare(tmp_path, "numpy"))


@pytest.mark.parametrize("text", NETS[:72:3] + NETS[1:72:3] + NETS[2:72:3], ids=lambda t: t)
def test_float32_in_float32_out_and_no_warnings_on_extreme_inputs(rendered, text):
    net = load_net(text)
    module = textbook_libraries.load(rendered / f"textbook_{NETS.index(text)}.py", f"tb_{NETS.index(text)}")
    for dtype, scale in itertools.product((np.float32, np.float64), (1.0, 1e4, 1e6)):
        params, X, T = draw(net, seed=11)
        params = {k: v.astype(dtype) for k, v in params.items()}
        X = (scale * X).astype(dtype)
        X[..., 0] = 0.0  # exact zeros too
        T = T.astype(dtype)
        with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
            warnings.simplefilter("error")
            P, _ = module.forward(params, X)
            value = module.loss(P, T)
            value2, grads = module.loss_and_grads(params, X, T)
        assert P.dtype == dtype and type(value) is float and type(value2) is float  # contract section 5
        assert {k: g.dtype for k, g in grads.items()} == {k: dtype for k in params}
        assert np.isfinite(value) and np.isfinite(value2)
        assert all(np.all(np.isfinite(g)) for g in grads.values())


def test_init_params_takes_a_namespace_and_a_device(rendered):
    fast = textbook_libraries.load(rendered / "fast_0.py", "fast_init")
    textbook = textbook_libraries.load(rendered / "textbook_0.py", "textbook_init")
    want = fast.init_params(3)
    got = textbook.init_params(3)
    assert {k: (v.dtype, v.shape) for k, v in got.items()} == {k: (v.dtype, v.shape) for k, v in want.items()}
    assert all(np.array_equal(got[k], want[k]) for k in want)
    assert all(v.dtype == np.float32 for v in textbook.init_params(3, dtype=np.float32, device="cpu").values())


def test_init_params_in_array_api_strict(rendered):
    require("array_api_strict")
    import array_api_strict as xp

    textbook = textbook_libraries.load(rendered / "textbook_0.py", "textbook_strict")
    fast = textbook_libraries.load(rendered / "fast_0.py", "fast_strict")
    got = textbook.init_params(5, dtype=xp.float32, xp=xp, device=xp.Device("CPU_DEVICE"))
    assert all(v.dtype == xp.float32 and v.device == xp.Device("CPU_DEVICE") for v in got.values())
    want = fast.init_params(5, dtype=np.float32)
    assert all(np.array_equal(np.from_dlpack(got[k]), want[k]) for k in want)


def test_without_array_api_compat_the_module_uses_numpy(rendered, monkeypatch):
    monkeypatch.setitem(sys.modules, "array_api_compat", None)  # import array_api_compat -> ImportError
    index = NETS.index("3-4-3:silu,softmax:cross_entropy:row")
    module = textbook_libraries.load(rendered / f"textbook_{index}.py", "textbook_no_compat")
    assert module.array_namespace(np.ones(2)) is np
    fast = textbook_libraries.load(rendered / f"fast_{index}.py", "fast_no_compat")
    params, X, T = draw(load_net(NETS[index]), seed=3)
    value, grads = module.loss_and_grads(params, X, T)
    want_value, want = fast.loss_and_grads(params, X, T)
    assert abs(float(value) - want_value) <= ROUNDINGS * np.finfo(float).eps * abs(want_value)
    for key in want:
        assert np.max(np.abs(grads[key] - want[key])) <= ROUNDINGS * np.finfo(float).eps * np.max(np.abs(want[key])), key


def test_every_textbook_module_passes_ruff(rendered):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", *map(str, rendered.glob("textbook_*.py"))],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- side by side with the write-up

TAGGED = re.compile(r"^(.*?) = (.*) \\tag\{(\w+)\}\\label", re.MULTILINE)
CITED = re.compile(r"^ {4}(\w+) = (.*?)  # \((\w+)\)(?:; (.*))?$", re.MULTILINE)
MATRIX = r"(?:\\delta_\{\d+\}|[A-Z](?:_\{\d+\})?)(?:\^\{\\top\})?"


def writeup_equations(net) -> dict[str, tuple[str, str]]:
    """tag -> (lhs, rhs) of every tagged equation of the LaTeX write-up."""
    return {tag: (lhs, rhs) for lhs, rhs, tag in TAGGED.findall(render_writeup(derive(net), "tex"))}


def module_lines(text: str, function: str) -> dict[str, tuple[str, str, str]]:
    """tag -> (lhs, rhs, comment) of the lines of one function of a textbook module."""
    body = text.split(f"\ndef {function}(", 1)[1].split("\ndef ", 1)[0]
    return {tag: (lhs, rhs, comment) for lhs, rhs, tag, comment in CITED.findall(body)}


def latex_names(latex: str) -> set[str]:
    """The arrays a LaTeX formula names, spelled as the code spells them (delta_3 is D3,
    dL/dW_3 is dW3)."""
    grads = {f"d{s}{i}" for s, i in re.findall(r"\\partial ([A-Z])_\{(\d+)\}\}", latex)}
    latex = re.sub(r"\\frac\{\\partial L\}\{\\partial [A-Z]_\{\d+\}\}", "", latex)
    names = {f"D{i}" for i in re.findall(r"\\delta_\{(\d+)\}", latex)}
    names |= {f"{s}{i}" for s, i in re.findall(r"(?<![\\\w])([A-Z])_\{(\d+)\}", latex)}
    names |= set(re.findall(r"(?<![A-Za-z\\{_])([XPT])(?![A-Za-z_])", latex))
    return grads | names


def code_names(code: str) -> set[str]:
    return set(re.findall(r"\b([A-Z]\d*|d[WB]\d+)\b", code.replace(".T", ""))) - {"N"}


@pytest.mark.parametrize("text", [
    "1-8-4-1:relu,relu,identity:mse",
    "3-5-2:tanh,sigmoid:binary_cross_entropy",
    "4-16-3:relu,softmax:cross_entropy:row",
])
def test_each_line_is_the_writeups_equation_under_the_same_tag(text):
    net = spec.load(text)
    equations = writeup_equations(net)
    module = render_network(net, "textbook")
    lines = {**module_lines(module, "forward"), **module_lines(module, "backward")}
    loss_lines = module_lines(module, "loss")
    # Every equation of the write-up is one line of the module, and every line cites one.
    assert len(lines) + len(loss_lines) == len(equations)
    assert set(lines) | set(loss_lines) == set(equations)
    for tag, (lhs, rhs, comment) in lines.items():
        latex_lhs, latex_rhs = equations[tag]
        where = f"({tag}): {lhs} = {rhs} against {latex_lhs} = {latex_rhs}"
        assert lhs == tag and latex_names(latex_lhs) == {lhs}, where
        # The same arrays on both sides; an activation's derivative f'(G_l) may be written in
        # R_l = f(G_l), as the write-up's section on derivatives writes it, and the comment says so.
        written_in = set(re.findall(r"written in (R\d+)", comment))
        expected = latex_names(latex_rhs) - {r.replace("R", "G") for r in written_in} | written_in
        assert code_names(rhs) == expected, where
        # As many matrix products and transposes, a Hadamard product as *, and a sum over the
        # batch (the product with the ones vector) as a sum.
        products = re.findall(rf"{MATRIX} (?={MATRIX})", latex_rhs.replace(r"\left(", "").replace(r"\right)", ""))
        assert rhs.count(" @ ") == len(products), where
        assert rhs.count(".T") == len(re.findall(r"(?<!\\mathbf\{1\})\^\{\\top\}", latex_rhs)), where
        assert (r"\odot" in latex_rhs) <= (" * " in rhs), where
        assert ("xp.sum(" in rhs) == lhs.startswith("dB") == (r"\mathbf{1}" in latex_rhs and "+" not in latex_rhs), where
    # The loss: the write-up's definition from P in loss(), the stable form from the logits in
    # loss_and_grads, and the comment says which.
    assert set(loss_lines) == {"L"} and code_names(loss_lines["L"][1]) == {"P", "T"}
    step = module_lines(module, "loss_and_grads")["L"]
    if net.loss_def.logit_term is not None:
        assert "never log(P)" in step[2] and code_names(step[1]) == {f"G{net.depth}", "T"}
    else:
        assert step == loss_lines["L"]


def test_codegen_style_option_and_api(cli, tmp_path):
    import gradscribe as gs

    net = "2-3-1:tanh,identity:mse:row"
    target = tmp_path / "k.py"
    status, out, err = cli("codegen", net, "--style", "textbook", "-o", str(target))
    assert (status, out, err) == (0, "", "")
    text = target.read_text()
    assert "    G1 = X @ W1 + B1  # (G1)\n" in text and "out=" not in text
    assert text == gs.network(net).kernel(style="textbook")
    status, out, _ = cli("codegen", net)  # fast by default
    assert status == 0 and out == render_network(spec.load(net)) == gs.network(net).kernel() != text
    status, out, err = cli("codegen", net, "--style", "pretty")
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1 and "--style" in err
    with pytest.raises(ValueError, match="textbook"):
        gs.network(net).kernel(style="pretty")
