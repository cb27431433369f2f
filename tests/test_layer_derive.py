"""One layer at a time (contract section 8): `layer:KIND:SIZES[:LAYOUT]` parsed, derived as
vector-Jacobian products of dout, proven against sympy.diff, written up in both languages."""

import json
import re
import subprocess
from dataclasses import replace

import pytest
import sympy as sp
from gradscribe.codegen.layer_writeup import render_layer
from gradscribe.derive import layer_proof
from gradscribe.derive.layers import KINDS, LayerEquation, derive_layer, parse_layer
from gradscribe.derive.nodes import InverseSqrt
from sympy import MatMul

from test_katex import HERE, math_snippets
from test_katex import katex  # noqa: F401  (fixture)
from test_writeup import compile_tex


def every_kind(layout="row"):
    """One NET per kind: its option where it needs one, batch norm with a non-default epsilon."""
    out = []
    for name, kind in KINDS.items():
        sizes = "3-2" if kind.family == "affine" else "3"
        option = {"leaky_relu": "@0.2", "elu": "@0.5", "dropout": "@0.25", "batchnorm": "@1e-3"}
        out.append(f"layer:{name}{option.get(name, '')}:{sizes}:{layout}")
    return out


def test_the_form_and_its_defaults():
    spec = parse_layer("layer:affine:784-10")
    assert (spec.kind.name, spec.sizes, spec.layout) == ("affine", (784, 10), "row")
    assert spec.kind.grads == ("dx", "dw", "db")
    assert parse_layer("layer:leaky_relu:3").alpha == sp.Rational(1, 100)
    assert parse_layer("layer:elu@0.5:3:column").alpha == sp.Rational(1, 2)
    assert parse_layer("layer:dropout@0.5:3").p == sp.Rational(1, 2)
    assert parse_layer("layer:dropout@0.5:3").inline() == "layer:dropout@0.5:3:row"


@pytest.mark.parametrize("text, where", [
    ("layer:relu", "expected layer:KIND:SIZES"),
    ("layer:rleu:3", "kind: unknown kind 'rleu'"),
    ("layer:affine:3", "sizes: affine takes D-M"),
    ("layer:relu:3-2", "sizes: relu takes D"),
    ("layer:relu:x", "sizes: D is 'x'"),
    ("layer:relu:0", "sizes: D must be at least 1"),
    ("layer:relu:99999999999", "sizes: D is more than"),
    ("layer:dropout:3", "dropout needs its drop probability"),
    ("layer:dropout@1:3", "above 0 and below 1"),
    ("layer:dropout@abc:3", "not a number"),
    ("layer:leaky_relu@nan:3", "finite"),
    ("layer:batchnorm@0:3", "epsilon must be above 0"),
    ("layer:tanh@0.2:3", "tanh takes no @ value"),
    ("layer:mse:3:diag", "layout: must be row or column"),
    ("layer:softmax:3", "unknown kind 'softmax'"),
])
def test_bad_layers_are_one_line_and_exit_2(cli, text, where):
    for command in (("derive",), ("verify",), ("check", "--python", "f.py:g")):
        status, out, err = cli(command[0], text, *command[1:])
        assert status == 2 and out == ""
        assert err.count("\n") == 1 and "Traceback" not in err
        assert where in err, err


def test_codegen_refuses_one_layer(cli):
    status, out, err = cli("codegen", "layer:affine:3-2")
    assert status == 2 and "one layer" in err and err.count("\n") == 1


def test_affine_is_the_textbook_vjp_in_both_layouts():
    row = derive_layer(parse_layer("layer:affine:4-3"))
    assert [str(eq.rhs) for eq in row.backward] == ["dout*w.T", "x.T*dout", "1.T*dout"]
    assert row.shape("x", 5) == (5, 4) and row.shape("w") == (4, 3) and row.shape("db") == (3,)
    column = derive_layer(parse_layer("layer:affine:4-3:column"))
    assert [str(eq.rhs) for eq in column.backward] == ["w.T*dout", "dout*x.T", "dout*1"]
    assert column.shape("b") == (3, 1)


def test_losses_and_activations_come_from_the_registries():
    # dx of each loss layer is the network chain's output error with the same record
    ce = derive_layer(parse_layer("layer:softmax_cross_entropy:3")).equation("dx")
    assert str(ce.rhs) == "1/N*(p - t)"
    mse = derive_layer(parse_layer("layer:mse:4")).equation("dx")
    assert sp.simplify(mse.rhs.args[0] - sp.Rational(1, 2) / sp.Symbol("N", integer=True, positive=True)) == 0
    sse = derive_layer(parse_layer("layer:sse:4")).equation("dx")
    assert sse.rhs.args[0] == 2
    tanh = derive_layer(parse_layer("layer:tanh:2")).equation("dx")
    assert "ActivationPrime(tanh" in sp.srepr(tanh.rhs) or "tanh" in str(tanh.rhs)


@pytest.mark.parametrize("net", every_kind("row") + every_kind("column"))
def test_verify_proves_every_kind(net):
    report = layer_proof.prove_layer(parse_layer(net))
    names = [v.name for v in report.verdicts]
    assert names == list(parse_layer(net).kind.grads)
    assert report.ok, [(v.name, v.mismatch) for v in report.verdicts]
    assert all(v.points == 2 for v in report.verdicts)


@pytest.mark.parametrize("net, name, wrong", [
    # dx = dout w (no transpose): square, so the shapes fit and only the values are wrong
    ("layer:affine:3-3", "dx", lambda s: MatMul(s["dout"], s["w"])),
    ("layer:relu:3", "dx", lambda s: s["dout"]),
    ("layer:dropout@0.5:3", "dx", lambda s: sp.HadamardProduct(s["dout"], s["mask"])),
    ("layer:softmax_cross_entropy:3", "dx", lambda s: sp.MatAdd(s["p"], -s["t"])),
    # batch norm's naive dx: dxhat / sigma, without the terms through the mean and variance
    ("layer:batchnorm:3", "dx", lambda s: sp.HadamardProduct(
        s["dxhat"], MatMul(sp.OneMatrix(s["x"].shape[0], 1),
                           InverseSqrt(s["var"], sp.Symbol("epsilon", positive=True))))),
    ("layer:batchnorm:2:column", "dgamma", lambda s: MatMul(s["dout"], sp.OneMatrix(s["x"].shape[1], 1))),
])
def test_the_proof_fails_a_planted_wrong_formula(monkeypatch, net, name, wrong):
    right = derive_layer(parse_layer(net))
    backward = tuple(
        LayerEquation(eq.lhs, wrong(right.symbols), eq.label, eq.role) if eq.name == name else eq
        for eq in right.backward
    )
    monkeypatch.setattr(layer_proof, "derive_layer", lambda spec: replace(right, backward=backward))
    report = layer_proof.prove_layer(parse_layer(net))
    bad = [v for v in report.verdicts if not v.ok]
    assert [v.name for v in bad] == [name] and "entry" in bad[0].mismatch


def test_verify_command_text_and_json(cli):
    status, out, err = cli("verify", "layer:affine:5-4", "--json")
    assert status == 0
    data = json.loads(out)
    assert data["ok"] and set(data["formulas"]) == {"dx", "dw", "db"}
    assert data["proven_on"] == {"sizes": [3, 3], "batch": 2, "points": 2, "capped": True}
    assert data["formulas"]["dw"]["reference"] == "sympy.diff of <dout, out> with respect to w"
    status, out, err = cli("verify", "layer:sse:2")
    assert status == 0 and "dx      proven" in out and "sympy.diff of the loss" in out


def test_the_worked_example_is_the_formula_at_the_numbers():
    text = render_layer(derive_layer(parse_layer("layer:affine:2-2")), "md")
    given = dict(re.findall(r"^(x|w|b|\\mathrm\{d\}\\mathrm\{out\}) = (\\begin\{pmatrix\}.*?\\end\{pmatrix\})$",
                            text, re.M))
    def matrix(tex):
        body = tex.removeprefix(r"\begin{pmatrix} ").removesuffix(r" \end{pmatrix}")
        return sp.Matrix([[sp.Rational(v) for v in row.split(" & ")] for row in body.split(r" \\ ")])
    x, w, dout = matrix(given["x"]), matrix(given["w"]), matrix(given[r"\mathrm{d}\mathrm{out}"])
    dx = re.search(r"\\mathrm\{d\}x &= .*? \\\\ &= (\\begin\{pmatrix\}.*?\\end\{pmatrix\})", text).group(1)
    assert matrix(dx) == dout * w.T
    assert "Worked example" in text and r"\mathrm{d}w = x^{\top} \mathrm{d}\mathrm{out}" in text


def test_derive_writes_both_languages(cli, tmp_path):
    status, out, err = cli("derive", "layer:batchnorm:3", "--format", "md", "--lang", "ko")
    assert status == 0 and "국소 기울기" in out and "계산 예제" in out
    en = render_layer(derive_layer(parse_layer("layer:batchnorm:3")), "md")
    assert re.findall(r"\$\$.*?\$\$", out, re.S) == re.findall(r"\$\$.*?\$\$", en, re.S)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_every_kind_compiles_in_latex(pdflatex, tmp_path, lang):
    for index, net in enumerate(every_kind() + ["layer:affine:6-6:column"]):
        text = render_layer(derive_layer(parse_layer(net)), "tex", lang=lang)
        log = compile_tex(pdflatex, tmp_path, text, stem=f"l{index}")
        assert "Overfull \\hbox" not in log, net


def test_every_kind_renders_in_katex(katex):  # noqa: F811
    node, module = katex
    snippets = []
    for net in every_kind() + every_kind("column"):
        derivation = derive_layer(parse_layer(net))
        snippets += math_snippets(render_layer(derivation, "md"))
        snippets += math_snippets(render_layer(derivation, "md", lang="ko"))
    assert len(snippets) > 300
    result = subprocess.run(
        [node, str(HERE / "katex" / "render.js"), module],
        input=json.dumps(snippets), capture_output=True, text=True, timeout=120, check=True,
    )
    assert json.loads(result.stdout) == []


def test_the_api_takes_a_layer():
    import gradscribe as gs

    layer = gs.network("layer:sigmoid:3")
    assert type(layer).__name__ == "LayerNet"
    assert layer.verify().ok
    assert r"\sigma" in layer._repr_latex_() and "Local gradients" in layer.markdown()
    with pytest.raises(ValueError, match="one layer"):
        layer.kernel()


def test_a_layer_formula_the_identity_test_cannot_decide_is_undecided_not_wrong(monkeypatch):
    from gradscribe.derive import activations

    planted = replace(activations.get("tanh"), derivative=sp.Function("f")(activations.z))
    monkeypatch.setitem(activations.ACTIVATIONS, "tanh", planted)
    report = layer_proof.prove_layer(parse_layer("layer:tanh:2"))
    (dx,) = report.verdicts
    assert not report.ok and dx.undecided and "undecided, the identity test cannot tell" in dx.mismatch
    assert "undecided" in report.report() and "WRONG" not in report.report()
    data = report.to_json()
    assert data["undecided"] == ["dx"] and data["formulas"]["dx"]["undecided"] is True


def test_a_net_is_not_built_from_one_layer():
    from gradscribe.api import Net

    with pytest.raises(ValueError, match="is one layer: use gradscribe.network"):
        Net("layer:relu:3")
