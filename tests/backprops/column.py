"""Hand-written backward passes, column layout (G = W @ R + B), most of them deliberately wrong.

`EXPECTED` maps each function to the diagnosis (a fragment) the checker must give every
parameter it gets wrong; parameters not listed must be judged right, or, where a "*" entry
is given, be wrong with that fragment. `ERRORS` lists
functions that raise, with a fragment of the report's error.
"""

import numpy as np

NET = "3-4-4-2:tanh,relu,sigmoid:mse"


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


ACT = [np.tanh, lambda z: np.maximum(z, 0), sigmoid]
PRIME_OF_R = [lambda r: 1 - r**2, lambda r: (r > 0).astype(float), lambda r: r * (1 - r)]


def backprop(params, X, T, primes=None, scale=1.0, bias=None, mean_weights=(), top=None):
    """The right backward pass, with hooks to plant one slip."""
    N = X.shape[1]
    R, G = [X], [None]
    for l in (1, 2, 3):
        G.append(params[f"W{l}"] @ R[-1] + params[f"B{l}"])
        R.append(ACT[l - 1](G[-1]))
    P = R[3]
    fp = {l: PRIME_OF_R[l - 1](R[l]) for l in (1, 2, 3)}
    if primes:
        fp.update(primes(G, R))
    D = scale * 2 * (P - T) / (N * T.shape[0]) * fp[3]
    if top:
        D = top(D, P, T)
    grads = {}
    for l in (3, 2, 1):
        grads[f"W{l}"] = D @ R[l - 1].T / (N if l in mean_weights else 1)
        grads[f"B{l}"] = bias(D) if bias and l == 1 else D.sum(axis=1, keepdims=True)
        if l > 1:
            D = (params[f"W{l}"].T @ D) * fp[l - 1]
    return grads


def right(params, X, T):
    return backprop(params, X, T)


def transposed_square(params, X, T):
    g = backprop(params, X, T)
    g["W2"] = g["W2"].T  # 4 x 4: only the values tell
    return g


def transposed(params, X, T):
    g = backprop(params, X, T)
    g["W1"] = g["W1"].T
    return g


def twice(params, X, T):
    g = backprop(params, X, T)
    g["W3"] = 2 * g["W3"]
    return g


def half(params, X, T):
    g = backprop(params, X, T)
    g["B3"] = g["B3"] / 2
    return g


def sign_flipped(params, X, T):  # T - P
    return backprop(params, X, T, scale=-1.0)


def no_output_mean(params, X, T):  # forgot the 1/n_L of the mean: the error starts at the top
    return backprop(params, X, T, scale=2.0)


def mean_over_batch(params, X, T):  # dW1 = D1 @ X.T / N although D1 already carries 1/N
    return backprop(params, X, T, mean_weights=(1,))


def bias_over_units(params, X, T):
    return backprop(params, X, T, bias=lambda D: D.sum(axis=0, keepdims=True))


def bias_scalar(params, X, T):
    return backprop(params, X, T, bias=lambda D: D.sum())


def bias_not_reduced(params, X, T):
    return backprop(params, X, T, bias=lambda D: D)


def bias_flat(params, X, T):
    return backprop(params, X, T, bias=lambda D: D.sum(axis=1))


def bias_mean_flat(params, X, T):
    return backprop(params, X, T, bias=lambda D: D.mean(axis=1))


def missing_tanh_prime(params, X, T):
    return backprop(params, X, T, primes=lambda G, R: {1: 1.0})


def missing_relu_prime(params, X, T):
    return backprop(params, X, T, primes=lambda G, R: {2: 1.0})


def missing_output_prime(params, X, T):
    return backprop(params, X, T, primes=lambda G, R: {3: 1.0})


def sigmoid_for_tanh(params, X, T):
    return backprop(params, X, T, primes=lambda G, R: {1: R[1] * (1 - R[1])})


def prime_on_output(params, X, T):  # sigmoid'(R3) instead of sigmoid'(G3)
    return backprop(params, X, T, primes=lambda G, R: {3: sigmoid(R[3]) * (1 - sigmoid(R[3]))})


def prime_formula_on_g(params, X, T):  # 1 - G1**2 where 1 - R1**2 belongs
    return backprop(params, X, T, primes=lambda G, R: {1: 1 - G[1] ** 2})


def in_place(params, X, T):
    g = backprop(params, X, T)
    for k in g:
        params[k] -= 0.1 * g[k]
    return g


def single_sample(params, X, T):
    x = X.reshape(X.shape[0])  # only works for one column
    g = backprop(params, x[:, None], T)
    return g


def single_sample_transposed(params, X, T):
    """Fails for a batch, and for one sample returns dW1 transposed."""
    g = single_sample(params, X, T)
    g["W1"] = g["W1"].T
    return g


def outer_products(params, X, T):
    """dW1 as np.outer(dB1, x): right for a batch of one, silently wrong for a batch."""
    g = backprop(params, X, T)
    g["W1"] = np.outer(g["B1"], X[:, 0])
    return g


def odd_output_delta(params, X, T):  # an output delta with no simple cause, then right steps
    return backprop(params, X, T, top=lambda D, P, T: D + 0.1 * np.cos(3 * P) / X.shape[1])


def odd_delta_and_own_slip(params, X, T):  # the same, plus a slip of dW1's own
    g = backprop(params, X, T, top=lambda D, P, T: D + 0.1 * np.cos(3 * P) / X.shape[1])
    g["W1"] = g["W1"] + 0.05 * np.sin(g["W1"] * 9)
    return g


def always_raises(params, X, T):
    raise RuntimeError("not implemented yet")


def returns_list(params, X, T):
    return list(backprop(params, X, T).values())


def returns_string(params, X, T):
    return "done"


def subset(params, X, T):
    g = backprop(params, X, T)
    return {"W1": g["W1"], "B1": g["B1"]}


def unrelated(params, X, T):
    g = backprop(params, X, T)
    g["W3"] = g["W3"] + np.cos(g["W3"] * 7)
    return g


_T = "transposed (layer"
EXPECTED = {
    "right": {},
    "subset": {},
    "transposed_square": {"W2": "dW2 is transposed (layer 2): it holds the values of dW2.T"},
    "transposed": {"W1": "dW1 is transposed (layer 1): shape (3, 4) where (4, 3) belongs"},
    "twice": {"W3": "dW3 (layer 3) is off by a factor of 2"},
    "half": {"B3": "dB3 (layer 3) is off by a factor of 1/2"},
    "returns_list": {},  # read as (W3, B3, W2, B2, W1, B1) by shape and order
    "sign_flipped": {
        "W3": "factor of -1",
        "B3": "factor of -1",
        "*": "same factor as layer 3, so the error starts in layer 3",
    },
    "no_output_mean": {
        "W3": "dW3 (layer 3) is off by a factor of 2",
        "B3": "dB3 (layer 3) is off by a factor of 2",
        "*": "the same in every layer: it comes from δ3, the loss's derivative: a loss convention",
    },
    "mean_over_batch": {"W1": "dW1 (layer 1) is off by a factor of 1/N"},
    "bias_over_units": {"B1": "summed over the units of layer 1 instead of over the batch"},
    "bias_scalar": {"B1": "collapsed to a scalar"},
    "bias_not_reduced": {"B1": "not reduced over the batch"},
    "bias_flat": {"B1": "dB1 (layer 1) has the right values in another shape: (4,) instead of (4, 1)"},
    "bias_mean_flat": {"B1": "averaged over the batch instead of summed (layer 1"},
    "missing_tanh_prime": {
        "W1": "leaves out the activation derivative tanh'(G1) of layer 1",
        "B1": "leaves out the activation derivative tanh'(G1) of layer 1",
    },
    "missing_relu_prime": {
        "W2": "leaves out the activation derivative relu'(G2) of layer 2",
        "B2": "leaves out the activation derivative relu'(G2) of layer 2",
        "W1": "the error starts in layer 2, which leaves out the activation derivative relu'(G2)",
        "B1": "propagates down to layer 1",
    },
    "missing_output_prime": {
        "W3": "leaves out the activation derivative sigmoid'(G3) of layer 3",
        "B3": "sigmoid'(G3)",
        "W2": "the error starts in layer 3",
        "B2": "the error starts in layer 3",
        "W1": "the error starts in layer 3",
        "B1": "the error starts in layer 3",
    },
    "sigmoid_for_tanh": {
        "W1": "uses sigmoid's derivative where layer 1's tanh' belongs",
        "B1": "uses sigmoid's derivative where layer 1's tanh' belongs",
    },
    "prime_on_output": {
        "W3": "computes layer 3's sigmoid'(·) at R3 instead of G3",
        "B3": "at R3 instead of G3",
        "W1": "the error starts in layer 3",
        "B2": "the error starts in layer 3",
        "W2": "the error starts in layer 3",
        "B1": "the error starts in layer 3",
    },
    "prime_formula_on_g": {
        "W1": "uses G1 where layer 1's tanh' formula needs the output R1",
        "B1": "uses G1 where layer 1's tanh' formula needs the output R1",
    },
    "in_place": {k: f"updated params['{k}'] in place" for k in ("W1", "B1", "W2", "B2", "W3", "B3")},
    "outer_products": {"W1": "it is right for a batch of one, so the code is probably written for a single sample"},
    "odd_output_delta": {
        "W3": "dW3 (layer 3): no simple cause found",
        "B3": "dB3 (layer 3): no simple cause found",
        "*": "is wrong only because the error starts in layer 3 and propagates down: its own step",
    },
    "odd_delta_and_own_slip": {
        "W3": "dW3 (layer 3): no simple cause found",
        "B3": "dB3 (layer 3): no simple cause found",
        "W1": "dW1 (layer 1) has an error of its own: it does not follow from the δ2 the code used",
        "B1": "dB1 (layer 1) is wrong only because the error starts in layer 3",
        "*": "is wrong only because the error starts in layer 3 and propagates down: its own step",
    },
    "unrelated": {"W3": "dW3 (layer 3): no simple cause found: max abs error"},
}

ERRORS = {
    "always_raises": "RuntimeError: not implemented yet when called with X (3, 3)",
    "returns_string": "returned str, not gradients",
}
