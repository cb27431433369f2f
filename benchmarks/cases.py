"""The benchmarked networks: the issue's four shapes, each with the activations and loss it implies.

The 1-8-4-1 regression net is the embedded default network (column layout, relu hidden,
identity + mse); the three classifiers use the row layout (`x @ w + b`, as PyTorch and JAX
code is written) with relu hidden layers and softmax + cross_entropy.

`REGULARIZED_CASES` (issue 20) are two of the classifiers with contract section 7 in every
hidden layer: batch norm before the relu and inverted dropout after it
(`bn+relu+dropout@0.5`), and weight decay on the loss (`cross_entropy+wd@1e-4`). They are
timed in training mode with given dropout masks (`draw_masks`), so every contender uses the
same masks.
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
        """The data loss, without a penalty (`cross_entropy` of `cross_entropy+wd@1e-4`)."""
        return self.inline.split(":")[2].split("+")[0]

    @property
    def hidden(self) -> list[str]:
        """The hidden layers' entries, e.g. `bn+relu+dropout@0.5` or `relu`."""
        return self.inline.split(":")[1].split(",")[:-1]

    @property
    def batch_norm(self) -> list[bool]:
        """Per hidden layer: does it normalize its batch (`bn+...`)?"""
        return [entry.split("+")[0] == "bn" for entry in self.hidden]

    @property
    def dropout(self) -> list[float]:
        """Per hidden layer: its dropout probability p (0 without dropout)."""
        out = []
        for entry in self.hidden:
            parts = [part for part in entry.split("+") if part.startswith("dropout@")]
            out.append(float(parts[0].split("@")[1]) if parts else 0.0)
        return out

    @property
    def weight_decay(self) -> float:
        """The loss's weight decay lambda (`+wd@lambda`), 0 without."""
        parts = [part for part in self.inline.split(":")[2].split("+")[1:] if part.startswith("wd@")]
        return float(parts[0].split("@")[1]) if parts else 0.0

    @property
    def regularized(self) -> bool:
        return any(self.batch_norm) or any(self.dropout) or "+" in self.inline.split(":")[2]

    @property
    def label(self) -> str:
        sizes = self.inline.split(":")[0]
        if self.regularized:
            return f"{sizes} bn+dropout+wd, {self.batch}"
        return f"{sizes}, {self.batch}"


CASES = [
    Case("1-8-4-1:relu,relu,identity:mse", 32, 2.0),
    Case("784-128-10:relu,softmax:cross_entropy:row", 64, 1.06),
    Case("784-256-128-10:relu,relu,softmax:cross_entropy:row", 256, 1.04),
    Case("1024-1024-1024-10:relu,relu,softmax:cross_entropy:row", 2048, 1.02),
]

#: Batch-norm eps of every batch-norm layer (the contract's default, `bn+ACT`).
BN_EPS = 1e-5

#: Issue 20: every hidden layer `bn+relu+dropout@0.5`, softmax + cross-entropy with weight
#: decay 1e-4, row layout; the target is the generated kernel's against the GEMM + BN floor.
REGULARIZED_CASES = [
    Case("784-128-10:bn+relu+dropout@0.5,softmax:cross_entropy+wd@1e-4:row", 64, 1.15),
    Case("784-256-128-10:bn+relu+dropout@0.5,bn+relu+dropout@0.5,softmax:cross_entropy+wd@1e-4:row", 256, 1.15),
]


def draw(case: Case, dtype, seed: int = 0):
    """Parameters, inputs X and targets T for `case`, as float64 arrays cast to `dtype`.

    Weights are scaled by 1/sqrt(fan-in), biases small and nonzero; classifier targets are
    one-hot, regression targets standard normal. A batch-norm layer also gets gamma<l> near 1
    (never all 1) and beta<l> small and nonzero; it keeps its bias B<l>.
    """
    rng = np.random.default_rng(seed)
    sizes, column = case.sizes, case.layout == "column"
    params = {}
    for l in range(1, case.depth + 1):
        n_in, n_out = sizes[l - 1], sizes[l]
        shape = (n_out, n_in) if column else (n_in, n_out)
        params[f"W{l}"] = rng.standard_normal(shape) / np.sqrt(n_in)
        params[f"B{l}"] = 0.1 * rng.standard_normal((n_out, 1) if column else (n_out,))
        if l < case.depth and case.batch_norm[l - 1]:
            params[f"gamma{l}"] = 1 + 0.2 * rng.standard_normal(params[f"B{l}"].shape)
            params[f"beta{l}"] = 0.1 * rng.standard_normal(params[f"B{l}"].shape)
    X = rng.standard_normal((sizes[0], case.batch) if column else (case.batch, sizes[0]))
    if case.loss == "cross_entropy":
        labels = rng.integers(0, sizes[-1], case.batch)
        T = np.eye(sizes[-1])[:, labels] if column else np.eye(sizes[-1])[labels]
    else:
        T = rng.standard_normal((sizes[-1], case.batch) if column else (case.batch, sizes[-1]))
    cast = {k: np.ascontiguousarray(v, dtype=dtype) for k, v in params.items()}
    return cast, np.ascontiguousarray(X, dtype=dtype), np.ascontiguousarray(T, dtype=dtype)


def draw_masks(case: Case, dtype, seed: int = 3) -> dict[str, np.ndarray]:
    """The dropout masks every contender of `case` uses: {"M<l>": 0/1 array shaped like G_l}
    for each hidden layer with dropout, 1 keeping a unit with probability 1 - p."""
    rng = np.random.default_rng(seed)
    column = case.layout == "column"
    masks = {}
    for l, p in enumerate(case.dropout, start=1):
        if p:
            n = case.sizes[l]
            shape = (n, case.batch) if column else (case.batch, n)
            masks[f"M{l}"] = (rng.random(shape) >= p).astype(dtype)
    return masks
