"""`check --python` tells code for one sample from batch code by what it does, not by its names.

The code is in `tests/backprops/students.py`, each right and with one bug. Each case runs the
command line as a student would and asserts the exit status, the verdict per parameter with
the diagnosis the student reads, and whether (and why) FUNC was called once per sample.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gradscribe.check import conventions
from gradscribe.check.judge import check_function

from gradscribe.cli import main

STUDENTS = Path(__file__).parent / "backprops" / "students.py"
HALF = "3-4-2:sigmoid,sigmoid:half_sse"
MSE = "3-4-2:tanh,identity:mse"
IMAGES = "4-5-3:relu,softmax:cross_entropy:row"
SSE_ROW = "3-4-2:relu,identity:sse:row"

PER_SAMPLE = "called once per sample"
AVERAGED = "called once per sample and the results averaged (the loss is a mean over the batch)"
SUMMED_UP = "its weight gradients are its per-sample results added up (where the loss needs their mean)"

CASES = {
    # target: (net, extra arguments, {param: diagnosis fragment} for the wrong ones,
    #          fragments of the notes, or None where FUNC must be called with the whole batch)
    "Nielsen.backprop": (HALF, [], {}, ["it names its data for one sample (a)",
                                        "called once per sample and the results summed"]),
    "BuggyNielsen.backprop": (HALF, [], {
        "W1": "dW1: leaves out the activation derivative sigmoid'(G1) of layer 1",
        "B1": "dB1: leaves out the activation derivative sigmoid'(G1) of layer 1"},
        ["it names its data for one sample (a)"]),
    "one_column": (MSE, [], {}, [SUMMED_UP, AVERAGED]),
    "one_column_buggy": (MSE, [], {
        "W1": "dW1: uses G1 where layer 1's tanh' formula needs the output R1",
        "B1": "dB1: uses G1 where layer 1's tanh' formula needs the output R1"},
        [SUMMED_UP, AVERAGED]),
    "one_image": (IMAGES, ["--targets", "labels"], {},
                  [("for a batch (N = 3) it raised ValueError, for one sample (plain vectors) "
                    "every shape is right"), AVERAGED]),
    "one_image_buggy": (IMAGES, ["--targets", "labels"], {
        "W2": "dW2 is transposed (layer 2): shape (3, 5) where (5, 3) belongs"},
        ["for a batch (N = 3) it raised ValueError, for one sample (plain vectors) it runs",
         AVERAGED]),
    "positional": (MSE, [], {}, ["positional gets W1, B1, W2, B2 by name", SUMMED_UP]),
    "pair": (MSE, [], {}, ["pair gets the data as one pair (X, T) in 'example'", SUMMED_UP]),
    "pair_buggy": (MSE, [], {
        "W1": "dW1: uses G1 where layer 1's tanh' formula needs the output R1",
        "B1": "dB1: uses G1 where layer 1's tanh' formula needs the output R1"}, [SUMMED_UP]),
    "batch_pair": (MSE, [], {}, None),
    "fastai_style": (MSE, [], {}, None),
    "fastai_style_no_bias_sum": (MSE, [], {
        "B1": "dB1 is not reduced over the batch: it is δ1 itself (layer 1): got shape (4, 3)",
        "B2": "dB2 is not reduced over the batch: it is δ2 itself (layer 2): got shape (2, 3)"},
        None),
    "torch_style": (SSE_ROW, [], {}, None),
    "inputs_targets": (SSE_ROW, [], {}, None),
    "inputs_targets_no_bias_sum": (SSE_ROW, [], {
        "B1": "dB1 is not reduced over the batch: it is δ1 itself (layer 1): got shape (3, 4)",
        "B2": "dB2 is not reduced over the batch: it is δ2 itself (layer 2): got shape (3, 2)"},
        None),
}


def _rows(out: str) -> dict:
    """{param: (verdict, rest of the row)} from the report table."""
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) > 1 and parts[0] in ("W1", "B1", "W2", "B2") and parts[1] in ("ok", "WRONG"):
            rows[parts[0]] = (parts[1], line)
    return rows


@pytest.mark.parametrize("target", list(CASES))
def test_per_sample_or_batch_told_by_behaviour(target, capsys):
    net, extra, wrong, notes = CASES[target]
    status = main(["check", net, "--python", f"{STUDENTS}:{target}", *extra])
    out = capsys.readouterr().out
    assert status == (1 if wrong else 0), out
    assert out.rstrip().endswith("all right" if not wrong else "WRONG: " + ", ".join(wrong)), out
    rows = _rows(out)
    assert set(rows) == {"W1", "B1", "W2", "B2"}, out
    for k, (verdict, line) in rows.items():
        if k in wrong:
            assert verdict == "WRONG" and wrong[k] in line, line
        else:
            assert verdict == "ok", line
    if notes is None:
        assert PER_SAMPLE not in out
    else:
        assert len([n for n in out.splitlines() if PER_SAMPLE in n]) == 1, out
        for fragment in notes:
            assert fragment in out, out


def test_names_break_the_tie_only_where_behaviour_cannot():
    """Batch code that forgot to sum its bias gradients and code for one sample return the same
    for a batch (where the weights come out right): a name for one sample decides; a batch name
    does not."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("students", STUDENTS)
    students = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(students)

    def as_x(params, x, y):
        return students.fastai_style_no_bias_sum(params, x, y)

    def as_sample(params, sample, target):
        return students.fastai_style_no_bias_sum(params, sample, target)

    def as_big_x(params, X, Y):
        return students.fastai_style_no_bias_sum(params, X, Y)

    for func, names in ((as_x, "(x)"), (as_sample, "(sample)")):
        report = check_function(MSE, func)
        assert report.ok, report.table()
        assert any(f"it names its data for one sample {names}" in n for n in report.notes)
    report = check_function(MSE, as_big_x)
    assert not report.ok and not any(PER_SAMPLE in n for n in report.notes)
    assert report.params["B2"].diagnosis.startswith("dB2 is not reduced over the batch")


def test_binding_by_behaviour_and_position():
    net = conventions.Shape((3, 4, 2), "column", (True, True))

    def img_label(W1, b1, W2, b2, img, label, /):
        return img, label

    def unnamed(W1, b1, W2, b2, u, v):
        return u, v

    def one_pair(W1, b1, W2, b2, example):
        return example

    for func in (img_label, unnamed, one_pair):
        binding = conventions.bind(func, net, func.__name__, method=False)
        assert binding.takes == {"W1", "B1", "W2", "B2"}
    assert conventions.bind(img_label, net, "f", False).positional_only == frozenset(
        ("W1", "b1", "W2", "b2", "img", "label"))
    assert conventions.Adapter(unnamed, net).data_names == ("u", "v")
    assert conventions.Adapter(one_pair, net).data_names == ("example",)
    X, T = np.ones((3, 2)), np.zeros((2, 2))
    params = {k: np.zeros(s) for k, s in (("W1", (4, 3)), ("B1", (4, 1)), ("W2", (2, 4)),
                                          ("B2", (2, 1)))}
    x, t = conventions.Adapter(img_label, net).call_raw(params, X, T)
    assert x is X and t is T
    assert conventions.Adapter(one_pair, net).call_raw(params, X, T) == (X, T)
    method = conventions.bind(lambda sample: sample, net, "m", method=True)
    assert method.plan == [(None, "XT")] and method.names == {"XT": "sample"}


def test_vector_samples():
    row = conventions.Shape((3, 4, 2), "row", (True, True))
    X, labels = np.arange(6.0).reshape(2, 3), np.array([1, 0])
    [(x0, t0), (x1, t1)] = conventions.split_samples(row, X, labels, 2, "vector")
    assert x0.shape == (3,) and x1.tolist() == [3.0, 4.0, 5.0]
    assert np.ndim(t0) == 0 and int(t0) == 1 and int(t1) == 0
    column = conventions.Shape((3, 4, 2), "column", (True, True))
    [(x0, t0)] = conventions.split_samples(column, X.T[:, :1], np.ones((2, 1)), 1, "vector")
    assert x0.tolist() == [0.0, 1.0, 2.0] and t0.shape == (2,)


def test_scalars_cross_the_worker_as_scalars(tmp_path, capsys):
    """One sample's class label reaches FUNC as an integer scalar (as ``y[i]`` is), and a
    scalar returned for a (1, 1) gradient is reported with shape (), not (1,)."""
    (tmp_path / "mine.py").write_text(
        "import numpy as np\n"
        "def one(W1, b1, x, label):\n"
        "    assert x.shape == (2,) and isinstance(label, np.integer), (x.shape, type(label))\n"
        "    s = x @ W1 + b1\n"
        "    p = np.exp(s - s.max()); p /= p.sum(); p[label] -= 1\n"
        "    return {'W1': np.outer(x, p), 'b1': p}\n"
        "def scalar(params, X, T):\n"
        "    D = params['W1'] @ X + params['B1'] - T\n"
        "    return {'W1': np.float32((D @ X.T)[0, 0]), 'B1': np.float32(D.sum())}\n")
    status = main(["check", "2-3:softmax:cross_entropy:row", "--python",
                   f"{tmp_path / 'mine.py'}:one", "--targets", "labels"])
    out = capsys.readouterr().out
    assert status == 0 and "for one sample (plain vectors) every shape is right" in out, out
    status = main(["check", "1-1:identity:half_sse", "--python", f"{tmp_path / 'mine.py'}:scalar"])
    out = capsys.readouterr().out
    assert status == 1
    assert "dW1 (layer 1) has the right values in another shape: () instead of (1, 1)" in out
