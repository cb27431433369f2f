"""Train a generated classifier on scikit-learn's handwritten digits with plain minibatch SGD.

    python examples/train_digits.py [--epochs 30] [--batch 32] [--lr 0.2] [--hidden 64] [--seed 0]

The data is `sklearn.datasets.load_digits` (1797 8x8 images bundled with scikit-learn, no
download), pixels scaled to [0, 1], split 80/20 stratified. gradscribe generates the NumPy
module for 64-HIDDEN-10 (relu, then softmax with cross_entropy, row layout); the loop calls
its `loss_and_grads` with one workspace per batch size, so the kernel allocates no array per
step, and updates the parameters in place: W <- W - lr dW.

Needs scikit-learn: `pip install 'gradscribe[examples]'` (or `pip install scikit-learn`).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import gradscribe


def load_kernel(net: str):
    """The NumPy module gradscribe generates for `net`, imported from a temporary file."""
    source = gradscribe.network(net).kernel()
    folder = Path(tempfile.mkdtemp(prefix="gradscribe-digits-"))
    path = folder / "digits_kernel.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("digits_kernel", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def digits(seed: int):
    """(X_train, y_train, X_test, y_test): pixels in [0, 1], labels 0..9, 80/20 stratified."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    X = data.data.astype(np.float64) / 16.0
    return train_test_split(X, data.target, test_size=0.2, random_state=seed, stratify=data.target)


def accuracy(kernel, params, X, y) -> float:
    P, _ = kernel.forward(params, X)
    return float(np.mean(np.argmax(P, axis=1) == y))


def train(epochs=30, batch=32, lr=0.2, hidden=64, seed=0, log=print):
    """Train and return (test accuracy, seconds spent training), logging a line per epoch."""
    X_train, X_test, y_train, y_test = digits(seed)
    kernel = load_kernel(f"64-{hidden}-10:relu,softmax:cross_entropy:row")
    rng = np.random.default_rng(seed)
    params = kernel.init_params(rng)
    T_train = np.eye(10)[y_train]
    workspaces = {}
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(X_train))
        total = 0.0
        for first in range(0, len(order), batch):
            rows = order[first : first + batch]
            ws = workspaces.get(len(rows))
            if ws is None:
                ws = workspaces[len(rows)] = kernel.make_workspace(len(rows), np.float64)
            value, grads = kernel.loss_and_grads(params, X_train[rows], T_train[rows], workspace=ws)
            for key, grad in grads.items():
                grad *= lr  # the gradient array is the workspace's, free until the next step
                params[key] -= grad
            total += value * len(rows)
        log(
            f"epoch {epoch:3d}  loss {total / len(order):.4f}  "
            f"train {accuracy(kernel, params, X_train, y_train):.1%}  "
            f"test {accuracy(kernel, params, X_test, y_test):.1%}  "
            f"{time.perf_counter() - start:.2f} s"
        )
    return accuracy(kernel, params, X_test, y_test), time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.2)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("train_digits: needs scikit-learn (pip install 'gradscribe[examples]')", file=sys.stderr)
        return 2
    test_accuracy, seconds = train(args.epochs, args.batch, args.lr, args.hidden, args.seed)
    print(f"test accuracy {test_accuracy:.1%} after {args.epochs} epochs in {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
