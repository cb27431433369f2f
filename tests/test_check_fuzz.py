"""Thousands of wrong formulas: each one WRONG, exit 1, figures and a diagnosis, no traceback.

Each example takes a right formula of a network (written by hand below, per layout and
loss), applies one slip that is wrong by construction -- a constant factor, an added
constant, a transpose, a sum over an axis, a symbol swapped for another, operands swapped,
another activation's derivative -- and runs `gradscribe check --formula` on it in-process.
The networks cover every activation (step aside: nothing below it learns), every loss and
both layouts; batch sizes 3, 5, 4 rule out coincidences of shape.
"""

from __future__ import annotations

import contextlib
import io
import json
import os

import pytest
from gradscribe.derive.spec import load
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradscribe.cli import main

NETS = [
    "2-3-1:tanh,identity:mse",
    "3-4-2:relu,sigmoid:mse:row",
    "2-3-3-2:leaky_relu@0.2,elu,softplus:half_sse",
    "3-2-3:silu,tanh:half_sse:row",
    "4-3-3:sigmoid,softmax:cross_entropy",
    "3-4-3:elu,softmax:cross_entropy:row",
    "2-3-2:softplus,sigmoid:binary_cross_entropy",
    "3-2-2-2:relu,tanh,sigmoid:binary_cross_entropy:row",
    "1-2-1:identity,silu:mse:row",
    "2-2-2:leaky_relu,identity:mse",
]
OPTIONAL_NETS = [  # losses that may not be in every build: used where the registry has them
    "2-3-2:tanh,softmax:cross_entropy@sum",
    "3-2-2:relu,sigmoid:binary_cross_entropy@sum:row",
    "2-3-1:sigmoid,tanh:sse",
]
ELEMENTWISE = ["identity", "relu", "leaky_relu", "elu", "sigmoid", "tanh", "softplus", "silu"]


def _available():
    nets = list(NETS)
    for text in OPTIONAL_NETS:
        try:
            inline = load(text).inline()
        except Exception:  # noqa: BLE001, S112  # a loss this build does not have yet
            continue
        if "@sum" in text and "@sum" not in inline:
            continue  # read as a mean: not the loss this table writes P - T for
        nets.append(text)
    return nets


# ------------------------------------------------------------------------------ expressions
# ("sym", name) ("num", value) ("bin", op, a, b) ("T", a) ("sum", a, axis, keepdims)
# ("prime", activation, arg)


def render(e) -> str:
    kind = e[0]
    if kind == "sym":
        return e[1]
    if kind == "num":
        return repr(e[1])
    if kind == "bin":
        return f"({render(e[2])} {e[1]} {render(e[3])})"
    if kind == "T":
        return f"{render(e[1])}.T"
    if kind == "sum":
        return f"{render(e[1])}.sum(axis={e[2]}, keepdims={e[3]})"
    if kind == "prime":
        return f"{e[1]}_prime({render(e[2])})"
    raise AssertionError(e)


def S(name):
    return ("sym", name)


def B(op, a, b):
    return ("bin", op, a, b)


def right_formulas(net):
    """{lhs: expression} for every D_l, dW_l, dB_l of `net`, the right ones."""
    L = net.depth
    column = net.layout == "column"
    acts = [layer.activation for layer in net.layers]
    n_out = net.sizes[-1]
    out = {}
    diff = B("-", S("P"), S("T"))
    prime_L = ("prime", acts[-1], S(f"G{L}"))
    loss = net.loss.split("@")[0] + ("@sum" if "@sum" in net.inline() else "")
    if net.loss == "mse":
        top = B("*", B("/", B("*", ("num", 2), diff), B("*", S("N"), ("num", n_out))), prime_L)
    elif net.loss == "half_sse":
        top = B("*", diff, prime_L)
    elif net.loss == "sse":
        top = B("*", B("*", ("num", 2), diff), prime_L)
    elif loss == "cross_entropy":
        top = B("/", diff, S("N"))
    elif loss == "binary_cross_entropy":
        top = B("/", diff, B("*", S("N"), ("num", n_out)))
    elif loss.endswith("@sum"):
        top = diff
    else:
        raise AssertionError(net.loss)
    out[f"D{L}"] = top
    for l in range(1, L + 1):
        prev = S("X") if l == 1 else S(f"R{l - 1}")
        if l < L:
            back = (B("@", ("T", S(f"W{l + 1}")), S(f"D{l + 1}")) if column
                    else B("@", S(f"D{l + 1}"), ("T", S(f"W{l + 1}"))))
            out[f"D{l}"] = B("*", back, ("prime", acts[l - 1], S(f"G{l}")))
        out[f"dW{l}"] = B("@", S(f"D{l}"), ("T", prev)) if column else B("@", ("T", prev), S(f"D{l}"))
        out[f"dB{l}"] = ("sum", S(f"D{l}"), 1 if column else 0, column)
    return out


# ------------------------------------------------------------------------------ slips


def positions(e, path=()):
    """Paths to every subexpression whose change changes the value (not inside f'(...))."""
    yield path
    kind = e[0]
    if kind == "bin":
        yield from positions(e[2], path + (2,))
        yield from positions(e[3], path + (3,))
    elif kind in ("T", "sum"):
        yield from positions(e[1], path + (1,))


def at(e, path):
    for i in path:
        e = e[i]
    return e


def replace(e, path, new):
    if not path:
        return new
    i = path[0]
    return e[:i] + (replace(e[i], path[1:], new),) + e[i + 1:]


def shape_of(name, net, batch=3):
    """The shape of a symbol leaf (2-D for everything but scalars)."""
    column = net.layout == "column"
    sizes = net.sizes
    if name == "N":
        return ()
    if name in ("X",):
        n = sizes[0]
    elif name in ("T", "P"):
        n = sizes[-1]
    elif name[0] in "GRD":
        n = sizes[int(name[1:])]
    elif name[0] == "W":
        l = int(name[1:])
        return (sizes[l], sizes[l - 1]) if column else (sizes[l - 1], sizes[l])
    else:
        raise AssertionError(name)
    return (n, batch) if column else (batch, n)


def swaps(name, net):
    """Symbols a student might write instead of `name`, each different in value."""
    L = net.depth
    acts = [layer.activation for layer in net.layers]
    out = []
    if name == "X":
        out.append("R1")
    elif name in ("P", "T"):
        out.append("T" if name == "P" else "P")
        if name == "P" and acts[-1] != "identity":
            out.append(f"G{L}")
    elif name[0] in "RG":
        l = int(name[1:])
        if acts[l - 1] != "identity":
            out.append(("G" if name[0] == "R" else "R") + str(l))
        if name[0] == "R":
            out.append("X" if l == 1 else f"R{l - 1}")
    elif name[0] in "DW":
        l = int(name[1:])
        out += [f"{name[0]}{j}" for j in (l - 1, l + 1) if 1 <= j <= L]
    return out


@st.composite
def wrong_formulas(draw, nets):
    text = draw(st.sampled_from(nets))
    net = load(text)
    formulas = right_formulas(net)
    lhs = draw(st.sampled_from(sorted(formulas)))
    expr = formulas[lhs]
    paths = list(positions(expr))
    kinds = ["factor", "constant", "transpose", "sum", "swap", "operands", "prime"]
    for _ in range(50):
        kind = draw(st.sampled_from(kinds))
        path = draw(st.sampled_from(paths))
        node = at(expr, path)
        parent = at(expr, path[:-1]) if path else None
        if kind == "factor":
            c = draw(st.sampled_from([2, 0.5, -1, 3, 10, 0.1, -2]))
            return text, lhs, replace(expr, path, B("*", ("num", c), node)), kind
        if kind == "constant" and any(at(expr, path[:i])[:2] == ("bin", "@") for i in range(len(path))):
            continue  # ones @ D is 0 where D's columns sum to 0 (softmax + cross-entropy)
        if kind == "constant":
            c = draw(st.sampled_from([1, -1, 0.5, 2, 1e-3]))
            return text, lhs, replace(expr, path, B("+", node, ("num", c))), kind
        if kind == "sum" and parent is not None and parent[0] == "sum":
            continue  # a sum of a sum over the same axis is no slip
        if kind in ("transpose", "sum") and node[0] == "sym" and node[1] != "N":
            shape = shape_of(node[1], net)
            if kind == "transpose" and shape != (1, 1):
                return text, lhs, replace(expr, path, ("T", node)), kind
            axes = [a for a in (0, 1) if shape[a] > 1]
            if kind == "sum" and axes:
                axis = draw(st.sampled_from(axes))
                keep = draw(st.booleans())
                return text, lhs, replace(expr, path, ("sum", node, axis, keep)), kind
        if kind == "swap" and node[0] == "sym":
            options = swaps(node[1], net)
            if options:
                return text, lhs, replace(expr, path, S(draw(st.sampled_from(options)))), kind
        if kind == "operands" and node[0] == "bin" and node[1] in "-/@":
            return text, lhs, replace(expr, path, B(node[1], node[3], node[2])), kind
        if kind == "prime":
            primes = [p for p in positions_all(expr) if at(expr, p)[0] == "prime"]
            if primes:
                p = draw(st.sampled_from(primes))
                old = at(expr, p)
                others = [a for a in ELEMENTWISE if a != old[1]]
                return text, lhs, replace(expr, p, ("prime", draw(st.sampled_from(others)), old[2])), kind
    # always possible: a factor on the whole right-hand side
    return text, lhs, B("*", ("num", 2), expr), "factor"


def positions_all(e, path=()):
    yield path
    if e[0] == "bin":
        yield from positions_all(e[2], path + (2,))
        yield from positions_all(e[3], path + (3,))
    elif e[0] in ("T", "sum"):
        yield from positions_all(e[1], path + (1,))
    elif e[0] == "prime":
        yield from positions_all(e[2], path + (2,))


def _check(net, formula):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["check", net, "--formula", formula, "--json"])
    return status, out.getvalue(), err.getvalue()


NETS_HERE = _available()


@pytest.mark.parametrize("net", NETS_HERE)
def test_the_right_formulas_of_the_generator_are_right(net):
    for lhs, expr in right_formulas(load(net)).items():
        status, out, err = _check(net, f"{lhs} = {render(expr)}")
        assert status == 0, (lhs, render(expr), out, err)


@settings(max_examples=int(os.environ.get("FUZZ_N", "1000")), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(wrong_formulas(NETS_HERE))
def test_every_wrong_formula_is_wrong_with_a_diagnosis(case):
    net, lhs, expr, kind = case
    formula = f"{lhs} = {render(expr)}"
    status, out, err = _check(net, formula)
    assert err == "", (formula, err)
    assert status == 1, (net, formula, kind, out)
    data = json.loads(out)
    assert data["ok"] is False and list(data["params"]) == [lhs]
    entry = data["params"][lhs]
    assert entry["ok"] is False
    diagnosis = entry["diagnosis"]
    assert diagnosis and "\n" not in diagnosis, (formula, diagnosis)
    if "no simple cause found" in diagnosis:
        # the worst element, or (shapes that cannot be compared) the shapes
        assert (f"{lhs}[" in diagnosis and "expected" in diagnosis) or "belongs" in diagnosis, (
            formula, diagnosis)
