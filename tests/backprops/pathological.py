"""FUNCs that misbehave in every way the checker must survive (column layout, NET below).

Each returns, raises or does something a checker could be fooled or ended by; the tests in
test_check_isolation.py state the verdict each must get.
"""

import os
import sys
import time

import numpy as np

NET = "2-3-1:tanh,identity:mse"


def right(params, X, T):
    """The right backward pass of NET."""
    N = X.shape[1]
    G1 = params["W1"] @ X + params["B1"]
    R1 = np.tanh(G1)
    P = params["W2"] @ R1 + params["B2"]
    D2 = 2 * (P - T) / (N * T.shape[0])
    D1 = (params["W2"].T @ D2) * (1 - R1**2)
    return {"W1": D1 @ X.T, "B1": D1.sum(axis=1, keepdims=True),
            "W2": D2 @ R1.T, "B2": D2.sum(axis=1, keepdims=True)}


def imaginary(params, X, T):
    return {k: v + 1j for k, v in right(params, X, T).items()}


def complex_dtype(params, X, T):
    return {k: v.astype(complex) for k, v in right(params, X, T).items()}


def object_array(params, X, T):
    return {k: v.astype(object) for k, v in right(params, X, T).items()}


def bool_array(params, X, T):
    return {k: v > 0 for k, v in right(params, X, T).items()}


def string_array(params, X, T):
    return {k: v.astype(str) for k, v in right(params, X, T).items()}


def exits_zero(params, X, T):
    os._exit(0)


def loops(params, X, T):
    while True:
        pass


def sleeps(params, X, T):
    time.sleep(3600)


def int_key(params, X, T):
    return {1: X}


def generator_exit(params, X, T):
    raise GeneratorExit


class Custom(BaseException):
    pass


def custom_base_exception(params, X, T):
    raise Custom("custom failure")


def keyboard_interrupt(params, X, T):
    raise KeyboardInterrupt


def system_exit_zero(params, X, T):
    sys.exit(0)


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no")


def unprintable_exception(params, X, T):
    raise Unprintable()


class Hostile(dict):
    def get(self, *args):
        raise RuntimeError("get")

    def items(self):
        raise RuntimeError("items")

    def __getitem__(self, key):
        raise RuntimeError("getitem")

    def keys(self):
        raise RuntimeError("keys")


def hostile_dict_right(params, X, T):
    return Hostile(right(params, X, T))


def hostile_dict_wrong(params, X, T):
    return Hostile({k: 2 * v for k, v in right(params, X, T).items()})


class NoArray:
    def __array__(self, *args, **kwargs):
        raise RuntimeError("no array here")


def array_raises(params, X, T):
    grads = right(params, X, T)
    grads["W1"] = NoArray()
    return grads


def floods(params, X, T):
    for _ in range(2000):
        print("x" * 1000)
        sys.stderr.write("y" * 1000 + "\n")
    return right(params, X, T)


def hogs_memory(params, X, T):
    hoard = [np.ones(10**7) for _ in range(1000)]  # 80 GB if nothing stops it
    return {"W1": hoard[0]}


def returns_generator(params, X, T):
    yield right(params, X, T)


def segfaults(params, X, T):
    import ctypes

    ctypes.string_at(0)


def returns_none(params, X, T):
    return None


def none_value(params, X, T):
    grads = right(params, X, T)
    grads["B2"] = None
    return grads


def float32_right(params, X, T):
    return {k: v.astype(np.float32) for k, v in right(params, X, T).items()}
