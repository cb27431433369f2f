"""examples/train_digits.py: a generated classifier really learns scikit-learn's digits."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "train_digits.py"


def load_example():
    spec = importlib.util.spec_from_file_location("train_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_short_training_run_reaches_a_real_accuracy():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("scikit-learn is missing under CI=true: the test extra must install it")
        pytest.skip("scikit-learn comes with the test extra")
    example = load_example()
    lines = []
    accuracy, seconds = example.train(epochs=6, log=lines.append)
    assert len(lines) == 6 and all(line.startswith("epoch") for line in lines)
    assert accuracy >= 0.93, lines[-1]  # 10 classes: chance is 10 %
    assert seconds < 60
