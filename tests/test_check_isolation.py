"""`check --python` runs FUNC in a worker process: every misbehaving FUNC gets a verdict.

Each case: the exit status, the one-line diagnosis in the table/JSON, and (for FUNCs that
hang) the wall time. The command line runs in-process through the `cli` fixture; FUNC
itself runs in the worker the command starts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from gradscribe.check.conventions import CallingError
from gradscribe.check.judge import check_function

BACKPROPS = Path(__file__).parent / "backprops"
MODULE = BACKPROPS / "pathological.py"
NET = "2-3-1:tanh,identity:mse"


def _check(cli, func, *extra):
    status, out, err = cli("check", NET, "--python", f"{MODULE}:{func}", "--json", *extra)
    return status, (json.loads(out) if out.strip() else None), err


def _one_line(text):
    return text is not None and "\n" not in text and text.strip() == text


@pytest.mark.parametrize(
    "func,fragment",
    [
        ("imaginary", "complex128 array (it has an imaginary part)"),
        ("complex_dtype", "complex128 array (complex dtype)"),
        ("object_array", "an array of Python objects"),
        ("bool_array", "a boolean array"),
        ("string_array", "an array of strings, not an array of numbers"),
        ("none_value", "None, not an array of numbers"),
    ],
)
def test_wrong_array_types_are_wrong_not_converted(cli, func, fragment):
    status, data, err = _check(cli, func)
    assert status == 1, err
    assert data["ok"] is False
    bad = [p for p in data["params"].values() if not p["ok"]]
    assert bad and all(fragment in p["diagnosis"] or p["diagnosis"] is None for p in bad)
    assert any(fragment in p["diagnosis"] for p in bad)
    assert all(_one_line(p["diagnosis"]) for p in bad)


@pytest.mark.parametrize(
    "func,fragment",
    [
        ("exits_zero", "exits_zero ended its process (exit status 0) instead of returning (N = 3)"),
        ("segfaults", "ended its process with SIGSEGV instead of returning"),
        ("generator_exit", "generator_exit raised GeneratorExit when called with X (2, 3)"),
        ("custom_base_exception", "raised Custom: custom failure when called with"),
        ("keyboard_interrupt", "keyboard_interrupt raised KeyboardInterrupt when called with"),
        ("system_exit_zero", "system_exit_zero raised SystemExit: 0 when called with"),
        ("unprintable_exception", "raised Unprintable: <unprintable Unprintable> when called"),
        ("returns_generator", "returns_generator returned generator, not gradients"),
        ("returns_none", "returns_none returned NoneType, not gradients"),
    ],
)
def test_failing_functions_get_one_line_and_exit_1(cli, func, fragment):
    status, data, err = _check(cli, func)
    assert status == 1, err
    assert data["ok"] is False and data["params"] == {}
    assert fragment in data["error"] and _one_line(data["error"])


def test_a_dict_keyed_by_a_number_is_wrong(cli):
    status, data, _ = _check(cli, "int_key")
    assert status == 1 and data["ok"] is False
    assert "is not a parameter of the network" in data["params"]["1"]["diagnosis"]


def test_array_that_cannot_be_converted_is_wrong(cli):
    status, data, _ = _check(cli, "array_raises")
    assert status == 1
    assert "cannot be turned into an array: RuntimeError: no array here" in data["params"]["W1"]["diagnosis"]
    assert data["params"]["W2"]["ok"] is True


def test_hostile_dict_subclass_is_read_as_a_plain_dict(cli):
    status, data, _ = _check(cli, "hostile_dict_right")
    assert status == 0 and data["ok"] is True and len(data["params"]) == 4
    status, data, _ = _check(cli, "hostile_dict_wrong")
    assert status == 1
    assert all("factor of 2" in p["diagnosis"] for p in data["params"].values())


def test_float32_gradients_are_real_floating_point(cli):
    status, data, _ = _check(cli, "float32_right")
    # float32 rounding (~1e-7 relative) stays under the checker's tolerance here
    assert status == 0, data


@pytest.mark.parametrize("func", ["sleeps", "loops"])
def test_hanging_function_is_stopped_within_the_timeout(cli, func):
    start = time.monotonic()
    status, data, _ = _check(cli, func, "--timeout", "1")
    elapsed = time.monotonic() - start
    assert status == 1
    assert "did not finish within the time limit of 1 s (--timeout)" in data["error"]
    assert elapsed < 1 + 2, elapsed


def test_memory_is_bounded(cli):
    status, data, _ = _check(cli, "hogs_memory", "--memory", "300")
    assert status == 1
    assert "hogs_memory raised MemoryError" in data["error"]


def test_printing_megabytes_does_not_flood_the_report(cli):
    status, data, err = _check(cli, "floods")
    assert status == 0 and data["ok"] is True
    assert len(err) < 12_000
    assert "more bytes of output not shown" in err


@pytest.mark.parametrize(
    "module,fragment",
    [
        ("exits_on_import.py", "ended its process (exit status 0)"),
        ("hangs_on_import.py", "did not finish within the time limit of 1 s"),
    ],
)
def test_a_module_that_cannot_be_loaded_exits_2(cli, module, fragment):
    start = time.monotonic()
    status, out, err = cli("check", NET, "--python", f"{BACKPROPS / module}:grads", "--timeout", "1")
    assert status == 2 and out == ""
    assert fragment in err and len(err.strip().splitlines()) == 1
    assert time.monotonic() - start < 1 + 2


def test_bad_timeout_and_memory_exit_2(cli):
    for option, value in (("--timeout", "0"), ("--timeout", "nan"), ("--memory", "1")):
        status, _, err = cli("check", NET, "--python", f"{MODULE}:right", option, value)
        assert status == 2 and option in err


def test_help_text_mentions_timeout_default():
    from gradscribe.cli import build_parser

    text = build_parser()._subparsers._group_actions[0].choices["check"].format_help()
    assert "--timeout SECONDS" in text and "default 60" in text


# ------------------------------------------------------------------------------ the Python API


def test_api_runs_file_func_in_a_worker():
    report = check_function(NET, f"{MODULE}:exits_zero", timeout=5)
    assert not report.ok and "ended its process (exit status 0)" in report.error
    assert check_function(NET, f"{MODULE}:right").ok
    with pytest.raises(CallingError, match="has no function 'missing'"):
        check_function(NET, f"{MODULE}:missing")


def _load_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("pathological_inprocess", MODULE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "func,where,fragment",
    [
        ("imaginary", "W1", "it has an imaginary part"),
        ("bool_array", "B1", "a boolean array"),
        ("array_raises", "W1", "cannot be turned into an array"),
        ("int_key", "1", "is not a parameter of the network"),
        ("keyboard_interrupt", None, "raised KeyboardInterrupt"),
        ("system_exit_zero", None, "raised SystemExit: 0"),
        ("custom_base_exception", None, "raised Custom: custom failure"),
        ("unprintable_exception", None, "<unprintable Unprintable>"),
    ],
)
def test_in_process_mode_gives_the_same_verdicts(func, where, fragment):
    report = check_function(NET, getattr(_load_module(), func))
    assert not report.ok
    text = report.error if where is None else report.params[where].diagnosis
    assert fragment in text


def test_in_process_right_and_hostile_dict():
    module = _load_module()
    assert check_function(NET, module.right).ok
    assert check_function(NET, module.hostile_dict_right).ok
    assert np.isfinite(check_function(NET, module.right).params["W1"].max_abs_err)
