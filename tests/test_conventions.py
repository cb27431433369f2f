"""`conventions`: how `check --python` builds, calls and reads hand-written code (no judging here)."""

from __future__ import annotations

import itertools
import types

import numpy as np
import pytest
from gradscribe.check import conventions
from gradscribe.check.conventions import (
    Adapter,
    CallingError,
    ReturnError,
    Target,
    normalize,
)
from gradscribe.derive.spec import load

COLUMN = load("3-4-2:tanh,identity:mse")           # W1 (4, 3), B1 (4, 1), W2 (2, 4), B2 (2, 1)
ROW = load("3-4-2:tanh,identity:mse:row")          # W1 (3, 4), B1 (4,), W2 (4, 2), B2 (2,)


def _params(net, rng=None):
    rng = rng or np.random.default_rng(0)
    return {k: rng.normal(size=conventions.layout_shape(net, k)) for k in conventions.param_names(net)}


def _mark(net):
    """Gradients whose every entry names its parameter: W1 -> 1.0, B1 -> 1.5, W2 -> 2.0 ..."""
    return {k: np.full(conventions.layout_shape(net, k), int(k[1:]) + (0.5 if k[0] == "B" else 0.0))
            for k in conventions.param_names(net)}


def _values(grads):
    return {k: float(np.asarray(v).flat[0]) for k, v in grads.items()}


@pytest.mark.parametrize("name,gradient,expected", [
    ("W1", False, "W1"), ("w2", False, "W2"), ("b1", False, "B1"), ("B_2", False, "B2"),
    ("weights1", False, "W1"), ("bias2", False, "B2"), ("W3", False, None), ("dW1", False, None),
    ("dW1", True, "W1"), ("db2", True, "B2"), ("grad_b1", True, "B1"), ("X", True, None),
])
def test_canonical_names(name, gradient, expected):
    assert conventions.canonical(name, COLUMN, gradient=gradient) == expected


def test_dict_keys_in_any_case_are_read_and_reported():
    m = _mark(COLUMN)
    grads, notes = normalize({"dw1": m["W1"], "b1": m["B1"], "W2": m["W2"], "extra": 1}, COLUMN)
    assert set(grads) == {"W1", "B1", "W2", "extra"}
    assert grads["W1"] is m["W1"] and grads["B1"] is m["B1"]
    assert notes == ["keys read as the network's: dw1 as W1, b1 as B1"]


@pytest.mark.parametrize("order,reading", [
    ("W1 B1 W2 B2 W3 B3", "(W1, B1, W2, B2, W3, B3)"),
    ("W3 B3 W2 B2 W1 B1", "(W3, B3, W2, B2, W1, B1) (last layer first)"),
    ("W1 W2 W3 B1 B2 B3", "(W1, W2, W3, B1, B2, B3)"),
    ("B1 B2 B3 W1 W2 W3", "(B1, B2, B3, W1, W2, W3)"),
    ("W3 W2 W1 B3 B2 B1", "(W3, W2, W1, B3, B2, B1) (last layer first)"),
])
def test_flat_tuples_are_read_by_shape_and_order(order, reading):
    # 3-4-4-2: W2 is square and B1, B2 have the same size: the order decides between them
    net = load("3-4-4-2:tanh,tanh,identity:mse:row")
    m = _mark(net)
    grads, notes = normalize(tuple(m[k] for k in order.split()), net, "f")
    assert _values(grads) == _values(m)
    assert notes == [f"f returned a tuple of 6 arrays, read by shape and order as {reading}"]


def test_nielsen_pair_of_lists_and_loss_first():
    m = _mark(COLUMN)
    pair = ([m["B1"], m["B2"]], [m["W1"], m["W2"]])
    grads, notes = normalize(pair, COLUMN, "backprop")
    assert _values(grads) == _values(m)
    assert "a tuple of 2 lists (4 arrays), read by shape and order as (B1, B2, W1, W2)" in notes[0]
    grads, notes = normalize((0.25, {"W1": m["W1"]}), COLUMN, "loss")
    assert list(grads) == ["W1"] and "returned (loss, gradients)" in notes[0]
    grads, notes = normalize((np.float64(0.3), m["W1"], m["B1"], m["W2"], m["B2"]), COLUMN, "g")
    assert _values(grads) == _values(m) and "taken as the loss" in notes[0]


def test_transposed_weights_in_a_tuple_are_kept_for_the_judge():
    m = _mark(COLUMN)
    grads, _ = normalize((m["W1"].T, m["B1"], m["W2"], m["B2"]), COLUMN)
    assert grads["W1"].shape == (3, 4)


def test_returns_that_are_not_gradients():
    with pytest.raises(ReturnError, match="returned str, not gradients"):
        normalize("done", COLUMN, "f")
    with pytest.raises(ReturnError, match="a tuple of 3 arrays; the network has 4 parameters"):
        normalize((np.zeros(1), np.zeros(1), np.zeros(1)), COLUMN, "f")


# ------------------------------------------------------------------------------ binding


def test_functions_get_arguments_by_name_in_any_case():
    seen = {}

    def f(x, Y, w1, B1, W2, b2):
        seen.update(x=x, Y=Y, w1=w1, B1=B1, W2=W2, b2=b2)
        return {}

    p = _params(ROW)
    adapter = Adapter(f, ROW)
    adapter.call(p, "X", "T")
    assert seen["x"] == "X" and seen["Y"] == "T"
    assert all(seen[k] is p[conventions.canonical(k, ROW)] for k in ("w1", "B1", "W2", "b2"))
    assert adapter.notes == [("test_functions_get_arguments_by_name_in_any_case.<locals>.f gets W1, "
                             "B1, W2, B2 by name")]


def test_positional_and_params_by_any_name():
    p = _params(COLUMN)
    for f in (lambda params, X, T: (params, X, T), lambda p, X, y: (p, X, y),
              lambda a, b, c: (a, b, c)):
        assert Adapter(f, COLUMN).call_raw(p, "X", "T") == (p, "X", "T")
    with pytest.raises(CallingError, match="cannot tell what to pass as 'lr'"):
        Adapter(lambda W1, X, T, lr: None, COLUMN)
    with pytest.raises(CallingError, match=r"expected \(params, X, T\)"):
        Adapter(lambda a, b, c, d: None, COLUMN)


# ------------------------------------------------------------------------------ classes


class Lists:
    def __init__(self, sizes):
        self.biases = [np.zeros((n, 1)) for n in sizes[1:]]
        self.weights = [np.zeros((n, m)) for m, n in itertools.pairwise(sizes)]

    def backprop(self, x, y):
        return ([b + 0.5 for b in self.biases], [w + 0.0 for w in self.weights])


class Separate:
    """One attribute per parameter, weights stored (n_in, n_out) in a column-layout network."""

    def __init__(self, n_in, n_hidden, n_out, seed=0):
        self.W1 = np.zeros((n_in, n_hidden))
        self.b1 = np.zeros(n_hidden)
        self.W2 = np.zeros((n_hidden, n_out))
        self.b2 = np.zeros(n_out)

    def gradients(self, X, T):
        return {"W1": self.W1.copy(), "b1": self.b1.copy(), "W2": self.W2.copy(), "b2": self.b2.copy()}


class Layered:
    """Dense layers with activation layers between them."""

    def __init__(self, sizes):
        self.layers = []
        for m, n in itertools.pairwise(sizes):
            self.layers.append(types.SimpleNamespace(weight=np.zeros((n, m)), bias=np.zeros((n, 1))))
            self.layers.append(types.SimpleNamespace(kind="tanh"))

    def grads(self, inputs, targets):
        return [(layer.weight, layer.bias) for layer in self.layers if hasattr(layer, "weight")]


class NoParams:
    def __init__(self):
        self.rate = 0.1

    def step(self, X, T):
        return {}


def test_class_with_lists_built_from_a_list_of_sizes():
    p = _params(COLUMN)
    adapter = Adapter(Target("Lists.backprop", cls=Lists, method="backprop"), COLUMN)
    assert adapter.notes[0] == ("Lists([3, 4, 2]) built; parameters set in W1 -> self.weights[0], "
                                "B1 -> self.biases[0], W2 -> self.weights[1], B2 -> self.biases[1]")
    out = adapter.call(p, np.zeros((3, 1)), np.zeros((2, 1)))
    for k in ("W1", "W2"):
        assert np.array_equal(out.grads[k], p[k])
    assert np.array_equal(out.grads["B1"], p["B1"] + 0.5)


def test_class_with_separate_ints_and_transposed_storage():
    p = _params(COLUMN)
    adapter = Adapter(Target("Separate.gradients", cls=Separate, method="gradients"), COLUMN)
    assert adapter.notes[0].startswith("Separate(3, 4, 2) built; parameters set in W1 -> self.W1")
    assert ("W1 is stored transposed, (3, 4) where the column layout has (4, 3): its gradient is "
            "judged transposed back") in adapter.notes
    out = adapter.call(p, None, None)
    assert np.array_equal(adapter.instance.W1, p["W1"].T)
    assert adapter.instance.b1.shape == (4,) and np.array_equal(adapter.instance.b1, p["B1"][:, 0])
    for k in conventions.param_names(COLUMN):
        assert np.array_equal(out.grads[k], p[k]), k  # back in the layout's shapes


def test_class_with_a_list_of_layer_objects():
    p = _params(COLUMN)
    adapter = Adapter(Target("Layered.grads", cls=Layered, method="grads"), COLUMN)
    assert "W2 -> self.layers[2].weight, B2 -> self.layers[2].bias" in adapter.notes[0]
    out = adapter.call(p, None, None)
    assert all(np.array_equal(out.grads[k], p[k]) for k in p)


class Named:
    """Attributes named for their role, not their layer number."""

    def __init__(self, n_in, n_hidden, n_out):
        self.W_hidden = np.zeros((n_hidden, n_in))
        self.b_hidden = np.zeros((n_hidden, 1))
        self.W_out = np.zeros((n_out, n_hidden))
        self.b_out = np.zeros((n_out, 1))
        self.cache = np.zeros((n_hidden, 1))

    def backward(self, X, T):
        return {"W1": self.W_hidden, "b1": self.b_hidden, "W2": self.W_out, "b2": self.b_out}


def test_attributes_found_by_shape_when_their_names_say_only_weight_or_bias():
    adapter = Adapter(Target("Named.backward", cls=Named, method="backward"), COLUMN)
    assert adapter.notes[0] == ("Named(3, 4, 2) built; parameters set in W1 -> self.W_hidden (by "
                                "shape), B1 -> self.b_hidden (by shape), W2 -> self.W_out (by "
                                "shape), B2 -> self.b_out (by shape)")


def test_classes_that_cannot_be_used():
    with pytest.raises(CallingError, match=r"NoParams\(\) has no attribute holding W1, B1, W2, B2"):
        Adapter(Target("NoParams.step", cls=NoParams, method="step"), COLUMN)

    class Needs:
        def __init__(self, sizes):
            raise RuntimeError("needs a data file")

        def f(self, X, T):
            return {}

    with pytest.raises(CallingError, match="Needs.*raised RuntimeError: needs a data file"):
        Adapter(Target("Needs.f", cls=Needs, method="f"), COLUMN)


def test_a_bound_method_of_an_existing_object():
    p = _params(COLUMN)
    net = Lists([3, 4, 2])
    adapter = Adapter(net.backprop, COLUMN)
    assert adapter.notes[0].startswith("the Lists object used; parameters set in W1 -> self.weights[0]")
    held = net.weights[1]
    out = adapter.call(p, np.zeros((3, 1)), np.zeros((2, 1)))
    # written into the array the object holds (aliases see the values), not rebound
    assert net.weights[1] is held and np.array_equal(held, p["W2"])
    assert np.array_equal(out.grads["W2"], p["W2"])


def test_resolve_names():
    module = types.SimpleNamespace(Lists=Lists, f=lambda params, X, T: {}, N=3)
    assert conventions.resolve(module, "Lists.backprop").cls is Lists
    assert conventions.resolve(module, "f").function is module.f
    for name, message in [("g", "has no function 'g'"), ("N", "is not callable"),
                          ("Lists", "is a class"), ("Lists.nope", "has no method 'nope'"),
                          ("f.x", "is not a class"), ("a-b", "not a function name")]:
        with pytest.raises(CallingError, match=message):
            conventions.resolve(module, name)


def test_samples_split_and_combined():
    X, T = np.arange(6.0).reshape(2, 3), np.array([0, 2, 1])
    pieces = conventions.split_samples(COLUMN, X, T, 3)
    assert [x.shape for x, _ in pieces] == [(2, 1)] * 3 and [t.tolist() for _, t in pieces] == [[0], [2], [1]]
    outs = [conventions.Outcome({"W1": np.full((2, 2), float(i))}, ["n"]) for i in range(3)]
    assert conventions.combine(outs, mean=False).grads["W1"][0, 0] == 3.0
    assert conventions.combine(outs, mean=True).grads["W1"][0, 0] == 1.0
    assert conventions.combine(outs, mean=True).notes == ["n"]


def test_shape_is_plain_data():
    shape = conventions.Shape.of(COLUMN)
    assert shape == conventions.Shape((3, 4, 2), "column", (True, True))
    assert conventions.Shape.from_json(shape.to_json()) == shape
    assert conventions.param_names(conventions.Shape((3, 4, 2), "row", (False, True))) == ["W1", "W2", "B2"]
