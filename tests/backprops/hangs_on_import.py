import time

time.sleep(3600)


def grads(params, X, T):
    return {}
