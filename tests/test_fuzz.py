"""Fuzzing the command line with Hypothesis: 2,000 inline networks and TOML spec files per run,
valid and broken, through `verify`, `derive` and `codegen`.

Whatever the input: no exception escapes `main` (the project's own input errors become exit
status 2), the status is 0, 1 or 2, and stderr is one line (an error) or warnings only, one
line per warned activation. A valid network's kernel compiles and its write-ups carry an
intact body stamp; tiny valid networks are also proven. Inputs that once failed live in
tests/fuzz_corpus.jsonl and are replayed on every run.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import string
import tempfile
from pathlib import Path

import pytest
from gradscribe.codegen.stamp import provenance
from gradscribe.derive import activations, losses, proof, spec
from gradscribe.derive.errors import SpecError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradscribe.cli import main

CORPUS = Path(__file__).parent / "fuzz_corpus.jsonl"
INLINE_EXAMPLES = 1100
TOML_EXAMPLES = 900
PROOFS = 6  # tiny valid networks proven per fuzz test, beside the parsing of every input

ACTS = sorted(activations.ACTIVATIONS)
LOSSES = sorted(losses.LOSSES)
HIDDEN = [name for name in ACTS if not activations.get(name).output_only]
JUNK_WORDS = ["", " ", "rleu", "RELU", "relu ", "soft max", "mse\n", "nan", "inf", "-1", "0",
              "1e3", "\uff11", "\x00", "\u00e9", "@", ",", ":", "-", "\\", "'", '"', "\t", "\r\n"]


def run(*args: str) -> tuple[int, str, str]:
    """`main(args)` with stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()


def assert_outcome(status: int, err: str) -> None:
    assert status in (0, 1, 2), status
    lines = err.splitlines()
    if status == 2:
        assert len(lines) == 1 and err.endswith("\n"), err
        assert lines[0].startswith("gradscribe: error: "), err
    else:
        assert all(line.startswith("gradscribe: warning: ") for line in lines), err
        assert len(lines) == len(set(line.split(": ")[2] for line in lines)), err


class Budget:
    """Counts of one fuzz test: inputs tried, valid networks rendered, proofs run."""

    def __init__(self):
        self.inputs = 0
        self.valid = 0
        self.proofs = 0


def exercise(net_arg: str, budget: Budget) -> None:
    """The verify, derive and codegen paths for one NET argument."""
    # verify: the spec is validated before anything else, then its options
    status, _, err = run("verify", net_arg, "--points", "0")
    assert_outcome(status, err)
    assert status == 2
    valid = "--points must be at least 1" in err
    # derive (LaTeX or Markdown) or codegen in turn: they share the parsing, each renders
    budget.inputs += 1
    args = (["derive"], ["derive", "--format", "md"], ["codegen"])[budget.inputs % 3]
    status, out, err = run(*args, net_arg)
    assert_outcome(status, err)
    assert (status == 0) == valid, err
    if status == 0:
        budget.valid += 1
        assert provenance(out.encode()) == "generated"
        if args == ["codegen"]:
            compile(out, "<generated kernel>", "exec")
    if valid and budget.proofs < PROOFS:
        net = spec.load(net_arg)
        if net.depth <= 2 and max(net.sizes) <= 2:
            budget.proofs += 1
            report = proof.prove(net, max_width=2, batch=1, points=1)
            assert report.ok, [v.mismatch for v in report.verdicts if not v.ok]


# ------------------------------------------------------------------------- strategies
# A valid network is drawn first; about half the inputs then get one corruption (a field
# replaced by junk or by a value of another type, a count that does not match, text cut out
# or put in), so that both the whole path and every error path are reached.

junk = st.one_of(st.sampled_from(JUNK_WORDS), st.text(max_size=6))
bad_size = st.sampled_from(["0", "-1", "", " ", "100001", "1" * 30, "9" * 4400, "1_0", "+1",
                            "0x1", "\uff12", "1.0", "1e3", "0" * 5000 + "2"])
bad_alpha = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["-0.1", "0", "nan", "1e999", "", "1000.5", "9" * 5000, "0x1", "1_0"]),
    junk,
)
inserts = st.one_of(
    st.sampled_from(["[", "]", "{", "}", '"', "'''", "\n", "=", "#", "\\", ":", "-", ",", "@",
                     "\x00", "\r", "[[layer]]\n", "[" * 40]),
    st.text(max_size=4),
)
CORRUPT = ["none"] * 5


@st.composite
def network(draw) -> dict:
    """A valid network as plain data: sizes, (activation, alpha or None) per layer, loss, layout."""
    depth = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 3), min_size=depth + 1, max_size=depth + 1))
    loss = draw(st.sampled_from(LOSSES))
    output = losses.get(loss).output
    acts = []
    for index in range(depth):
        if index == depth - 1 and output is not None:
            name = output
        else:
            name = draw(st.sampled_from(HIDDEN))
        alpha = None
        if activations.get(name).takes_alpha and draw(st.booleans()):
            alpha = draw(st.sampled_from(["0.2", "1", "0.01", "3", "1000", "0.5"]))
        acts.append((name, alpha))
    layout = draw(st.sampled_from(["column", "row", None]))
    return {"sizes": sizes, "acts": acts, "loss": loss, "layout": layout}


def mutate_text(draw, text: str) -> str:
    """`text` with a slice cut out or something put in."""
    at = draw(st.integers(0, len(text)))
    if draw(st.booleans()):
        return text[:at] + text[at + draw(st.integers(1, 8)):]
    return text[:at] + draw(inserts) + text[at:]


@st.composite
def inline_network(draw) -> str:
    net = draw(network())
    what = draw(st.sampled_from(CORRUPT + ["size", "act", "alpha", "loss", "layout", "count", "text"]))
    sizes = list(map(str, net["sizes"]))
    acts = [list(pair) for pair in net["acts"]]
    loss, layout = net["loss"], net["layout"]
    if what == "size":
        sizes[draw(st.integers(0, len(sizes) - 1))] = draw(st.one_of(bad_size, junk))
    elif what == "act":
        acts[draw(st.integers(0, len(acts) - 1))][0] = draw(st.one_of(st.sampled_from(ACTS), junk))
    elif what == "alpha":
        acts[draw(st.integers(0, len(acts) - 1))][1] = draw(bad_alpha)
    elif what == "loss":
        loss = draw(st.one_of(st.sampled_from(LOSSES), junk))
    elif what == "layout":
        layout = draw(junk)
    elif what == "count":
        acts = acts[:-1] if len(acts) > 1 and draw(st.booleans()) else acts + acts[-1:]
    text = ":".join(
        ["-".join(sizes), ",".join(a if b is None else f"{a}@{b}" for a, b in acts), loss]
        + ([layout] if layout is not None else [])
    )
    return mutate_text(draw, text) if what == "text" else text


raw_inline = st.text(alphabet=string.digits + ":-,@.relusoftmaxidentitysigmoidnh_ \n\x00\u00e9", max_size=40)

toml_scalar = st.one_of(
    st.integers(-5, 5), st.integers(), st.floats(), st.booleans(), st.text(max_size=8),
    st.sampled_from(ACTS + LOSSES + ["column", "row", "net", "height_mlp", "class", "1abc"]),
)
toml_value = st.recursive(
    toml_scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["a", "units", "b c"]), inner, max_size=2)),
    max_leaves=6,
)


def toml_literal(value) -> str:
    """A Python value as a TOML value (strings as basic strings, dicts as inline tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_literal(v)}" for k, v in value.items()) + "}"


@st.composite
def toml_spec(draw) -> str:
    net = draw(network())
    top = {"name": draw(st.sampled_from(["net", "height_mlp", "_x9"])), "layout": net["layout"],
           "inputs": net["sizes"][0], "loss": net["loss"]}
    layers = []
    for units, (name, alpha) in zip(net["sizes"][1:], net["acts"]):
        layer = {"units": units, "activation": name}
        if alpha is not None:
            layer["alpha"] = float(alpha)
        layers.append(layer)
    what = draw(st.sampled_from(CORRUPT + ["top", "layer", "drop", "extra", "example", "text"]))
    if what == "top":
        top[draw(st.sampled_from(sorted(top)))] = draw(toml_value)
    elif what == "layer":
        key = draw(st.sampled_from(["units", "activation", "alpha"]))
        layers[draw(st.integers(0, len(layers) - 1))][key] = draw(toml_value)
    elif what == "drop":
        key = draw(st.sampled_from([*sorted(top), "units", "activation"]))
        if key in top:
            top[key] = None
        else:
            layers[draw(st.integers(0, len(layers) - 1))].pop(key)
    elif what == "extra":
        key = draw(st.sampled_from(["extra", "Name", "bias", "unit", "dropout"]))
        (top if draw(st.booleans()) else layers[0])[key] = draw(toml_scalar)
    lines = [f"{key} = {toml_literal(value)}" for key, value in top.items() if value is not None]
    for layer in layers:
        lines += ["", "[[layer]]"] + [f"{key} = {toml_literal(value)}" for key, value in layer.items()]
    if what == "example":
        key = draw(st.sampled_from(["X", "T", "W1", "B1", "Z"]))
        lines += ["", "[example]", f"{key} = {toml_literal(draw(toml_value))}"]
    text = "\n".join(lines) + "\n"
    return mutate_text(draw, text) if what == "text" else text


# ------------------------------------------------------------------------------ tests

FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), database=None, print_blob=True)


@settings(FUZZ, max_examples=INLINE_EXAMPLES)
@given(st.one_of(inline_network(), inline_network(), inline_network(), raw_inline))
def test_fuzzed_inline_networks(budget_inline, net):
    exercise(net, budget_inline)


@settings(FUZZ, max_examples=TOML_EXAMPLES)
@given(toml_spec())
def test_fuzzed_toml_specs(budget_toml, folder, text):
    path = folder / "spec.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    exercise(str(path), budget_toml)


def corpus() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]


@pytest.mark.parametrize("entry", corpus(), ids=lambda entry: entry["why"][:40])
def test_inputs_that_once_failed(folder, entry):
    if entry["kind"] == "toml":
        path = folder / "corpus.toml"
        path.write_text(entry["text"], encoding="utf-8", errors="surrogatepass")
        arg = str(path)
    else:
        arg = entry["text"]
    for _ in range(3):  # each of derive, md and codegen in turn
        exercise(arg, Budget())
    status, _, err = run("codegen", arg)
    assert status == entry["status"], err
    if "message" in entry:
        assert entry["message"] in err


def test_spec_errors_are_the_only_exception_parsing_raises():
    """The parser itself (below the command line) raises SpecError and nothing else."""
    for text in ("1" * 5000 + "-1:relu:mse", "2-1:leaky_relu@" + "9" * 5000 + ":mse", "-" * 3000):
        with pytest.raises(SpecError):
            spec.load(text)


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def checked_budget(examples: int):
    """A Budget for one fuzz test; afterwards, check that the fuzzer reached valid networks."""
    budget = Budget()
    yield budget
    assert budget.inputs >= examples
    assert budget.valid > examples // 4, f"only {budget.valid} valid networks in {budget.inputs} inputs"
    assert budget.proofs > 0


@pytest.fixture(scope="module")
def budget_inline():
    yield from checked_budget(INLINE_EXAMPLES)


@pytest.fixture(scope="module")
def budget_toml():
    yield from checked_budget(TOML_EXAMPLES)
