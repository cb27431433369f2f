"""`check --python`: right code judged right, every planted slip named, the CLI's exit codes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from gradscribe.check.judge import check_function

from gradscribe.cli import main

BACKPROPS = Path(__file__).parent / "backprops"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"backprops_{name}", BACKPROPS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MODULES = {name: _load(name) for name in ("column", "row")}
CASES = [(m, f) for m, mod in MODULES.items() for f in mod.EXPECTED]
ERROR_CASES = [(m, f) for m, mod in MODULES.items() for f in mod.ERRORS]


@pytest.mark.parametrize("layout,func", CASES)
def test_each_backward_pass_gets_its_diagnosis(layout, func):
    mod = MODULES[layout]
    report = check_function(mod.NET, getattr(mod, func))
    expected = mod.EXPECTED[func]
    assert report.error is None
    for name, result in report.params.items():
        fragment = expected.get(name, expected.get("*"))
        if fragment is not None:
            assert not result.ok, f"{func}: {name} judged right"
            assert fragment in result.diagnosis, f"{func}: {name}: {result.diagnosis}"
        else:
            assert result.ok, f"{func}: {name} judged wrong: {result.diagnosis}"
    assert report.ok == (not expected)


@pytest.mark.parametrize("layout,func", ERROR_CASES)
def test_a_raising_function_is_reported_not_a_crash(layout, func):
    mod = MODULES[layout]
    report = check_function(mod.NET, getattr(mod, func))
    assert not report.ok
    assert mod.ERRORS[func] in report.error
    assert report.to_json()["ok"] is False


@pytest.mark.parametrize("layout,error", [("column", "ValueError"), ("row", "AssertionError")])
def test_single_sample_code_that_fails_for_a_batch_is_called_per_sample(layout, error):
    mod = MODULES[layout]
    assert check_function(mod.NET, mod.single_sample, batch=1).ok
    report = check_function(mod.NET, mod.single_sample)
    assert report.ok, report.table()
    [note] = [n for n in report.notes if "takes one sample" in n]
    assert note.startswith(f"single_sample takes one sample: for a batch (N = 3) it raised {error}")
    assert note.endswith("so it is called once per sample and the results averaged (the loss "
                         "is a mean over the batch)")


def test_in_place_updates_leave_the_callers_draws_alone():
    mod = MODULES["column"]
    report = check_function(mod.NET, mod.in_place)
    assert all("(the returned gradient itself is right)" in p.diagnosis for p in report.params.values())


def test_draws_are_deterministic_and_report_json_has_the_contract_shape():
    mod = MODULES["column"]
    a = check_function(mod.NET, mod.twice).to_json()
    b = check_function(mod.NET, mod.twice).to_json()
    assert a == b
    assert set(a) == {"ok", "params"}
    for entry in a["params"].values():
        assert set(entry) == {"ok", "max_abs_err", "max_rel_err", "expected_shape", "got_shape",
                              "diagnosis"}
    assert a["params"]["W3"]["expected_shape"] == [2, 4]
    assert a["params"]["W1"]["diagnosis"] is None


def test_report_repr_and_markdown():
    mod = MODULES["row"]
    report = check_function(mod.NET, mod.missing_tanh_prime)
    text = repr(report)
    assert "WRONG" in text and "tanh'(G2)" in text and "(4,)" in text
    md = report._repr_markdown_()
    assert md.splitlines()[2].startswith("| param | verdict |")


def test_unknown_key_and_non_numbers_are_wrong():
    mod = MODULES["column"]

    def renamed(params, X, T):
        return {"V1": mod.backprop(params, X, T)["W1"]}

    report = check_function(mod.NET, renamed)
    assert not report.ok and "not a parameter" in report.params["V1"].diagnosis

    def strings(params, X, T):
        return {"W1": "nope"}

    assert "not an array of numbers" in check_function(mod.NET, strings).params["W1"].diagnosis


def test_kinked_layers_are_drawn_away_from_zero():
    from gradscribe.check.judge import KINK_MARGIN, draw
    from gradscribe.derive.chain import derive
    from gradscribe.derive.spec import load

    derivation = derive(load("5-30-30-2:relu,leaky_relu,identity:mse"))
    rng = np.random.default_rng(1)
    for batch in (3, 7):
        d = draw(derivation, batch, rng)
        assert min(np.min(np.abs(d.values[f"G{l}"])) for l in (1, 2)) >= KINK_MARGIN


# ------------------------------------------------------------------------------ command line


def _run(capsys, *args):
    status = main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_cli_right_code_exits_0(capsys):
    mod = MODULES["column"]
    status, out, _ = _run(capsys, "check", mod.NET, "--python", f"{BACKPROPS / 'column.py'}:right")
    assert status == 0 and "all right" in out


def test_cli_wrong_code_exits_1_with_json(capsys):
    mod = MODULES["row"]
    status, out, _ = _run(capsys, "check", mod.NET, "--python",
                          f"{BACKPROPS / 'row.py'}:bias_keepdims", "--json")
    assert status == 1
    data = json.loads(out)
    assert data["ok"] is False
    assert data["params"]["B2"]["got_shape"] == [1, 4]
    assert data["params"]["B2"]["expected_shape"] == [4]
    assert data["params"]["W1"]["ok"] is True


def test_cli_batch_option(capsys):
    mod = MODULES["row"]
    target = f"{BACKPROPS / 'row.py'}:single_sample"
    status, out, _ = _run(capsys, "check", mod.NET, "--python", target)
    assert status == 0 and "called once per sample" in out
    status, out, _ = _run(capsys, "check", mod.NET, "--python", target, "--batch", "1")
    assert status == 0 and "called once per sample" not in out
    assert "batch sizes 1, 1, 1" in out
    target = f"{BACKPROPS / 'column.py'}:single_sample_transposed"
    status, out, _ = _run(capsys, "check", MODULES["column"].NET, "--python", target)
    assert status == 1 and "called once per sample" in out
    assert "dW1 is transposed (layer 1): shape (3, 4) where (4, 3) belongs" in out


def test_cli_file_folder_is_importable(tmp_path, capsys):
    (tmp_path / "helpers.py").write_text("SCALE = 2.0\n")
    (tmp_path / "mine.py").write_text(
        "import numpy as np\nfrom helpers import SCALE\n"
        "def grads(params, X, T):\n    return {'B1': SCALE * np.zeros((1, 1))}\n"
    )
    status, out, err = _run(capsys, "check", "1-1:identity:mse", "--python", f"{tmp_path / 'mine.py'}:grads")
    assert status == 1, err
    assert "B1" in out


@pytest.mark.parametrize(
    "target,message",
    [
        ("nowhere/missing.py:f", "no such file"),
        ("{dir}/column.py:no_such_function", "has no function"),
        ("{dir}/column.py:NET", "is not callable"),
        ("{dir}/column.py", "expected FILE:FUNC"),
    ],
)
def test_cli_bad_targets_exit_2(capsys, target, message):
    status, _, err = _run(capsys, "check", "3-4-4-2:tanh,relu,sigmoid:mse", "--python",
                            target.format(dir=BACKPROPS))
    assert status == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_cli_bad_batch_exits_2(capsys):
    status, _, err = _run(capsys, "check", "2-1:identity:mse", "--formula", "dW1 = D1 @ X.T",
                          "--batch", "0")
    assert status == 2 and "--batch" in err


def test_cli_json_stays_parseable_when_func_prints(capsys):
    mod = MODULES["row"]
    status, out, err = _run(capsys, "check", mod.NET, "--python",
                            f"{BACKPROPS / 'row.py'}:returns_params", "--json")
    assert status == 1
    assert json.loads(out)["ok"] is False
    assert "debug output" in err


def test_json_has_no_infinite_figures():
    # a step network's gradients are all 0, so the relative error is not finite
    data = check_function("2-2:step:mse", lambda p, X, T: {"W1": np.ones((2, 2))}).to_json()
    json.dumps(data, allow_nan=False)
    assert data["params"]["W1"]["max_rel_err"] is None


def test_func_calling_sys_exit_is_reported_not_obeyed(tmp_path, capsys):
    from gradscribe.cli import main

    module = tmp_path / "quits.py"
    module.write_text("import sys\n\ndef grads(params, X, T):\n    sys.exit(3)\n")
    status = main(["check", "2-3-1:relu,identity:mse", "--python", f"{module}:grads"])
    out = capsys.readouterr().out
    assert status == 1
    assert "grads raised SystemExit: 3 when called with X (2, 3)" in out
    module.write_text("import sys\nsys.exit(0)\n")
    status = main(["check", "2-3-1:relu,identity:mse", "--python", f"{module}:grads"])
    assert status == 2
    assert "importing" in capsys.readouterr().err
