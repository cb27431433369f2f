"""Hand-written backward passes, row layout (G = R @ W + B, B of shape (n,)).

`EXPECTED` maps each function to the diagnosis (a fragment) the checker must give every
parameter it gets wrong; parameters not listed must be judged right, or, where a "*" entry
is given, be wrong with that fragment. `ERRORS` lists
functions that raise, with a fragment of the report's error.
"""

import numpy as np

NET = "3-4-4-3:sigmoid,tanh,identity:mse:row"


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


ACT = [sigmoid, np.tanh, lambda z: z]
PRIME_OF_R = [lambda r: r * (1 - r), lambda r: 1 - r**2, lambda r: np.ones_like(r)]


def backprop(params, X, T, primes=None, scale=1.0, bias=None, top=None):
    """The right backward pass, with hooks to plant one slip."""
    N, n_out = T.shape
    R, G = [X], [None]
    for l in (1, 2, 3):
        G.append(R[-1] @ params[f"W{l}"] + params[f"B{l}"])
        R.append(ACT[l - 1](G[-1]))
    P = R[3]
    fp = {l: PRIME_OF_R[l - 1](R[l]) for l in (1, 2, 3)}
    if primes:
        fp.update(primes(G, R))
    D = scale * 2 * (P - T) / (N * n_out) * fp[3]
    if top:
        D = top(D, P)
    grads = {}
    for l in (3, 2, 1):
        grads[f"W{l}"] = R[l - 1].T @ D
        grads[f"B{l}"] = bias(D) if bias and l == 2 else D.sum(axis=0)
        if l > 1:
            D = (D @ params[f"W{l}"].T) * fp[l - 1]
    return grads


def right(params, X, T):
    return backprop(params, X, T)


def transposed_square(params, X, T):
    g = backprop(params, X, T)
    g["W2"] = g["W2"].T
    return g


def transposed(params, X, T):
    g = backprop(params, X, T)
    g["W3"] = g["W3"].T
    return g


def no_batch_mean(params, X, T):  # forgot the 1/N: N times too large everywhere
    N = T.shape[0]
    return backprop(params, X, T, scale=N)


def no_output_mean(params, X, T):  # forgot the 1/n_L
    return backprop(params, X, T, scale=T.shape[1])


def extra_n_out(params, X, T):  # divided by n_L twice
    g = backprop(params, X, T)
    g["B3"] = g["B3"] / T.shape[1]
    return g


def bias_over_units(params, X, T):
    return backprop(params, X, T, bias=lambda D: D.sum(axis=1))


def bias_keepdims(params, X, T):
    return backprop(params, X, T, bias=lambda D: D.sum(axis=0, keepdims=True))


def missing_tanh_prime(params, X, T):
    return backprop(params, X, T, primes=lambda G, R: {2: 1.0})


def missing_sigmoid_prime(params, X, T):
    return backprop(params, X, T, primes=lambda G, R: {1: np.ones_like(R[1])})


def tanh_for_sigmoid(params, X, T):
    return backprop(params, X, T, primes=lambda G, R: {1: 1 - R[1] ** 2})


def sigmoid_prime_of_r(params, X, T):  # sigmoid'(R1): the derivative applied to the output
    return backprop(params, X, T, primes=lambda G, R: {1: sigmoid(R[1]) * (1 - sigmoid(R[1]))})


def in_place_returns_params(params, X, T):
    g = backprop(params, X, T)
    for k in g:
        params[k] -= 0.01 * g[k]
    return params


def odd_output_delta(params, X, T):  # an output delta with no simple cause, then right steps
    return backprop(params, X, T, top=lambda D, P: D + 0.1 * np.cos(3 * P) / X.shape[0])


def odd_delta_and_own_bias_slip(params, X, T):
    g = backprop(params, X, T, top=lambda D, P: D + 0.1 * np.cos(3 * P) / X.shape[0])
    g["B2"] = g["B2"] + 0.05 * np.sin(9 * g["B2"])
    return g


def returns_step(params, X, T):  # an optimiser step instead of the gradients
    g = backprop(params, X, T)
    return {k: params[k] - 0.05 * g[k] for k in g}


def returns_params(params, X, T):
    print("debug output goes to stderr under --json")
    return dict(params)


def single_sample(params, X, T):
    x, t = X[0], T[0]
    assert X.shape[0] == 1, "expects one sample"
    return backprop(params, x[None, :], t[None, :])


EXPECTED = {
    "right": {},
    "transposed_square": {"W2": "dW2 is transposed (layer 2): it holds the values of dW2.T"},
    "transposed": {"W3": "dW3 is transposed (layer 3): shape (3, 4) where (4, 3) belongs"},
    "no_batch_mean": {
        "W3": "dW3 (layer 3) is off by a factor of N (summed over the batch where the loss averages",
        "B3": "dB3 (layer 3) is off by a factor of N",
        "*": "the same in every layer: it comes from δ3, the loss's derivative: a loss convention",
    },
    "no_output_mean": {
        "W3": "off by a factor of n_L = 3",
        "B3": "off by a factor of n_L = 3",
        "*": "the same in every layer: it comes from δ3, the loss's derivative: a loss convention",
    },
    "extra_n_out": {"B3": "dB3 (layer 3) is off by a factor of 1/n_L = 1/3"},
    "bias_over_units": {"B2": "summed over the units of layer 2 instead of over the batch"},
    "bias_keepdims": {"B2": "dB2 (layer 2) has the right values in another shape: (1, 4) instead of (4,)"},
    "missing_tanh_prime": {
        "W2": "leaves out the activation derivative tanh'(G2) of layer 2",
        "B2": "leaves out the activation derivative tanh'(G2) of layer 2",
        "W1": "the error starts in layer 2",
        "B1": "the error starts in layer 2",
    },
    "missing_sigmoid_prime": {
        "W1": "leaves out the activation derivative sigmoid'(G1) of layer 1",
        "B1": "leaves out the activation derivative sigmoid'(G1) of layer 1",
    },
    "tanh_for_sigmoid": {
        "W1": "uses tanh's derivative where layer 1's sigmoid' belongs",
        "B1": "uses tanh's derivative where layer 1's sigmoid' belongs",
    },
    "sigmoid_prime_of_r": {
        "W1": "computes layer 1's sigmoid'(·) at R1 instead of G1",
        "B1": "computes layer 1's sigmoid'(·) at R1 instead of G1",
    },
    "odd_output_delta": {
        "W3": "dW3 (layer 3): no simple cause found",
        "B3": "dB3 (layer 3): no simple cause found",
        "*": "is wrong only because the error starts in layer 3 and propagates down: its own step",
    },
    "odd_delta_and_own_bias_slip": {
        "W3": "dW3 (layer 3): no simple cause found",
        "B3": "dB3 (layer 3): no simple cause found",
        "B2": "dB2 (layer 2) has an error of its own: it does not follow from the δ3 the code used",
        "W2": "is wrong only because the error starts in layer 3",
        # dB2 is not the δ2 the code used, so layer 1 cannot be verified: "most likely"
        "*": "the error most likely starts in layer 3, the top-most wrong layer",
    },
    "returns_step": {"*": "is an updated parameter"},
    "returns_params": {"W2": "dW2 (layer 2) is the parameter W2 itself, not its gradient",
                       "*": "itself, not its gradient"},
    "in_place_returns_params": {
        k: f"updated params['{k}'] in place and returned it as its gradient"
        for k in ("W1", "B1", "W2", "B2", "W3", "B3")
    },
}

ERRORS = {}
