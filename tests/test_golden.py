"""Golden write-ups: any change to what a reader sees shows up as a reviewed diff."""

from pathlib import Path

import pytest
from gradscribe.codegen.writeup import render_writeup
from gradscribe.derive import spec
from gradscribe.derive.chain import derive

DATA = Path(__file__).parent / "data"

CASES = {
    "height_mlp": spec.DEFAULT_SPEC,
    "row_softmax": "3-4-2:leaky_relu@0.2,softmax:cross_entropy:row",
    "bce_three_layers": "2-3-3-1:elu,silu,sigmoid:binary_cross_entropy",
    # summed BCE (reduction = "sum") with a hidden layer without bias
    "summed_bce_no_bias": """\
name = "summed_bce_no_bias"
layout = "row"
inputs = 2
loss = "binary_cross_entropy"
reduction = "sum"

[[layer]]
units = 3
activation = "tanh"
bias = false

[[layer]]
units = 2
activation = "sigmoid"
""",
}


def network(source):
    return spec.parse_toml(source) if "\n" in source else spec.load(source)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("fmt", ["tex", "md"])
def test_writeup_matches_golden(golden, name, fmt):
    golden(f"{name}.{fmt}", render_writeup(derive(network(CASES[name])), fmt))


#: Worked examples: seed 004's [example] table, and the default network's seeded numbers.
EXAMPLES = {
    "seed004_example": (str(DATA / "seed004.toml"), False),
    "height_mlp_example": (spec.DEFAULT_SPEC, True),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
@pytest.mark.parametrize("fmt", ["tex", "md"])
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_worked_example_matches_golden(golden, name, fmt, lang):
    source, flag = EXAMPLES[name]
    suffix = "" if lang == "en" else f".{lang}"
    text = render_writeup(derive(network(source)), fmt, example=flag, lang=lang)
    golden(f"{name}{suffix}.{fmt}", text)


@pytest.mark.parametrize("fmt", ["tex", "md"])
def test_korean_writeup_matches_golden(golden, fmt):
    golden(f"row_softmax.ko.{fmt}", render_writeup(derive(network(CASES["row_softmax"])), fmt, lang="ko"))
