"""Spec files and the inline form: valid networks load, every invalid one is exit 2 with one line."""

import pytest
import sympy as sp
from gradscribe.derive import spec

GOOD = """\
name = "height_mlp"
layout = "row"
inputs = 2
loss = "mse"

[[layer]]
units = 3
activation = "leaky_relu"
alpha = 0.2

[[layer]]
units = 1
activation = "identity"
"""


def test_toml_spec_loads_with_alpha(tmp_path):
    path = tmp_path / "net.toml"
    path.write_text(GOOD)
    net = spec.load(str(path))
    assert net.sizes == (2, 3, 1)
    assert net.layout == "row"
    assert net.layers[0].alpha == sp.Rational(1, 5)
    assert net.alpha_of(1) == sp.Rational(1, 5)
    assert net.activations == ("leaky_relu", "identity")


def test_inline_form_matches_the_contract_examples():
    net = spec.load("784-128-10:leaky_relu@0.2,softmax:cross_entropy:row")
    assert net.sizes == (784, 128, 10)
    assert net.layout == "row"
    assert net.name == "net"
    assert net.alpha_of(1) == sp.Rational(1, 5)
    default_layout = spec.load("1-8-4-1:relu,relu,identity:mse")
    assert default_layout.layout == "column"


def test_default_alpha_comes_from_the_activation():
    net = spec.load("2-2-1:leaky_relu,elu:mse")
    assert net.alpha_of(1) == sp.Rational(1, 100)
    assert net.alpha_of(2) == 1


def test_default_network_is_the_contracts_height_net():
    net = spec.default_network()
    assert net.name == "height_mlp"
    assert net.sizes == (1, 8, 4, 1)
    assert net.activations == ("relu", "relu", "identity")
    assert net.loss == "mse" and net.layout == "column"


def test_inline_and_toml_forms_of_one_network_hash_alike(tmp_path):
    toml_net = spec.parse_toml(spec.DEFAULT_SPEC)
    inline = spec.load("1-8-4-1:relu,relu,identity:mse")
    assert toml_net.to_toml().replace("height_mlp", "net") == inline.to_toml()
    assert spec.parse_toml(toml_net.to_toml()) == toml_net
    assert toml_net.digest() == spec.parse_toml(toml_net.to_toml()).digest()


BAD_TOML = [
    ('units = 0', "layer[1].units: must be at least 1"),
    ('units = -3', "layer[1].units: must be at least 1"),
    ('units = 2.5', "layer[1].units: must be a whole number"),
    ('activation = "rleu"', "layer[1].activation: unknown activation 'rleu'"),
    ('colour = "red"', "layer[1].colour: unknown key"),
    ('alpha = 0.3', "layer[1].alpha: relu takes no alpha"),
]


@pytest.mark.parametrize("line, message", BAD_TOML)
def test_bad_layer_fields_name_file_and_field(tmp_path, cli, line, message):
    key = line.split(" =")[0]
    body = "\n".join(
        l for l in [
            'name = "n"', "inputs = 1", 'loss = "mse"', "[[layer]]",
            "units = 2" if key != "units" else line,
            'activation = "relu"' if key != "activation" else line,
            line if key not in ("units", "activation") else "",
        ]
    )
    path = tmp_path / "bad.toml"
    path.write_text(body)
    status, out, err = cli("derive", str(path))
    assert status == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{path}: {message}" in err
    assert out == ""


@pytest.mark.parametrize(
    "text, message",
    [
        ('name = "n"\ninputs = 1\nloss = "mse"\n', "layer: missing"),
        ('name = "n"\ninputs = 1\n[[layer]]\nunits = 1\nactivation = "relu"\n', "loss: missing"),
        ('name = "1net"\ninputs = 1\nloss = "mse"\n[[layer]]\nunits = 1\nactivation = "relu"\n',
         "name: '1net' is not a Python identifier"),
        ('name = "class"\ninputs = 1\nloss = "mse"\n[[layer]]\nunits = 1\nactivation = "relu"\n',
         "name: 'class' is not a Python identifier"),
        ('name = "n"\ninputs = 1\nloss = "hinge"\n[[layer]]\nunits = 1\nactivation = "relu"\n',
         "loss: unknown loss 'hinge'"),
        ('name = "n"\nlayout = "diagonal"\ninputs = 1\nloss = "mse"\n[[layer]]\nunits = 1\nactivation = "relu"\n',
         "layout: must be"),
        ('name = "n"\ninputs = 1\nloss = "mse"\nextra = 1\n[[layer]]\nunits = 1\nactivation = "relu"\n',
         "extra: unknown key"),
        ('name = "n"\ninputs = 2\nloss = "mse"\n[[layer]]\nunits = 3\nactivation = "softmax"\n'
         '[[layer]]\nunits = 1\nactivation = "identity"\n', "layer[1].activation: softmax is allowed only on the output layer"),
        ('name = "n"\ninputs = 2\nloss = "cross_entropy"\n[[layer]]\nunits = 3\nactivation = "sigmoid"\n',
         "loss: cross_entropy needs a softmax output layer"),
        ('name = "n"\ninputs = 2\nloss = "binary_cross_entropy"\n[[layer]]\nunits = 3\nactivation = "identity"\n',
         "loss: binary_cross_entropy needs a sigmoid output layer"),
        ('name = "n"\ninputs = 2\nloss = "mse"\n[[layer]]\nunits = 3\nactivation = "softmax"\n',
         "softmax is supported only with loss = \"cross_entropy\""),
        ('name = "n"\ninputs = [1\n', "malformed TOML"),
    ],
)
def test_bad_specs_are_exit_2_with_one_line(tmp_path, cli, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    status, out, err = cli("verify", str(path))
    assert status == 2, err
    assert err.startswith(f"gradscribe: error: {path}: ")
    assert message in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "net, message",
    [
        ("1-2:rleu:mse", "unknown activation 'rleu'"),
        ("1-2:relu:mse:diagonal", "layout: must be column or row"),
        ("1-0-2:relu,relu:mse", "n_1: must be at least 1"),
        ("1-x:relu:mse", "n_1 is 'x'"),
        ("1-2-3:relu:mse", "2 layers need 2 activations, got 1"),
        ("1-2:leaky_relu@abc:mse", "'abc' is not a number"),
        ("1-2:leaky_relu@-1:mse", "must be a positive number"),
        ("1-2:relu:hinge", "unknown loss 'hinge'"),
        ("missing.toml", "missing.toml: no such spec file"),
    ],
)
def test_bad_inline_networks_are_exit_2(cli, net, message):
    status, out, err = cli("derive", net)
    assert status == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_output_leaves_no_half_written_file(tmp_path, cli):
    target = tmp_path / "out.tex"
    target.write_text("old contents")
    status, _, _ = cli("derive", "1-2:rleu:mse", "-o", str(target))
    assert status == 2
    assert target.read_text() == "old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["out.tex"]


def test_usage_errors_are_one_line_exit_2(cli):
    status, _, err = cli("derive")
    assert status == 2 and err.count("\n") == 1
    status, _, err = cli("frobnicate")
    assert status == 2 and err.count("\n") == 1


def test_step_is_accepted_with_a_warning_on_stderr(cli):
    status, out, err = cli("derive", "2-3-1:step,identity:mse", "--format", "md")
    assert status == 0
    assert err == (
        "gradscribe: warning: layer 1 uses step: its derivative is 0 everywhere, "
        "so nothing below it learns\n"
    )
    assert "nothing below it learns" in out


def test_an_unwritable_output_is_exit_2_with_one_line(tmp_path, cli):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    status, out, err = cli("derive", "1-2:relu:mse", "-o", str(blocker / "sub" / "d.tex"))
    assert status == 2
    assert err.startswith("gradscribe: error: ") and err.count("\n") == 1
    assert blocker.read_text() == "not a folder"
