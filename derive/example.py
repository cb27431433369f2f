"""The worked example: every equation of a derivation evaluated at concrete numbers.

`worked_example(derivation)` takes the spec's `[example]` numbers (or small seeded ones) and
runs the derivation's own equations through `evaluate.run` on SymPy Floats of 40 significant
digits, so the printed 8 decimals are the true values rounded, not float64 noise. Seeded
values are one-decimal numbers drawn from a SHA-256 stream keyed by the symbol's name and
position: the same network always gets the same numbers, on any machine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sympy as sp

from . import losses
from .chain import Derivation, Equation, N
from .evaluate import ExactBackend, evaluate, run
from .nodes import ActivationPrime
from .spec import Example, Network, check_example_size, example_shapes

#: Significant digits the example is computed with.
DIGITS = 40
#: The batch size of a seeded example without an [example] table.
SEEDED_BATCH = 2


@dataclass(frozen=True)
class Value:
    """One evaluated quantity: the equation it comes from (None for a given input) and its matrix."""

    name: str
    matrix: sp.ImmutableMatrix
    equation: Equation | None = None


@dataclass(frozen=True)
class Prime:
    """f'_l(G_l) evaluated, shown next to the delta that uses it."""

    node: ActivationPrime
    matrix: sp.ImmutableMatrix


@dataclass(frozen=True)
class WorkedExample:
    """The inputs, then every forward value, the loss and every backward value, in order.

    `primes` maps a delta's name (D2) to the activation derivatives its equation multiplies by.
    """

    batch: int
    seeded: bool
    inputs: tuple[Value, ...]
    forward: tuple[Value, ...]
    loss: sp.Float
    backward: tuple[Value, ...]
    primes: dict[str, tuple[Prime, ...]]


def example_inputs(network: Network) -> tuple[dict[str, sp.ImmutableMatrix], bool]:
    """X, T and every parameter of the worked example, exact; and whether any were seeded.

    The spec's `[example]` table wins; parameters it leaves out (all of them) and, without a
    table, X and T too are seeded.
    """
    given = network.example
    batch = _batch_of(given, network) if given is not None else SEEDED_BATCH
    check_example_size(network, batch, f"{network.source}: --example")
    values: dict[str, sp.ImmutableMatrix] = {}
    shapes = example_shapes(network, batch)
    for name, shape in shapes.items():
        if given is not None and name in given:
            values[name] = given[name]
        elif given is not None and not given.seeded and name.startswith(("gamma", "beta")):
            # The table gives the weights but not batch norm's: their initial values 1 and 0.
            rows, cols = shape if len(shape) == 2 else (1, shape[0])
            values[name] = sp.ImmutableMatrix(sp.ones(rows, cols) if name[0] == "g" else sp.zeros(rows, cols))
        else:
            values[name] = _seeded(network, name, shape)
    return values, given is None or given.seeded


def worked_example(derivation: Derivation) -> WorkedExample:
    """Every quantity of `derivation` at the example's numbers (see `example_inputs`)."""
    network = derivation.network
    exact, seeded = example_inputs(network)
    batch = _batch_of_matrix(exact["X"], network)
    env = {name: m.applyfunc(lambda v: sp.Float(v, DIGITS)) for name, m in exact.items()}
    backend = ExactBackend()
    env = run(derivation, env, batch, backend)

    def value(eq: Equation) -> Value:
        return Value(eq.name, sp.ImmutableMatrix(env[eq.name].applyfunc(_numeric)), eq)

    primes = {}
    for eq in derivation.deltas():
        nodes = sorted(eq.rhs.atoms(ActivationPrime), key=sp.default_sort_key)
        primes[eq.name] = tuple(
            Prime(node, sp.ImmutableMatrix(evaluate(node, env, batch, backend).applyfunc(_numeric)))
            for node in nodes
        )
    loss = _loss(derivation, env["P"], env["T"], batch, env)
    return WorkedExample(
        batch=batch,
        seeded=seeded,
        inputs=tuple(Value(name, m) for name, m in exact.items()),
        forward=tuple(value(eq) for eq in derivation.forward),
        loss=loss,
        backward=tuple(value(eq) for eq in derivation.backward),
        primes=primes,
    )


def _loss(derivation: Derivation, P, T, batch: int, env: dict) -> sp.Float:
    """L = scale * sum of the loss record's term over every element, at the example."""
    loss = derivation.loss
    total = sum(
        (loss.term.xreplace({losses.p: P[i, j], losses.t: T[i, j]}) for i in range(P.rows) for j in range(P.cols)),
        sp.Integer(0),
    )
    value = loss.scale.xreplace({N: batch}) * total
    if loss.penalty is not None:  # c sum_l ||W_l||_F^2, the weights of the example
        value += loss.penalty * sum(
            sum(w**2 for w in env[f"W{l}"]) for l in range(1, derivation.depth + 1))
    return _numeric(value)


def _numeric(value) -> sp.Float:
    return sp.Float(sp.N(value, DIGITS), DIGITS)


def _batch_of(example: Example, network: Network) -> int:
    return _batch_of_matrix(example["X"], network)


def _batch_of_matrix(X, network: Network) -> int:
    return X.cols if network.layout == "column" else X.rows


# ------------------------------------------------------------------------------- seeding


def _seeded(network: Network, name: str, shape: tuple[int, ...]) -> sp.ImmutableMatrix:
    """Deterministic small numbers for `name`, in the chain's shape (a bias is a 1 x n row in the row layout).

    Targets follow the loss's output: one-hot samples for a softmax output, 0 or 1 for a
    sigmoid output (the cross-entropies' domains), else one-decimal numbers like the rest.
    """
    rows, cols = shape if len(shape) == 2 else (1, shape[0])
    column = network.layout == "column"
    output = network.loss_def.output
    if name == "T" and output == "softmax":
        def entry(i, j):
            sample, unit = (j, i) if column else (i, j)
            width = rows if column else cols
            return sp.Integer(int(_draw(name, sample, 0) % width == unit))
    elif (name == "T" and output == "sigmoid") or name.startswith("M"):  # a 0/1 mask too
        def entry(i, j):
            return sp.Integer(_draw(name, i, j) % 2)
    elif name.startswith("gamma"):  # a scale near 1
        def entry(i, j):
            return sp.Rational(_draw(name, i, j) % 11 + 5, 10)
    else:
        def entry(i, j):
            return sp.Rational(_draw(name, i, j) % 19 - 9, 10)
    return sp.ImmutableMatrix(rows, cols, lambda i, j: entry(i, j))


def _draw(name: str, i: int, j: int) -> int:
    digest = hashlib.sha256(f"gradscribe example {name}[{i},{j}]".encode()).digest()
    return int.from_bytes(digest[:8], "big")
