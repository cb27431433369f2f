"""Inputs past gradscribe's bounds, and inputs that once crashed it: one line on stderr, exit 2.

The bounds are those of `gradscribe.derive.limits`, stated in `--help`.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from gradscribe.derive import limits

INLINE_LAYERS = "-".join(["2"] * (limits.MAX_LAYERS + 2)) + ":relu:mse"


def spec_text(layers: int, extra: str = "") -> str:
    head = f'name = "net"\ninputs = 2\nloss = "mse"\n{extra}'
    return head + '\n[[layer]]\nunits = 2\nactivation = "relu"\n' * layers


def one_error_line(status: int, err: str) -> str:
    assert status == 2, err
    assert err.startswith("gradscribe: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    "net, message",
    [
        ("1" * 5000 + "-1:identity:mse",
         "sizes: n_0 has 5,000 digits, more than the 100000 units gradscribe handles"),
        ("2-" + "0" * 4990 + "7:identity:mse", None),  # leading zeros: 7 units, not too long
        ("2-100001:identity:mse", "sizes: n_1: 100001 is more than the 100000 units"),
        (INLINE_LAYERS, f"sizes: {limits.MAX_LAYERS + 1} layers, more than the 1,000 a network may have"),
        ("2-1:iden\ntity:mse", r"unknown activation 'iden\ntity'"),
        ("2-x\n1:identity:mse", r"sizes: n_1 is 'x\n1', not a whole number"),
        ("2-1:identity:mse:ro\rw", r"layout: must be column or row, got 'ro\rw'"),
        ("2-1:leaky_relu@0.\n2:mse", r"alpha: '0.\n2' is not a number"),
        ("2-1:identity:ms\x1be", r"unknown loss 'ms\x1be'"),
    ],
    ids=["5000-digits", "leading-zeros", "too-wide", "too-deep", "newline-activation",
         "newline-size", "cr-layout", "newline-alpha", "escape-loss"],
)
def test_inline_inputs_are_one_line(cli, net, message):
    status, out, err = cli("codegen", net)
    if message is None:
        assert status == 0 and '"sizes": [2, 7]' in out
        return
    one_error_line(status, err)
    assert message in err


def test_a_long_inline_network_is_shortened_in_the_message(cli):
    status, _, err = cli("derive", INLINE_LAYERS)
    one_error_line(status, err)
    assert len(err) < 300


@pytest.mark.parametrize(
    "text, message",
    [
        ('name = "n"\ninputs = ' + "9" * 5000 + "\n",
         "a whole number with more than the 4,300 digits Python reads"),
        ('name = "n"\ninputs = ' + "[" * 1000 + "]" * 1000 + "\n",
         "arrays or tables nested 1000 deep, more than the 16 levels a spec file may have"),
        ('name = "n"\ninputs = ' + "{a = " * 1000 + "1" + "}" * 1000 + "\n",
         "arrays or tables nested 1000 deep, more than the 16 levels"),
        (spec_text(limits.MAX_LAYERS + 1),
         "layer: 1001 layers, more than the 1,000 a network may have"),
        (spec_text(1, "# " + "x" * limits.MAX_SPEC_BYTES + "\n"),
         "larger than the 1,048,576 bytes a spec file may have"),
        (spec_text(1) + 'units = "a\\nb"\n', "malformed TOML"),
    ],
)
def test_toml_inputs_are_one_line(tmp_path, cli, text, message):
    path = tmp_path / "net.toml"
    path.write_text(text)
    status, _, err = cli("derive", str(path))
    one_error_line(status, err)
    assert f"{path}: {message}" in err


def test_brackets_inside_strings_and_comments_are_not_nesting(tmp_path, cli):
    path = tmp_path / "net.toml"
    path.write_text(spec_text(2, 'layout = "column" # [[[[[[[[[[[[[[[[[[[[[[[[\n').replace(
        'name = "net"', "name = 'net' # " + "{" * 40))
    status, out, err = cli("codegen", str(path))
    assert status == 0, err
    assert '"sizes": [2, 2, 2]' in out


def test_the_largest_networks_within_the_limits_load(tmp_path):
    from gradscribe.derive import spec

    path = tmp_path / "net.toml"
    path.write_text(spec_text(limits.MAX_LAYERS))
    assert spec.load(str(path)).depth == limits.MAX_LAYERS
    wide = spec.load(f"{limits.MAX_UNITS}-{limits.MAX_UNITS}:relu:mse")
    assert wide.sizes == (limits.MAX_UNITS, limits.MAX_UNITS)


def test_a_spec_linked_to_dev_zero_is_one_line(tmp_path, cli):
    link = tmp_path / "zero.toml"
    link.symlink_to("/dev/zero")
    status, _, err = cli("derive", str(link))
    one_error_line(status, err)
    assert f"{link}: larger than the 1,048,576 bytes a spec file may have" in err


def test_a_spec_that_is_a_folder_or_not_utf8_is_one_line(tmp_path, cli):
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    status, _, err = cli("derive", str(folder))
    assert "dir.toml: cannot read spec file (Is a directory)" in one_error_line(status, err)
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'name = "caf\xe9"\n')
    status, _, err = cli("derive", str(latin))
    assert "latin.toml: not UTF-8 text (byte 11)" in one_error_line(status, err)


def test_a_path_with_a_newline_is_quoted_in_the_message(tmp_path, cli):
    path = tmp_path / "two\nlines.toml"
    status, _, err = cli("derive", str(path))
    one_error_line(status, err)
    assert repr(str(path)) in err


def test_the_step_warning_is_not_printed_before_an_error(tmp_path, cli):
    status, _, err = cli("derive", "2-3-1:step,identity:mse", "-o", str(tmp_path / "no" / "d.tex"))
    one_error_line(status, err)
    assert "gradscribe: warning" not in err
    status, _, err = cli("verify", "2-3-1:step,identity:mse", "--batch", "0")
    assert one_error_line(status, err) == "gradscribe: error: --batch must be at least 1\n"


def test_help_states_the_limits():
    result = subprocess.run(
        [sys.executable, "-m", "gradscribe", "derive", "--help"],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, check=True,
    )
    assert limits.describe() in result.stdout
    assert "at most 1,000 layers of at most 100,000 units each" in limits.describe()
    assert "1,048,576 bytes" in limits.describe() and "nested at most 16 deep" in limits.describe()


def test_warnings_are_one_line_per_activation_after_the_output(cli):
    status, out, err = cli("codegen", "2-2-2-1:step,relu,step:mse")
    assert status == 0 and "def backward" in out
    assert err == (
        "gradscribe: warning: layers 1, 3 use step: its derivative is 0 everywhere, "
        "so nothing below it learns\n"
    )
