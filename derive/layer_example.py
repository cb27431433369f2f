"""A layer's worked example: its equations evaluated at small seeded numbers.

The inputs (x, the parameters, dout or the targets, the dropout mask) are one-decimal numbers
drawn from a SHA-256 stream keyed by the layer and the symbol's name and position, the same on
every machine; the equations run through `evaluate` on 40-digit SymPy Floats, so the printed 8
decimals are the true values rounded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sympy as sp

from . import losses
from .chain import N
from .evaluate import ExactBackend, evaluate
from .example import DIGITS, Value
from .layers import LayerDerivation

#: The batch size of a layer's worked example.
EXAMPLE_BATCH = 3
#: Widths above this are not printed in full: the example is for reading.
MAX_EXAMPLE_WIDTH = 6


@dataclass(frozen=True)
class LayerExample:
    batch: int
    inputs: tuple[Value, ...]
    forward: tuple[Value, ...]
    loss: sp.Float | None
    backward: tuple[Value, ...]


def layer_example(derivation: LayerDerivation) -> LayerExample:
    """Every quantity of the layer at its seeded example (batch N = EXAMPLE_BATCH)."""
    from .errors import SpecError

    spec = derivation.spec
    if max(spec.sizes) > MAX_EXAMPLE_WIDTH:
        raise SpecError(f"{spec.source}: --example: widths up to {MAX_EXAMPLE_WIDTH} can be "
                        f"printed, this layer has {max(spec.sizes)}")
    batch = EXAMPLE_BATCH
    exact = {name: _seeded(derivation, name, batch) for name in derivation.inputs}
    env = {name: m.applyfunc(lambda v: sp.Float(v, DIGITS)) for name, m in exact.items()}
    env |= {name: sp.Float(v, DIGITS) for name, v in derivation.constants.items()}
    backend = ExactBackend()
    for eq in derivation.forward + derivation.backward:
        env[eq.name] = evaluate(eq.rhs, env, batch, backend)

    def value(eq) -> Value:
        return Value(eq.name, sp.ImmutableMatrix(env[eq.name].applyfunc(_numeric)), eq)

    loss = None
    if derivation.loss is not None:
        scale, term = derivation.loss
        prediction = env.get("p", env["x"])
        total = sum((term.xreplace({losses.p: pv, losses.t: tv})
                     for pv, tv in zip(prediction, env["t"])), sp.Integer(0))
        loss = _numeric(scale.xreplace({N: batch}) * total)
    return LayerExample(
        batch=batch,
        inputs=tuple(Value(name, sp.ImmutableMatrix(m)) for name, m in exact.items()),
        forward=tuple(value(eq) for eq in derivation.forward),
        loss=loss,
        backward=tuple(value(eq) for eq in derivation.backward),
    )


def _numeric(value) -> sp.Float:
    return sp.Float(sp.N(value, DIGITS), DIGITS)


def _seeded(derivation: LayerDerivation, name: str, batch: int) -> sp.ImmutableMatrix:
    """Deterministic small numbers for input `name` (0/1 for a mask, one-hot or 0/1 targets
    where the loss needs them, gamma away from 1)."""
    rows, cols = (int(sp.sympify(d).xreplace({N: batch})) for d in derivation.symbols[name].shape)
    spec = derivation.spec
    key = f"{spec.inline()} {name}"
    column = derivation.layout == "column"
    record = spec.kind.loss
    if name == "mask":
        def entry(i, j):
            return sp.Integer(int(_draw(key, i, j) % 4 != 0))
    elif name == "t" and record.targets == "distribution":
        def entry(i, j):
            sample, unit = (j, i) if column else (i, j)
            width = rows if column else cols
            return sp.Integer(int(_draw(key, sample, 0) % width == unit))
    elif name == "t" and record.targets == "probability":
        def entry(i, j):
            return sp.Integer(_draw(key, i, j) % 2)
    elif name == "gamma":
        def entry(i, j):
            return sp.Rational(_draw(key, i, j) % 14 + 5, 10) + sp.Rational(int(_draw(key, i, j) % 14 >= 5), 10)  # 0.5 .. 1.9, not 1
    else:
        def entry(i, j):  # -0.9 .. 0.9, never 0 (no input at an activation's kink)
            v = _draw(key, i, j) % 18 - 9
            return sp.Rational(v + (v >= 0), 10)
    matrix = sp.Matrix(rows, cols, lambda i, j: entry(i, j))
    if spec.kind.family == "batchnorm" and name == "x":
        for u in range(spec.width_in):  # a unit constant over the batch has no variance
            k = (u, 0) if column else (0, u)
            matrix[k] = matrix[k] + sp.Rational(11, 10)
    return sp.ImmutableMatrix(matrix)


def _draw(key: str, i: int, j: int) -> int:
    digest = hashlib.sha256(f"gradscribe layer example {key}[{i},{j}]".encode()).digest()
    return int.from_bytes(digest[:8], "big")
