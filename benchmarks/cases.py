"""The benchmarked networks: the issue's four shapes, each with the activations and loss it implies.

The 1-8-4-1 regression net is the embedded default network (column layout, relu hidden,
identity + mse); the three classifiers use the row layout (`x @ w + b`, as PyTorch and JAX
code is written) with relu hidden layers and softmax + cross_entropy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Case:
    """One benchmarked network: its inline spec, batch size and the target ratio to the floor."""

    inline: str
    batch: int
    target: float

    @property
    def sizes(self) -> list[int]:
        return [int(s) for s in self.inline.split(":")[0].split("-")]

    @property
    def depth(self) -> int:
        return len(self.sizes) - 1

    @property
    def layout(self) -> str:
        parts = self.inline.split(":")
        return parts[3] if len(parts) > 3 else "column"

    @property
    def loss(self) -> str:
        return self.inline.split(":")[2]

    @property
    def label(self) -> str:
        return f"{self.inline.split(':')[0]}, {self.batch}"


CASES = [
    Case("1-8-4-1:relu,relu,identity:mse", 32, 2.0),
    Case("784-128-10:relu,softmax:cross_entropy:row", 64, 1.06),
    Case("784-256-128-10:relu,relu,softmax:cross_entropy:row", 256, 1.04),
    Case("1024-1024-1024-10:relu,relu,softmax:cross_entropy:row", 2048, 1.02),
]


def draw(case: Case, dtype, seed: int = 0):
    """Parameters, inputs X and targets T for `case`, as float64 arrays cast to `dtype`.

    Weights are scaled by 1/sqrt(fan-in), biases small and nonzero; classifier targets are
    one-hot, regression targets standard normal.
    """
    rng = np.random.default_rng(seed)
    sizes, column = case.sizes, case.layout == "column"
    params = {}
    for l in range(1, case.depth + 1):
        n_in, n_out = sizes[l - 1], sizes[l]
        shape = (n_out, n_in) if column else (n_in, n_out)
        params[f"W{l}"] = rng.standard_normal(shape) / np.sqrt(n_in)
        params[f"B{l}"] = 0.1 * rng.standard_normal((n_out, 1) if column else (n_out,))
    X = rng.standard_normal((sizes[0], case.batch) if column else (case.batch, sizes[0]))
    if case.loss == "cross_entropy":
        labels = rng.integers(0, sizes[-1], case.batch)
        T = np.eye(sizes[-1])[:, labels] if column else np.eye(sizes[-1])[labels]
    else:
        T = rng.standard_normal((sizes[-1], case.batch) if column else (case.batch, sizes[-1]))
    cast = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in params.items()}
    return cast, np.ascontiguousarray(X, dtype=dtype), np.ascontiguousarray(T, dtype=dtype)
